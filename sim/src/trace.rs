//! Trace recording: spans, instants and counters on named lanes.
//!
//! A recorder guards every record with [`TraceSink::enabled`] (or, as zcsim's world does,
//! keeps an `Option` of its sink and checks it once per recording point), so recording costs
//! one branch when off; [`NullSink`]'s `enabled` is a constant `false` for code that is
//! generic over its sink. Two real sinks: [`RingSink`] keeps the last N records in memory for the TUI and counts
//! what it dropped; [`ChromeTraceWriter`] streams Chrome Trace Event JSON for Perfetto.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{self, Write};

use crate::time::SimTime;

/// A timeline lane (a CPU, the memory bus, the wire). Lanes are declared with
/// [`TraceSink::declare_lane`] before use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LaneId(pub u32);

/// Something that took time on a lane.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub lane: LaneId,
    pub start: SimTime,
    pub end: SimTime,
    /// A stable category ("copy", "fault", "dma"), used for colour and filtering.
    pub kind: &'static str,
    pub label: Cow<'static, str>,
    /// Points back to the model event that produced it, for narration.
    pub detail: u64,
}

/// Something that happened at one instant on a lane.
#[derive(Clone, Debug, PartialEq)]
pub struct Instant {
    pub lane: LaneId,
    pub at: SimTime,
    pub kind: &'static str,
    pub label: Cow<'static, str>,
    pub detail: u64,
}

/// A sampled value of a named series (bus utilization, ring occupancy).
#[derive(Clone, Debug, PartialEq)]
pub struct Counter {
    pub series: &'static str,
    pub at: SimTime,
    pub value: f64,
}

/// One end of a [`Flow`]: a time on a lane, inside the span (or at the instant) it ties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowEnd {
    pub lane: LaneId,
    pub at: SimTime,
}

/// An arrow from one record to another (cause to effect: a `write()` to the DMA of its
/// bytes, that DMA to the ACK that frees them). Each end is a time strictly inside a span,
/// or the time of an instant, on a lane whose spans never overlap there (a CPU, a DMA
/// engine, the events lane), so a viewer finds the record by lane and time alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    /// Unique within a run.
    pub id: u64,
    pub from: FlowEnd,
    pub to: FlowEnd,
}

/// One recorded item.
#[derive(Clone, Debug, PartialEq)]
pub enum TraceRecord {
    Span(Span),
    Instant(Instant),
    Counter(Counter),
    Flow(Flow),
}

impl TraceRecord {
    /// When the record happened: a span's end, a flow's later end.
    pub fn at(&self) -> SimTime {
        match self {
            TraceRecord::Span(s) => s.end,
            TraceRecord::Instant(i) => i.at,
            TraceRecord::Counter(c) => c.at,
            TraceRecord::Flow(f) => f.from.at.max(f.to.at),
        }
    }
}

/// Where a model's trace goes.
pub trait TraceSink {
    /// Whether records are kept. Callers test this before building a record.
    fn enabled(&self) -> bool {
        true
    }
    /// Names `lane`. Called once per lane, before its first record.
    fn declare_lane(&mut self, lane: LaneId, name: &str);
    fn record(&mut self, record: TraceRecord);
    /// The narration line numbered `id`, given before any record whose `detail` is `id`.
    /// Sinks that show narration keep what they need; the default keeps nothing.
    fn note(&mut self, _id: u64, _line: &str) {}
}

/// How many of the newest narration lines a [`ChromeTraceWriter`] keeps for records still to
/// come: a record's line is at most a plan old, far fewer lines back than this.
pub const CHROME_NOTES_KEPT: usize = 1 << 16;

/// Records nothing. `enabled()` is a constant `false`, so guarded recording compiles away.
#[derive(Clone, Copy, Debug, Default)]
pub struct NullSink;

impl TraceSink for NullSink {
    #[inline(always)]
    fn enabled(&self) -> bool {
        false
    }
    #[inline(always)]
    fn declare_lane(&mut self, _: LaneId, _: &str) {}
    #[inline(always)]
    fn record(&mut self, _: TraceRecord) {}
}

