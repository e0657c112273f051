//! Which resource limits a run (CPU, memory bus, wire, or a named stall) and the throughput
//! that results: the report's bottleneck and throughput.

use super::{Draw, Kind, Lab, Part, Problem, Solved, Spec, Template, Value, quote};

pub const TEMPLATE: Template = Template {
    topic: "bottleneck",
    about: "which resource limits a run (cpu, memory_bus, wire, or a stall) and its throughput",
    make,
};

/// Every name a bottleneck can have, stalls included (`world::Cause::stall_name`).
pub const NAMES: &[&str] = &[
    "wire",
    "memory_bus",
    "disk",
    "nic",
    "cpu",
    "stall:cpu",
    "stall:cpu_wait",
    "stall:disk",
    "stall:wire",
    "stall:nic",
    "stall:send_buffer",
    "stall:zero_window",
    "stall:nagle",
    "stall:delayed_ack",
    "stall:rto",
    "stall:idle",
];

fn make(d: &mut Draw) -> Problem {
    let (preset, buses): (&'static str, &[u64]) = d.pick(&[
        ("embedded-100tx", &[30u64, 60, 120, 240][..]),
        ("gige-2002", &[300, 600, 1200][..]),
        ("server-2024", &[5000, 20000, 40000][..]),
    ]);
    let bus_mb = d.pick(buses);
    let strategy = d.pick(&["copy", "page-loan", "cow-send", "zbuf"]);
    let window_kib = d.pick(&[0u64, 0, 16, 32]);
    let mut spec = Spec::new(preset, "bulk-send", strategy)
        .set("workload.total", "1MiB")
        .set("target.memory_bus", format!("{bus_mb}MB/s"));
    let mut text = format!(
        "On {preset} with its memory bus set to {bus_mb} MB/s, a program sends 1 MiB in 64 KiB \
         writes from memory with `{strategy}`."
    );
    if window_kib > 0 {
        spec = spec.set("target.window", format!("{window_kib}KiB"));
        text.push_str(&format!(" The peer advertises a {window_kib} KiB window."));
    }
    let parts = vec![
        Part {
            question: "What limits the run (the report's bottleneck)?".into(),
            kind: Kind::Word(NAMES),
        },
        Part {
            question: "What throughput does it reach?".into(),
            kind: Kind::Rate,
        },
    ];
    let specs = vec![spec.clone()];
    Problem {
        topic: TEMPLATE.topic,
        text,
        parts,
        specs,
        solve: Box::new(move |lab: &Lab| solve(lab, &spec)),
    }
}

fn solve(lab: &Lab, spec: &Spec) -> Solved {
    let ran = lab.narrated(spec, |l| l.starts_with("wire:") || l.contains("ACK"), 1);
    let r = &ran.report;
    let u = &r.utilization;
    let name = NAMES
        .iter()
        .copied()
        .find(|n| *n == r.bottleneck.name())
        .unwrap_or_else(|| panic!("bottleneck {} missing from NAMES", r.bottleneck.name()));
    let waited: Vec<String> = r
        .stalls
        .iter()
        .filter(|(_, ns)| **ns > 0)
        .map(|(k, ns)| format!("{k} {}", sim::SimDuration::from_nanos(*ns)))
        .collect();
    let why = format!(
        "Over the {:.1} ms it took to move {} the CPU was {:.0}% busy ({:.0}% of it waiting for \
         the bus inside copies), the memory bus {:.0}%, the wire {:.0}%. A resource at least \
         {:.0}% busy limits a run, the busiest first and a CPU that only waits for the bus not \
         counted; when none is, the largest stall does. So the bottleneck is {name}, and the \
         run reaches {:.0} KB/s. The sending application's time went to: {}.{}",
        r.sim_time_ns as f64 / 1e6,
        super::bytes(r.payload_bytes),
        u.cpu * 100.0,
        u.cpu_bus_stall * 100.0,
        u.memory_bus * 100.0,
        u.wire * 100.0,
        models::report::Bottleneck::LIMITS * 100.0,
        r.throughput_bytes_per_sec / 1024.0,
        waited.join(", "),
        quote(&ran.narration),
    );
    Solved {
        answers: vec![Value::Word(name), Value::Number(r.throughput_bytes_per_sec)],
        why,
        commands: vec![spec.command()],
    }
}
