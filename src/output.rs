//! Printing reports: the comparison table, CSV, and JSON with DESIGN's keys.

use std::fmt::Write as _;

use models::report::{Report, RunReport};
use models::world::human_bytes;

/// What is said of a run that stopped before its work was done (after its strategy's name):
/// its figures cover only what moved until then, and `why` names what everyone waited for.
pub fn stalled_line(why: &str) -> String {
    format!("did not finish, its figures cover only what moved until then: {why}")
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// The comparison table of one report.
pub fn table(r: &Report, describe: &str, breakdown: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{describe}");
    let _ = writeln!(
        out,
        "target {}, seed {}; KB = 1024 bytes, as ttcp prints",
        r.target, r.seed
    );
    let header = [
        "strategy",
        "KB/s",
        "bottleneck",
        "copies",
        "copied",
        "bus/B",
        "DMA",
        "faults mn/mj/cow/lb",
        "lookups",
        "syscalls",
        "splats",
        "cpu",
        "bus",
        "wire",
    ];
    let rows: Vec<Vec<String>> = r.runs.iter().map(row).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i == 0 || i == 2 || i == 7 {
                let _ = write!(s, "{c:<w$}  ");
            } else {
                let _ = write!(s, "{c:>w$}  ");
            }
        }
        s.trim_end().to_owned()
    };
    let _ = writeln!(
        out,
        "{}",
        line(header.iter().map(|s| s.to_string()).collect())
    );
    for r in rows {
        let _ = writeln!(out, "{}", line(r));
    }
    for run in &r.runs {
        if let Some(why) = &run.outcome.stalled {
            let _ = writeln!(out, "{} {}", run.strategy, stalled_line(why));
        }
    }
    if let Some(note) = data_production_line(&r.runs) {
        let _ = writeln!(out, "{note}");
    }
    if breakdown {
        let _ = writeln!(out);
        let _ = write!(out, "{}", breakdown_table(r));
    }
    out
}

/// What the table says when some runs produced their data and others did not (zbuf always
/// does; the other memory strategies only with `workload.fill_each_write`): the comparison
/// is then not like for like, and the reader is told so.
pub fn data_production_line(runs: &[RunReport]) -> Option<String> {
    let (built, reused): (Vec<&RunReport>, Vec<&RunReport>) =
        runs.iter().partition(|r| r.vm.data_pages_built > 0);
    if built.is_empty() {
        return None;
    }
    let names = |v: &[&RunReport]| {
        v.iter()
            .map(|r| format!("{} ({} pages)", r.strategy, r.vm.data_pages_built))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut line = format!(
        "data production: {} wrote their data before sending it, in the figures above",
        names(&built)
    );
    if !reused.is_empty() {
        let ids: Vec<&str> = reused.iter().map(|r| r.strategy).collect();
        let _ = write!(
            line,
            "; {} did not (a buffer filled once, or a file): not like for like, set workload.fill_each_write = true for memory sources",
            ids.join(", ")
        );
    }
    Some(line)
}

fn row(r: &RunReport) -> Vec<String> {
    let f = &r.faults;
    vec![
        r.strategy.to_owned(),
        format!("{:.0}", r.throughput_bytes_per_sec / 1024.0),
        r.bottleneck.name().to_owned(),
        r.copies.cpu_copy_ops.to_string(),
        human_bytes(r.copies.cpu_copy_bytes),
        format!("{:.2}", r.bus_bytes_per_payload_byte),
        human_bytes(r.copies.dma_bytes),
        format!("{}/{}/{}/{}", f.minor, f.major, f.cow, f.loan_break),
        r.vm.vma_lookups.to_string(),
        r.net.syscalls.to_string(),
        r.integrity.splats.to_string(),
        pct(r.utilization.cpu),
        pct(r.utilization.memory_bus),
        pct(r.utilization.wire),
    ]
}

/// Where each strategy's CPU time and bus bytes went.
pub fn breakdown_table(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "where the time went (CPU time by activity, share of the run; bus bytes by activity, per payload byte)"
    );
    for run in &r.runs {
        let t = run.sim_time_ns as f64;
        let cpu: Vec<String> = run
            .breakdown
            .cpu_ns
            .iter()
            .map(|(a, ns)| format!("{a} {:.1}%", *ns as f64 / t * 100.0))
            .collect();
        let bus: Vec<String> = run
            .breakdown
            .bus_bytes
            .iter()
            .map(|(a, b)| format!("{a} {:.2}", *b as f64 / run.payload_bytes.max(1) as f64))
            .collect();
        let _ = writeln!(out, "  {:<14} cpu: {}", run.strategy, cpu.join(", "));
        let _ = writeln!(out, "  {:<14} bus: {}", "", bus.join(", "));
    }
    out
}

