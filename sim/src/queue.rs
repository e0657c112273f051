//! The pending-event set.
//!
//! # Ordering guarantee
//! Events leave the queue in increasing `(time, seq)` order, where `seq` is the order in which
//! they were scheduled. Two events for the same instant therefore come out **first scheduled,
//! first delivered (FIFO)**, whatever the heap's shape; this is what makes a run deterministic
//! without any tie-breaking by payload.
//!
//! # Cancellation
//! [`EventQueue::schedule_cancellable_at`] returns a [`CancelToken`] naming a *slot* and the
//! slot's *generation*. Cancelling bumps the slot's generation, so the entry still in the heap
//! no longer matches and is dropped when it reaches the top: cancellation is O(1) and never
//! searches the heap. A slot is reused once its event fires or is cancelled, so memory is bounded
//! by the number of cancellable events pending at once. Events scheduled without a token pay
//! nothing for this.
//!
//! # Representation
//! A 4-ary min-heap over a packed `u128` key (`time << 64 | seq`): one integer comparison per
//! step and half the depth of a binary heap. `benches/engine.rs` measures it against
//! `std::collections::BinaryHeap` on the PHOLD hold model.

use crate::time::{SimDuration, SimTime};

/// Names a cancellable pending event. Stale tokens (the event fired or was already cancelled)
/// are harmless: [`EventQueue::cancel`] returns `false` for them. A slot's generation is a
/// `u32`, so a token held across 2³² reuses of its slot could alias; no model holds one that long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CancelToken {
    slot: u32,
    generation: u32,
}

const NO_SLOT: u32 = u32::MAX;
const ARITY: usize = 4;

struct Entry<E> {
    key: u128,
    slot: u32,
    generation: u32,
    event: E,
}

impl<E> Entry<E> {
    fn time(&self) -> SimTime {
        SimTime::from_nanos((self.key >> 64) as u64)
    }
}