/// Keeps the most recent `capacity` records; older ones are dropped and counted, so a viewer
/// can say the trace is incomplete.
#[derive(Clone, Debug)]
pub struct RingSink {
    capacity: usize,
    records: VecDeque<TraceRecord>,
    lanes: Vec<String>,
    dropped: u64,
    /// The newest dropped sample of each counter series: counters hold running values, so
    /// a viewer needs it to read a series right before its first kept sample.
    dropped_counters: std::collections::BTreeMap<&'static str, Counter>,
}

impl RingSink {
    /// Panics on zero capacity (use [`NullSink`] to record nothing).
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "RingSink capacity must be > 0");
        RingSink {
            capacity,
            records: VecDeque::with_capacity(capacity.min(1 << 16)),
            lanes: Vec::new(),
            dropped: 0,
            dropped_counters: std::collections::BTreeMap::new(),
        }
    }

    pub fn records(&self) -> &VecDeque<TraceRecord> {
        &self.records
    }

    /// Lane names indexed by `LaneId.0` (undeclared lanes are empty strings).
    pub fn lanes(&self) -> &[String] {
        &self.lanes
    }

    /// Records evicted because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The lanes, the records and how many were dropped. The records are the newest
    /// `capacity`, preceded by the newest dropped sample of each counter series (in series
    /// order), so every series has its value from the first kept record on.
    pub fn into_parts(self) -> (Vec<String>, Vec<TraceRecord>, u64) {
        let mut records: Vec<TraceRecord> = self
            .dropped_counters
            .into_values()
            .map(TraceRecord::Counter)
            .collect();
        records.extend(self.records);
        (self.lanes, records, self.dropped)
    }
}

impl TraceSink for RingSink {
    fn declare_lane(&mut self, lane: LaneId, name: &str) {
        let i = lane.0 as usize;
        if self.lanes.len() <= i {
            self.lanes.resize(i + 1, String::new());
        }
        self.lanes[i] = name.to_owned();
    }

    fn record(&mut self, record: TraceRecord) {
        if self.records.len() == self.capacity {
            if let Some(TraceRecord::Counter(c)) = self.records.pop_front() {
                self.dropped_counters.insert(c.series, c);
            }
            self.dropped += 1;
        }
        self.records.push_back(record);
    }
}

/// Streams the Chrome Trace Event format (JSON object form) for Perfetto and chrome://tracing.
///
/// Spans become complete (`"ph":"X"`) events, instants `"i"`, counters `"C"`, flows a pair
/// of flow events (`"s"` at the cause, `"f"` with `"bp":"e"` at the effect, both binding to
/// the slice that encloses their time on their track), and lane names `"M"` `thread_name`
/// metadata. A flow's ends go on their lane's first track (see [`Flow`]); an `"f"` at an
/// instant's time is written after the instant, so a viewer that keeps file order among
/// equal times binds it to that instant. Perfetto rejects partly overlapping `X` slices on one track, and
/// a lane like the memory bus has several transfers at once, so each lane is split into
/// sub-tracks: a span goes on the first sub-track of its lane whose last span ended at or before
/// this one starts, else on a new one ("bus", "bus #2", ...). That rule makes spans on one track
/// disjoint whatever order they arrive in. Timestamps are microseconds with three decimals,
/// printed from integer nanoseconds, so they are exact.
///
/// Write errors are kept and returned by [`ChromeTraceWriter::finish`], so recording never
/// fails mid-run.
pub struct ChromeTraceWriter<W: Write> {
    out: W,
    error: Option<io::Error>,
    first: bool,
    lane_names: Vec<String>,
    /// Per lane: each sub-track's (tid, end of its last span).
    tracks: Vec<Vec<(u32, SimTime)>>,
    next_tid: u32,
    /// The process records go to (one per run when a file holds several).
    pid: u32,
    /// The current process's newest narration lines by id (at most [`CHROME_NOTES_KEPT`]):
    /// each slice and instant carries its line in `args.note`.
    notes: std::collections::BTreeMap<u64, String>,
}

