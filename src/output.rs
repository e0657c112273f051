//! Printing reports: the comparison table, CSV, and the one JSON document every command
//! writes (see `docs/report-schema.md`).

use std::fmt::Write as _;

use std::collections::BTreeMap;

use models::report::{Report, RunReport};
use models::world::human_bytes;
use scenarios::Scenario;
use scenarios::config::Config;
use serde::Serialize;

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
    // Receive runs show how the payload reached the reader: pages flipped or mapped,
    // completions in place, fallbacks to a copy, bytes copied, payload put in a peer device's
    // memory, and CPU per MiB.
    let receive = r.workload == "bulk-receive" || r.runs.iter().any(|x| x.receive.is_some());
    let mut header = vec![
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
    if receive {
        header.extend([
            "flips",
            "maps",
            "cqes",
            "fallbacks",
            "rx copied",
            "device",
            "us/MiB",
        ]);
    }
    let rows: Vec<Vec<String>> = r
        .runs
        .iter()
        .map(|x| {
            let mut cells = row(x);
            if receive {
                match &x.receive {
                    Some(rx) => cells.extend([
                        rx.pages_flipped.to_string(),
                        rx.pages_mapped.to_string(),
                        rx.completions.to_string(),
                        rx.fallbacks.to_string(),
                        human_bytes(rx.copied_bytes),
                        human_bytes(rx.device_bytes),
                        format!("{:.1}", rx.cpu_us_per_mib),
                    ]),
                    None => cells.extend(std::iter::repeat_n("-".to_owned(), 7)),
                }
            }
            cells
        })
        .collect();
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
        if let Some(line) = run.receive.as_ref().and_then(xsk_losses_line) {
            let _ = writeln!(out, "{} {line}", run.strategy);
        }
        if let Some(rx) = run.receive.as_ref().filter(|rx| rx.device_buffer_waits > 0) {
            let _ = writeln!(
                out,
                "{}: {} frames waited in the NIC for a free dmabuf buffer (the kernel would drop them); a larger options.devmem_binding avoids it",
                run.strategy, rx.device_buffer_waits
            );
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

/// The version of the JSON document every command writes (`schema_version`). It changes
/// when a key is removed or changes meaning; added keys keep it.
pub const SCHEMA_VERSION: u32 = 1;

/// What every `--format json` output is: the schema version, the zcsim version, the command,
/// the effective configuration (absent for `reproduce`, whose experiments carry their own),
/// and the command's results (`workloads`, a sweep's `points`, or `experiments`).
#[derive(Serialize, schemars::JsonSchema)]
pub struct Document<B: Serialize> {
    pub schema_version: u32,
    pub zcsim_version: &'static str,
    pub command: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Config>,
    #[serde(flatten)]
    pub body: B,
}

impl<B: Serialize> Document<B> {
    pub fn new(command: &'static str, config: Option<Config>, body: B) -> Self {
        Document {
            schema_version: SCHEMA_VERSION,
            zcsim_version: env!("CARGO_PKG_VERSION"),
            command,
            config,
            body,
        }
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("documents serialize");
        s.push('\n');
        s
    }
}

/// One workload's runs: its name and parameters, then the report's own keys (`seed`,
/// `target`, `workload` (the kind), `runs`).
#[derive(Serialize, schemars::JsonSchema)]
pub struct WorkloadReport<'a> {
    pub name: &'a str,
    #[schemars(with = "BTreeMap<String, scenarios::config::Scalar>")]
    pub parameters: BTreeMap<String, toml::Value>,
    #[serde(flatten)]
    pub report: &'a Report,
}

/// The body of `compare` and `run`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Workloads<'a> {
    pub workloads: Vec<WorkloadReport<'a>>,
}

