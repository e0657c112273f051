//! Bad scenario files of issue 12 (exit 0 where the input was wrong, vague errors), one rule
//! broken per file in `scenarios/tests/bad_inputs/`. The CLI's own corpus,
//! `tests/bad_inputs/`, is driven by `tests/integration/cli.rs`, which insists that every file
//! there has an expectation in its own table; these files live here so that harness need not
//! change. Each is loaded the way `zcsim check FILE` loads it.

use std::path::Path;

use scenarios::{Origin, Overrides, ScenarioError, load_file};

/// (file, field the error must name, line it must point at, words the message must contain).
const BAD: &[(&str, &str, usize, &[&str])] = &[
    // `strategies = []` used to say "ok" and run nothing.
    (
        "empty_strategies.toml",
        "strategies",
        1,
        &["names no strategy"],
    ),
    // A file key next to `source = "memory"` used to be dropped silently.
    (
        "memory_source_with_file_size.toml",
        "workloads[0].file_size",
        4,
        &[
            "does not apply to source = \"memory\"",
            "file_size and cold only",
        ],
    ),
    // The same with the file key *before* `source`: keys used to be applied in alphabetical
    // order, `source` resetting what came before it; order must not matter.
    (
        "memory_source_with_cold.toml",
        "workloads[0].cold",
        3,
        &["does not apply to source = \"memory\""],
    ),
    // Wrong TOML types name the field and what that field allows, not the top-level keys.
    (
        "seed_string.toml",
        "seed",
        1,
        &["must be a whole number", "0 to 2^63-1"],
    ),
    (
        "seed_float.toml",
        "seed",
        1,
        &["a decimal number", "0 to 2^63-1"],
    ),
    (
        "target_array.toml",
        "target",
        1,
        &["must be a table", "preset = one of"],
    ),
    (
        "workloads_table.toml",
        "workloads",
        1,
        &["[[workloads]] (double brackets)"],
    ),
    (
        "strategy_not_a_string.toml",
        "strategies[1]",
        1,
        &["strategy id in quotes"],
    ),
    (
        "option_without_unit.toml",
        "options.loan_threshold",
        2,
        &["needs a unit"],
    ),
    // A duplicate key names the key.
    (
        "duplicate_key.toml",
        "(syntax)",
        4,
        &["duplicate key `total`"],
    ),
    // A link rate on a loopback target does not apply.
    (
        "loopback_link_rate.toml",
        "target.link_rate",
        3,
        &["does not apply to link = \"loopback\""],
    ),
    // A hot copy rate on a target without a cache would be silently unused.
    (
        "hot_rate_without_cache.toml",
        "target.cpu_copy_hot_rate",
        3,
        &["does not apply with llc_bytes = 0"],
    ),
    // A Nagle rule under TCP_NODELAY would be silently unused: no short segment waits.
    (
        "nagle_with_nodelay.toml",
        "target.nagle",
        4,
        &[
            "does not apply with tcp_nodelay = true",
            "nagle only with tcp_nodelay = false",
        ],
    ),
    // A string field given a number (the file's twin of `--set target.name=42`).
    (
        "target_name_number.toml",
        "target.name",
        3,
        &["must be a string in quotes"],
    ),
    // A key of another workload kind is refused with this kind's keys.
    (
        "key_of_another_kind.toml",
        "workloads[0].write_size",
        3,
        &[
            "is not a parameter of workload `straddle`",
            "total, map_size",
        ],
    ),
    // Forty-seven decimals: exact arithmetic says "not whole", no overflow.
    (
        "rate_not_whole.toml",
        "target.memory_bus",
        3,
        &["is not a whole number of bytes per second"],
    ),
    // fill_each_write (issue 14) is about a buffer the application fills: next to a file
    // source it is a contradiction, whatever the order of the keys.
    (
        "fill_each_write_from_a_file.toml",
        "workloads[0].fill_each_write",
        3,
        &[
            "does not apply to a bulk-send from a file (source set at",
            "fill_each_write only with source = \"memory\"",
        ],
    ),
    // A yes/no key takes a TOML boolean, not a word.
    (
        "fill_each_write_not_a_bool.toml",
        "workloads[0].fill_each_write",
        3,
        &["true or false"],
    ),
    // A file server serves files: the key is not one of its parameters.
    (
        "fill_each_write_on_a_file_server.toml",
        "workloads[0].fill_each_write",
        3,
        &["is not a parameter of workload `file-server`"],
    ),
    // Found by the scenario_bytes and scenario_structured fuzz targets (`""="="`): an empty
    // key gave an error with an empty field name. Keys that are not bare are shown quoted.
    ("empty_key.toml", "\"\"", 1, &["is not a known field"]),
    // AF_XDP (issue 17): aligned UMEM chunks are 2 KiB or 4 KiB, rings are powers of two
    // (xsk_init_queue), and a frame must fit a chunk after the XDP headroom.
    (
        "xsk_chunk_not_2_or_4_kib.toml",
        "options.xsk_chunk_size",
        3,
        &["is not one of the allowed sizes", "2 KiB, 4 KiB"],
    ),
    (
        "xsk_ring_not_a_power_of_two.toml",
        "options.xsk_rx_ring",
        3,
        &["is not a power of two"],
    ),
    (
        "xsk_frame_larger_than_chunk.toml",
        "strategies",
        1,
        &[
            "1800-byte frame does not fit a 2048-byte UMEM chunk",
            "at most 1792",
        ],
    ),
    (
        "quoted_key.toml",
        "workloads[0].\"write size\"",
        3,
        &["is not a parameter of workload `bulk-send`"],
    ),
];

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs")
}