impl<W: Write> ChromeTraceWriter<W> {
    pub fn new(mut out: W) -> io::Result<Self> {
        out.write_all(b"{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n")?;
        let mut w = ChromeTraceWriter {
            out,
            error: None,
            first: true,
            lane_names: Vec::new(),
            tracks: Vec::new(),
            next_tid: 1,
            pid: 1,
            notes: std::collections::BTreeMap::new(),
        };
        w.begin_process(1, "zcsim");
        Ok(w)
    }

    /// `"args"` of a slice or instant: its detail, and its narration line if it has one.
    fn args(&self, detail: u64) -> String {
        match self.notes.get(&detail).filter(|_| detail > 0) {
            Some(note) => format!("{{\"detail\":{detail},\"note\":{}}}", json_str(note.trim())),
            None => format!("{{\"detail\":{detail}}}"),
        }
    }

    /// Sends the following records to process `pid`, named `name` (Perfetto shows one group
    /// of tracks per process). Lanes must be declared again for it, and its notes given.
    pub fn begin_process(&mut self, pid: u32, name: &str) {
        self.pid = pid;
        self.notes.clear();
        self.tracks.clear();
        self.lane_names.clear();
        let name = json_str(name);
        self.event(format_args!(
            "{{\"ph\":\"M\",\"pid\":{pid},\"name\":\"process_name\",\"args\":{{\"name\":{name}}}}}"
        ));
    }

    /// Closes the JSON and returns the writer, or the first write error met.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.write_all(b"\n]}\n")?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn event(&mut self, args: std::fmt::Arguments<'_>) {
        if self.error.is_some() {
            return;
        }
        let sep: &[u8] = if self.first { b"" } else { b",\n" };
        self.first = false;
        if let Err(e) = self
            .out
            .write_all(sep)
            .and_then(|()| self.out.write_fmt(args))
        {
            self.error = Some(e);
        }
    }

    fn lane_name(&self, lane: LaneId) -> String {
        self.lane_names
            .get(lane.0 as usize)
            .filter(|n| !n.is_empty())
            .cloned()
            .unwrap_or_else(|| format!("lane {}", lane.0))
    }

    /// The tid of a sub-track of `lane` free from `start` on, creating (and naming) one if needed.
    fn track_for(&mut self, lane: LaneId, start: SimTime, end: SimTime) -> u32 {
        self.ensure_lane(lane);
        let li = lane.0 as usize;
        if let Some(slot) = self.tracks[li].iter_mut().find(|(_, e)| *e <= start) {
            slot.1 = end;
            return slot.0;
        }
        self.new_track(lane, end)
    }

    /// The lane's first sub-track (instants take no room, so any track holds them).
    fn first_track(&mut self, lane: LaneId) -> u32 {
        self.ensure_lane(lane);
        match self.tracks[lane.0 as usize].first() {
            Some(&(tid, _)) => tid,
            None => self.new_track(lane, SimTime::ZERO),
        }
    }

    fn ensure_lane(&mut self, lane: LaneId) {
        let li = lane.0 as usize;
        if self.tracks.len() <= li {
            self.tracks.resize_with(li + 1, Vec::new);
        }
    }

    fn new_track(&mut self, lane: LaneId, end: SimTime) -> u32 {
        let li = lane.0 as usize;
        let tid = self.next_tid;
        self.next_tid += 1;
        let sub = self.tracks[li].len();
        self.tracks[li].push((tid, end));
        let base = self.lane_name(lane);
        let name = if sub == 0 {
            base
        } else {
            format!("{base} #{}", sub + 1)
        };
        let sort = lane.0 as u64 * 1000 + sub as u64;
        let name = json_str(&name);
        let pid = self.pid;
        self.event(format_args!(
            "{{\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"name\":\"thread_name\",\"args\":{{\"name\":{name}}}}}"
        ));
        self.event(format_args!(
            "{{\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"name\":\"thread_sort_index\",\"args\":{{\"sort_index\":{sort}}}}}"
        ));
        tid
    }
}

/// `ns` as microseconds with exactly three decimals.
struct Micros(SimTime);