/// JSON of a scenario's reports (`compare`, `run`).
pub fn json(command: &'static str, s: &Scenario, reports: &[Report]) -> String {
    let workloads = reports
        .iter()
        .zip(&s.runs)
        .map(|(r, wr)| WorkloadReport {
            name: &wr.name,
            parameters: scenarios::config::workload_parameters(&wr.workload, &wr.options),
            report: r,
        })
        .collect();
    Document::new(command, Some(Config::of(s)), Workloads { workloads }).to_json()
}

/// The JSON Schema of every document: one of the three bodies (a comparison or run's
/// workloads, a sweep's points, reproduce's experiments), generated from the types that
/// write them. `docs/report-schema.json` is this, and a test keeps it so.
pub fn json_schema() -> serde_json::Value {
    let mut g = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let bodies = [
        g.subschema_for::<Document<Workloads<'static>>>(),
        g.subschema_for::<Document<crate::commands::sweep::SweepBody<'static>>>(),
        g.subschema_for::<Document<crate::commands::reproduce::Experiments<'static>>>(),
    ];
    let defs = g.take_definitions(true);
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "zcsim report",
        "description": format!(
            "What zcsim compare, run, sweep and reproduce write with --format json, schema version {SCHEMA_VERSION} (docs/report-schema.md)"
        ),
        "oneOf": bodies,
        "$defs": defs,
    })
}

/// One CSV row: a run with every counter of its report, flat. Every command's CSV has these
/// columns (a sweep fills the `param` ... `metric_value` ones), named by the fields, so no
/// name can repeat.
#[derive(Serialize, Default)]
pub struct CsvRow<'a> {
    pub workload: &'a str,
    pub kind: &'a str,
    pub strategy: &'a str,
    pub seed: u64,
    pub target: &'a str,
    pub param: Option<&'a str>,
    pub value: Option<&'a str>,
    pub x: Option<f64>,
    pub metric: Option<&'a str>,
    pub metric_value: Option<f64>,
    pub payload_bytes: u64,
    pub sim_time_ns: u64,
    pub throughput_bytes_per_sec: f64,
    pub bottleneck: &'static str,
    pub cpu_copy_ops: u64,
    pub cpu_copy_bytes: u64,
    pub dma_bytes: u64,
    pub bus_bytes: u64,
    pub bus_bytes_per_payload_byte: f64,
    pub minor: u64,
    pub major: u64,
    pub cow: u64,
    pub loan_break: u64,
    pub vma_lookups: u64,
    pub tlb_shootdowns: u64,
    pub mmaps: u64,
    pub munmaps: u64,
    pub pages_loaned: u64,
    pub peak_wired_pages: u64,
    pub kva_waits: u64,
    pub data_pages_built: u64,
    pub syscalls: u64,
    pub segments: u64,
    pub packets: u64,
    pub mbufs: u64,
    pub clusters: u64,
    pub interrupts: u64,
    pub retransmits: u64,
    pub fast_retransmits: u64,
    pub rto_timeouts: u64,
    pub window_updates: u64,
    pub rx_ring_full: u64,
    pub context_switches: u64,
    pub wakeups: u64,
    pub splats: u64,
    pub corrupt_bytes: u64,
    pub util_cpu: f64,
    pub util_memory_bus: f64,
    pub util_wire: f64,
    pub util_disk: f64,
    pub util_nic: f64,
    pub util_cpu_bus_stall: f64,
    pub util_device_memory: f64,
    pub failed_requests: u64,
    pub mmap_failures: u64,
    pub delayed_acks: u64,
    pub send_blocks: u64,
    pub coalesced_packets: u64,
    pub page_flips: u64,
    pub flip_fallbacks: u64,
    /// The receive side (empty for a run that received nothing).
    pub pages_mapped: Option<u64>,
    pub rx_completions: Option<u64>,
    pub rx_fallbacks: Option<u64>,
    pub rx_fallback_bytes: Option<u64>,
    pub rx_copied_bytes: Option<u64>,
    pub rx_device_bytes: Option<u64>,
    pub rx_device_buffer_waits: Option<u64>,
    pub cpu_us_per_mib: Option<f64>,
    pub events: u64,
    pub stalled: Option<&'a str>,
}