/// CSV, one row per workload and strategy.
pub fn csv(reports: &[Report]) -> String {
    let mut out = String::from(
        "workload,strategy,seed,target,payload_bytes,sim_time_ns,throughput_bytes_per_sec,bottleneck,cpu_copy_ops,cpu_copy_bytes,dma_bytes,bus_bytes,bus_bytes_per_payload_byte,minor,major,cow,loan_break,vma_lookups,tlb_shootdowns,mmaps,munmaps,pages_loaned,peak_wired_pages,syscalls,segments,packets,mbufs,clusters,interrupts,splats,corrupt_bytes,util_cpu,util_memory_bus,util_wire,failed_requests\n",
    );
    for r in reports {
        for x in &r.runs {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{:.3},{},{},{},{},{},{:.4},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.4},{:.4},{:.4},{}",
                r.workload,
                x.strategy,
                r.seed,
                r.target,
                x.payload_bytes,
                x.sim_time_ns,
                x.throughput_bytes_per_sec,
                x.bottleneck.name(),
                x.copies.cpu_copy_ops,
                x.copies.cpu_copy_bytes,
                x.copies.dma_bytes,
                x.copies.bus_bytes,
                x.bus_bytes_per_payload_byte,
                x.faults.minor,
                x.faults.major,
                x.faults.cow,
                x.faults.loan_break,
                x.vm.vma_lookups,
                x.vm.tlb_shootdowns,
                x.vm.mmaps,
                x.vm.munmaps,
                x.vm.pages_loaned,
                x.vm.peak_wired_pages,
                x.net.syscalls,
                x.net.segments,
                x.net.packets,
                x.net.mbufs,
                x.net.clusters,
                x.net.interrupts,
                x.integrity.splats,
                x.integrity.corrupt_bytes,
                x.utilization.cpu,
                x.utilization.memory_bus,
                x.utilization.wire,
                x.outcome.failed_requests,
            );
        }
    }
    out
}

/// JSON: one report, or `{"workloads": [...]}` for several.
pub fn json(reports: &[Report]) -> String {
    let v = if reports.len() == 1 {
        serde_json::to_value(&reports[0])
    } else {
        serde_json::to_value(serde_json::json!({ "workloads": reports }))
    }
    .expect("reports serialize");
    let mut s = serde_json::to_string_pretty(&v).expect("values serialize");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::report::{RunOptions, run};
    use models::strategy::Strategy;
    use models::workload::{BulkSource, Workload};

    #[test]
    fn a_stalled_run_says_so_in_the_table_and_keeps_it_in_json() {
        // No preset stalls any more (the model waits or reports instead), so a real run's
        // report is given a stall diagnostic: the table must say the run did not finish and
        // why, and the JSON keep the diagnostic under outcome.stalled.
        let sc = scenarios::load_default(&scenarios::Overrides::default()).unwrap();
        let w = Workload::BulkSend {
            total_bytes: 64 << 10,
            write_size: 64 << 10,
            source: BulkSource::Memory,
        };
        let mut r = run(&sc.target.world, &w, Strategy::Copy, RunOptions::default()).unwrap();
        let why =
            "stalled at 1.000 s: nothing moved for 600.000 s; conn 0 has 512 bytes unacknowledged";
        r.outcome.stalled = Some(why.to_owned());
        let report = Report {
            seed: 1,
            target: "embedded-100tx".into(),
            workload: w.id().into(),
            runs: vec![r],
        };
        let t = table(&report, &w.summary(), false);
        assert!(t.contains("copy did not finish") && t.contains(why), "{t}");
        let j: serde_json::Value = serde_json::from_str(&json(&[report])).unwrap();
        let kept = j
            .pointer("/runs/0/outcome/stalled")
            .or_else(|| j.pointer("/workloads/0/runs/0/outcome/stalled"));
        assert_eq!(kept.and_then(|v| v.as_str()), Some(why), "{j}");
    }

    #[test]
    fn a_comparison_with_zbuf_states_its_data_production() {
        // zbuf's application writes every byte it sends; copy reuses a buffer filled once.
        // The table must say which runs produced their data and that the rest did not, and
        // say nothing of the kind once every memory run produces its data
        // (fill_each_write). 256 KiB is 64 pages for copy's reused buffer.
        let sc = scenarios::load_default(&scenarios::Overrides::default()).unwrap();
        let w = Workload::BulkSend {
            total_bytes: 256 << 10,
            write_size: 64 << 10,
            source: BulkSource::Memory,
        };
        let go = |s: Strategy, fill_each_write: bool| {
            let o = RunOptions {
                workload: models::workload::WorkloadOptions { fill_each_write },
                ..RunOptions::default()
            };
            run(&sc.target.world, &w, s, o).unwrap()
        };
        let line = data_production_line(&[go(Strategy::Copy, false), go(Strategy::Zbuf, false)])
            .expect("zbuf produced its data");
        assert!(
            line.contains("zbuf (") && line.contains("copy did not"),
            "{line}"
        );
        let line = data_production_line(&[go(Strategy::Copy, true), go(Strategy::Zbuf, true)])
            .expect("both produced their data");
        assert!(line.contains("copy (64 pages)"), "{line}");
        assert!(!line.contains("did not"), "{line}");
        assert_eq!(data_production_line(&[go(Strategy::Copy, false)]), None);
    }
}