/// A deterministic future-event list. See the module docs for the ordering guarantee.
///
/// Invariants (checked by [`EventQueue::check_invariants`]): the heap property holds on the
/// packed keys; every live entry is at or after [`EventQueue::now`]; `live` equals the number of
/// entries whose slot generation still matches.
pub struct EventQueue<E> {
    heap: Vec<Entry<E>>,
    next_seq: u64,
    now: SimTime,
    live: usize,
    slot_generation: Vec<u32>,
    free_slots: Vec<u32>,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            heap: Vec::with_capacity(capacity),
            next_seq: 0,
            now: SimTime::ZERO,
            live: 0,
            slot_generation: Vec::new(),
            free_slots: Vec::new(),
        }
    }

    /// The time of the last event popped (zero before the first).
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Pending events that will fire (cancelled ones excluded).
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Events ever scheduled; also the `seq` the next one gets.
    pub fn scheduled_count(&self) -> u64 {
        self.next_seq
    }

    /// Schedules `event` at `time`. Panics if `time` is before [`Self::now`]: an event in the
    /// past is a model bug.
    #[inline]
    pub fn schedule_at(&mut self, time: SimTime, event: E) {
        self.push(time, NO_SLOT, 0, event);
    }

    /// Schedules `event` at `now + delay`.
    #[inline]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) {
        self.schedule_at(self.now + delay, event);
    }

    /// Schedules `event` at `time` and returns a token that can cancel it.
    pub fn schedule_cancellable_at(&mut self, time: SimTime, event: E) -> CancelToken {
        let slot = match self.free_slots.pop() {
            Some(s) => s,
            None => {
                let s = u32::try_from(self.slot_generation.len())
                    .ok()
                    .filter(|&s| s != NO_SLOT)
                    .expect("more than 2^32-1 cancellable events pending");
                self.slot_generation.push(0);
                s
            }
        };
        let generation = self.slot_generation[slot as usize];
        self.push(time, slot, generation, event);
        CancelToken { slot, generation }
    }

    /// Cancels the event behind `token`. Returns `true` if it was pending and now never fires,
    /// `false` if it had already fired or been cancelled.
    pub fn cancel(&mut self, token: CancelToken) -> bool {
        let g = &mut self.slot_generation[token.slot as usize];
        if *g != token.generation {
            return false;
        }
        *g = g.wrapping_add(1);
        self.free_slots.push(token.slot);
        self.live -= 1;
        true
    }

    /// Removes and returns the earliest live event, advancing [`Self::now`] to its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        loop {
            let entry = self.pop_entry()?;
            if entry.slot != NO_SLOT {
                let g = &mut self.slot_generation[entry.slot as usize];
                if *g != entry.generation {
                    continue; // cancelled: its slot has moved on
                }
                *g = g.wrapping_add(1);
                self.free_slots.push(entry.slot);
            }
            self.live -= 1;
            let t = entry.time();
            self.now = t;
            return Some((t, entry.event));
        }
    }

    /// The time of the earliest live event, discarding cancelled entries on top.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        while let Some(top) = self.heap.first() {
            if top.slot != NO_SLOT && self.slot_generation[top.slot as usize] != top.generation {
                self.pop_entry();
                continue;
            }
            return Some(top.time());
        }
        None
    }

    /// Panics with a message if an invariant of the type docs does not hold. O(n); for tests
    /// and debug builds.
    pub fn check_invariants(&self) {
        let mut live = 0;
        for (i, e) in self.heap.iter().enumerate() {
            if i > 0 {
                let parent = &self.heap[(i - 1) / ARITY];
                assert!(parent.key <= e.key, "heap property broken at index {i}");
            }
            let is_live =
                e.slot == NO_SLOT || self.slot_generation[e.slot as usize] == e.generation;
            if is_live {
                live += 1;
                assert!(
                    e.time() >= self.now,
                    "live event at {} is before now {}",
                    e.time(),
                    self.now
                );
            }
        }
        assert_eq!(live, self.live, "live-event count drifted");
    }

    #[inline]
    fn push(&mut self, time: SimTime, slot: u32, generation: u32, event: E) {
        assert!(
            time >= self.now,
            "event scheduled at {time}, before now {}",
            self.now
        );
        let key = ((time.as_nanos() as u128) << 64) | self.next_seq as u128;
        self.next_seq += 1;
        self.live += 1;
        self.heap.push(Entry {
            key,
            slot,
            generation,
            event,
        });
        self.sift_up(self.heap.len() - 1);
    }

    #[inline]
    fn pop_entry(&mut self) -> Option<Entry<E>> {
        let last = self.heap.pop()?;
        if self.heap.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut self.heap[0], last);
        self.sift_down(0);
        Some(top)
    }

    #[inline]
    fn sift_up(&mut self, mut i: usize) {
        let key = self.heap[i].key;
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if self.heap[parent].key <= key {
                break;
            }
            self.heap.swap(i, parent);
            i = parent;
        }
    }

    #[inline]
    fn sift_down(&mut self, mut i: usize) {
        let len = self.heap.len();
        let key = self.heap[i].key;
        loop {
            let first = i * ARITY + 1;
            if first >= len {
                break;
            }
            let end = (first + ARITY).min(len);
            let mut best = first;
            let mut best_key = self.heap[first].key;
            for c in first + 1..end {
                let k = self.heap[c].key;
                if k < best_key {
                    best = c;
                    best_key = k;
                }
            }
            if key <= best_key {
                break;
            }
            self.heap.swap(i, best);
            i = best;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ns: u64) -> SimTime {
        SimTime::from_nanos(ns)
    }

    fn drain(q: &mut EventQueue<u32>) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        while let Some((time, e)) = q.pop() {
            q.check_invariants();
            out.push((time.as_nanos(), e));
        }
        out
    }

    #[test]
    fn equal_times_come_out_in_insertion_order() {
        // 100 events at one instant, interleaved with later ones: if the heap's shape leaked
        // into the order, the payloads at t=5 would not come out 0..100 ascending.
        let mut q = EventQueue::new();
        for i in 0..100 {
            q.schedule_at(t(5), i);
            q.schedule_at(t(7), 1000 + i);
        }
        let out = drain(&mut q);
        let at5: Vec<u32> = out.iter().filter(|(ti, _)| *ti == 5).map(|x| x.1).collect();
        let at7: Vec<u32> = out.iter().filter(|(ti, _)| *ti == 7).map(|x| x.1).collect();
        assert_eq!(at5, (0..100).collect::<Vec<_>>());
        assert_eq!(at7, (1000..1100).collect::<Vec<_>>());
        assert_eq!(out.len(), 200);
    }

    #[test]
    fn events_come_out_in_time_order() {
        let mut q = EventQueue::new();
        for (i, time) in [50u64, 10, 30, 10, 40, 0, 20].iter().enumerate() {
            q.schedule_at(t(*time), i as u32);
        }
        let times: Vec<u64> = drain(&mut q).iter().map(|x| x.0).collect();
        assert_eq!(times, vec![0, 10, 10, 20, 30, 40, 50]);
    }

    #[test]
    fn cancelled_events_never_fire() {
        // Cancel every other of 50 events; only the uncancelled payloads may come out, and a
        // second cancel or a cancel after firing must report false.
        let mut q = EventQueue::new();
        let tokens: Vec<_> = (0..50)
            .map(|i| q.schedule_cancellable_at(t(100 - i as u64), i))
            .collect();
        for tok in tokens.iter().step_by(2) {
            assert!(q.cancel(*tok));
            assert!(!q.cancel(*tok), "double cancel must be a no-op");
        }
        assert_eq!(q.len(), 25);
        let fired: Vec<u32> = drain(&mut q).iter().map(|x| x.1).collect();
        assert!(
            fired.iter().all(|e| e % 2 == 1),
            "a cancelled event fired: {fired:?}"
        );
        assert_eq!(fired.len(), 25);
        assert!(!q.cancel(tokens[1]), "cancel after firing must be a no-op");
    }

    #[test]
    fn reused_slot_does_not_resurrect_or_kill_the_wrong_event() {
        // Slot reuse is where generation tokens earn their keep: the stale token for event A
        // must not cancel event B that now lives in A's slot.
        let mut q = EventQueue::new();
        let a = q.schedule_cancellable_at(t(10), 1);
        assert!(q.cancel(a));
        let b = q.schedule_cancellable_at(t(20), 2);
        assert!(!q.cancel(a));
        assert_eq!(q.pop(), Some((t(20), 2)));
        assert!(!q.cancel(b));
        assert!(q.is_empty());
    }

    #[test]
    fn peek_skips_cancelled() {
        let mut q = EventQueue::new();
        let a = q.schedule_cancellable_at(t(1), 1);
        q.schedule_at(t(2), 2);
        q.cancel(a);
        assert_eq!(q.peek_time(), Some(t(2)));
    }

    #[test]
    #[should_panic(expected = "before now")]
    fn scheduling_in_the_past_is_a_bug() {
        let mut q = EventQueue::new();
        q.schedule_at(t(10), 0u32);
        q.pop();
        q.schedule_at(t(5), 1);
    }
}