impl<'a> CsvRow<'a> {
    pub fn new(
        workload: &'a str,
        kind: &'a str,
        seed: u64,
        target: &'a str,
        x: &'a RunReport,
    ) -> CsvRow<'a> {
        CsvRow {
            workload,
            kind,
            strategy: x.strategy,
            seed,
            target,
            param: None,
            value: None,
            x: None,
            metric: None,
            metric_value: None,
            payload_bytes: x.payload_bytes,
            sim_time_ns: x.sim_time_ns,
            throughput_bytes_per_sec: x.throughput_bytes_per_sec,
            bottleneck: x.bottleneck.name(),
            cpu_copy_ops: x.copies.cpu_copy_ops,
            cpu_copy_bytes: x.copies.cpu_copy_bytes,
            dma_bytes: x.copies.dma_bytes,
            bus_bytes: x.copies.bus_bytes,
            bus_bytes_per_payload_byte: x.bus_bytes_per_payload_byte,
            minor: x.faults.minor,
            major: x.faults.major,
            cow: x.faults.cow,
            loan_break: x.faults.loan_break,
            vma_lookups: x.vm.vma_lookups,
            tlb_shootdowns: x.vm.tlb_shootdowns,
            mmaps: x.vm.mmaps,
            munmaps: x.vm.munmaps,
            pages_loaned: x.vm.pages_loaned,
            peak_wired_pages: x.vm.peak_wired_pages,
            kva_waits: x.vm.kva_waits,
            data_pages_built: x.vm.data_pages_built,
            syscalls: x.net.syscalls,
            segments: x.net.segments,
            packets: x.net.packets,
            mbufs: x.net.mbufs,
            clusters: x.net.clusters,
            interrupts: x.net.interrupts,
            retransmits: x.net.retransmits,
            fast_retransmits: x.net.fast_retransmits,
            rto_timeouts: x.net.rto_timeouts,
            window_updates: x.net.window_updates,
            rx_ring_full: x.net.rx_ring_full,
            context_switches: x.sched.context_switches,
            wakeups: x.sched.wakeups,
            splats: x.integrity.splats,
            corrupt_bytes: x.integrity.corrupt_bytes,
            util_cpu: x.utilization.cpu,
            util_memory_bus: x.utilization.memory_bus,
            util_wire: x.utilization.wire,
            util_disk: x.utilization.disk,
            util_nic: x.utilization.nic,
            util_cpu_bus_stall: x.utilization.cpu_bus_stall,
            util_device_memory: x.utilization.device_memory,
            failed_requests: x.outcome.failed_requests,
            mmap_failures: x.outcome.mmap_failures,
            delayed_acks: x.outcome.delayed_acks,
            send_blocks: x.outcome.send_blocks,
            coalesced_packets: x.outcome.coalesced_packets,
            page_flips: x.outcome.page_flips,
            flip_fallbacks: x.outcome.flip_fallbacks,
            pages_mapped: x.receive.as_ref().map(|r| r.pages_mapped),
            rx_completions: x.receive.as_ref().map(|r| r.completions),
            rx_fallbacks: x.receive.as_ref().map(|r| r.fallbacks),
            rx_fallback_bytes: x.receive.as_ref().map(|r| r.fallback_bytes),
            rx_copied_bytes: x.receive.as_ref().map(|r| r.copied_bytes),
            rx_device_bytes: x.receive.as_ref().map(|r| r.device_bytes),
            rx_device_buffer_waits: x.receive.as_ref().map(|r| r.device_buffer_waits),
            cpu_us_per_mib: x.receive.as_ref().map(|r| r.cpu_us_per_mib),
            events: x.events,
            stalled: x.outcome.stalled.as_deref(),
        }
    }
}

