//! The bytes the receiver sees when the application rewrites its buffer after `write()`
//! (copy, page loan, COW send, zbuf), or another process changes the file `sendfile` or
//! `read()` + `write()` sends (in place or by rename), and how many page copies the rewrite
//! costs: the report's corrupt bytes and its COW and loan-break faults.

use super::{Draw, Kind, Lab, Part, Problem, Solved, Spec, Template, Value, bytes, quote};

pub const TEMPLATE: Template = Template {
    topic: "rewrite",
    about: "what the receiver sees when the buffer or file changes after write(), and the page copies",
    make,
};

fn make(d: &mut Draw) -> Problem {
    let file = d.pick(&[false, false, true]);
    let (spec, text) = if file {
        let strategy = d.pick(&["sendfile", "read-write", "mmap-sendpage"]);
        let mode = d.pick(&["in-place", "rename"]);
        let every_ms = d.pick(&[1u64, 2, 5]);
        let spec = Spec::new("embedded-100tx", "file-mutation", strategy)
            .set("workload.total", "1MiB")
            .set("workload.write_size", "64KiB")
            .set("workload.file_size", "256KiB")
            .set("workload.mode", mode)
            .set("workload.every", format!("{every_ms}ms"));
        let how = if mode == "in-place" {
            "rewrites the file in place"
        } else {
            "writes a new version and renames it over the old one"
        };
        let text = format!(
            "On embedded-100tx, a server sends 1 MiB from a 256 KiB cached file in 64 KiB sends \
             with `{strategy}`, while another process {how} every {every_ms} ms."
        );
        (spec, text)
    } else {
        let strategy = d.pick(&["copy", "page-loan", "cow-send", "zbuf"]);
        let write_kib = d.pick(&[16u64, 32, 64]);
        let rewrite_kib = d.pick(&[4u64, 8, 16]).min(write_kib);
        let spec = Spec::new("embedded-100tx", "rewrite-after-write", strategy)
            .set("workload.total", "256KiB")
            .set("workload.write_size", format!("{write_kib}KiB"))
            .set("workload.rewrite", format!("{rewrite_kib}KiB"));
        let text = format!(
            "On embedded-100tx, a program sends 256 KiB in {write_kib} KiB writes from a reused \
             buffer with `{strategy}`, and overwrites the first {rewrite_kib} KiB of the buffer \
             as soon as each write() returns."
        );
        (spec, text)
    };
    let parts = vec![
        Part {
            question: "How many bytes reach the receiver different from what was there when the \
                       send was made (0 if it sees exactly what was sent)?"
                .into(),
            kind: Kind::Size,
        },
        Part {
            question: "How many page copies (COW and loan-break faults) does the change cost?"
                .into(),
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

/// Narration that tells the story: the rewrite's faults, the other process's change, splats.
fn telling(l: &str) -> bool {
    (l.contains("writes its own memory") && !l.contains(": 0 loan breaks and 0 COW faults"))
        || l.contains("SPLAT")
        || l.contains("app 1 works")
}

fn solve(lab: &Lab, spec: &Spec) -> Solved {
    let ran = lab.narrated(spec, telling, 2);
    let r = &ran.report;
    let page_copies = r.faults.cow + r.faults.loan_break;
    let seen = if r.integrity.corrupt_bytes == 0 {
        "exactly the bytes that were there when each send was made".to_owned()
    } else {
        format!(
            "{} that changed after the send was made, in {} splatted pages",
            bytes(r.integrity.corrupt_bytes),
            r.integrity.splats
        )
    };
    let why = format!(
        "{}: the receiver got {seen}. The change cost {} COW faults and {} loan breaks, each a \
         trap, a new page and a 4 KiB copy; in all the CPU copied {} for {} of payload.{}",
        ran.workload,
        r.faults.cow,
        r.faults.loan_break,
        bytes(r.copies.cpu_copy_bytes),
        bytes(r.payload_bytes),
        quote(&ran.narration),
    );
    Solved {
        answers: vec![
            Value::Number(r.integrity.corrupt_bytes as f64),
            Value::Number(page_copies as f64),
        ],
        why,
        commands: vec![spec.command()],
    }
}
