//! The `zcsim` binary from the outside: snapshots of its default output, determinism, user
//! errors (exit 2, naming the field and where), and every preset.

use std::path::Path;
use std::process::Output;

use crate::zcsim;

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("UTF-8 output")
}

#[test]
fn default_comparison_table() {
    // `zcsim` with no arguments is the comparison on the default scenario. The snapshot pins
    // every figure: a model change that moves any of them shows up here for review.
    let o = zcsim(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    insta::assert_snapshot!("default_table", stdout(&o));
}

#[test]
fn default_comparison_json() {
    let o = zcsim(&["compare", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    // Two workloads, named apart, in the one documented shape, with its version and the
    // configuration used.
    assert_eq!(v["workloads"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["workloads"][0]["name"], "from-memory");
    assert_eq!(v["workloads"][1]["name"], "from-file");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["config"]["target"]["values"]["memory_bus"], "29.76 MB/s");
    insta::assert_snapshot!("default_json", text);
}

#[test]
fn same_scenario_same_bytes_other_seed_with_loss_differs() {
    // Determinism: the whole JSON is byte-identical across runs. With loss on, the seed
    // decides which segments are lost, so another seed must change the result.
    let args = [
        "compare",
        "--format",
        "json",
        "--strategies",
        "copy,sendfile",
    ];
    assert_eq!(zcsim(&args).stdout, zcsim(&args).stdout);
    let lossy = |seed: &str| {
        zcsim(&[
            "compare",
            "--format",
            "json",
            "--strategies",
            "copy",
            "--set",
            "target.loss=0.01",
            "--seed",
            seed,
        ])
        .stdout
    };
    assert_eq!(lossy("1"), lossy("1"));
    assert_ne!(lossy("1"), lossy("2"));
}

#[test]
fn every_preset_runs_the_default_workloads() {
    // Every applicable strategy on both default workloads: 7 memory + 8 file strategies.
    for preset in [
        "embedded-100tx",
        "pc-2003",
        "gige-2002",
        "server-2024",
        "gpu-server-2024",
    ] {
        let o = zcsim(&["compare", "--preset", preset, "--format", "csv"]);
        assert!(o.status.success(), "{preset}: {}", stderr(&o));
        let rows = stdout(&o).lines().count() - 1;
        assert_eq!(rows, 15, "{preset}");
    }
}

/// (file, field the message must name, line it must point at).
const BAD_FILES: &[(&str, &str, Option<u32>)] = &[
    ("broken_toml.toml", "(syntax)", Some(2)),
    ("unknown_top_field.toml", "colour", Some(2)),
    ("unknown_target_key.toml", "target.memory_buss", Some(3)),
    ("unknown_workload_key.toml", "workloads[0].rewrite", Some(4)),
    ("missing_unit_size.toml", "workloads[0].total", Some(3)),
    ("missing_unit_rate.toml", "target.memory_bus", Some(3)),
    ("wrong_unit.toml", "target.memory_bus", Some(3)),
    ("wrong_unit_duration.toml", "target.syscall", Some(3)),
    ("zero_size.toml", "workloads[0].write_size", Some(3)),
    ("negative_size.toml", "workloads[0].total", Some(3)),
    ("zero_mtu.toml", "target.mtu_bytes", Some(3)),
    ("absurd_bus.toml", "target.memory_bus", Some(3)),
    ("unknown_preset.toml", "target.preset", Some(2)),
    ("unknown_workload.toml", "workloads[0].kind", Some(2)),
    ("missing_kind.toml", "workloads[0].kind", Some(1)),
    ("unknown_strategy.toml", "strategies", Some(1)),
    ("strategy_does_not_apply.toml", "strategies", Some(1)),
    ("bad_loss.toml", "target.loss", Some(3)),
    ("bad_bool.toml", "target.checksum_offload", Some(3)),
    ("bad_choice.toml", "workloads[0].header_mode", Some(3)),
    ("no_workloads.toml", "workloads", None),
    ("negative_seed.toml", "seed", Some(1)),
    ("inline_target_incomplete.toml", "target.", None),
    ("zero_cpus.toml", "target.cpus", Some(3)),
    ("tiny_send_buffer.toml", "target.send_buffer", Some(3)),
    ("wrong_type_strategies.toml", "strategies", Some(1)),
    ("bad_option.toml", "options.loan_threshold", Some(2)),
];

#[test]
fn bad_files_exit_2_naming_field_and_line() {
    // Each file breaks one rule. The CLI must not panic, must exit 2, and its message must
    // name the field and (where the mistake has a place) the file's line.
    let dir = Path::new("tests/bad_inputs");
    let on_disk = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir))
        .unwrap()
        .count();
    assert_eq!(
        on_disk,
        BAD_FILES.len(),
        "every corpus file has an expectation"
    );
    for (file, field, line) in BAD_FILES {
        let path = dir.join(file);
        let path = path.to_str().unwrap();
        for args in [vec!["check", path], vec!["compare", "--scenario", path]] {
            let o = zcsim(&args);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{file} via {args:?}: {err}");
            assert!(!err.contains("panicked"), "{file}: {err}");
            assert!(
                err.contains(field),
                "{file}: message must name {field}: {err}"
            );
            assert!(
                err.contains(file),
                "{file}: message must name the file: {err}"
            );
            if let Some(line) = line {
                assert!(
                    err.contains(&format!("{file}:{line}:")),
                    "{file}: message must point at line {line}: {err}"
                );
            }
        }
    }
}

#[test]
fn bad_flags_exit_2_naming_what_is_wrong() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["compare", "--set", "target.memory_bus=abc"],
            "target.memory_bus",
        ),
        (
            &["compare", "--set", "target.nonexistent=1"],
            "target.nonexistent",
        ),
        (
            &["compare", "--set", "workload.nonsense=1"],
            "workload.nonsense",
        ),
        (&["compare", "--set", "nopath"], "path=value"),
        (&["compare", "--set", "foo.bar=1"], "foo.bar"),
        (
            &["compare", "--set", "target.mtu_bytes=0"],
            "target.mtu_bytes",
        ),
        (&["compare", "--set", "workload.write_size=16"], "workload"),
        (
            &["compare", "--set", "target.memory_bus=1000000TB/s"],
            "target.memory_bus",
        ),
        (&["compare", "--preset", "vax-780"], "target.preset"),
        (&["compare", "--strategies", "copy,bogus"], "bogus"),
        (&["compare", "--workload", "bogus"], "workload"),
        (&["compare", "--seed", "-5"], "seed"),
        (&["compare", "--format", "xml"], "format"),
        (
            &[
                "compare",
                "--preset",
                "pc-2003",
                "--workload",
                "bulk-receive",
            ],
            "loopback",
        ),
        (
            &[
                "compare",
                "--preset",
                "gige-2002",
                "--set",
                "target.window=2KiB",
            ],
            "target.window",
        ),
        (&["explain", "bogus"], "bogus"),
        (&["run", "bogus"], "bogus"),
        (&["list", "everything"], "everything"),
        (&["check", "no/such/file.toml"], "no/such/file.toml"),
    ];
    for (args, needle) in cases {
        let o = zcsim(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: message must mention {needle}: {err}"
        );
    }
}