/// CSV of `rows`, with a header line even when there is no row.
pub fn write_csv<'a>(rows: impl IntoIterator<Item = CsvRow<'a>>) -> String {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(csv_header()).expect("writing to memory");
    for r in rows {
        w.serialize(r).expect("rows serialize");
    }
    String::from_utf8(w.into_inner().expect("writing to memory")).expect("CSV of UTF-8 is UTF-8")
}

/// The CSV column names: the fields of [`CsvRow`], in order.
pub fn csv_header() -> Vec<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(CsvRow::default()).expect("rows serialize");
    let text = String::from_utf8(w.into_inner().expect("writing to memory")).expect("UTF-8");
    text.lines()
        .next()
        .expect("a header line")
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// CSV, one row per workload and strategy.
pub fn csv(s: &Scenario, reports: &[Report]) -> String {
    write_csv(reports.iter().zip(&s.runs).flat_map(|(r, wr)| {
        r.runs
            .iter()
            .map(|x| CsvRow::new(&wr.name, &r.workload, r.seed, &r.target, x))
    }))
}

/// An AF_XDP socket's lost frames and doubly owned chunks, in words; `None` when it had
/// neither (every other run).
fn xsk_losses_line(rx: &models::report::ReceiveReport) -> Option<String> {
    let mut parts = Vec::new();
    if rx.frames_dropped > 0 {
        parts.push(format!(
            "dropped {} frames (FILL ring empty {}, RX ring full {}, NIC ring full {})",
            rx.frames_dropped,
            rx.fill_ring_empty_drops,
            rx.rx_ring_full_drops,
            rx.nic_ring_full_drops
        ));
    }
    if rx.chunk_corruptions > 0 {
        parts.push(format!(
            "corruption: {} UMEM chunks were on FILL and TX at once",
            rx.chunk_corruptions
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
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
        let j: serde_json::Value = serde_json::from_str(&json("compare", &sc, &[report])).unwrap();
        let kept = j.pointer("/workloads/0/runs/0/outcome/stalled");
        assert_eq!(kept.and_then(|v| v.as_str()), Some(why), "{j}");
        // The CSV keeps it too, in its own column.
        let c = csv(&sc, &[]);
        assert!(c.lines().next().unwrap().ends_with(",stalled"), "{c}");
    }

    #[test]
    fn the_published_schema_is_the_one_the_types_generate() {
        // docs/report-schema.json is what users validate against: it must be exactly what
        // the types that write the documents generate (ZCSIM_UPDATE_SCHEMA=1 rewrites it).
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/report-schema.json");
        let generated = serde_json::to_string_pretty(&json_schema()).unwrap() + "\n";
        if std::env::var_os("ZCSIM_UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let published = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            published == generated,
            "docs/report-schema.json is stale: run ZCSIM_UPDATE_SCHEMA=1 cargo test --bin zcsim"
        );
    }

    #[test]
    fn csv_columns_are_unique_and_one_row_per_run() {
        // The old sweep CSV repeated throughput_bytes_per_sec; the columns now come from one
        // struct's fields, so no name can repeat, and every run is one row under them.
        let header = csv_header();
        let mut seen = std::collections::BTreeSet::new();
        for h in &header {
            assert!(seen.insert(h), "column {h} repeats");
        }
        let sc = scenarios::load_default(&scenarios::Overrides {
            strategies: Some(vec!["copy".into(), "sendfile".into()]),
            sets: vec!["workload.total=64KiB".into()],
            ..Default::default()
        })
        .unwrap();
        let reports = crate::runner::Runner::default().scenario(&sc, 1);
        let text = csv(&sc, &reports);
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<::csv::StringRecord> = r.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2, "{text}");
        assert_eq!(r.headers().unwrap().len(), header.len());
        // Rows name their workload distinctly (the default names them from-memory, from-file).
        assert_eq!(&rows[0][0], "from-memory");
        assert_eq!(&rows[1][0], "from-file");
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
