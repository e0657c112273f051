//! A recorded run, indexed for drawing, in compact columns: the events the cursor stops on
//! in time order, spans per lane in start order, counter series, narration lines and the
//! page-frame log. Each table is a struct of arrays (times as `u64`, lanes and kinds as small
//! ints, kinds interned, labels and narration lines as ids into text buffers), so a million
//! records cost tens of bytes each rather than a rich record with its own strings.
//!
//! A view is built as the run is recorded ([`RunView::add`], in the order the records were
//! made) or from a whole trace ([`RunView::new`]); either way it ends the same: the newest
//! `capacity` records, ordered as a stable sort of them would order them. Drawing only reads
//! it.

use std::collections::{BTreeMap, HashMap, VecDeque};

use models::report::{RunOptions, RunReport, simulate};
use models::world::{FrameChange, FrameState, Trace};
use sim::{SimTime, TraceRecord};

/// FNV-1a: every record's kind is looked up, a short string for which SipHash's setup
/// costs more than the hashing. No keys come from outside, so flooding is not a concern.
#[derive(Clone, Copy, Debug)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

type FnvMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// Labels in recording order in one text buffer, a label repeated by the kind's previous
/// record stored once: most labels name a sequence number or an ACK ("ACK 1460"), so they
/// are kept as text, but a CPU's steps and the bus's transfers repeat theirs ("app 0: copy").
#[derive(Clone, Debug, Default)]
struct Labels {
    texts: Texts,
    /// Per kind id, its last record's label.
    last: Vec<Option<u64>>,
}

impl Labels {
    fn id(&mut self, kind: u16, label: &str) -> u64 {
        let k = kind as usize;
        if self.last.len() <= k {
            self.last.resize(k + 1, None);
        }
        if let Some(id) = self.last[k]
            && self.texts.get(id) == Some(label)
        {
            return id;
        }
        let id = self.texts.push_next(label);
        self.last[k] = Some(id);
        id
    }
}

/// Record kinds ("copy", "ack"), a few dozen at most: a record holds a `u16`.
#[derive(Clone, Debug, Default)]
struct Kinds {
    names: Vec<&'static str>,
    ids: FnvMap<&'static str, u16>,
}

impl Kinds {
    fn id(&mut self, kind: &'static str) -> u16 {
        *self.ids.entry(kind).or_insert_with(|| {
            self.names.push(kind);
            u16::try_from(self.names.len() - 1).expect("fewer than 65536 record kinds")
        })
    }
}

/// Binary search over indices: the first `i` in `0..n` where `pred(i)` is false, for a
/// `pred` true on a prefix.
fn partition(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// A table of columns kept sorted by a key, ties in recording order (`seq`).
trait Table {
    type Row: Copy;
    type Key: Ord;
    fn len(&self) -> usize;
    fn row(&self, i: usize) -> Self::Row;
    fn set(&mut self, i: usize, r: Self::Row);
    fn push(&mut self, r: Self::Row);
    fn truncate(&mut self, n: usize);
    fn key(r: &Self::Row) -> Self::Key;
    fn seq(&self, i: usize) -> u64;
}

/// Adds `rows` (recorded after everything in `t`, in recording order) keeping `t` sorted,
/// ties in recording order: what a stable sort of all of them gives. Records come nearly in
/// time order, so only the short tail of `t` later than the first new row is merged.
fn merge<T: Table>(t: &mut T, mut rows: Vec<T::Row>) {
    if rows.is_empty() {
        return;
    }
    rows.sort_by_key(T::key);
    let first = T::key(&rows[0]);
    let p = partition(t.len(), |i| T::key(&t.row(i)) <= first);
    let tail: Vec<T::Row> = (p..t.len()).map(|i| t.row(i)).collect();
    t.truncate(p);
    let (mut a, mut b) = (tail.into_iter().peekable(), rows.into_iter().peekable());
    loop {
        // On equal keys the old row goes first: it was recorded earlier.
        let take_new = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => T::key(y) < T::key(x),
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => break,
        };
        let r = if take_new { b.next() } else { a.next() };
        t.push(r.expect("peeked"));
    }
}

