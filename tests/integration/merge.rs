//! Sweeps beyond one machine: `zcsim sweep --shard K/N` on every K, joined by `zcsim merge`,
//! prints what the unsharded sweep prints, byte for byte, and mistakes are refused.

use std::path::PathBuf;

use crate::zcsim;

/// A small sweep with two workloads (copy runs on the memory one, sendfile on the file one),
/// so a point holds runs of both and the merge must keep their order inside the point.
const SWEEP: [&str; 10] = [
    "sweep",
    "--param",
    "target.memory_bus",
    "--values",
    "15MB/s,30MB/s,45MB/s,60MB/s",
    "--strategies",
    "copy,sendfile",
    "--set",
    "workload.total=64KiB",
    "--seed=7",
];

fn run(extra: &[&str]) -> Vec<u8> {
    let args: Vec<&str> = SWEEP.iter().chain(extra).copied().collect();
    let o = zcsim(&args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zcsim-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir.join(name)
}

/// Writes every shard of `n` and returns the paths, in reverse order (merge must not care).
fn shards(n: usize) -> Vec<String> {
    (1..=n)
        .rev()
        .map(|k| {
            let path = scratch(&format!("part-{k}-of-{n}.json"));
            std::fs::write(&path, run(&["--shard", &format!("{k}/{n}")])).expect("written");
            path.to_string_lossy().into_owned()
        })
        .collect()
}

fn merge(partials: &[String], extra: &[&str]) -> std::process::Output {
    let mut args = vec!["merge"];
    args.extend(partials.iter().map(String::as_str));
    args.extend(extra);
    zcsim(&args)
}

#[test]
fn every_shard_merged_prints_the_unsharded_sweep_byte_for_byte() {
    // 4 points in 3 interleaved shards (points 0 and 3, 1, 2) and in 5 shards (the fifth has
    // no point). If the merge lost, repeated or reordered a run, or changed one float digit
    // on the way through the partial file, some format below would differ; the SVG plot is
    // compared too, since it is drawn from the same rows.
    let formats: [&[&str]; 4] = [
        &[],
        &["--breakdown"],
        &["--format", "json"],
        &["--format", "csv"],
    ];
    let whole: Vec<Vec<u8>> = formats.iter().map(|f| run(f)).collect();
    let plot_whole = scratch("whole.svg");
    run(&["--plot", &plot_whole.to_string_lossy()]);
    for n in [3, 5] {
        let parts = shards(n);
        for (f, expected) in formats.iter().zip(&whole) {
            let o = merge(&parts, f);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert_eq!(
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(expected),
                "{n} shards, {f:?}"
            );
        }
        let plot_merged = scratch(&format!("merged-{n}.svg"));
        let o = merge(&parts, &["--plot", &plot_merged.to_string_lossy()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            std::fs::read(&plot_whole).expect("the sweep's plot"),
            std::fs::read(&plot_merged).expect("the merge's plot"),
            "{n} shards: plots differ"
        );
    }
}

#[test]
fn bad_shards_and_mismatched_partials_are_user_errors() {
    // K counts from 1 to N: each mistake exits 2 naming the flag, why, and what is allowed.
    for (shard, why) in [
        ("0/4", "K is 0, but shards count from 1"),
        ("5/4", "beyond N = 4"),
        ("x/4", "not a whole number"),
        ("1/0", "N is 0"),
        ("3", "not K/N"),
    ] {
        let args: Vec<&str> = SWEEP.iter().copied().chain(["--shard", shard]).collect();
        let o = zcsim(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{shard}: {err}");
        assert!(err.contains(&format!("--shard {shard}: ")), "{err}");
        assert!(err.contains(why), "{err}");
        assert!(err.contains("allowed: K/N with 1 <= K <= N"), "{err}");
    }
    let parts = shards(2);
    // A missing shard, a shard twice, and a shard of another sweep (another metric) are
    // refused before anything is printed.
    let other = scratch("other-metric.json");
    let args: Vec<&str> = SWEEP
        .iter()
        .copied()
        .chain(["--metric", "copies.cpu_copy_bytes", "--shard", "1/2"])
        .collect();
    let o = zcsim(&args);
    assert!(o.status.success());
    std::fs::write(&other, o.stdout).expect("written");
    let other = other.to_string_lossy().into_owned();
    for (partials, why) in [
        (vec![parts[0].clone()], "missing shard 1/2"),
        (
            vec![parts[0].clone(), parts[0].clone()],
            "shard 2/2 is given twice",
        ),
        (
            vec![parts[0].clone(), other],
            "partial results of different sweeps: their metrics differ",
        ),
    ] {
        let o = merge(&partials, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(o.stdout.is_empty());
        assert!(err.contains(why), "{err}");
    }
}
