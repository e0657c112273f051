//! The shared page (FreeBSD thread): two processes share a page; one sends it, the other
//! writes it while the kernel still holds it, or after. How many bytes are copied, and by
//! how many COW or loan-break faults: the report's copies and faults.

use super::{Draw, Kind, Lab, Part, Problem, Solved, Spec, Template, Value, bytes, quote};

pub const TEMPLATE: Template = Template {
    topic: "shared-page",
    about: "a page shared by two processes: how many copies, given who writes when",
    make,
};

fn make(d: &mut Draw) -> Problem {
    let strategy = d.pick(&["copy", "page-loan", "cow-send"]);
    let during = d.coin();
    let total_kib = d.pick(&[64u64, 256, 1024]);
    let spec = Spec::new("gige-2002", "shared-page", strategy)
        .set("workload.total", format!("{total_kib}KiB"))
        .set("workload.write_while_referenced", during);
    let total = scenarios::units::fmt_size(total_kib << 10);
    let text = format!(
        "On gige-2002, two processes share one 4 KiB page. One sends it over and over, \
         {total} in all, with `{strategy}`; the other writes the page once, {}.",
        if during {
            "while the kernel still holds it for a send"
        } else {
            "after the kernel has let go of it"
        }
    );
    let parts = vec![
        Part {
            question: "How many bytes does the CPU copy?".into(),
            kind: Kind::Size,
        },
        Part {
            question: "How many COW and loan-break faults are taken?".into(),
            kind: Kind::Count,
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
    let ran = lab.narrated(spec, |l| l.contains("app 1"), 1);
    let r = &ran.report;
    let why = format!(
        "{}: the CPU copied {} in {} copy operations for {} of payload; the other process's \
         write took {} COW faults and {} loan breaks, and the receiver saw {} wrong bytes.{}",
        ran.workload,
        bytes(r.copies.cpu_copy_bytes),
        r.copies.cpu_copy_ops,
        bytes(r.payload_bytes),
        r.faults.cow,
        r.faults.loan_break,
        r.integrity.corrupt_bytes,
        quote(&ran.narration),
    );
    Solved {
        answers: vec![
            Value::Number(r.copies.cpu_copy_bytes as f64),
            Value::Number((r.faults.cow + r.faults.loan_break) as f64),
        ],
        why,
        commands: vec![spec.command()],
    }
}