/// Keeps the rows recorded at or after `cut`, in their order.
fn retain<T: Table>(t: &mut T, cut: u64) {
    let mut w = 0;
    for i in 0..t.len() {
        if t.seq(i) >= cut {
            let r = t.row(i);
            t.set(w, r);
            w += 1;
        }
    }
    t.truncate(w);
}

/// Something the cursor can stop on: a span's start or an instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event<'a> {
    pub time: u64,
    pub end: u64,
    pub lane: usize,
    pub kind: &'static str,
    pub label: &'a str,
    /// The narration line's id ([`RunView::note`]); 0 for none.
    pub detail: u64,
}

#[derive(Clone, Copy, Debug)]
struct EventRow {
    time: u64,
    end: u64,
    seq: u64,
    detail: u64,
    label: u64,
    lane: u16,
    kind: u16,
}

/// The events the cursor steps through, in (time, lane) order, ties in recording order; a
/// column per field.
#[derive(Clone, Debug, Default)]
pub struct Events {
    time: Vec<u64>,
    end: Vec<u64>,
    /// When it was recorded: its place among all the run's records.
    seq: Vec<u64>,
    detail: Vec<u64>,
    label: Vec<u64>,
    lane: Vec<u16>,
    kind: Vec<u16>,
    kinds: Kinds,
    labels: Labels,
}

impl Table for Events {
    type Row = EventRow;
    type Key = (u64, u16);
    fn len(&self) -> usize {
        self.time.len()
    }
    fn row(&self, i: usize) -> EventRow {
        EventRow {
            time: self.time[i],
            end: self.end[i],
            seq: self.seq[i],
            detail: self.detail[i],
            label: self.label[i],
            lane: self.lane[i],
            kind: self.kind[i],
        }
    }
    fn set(&mut self, i: usize, r: EventRow) {
        self.time[i] = r.time;
        self.end[i] = r.end;
        self.seq[i] = r.seq;
        self.detail[i] = r.detail;
        self.label[i] = r.label;
        self.lane[i] = r.lane;
        self.kind[i] = r.kind;
    }
    fn push(&mut self, r: EventRow) {
        self.time.push(r.time);
        self.end.push(r.end);
        self.seq.push(r.seq);
        self.detail.push(r.detail);
        self.label.push(r.label);
        self.lane.push(r.lane);
        self.kind.push(r.kind);
    }
    fn truncate(&mut self, n: usize) {
        self.time.truncate(n);
        self.end.truncate(n);
        self.seq.truncate(n);
        self.detail.truncate(n);
        self.label.truncate(n);
        self.lane.truncate(n);
        self.kind.truncate(n);
    }
    fn key(r: &EventRow) -> (u64, u16) {
        (r.time, r.lane)
    }
    fn seq(&self, i: usize) -> u64 {
        self.seq[i]
    }
}

impl Events {
    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<Event<'_>> {
        (i < self.len()).then(|| Event {
            time: self.time[i],
            end: self.end[i],
            lane: self.lane[i] as usize,
            kind: self.kinds.names[self.kind[i] as usize],
            label: self
                .labels
                .texts
                .get(self.label[i])
                .expect("a kept event's label is kept"),
            detail: self.detail[i],
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = Event<'_>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// Event `i`'s time (panics past the end).
    pub fn time(&self, i: usize) -> u64 {
        self.time[i]
    }

    /// Event `i`'s kind as a small id: equal ids, equal kinds (panics past the end).
    pub fn kind_id(&self, i: usize) -> u16 {
        self.kind[i]
    }

    /// The name of a kind id ([`Events::kind_id`], [`SpanRec::kind`]).
    pub fn kind_name(&self, id: u16) -> &'static str {
        self.kinds.names[id as usize]
    }

    /// Where event `i` stands for [`Events::find`]: its time and when it was recorded.
    pub fn place(&self, i: usize) -> Option<(u64, u64)> {
        (i < self.len()).then(|| (self.time[i], self.seq[i]))
    }

    /// The index of the event at `place` now (after records were added or dropped), or of
    /// the first one after its time if it was dropped.
    pub fn find(&self, place: (u64, u64)) -> usize {
        let first = self.first_at(place.0);
        (first..self.len())
            .take_while(|&i| self.time[i] == place.0)
            .find(|&i| self.seq[i] == place.1)
            .unwrap_or(first)
    }

    /// The instants (events that take no time) among events `range`: their times, lanes
    /// and kind ids, read straight from the columns.
    pub fn instants(
        &self,
        range: std::ops::Range<usize>,
    ) -> impl Iterator<Item = (u64, usize, u16)> + '_ {
        range
            .filter(|&i| self.time[i] == self.end[i])
            .map(|i| (self.time[i], self.lane[i] as usize, self.kind[i]))
    }