#[test]
fn list_explain_check_and_run_work() {
    let o = zcsim(&["list", "strategies"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("mmap-sendpage"));
    let o = zcsim(&["list", "presets"]);
    assert!(stdout(&o).contains("embedded-100tx") && stdout(&o).contains("memory_bus"));
    let o = zcsim(&["list", "workloads"]);
    assert!(stdout(&o).contains("header_mode"));
    let o = zcsim(&["explain", "page-loan"]);
    assert!(stdout(&o).contains("uvm_loanbreak"));
    let o = zcsim(&["explain", "read-write", "--dot"]);
    let dot = stdout(&o);
    assert!(
        dot.starts_with("digraph") && dot.matches("CPU copy").count() == 2,
        "{dot}"
    );
    let o = zcsim(&["check", "scenarios/examples/default.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = zcsim(&[
        "run",
        "page-loan",
        "--verbose",
        "--set",
        "workload.total=256KiB",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("uvm_loan"));
}

/// Runs `zcsim args` with its standard output a pipe whose reader has already gone away, as
/// in `{ sleep 0.3; zcsim ...; } | true`.
fn with_closed_stdout(args: &[&str]) -> Output {
    crate::run_zcsim(args, true)
}

#[test]
fn a_closed_pipe_ends_quietly_with_status_141() {
    // The reader is gone before the first byte is written, so every one of these commands
    // meets EPIPE on its first write (with `| head -1` that only happens when the output
    // outgrows the pipe's buffer, which makes the shell form flaky as a test). Exit 141 and
    // no error on stderr (the scenario's ordinary notes may be there) prove the write error
    // was recognised and ended the process quietly rather than panicking (exit 101, "failed
    // printing to stdout").
    let cases: &[&[&str]] = &[
        &["list", "workloads"],
        &["run", "page-loan", "--verbose"],
        &[
            "sweep",
            "--param",
            "target.memory_bus",
            "--values",
            "20MB/s,40MB/s",
            "--workload",
            "bulk-send",
            "--strategies",
            "copy",
            "--set",
            "workload.total=64KiB",
            "--format",
            "json",
        ],
        &[
            "compare",
            "--format",
            "json",
            "--set",
            "workload.total=64KiB",
        ],
    ];
    for args in cases {
        let o = with_closed_stdout(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(141), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("error"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn tui_with_no_strategy_is_a_user_error_not_a_panic() {
    // `strategies = []` leaves the first workload with nothing to show. Whether the scenario
    // loader refuses it or lets it through, the command must end with exit 2 naming
    // `strategies` (checked before it looks for a terminal, so no terminal is needed here),
    // never with the index panic it used to hit.
    let path = std::env::temp_dir().join(format!("zcsim-empty-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        "strategies = []\n\n[[workloads]]\nkind = \"bulk-send\"\ntotal = \"64 KiB\"\n",
    )
    .unwrap();
    let o = zcsim(&["tui", "--scenario", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("strategies"), "{err}");
}

#[test]
fn sweep_checks_bounds_metric_and_plot_before_any_run() {
    // Each of these would otherwise start work first: a billion-point allocation, 100000
    // threads, or 1 TiB runs that take minutes in a debug build. The test finishing quickly
    // with exit 2 and a message naming the flag, the value and the allowed range proves the
    // check came before any of it.
    let base = [
        "sweep",
        "--param",
        "target.memory_bus",
        "--workload",
        "bulk-send",
        "--strategies",
        "copy",
        "--set",
        "workload.total=1TiB",
    ];
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--range", "10MB/s..80MB/s", "--steps", "1000000000"],
            &["--steps 1000000000", "2 to 10000"],
        ),
        (
            &["--values", "20MB/s,40MB/s", "--threads", "100000"],
            &["--threads 100000", "256"],
        ),
        (
            &["--values", "20MB/s,40MB/s", "--metric", "vibes"],
            &["--metric vibes", "throughput_bytes_per_sec"],
        ),
        (
            &["--values", "20MB/s,40MB/s", "--metric", "bottleneck"],
            &["--metric bottleneck", "not a number"],
        ),
        (
            &["--values", "20MB/s", "--plot", "no/such/dir/plot.svg"],
            &["--plot no/such/dir/plot.svg", "writable"],
        ),
        (
            &["--range", "1MB/s..1MB/s", "--steps", "3"],
            &["--steps 3", "twice"],
        ),
    ];
    for (extra, needles) in cases {
        let args: Vec<&str> = base.iter().chain(extra.iter()).copied().collect();
        let started = std::time::Instant::now();
        let o = zcsim(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        for n in *needles {
            assert!(err.contains(n), "{extra:?}: must mention {n}: {err}");
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{extra:?} took {:?}: it ran before checking",
            started.elapsed()
        );
    }
}

#[test]
fn a_float_range_runs_the_values_the_user_typed() {
    // 0.01 + (0.07 - 0.01) * 5/6 is 0.060000000000000005 in floating point, and a log
    // range's ends come back as 0.0010000000000000002 and 0.10000000000000006. The value
    // column is what `--set` received, so it must hold the typed ends and round points.
    let values = |range: &str, steps: &str, log: bool| {
        let mut args = vec![
            "sweep",
            "--param",
            "target.loss",
            "--range",
            range,
            "--steps",
            steps,
            "--workload",
            "bulk-send",
            "--strategies",
            "copy",
            "--set",
            "workload.total=16KiB",
            "--format",
            "csv",
        ];
        if log {
            args.push("--log");
        }
        let o = zcsim(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        let column = text
            .lines()
            .next()
            .unwrap()
            .split(',')
            .position(|c| c == "value")
            .expect("a value column");
        text.lines()
            .skip(1)
            .map(|l| l.split(',').nth(column).unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        values("0.01..0.07", "7", false),
        ["0.01", "0.02", "0.03", "0.04", "0.05", "0.06", "0.07"]
    );
    assert_eq!(values("0.001..0.1", "3", true), ["0.001", "0.01", "0.1"]);
}

#[test]
fn compare_run_and_sweep_run_the_invariant_checker() {
    // The hidden flag breaks TX-descriptor conservation after the first event. A command
    // that checks invariants must then stop with a non-zero status and a message naming the
    // broken invariant; one that skips the check would print a normal report and exit 0.
    // Debug builds check on every path by default; `--check-invariants` does it in any build.
    let small = ["--set", "workload.total=64KiB", "--strategies", "copy"];
    let commands: [Vec<&str>; 3] = [
        vec!["compare"],
        vec!["run", "copy", "--workload", "bulk-send"],
        vec![
            "sweep",
            "--param",
            "target.memory_bus",
            "--values",
            "20MB/s,40MB/s",
            "--workload",
            "bulk-send",
        ],
    ];
    let mut flag_sets = vec![vec!["--check-invariants"]];
    if cfg!(debug_assertions) {
        flag_sets.push(vec![]);
    }
    for command in &commands {
        for flags in &flag_sets {
            let mut args = command.clone();
            if command[0] != "run" {
                args.extend_from_slice(&small);
            } else {
                args.extend_from_slice(&small[..2]);
            }
            args.push("--debug-inject-invariant-bug");
            args.extend_from_slice(flags);
            let o = zcsim(&args);
            let err = stderr(&o);
            assert!(
                !o.status.success(),
                "{args:?} did not catch the broken invariant"
            );
            assert!(
                err.contains("TX descriptors not conserved"),
                "{args:?}: {err}"
            );
        }
    }
    // Without the injected bug the same commands pass the checker.
    let o = zcsim(&[
        "compare",
        "--check-invariants",
        "--set",
        "workload.total=64KiB",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn flag_errors_name_the_flag_a_shortened_value_and_what_is_allowed() {
    // A huge value is quoted in part (the message stays short), with the flag and what the
    // flag allows; user mistakes exit 2.
    let long = "x".repeat(100_000);
    let o = zcsim(&["sweep", "--param", &long, "--values", "1"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{}", &err[..err.len().min(300)]);
    assert!(
        err.len() < 1000,
        "message not shortened: {} bytes",
        err.len()
    );
    assert!(
        err.contains("--param xxx") && err.contains("more bytes"),
        "{err}"
    );
    assert!(err.contains("allowed:"), "{err}");
    let o = zcsim(&["export", "--chrome", "/dev/null", "--max-records", "0"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--max-records 0") && err.contains("allowed: 1 to"),
        "{err}"
    );
}

#[test]
fn a_printed_configuration_runs_the_same_report_byte_for_byte() {
    // `zcsim config` must print every value the run used: fed back with --scenario, the
    // JSON report (figures, names and the embedded configuration) is byte-identical. The
    // overrides touch the target, a workload parameter, an option and the seed, so a value
    // the printout dropped would change a figure or the configuration.
    let flags = [
        "--preset",
        "gige-2002",
        "--set",
        "target.mtu_bytes=1500",
        "--set",
        "workload.total=1MiB",
        "--set",
        "options.loan_threshold=8KiB",
        "--seed",
        "7",
        "--strategies",
        "copy,page-loan,sendfile",
    ];
    let mut args = vec!["config"];
    args.extend(flags);
    let o = zcsim(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let path = std::env::temp_dir().join(format!("zcsim-config-{}.toml", std::process::id()));
    std::fs::write(&path, &o.stdout).unwrap();
    let mut direct = vec!["compare", "--format", "json"];
    direct.extend(flags);
    let again = [
        "compare",
        "--format",
        "json",
        "--scenario",
        path.to_str().unwrap(),
    ];
    let (a, b) = (zcsim(&direct), zcsim(&again));
    let _ = std::fs::remove_file(&path);
    assert!(b.status.success(), "{}", stderr(&b));
    assert_eq!(stdout(&a), stdout(&b));
}

#[test]
fn misspelt_names_get_a_suggestion_and_file_errors_a_snippet() {
    // A near miss of a key, strategy, preset, workload, experiment, swept path or metric
    // names the intended one; an error in a file shows the line with a caret under the column it names.
    let cases: [(&[&str], &str); 8] = [
        (
            &["sweep", "--param", "target.memroy_bus", "--values", "1MB/s"],
            "did you mean `target.memory_bus`?",
        ),
        (
            &[
                "sweep",
                "--param",
                "target.memory_bus",
                "--values",
                "20MB/s",
                "--metric",
                "copies.cpu_copybytes",
            ],
            "did you mean `copies.cpu_copy_bytes`?",
        ),
        (
            &["compare", "--set", "target.memroy_bus=40MB/s"],
            "did you mean `memory_bus`?",
        ),
        (
            &["compare", "--strategies", "copy,page-laon"],
            "did you mean `page-loan`?",
        ),
        (&["run", "sendfiel"], "did you mean `sendfile`?"),
        (
            &["compare", "--preset", "gige-2020"],
            "did you mean `gige-2002`?",
        ),
        (
            &["compare", "--workload", "bulk-recieve"],
            "did you mean `bulk-receive`?",
        ),
        (
            &["reproduce", "netbsd-page-laon"],
            "did you mean `netbsd-page-loan`?",
        ),
    ];
    for (args, hint) in cases {
        let o = zcsim(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(hint), "{args:?}: {}", stderr(&o));
    }
    let path = std::env::temp_dir().join(format!("zcsim-typo-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        "[target]\npreset = \"pc-2003\"\n\n[[workloads]]\nkind = \"bulk-send\"\nwirte_size = \"8 KiB\"\n",
    )
    .unwrap();
    let o = zcsim(&["check", path.to_str().unwrap()]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    // Line 6, column 14 (its value): the line itself and a caret under that column.
    assert!(e.contains("did you mean `write_size`?"), "{e}");
    assert!(
        e.contains("6 | wirte_size = \"8 KiB\"\n  |              ^"),
        "{e}"
    );
    // Fixed, the next one: a top-level key that TOML put in the workload.
    std::fs::write(
        &path,
        "[target]\npreset = \"pc-2003\"\n\n[[workloads]]\nkind = \"bulk-send\"\nstrategies = [\"copy\"]\n",
    )
    .unwrap();
    let o = zcsim(&["check", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert!(
        stderr(&o).contains("comes after a [[workloads]] header"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_default_scenarios_commented_strategies_line_works_uncommented() {
    // The default file shows how to pick strategies; uncommented as it stands, the line must
    // load (it sits above the first table, so TOML keeps it at the top level).
    let text = scenarios::scenario::DEFAULT_SCENARIO;
    let line = text
        .lines()
        .find(|l| l.starts_with("# strategies = "))
        .expect("the commented line");
    let uncommented = text.replacen(line, line.trim_start_matches("# "), 1);
    let s = scenarios::load_str("default.toml", &uncommented, &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(s.runs.iter().all(|wr| wr.strategies.len() >= 2));
}

#[test]
fn every_subcommand_help_has_examples() {
    // A new user learns a command from its --help: each must show at least one example of
    // itself, and every argument must carry a description (clap's short help prints an
    // argument without one as a bare name with nothing after it).
    for cmd in [
        "compare",
        "run",
        "list",
        "explain",
        "check",
        "tui",
        "export",
        "reproduce",
        "sweep",
        "config",
        "merge",
    ] {
        let o = zcsim(&[cmd, "--help"]);
        assert!(o.status.success(), "{cmd}");
        let help = stdout(&o);
        let examples = help.split("Examples:").nth(1).unwrap_or("");
        assert!(
            examples.contains(&format!("zcsim {cmd}")),
            "{cmd} --help has no example of itself:\n{help}"
        );
        // The short help puts each argument and its description on one line.
        let short = stdout(&zcsim(&[cmd, "-h"]));
        let options = short.split("Examples:").next().unwrap_or("");
        for line in options.lines() {
            let t = line.trim_start();
            let bare = (t.starts_with('-') || t.starts_with('<') || t.starts_with('['))
                && !t.contains("  ");
            assert!(!bare, "{cmd}: undocumented argument `{t}`");
        }
    }
}

/// Checks `v` against JSON Schema `s` (the part of draft 2020-12 that schemars writes:
/// `$ref`, `type`, `properties`, `required`, `additionalProperties`, `items`, `anyOf`,
/// `oneOf`, `enum`, `const`, `minimum`), strictly: an object key the schema does not declare
/// is an error, so an undocumented key cannot slip into a report.
fn conforms(
    v: &serde_json::Value,
    s: &serde_json::Value,
    root: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    use serde_json::Value;
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("local refs");
        return conforms(v, &root["$defs"][name], root, at);
    }
    if let Some(options) = s
        .get("anyOf")
        .or_else(|| s.get("oneOf"))
        .and_then(Value::as_array)
    {
        let passing = options
            .iter()
            .filter(|o| conforms(v, o, root, at).is_ok())
            .count();
        let one_of = s.get("oneOf").is_some();
        if passing == 0 || (one_of && passing > 1) {
            return Err(format!("{at}: {passing} of the alternatives match"));
        }
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(x) => vec![x.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let fits = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => false,
        });
        if !fits {
            return Err(format!("{at}: {v} is not {types:?}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!("{at}: {v} not in {e:?}"));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        return Err(format!("{at}: {v} is not {c}"));
    }
    if let (Some(min), Some(x)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64())
        && x < min
    {
        return Err(format!("{at}: {x} < {min}"));
    }
    if let Some(obj) = v.as_object()
        && (s.get("properties").is_some() || s.get("additionalProperties").is_some())
    {
        let props = s.get("properties").and_then(Value::as_object);
        for req in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let k = req.as_str().unwrap();
            if !obj.contains_key(k) {
                return Err(format!("{at}: required key {k} missing"));
            }
        }
        for (k, x) in obj {
            let sub = props
                .and_then(|p| p.get(k))
                .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()));
            match sub {
                Some(sub) => conforms(x, sub, root, &format!("{at}/{k}"))?,
                None => return Err(format!("{at}: key {k} is not in the schema")),
            }
        }
    }
    if let (Some(items), Some(a)) = (s.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            conforms(x, items, root, &format!("{at}/{i}"))?;
        }
    }
    Ok(())
}

#[test]
fn every_commands_json_conforms_to_the_published_schema() {
    // The published JSON Schema is the contract: the JSON of compare (one workload and two),
    // run, sweep and reproduce must each conform to it, key for key, and carry the schema
    // version. A key added to a report without the schema being regenerated fails here.
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/report-schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let small = ["--set", "workload.total=64KiB"];
    let commands: Vec<Vec<&str>> = vec![
        vec!["compare", "--strategies", "copy,sendfile"],
        vec!["compare", "--workload", "bulk-send", "--strategies", "copy"],
        vec!["run", "page-loan"],
        vec![
            "compare",
            "--preset",
            "gige-2002",
            "--workload",
            "bulk-receive",
        ],
        vec![
            "sweep",
            "--param",
            "target.memory_bus",
            "--values",
            "20MB/s,40MB/s",
            "--workload",
            "bulk-send",
            "--strategies",
            "copy",
        ],
    ];
    for mut args in commands {
        args.extend(small);
        args.extend(["--format", "json"]);
        let o = zcsim(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["schema_version"], 1, "{args:?}");
        conforms(&v, &schema, &schema, "").unwrap_or_else(|e| panic!("{args:?}: {e}"));
    }
    let o = zcsim(&["reproduce", "shared-page", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    conforms(&v, &schema, &schema, "").unwrap_or_else(|e| panic!("reproduce: {e}"));
    // And the validator is not vacuous: an unknown key and a wrong type are refused.
    let mut bad = v.clone();
    bad["experiments"][0]["surprise"] = 1.into();
    assert!(conforms(&bad, &schema, &schema, "").is_err());
    let mut bad = v;
    bad["experiments"][0]["pass"] = "yes".into();
    assert!(conforms(&bad, &schema, &schema, "").is_err());
}

#[test]
fn compare_plot_draws_a_bar_per_run_in_both_panels() {
    // The comparison's chart has two panels (throughput, bus bytes per payload byte), each
    // with one bar per run, labelled with the strategy: 2 strategies give 4 filled bars.
    let path = std::env::temp_dir().join(format!("zcsim-bars-{}.svg", std::process::id()));
    let o = zcsim(&[
        "compare",
        "--workload",
        "bulk-send",
        "--strategies",
        "copy,page-loan",
        "--set",
        "workload.total=64KiB",
        "--plot",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let svg = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
    // Bars are the filled rectangles in the palette's first two colours (copy, page-loan).
    let bars = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .filter(|n| matches!(n.attribute("fill"), Some("#1F77B4") | Some("#FF7F0E")))
        .count();
    assert_eq!(bars, 4, "{svg}");
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    for label in [
        "copy",
        "page-loan",
        "throughput (KB/s, KB = 1024 bytes)",
        "memory-bus bytes per payload byte",
    ] {
        assert!(texts.iter().any(|t| t.contains(label)), "missing {label}");
    }
}

#[test]
fn export_writes_to_stdout_and_keeps_only_the_asked_window() {
    // `--chrome -` is standard output (no file named `-`), and --from/--to bound the trace:
    // every span kept overlaps the window and every instant lies in it, so the file is a
    // fraction of the whole run's.
    let args = |extra: &[&'static str]| {
        let mut v = vec![
            "export",
            "--chrome",
            "-",
            "--strategies",
            "copy",
            "--workload",
            "bulk-send",
            "--set",
            "workload.total=1MiB",
        ];
        v.extend_from_slice(extra);
        v
    };
    let whole = zcsim(&args(&[]));
    let part = zcsim(&args(&["--from", "10ms", "--to", "12ms"]));
    assert!(
        whole.status.success() && part.status.success(),
        "{}",
        stderr(&part)
    );
    assert!(!Path::new("-").exists());
    let v: serde_json::Value = serde_json::from_slice(&part.stdout).unwrap();
    for e in v["traceEvents"].as_array().unwrap() {
        let (Some(ts), Some(ph)) = (e["ts"].as_f64(), e["ph"].as_str()) else {
            continue;
        };
        match ph {
            "X" => assert!(
                ts < 12_000.0 && ts + e["dur"].as_f64().unwrap() > 10_000.0,
                "{e}"
            ),
            "i" => assert!((10_000.0..12_000.0).contains(&ts), "{e}"),
            _ => {}
        }
    }
    assert!(part.stdout.len() * 10 < whole.stdout.len());
    // Slices carry the narration of their event, as `zcsim run --verbose` prints it.
    let narrated = v["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X")
        .filter_map(|e| e["args"]["note"].as_str())
        .count();
    assert!(narrated > 0, "no slice has a note");
}

#[test]
fn a_png_plot_is_a_png_with_its_text_drawn() {
    // `--plot FILE.png` writes a PNG of the plot's size; its text is drawn with the
    // compiled-in font, so the same command gives the same bytes on any machine.
    let png = |name: &str| {
        let path = std::env::temp_dir().join(format!("zcsim-{name}-{}.png", std::process::id()));
        let o = zcsim(&[
            "sweep",
            "--param",
            "target.memory_bus",
            "--values",
            "20MB/s,40MB/s",
            "--workload",
            "bulk-send",
            "--strategies",
            "copy",
            "--set",
            "workload.total=64KiB",
            "--plot",
            path.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        bytes
    };
    let (a, b) = (png("a"), png("b"));
    assert_eq!(&a[..8], b"\x89PNG\r\n\x1a\n");
    // Width and height, big-endian in the IHDR chunk: the plot's 1040 x 600.
    assert_eq!(u32::from_be_bytes(a[16..20].try_into().unwrap()), 1040);
    assert_eq!(u32::from_be_bytes(a[20..24].try_into().unwrap()), 600);
    assert_eq!(a, b);
}

#[test]
fn run_read_takes_the_file_read_workload_and_map_reaches_the_strategy() {
    // The default scenario sends over a network; `run read` must run its own workload rather
    // than find nothing to do. 1 MiB in 64 KiB reads is 16 read() calls; mapped per request,
    // mmap-read makes an mmap and a munmap per request: 32 syscalls.
    let o = zcsim(&["run", "read", "--set", "workload.total=1MiB"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("file-read: 1.0 MiB in 64.0 KiB reads"),
        "{out}"
    );
    let o = zcsim(&[
        "run",
        "mmap-read",
        "--set",
        "workload.total=1MiB",
        "--set",
        "options.map=per-request",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let run = &json["workloads"][0]["runs"][0];
    assert_eq!(run["net"]["syscalls"], 32, "{run}");
    assert_eq!(run["vm"]["munmaps"], 16, "{run}");
}