#[test]
fn every_bad_file_is_an_error_naming_field_line_and_what_is_allowed() {
    // An error (not "ok") that names the field and the line proves the input is refused for
    // the right reason and at the right place; `allowed` being present proves the message
    // says what would have been accepted.
    let on_disk = std::fs::read_dir(dir()).unwrap().count();
    assert_eq!(on_disk, BAD.len(), "every file has an expectation");
    for (file, field, line, words) in BAD {
        let path = dir().join(file);
        let path = path.to_str().unwrap();
        let e = load_file(path, &Overrides::default())
            .err()
            .unwrap_or_else(|| panic!("{file} was accepted"));
        let shown = e.to_string();
        assert_eq!(e.field, *field, "{file}: {shown}");
        match &e.origin {
            Origin::File { line: l, .. } => assert_eq!(l, line, "{file}: {shown}"),
            other => panic!("{file}: no line in {other:?}: {shown}"),
        }
        assert!(shown.contains(file), "{file}: names the file: {shown}");
        assert!(e.allowed.is_some(), "{file}: says what is allowed: {shown}");
        for w in *words {
            assert!(shown.contains(w), "{file}: must say {w:?}: {shown}");
        }
    }
}

// A user's mistake is cold; the error stays a flat struct as in the library.
#[allow(clippy::result_large_err)]
fn load_text(text: &str, sets: &[&str]) -> Result<scenarios::Scenario, ScenarioError> {
    let o = Overrides {
        sets: sets.iter().map(|s| s.to_string()).collect(),
        ..Overrides::default()
    };
    scenarios::load_str("t.toml", text, &o)
}

#[test]
fn a_string_field_given_a_number_by_flag_is_refused() {
    // `--set target.name=42` used to be accepted: 42 is read as a number, and a name is text.
    let e = load_text("[[workloads]]\nkind = \"bulk-send\"\n", &["target.name=42"]).unwrap_err();
    assert_eq!(e.field, "target.name");
    assert!(matches!(e.origin, Origin::Flag { .. }), "{e}");
    assert!(e.to_string().contains("--set target.name=42"), "{e}");
}

#[test]
fn an_empty_strategy_list_from_flags_is_refused() {
    // `--strategies` with nothing in it would run nothing; like `strategies = []` it is an
    // error rather than an "ok" with no runs.
    let o = Overrides {
        strategies: Some(Vec::new()),
        ..Overrides::default()
    };
    let e = scenarios::load_default(&o).unwrap_err();
    assert_eq!(e.field, "strategies");
    assert!(e.problem.contains("names no strategy"), "{e}");
}

