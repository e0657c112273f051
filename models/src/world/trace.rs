//! Recording a run for the timeline and for Perfetto: spans on lanes (each CPU, the memory
//! bus, the NIC's DMA engines, the wire, the disk), instants (ACKs, losses, faults, splats),
//! counters (bus utilization, TX ring occupancy), the narration line behind each record, and
//! every change of a page frame's state (for the page-frame map).
//!
//! Recording is off unless [`World::enable_trace`] is called; then records go to a bounded
//! ring ([`sim::RingSink`]) that counts what it had to drop, and narration lines to a ring of
//! the same capacity ([`NoteRing`]). With it off, each recording point costs one branch.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};

use sim::trace::{Counter, Flow, FlowEnd, Instant, Span};
use sim::{LaneId, RingSink, SimTime, TraceRecord, TraceSink};

use super::narrate::thread_name;
use super::{ConnId, World};
use crate::machine::{MachineLog, ThreadId};
use crate::vm::{Frame, FrameKind, Pfn};

/// What a frame is doing, for the page-frame map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FrameState {
    Free,
    /// In the page cache, referenced by nothing else.
    PageCache,
    /// Anonymous memory of one process.
    Anon,
    /// Shared copy-on-write between processes.
    CowShared,
    /// Loaned or COW-wired to the kernel.
    Lent,
    /// Referenced by the network path (an mbuf's page) or owned by the kernel.
    InFlight,
}

impl FrameState {
    pub const ALL: [FrameState; 6] = [
        FrameState::Free,
        FrameState::PageCache,
        FrameState::Anon,
        FrameState::CowShared,
        FrameState::Lent,
        FrameState::InFlight,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FrameState::Free => "free",
            FrameState::PageCache => "page cache",
            FrameState::Anon => "anonymous",
            FrameState::CowShared => "COW-shared",
            FrameState::Lent => "loaned",
            FrameState::InFlight => "in the network path",
        }
    }

    /// The state of a frame.
    pub fn of(f: &Frame) -> FrameState {
        match f.kind {
            FrameKind::Free => FrameState::Free,
            _ if f.is_lent() => FrameState::Lent,
            FrameKind::PageCache { .. } if f.kernel_refs > 1 => FrameState::InFlight,
            FrameKind::PageCache { .. } => FrameState::PageCache,
            FrameKind::Anon if f.mappings.len() > 1 => FrameState::CowShared,
            FrameKind::Anon => FrameState::Anon,
            FrameKind::Kernel => FrameState::InFlight,
        }
    }
}

/// A frame changed state at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameChange {
    pub at: SimTime,
    pub pfn: Pfn,
    pub state: FrameState,
}

/// Everything recorded in one run.
#[derive(Clone, Debug)]
pub struct Trace {
    /// Lane names, indexed by `LaneId.0`.
    pub lanes: Vec<String>,
    /// Spans, instants and counters, oldest first (the newest `capacity` of them).
    pub records: Vec<TraceRecord>,
    /// Records the ring dropped.
    pub dropped: u64,
    /// Narration lines; a record's `detail` indexes this (0 is "no line"). Only the newest
    /// lines are kept, as many as records; a record whose line was dropped has detail 0.
    pub notes: Vec<String>,
    /// Narration lines dropped to keep that bound.
    pub notes_dropped: u64,
    /// Every change of a frame's state, in time order.
    pub frames: Vec<FrameChange>,
    /// Frames that exist at the end of the run.
    pub frame_count: u32,
    /// When the run ended.
    pub end: SimTime,
}

/// The lanes of a world.
#[derive(Debug)]
pub(super) struct Lanes {
    pub(super) cpus: Vec<LaneId>,
    pub(super) bus: LaneId,
    pub(super) nic_tx: LaneId,
    pub(super) nic_rx: LaneId,
    pub(super) wire: LaneId,
    pub(super) disk: LaneId,
    pub(super) events: LaneId,
    /// The critical application's stalls, each with its narration.
    pub(super) stalls: LaneId,
    /// Zero-copy completions and error-queue reads (the error queue, or io_uring's CQ).
    pub(super) completions: LaneId,
}

