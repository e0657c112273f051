//! The write size at which a zero-copy strategy starts to beat `copy` on a target: both run
//! at every size of a round ladder, and the answer is the smallest size where the zero-copy
//! run's reported throughput is higher.

use super::{Draw, Kind, Lab, Part, Problem, Solved, Spec, Template, Value, kb_per_sec};

pub const TEMPLATE: Template = Template {
    topic: "crossover",
    about: "the write size at which a zero-copy strategy starts to beat copy",
    make,
};

/// The write sizes tried, KiB.
const LADDER: [u64; 6] = [1, 2, 4, 8, 16, 64];

fn make(d: &mut Draw) -> Problem {
    let preset = d.pick(&["embedded-100tx", "gige-2002", "pc-2003"]);
    let strategy = d.pick(&["page-loan", "cow-send"]);
    let rewrite = d.coin();
    let workload = if rewrite {
        "rewrite-after-write"
    } else {
        "bulk-send"
    };
    let specs: Vec<Spec> = LADDER
        .iter()
        .flat_map(|kib| {
            let base = Spec::new(preset, workload, "copy")
                .set("workload.total", "512KiB")
                .set("workload.write_size", format!("{kib}KiB"));
            let base = if rewrite {
                base.set("workload.rewrite", format!("{kib}KiB"))
            } else {
                base
            };
            [base.with_strategy(strategy), base]
        })
        .collect();
    let sizes: Vec<String> = LADDER.iter().map(|k| format!("{k} KiB")).collect();
    let text = format!(
        "On {preset}, a program sends 512 KiB from memory{}, once with `{strategy}` and once with \
         `copy`, trying write sizes of {}.",
        if rewrite {
            " and overwrites the whole buffer after each write()"
        } else {
            ""
        },
        sizes.join(", ")
    );
    let parts = vec![Part {
        question: format!(
            "What is the smallest of these write sizes at which `{strategy}` is faster than \
             `copy` (0 if none)?"
        ),
        kind: Kind::Size,
    }];
    Problem {
        topic: TEMPLATE.topic,
        text,
        parts,
        specs: specs.clone(),
        solve: Box::new(move |lab: &Lab| solve(lab, &specs, strategy)),
    }
}

fn solve(lab: &Lab, specs: &[Spec], strategy: &str) -> Solved {
    let mut first = None;
    let mut rows = Vec::new();
    for (pair, kib) in specs.chunks(2).zip(LADDER) {
        let zc = lab.run(&pair[0]).report;
        let copy = lab.run(&pair[1]).report;
        let wins = zc.throughput_bytes_per_sec > copy.throughput_bytes_per_sec;
        if wins && first.is_none() {
            first = Some((kib, zc.clone(), copy.clone()));
        }
        rows.push(format!(
            "{kib} KiB: {strategy} {:.0}, copy {:.0} KB/s",
            kb_per_sec(zc.throughput_bytes_per_sec),
            kb_per_sec(copy.throughput_bytes_per_sec)
        ));
    }
    let why = match &first {
        Some((kib, zc, copy)) => format!(
            "The runs give {}. At {kib} KiB `{strategy}` first wins: it copies {} and moves \
             {:.2} bus bytes per payload byte ({} COW faults, {} loan breaks), `copy` copies {} \
             at {:.2}; the bottlenecks are {} and {}.",
            rows.join("; "),
            super::bytes(zc.copies.cpu_copy_bytes),
            zc.bus_bytes_per_payload_byte,
            zc.faults.cow,
            zc.faults.loan_break,
            super::bytes(copy.copies.cpu_copy_bytes),
            copy.bus_bytes_per_payload_byte,
            zc.bottleneck.name(),
            copy.bottleneck.name(),
        ),
        None => format!(
            "The runs give {}: `{strategy}` never beats `copy` here.",
            rows.join("; ")
        ),
    };
    Solved {
        answers: vec![Value::Number(first.map_or(0, |f| f.0 << 10) as f64)],
        why,
        commands: specs.iter().map(Spec::command).collect(),
    }
}
