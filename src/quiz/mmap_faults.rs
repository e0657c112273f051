//! Faults of `mmap` + `write`: a file mapped once and sent from the mapping takes a minor
//! fault and a VMA lookup per page the kernel copies from; the report's minor faults and
//! `find_vma` lookups.

use super::{Draw, Kind, Lab, Part, Problem, Solved, Spec, Template, Value, bytes, quote};

pub const TEMPLATE: Template = Template {
    topic: "mmap-faults",
    about: "minor faults and VMA lookups of mmap + write for given sizes",
    make,
};

fn make(d: &mut Draw) -> Problem {
    let strategy = d.pick(&["mmap-write", "mmap-write", "mmap-sendpage"]);
    let total_kib = d.pick(&[256u64, 512, 1024]);
    let file_kib = d.pick(&[64u64, 128, 256]);
    let write_kib = d.pick(&[8u64, 16, 32, 64]);
    let spec = Spec::new("embedded-100tx", "bulk-send", strategy)
        .set("workload.source", "file")
        .set("workload.total", format!("{total_kib}KiB"))
        .set("workload.file_size", format!("{file_kib}KiB"))
        .set("workload.write_size", format!("{write_kib}KiB"));
    let total = scenarios::units::fmt_size(total_kib << 10);
    let text = format!(
        "On embedded-100tx (4 KiB pages), a server maps a {file_kib} KiB cached file once and \
         sends {total} from the mapping in {write_kib} KiB writes with `{strategy}`, \
         cycling over the file."
    );
    let parts = vec![
        Part {
            question: "How many minor faults does the run take?".into(),
            kind: Kind::Count,
        },
        Part {
            question: "How many VMA lookups (find_vma)?".into(),
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
    let ran = lab.narrated(
        spec,
        |l| l.contains("find_vma") || l.contains("moves a chunk"),
        2,
    );
    let r = &ran.report;
    let why = format!(
        "{}: {} mmap() call(s), {} minor faults (a page of the mapping touched for the first \
         time), {} VMA lookups, {} system calls; the CPU copied {}.{}",
        ran.workload,
        r.vm.mmaps,
        r.faults.minor,
        r.vm.vma_lookups,
        r.net.syscalls,
        bytes(r.copies.cpu_copy_bytes),
        quote(&ran.narration),
    );
    Solved {
        answers: vec![
            Value::Number(r.faults.minor as f64),
            Value::Number(r.vm.vma_lookups as f64),
        ],
        why,
        commands: vec![spec.command()],
    }
}
