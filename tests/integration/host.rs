//! `zcsim calibrate` and `zcsim validate` on the machine the tests run on (Linux, `host`
//! feature): quick modes only, so each run takes a second or two.

#![cfg(all(target_os = "linux", feature = "host"))]

use std::path::{Path, PathBuf};

use scenarios::keys::{Kind, target_keys};

use super::zcsim;

/// A fresh empty directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("zcsim-host-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("a scratch directory");
        Scratch(p)
    }

    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.0)
            .expect("the scratch directory")
            .map(|e| {
                e.expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        v.sort();
        v
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn calibrate_quick(dir: &Path) -> PathBuf {
    let out = dir.join("host.toml");
    let o = zcsim(&["calibrate", "--quick", "--out", out.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "calibrate failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// The written preset sets every target key (a loopback target needs no link_rate) with a
/// value the schema accepts and that is positive (loss aside, which is 0 on loopback), and
/// `compare --preset FILE` loads it: a missing key, an unparsable value or a zero rate would
/// fail one of these.
#[test]
fn calibrate_quick_writes_a_preset_that_loads_with_positive_values() {
    let dir = Scratch::new("calibrate");
    let out = calibrate_quick(&dir.0);
    // Only the preset is left: no temporary file beside it.
    assert_eq!(dir.entries(), ["host.toml"]);
    let text = std::fs::read_to_string(&out).unwrap();
    let table: toml::Table = toml::from_str(&text).expect("the preset is TOML");
    assert_eq!(table["link"].as_str(), Some("loopback"));
    let cpus = std::thread::available_parallelism().unwrap().get() as i64;
    assert_eq!(table["cpus"].as_integer(), Some(cpus));
    for key in target_keys() {
        if key.name == "link_rate" {
            assert!(
                !table.contains_key("link_rate"),
                "loopback has no line rate"
            );
            continue;
        }
        let v = table
            .get(key.name)
            .unwrap_or_else(|| panic!("the preset lacks {}", key.name));
        let checked = key
            .kind
            .check(v)
            .unwrap_or_else(|e| panic!("{} = {v}: {e}", key.name));
        match key.kind {
            // Loopback measures no peer device: its memory and bandwidth are 0, none.
            _ if key.name.starts_with("device_memory") => assert_eq!(checked.u64(), 0),
            // 0 (no cache model) is what calibrate writes where sysfs names no cache.
            Kind::Size { .. } if key.name == "llc_bytes" => {}
            Kind::Size { .. } | Kind::Rate { .. } | Kind::Duration { .. } | Kind::Count { .. } => {
                assert!(checked.u64() > 0, "{} = {v} is not positive", key.name)
            }
            Kind::Fraction { .. } if key.name == "loss" => assert_eq!(checked.f64(), 0.0),
            Kind::Fraction { .. } => assert!(checked.f64() > 0.0, "{} = {v}", key.name),
            _ => {}
        }
    }
    // Every measured value says how: its median, spread and method are in its comment.
    for key in [
        "cpu_copy_rate",
        "cpu_copy_hot_rate",
        "syscall",
        "minor_fault",
        "cow_fault",
        "mmap",
        "munmap",
    ] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{key} =")))
            .unwrap();
        assert!(
            line.contains("median") && line.contains("min-max"),
            "{line}"
        );
    }
    let o = zcsim(&[
        "compare",
        "--preset",
        out.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert!(
        o.status.success(),
        "compare --preset FILE failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("read-write"));
}

/// validate runs every real strategy at every size asked for: the table names each strategy
/// once per size (splice as "not modelled" until the model has it), and the JSON has a cell
/// for each modelled strategy at each size with finite positive throughputs.
#[test]
fn validate_quick_reports_every_strategy_at_every_size() {
    let dir = Scratch::new("validate");
    let preset = calibrate_quick(&dir.0);
    let p = preset.to_str().unwrap();
    let o = zcsim(&[
        "validate",
        "--quick",
        "--preset",
        p,
        "--sizes",
        "4KiB,64KiB",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    for size in ["4 KiB", "64 KiB"] {
        for s in ["read-write", "mmap-write", "sendfile", "splice"] {
            let rows = table
                .lines()
                .filter(|l| l.starts_with(size) && l.split_whitespace().nth(2) == Some(s))
                .count();
            assert_eq!(rows, 1, "{s} at {size} in:\n{table}");
        }
    }
    assert!(table.contains("ratios within 15%"));

    let o = zcsim(&[
        "validate", "--quick", "--preset", p, "--sizes", "16KiB", "--format", "json",
    ]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let cells = v["cells"].as_array().unwrap();
    let ids: Vec<&str> = cells
        .iter()
        .map(|c| c["strategy"].as_str().unwrap())
        .collect();
    for id in ["read-write", "mmap-write", "sendfile"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    for c in cells {
        assert_eq!(c["size_bytes"], 16384);
        for f in ["measured_bytes_per_sec", "predicted_bytes_per_sec"] {
            assert!(c[f].as_f64().unwrap() > 0.0, "{c}");
        }
    }
    // read-write is the reference: its ratios are 1 by definition, so its error is 0.
    let rw = cells
        .iter()
        .find(|c| c["strategy"] == "read-write")
        .unwrap();
    assert_eq!(rw["error"].as_f64(), Some(0.0));
    assert_eq!(dir.entries(), ["host.toml"], "validate left files behind");
}

/// --out into a directory that does not exist, onto a directory, or under a regular file is
/// refused at once with exit 2 naming --out, and nothing is written anywhere in the scratch
/// directory (no preset, no temporary file).
#[test]
fn calibrate_refuses_an_unwritable_out_and_leaves_nothing() {
    let dir = Scratch::new("badout");
    std::fs::write(dir.0.join("file"), "x").unwrap();
    let bad = [
        dir.0.join("missing/host.toml"),
        dir.0.clone(),
        dir.0.join("file/host.toml"),
    ];
    for out in bad {
        let o = zcsim(&["calibrate", "--quick", "--out", out.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{}", out.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("--out") && err.contains("cannot be written"),
            "{err}"
        );
        assert_eq!(
            dir.entries(),
            ["file"],
            "stray files after --out {}",
            out.display()
        );
    }
}

/// A size outside 512 B-16 MiB or not a size is a flag error (exit 2) naming --sizes, before
/// anything is measured.
#[test]
fn validate_rejects_bad_sizes() {
    for bad in ["1B", "lots", "64MiB"] {
        let o = zcsim(&["validate", "--quick", "--sizes", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("--sizes"));
    }
}

/// In a network namespace of its own (`unshare -n`, which needs root), the loopback
/// interface is down: calibrate and validate refuse with exit 2 naming loopback, before
/// measuring anything, and leave no file. Where `unshare -n` is not allowed, the test says so
/// and checks nothing (it cannot make a machine without loopback otherwise).
#[test]
fn without_loopback_calibrate_and_validate_refuse() {
    use std::process::Command;
    let unshare = Command::new("unshare").args(["-n", "true"]).output();
    if !unshare.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: unshare -n is not available here");
        return;
    }
    let dir = Scratch::new("nolo");
    let out = dir.0.join("host.toml");
    let bin = env!("CARGO_BIN_EXE_zcsim");
    for args in [
        vec!["calibrate", "--quick", "--out", out.to_str().unwrap()],
        vec!["validate", "--quick"],
    ] {
        let o = Command::new("unshare")
            .arg("-n")
            .arg(bin)
            .args(&args)
            .output()
            .expect("unshare runs");
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("cannot measure over loopback TCP"), "{err}");
        // Refused before measuring: no step after the check was begun.
        assert!(!err.contains("calibrate: memcpy"), "{err}");
        assert!(dir.entries().is_empty(), "stray files: {:?}", dir.entries());
    }
}