    /// The index of the first event at or after `t`.
    pub fn first_at(&self, t: u64) -> usize {
        self.time.partition_point(|&x| x < t)
    }
}

/// A span on a lane: its times and its kind's id ([`Events::kind_name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanRec {
    pub start: u64,
    pub end: u64,
    pub kind: u16,
}

#[derive(Clone, Copy, Debug)]
struct SpanRow {
    span: SpanRec,
    seq: u64,
}

/// One lane's spans in (start, end) order, ties in recording order, with the longest
/// span's length (to find the spans that reach into a window without scanning from the
/// beginning).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lane {
    pub name: String,
    start: Vec<u64>,
    end: Vec<u64>,
    kind: Vec<u16>,
    seq: Vec<u64>,
    pub longest: u64,
}

impl Table for Lane {
    type Row = SpanRow;
    type Key = (u64, u64);
    fn len(&self) -> usize {
        self.start.len()
    }
    fn row(&self, i: usize) -> SpanRow {
        SpanRow {
            span: self.span(i),
            seq: self.seq[i],
        }
    }
    fn set(&mut self, i: usize, r: SpanRow) {
        self.start[i] = r.span.start;
        self.end[i] = r.span.end;
        self.kind[i] = r.span.kind;
        self.seq[i] = r.seq;
    }
    fn push(&mut self, r: SpanRow) {
        self.start.push(r.span.start);
        self.end.push(r.span.end);
        self.kind.push(r.span.kind);
        self.seq.push(r.seq);
    }
    fn truncate(&mut self, n: usize) {
        self.start.truncate(n);
        self.end.truncate(n);
        self.kind.truncate(n);
        self.seq.truncate(n);
    }
    fn key(r: &SpanRow) -> (u64, u64) {
        (r.span.start, r.span.end)
    }
    fn seq(&self, i: usize) -> u64 {
        self.seq[i]
    }
}

impl Lane {
    /// How many spans the lane holds.
    pub fn span_count(&self) -> usize {
        self.start.len()
    }

    fn span(&self, i: usize) -> SpanRec {
        SpanRec {
            start: self.start[i],
            end: self.end[i],
            kind: self.kind[i],
        }
    }

    /// The spans overlapping `[from, to)`, and (at the start) a few that ended before it
    /// but started less than the longest span's length earlier.
    pub fn visible(&self, from: u64, to: u64) -> impl Iterator<Item = SpanRec> + '_ {
        let lo = self
            .start
            .partition_point(|&s| s < from.saturating_sub(self.longest));
        let hi = self.start.partition_point(|&s| s < to);
        (lo..hi.max(lo)).map(|i| self.span(i))
    }

    fn refresh_longest(&mut self) {
        self.longest = (0..self.len())
            .map(|i| self.end[i] - self.start[i])
            .max()
            .unwrap_or(0);
    }
}

/// A counter series in recording order (which is time order: counters are sampled now).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    at: Vec<u64>,
    value: Vec<f64>,
    seq: Vec<u64>,
}

impl Series {
    pub fn len(&self) -> usize {
        self.at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    /// The samples, (time, value), in time order.
    pub fn samples(&self) -> impl Iterator<Item = (u64, f64)> + '_ {
        self.at.iter().copied().zip(self.value.iter().copied())
    }

    /// The largest value sampled (0 for none).
    pub fn max(&self) -> f64 {
        self.value.iter().copied().fold(0.0, f64::max)
    }

    /// Drops the samples recorded before `cut` but the newest of them: a series holds
    /// running values, so the value right before its first kept sample is still needed.
    fn trim(&mut self, cut: u64) {
        let p = self.seq.partition_point(|&s| s < cut);
        if p > 1 {
            self.at.drain(..p - 1);
            self.value.drain(..p - 1);
            self.seq.drain(..p - 1);
        }
    }
}