/// The newest narration lines of a traced run, at most `capacity` of them, so a long run's
/// trace holds as many lines as records, not one per event ever narrated.
///
/// Ids count every line of the run from 1 (0 is "no line"), so a record keeps its id while
/// older lines go. Invariant: `lines.len() <= capacity`, and `lines[i]` has id
/// `first + i`.
#[derive(Debug)]
pub(super) struct NoteRing {
    lines: VecDeque<String>,
    /// The id of `lines[0]`.
    first: u64,
    capacity: usize,
}

impl NoteRing {
    fn new(capacity: usize) -> NoteRing {
        assert!(capacity > 0, "a note ring holds at least one line");
        NoteRing {
            lines: VecDeque::new(),
            first: 1,
            capacity,
        }
    }

    /// Keeps `line`, dropping the oldest if full; returns its id.
    pub(super) fn push(&mut self, line: String) -> u64 {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
            self.first += 1;
        }
        self.lines.push_back(line);
        self.first + self.lines.len() as u64 - 1
    }

    /// Lines dropped so far.
    fn dropped(&self) -> u64 {
        self.first - 1
    }

    /// The kept lines as [`Trace::notes`] (an empty line 0, then the kept lines), and each
    /// record's detail renumbered to match: 0 if its line was dropped.
    fn into_notes(self, records: &mut [TraceRecord]) -> Vec<String> {
        let first = self.first;
        let renumber = |d: &mut u64| *d = if *d >= first { *d - first + 1 } else { 0 };
        for r in records {
            match r {
                TraceRecord::Span(s) => renumber(&mut s.detail),
                TraceRecord::Instant(i) => renumber(&mut i.detail),
                TraceRecord::Counter(_) | TraceRecord::Flow(_) => {}
            }
        }
        std::iter::once(String::new()).chain(self.lines).collect()
    }
}

/// What the flow arrows need: a `write()`'s place on a CPU and its bytes until each DMA of
/// them, each DMA's place until the ACK that covers it. Both are bounded by what is in
/// flight: a write is forgotten once its last byte is acknowledged, a DMA once it is.
#[derive(Debug, Default)]
struct Flows {
    next_id: u64,
    /// Per thread: the lane and middle of its last CPU step, and when that step ended.
    last_step: BTreeMap<ThreadId, (FlowEnd, SimTime)>,
    /// Chunks appended in this event, anchored once this event's steps are recorded:
    /// (connection, first byte, end, the writing thread).
    appended: Vec<(ConnId, u64, u64, ThreadId)>,
    /// Per connection: writes not yet fully acknowledged, (first byte, end, place), in
    /// stream order.
    writes: BTreeMap<ConnId, VecDeque<(u64, u64, FlowEnd)>>,
    /// Per connection: DMAs not yet acknowledged, (end byte, place), in the order they ran.
    dmas: BTreeMap<ConnId, VecDeque<(u64, FlowEnd)>>,
}

impl Flows {
    fn link(&mut self, out: &mut Out, from: FlowEnd, to: FlowEnd) {
        self.next_id += 1;
        out.record(TraceRecord::Flow(Flow {
            id: self.next_id,
            from,
            to,
        }));
    }
}

/// The middle of a span, for a flow's end (strictly inside it when it lasts 2 ns or more).
fn middle(lane: LaneId, start: SimTime, end: SimTime) -> FlowEnd {
    FlowEnd {
        lane,
        at: SimTime::from_nanos(start.as_nanos() + end.duration_since(start).as_nanos() / 2),
    }
}

/// A thread's plan's narration line, and the line of the plan before it: the machine's log
/// is drained after each event, so the last steps of a plan that ended in this event are
/// read after the next plan started, and must keep their own plan's line.
#[derive(Clone, Copy, Debug)]
struct PlanNotes {
    note: u64,
    /// When the current plan started: a step that started earlier was the plan before's.
    since: SimTime,
    before: u64,
}

impl PlanNotes {
    fn of_step(&self, start: SimTime) -> u64 {
        if start >= self.since {
            self.note
        } else {
            self.before
        }
    }
}

/// Where a trace goes.
enum Out {
    /// Kept for the timeline: the newest records and narration lines.
    Ring { records: RingSink, notes: NoteRing },
    /// Handed on as they come (an exporter writing a file), lines numbered from 1: nothing is
    /// kept.
    Stream {
        sink: Box<dyn TraceSink + Send>,
        next_note: u64,
    },
}