#[test]
fn a_file_key_by_flag_lands_only_on_file_sources() {
    // The default scenario has a bulk send from memory and one from a file.
    // `--set workload.file_size` must change the file one and leave the memory one a memory
    // send (before, every bulk-send got the key, turning the memory one into a file send).
    let s = scenarios::load_default(&Overrides {
        sets: vec!["workload.file_size=2MiB".into()],
        ..Overrides::default()
    })
    .unwrap();
    use models::workload::{BulkSource, Workload};
    let sources: Vec<BulkSource> = s
        .runs
        .iter()
        .map(|r| match r.workload {
            Workload::BulkSend { source, .. } => source,
            ref other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        sources,
        [
            BulkSource::Memory,
            BulkSource::File {
                file_bytes: 2 << 20,
                cold: false
            }
        ]
    );
    // A flag that applies to no workload as written says so.
    let e = load_text(
        "[[workloads]]\nkind = \"bulk-send\"\nsource = \"memory\"\n",
        &["workload.cold=true"],
    )
    .unwrap_err();
    assert_eq!(e.field, "workload.cold");
    assert!(e.problem.contains("applies to none"), "{e}");
}

#[test]
fn flags_with_empty_paths_name_a_field() {
    // Fuzzing found errors with an empty field; every flag error must name something.
    for set in ["", "=5", "target.=5", "workload.=1", "options.=1"] {
        let e = load_text("[[workloads]]\nkind = \"bulk-send\"\n", &[set]).unwrap_err();
        assert!(!e.field.is_empty(), "--set {set:?}: {e}");
    }
}

#[test]
fn deep_nesting_gives_a_line_and_no_stack_overflow() {
    // A 20,000-level header: toml refuses it past 80 levels without a position; the error
    // must still point at the line (2) and the test must not overflow the stack.
    let header = vec!["a"; 20_000].join(".");
    let text = format!("seed = 1\n[{header}]\nx = 1\n");
    let e = load_text(&text, &[]).unwrap_err();
    assert_eq!(e.field, "(syntax)");
    assert!(
        matches!(e.origin, Origin::File { line: 2, .. }),
        "{:?}",
        e.origin
    );
    assert!(e.to_string().contains("80 levels"), "{e}");
    // The same depth in inline arrays is refused by toml's own guard, with a position.
    let text = format!("seed = {}{}\n", "[".repeat(20_000), "]".repeat(20_000));
    let e = load_text(&text, &[]).unwrap_err();
    assert!(matches!(e.origin, Origin::File { line: 1, .. }), "{e}");
}

#[test]
fn long_values_are_shortened_in_errors() {
    // A 10 MB preset name (files are limited to 16 MiB) and a 50 MB flag value: the message
    // must stay short, say how long the value was, and still name the field.
    let long = "x".repeat(10_000_000);
    let text = format!("[target]\npreset = \"{long}\"\n[[workloads]]\nkind = \"bulk-send\"\n");
    let e = load_text(&text, &[]).unwrap_err();
    let shown = e.to_string();
    assert!(shown.len() < 1000, "{} bytes", shown.len());
    assert!(
        shown.contains("target.preset") && shown.contains("bytes in all"),
        "{shown}"
    );

    let flag = format!("target.memory_bus={}", "9".repeat(50_000_000));
    let e = load_text("[[workloads]]\nkind = \"bulk-send\"\n", &[&flag]).unwrap_err();
    let shown = e.to_string();
    assert!(shown.len() < 1000, "{} bytes", shown.len());
    assert!(shown.contains("target.memory_bus"), "{shown}");
}

#[test]
fn files_are_read_with_a_size_limit() {
    // `check /dev/zero` used to read until memory ran out: at most 16 MiB is read, and the
    // error names the file and the limit.
    if Path::new("/dev/zero").exists() {
        let e = load_file("/dev/zero", &Overrides::default()).unwrap_err();
        assert_eq!(e.field, "(file)");
        assert!(e.to_string().contains("16 MiB"), "{e}");
    }
    let path = std::env::temp_dir().join(format!("zcsim-big-{}.toml", std::process::id()));
    let mut text = "# padding\n".repeat(1_700_000);
    text.push_str("[[workloads]]\nkind = \"bulk-send\"\n");
    std::fs::write(&path, &text).unwrap();
    let e = load_file(path.to_str().unwrap(), &Overrides::default()).unwrap_err();
    std::fs::remove_file(&path).ok();
    assert_eq!(e.field, "(file)");
    assert_eq!(
        e.allowed.as_deref(),
        Some("a scenario file of at most 16 MiB")
    );
}

#[test]
fn too_many_workloads_is_refused_before_any_is_read() {
    let text =
        "[[workloads]]\nkind = \"bulk-send\"\n".repeat(scenarios::scenario::MAX_WORKLOADS + 1);
    let e = load_text(&text, &[]).unwrap_err();
    assert_eq!(e.field, "workloads");
    assert!(e.problem.contains("more than 100000"), "{e}");
}

#[test]
fn fill_each_write_by_flag_lands_only_on_memory_sources() {
    // The default scenario has a bulk send from memory and one from a file: the flag must
    // reach the memory one only (a file's data is not produced by the application), and a
    // scenario with only a file source refuses it by name.
    let s = scenarios::load_default(&Overrides {
        sets: vec!["workload.fill_each_write=true".into()],
        ..Overrides::default()
    })
    .unwrap();
    let fills: Vec<bool> = s.runs.iter().map(|r| r.options.fill_each_write).collect();
    assert_eq!(fills, [true, false]);
    let e = load_text(
        "[[workloads]]\nkind = \"bulk-send\"\nsource = \"file\"\n",
        &["workload.fill_each_write=true"],
    )
    .unwrap_err();
    assert_eq!(e.field, "workload.fill_each_write");
    assert!(e.problem.contains("fill_each_write one from memory"), "{e}");
    // Without the key nothing changes: the option is off.
    let s = load_text("[[workloads]]\nkind = \"rewrite-after-write\"\n", &[]).unwrap();
    assert!(!s.runs[0].options.fill_each_write);
    let s = load_text(
        "[[workloads]]\nkind = \"rewrite-after-write\"\nfill_each_write = true\n",
        &[],
    )
    .unwrap();
    assert!(s.runs[0].options.fill_each_write);
}
