//! Whole model runs from arbitrary small scenarios, with every invariant checked after every
//! event: a preset, a workload kind with tiny sizes, target knobs, and one applicable
//! strategy. A run must end without a panic and without a stall, and conserve payload.
//! Sizes are kept small (at most 16 KiB moved, at most 512 writes or segments) so a run takes
//! milliseconds.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use models::report::{RunOptions, run};
use models::workload::WORKLOAD_IDS;
use scenarios::{Overrides, load_str, presets};

#[derive(Arbitrary, Debug)]
struct Case {
    preset: u8,
    kind: u8,
    strategy: u8,
    total: u16,
    write: u16,
    knobs: Vec<(u8, u16)>,
    seed: u16,
}

/// `--set` flags for a knob and a raw number, in the knob's own range.
fn knob(which: u8, n: u16) -> String {
    let n = u64::from(n);
    match which % 16 {
        0 => format!("target.tx_ring_slots={}", 1 + n % 64),
        1 => format!("target.mtu_bytes={}", 576 + n % 8500),
        2 => format!("target.window={}KiB", 16 + n % 256),
        3 => format!("target.send_buffer={}KiB", 16 + n % 256),
        4 => format!("target.loss={}", (n % 500) as f64 / 1000.0),
        5 => format!("target.cpus={}", 1 + n % 4),
        6 => format!("target.scatter_gather={}", n % 2 == 0),
        7 => format!("target.checksum_offload={}", n % 2 == 0),
        8 => format!("target.max_frags={}", 1 + n % 32),
        9 => format!("target.tx_coalesce={}", 1 + n % 64),
        10 => format!("target.ack_every={}", 1 + n % 8),
        11 => format!("target.rtt={}us", n % 2000),
        12 => format!("target.header_split={}", n % 2 == 0),
        13 => format!("options.loan_threshold={}B", 1 + n % 65536),
        14 => format!("target.recv_buffer={}KiB", 16 + n % 256),
        _ => format!(
            "target.link={}",
            if n % 2 == 0 { "ethernet" } else { "loopback" }
        ),
    }
}

/// The workload table for a kind, with sizes bounded to keep a run short.
fn workload(kind: &str, total: u64, write: u64) -> String {
    let total = 1 + total % (16 << 10);
    // At most 512 writes (or segments), so a run with every invariant checked after every
    // event takes milliseconds.
    let write = (1 + write % (64 << 10)).max(total.div_ceil(512));
    let mut t = format!("kind = \"{kind}\"\n");
    match kind {
        "file-server" => {
            let file = 1 + total % (16 << 10);
            t += &format!(
                "clients = {}\nfiles = {}\nfile_size = \"{file} B\"\nbody = \"{} B\"\nrequests = {}\n",
                1 + write % 4,
                1 + write % 3,
                1 + write % file,
                1 + total % 8
            );
        }
        "straddle" => {
            t += &format!(
                "total = \"{total} B\"\nmap_size = \"{} B\"\n",
                4096 * (1 + write % 4)
            )
        }
        "shared-page" => t += &format!("total = \"{total} B\"\n"),
        "bulk-receive" => {
            t += &format!(
                "total = \"{total} B\"\nread_size = \"{write} B\"\nsegment = \"{} B\"\n",
                (1 + write % 9000).max(total.div_ceil(512))
            )
        }
        "file-mutation" => {
            t += &format!(
                "total = \"{total} B\"\nwrite_size = \"{write} B\"\nfile_size = \"{} B\"\n",
                4096 + total % (64 << 10)
            )
        }
        _ => t += &format!("total = \"{total} B\"\nwrite_size = \"{write} B\"\n"),
    }
    t
}

fuzz_target!(|c: Case| {
    let preset = presets::NAMES[c.preset as usize % presets::NAMES.len()];
    let kind = WORKLOAD_IDS[c.kind as usize % WORKLOAD_IDS.len()];
    let text = format!(
        "seed = {}\n[target]\npreset = \"{preset}\"\n[[workloads]]\n{}",
        c.seed,
        workload(kind, u64::from(c.total), u64::from(c.write))
    );
    let o = Overrides {
        sets: c.knobs.iter().take(6).map(|(w, n)| knob(*w, *n)).collect(),
        ..Overrides::default()
    };
    // Scenario errors are fine (the fuzzer chose an invalid combination).
    let Ok(s) = load_str("fuzz.toml", &text, &o) else {
        return;
    };
    let Some(r) = s.runs.first() else { return };
    let strategy = r.strategies[c.strategy as usize % r.strategies.len()];
    let opts = RunOptions {
        check_invariants: true,
        ..RunOptions::default()
    };
    let report = run(&s.target.world, &r.workload, strategy, opts)
        .expect("the scenario layer only offers strategies that apply");
    assert_eq!(
        report.outcome.stalled,
        None,
        "stalled: {text}\n{:?} {}",
        o.sets,
        strategy.id()
    );
    assert!(report.copies.dma_bytes >= report.payload_bytes || s.target.loopback);
});
