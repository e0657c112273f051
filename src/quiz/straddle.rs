//! Miller's straddle: two files mapped back to back and each write spanning both. With the
//! 2003 patch's bug only the first VMA is looked up, so the second half comes from the first
//! file; fixed, every VMA is. The report's corrupt bytes and VMA lookups.

use super::{Draw, Kind, Lab, Part, Problem, Solved, Spec, Template, Value, bytes, quote};

pub const TEMPLATE: Template = Template {
    topic: "straddle",
    about: "Miller's straddling write: which file's bytes go out, with the bug and fixed",
    make,
};

/// Whose bytes the part of a write past the first mapping carries.
pub const WHOSE: &[&str] = &["first", "second"];

fn make(d: &mut Draw) -> Problem {
    let fixed = d.coin();
    let map_kib = d.pick(&[8u64, 16, 32, 64]);
    let total_kib = d.pick(&[256u64, 512]);
    let spec = Spec::new("pc-2003", "straddle", "mmap-sendpage")
        .set("target.link", "ethernet")
        .set("workload.total", format!("{total_kib}KiB"))
        .set("workload.map_size", format!("{map_kib}KiB"))
        .set("options.sendpage_fixed", fixed);
    let total = scenarios::units::fmt_size(total_kib << 10);
    let text = format!(
        "On pc-2003 over Ethernet, a program maps two files of {map_kib} KiB back to back and \
         sends {total} with `mmap-sendpage` {}, each write() spanning both mappings.",
        if fixed {
            "with Miller's fix (every VMA looked up)"
        } else {
            "as the December 2002 patch wrote it"
        }
    );
    let parts = vec![
        Part {
            question: "The part of each write past the first mapping: whose file's bytes go out?"
                .into(),
            kind: Kind::Word(WHOSE),
        },
        Part {
            question: "How many bytes reach the peer from the wrong file?".into(),
            kind: Kind::Size,
        },
        Part {
            question: "How many VMA lookups does the run make?".into(),
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
    let ran = lab.narrated(spec, |l| l.contains("find_vma"), 2);
    let r = &ran.report;
    let whose = if r.integrity.corrupt_bytes > 0 {
        "first"
    } else {
        "second"
    };
    let why = format!(
        "{}: {} VMA lookups; {} of the {} sent came from the wrong file ({} pages judged wrong \
         when the NIC read them), so the second mapping's part of each write carried the {whose} \
         file's bytes.{}",
        ran.workload,
        r.vm.vma_lookups,
        bytes(r.integrity.corrupt_bytes),
        bytes(r.payload_bytes),
        r.integrity.splats,
        quote(&ran.narration),
    );
    Solved {
        answers: vec![
            Value::Word(whose),
            Value::Number(r.integrity.corrupt_bytes as f64),
            Value::Number(r.vm.vma_lookups as f64),
        ],
        why,
        commands: vec![spec.command()],
    }
}