/// Lines under consecutive ids in one text buffer: the narration lines (under their
/// run-long ids, the newest as many as records are kept) and the labels.
#[derive(Clone, Debug, Default)]
pub struct Texts {
    text: String,
    /// Where each line ends in `text`.
    ends: Vec<usize>,
    /// The id of the first line kept.
    first: u64,
}

impl Texts {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Keeps line `id`; ids come one after another.
    fn push(&mut self, id: u64, line: &str) {
        if self.ends.is_empty() {
            self.first = id;
        }
        assert_eq!(
            id,
            self.first + self.ends.len() as u64,
            "lines come in id order, none missing"
        );
        self.text.push_str(line);
        self.ends.push(self.text.len());
    }

    /// Keeps `line` under the next id, and returns it.
    fn push_next(&mut self, line: &str) -> u64 {
        let id = self.first + self.ends.len() as u64;
        self.push(id, line);
        id
    }

    fn get(&self, id: u64) -> Option<&str> {
        let i = usize::try_from(id.checked_sub(self.first)?).ok()?;
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..end])
    }

    /// Keeps the newest `keep` lines.
    fn keep_newest(&mut self, keep: usize) {
        let drop = self.ends.len().saturating_sub(keep);
        self.drop_first(drop);
    }

    /// Drops the lines before id `id`.
    fn keep_from(&mut self, id: u64) {
        let drop = id.saturating_sub(self.first).min(self.ends.len() as u64);
        self.drop_first(drop as usize);
    }

    fn shrink(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    fn drop_first(&mut self, drop: usize) {
        if drop == 0 {
            return;
        }
        let cut = self.ends[drop - 1];
        self.text.drain(..cut);
        self.ends.drain(..drop);
        for e in &mut self.ends {
            *e -= cut;
        }
        self.first += drop as u64;
    }
}

/// Where a view's recording stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Waiting for the runs before it to be recorded.
    Queued,
    /// Being recorded: `events` spans and instants so far, the newest at `at`.
    Recording { events: u64, at: SimTime },
    /// Recorded to the end.
    Done,
}

/// A run ready to draw.
#[derive(Clone, Debug)]
pub struct RunView {
    pub name: String,
    /// The run's report, once it has been recorded to the end.
    pub report: Option<RunReport>,
    pub lanes: Vec<Lane>,
    pub events: Events,
    pub counters: BTreeMap<&'static str, Series>,
    pub notes: Texts,
    pub frames: Vec<FrameChange>,
    pub frame_count: u32,
    pub end: u64,
    /// Records dropped to keep the newest `capacity`.
    pub dropped: u64,
    pub status: Status,
    /// Most records kept.
    capacity: usize,
    /// Records added so far (the next one's `seq`).
    seq: u64,
    /// Spans and instants added so far.
    recorded_events: u64,
    /// The latest time among kept records: a queue of (seq, time) whose times fall, so the
    /// front is the latest of those at or after any cut.
    latest: VecDeque<(u64, u64)>,
}

impl RunView {
    /// The view of a run still to be recorded, keeping its newest `capacity` records (as a
    /// trace's ring of that capacity would).
    pub fn recording(name: String, capacity: usize) -> RunView {
        RunView {
            name,
            report: None,
            lanes: Vec::new(),
            events: Events::default(),
            counters: BTreeMap::new(),
            notes: Texts::default(),
            frames: Vec::new(),
            frame_count: 0,
            end: 1,
            dropped: 0,
            status: Status::Queued,
            capacity: capacity.max(1),
            seq: 0,
            recorded_events: 0,
            latest: VecDeque::new(),
        }
    }

    /// The view of a whole recorded trace.
    pub fn new(name: String, report: RunReport, trace: Trace) -> Self {
        let mut v = RunView::recording(name, usize::MAX);
        v.declare_lanes(&trace.lanes);
        for (id, line) in trace.notes.iter().enumerate().skip(1) {
            v.add_note(id as u64, line);
        }
        v.add(trace.records);
        v.add_frames(trace.frames, trace.frame_count);
        v.finish(report, trace.end);
        v.dropped = trace.dropped;
        v
    }