impl Out {
    fn sink(&mut self) -> &mut dyn TraceSink {
        match self {
            Out::Ring { records, .. } => records,
            Out::Stream { sink, .. } => sink.as_mut(),
        }
    }

    fn record(&mut self, r: TraceRecord) {
        self.sink().record(r);
    }

    /// Keeps or hands on a narration line; returns its id.
    fn note(&mut self, line: String) -> u64 {
        match self {
            Out::Ring { notes, .. } => notes.push(line),
            Out::Stream { sink, next_note } => {
                *next_note += 1;
                sink.note(*next_note, &line);
                *next_note
            }
        }
    }
}

pub(super) struct Tracer {
    out: Out,
    pub(super) lanes: Lanes,
    /// Per thread, the narration lines of the plan it runs and of the one before.
    thread_note: BTreeMap<ThreadId, PlanNotes>,
    machine_log: Vec<MachineLog>,
    touched: Vec<Pfn>,
    frame_states: BTreeMap<Pfn, FrameState>,
    pub(super) frames: Vec<FrameChange>,
    pub(super) wire_started: SimTime,
    /// Last values of the running totals recorded as counters.
    totals: [u64; 5],
    flows: Flows,
}

/// Running totals recorded as counter series, so a viewer can show them as of any instant.
pub const TOTALS: [&str; 5] = [
    "CPU copy bytes",
    "faults",
    "VMA lookups",
    "payload bytes sent",
    "splats",
];

impl World {
    /// Records the run from now on, keeping at most `capacity` records and as many
    /// narration lines (the timeline, [`World::take_trace`]).
    pub fn enable_trace(&mut self, capacity: usize) {
        let capacity = capacity.max(1);
        self.start_trace(Out::Ring {
            records: RingSink::new(capacity),
            notes: NoteRing::new(capacity),
        });
        // The page-frame map of the timeline.
        self.vm.frames_mut().set_tracking(true);
    }

    /// Hands every record and narration line to `sink` as the run makes them, keeping none:
    /// memory stays bounded however long the run (an export to a file).
    pub fn stream_trace(&mut self, sink: Box<dyn TraceSink + Send>) {
        self.start_trace(Out::Stream { sink, next_note: 0 });
    }

    /// [`World::stream_trace`], and also logs every change of a page frame's state (the
    /// timeline's page-frame map) for [`World::take_frame_changes`] to collect as the run
    /// goes: a timeline that shows a run while it is recorded.
    pub fn stream_trace_with_frames(&mut self, sink: Box<dyn TraceSink + Send>) {
        self.stream_trace(sink);
        self.vm.frames_mut().set_tracking(true);
    }

    /// The frame changes logged since the last call, in time order (none unless frames are
    /// logged). What it takes, a later [`World::take_trace`] no longer holds.
    pub fn take_frame_changes(&mut self) -> Vec<FrameChange> {
        self.tracer
            .as_mut()
            .map(|t| std::mem::take(&mut t.frames))
            .unwrap_or_default()
    }

    fn start_trace(&mut self, mut out: Out) {
        let mut next = 0;
        let mut lane = |out: &mut Out, name: &str| {
            let id = LaneId(next);
            next += 1;
            out.sink().declare_lane(id, name);
            id
        };
        let cpus = (0..self.cfg.machine.cpus)
            .map(|i| lane(&mut out, &format!("cpu{i}")))
            .collect();
        let lanes = Lanes {
            cpus,
            bus: lane(&mut out, "memory bus"),
            nic_tx: lane(&mut out, "NIC DMA (tx)"),
            nic_rx: lane(&mut out, "NIC DMA (rx)"),
            wire: lane(&mut out, "wire"),
            disk: lane(&mut out, "disk"),
            events: lane(&mut out, "events"),
            stalls: lane(&mut out, "stalls"),
            completions: lane(&mut out, "completions"),
        };
        self.machine.set_logging(true);
        self.tracer = Some(Box::new(Tracer {
            out,
            lanes,
            thread_note: BTreeMap::new(),
            machine_log: Vec::new(),
            touched: Vec::new(),
            frame_states: BTreeMap::new(),
            frames: Vec::new(),
            wire_started: SimTime::ZERO,
            totals: [0; 5],
            flows: Flows::default(),
        }));
    }

