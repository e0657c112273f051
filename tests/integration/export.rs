//! `zcsim export` seen from Perfetto's side: flow arrows from a `write()` to the DMA of its
//! bytes and on to the ACK that frees them.

use serde_json::Value;

use crate::zcsim;

/// The slice (`X`) or instant (`i`) of process `pid`, track `tid`, that encloses `ts`, as
/// Perfetto binds a flow event to it.
fn enclosing<'a>(events: &'a [Value], pid: &Value, tid: &Value, ts: f64) -> Option<&'a Value> {
    events.iter().find(|e| {
        let here = &e["pid"] == pid && &e["tid"] == tid;
        let t = e["ts"].as_f64().unwrap_or(-1.0);
        match e["ph"].as_str() {
            Some("X") => here && t <= ts && ts <= t + e["dur"].as_f64().unwrap_or(0.0),
            Some("i") => here && t == ts,
            _ => false,
        }
    })
}

#[test]
fn flows_link_a_write_to_its_dma_and_the_ack_that_frees_it() {
    // 16 KiB in one write on gige-2002 (TSO: two segments of 8948 and 7436 bytes). Every
    // flow must be one start and one finish with the same id, each inside a record on its
    // track; and some start inside the write's CPU slice must end inside a DMA slice from
    // which another flow ends at an ACK instant: the chain write() -> DMA -> ACK.
    let o = zcsim(&[
        "export",
        "--chrome",
        "-",
        "--preset",
        "gige-2002",
        "--workload",
        "bulk-send",
        "--strategies",
        "copy",
        "--set",
        "workload.total=16KiB",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let events = v["traceEvents"].as_array().expect("traceEvents");
    let phase = |ph: &str| -> Vec<&Value> { events.iter().filter(|e| e["ph"] == ph).collect() };
    let (starts, finishes) = (phase("s"), phase("f"));
    assert!(!starts.is_empty(), "the export has flows");
    assert_eq!(starts.len(), finishes.len());
    // Each flow: its two ends, bound to the records that enclose them.
    let mut flows = Vec::new();
    for s in &starts {
        let same: Vec<&&Value> = finishes.iter().filter(|f| f["id"] == s["id"]).collect();
        assert_eq!(same.len(), 1, "one finish per start: {s}");
        let f = same[0];
        assert_eq!(f["bp"], "e", "a finish binds to its enclosing slice");
        let at = |e: &Value| {
            enclosing(events, &e["pid"], &e["tid"], e["ts"].as_f64().unwrap())
                .unwrap_or_else(|| panic!("no slice or instant encloses {e}"))
        };
        flows.push((at(s), at(f)));
    }
    let is_write = |e: &Value| {
        e["args"]["note"]
            .as_str()
            .is_some_and(|n| n.contains("moves a chunk into the socket buffer"))
    };
    let is_dma = |e: &Value| e["ph"] == "X" && e["cat"] == "dma";
    let is_ack = |e: &Value| e["ph"] == "i" && e["cat"] == "ack";
    let chain = flows.iter().any(|(w, d)| {
        is_write(w)
            && is_dma(d)
            && flows
                .iter()
                .any(|(d2, a)| std::ptr::eq(*d2, *d) && is_ack(a))
    });
    assert!(chain, "a write -> DMA -> ACK chain: {flows:?}");
    // Both segments' DMAs are reached from the write, and both end at the ACK of 16384.
    let dmas: Vec<&str> = flows
        .iter()
        .filter(|(w, d)| is_write(w) && is_dma(d))
        .map(|(_, d)| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(dmas, ["segment 0..8948", "segment 8948..16384"]);
    let acks: Vec<&str> = flows
        .iter()
        .filter(|(d, a)| is_dma(d) && is_ack(a))
        .map(|(_, a)| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(acks, ["ACK 16384", "ACK 16384"]);
}