    /// Names the lanes, by `LaneId`.
    pub fn declare_lanes(&mut self, names: &[String]) {
        for (i, n) in names.iter().enumerate() {
            if self.lanes.len() <= i {
                self.lanes.resize_with(i + 1, Lane::default);
            }
            self.lanes[i].name.clone_from(n);
        }
    }

    /// Adds records in the order they were made, then drops the oldest beyond the capacity
    /// (with some slack while recording, so dropping costs little per record).
    pub fn add(&mut self, records: impl IntoIterator<Item = TraceRecord>) {
        let mut events = Vec::new();
        let mut spans: Vec<Vec<SpanRow>> = Vec::new();
        for r in records {
            let seq = self.seq;
            self.seq += 1;
            let at = r.at().as_nanos();
            while self.latest.back().is_some_and(|&(_, t)| t <= at) {
                self.latest.pop_back();
            }
            self.latest.push_back((seq, at));
            let (time, end, lane, kind, label, detail) = match r {
                TraceRecord::Span(s) => {
                    let (start, end) = (s.start.as_nanos(), s.end.as_nanos());
                    let kind = self.events.kinds.id(s.kind);
                    let lane = s.lane.0 as usize;
                    if spans.len() <= lane {
                        spans.resize_with(lane + 1, Vec::new);
                    }
                    spans[lane].push(SpanRow {
                        span: SpanRec { start, end, kind },
                        seq,
                    });
                    (start, end, lane, kind, s.label, s.detail)
                }
                TraceRecord::Instant(i) => {
                    let kind = self.events.kinds.id(i.kind);
                    let at = i.at.as_nanos();
                    (at, at, i.lane.0 as usize, kind, i.label, i.detail)
                }
                TraceRecord::Counter(c) => {
                    let s = self.counters.entry(c.series).or_default();
                    s.at.push(c.at.as_nanos());
                    s.value.push(c.value);
                    s.seq.push(seq);
                    continue;
                }
                // The arrows are for Perfetto; the timeline links records by their narration.
                TraceRecord::Flow(_) => continue,
            };
            self.recorded_events += 1;
            events.push(EventRow {
                time,
                end,
                seq,
                detail,
                label: self.events.labels.id(kind, &label),
                lane: u16::try_from(lane).expect("fewer than 65536 lanes"),
                kind,
            });
        }
        merge(&mut self.events, events);
        for (i, rows) in spans.into_iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            if self.lanes.len() <= i {
                self.lanes.resize_with(i + 1, Lane::default);
            }
            let lane = &mut self.lanes[i];
            for r in &rows {
                lane.longest = lane.longest.max(r.span.end - r.span.start);
            }
            merge(lane, rows);
        }
        self.end = self.latest.front().map_or(1, |&(_, t)| t.max(1));
        let slack = self.capacity / 2;
        if self.seq - self.dropped > (self.capacity as u64).saturating_add(slack as u64) {
            self.trim();
        }
        if self.status != Status::Done {
            self.status = Status::Recording {
                events: self.recorded_events,
                at: SimTime::from_nanos(self.end),
            };
        }
    }

    /// Drops every record but the newest `capacity`, and every narration line but as many.
    fn trim(&mut self) {
        let cut = self.seq.saturating_sub(self.capacity as u64);
        if cut > self.dropped {
            retain(&mut self.events, cut);
            // Labels are stored in recording order: those before the oldest a kept event
            // points at are no longer needed.
            let oldest = self.events.label.iter().copied().min();
            let labels = &mut self.events.labels;
            labels.texts.keep_from(oldest.unwrap_or(u64::MAX));
            for last in &mut labels.last {
                *last = last.filter(|&id| id >= labels.texts.first);
            }
            for lane in &mut self.lanes {
                retain(lane, cut);
                lane.refresh_longest();
            }
            for s in self.counters.values_mut() {
                s.trim(cut);
            }
            while self.latest.front().is_some_and(|&(s, _)| s < cut) {
                self.latest.pop_front();
            }
            self.dropped = cut;
        }
        self.notes.keep_newest(self.capacity);
    }

    /// Keeps narration line `id` (ids come one after another from 1).
    pub fn add_note(&mut self, id: u64, line: &str) {
        self.notes.push(id, line);
        // Lines are the bulk of a view's memory: little slack.
        if self.notes.len() > self.capacity.saturating_add(self.capacity / 8) {
            self.notes.keep_newest(self.capacity);
        }
    }

    /// Adds frame changes (in time order) and how many frames exist now.
    pub fn add_frames(&mut self, changes: impl IntoIterator<Item = FrameChange>, count: u32) {
        self.frames.extend(changes);
        self.frame_count = count;
    }

    /// The run has ended at `now` with `report`: keeps exactly the newest `capacity`
    /// records, and ends the view at the last of them (at `now` if none is kept). Narration
    /// lines older than any a kept event points at can no longer be shown, and go; the
    /// columns give back the room they grew into.
    pub fn finish(&mut self, report: RunReport, now: SimTime) {
        self.trim();
        let oldest_note = self.events.detail.iter().copied().filter(|&d| d > 0).min();
        self.notes.keep_from(oldest_note.unwrap_or(u64::MAX));
        self.shrink();
        self.end = self
            .latest
            .front()
            .map_or(now.as_nanos(), |&(_, t)| t)
            .max(1);
        self.report = Some(report);
        self.status = Status::Done;
    }

    fn shrink(&mut self) {
        let e = &mut self.events;
        e.time.shrink_to_fit();
        e.end.shrink_to_fit();
        e.seq.shrink_to_fit();
        e.detail.shrink_to_fit();
        e.label.shrink_to_fit();
        e.lane.shrink_to_fit();
        e.kind.shrink_to_fit();
        e.labels.texts.shrink();
        for l in &mut self.lanes {
            l.start.shrink_to_fit();
            l.end.shrink_to_fit();
            l.kind.shrink_to_fit();
            l.seq.shrink_to_fit();
        }
        for s in self.counters.values_mut() {
            s.at.shrink_to_fit();
            s.value.shrink_to_fit();
            s.seq.shrink_to_fit();
        }
        self.notes.shrink();
        self.frames.shrink_to_fit();
    }

    /// Spans and instants recorded so far, kept or dropped.
    pub fn recorded_events(&self) -> u64 {
        self.recorded_events
    }

    /// The last value of a counter series at or before `t`.
    pub fn counter_at(&self, series: &str, t: u64) -> Option<f64> {
        let s = self.counters.get(series)?;
        let i = s.at.partition_point(|&at| at <= t);
        (i > 0).then(|| s.value[i - 1])
    }

    /// The largest value of a counter series (0 for none).
    pub fn counter_max(&self, series: &str) -> f64 {
        self.counters.get(series).map_or(0.0, Series::max)
    }

    /// The average of a counter series over `[from, to)`, weighting each value by how long
    /// it held (0 before the first sample).
    pub fn counter_mean(&self, series: &str, from: u64, to: u64) -> f64 {
        let Some(s) = self.counters.get(series) else {
            return 0.0;
        };
        if to <= from {
            return self.counter_at(series, from).unwrap_or(0.0);
        }
        let mut i = s.at.partition_point(|&at| at <= from);
        let mut value = if i > 0 { s.value[i - 1] } else { 0.0 };
        let mut t = from;
        let mut acc = 0.0;
        while t < to {
            let next = s.at.get(i).map_or(to, |&at| at.min(to));
            acc += value * (next - t) as f64;
            t = next;
            if let Some(&at) = s.at.get(i)
                && at <= t
            {
                value = s.value[i];
                i += 1;
            }
        }
        acc / (to - from) as f64
    }

    /// Every frame's state at `t`, by replaying the log.
    pub fn frames_at(&self, t: u64) -> Vec<FrameState> {
        let mut out = vec![FrameState::Free; self.frame_count as usize];
        for c in &self.frames {
            if c.at > SimTime::from_nanos(t) {
                break;
            }
            if let Some(slot) = out.get_mut(c.pfn.0 as usize) {
                *slot = c.state;
            }
        }
        out
    }

    /// The narration line behind a record.
    pub fn note(&self, detail: u64) -> Option<&str> {
        (detail > 0).then(|| self.notes.get(detail)).flatten()
    }
}