    /// Keeps (or hands on) a narration line for records to point at; returns its id.
    pub(super) fn trace_note(&mut self, line: String) -> u64 {
        match &mut self.tracer {
            Some(t) => t.out.note(line),
            None => 0,
        }
    }

    /// Takes the recording kept for the timeline ([`World::enable_trace`]); a streamed
    /// trace ends here, its sink dropped.
    pub fn take_trace(&mut self) -> Option<Trace> {
        let t = self.tracer.take()?;
        let Out::Ring { records, notes } = t.out else {
            return None;
        };
        let frame_count = self.vm.frames().len() as u32;
        let (lanes, mut records, dropped) = records.into_parts();
        let notes_dropped = notes.dropped();
        let notes = notes.into_notes(&mut records);
        // The trace ends with its last record: a stopped retransmission timer's event may
        // still fire later, doing nothing worth showing.
        let end = records
            .iter()
            .map(TraceRecord::at)
            .max()
            .unwrap_or_else(|| self.now());
        Some(Trace {
            lanes,
            records,
            dropped,
            notes,
            notes_dropped,
            frames: t.frames,
            frame_count,
            end,
        })
    }

    pub(super) fn tracing(&self) -> bool {
        self.tracer.is_some()
    }

    /// Records a span on a lane.
    pub(super) fn trace_span(
        &mut self,
        lane: fn(&Lanes) -> LaneId,
        start: SimTime,
        kind: &'static str,
        label: Cow<'static, str>,
        detail: u64,
    ) {
        let end = self.now();
        if let Some(t) = &mut self.tracer {
            let lane = lane(&t.lanes);
            t.out.record(TraceRecord::Span(Span {
                lane,
                start,
                end,
                kind,
                label,
                detail,
            }));
        }
    }

    /// Records an instant: zero-copy completions and error-queue reads on the completion
    /// queue's lane, everything else on the events lane.
    pub(super) fn trace_instant(
        &mut self,
        kind: &'static str,
        label: Cow<'static, str>,
        detail: u64,
    ) {
        let at = self.now();
        if let Some(t) = &mut self.tracer {
            let lane = match kind {
                "completion" | "errqueue read" => t.lanes.completions,
                _ => t.lanes.events,
            };
            t.out.record(TraceRecord::Instant(Instant {
                lane,
                at,
                kind,
                label,
                detail,
            }));
        }
    }

    /// `thread` starts a plan now whose narration line is `note`: its steps carry it.
    pub(super) fn trace_plan_started(&mut self, thread: ThreadId, note: u64) {
        let since = self.now();
        if let Some(t) = &mut self.tracer {
            let before = t.thread_note.get(&thread).map_or(0, |n| n.note);
            t.thread_note.insert(
                thread,
                PlanNotes {
                    note,
                    since,
                    before,
                },
            );
        }
    }

    /// A `write()` appended `[from, to)` of `conn`'s stream from `thread`'s plan that just
    /// ended: the flow arrows start at that plan's last CPU step.
    pub(super) fn trace_write(&mut self, conn: ConnId, from: u64, to: u64, thread: ThreadId) {
        if let Some(t) = &mut self.tracer
            && from < to
        {
            t.flows.appended.push((conn, from, to, thread));
        }
    }

    /// The NIC's DMA of `conn`'s bytes `[seq, seq + len)`, from `start` to now: an arrow
    /// from each write those bytes came from, and the DMA waits for its ACK.
    pub(super) fn trace_dma_flow(&mut self, conn: ConnId, seq: u64, len: u64, start: SimTime) {
        let now = self.now();
        if let Some(t) = &mut self.tracer {
            let dma = middle(t.lanes.nic_tx, start, now);
            let writes = t.flows.writes.entry(conn).or_default();
            let sources: Vec<FlowEnd> = writes
                .iter()
                .filter(|(a, b, _)| *a < seq + len && seq < *b)
                .map(|w| w.2)
                .collect();
            for from in sources {
                t.flows.link(&mut t.out, from, dma);
            }
            t.flows
                .dmas
                .entry(conn)
                .or_default()
                .push_back((seq + len, dma));
        }
    }

