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
    // Two workloads: the documented {"workloads": [...]} shape.
    assert_eq!(v["workloads"].as_array().map(Vec::len), Some(2));
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
    // Every applicable strategy on both default workloads: 4 memory + 6 file strategies.
    for preset in ["embedded-100tx", "pc-2003", "gige-2002", "server-2024"] {
        let o = zcsim(&["compare", "--preset", preset, "--format", "csv"]);
        assert!(o.status.success(), "{preset}: {}", stderr(&o));
        let rows = stdout(&o).lines().count() - 1;
        assert_eq!(rows, 10, "{preset}");
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
        (&["explain", "splice"], "planned"),
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
