//! Copies and bus bytes per payload byte of a strategy on a target, and the throughput
//! ceiling the memory bus allows.
//!
//! The run reports CPU copy bytes, bus bytes per payload byte and the payload; the ceiling is
//! the bus capacity the problem states divided by the run's bus bytes per payload byte.

use super::{Draw, Kind, Lab, Part, Problem, Solved, Spec, Template, Value, bytes, quote};

pub const TEMPLATE: Template = Template {
    topic: "copies",
    about: "CPU copies and bus bytes per payload byte, and the throughput the bus allows",
    make,
};

fn make(d: &mut Draw) -> Problem {
    let memory = ["copy", "page-loan", "cow-send", "zbuf"];
    let file = ["read-write", "mmap-write", "sendfile"];
    let from_file = d.coin();
    let strategy = if from_file {
        d.pick(&file)
    } else {
        d.pick(&memory)
    };
    let bus_mb = d.pick(&[40u64, 50, 60, 80, 100]);
    let write_kib = d.pick(&[16u64, 32, 64]);
    let mut spec = Spec::new("embedded-100tx", "bulk-send", strategy)
        .set("workload.total", "1MiB")
        .set("workload.write_size", format!("{write_kib}KiB"))
        .set("target.memory_bus", format!("{bus_mb}MB/s"));
    if from_file {
        spec = spec.set("workload.source", "file");
    }
    let text = format!(
        "On embedded-100tx (one CPU, 100baseTX, no checksum offload, no write-allocate) with a \
         {bus_mb} MB/s memory bus, a program sends 1 MiB in {write_kib} KiB writes {} with \
         `{strategy}`.",
        if from_file {
            "from a cached file"
        } else {
            "from a reused buffer"
        }
    );
    let parts = vec![
        Part {
            question: "How many bytes does the CPU copy per payload byte?".into(),
            kind: Kind::Number,
        },
        Part {
            question:
                "How many bytes cross the memory bus per payload byte (copies, checksum, DMA)?"
                    .into(),
            kind: Kind::Number,
        },
        Part {
            question: format!(
                "What throughput would the {bus_mb} MB/s bus allow if it were the only limit?"
            ),
            kind: Kind::Rate,
        },
    ];
    let specs = vec![spec.clone()];
    Problem {
        topic: TEMPLATE.topic,
        text,
        parts,
        specs,
        solve: Box::new(move |lab: &Lab| solve(lab, &spec, bus_mb)),
    }
}

fn solve(lab: &Lab, spec: &Spec, bus_mb: u64) -> Solved {
    let ran = lab.narrated(
        spec,
        |l| l.contains("moves a chunk into the socket buffer"),
        1,
    );
    let r = &ran.report;
    let per_byte = r.copies.cpu_copy_bytes as f64 / r.payload_bytes as f64;
    let bus = r.bus_bytes_per_payload_byte;
    let ceiling = (bus_mb * 1_000_000) as f64 / bus;
    let act = &r.breakdown.bus_bytes;
    let parts: Vec<String> = act
        .iter()
        .map(|(k, v)| format!("{k} {}", bytes(*v)))
        .collect();
    let why = format!(
        "The run moved {} of payload; the CPU copied {} of it ({} copy operations) and {} crossed \
         the bus ({}), {bus:.2} bytes per payload byte. A {bus_mb} MB/s bus carries at most \
         {bus_mb} MB/s / {bus:.2} = {:.0} KB/s of payload; the run reached {:.0} KB/s, limited by \
         {}.{}",
        bytes(r.payload_bytes),
        bytes(r.copies.cpu_copy_bytes),
        r.copies.cpu_copy_ops,
        bytes(r.copies.bus_bytes),
        parts.join(", "),
        ceiling / 1024.0,
        r.throughput_bytes_per_sec / 1024.0,
        r.bottleneck.name(),
        quote(&ran.narration),
    );
    Solved {
        answers: vec![
            Value::Number(per_byte),
            Value::Number(bus),
            Value::Number(ceiling),
        ],
        why,
        commands: vec![spec.command()],
    }
}