    /// An ACK of every byte of `conn` below `ack` arrived now (recorded as an instant on the
    /// events lane just before): an arrow from each DMA it covers; writes it covers whole
    /// are done.
    pub(super) fn trace_ack_flow(&mut self, conn: ConnId, ack: u64) {
        let at = self.now();
        if let Some(t) = &mut self.tracer {
            let to = FlowEnd {
                lane: t.lanes.events,
                at,
            };
            let dmas = t.flows.dmas.entry(conn).or_default();
            let mut covered = Vec::new();
            dmas.retain(|(end, place)| {
                let done = *end <= ack;
                if done {
                    covered.push(*place);
                }
                !done
            });
            for from in covered {
                t.flows.link(&mut t.out, from, to);
            }
            let writes = t.flows.writes.entry(conn).or_default();
            while writes.front().is_some_and(|w| w.1 <= ack) {
                writes.pop_front();
            }
        }
    }

    /// Records a counter sample.
    pub(super) fn trace_counter(&mut self, series: &'static str, value: f64) {
        let at = self.now();
        if let Some(t) = &mut self.tracer {
            t.out
                .record(TraceRecord::Counter(Counter { series, at, value }));
        }
    }

    /// After each event: the machine's log becomes spans, and changed frames are logged.
    pub(super) fn trace_after_event(&mut self) {
        let Some(mut t) = self.tracer.take() else {
            return;
        };
        self.machine.drain_log(&mut t.machine_log);
        for entry in t.machine_log.drain(..) {
            match entry {
                MachineLog::Step {
                    cpu,
                    thread,
                    activity,
                    start,
                    end,
                } => {
                    let detail = t.thread_note.get(&thread).map_or(0, |n| n.of_step(start));
                    let lane = t.lanes.cpus[cpu as usize];
                    if end > start {
                        t.flows
                            .last_step
                            .insert(thread, (middle(lane, start, end), end));
                    }
                    t.out.record(TraceRecord::Span(Span {
                        lane,
                        start,
                        end,
                        kind: activity.name(),
                        label: Cow::Owned(format!("{}: {}", thread_name(thread), activity.name())),
                        detail,
                    }));
                }
                MachineLog::Bus {
                    activity,
                    bytes,
                    start,
                    end,
                } => t.out.record(TraceRecord::Span(Span {
                    lane: t.lanes.bus,
                    start,
                    end,
                    kind: activity.name(),
                    label: Cow::Owned(format!("{} {bytes} B", activity.name())),
                    detail: 0,
                })),
                MachineLog::Disk { start, end } => t.out.record(TraceRecord::Span(Span {
                    lane: t.lanes.disk,
                    start,
                    end,
                    kind: "disk",
                    label: Cow::Borrowed("disk read"),
                    detail: 0,
                })),
                MachineLog::BusLevel { at, utilization } => {
                    t.out.record(TraceRecord::Counter(Counter {
                        series: "memory bus utilization",
                        at,
                        value: utilization,
                    }))
                }
            }
        }
        // A chunk appended in this event came from a plan that ended now: its last step.
        let now = self.now();
        for (conn, from, to, thread) in std::mem::take(&mut t.flows.appended) {
            if let Some(&(place, end)) = t.flows.last_step.get(&thread)
                && end == now
            {
                t.flows
                    .writes
                    .entry(conn)
                    .or_default()
                    .push_back((from, to, place));
            }
        }
        let vm = self.vm.counters();
        let totals = [
            self.machine.stats().cpu_copy_bytes,
            vm.minor_faults
                + vm.major_faults
                + vm.cow_faults
                + vm.loan_breaks
                + vm.write_enable_faults,
            vm.vma_lookups,
            self.net.tx_dma_bytes + self.net.rx_dma_bytes,
            self.net.splats,
        ];
        let at = self.now();
        for (i, (&now, last)) in totals.iter().zip(t.totals.iter_mut()).enumerate() {
            if now != *last {
                *last = now;
                t.out.record(TraceRecord::Counter(Counter {
                    series: TOTALS[i],
                    at,
                    value: now as f64,
                }));
            }
        }
        self.vm.frames_mut().drain_touched(&mut t.touched);
        if !t.touched.is_empty() {
            t.touched.sort_unstable();
            t.touched.dedup();
            let at = self.now();
            for &pfn in &t.touched {
                let state = FrameState::of(self.vm.frame(pfn));
                let before = t.frame_states.insert(pfn, state);
                if before != Some(state) {
                    t.frames.push(FrameChange { at, pfn, state });
                }
            }
            t.touched.clear();
        }
        self.tracer = Some(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{RunOptions, simulate};
    use crate::strategy::Strategy;
    use crate::workload::{BulkSource, Workload};

    fn traced(capacity: usize) -> Trace {
        let w = Workload::BulkSend {
            total_bytes: 256 << 10,
            write_size: 16 << 10,
            source: BulkSource::Memory,
        };
        let cfg = crate::testkit::wire_bound_world(100_000_000, 1500, true);
        let opts = RunOptions {
            trace_records: Some(capacity),
            ..RunOptions::default()
        };
        simulate(&cfg, &w, Strategy::Copy, opts)
            .expect("copy applies to a memory bulk send")
            .trace
            .expect("a trace was asked for")
    }

    fn detail(r: &TraceRecord) -> Option<u64> {
        match r {
            TraceRecord::Span(s) => Some(s.detail),
            TraceRecord::Instant(i) => Some(i.detail),
            TraceRecord::Counter(_) | TraceRecord::Flow(_) => None,
        }
    }

    #[test]
    fn notes_are_bounded_like_the_records_and_stay_with_their_records() {
        // The same deterministic run recorded whole, and into 200 records. The small trace
        // must keep at most 200 lines (plus the empty line 0) and say how many it dropped,
        // and every record it kept must point at the same text as the same record of the
        // whole trace: the renumbering after dropping lines keeps each record's line, or
        // gives 0 when its line went.
        let whole = traced(1 << 22);
        assert_eq!(whole.dropped, 0, "the big ring holds the whole run");
        assert_eq!(whole.notes_dropped, 0);
        let cap = 200;
        let small = traced(cap);
        assert!(small.notes.len() <= cap + 1, "{} lines", small.notes.len());
        assert_eq!(
            small.notes_dropped,
            (whole.notes.len() - small.notes.len()) as u64,
            "every line is kept or counted as dropped"
        );
        assert!(
            small.notes_dropped > 0,
            "this run narrates more than {cap} lines"
        );
        // The small ring's records are the whole run's last ones (after one carried-over
        // sample per counter series, which `into_parts` puts first).
        let kept: Vec<&TraceRecord> = small
            .records
            .iter()
            .skip_while(|r| matches!(r, TraceRecord::Counter(_)))
            .collect();
        let tail = &whole.records[whole.records.len() - kept.len()..];
        let mut with_line = 0;
        for (s, w) in kept.iter().zip(tail) {
            let (Some(ds), Some(dw)) = (detail(s), detail(w)) else {
                continue;
            };
            if ds != 0 {
                assert_eq!(small.notes[ds as usize], whole.notes[dw as usize]);
                with_line += 1;
            }
        }
        assert!(with_line > 0, "the kept records still carry their lines");
    }

    #[test]
    fn the_note_ring_keeps_the_newest_lines_under_their_run_long_ids() {
        // Capacity 2, five lines: ids 1..=5, lines 4 and 5 survive; a record of line 5 reads
        // index 2 of the notes, one of line 2 loses its line.
        let mut ring = NoteRing::new(2);
        let ids: Vec<u64> = (1..=5).map(|i| ring.push(format!("line {i}"))).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5]);
        assert_eq!(ring.dropped(), 3);
        let instant = |detail| {
            TraceRecord::Instant(Instant {
                lane: LaneId(0),
                at: SimTime::ZERO,
                kind: "ack",
                label: "".into(),
                detail,
            })
        };
        let mut records = vec![instant(5), instant(2), instant(0)];
        let notes = ring.into_notes(&mut records);
        assert_eq!(notes, ["", "line 4", "line 5"]);
        let details: Vec<Option<u64>> = records.iter().map(detail).collect();
        assert_eq!(details, [Some(2), Some(0), Some(0)]);
    }
}
