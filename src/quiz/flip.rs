//! Page flipping on receive (FreeBSD): given the MTU, the buffer's alignment, the read size
//! and whether the NIC splits headers, is each page flipped or copied, and how many? The
//! report's page flips and flip fallbacks.

use super::{Draw, Kind, Lab, Part, Problem, Solved, Spec, Template, Value, bytes, quote};

pub const TEMPLATE: Template = Template {
    topic: "flip",
    about: "page flipping on receive: given MTU, alignment, read size and header split, flip or copy",
    make,
};

fn make(d: &mut Draw) -> Problem {
    // Weighted towards the setups that flip, so both answers come up.
    let (mtu, segment) = d.pick(&[(9000u64, 8192u64), (9000, 8192), (9000, 4096), (1500, 1448)]);
    let offset = d.pick(&[0u64, 0, 0, 512, 2048]);
    let read_kib = d.pick(&[4u64, 6, 16, 64]);
    let split = d.pick(&[true, true, true, false]);
    let spec = Spec::new("gige-2002", "bulk-receive", "page-flip")
        .set("workload.total", "256KiB")
        .set("workload.read_size", format!("{read_kib}KiB"))
        .set("workload.buffer_offset", format!("{offset}B"))
        .set("workload.segment", format!("{segment}B"))
        .set("target.mtu_bytes", mtu)
        .set("target.header_split", split);
    let text = format!(
        "On gige-2002 (4 KiB pages) with an MTU of {mtu} and header splitting {}, a program \
         receives 256 KiB with `page-flip`, in {read_kib} KiB reads into a buffer {offset} B past \
         a page boundary; the peer sends {segment} B per segment.",
        if split { "on" } else { "off" }
    );
    let parts = vec![
        Part {
            question: "How many pages are flipped into the buffer?".into(),
            kind: Kind::Count,
        },
        Part {
            question: "How many times does a read fall back to copying?".into(),
            kind: Kind::Count,
        },
        Part {
            question: "How many bytes does the CPU copy?".into(),
            kind: Kind::Size,
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
    let ran = lab.narrated(spec, |l| l.contains("recv()s"), 2);
    let r = &ran.report;
    let why = format!(
        "{}: {} pages were flipped (the page's frame swapped into the buffer, no copy) and {} \
         reads or parts of reads fell back to a copy, so the CPU copied {} of {}. A page can \
         flip only when a whole page of payload lands page-aligned in its own page and the \
         buffer's page is aligned with it.{}",
        ran.workload,
        r.outcome.page_flips,
        r.outcome.flip_fallbacks,
        bytes(r.copies.cpu_copy_bytes),
        bytes(r.payload_bytes),
        quote(&ran.narration),
    );
    Solved {
        answers: vec![
            Value::Number(r.outcome.page_flips as f64),
            Value::Number(r.outcome.flip_fallbacks as f64),
            Value::Number(r.copies.cpu_copy_bytes as f64),
        ],
        why,
        commands: vec![spec.command()],
    }
}