impl std::fmt::Display for Micros {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ns = self.0.as_nanos();
        write!(f, "{}.{:03}", ns / 1000, ns % 1000)
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a str always serializes")
}

impl<W: Write> TraceSink for ChromeTraceWriter<W> {
    fn declare_lane(&mut self, lane: LaneId, name: &str) {
        let i = lane.0 as usize;
        if self.lane_names.len() <= i {
            self.lane_names.resize(i + 1, String::new());
        }
        self.lane_names[i] = name.to_owned();
    }

    fn note(&mut self, id: u64, line: &str) {
        self.notes.insert(id, line.to_owned());
        if self.notes.len() > CHROME_NOTES_KEPT {
            self.notes.pop_first();
        }
    }

    fn record(&mut self, record: TraceRecord) {
        let pid = self.pid;
        match record {
            TraceRecord::Span(s) => {
                assert!(s.end >= s.start, "span ends before it starts: {s:?}");
                let tid = self.track_for(s.lane, s.start, s.end);
                let dur_ns = s.end.duration_since(s.start).as_nanos();
                let (ts, dur) = (Micros(s.start), Micros(SimTime::from_nanos(dur_ns)));
                let (name, cat, args) = (json_str(&s.label), json_str(s.kind), self.args(s.detail));
                self.event(format_args!(
                    "{{\"ph\":\"X\",\"pid\":{pid},\"tid\":{tid},\"ts\":{ts},\"dur\":{dur},\"name\":{name},\"cat\":{cat},\"args\":{args}}}"
                ));
            }
            TraceRecord::Instant(i) => {
                let tid = self.first_track(i.lane);
                let (ts, name, cat, args) = (
                    Micros(i.at),
                    json_str(&i.label),
                    json_str(i.kind),
                    self.args(i.detail),
                );
                self.event(format_args!(
                    "{{\"ph\":\"i\",\"s\":\"t\",\"pid\":{pid},\"tid\":{tid},\"ts\":{ts},\"name\":{name},\"cat\":{cat},\"args\":{args}}}"
                ));
            }
            TraceRecord::Counter(c) => {
                let (ts, name) = (Micros(c.at), json_str(c.series));
                let value = if c.value.is_finite() { c.value } else { 0.0 };
                self.event(format_args!(
                    "{{\"ph\":\"C\",\"pid\":{pid},\"ts\":{ts},\"name\":{name},\"args\":{{\"value\":{value}}}}}"
                ));
            }
            TraceRecord::Flow(f) => {
                let (from, to) = (self.first_track(f.from.lane), self.first_track(f.to.lane));
                // Viewers key flows by id across the file: one id space per process.
                assert!(f.id < 1 << 40, "flow id {} out of range", f.id);
                let id = (u64::from(pid) << 40) | f.id;
                let (ts_from, ts_to) = (Micros(f.from.at), Micros(f.to.at));
                self.event(format_args!(
                    "{{\"ph\":\"s\",\"pid\":{pid},\"tid\":{from},\"ts\":{ts_from},\"id\":{id},\"name\":\"data\",\"cat\":\"flow\"}}"
                ));
                self.event(format_args!(
                    "{{\"ph\":\"f\",\"bp\":\"e\",\"pid\":{pid},\"tid\":{to},\"ts\":{ts_to},\"id\":{id},\"name\":\"data\",\"cat\":\"flow\"}}"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn span(lane: u32, start: u64, end: u64, label: &'static str) -> TraceRecord {
        TraceRecord::Span(Span {
            lane: LaneId(lane),
            start: SimTime::from_nanos(start),
            end: SimTime::from_nanos(end),
            kind: "copy",
            label: label.into(),
            detail: start,
        })
    }

    fn chrome(records: Vec<TraceRecord>) -> Value {
        let mut w = ChromeTraceWriter::new(Vec::new()).unwrap();
        w.declare_lane(LaneId(0), "cpu0");
        w.declare_lane(LaneId(1), "memory bus \"main\"");
        for r in records {
            w.record(r);
        }
        serde_json::from_slice(&w.finish().unwrap()).expect("output must be valid JSON")
    }

    #[test]
    fn chrome_output_parses_with_required_fields() {
        // Parsing with serde_json proves the JSON is well-formed (including the escaped quote
        // in a lane name); the field checks prove each phase carries what Perfetto reads.
        let v = chrome(vec![
            span(0, 0, 1500, "copyin"),
            TraceRecord::Instant(Instant {
                lane: LaneId(0),
                at: SimTime::from_nanos(1500),
                kind: "fault",
                label: "cow fault".into(),
                detail: 7,
            }),
            TraceRecord::Counter(Counter {
                series: "bus utilization",
                at: SimTime::from_nanos(2000),
                value: 0.5,
            }),
        ]);
        let events = v["traceEvents"].as_array().unwrap();
        let x = events.iter().find(|e| e["ph"] == "X").unwrap();
        assert_eq!(x["ts"].as_f64(), Some(0.0));
        assert_eq!(x["dur"].as_f64(), Some(1.5), "1500 ns is 1.5 us");
        assert_eq!(x["name"], "copyin");
        assert_eq!(x["cat"], "copy");
        for key in ["pid", "tid"] {
            assert!(x[key].is_u64(), "X event lacks {key}");
        }
        let c = events.iter().find(|e| e["ph"] == "C").unwrap();
        assert_eq!(c["args"]["value"].as_f64(), Some(0.5));
        assert!(
            events
                .iter()
                .any(|e| e["ph"] == "i" && e["name"] == "cow fault")
        );
        let names: Vec<&str> = events
            .iter()
            .filter(|e| e["name"] == "thread_name")
            .map(|e| e["args"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["cpu0"]);
    }

    #[test]
    fn overlapping_spans_go_to_separate_named_tracks() {
        // Three transfers overlap on the bus lane, arriving out of start order; a fourth
        // starts after all end. Every pair of X events sharing a tid must be disjoint, the
        // overlapping ones must need three tracks, and the fourth must reuse one.
        let v = chrome(vec![
            span(1, 100, 400, "a"),
            span(1, 0, 300, "b"),
            span(1, 200, 250, "c"),
            span(1, 500, 600, "d"),
        ]);
        let events = v["traceEvents"].as_array().unwrap();
        let xs: Vec<(u64, f64, f64)> = events
            .iter()
            .filter(|e| e["ph"] == "X")
            .map(|e| {
                let ts = e["ts"].as_f64().unwrap();
                (
                    e["tid"].as_u64().unwrap(),
                    ts,
                    ts + e["dur"].as_f64().unwrap(),
                )
            })
            .collect();
        for (i, a) in xs.iter().enumerate() {
            for b in &xs[i + 1..] {
                if a.0 == b.0 {
                    assert!(
                        a.2 <= b.1 || b.2 <= a.1,
                        "overlap on tid {}: {a:?} {b:?}",
                        a.0
                    );
                }
            }
        }
        let tids: std::collections::BTreeSet<u64> = xs.iter().map(|x| x.0).collect();
        assert_eq!(tids.len(), 3);
        let names: Vec<&str> = events
            .iter()
            .filter(|e| e["name"] == "thread_name")
            .map(|e| e["args"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            vec![
                "memory bus \"main\"",
                "memory bus \"main\" #2",
                "memory bus \"main\" #3"
            ]
        );
    }

    #[test]
    fn ring_keeps_the_newest_and_counts_drops() {
        let mut r = RingSink::new(2);
        r.declare_lane(LaneId(2), "wire");
        for i in 0..5 {
            r.record(span(2, i, i + 1, "x"));
        }
        assert_eq!(r.dropped(), 3);
        let starts: Vec<u64> = r
            .records()
            .iter()
            .map(|rec| match rec {
                TraceRecord::Span(s) => s.start.as_nanos(),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(starts, vec![3, 4], "the two newest survive");
        assert_eq!(r.lanes(), &["", "", "wire"]);
    }

    #[test]
    fn write_errors_surface_at_finish() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert!(ChromeTraceWriter::new(Broken).is_err());
    }
}