/// Runs `strategy` on `workload` on `world`, recording at most `records` trace records: what
/// a timeline shows. Panics if the strategy does not apply (callers pass resolved runs).
pub fn record(
    world: &models::world::WorldConfig,
    workload: &models::workload::Workload,
    strategy: models::strategy::Strategy,
    records: usize,
) -> (RunReport, Trace) {
    let f = simulate(
        world,
        workload,
        strategy,
        RunOptions {
            trace_records: Some(records),
            ..RunOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    (f.report, f.trace.expect("tracing was asked for"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use sim::trace::{Counter, Instant, Span};
    use sim::{LaneId, SimTime};

    fn span(start: u64, end: u64, label: &'static str) -> TraceRecord {
        TraceRecord::Span(Span {
            lane: LaneId(0),
            start: SimTime::from_nanos(start),
            end: SimTime::from_nanos(end),
            kind: "copy",
            label: label.into(),
            detail: 0,
        })
    }

    fn instant(at: u64, label: &'static str) -> TraceRecord {
        TraceRecord::Instant(Instant {
            lane: LaneId(0),
            at: SimTime::from_nanos(at),
            kind: "ack",
            label: label.into(),
            detail: 0,
        })
    }

    fn counter(at: u64, value: f64) -> TraceRecord {
        TraceRecord::Counter(Counter {
            series: "faults",
            at: SimTime::from_nanos(at),
            value,
        })
    }

    /// A real report of a tiny run; the view only keeps it.
    pub(crate) fn report() -> RunReport {
        let w = models::workload::Workload::BulkSend {
            total_bytes: 4096,
            write_size: 4096,
            source: models::workload::BulkSource::Memory,
        };
        let sc = scenarios::load_default(&scenarios::Overrides::default()).unwrap();
        models::report::run(
            &sc.target.world,
            &w,
            models::strategy::Strategy::Copy,
            RunOptions::default(),
        )
        .unwrap()
    }

    fn labels(v: &RunView) -> Vec<&str> {
        v.events.iter().map(|e| e.label).collect()
    }

    #[test]
    fn a_late_span_is_merged_into_place_and_ties_keep_recording_order() {
        // Spans are recorded when they end, so one that started early arrives after later
        // events: "c" (20..50) comes after "b" at 30, in a second batch. Sorted by start it
        // goes before "b"; "d" at 30 ties with "b" (same time, same lane) and must stay
        // after it, as a stable sort of everything would leave it.
        let mut v = RunView::recording("t".into(), 100);
        v.add([span(10, 15, "a"), instant(30, "b")]);
        v.add([span(20, 50, "c"), instant(30, "d"), instant(60, "e")]);
        assert_eq!(labels(&v), ["a", "c", "b", "d", "e"]);
        let spans: Vec<(u64, u64)> = v.lanes[0]
            .visible(0, 100)
            .map(|s| (s.start, s.end))
            .collect();
        assert_eq!(spans, [(10, 15), (20, 50)]);
        assert_eq!(v.lanes[0].longest, 30, "c lasts 50 - 20 ns");
    }

    #[test]
    fn dropping_keeps_the_newest_records_and_the_last_dropped_counter_value() {
        // Capacity 3 over six records: a ring keeps the last three (the instant at 50 and
        // counters at 60 and 70) and the newest dropped counter sample (2.0 at 40), so the
        // series reads 2.0 right before its first kept sample; 3 records are dropped.
        let mut v = RunView::recording("t".into(), 3);
        v.add([
            counter(10, 1.0),
            instant(20, "a"),
            counter(40, 2.0),
            instant(50, "b"),
        ]);
        v.add([counter(60, 3.0), counter(70, 4.0)]);
        v.finish(report(), SimTime::from_nanos(80));
        assert_eq!(labels(&v), ["b"]);
        assert_eq!(v.dropped, 3);
        assert_eq!(v.counter_at("faults", 45), Some(2.0));
        assert_eq!(v.counter_at("faults", 65), Some(3.0));
        assert_eq!(v.end, 70, "the last kept record's time");
    }
}
