//! A recorded run, indexed for drawing: spans per lane in start order, one time-ordered list
//! of events for the cursor, counter series, and the page-frame log. Built once; drawing only
//! reads it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use models::report::{RunOptions, RunReport, simulate};
use models::world::{FrameChange, FrameState, Trace};
use sim::{SimTime, TraceRecord};

/// A span on a lane.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRec {
    pub start: u64,
    pub end: u64,
    pub kind: &'static str,
    pub label: Cow<'static, str>,
    pub detail: u64,
}

/// Something the cursor can stop on: a span's start or an instant.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub time: u64,
    pub end: u64,
    pub lane: usize,
    pub kind: &'static str,
    pub label: Cow<'static, str>,
    pub detail: u64,
}

/// One lane's spans, in start order, with the longest span's length (to find the spans that
/// reach into a window without scanning from the beginning).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lane {
    pub name: String,
    pub spans: Vec<SpanRec>,
    pub longest: u64,
}

impl Lane {
    /// The spans overlapping `[from, to)`.
    pub fn visible(&self, from: u64, to: u64) -> &[SpanRec] {
        let lo = self
            .spans
            .partition_point(|s| s.start < from.saturating_sub(self.longest));
        let hi = self.spans.partition_point(|s| s.start < to);
        &self.spans[lo..hi.max(lo)]
    }
}

/// A run ready to draw.
#[derive(Clone, Debug)]
pub struct RunView {
    pub name: String,
    pub report: RunReport,
    pub lanes: Vec<Lane>,
    pub events: Vec<Event>,
    pub counters: BTreeMap<&'static str, Vec<(u64, f64)>>,
    pub notes: Vec<String>,
    pub frames: Vec<FrameChange>,
    pub frame_count: u32,
    pub end: u64,
    pub dropped: u64,
}

impl RunView {
    pub fn new(name: String, report: RunReport, trace: Trace) -> Self {
        let mut lanes: Vec<Lane> = trace
            .lanes
            .iter()
            .map(|n| Lane {
                name: n.clone(),
                ..Lane::default()
            })
            .collect();
        let mut events = Vec::new();
        let mut counters: BTreeMap<&'static str, Vec<(u64, f64)>> = BTreeMap::new();
        for r in trace.records {
            match r {
                TraceRecord::Span(s) => {
                    let lane = s.lane.0 as usize;
                    events.push(Event {
                        time: s.start.as_nanos(),
                        end: s.end.as_nanos(),
                        lane,
                        kind: s.kind,
                        label: s.label.clone(),
                        detail: s.detail,
                    });
                    let l = &mut lanes[lane];
                    l.longest = l.longest.max(s.end.as_nanos() - s.start.as_nanos());
                    l.spans.push(SpanRec {
                        start: s.start.as_nanos(),
                        end: s.end.as_nanos(),
                        kind: s.kind,
                        label: s.label,
                        detail: s.detail,
                    });
                }
                TraceRecord::Instant(i) => events.push(Event {
                    time: i.at.as_nanos(),
                    end: i.at.as_nanos(),
                    lane: i.lane.0 as usize,
                    kind: i.kind,
                    label: i.label,
                    detail: i.detail,
                }),
                TraceRecord::Counter(c) => counters
                    .entry(c.series)
                    .or_default()
                    .push((c.at.as_nanos(), c.value)),
                // The arrows are for Perfetto; the timeline links records by their narration.
                TraceRecord::Flow(_) => {}
            }
        }
        for l in &mut lanes {
            l.spans.sort_by_key(|s| (s.start, s.end));
        }
        events.sort_by_key(|e| (e.time, e.lane));
        RunView {
            name,
            report,
            lanes,
            events,
            counters,
            notes: trace.notes,
            frames: trace.frames,
            frame_count: trace.frame_count,
            end: trace.end.as_nanos().max(1),
            dropped: trace.dropped,
        }
    }

    /// The last value of a counter series at or before `t`.
    pub fn counter_at(&self, series: &str, t: u64) -> Option<f64> {
        let s = self.counters.get(series)?;
        let i = s.partition_point(|(at, _)| *at <= t);
        (i > 0).then(|| s[i - 1].1)
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
        let mut i = s.partition_point(|(at, _)| *at <= from);
        let mut value = if i > 0 { s[i - 1].1 } else { 0.0 };
        let mut t = from;
        let mut acc = 0.0;
        while t < to {
            let next = s.get(i).map_or(to, |(at, _)| (*at).min(to));
            acc += value * (next - t) as f64;
            t = next;
            if let Some((at, v)) = s.get(i)
                && *at <= t
            {
                value = *v;
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
        (detail > 0)
            .then(|| self.notes.get(detail as usize))
            .flatten()
            .map(String::as_str)
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
