//! The pending-event set.
//!
//! # Ordering guarantee
//! Events leave the queue in increasing `(time, seq)` order, where `seq` is the order in which
//! they were scheduled. Two events for the same instant therefore come out **first scheduled,
//! first delivered (FIFO)**, whatever the representation; this is what makes a run
//! deterministic without any tie-breaking by payload.
//!
//! # Cancellation
//! [`EventQueue::schedule_cancellable_at`] returns a [`CancelToken`] naming a *slot* and the
//! slot's *generation*. Cancelling bumps the slot's generation, so the entry still pending no
//! longer matches and is dropped when it comes out, or earlier when the pending set re-files
//! or purges the entries around it: cancellation is O(1) and never searches.
//! A slot is reused once its event fires or is cancelled, so memory is bounded by the number
//! of cancellable events pending at once. Events scheduled without a token pay nothing for
//! this.
//!
//! # Representation
//! Four [`PendingSet`]s, measured against each other and `std`'s `BinaryHeap` by
//! `benches/engine.rs`, the `phold` example and the model's `speed` example:
//! - [`Tiered`] (the default): a [`SortedVec`] while at most 24 entries are pending, a
//!   [`RadixHeap`] above that, and back at 8. A model of one machine keeps a handful pending
//!   (a CPU step, a bus wake-up, a frame on the wire, a timer): there a push that scans a few
//!   entries from the earliest end and a pop off a `Vec`'s end beat any heap (on
//!   `embedded-100tx`, 939 → 894 instructions per model event and about 10% more events per
//!   second). A server's thousand clients live in its radix heap. PHOLD, whose 1024 pending
//!   events never get near the small tier, uses the radix heap directly: the tier test on
//!   every push and pop cost it 25 instructions per event (375 to 400).
//! - [`SortedVec`]: the small tier alone, a `Vec` sorted latest first. Cancelled entries
//!   stay in it until they come out (the queue skips them) or a purge drops them.
//! - [`RadixHeap`]: simulated time never goes backwards, so a radix heap
//!   (Ahuja, Mehlhorn, Orlin and Tarjan, 1990) applies, here with 64-way digits as in a
//!   hierarchical timing wheel: an entry is filed by the highest 6-bit digit where its time
//!   differs from the front's, in the slot of its own digit there. A push is an `xor`, a
//!   leading-zero count and a `Vec` push; a pop takes from the front slot or, when it is
//!   empty, moves the front to the earliest occupied slot (two `trailing_zeros`: the level,
//!   then the slot), re-filing it only when it is above level 0 and holds more than one
//!   entry, each entry at most once per level between re-basings. PHOLD's 1024 pending events, a nanosecond apart, span two or
//!   three levels; the binary radix heap this replaced re-filed each about ten times.
//!   FIFO among equal times needs no sequence number: entries keep their push order through
//!   every re-filing.
//! - [`QuaternaryHeap`]: a 4-ary min-heap over a packed `u128` key (`time << 64 | seq`).

use std::collections::VecDeque;

use crate::time::{SimDuration, SimTime};

/// Whether `e` is still pending: scheduled without a token, or its slot has not moved on.
#[inline]
fn live_in<E>(generations: &[u32], e: &Entry<E>) -> bool {
    e.slot == NO_SLOT || generations[e.slot as usize] == e.generation
}

/// Names a cancellable pending event. Stale tokens (the event fired or was already cancelled)
/// are harmless: [`EventQueue::cancel`] returns `false` for them. A slot's generation is a
/// `u32`, so a token held across 2³² reuses of its slot could alias; no model holds one that long.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CancelToken {
    slot: u32,
    generation: u32,
}

const NO_SLOT: u32 = u32::MAX;

/// Dead entries tolerated beyond the live count before a cancellation purges them.
const PURGE_SLACK: usize = 256;

/// One pending event with its cancellation slot.
pub struct Entry<E> {
    time: u64,
    slot: u32,
    generation: u32,
    event: E,
}

impl<E> Entry<E> {
    fn time(&self) -> SimTime {
        SimTime::from_nanos(self.time)
    }
}

/// How pending entries are kept: the earliest time first, FIFO among equal times. Every push
/// is at or after the time of the last entry popped (a peek may have looked further ahead;
/// a push before the peeked time must still come out first).
pub trait PendingSet<E>: Default {
    fn push(&mut self, entry: Entry<E>);
    /// The earliest entry (the first pushed among equal times). `live` tells entries that
    /// still matter from cancelled ones: a set may drop dead entries it has to touch anyway
    /// while it reorganizes (it need not; the queue skips any it returns).
    fn pop(&mut self, live: impl Fn(&Entry<E>) -> bool) -> Option<Entry<E>>;
    /// The earliest entry, without removing it; `live` as for [`PendingSet::pop`].
    fn peek(&mut self, live: impl Fn(&Entry<E>) -> bool) -> Option<&Entry<E>>;
    /// [`PendingSet::pop`], but only if the earliest entry is dead or `due`: a peek and a
    /// pop in one.
    #[inline]
    fn pop_if(
        &mut self,
        live: impl Fn(&Entry<E>) -> bool,
        due: impl Fn(&Entry<E>) -> bool,
    ) -> Option<Entry<E>> {
        let top = self.peek(&live)?;
        if live(top) && !due(top) {
            return None;
        }
        self.pop(live)
    }
    /// Every entry, in no particular order.
    fn for_each(&self, f: impl FnMut(&Entry<E>));
    /// Entries held, dead ones included.
    fn held(&self) -> usize;
    /// Drops every entry `live` rejects, keeping the order of the rest.
    fn purge(&mut self, live: impl Fn(&Entry<E>) -> bool);
    /// Panics if the representation's own invariant is broken.
    fn check(&self);
}

/// Bits per digit of the radix heap: a level's 64 slots fit one `u64` occupancy word.
const DIGIT: u32 = 6;
/// Slots per level.
const SLOTS: usize = 1 << DIGIT;
/// Levels that a 64-bit time needs (digits 0..=10; digit 10 has 4 bits).
const LEVELS: usize = 64usize.div_ceil(DIGIT as usize);

/// A radix heap over times with 64-way digits; see the module docs.
///
/// An entry at time `t` other than `last` (the front's time) is filed by the highest 6-bit
/// digit where `t` and `last` differ, level `L`, in slot `t`'s digit `L`. Every entry is at or
/// after `last`, so its slot comes after `last`'s own digit at its level, and the lowest
/// occupied slot of the lowest occupied level holds the earliest entries.
///
/// Invariant ([`PendingSet::check`]): `current` holds exactly the entries at `last`; every
/// other entry sits in the slot its time and `last` name; each keeps push order; `occupied`
/// has a bit set exactly for the non-empty slots and `levels` exactly for the levels with
/// one; `held` counts the entries and `slotted` those with a cancellation slot.
pub struct RadixHeap<E> {
    /// The entries at `last`, FIFO.
    current: VecDeque<Entry<E>>,
    /// `slots[L][d]`. At level 0 each slot is a single time, `last` with its lowest digit
    /// replaced by `d`.
    slots: [[Vec<Entry<E>>; SLOTS]; LEVELS],
    /// Bit `d` of `occupied[L]` set when `slots[L][d]` is non-empty.
    occupied: [u64; LEVELS],
    /// Bit `L` set when `occupied[L]` is not zero.
    levels: u16,
    last: u64,
    /// Entries held, dead ones included (kept so the queue can ask on every cancellation).
    held: usize,
    /// Entries held that were scheduled with a cancellation slot: only they can be dead, so
    /// with none held a re-filing skips the liveness test.
    slotted: usize,
}

impl<E> Default for RadixHeap<E> {
    fn default() -> Self {
        RadixHeap {
            current: VecDeque::new(),
            slots: std::array::from_fn(|_| std::array::from_fn(|_| Vec::new())),
            occupied: [0; LEVELS],
            levels: 0,
            last: 0,
            held: 0,
            slotted: 0,
        }
    }
}

impl<E> RadixHeap<E> {
    /// Level and slot of `time` against `last`; `None` for `last` itself.
    #[inline]
    fn place(last: u64, time: u64) -> Option<(usize, usize)> {
        let x = time ^ last;
        if x == 0 {
            return None;
        }
        let level = (63 - x.leading_zeros()) / DIGIT;
        Some((
            level as usize,
            ((time >> (level * DIGIT)) % SLOTS as u64) as usize,
        ))
    }

    #[inline(always)]
    fn file(&mut self, entry: Entry<E>) {
        match Self::place(self.last, entry.time) {
            None => self.current.push_back(entry),
            Some((level, d)) => {
                self.slots[level][d].push(entry);
                self.occupied[level] |= 1 << d;
                self.levels |= 1 << level;
            }
        }
    }

    /// Re-bases an empty heap at `time`, the earliest of the pushes to follow, so they file
    /// low instead of re-filing down from a stale front.
    fn restart(&mut self, time: u64) {
        assert_eq!(self.held, 0, "re-basing a radix heap that holds entries");
        self.last = time;
    }

    /// Takes the front of `current`, keeping the counts.
    #[inline]
    fn take_front(&mut self) -> Option<Entry<E>> {
        let e = self.current.pop_front()?;
        self.held -= 1;
        self.slotted -= usize::from(e.slot != NO_SLOT);
        Some(e)
    }

    fn count_slotted(&self) -> usize {
        let mut n = 0;
        self.for_each(|e| n += usize::from(e.slot != NO_SLOT));
        n
    }

    /// The earliest occupied slot (level, digit): the lowest slot of the lowest level.
    #[inline]
    fn earliest(&self) -> Option<(usize, usize)> {
        if self.levels == 0 {
            return None;
        }
        let level = self.levels.trailing_zeros() as usize;
        Some((level, self.occupied[level].trailing_zeros() as usize))
    }

    /// Clears the occupancy bits of a slot just emptied.
    #[inline]
    fn vacate(&mut self, level: usize, d: usize) {
        self.occupied[level] &= !(1 << d);
        if self.occupied[level] == 0 {
            self.levels &= !(1 << level);
        }
    }

    /// Makes `current` non-empty if anything is pending. The earliest occupied slot becomes
    /// `current` as it is when it is at level 0 (one time); otherwise it is re-filed around
    /// its earliest live time, each entry to a strictly lower level, dropping the dead
    /// entries it meets (cancelled timers would otherwise be re-filed again on their way
    /// down). Dead entries elsewhere are left for the queue to skip. (A lone entry, the
    /// usual case when a few events are pending far apart, is taken in place by
    /// [`PendingSet::pop_if`] before this.)
    #[inline]
    fn refill(&mut self, live: impl Fn(&Entry<E>) -> bool) -> bool {
        if !self.current.is_empty() {
            return true;
        }
        while let Some((level, d)) = self.earliest() {
            let moving = std::mem::take(&mut self.slots[level][d]);
            self.vacate(level, d);
            if level == 0 {
                // One time: the slot's buffer becomes `current`, and `current`'s empty one
                // goes back to the slot. No entry moves; dead ones are left to the queue.
                self.last = moving[0].time;
                let spent = std::mem::replace(&mut self.current, VecDeque::from(moving));
                self.slots[level][d] = Vec::from(spent);
                return true;
            }
            self.redistribute(level, d, moving, &live);
            if !self.current.is_empty() {
                return true;
            }
        }
        false
    }

    /// Re-files the entries taken from slot `d` of `level` (≥ 1) around their earliest live
    /// time. Out of line: the hot paths above stay small enough
    /// to inline into the caller's loop.
    #[inline(never)]
    fn redistribute(
        &mut self,
        level: usize,
        d: usize,
        mut moving: Vec<Entry<E>>,
        live: impl Fn(&Entry<E>) -> bool,
    ) {
        let mut min = u64::MAX;
        if self.slotted == 0 {
            // Nothing held can have been cancelled.
            min = moving.iter().map(|e| e.time).min().unwrap_or(min);
        } else {
            // One pass drops the dead (they must not set the front's time) and finds the
            // earliest live time.
            let before = moving.len();
            moving.retain(|e| {
                let keep = live(e);
                if keep {
                    min = min.min(e.time);
                }
                keep
            });
            let dropped = before - moving.len();
            self.held -= dropped;
            self.slotted -= dropped;
        }
        if !moving.is_empty() {
            // The entries agree with `min` above `level`, so they land lower, the
            // earliest in `current`.
            self.last = min;
            for e in moving.drain(..) {
                self.file(e);
            }
        }
        // Keep the emptied slot's allocation for later pushes.
        self.slots[level][d] = moving;
    }

    /// Re-files everything around `time`, before `last`: a peek moved `last` past a push
    /// that came after it.
    #[cold]
    #[inline(never)]
    fn rebase(&mut self, time: u64) {
        // Rare: a run stopped at a horizon, then an event injected before the next one.
        let mut old: Vec<Entry<E>> = self.current.drain(..).collect();
        for slot in self.slots.iter_mut().flatten() {
            old.append(slot);
        }
        self.occupied = [0; LEVELS];
        self.levels = 0;
        // Equal times share a slot, which kept push order, so re-filing in this order keeps
        // FIFO.
        self.last = time;
        for e in old {
            self.file(e);
        }
    }
}

impl<E> PendingSet<E> for RadixHeap<E> {
    #[inline(always)]
    fn push(&mut self, entry: Entry<E>) {
        if entry.time < self.last {
            self.rebase(entry.time);
        }
        self.slotted += usize::from(entry.slot != NO_SLOT);
        self.file(entry);
        self.held += 1;
    }

    #[inline]
    fn pop(&mut self, live: impl Fn(&Entry<E>) -> bool) -> Option<Entry<E>> {
        if !self.refill(live) {
            return None;
        }
        self.take_front()
    }

    #[inline]
    fn peek(&mut self, live: impl Fn(&Entry<E>) -> bool) -> Option<&Entry<E>> {
        if !self.refill(live) {
            return None;
        }
        self.current.front()
    }

    /// As the default, refilling once: the front of `current` is the earliest entry. With
    /// `current` empty and the earliest slot holding a lone entry (the usual case when a few
    /// events are pending far apart), that entry is judged and taken where it lies,
    /// without passing through `current`.
    #[inline]
    fn pop_if(
        &mut self,
        live: impl Fn(&Entry<E>) -> bool,
        due: impl Fn(&Entry<E>) -> bool,
    ) -> Option<Entry<E>> {
        if self.current.is_empty()
            && let Some((level, d)) = self.earliest()
        {
            let slot = &mut self.slots[level][d];
            if let [only] = slot.as_slice() {
                let alive = live(only);
                if alive && !due(only) {
                    return None; // left exactly as it was
                }
                let e = slot.pop().expect("one entry");
                self.vacate(level, d);
                self.held -= 1;
                self.slotted -= usize::from(e.slot != NO_SLOT);
                if alive {
                    // Its slot was the earliest and is now empty, so every other entry
                    // files the same against its time: the front moves there. (A dead
                    // one leaves `last` alone: the queue's clock does not move for it.)
                    self.last = e.time;
                }
                return Some(e);
            }
        }
        if !self.refill(&live) {
            return None;
        }
        let top = self
            .current
            .front()
            .expect("refill leaves current non-empty");
        if live(top) && !due(top) {
            return None;
        }
        self.take_front()
    }

    fn for_each(&self, mut f: impl FnMut(&Entry<E>)) {
        self.current.iter().for_each(&mut f);
        self.slots.iter().flatten().flatten().for_each(f);
    }

    fn held(&self) -> usize {
        self.held
    }

    fn purge(&mut self, live: impl Fn(&Entry<E>) -> bool) {
        // Entries stay in their slots (`last` does not move), so the order is untouched.
        self.current.retain(&live);
        for (level, slots) in self.slots.iter_mut().enumerate() {
            for (d, slot) in slots.iter_mut().enumerate() {
                slot.retain(&live);
                if slot.is_empty() {
                    self.occupied[level] &= !(1 << d);
                }
            }
            if self.occupied[level] == 0 {
                self.levels &= !(1 << level);
            }
        }
        let mut held = 0;
        self.for_each(|_| held += 1);
        self.held = held;
        self.slotted = self.count_slotted();
    }

    fn check(&self) {
        let mut held = 0;
        self.for_each(|_| held += 1);
        assert_eq!(self.held, held, "radix heap entry count drifted");
        assert_eq!(
            self.slotted,
            self.count_slotted(),
            "radix heap count of cancellable entries drifted"
        );
        for e in &self.current {
            assert_eq!(e.time, self.last, "current holds an entry at {}", e.time);
        }
        for (level, slots) in self.slots.iter().enumerate() {
            assert_eq!(
                self.levels >> level & 1 == 1,
                self.occupied[level] != 0,
                "level {level} occupancy bit is wrong"
            );
            for (d, slot) in slots.iter().enumerate() {
                assert_eq!(
                    self.occupied[level] >> d & 1 == 1,
                    !slot.is_empty(),
                    "level {level} slot {d} occupancy bit is wrong"
                );
                for e in slot {
                    assert!(
                        e.time > self.last,
                        "entry at {} before {}",
                        e.time,
                        self.last
                    );
                    assert_eq!(
                        Self::place(self.last, e.time),
                        Some((level, d)),
                        "entry at {} in the wrong slot (last {})",
                        e.time,
                        self.last
                    );
                }
            }
        }
    }
}

/// A vector sorted latest first, so the earliest entry pops off the end: the pending set
/// for a few entries, where a push scans from the earliest end (a new event is usually due
/// soon) and moves the few it passes, and a pop is a `Vec::pop`.
///
/// Invariant: ordered by time, latest first; among equal times the first pushed is nearest
/// the end (it pops first). [`PendingSet::check`] verifies the time order; the entries do
/// not carry their push order, so FIFO among ties is left to the ordering tests.
pub struct SortedVec<E> {
    v: Vec<Entry<E>>,
}

impl<E> Default for SortedVec<E> {
    fn default() -> Self {
        SortedVec { v: Vec::new() }
    }
}

impl<E> PendingSet<E> for SortedVec<E> {
    #[inline(always)]
    fn push(&mut self, entry: Entry<E>) {
        // Past every entry at or before its time: a tie goes behind the earlier pushes.
        let mut i = self.v.len();
        while i > 0 && self.v[i - 1].time <= entry.time {
            i -= 1;
        }
        self.v.insert(i, entry);
    }

    /// Dead entries are not dropped here: the queue skips them as they come out.
    #[inline]
    fn pop(&mut self, _live: impl Fn(&Entry<E>) -> bool) -> Option<Entry<E>> {
        self.v.pop()
    }

    #[inline]
    fn peek(&mut self, _live: impl Fn(&Entry<E>) -> bool) -> Option<&Entry<E>> {
        self.v.last()
    }

    #[inline]
    fn pop_if(
        &mut self,
        live: impl Fn(&Entry<E>) -> bool,
        due: impl Fn(&Entry<E>) -> bool,
    ) -> Option<Entry<E>> {
        let top = self.v.last()?;
        if live(top) && !due(top) {
            return None;
        }
        self.v.pop()
    }

    fn for_each(&self, f: impl FnMut(&Entry<E>)) {
        self.v.iter().for_each(f);
    }

    fn held(&self) -> usize {
        self.v.len()
    }

    fn purge(&mut self, live: impl Fn(&Entry<E>) -> bool) {
        self.v.retain(live);
    }

    fn check(&self) {
        assert!(
            self.v.windows(2).all(|w| w[0].time >= w[1].time),
            "sorted pending vector out of order"
        );
    }
}

/// Entries above which the tiered set moves them into its radix heap.
const SMALL_MAX: usize = 24;
/// Entries at or below which it moves them back to its sorted vector. The gap makes a move
/// each way follow at least `SMALL_MAX - SMALL_BACK` operations, so the O(n) moves cost O(1)
/// per operation amortized.
const SMALL_BACK: usize = 8;

/// The default pending set: a [`SortedVec`] while few entries are pending (a model of one
/// machine keeps a handful: a CPU step, a bus wake-up, a frame on the wire, a timer), a
/// [`RadixHeap`] once more than [`SMALL_MAX`] are (a server's thousand clients), and back
/// when at most [`SMALL_BACK`] remain. Cancelled entries count until they are dropped, so
/// re-armed timers can move the set up early: that costs time, never order.
///
/// Invariant ([`PendingSet::check`]): every entry is in the active tier (`radix` when `big`,
/// else `small`), the other is empty, and the active tier's own invariant holds.
pub struct Tiered<E> {
    small: SortedVec<E>,
    radix: RadixHeap<E>,
    big: bool,
}

impl<E> Default for Tiered<E> {
    fn default() -> Self {
        Tiered {
            small: SortedVec::default(),
            radix: RadixHeap::default(),
            big: false,
        }
    }
}

impl<E> Tiered<E> {
    /// Moves every entry into the radix heap, earliest first (FIFO among ties kept: the
    /// radix heap keeps push order).
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let first = self.small.v.last().map_or(0, |e| e.time);
        self.radix.restart(first);
        while let Some(e) = self.small.v.pop() {
            self.radix.push(e);
        }
        self.big = true;
    }

    /// Moves every entry back into the sorted vector (dead ones too: the queue skips them).
    #[cold]
    #[inline(never)]
    fn shrink(&mut self) {
        while let Some(e) = self.radix.pop(|_| true) {
            self.small.v.push(e);
        }
        self.small.v.reverse();
        self.big = false;
    }

    #[inline(always)]
    fn after_pop(&mut self) {
        if self.big && self.radix.held() <= SMALL_BACK {
            self.shrink();
        }
    }
}

impl<E> PendingSet<E> for Tiered<E> {
    #[inline(always)]
    fn push(&mut self, entry: Entry<E>) {
        if self.big {
            self.radix.push(entry);
        } else {
            self.small.push(entry);
            if self.small.v.len() > SMALL_MAX {
                self.grow();
            }
        }
    }

    #[inline]
    fn pop(&mut self, live: impl Fn(&Entry<E>) -> bool) -> Option<Entry<E>> {
        if !self.big {
            return self.small.pop(live);
        }
        let e = self.radix.pop(live);
        self.after_pop();
        e
    }

    #[inline]
    fn peek(&mut self, live: impl Fn(&Entry<E>) -> bool) -> Option<&Entry<E>> {
        if self.big {
            self.radix.peek(live)
        } else {
            self.small.peek(live)
        }
    }

    #[inline]
    fn pop_if(
        &mut self,
        live: impl Fn(&Entry<E>) -> bool,
        due: impl Fn(&Entry<E>) -> bool,
    ) -> Option<Entry<E>> {
        if !self.big {
            return self.small.pop_if(live, due);
        }
        let e = self.radix.pop_if(live, due);
        self.after_pop();
        e
    }

    fn for_each(&self, f: impl FnMut(&Entry<E>)) {
        if self.big {
            self.radix.for_each(f);
        } else {
            self.small.for_each(f);
        }
    }

    fn held(&self) -> usize {
        if self.big {
            self.radix.held()
        } else {
            self.small.held()
        }
    }

    fn purge(&mut self, live: impl Fn(&Entry<E>) -> bool) {
        if self.big {
            self.radix.purge(live);
            self.after_pop();
        } else {
            self.small.purge(live);
        }
    }

    fn check(&self) {
        if self.big {
            assert!(
                self.small.v.is_empty(),
                "the tiered set holds entries in both tiers"
            );
            self.radix.check();
        } else {
            assert_eq!(
                self.radix.held(),
                0,
                "the tiered set holds entries in both tiers"
            );
            assert!(
                self.small.v.len() <= SMALL_MAX,
                "{} entries in the sorted tier",
                self.small.v.len()
            );
            self.small.check();
        }
    }
}

/// A 4-ary min-heap; see the module docs. Invariant: the heap property on `(time, seq)`.
pub struct QuaternaryHeap<E> {
    heap: Vec<(u128, Entry<E>)>,
    next_seq: u64,
}

impl<E> Default for QuaternaryHeap<E> {
    fn default() -> Self {
        QuaternaryHeap {
            heap: Vec::new(),
            next_seq: 0,
        }
    }
}

const ARITY: usize = 4;

impl<E> QuaternaryHeap<E> {
    /// Moves the entry at `i` down until no child has a smaller key.
    #[inline]
    fn sift_down(&mut self, mut i: usize) {
        let len = self.heap.len();
        if i >= len {
            return;
        }
        let key = self.heap[i].0;
        loop {
            let first = i * ARITY + 1;
            if first >= len {
                break;
            }
            let end = (first + ARITY).min(len);
            let mut best = first;
            for c in first + 1..end {
                if self.heap[c].0 < self.heap[best].0 {
                    best = c;
                }
            }
            if key <= self.heap[best].0 {
                break;
            }
            self.heap.swap(i, best);
            i = best;
        }
    }
}

impl<E> PendingSet<E> for QuaternaryHeap<E> {
    #[inline]
    fn push(&mut self, entry: Entry<E>) {
        let key = ((entry.time as u128) << 64) | self.next_seq as u128;
        self.next_seq += 1;
        self.heap.push((key, entry));
        let mut i = self.heap.len() - 1;
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if self.heap[parent].0 <= key {
                break;
            }
            self.heap.swap(i, parent);
            i = parent;
        }
    }

    #[inline]
    fn pop(&mut self, _live: impl Fn(&Entry<E>) -> bool) -> Option<Entry<E>> {
        let last = self.heap.pop()?;
        if self.heap.is_empty() {
            return Some(last.1);
        }
        let top = std::mem::replace(&mut self.heap[0], last);
        self.sift_down(0);
        Some(top.1)
    }

    fn peek(&mut self, _live: impl Fn(&Entry<E>) -> bool) -> Option<&Entry<E>> {
        self.heap.first().map(|(_, e)| e)
    }

    fn for_each(&self, mut f: impl FnMut(&Entry<E>)) {
        self.heap.iter().for_each(|(_, e)| f(e));
    }

    fn held(&self) -> usize {
        self.heap.len()
    }

    fn purge(&mut self, live: impl Fn(&Entry<E>) -> bool) {
        // Keys keep their (time, seq), so rebuilding the heap cannot change the pop order.
        self.heap.retain(|(_, e)| live(e));
        for i in (0..self.heap.len() / ARITY + 1).rev() {
            self.sift_down(i);
        }
    }

    fn check(&self) {
        for i in 1..self.heap.len() {
            let parent = (i - 1) / ARITY;
            assert!(
                self.heap[parent].0 <= self.heap[i].0,
                "heap property broken at index {i}"
            );
        }
    }
}

/// A deterministic future-event list over the pending set `S` ([`Tiered`] unless a test or
/// benchmark picks another). See the module docs for the ordering guarantee.
///
/// Invariants (checked by [`EventQueue::check_invariants`]): the pending set's own; every live
/// entry is at or after [`EventQueue::now`]; `live` equals the number of entries whose slot
/// generation still matches.
pub struct EventQueue<E, S: PendingSet<E> = Tiered<E>> {
    pending: S,
    next_seq: u64,
    now: SimTime,
    live: usize,
    slot_generation: Vec<u32>,
    free_slots: Vec<u32>,
    _event: std::marker::PhantomData<E>,
}

impl<E, S: PendingSet<E>> Default for EventQueue<E, S> {
    fn default() -> Self {
        Self::over()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue over the default pending set, [`Tiered`].
    pub fn new() -> Self {
        Self::over()
    }
}

impl<E, S: PendingSet<E>> EventQueue<E, S> {
    /// An empty queue over the pending set `S`.
    pub fn over() -> Self {
        EventQueue {
            pending: S::default(),
            next_seq: 0,
            now: SimTime::ZERO,
            live: 0,
            slot_generation: Vec::new(),
            free_slots: Vec::new(),
            _event: std::marker::PhantomData,
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
        // Cancelled entries wait in the set until they would fire. A model that re-arms a
        // timer on every ACK leaves thousands of them, slowing every push and pop; once they
        // outnumber the live ones, sweep them out (amortized O(1) per cancellation).
        if self.pending.held() > 2 * self.live + PURGE_SLACK {
            let gens = &self.slot_generation;
            self.pending.purge(|e| live_in(gens, e));
        }
        true
    }

    fn is_live(&self, e: &Entry<E>) -> bool {
        live_in(&self.slot_generation, e)
    }

    /// Removes and returns the earliest live event, advancing [`Self::now`] to its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.pop_where(|_| true)
    }

    /// Pops the earliest live event if `due` accepts it; cancelled entries on top go.
    #[inline]
    fn pop_where(&mut self, due: impl Fn(&Entry<E>) -> bool) -> Option<(SimTime, E)> {
        loop {
            let gens = &self.slot_generation;
            let entry = self.pending.pop_if(|e| live_in(gens, e), &due)?;
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
        loop {
            let gens = &self.slot_generation;
            let top = self.pending.peek(|e| live_in(gens, e))?;
            let (time, live) = (top.time(), live_in(gens, top));
            if live {
                return Some(time);
            }
            self.pending.pop(|_| true);
        }
    }

    /// Removes and returns the earliest live event if it is at or before `limit` (else leaves
    /// it pending and [`Self::now`] unchanged): the model's loop, stopping at a horizon.
    #[inline]
    pub fn pop_until(&mut self, limit: SimTime) -> Option<(SimTime, E)> {
        let limit = limit.as_nanos();
        self.pop_where(|e| e.time <= limit)
    }

    /// Panics with a message if an invariant of the type docs does not hold. O(n); for tests
    /// and debug builds.
    pub fn check_invariants(&self) {
        self.pending.check();
        let mut live = 0;
        self.pending.for_each(|e| {
            if self.is_live(e) {
                live += 1;
                assert!(
                    e.time() >= self.now,
                    "live event at {} is before now {}",
                    e.time(),
                    self.now
                );
            }
        });
        assert_eq!(live, self.live, "live-event count drifted");
    }

    #[inline(always)]
    fn push(&mut self, time: SimTime, slot: u32, generation: u32, event: E) {
        assert!(
            time >= self.now,
            "event scheduled at {time}, before now {}",
            self.now
        );
        self.next_seq += 1;
        self.live += 1;
        self.pending.push(Entry {
            time: time.as_nanos(),
            slot,
            generation,
            event,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ns: u64) -> SimTime {
        SimTime::from_nanos(ns)
    }

    fn drain<S: PendingSet<u32>>(q: &mut EventQueue<u32, S>) -> Vec<(u64, u32)> {
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

    fn purge_keeps_order<S: PendingSet<u32>>(mut q: EventQueue<u32, S>) {
        // 3000 timers re-armed the way TCP re-arms its retransmission timer (cancel, schedule
        // later), with ties: the purge must fire (the set shrinks back near the live count)
        // and the survivors must come out exactly as a sort by (time, schedule order) says.
        let mut tokens = Vec::new();
        let mut expect = Vec::new();
        for i in 0..3000u32 {
            let when = t(u64::from(i % 97) * 10);
            tokens.push((q.schedule_cancellable_at(when, i), when, i));
        }
        for (n, (tok, when, i)) in tokens.into_iter().enumerate() {
            if n % 3 == 0 {
                expect.push((when.as_nanos(), i));
            } else {
                assert!(q.cancel(tok));
            }
        }
        assert!(
            q.pending.held() <= 2 * q.len() + PURGE_SLACK,
            "{} entries held for {} live",
            q.pending.held(),
            q.len()
        );
        expect.sort_by_key(|&(when, i)| (when, i));
        assert_eq!(drain(&mut q), expect);
    }

    #[test]
    fn purging_cancelled_entries_keeps_the_order_of_the_rest() {
        purge_keeps_order(EventQueue::<u32>::new());
        purge_keeps_order(EventQueue::<u32, RadixHeap<u32>>::over());
        purge_keeps_order(EventQueue::<u32, SortedVec<u32>>::over());
        purge_keeps_order(EventQueue::<u32, QuaternaryHeap<u32>>::over());
    }

    #[test]
    fn a_purge_that_leaves_few_entries_moves_the_tiered_set_back() {
        // 270 timers at 9 instants, all but 6 cancelled: the purge fires once 6 are live
        // (270 held > 2 * 6 + 256) and leaves the set at most 8, so it must move back to
        // its sorted tier, and the survivors still come out by (time, schedule order).
        let mut q: EventQueue<u32> = EventQueue::new();
        let tokens: Vec<_> = (0..270u32)
            .map(|i| (q.schedule_cancellable_at(t(u64::from(i % 9)), i), i))
            .collect();
        assert!(q.pending.big, "270 pending are in the radix tier");
        let mut expect = Vec::new();
        for (tok, i) in tokens {
            if i % 45 == 0 {
                expect.push((u64::from(i % 9), i));
            } else {
                assert!(q.cancel(tok));
            }
        }
        assert_eq!(
            q.pending.held(),
            6,
            "the purge dropped every cancelled entry"
        );
        assert!(!q.pending.big, "back in the sorted tier");
        q.check_invariants();
        expect.sort();
        assert_eq!(drain(&mut q), expect);
    }

    #[test]
    fn a_push_before_a_peeked_time_still_comes_out_first() {
        // A run stopped at a horizon peeks at the next event (t=100); an event injected at
        // t=50 (legal: the clock is still at 0) must come out before it, on every pending set
        // (the radix heap re-bases for it).
        fn run<S: PendingSet<u32>>(mut q: EventQueue<u32, S>) {
            q.schedule_at(t(100), 1);
            q.schedule_at(t(100), 3);
            assert_eq!(q.pop_until(t(10)), None);
            q.schedule_at(t(50), 2);
            q.schedule_at(t(100), 4);
            q.check_invariants();
            let order: Vec<u32> = drain(&mut q).iter().map(|x| x.1).collect();
            assert_eq!(order, vec![2, 1, 3, 4]);
        }
        run(EventQueue::<u32>::new());
        run(EventQueue::<u32, RadixHeap<u32>>::over());
        run(EventQueue::<u32, QuaternaryHeap<u32>>::over());
    }

    #[test]
    fn pop_until_stops_at_the_limit_and_keeps_the_rest() {
        // The model's loop pops through this: an event past the limit must stay pending (and
        // `now` must not move to it), or a run stopped at a horizon would lose its next event.
        let mut q = EventQueue::new();
        let a = q.schedule_cancellable_at(t(1), 1);
        q.schedule_at(t(2), 2);
        q.schedule_at(t(9), 3);
        q.cancel(a);
        assert_eq!(q.pop_until(t(5)), Some((t(2), 2)));
        assert_eq!(q.pop_until(t(5)), None);
        assert_eq!(q.now(), t(2));
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_until(t(9)), Some((t(9), 3)));
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
    fn every_pending_set_gives_the_4ary_heaps_order() {
        // A hold model with ties, cancellations and far-future outliers, run on a set and on
        // the 4-ary heap side by side: the ordering guarantee is the representation's whole
        // contract, so any divergence in (time, payload) order is a bug in one of them.
        same_order_in_a_hold_model::<RadixHeap<u32>>();
        same_order_in_a_hold_model::<Tiered<u32>>();
    }

    fn same_order_in_a_hold_model<S: PendingSet<u32>>() {
        use crate::rng::{RngStreams, below};
        let mut rng = RngStreams::new(7).stream(3);
        let mut q: EventQueue<u32, S> = EventQueue::over();
        let mut quad: EventQueue<u32, QuaternaryHeap<u32>> = EventQueue::over();
        let mut tokens = Vec::new();
        for i in 0..2000u32 {
            let when = t(below(&mut rng, 50));
            q.schedule_at(when, i);
            quad.schedule_at(when, i);
        }
        for step in 0..20_000u32 {
            // Every fourth step pops only up to a horizon near the clock, which may leave the
            // earliest event pending: both sets must agree on whether it is due, too.
            let (a, b) = if step % 4 == 0 {
                let limit = q.now() + SimDuration::from_nanos(below(&mut rng, 20));
                (q.pop_until(limit), quad.pop_until(limit))
            } else {
                (q.pop(), quad.pop())
            };
            assert_eq!(a, b, "step {step}");
            let Some((now, e)) = a else {
                if q.is_empty() {
                    break;
                }
                continue;
            };
            // Ties (delay 0), near and far (bit 40) times, and some cancellable ones.
            let delay = match below(&mut rng, 10) {
                0 => 0,
                1 => 1 << 40,
                _ => below(&mut rng, 1000),
            };
            if below(&mut rng, 4) == 0 {
                let ta = q.schedule_cancellable_at(now + SimDuration::from_nanos(delay), e);
                let tb = quad.schedule_cancellable_at(now + SimDuration::from_nanos(delay), e);
                tokens.push((ta, tb));
            } else {
                q.schedule_in(SimDuration::from_nanos(delay), e);
                quad.schedule_in(SimDuration::from_nanos(delay), e);
            }
            if below(&mut rng, 3) == 0 && !tokens.is_empty() {
                let (ta, tb) = tokens.swap_remove(below(&mut rng, tokens.len() as u64) as usize);
                assert_eq!(q.cancel(ta), quad.cancel(tb));
            }
            if step % 1000 == 0 {
                q.check_invariants();
                quad.check_invariants();
                assert_eq!(q.peek_time(), quad.peek_time());
            }
        }
        assert_eq!(q.len(), quad.len());
    }

    mod property {
        use super::*;
        use proptest::prelude::*;

        /// One step of a random workload: maybe peek, pop (up to a horizon `now + limit`, or
        /// without one), maybe inject an event, push a burst or pop a run, then (usually)
        /// schedule the popped payload `delay` later (optionally cancellable), optionally
        /// cancel an earlier token.
        #[derive(Debug, Clone)]
        struct Step {
            limit: Option<u64>,
            delay: u64,
            cancellable: bool,
            cancel: Option<usize>,
            inject: Option<u64>,
            peek: bool,
            follow_up: bool,
            burst: Option<u8>,
            drain: Option<u8>,
        }

        fn step() -> impl Strategy<Value = Step> {
            // Delays of every width, from ties to bit 62, so entries land on every level.
            let delay = (0u32..63).prop_flat_map(|bits| 0u64..=(1u64 << bits));
            // One step in ten pushes a burst and one in ten pops a run: with the rest
            // (about 1.3 pushes per pop) the population swings by tens around its start,
            // across the tiered set's thresholds both ways, many times per case.
            let burst = prop::option::weighted(0.1, 1u8..=30);
            let drain = prop::option::weighted(0.1, 1u8..=40);
            (
                prop::option::of(0u64..5000),
                delay,
                any::<bool>(),
                prop::option::of(any::<usize>()),
                prop::option::of(0u64..5000),
                any::<bool>(),
                prop::bool::weighted(0.8),
                (burst, drain),
            )
                .prop_map(
                    |(
                        limit,
                        delay,
                        cancellable,
                        cancel,
                        inject,
                        peek,
                        follow_up,
                        (burst, drain),
                    )| {
                        Step {
                            limit,
                            delay,
                            cancellable,
                            cancel,
                            inject,
                            peek,
                            follow_up,
                            burst,
                            drain,
                        }
                    },
                )
        }

        /// Runs `start` and `steps` on a queue over `S` and on the 4-ary heap side by side.
        /// The 4-ary heap orders by an explicit (time, seq) key, so it is the oracle: any step
        /// where `S` hands out another event (or none), at any level or tier, after a horizon
        /// stop, an injected earlier push, a cancellation or a move between tiers, breaks the
        /// ordering guarantee.
        fn same_order_as_4ary<S: PendingSet<u32>>(
            start: &[u64],
            steps: &[Step],
        ) -> Result<(), TestCaseError> {
            let mut q: EventQueue<u32, S> = EventQueue::over();
            let mut quad: EventQueue<u32, QuaternaryHeap<u32>> = EventQueue::over();
            for (i, &at) in start.iter().enumerate() {
                q.schedule_at(t(at), i as u32);
                quad.schedule_at(t(at), i as u32);
            }
            let mut tokens = Vec::new();
            let mut next = start.len() as u32;
            for s in steps.iter().cloned() {
                if s.peek {
                    // Peeking refills through the lone-entry and cancelled-top paths
                    // that a pop takes in place.
                    prop_assert_eq!(q.peek_time(), quad.peek_time());
                }
                let (a, b) = match s.limit {
                    Some(l) => {
                        let limit = q.now() + SimDuration::from_nanos(l);
                        (q.pop_until(limit), quad.pop_until(limit))
                    }
                    None => (q.pop(), quad.pop()),
                };
                prop_assert_eq!(a, b);
                q.check_invariants();
                if let Some(dt) = s.inject {
                    // Legal after a horizon stop: at or after now, maybe before the
                    // time the set peeked at.
                    let at = q.now() + SimDuration::from_nanos(dt);
                    q.schedule_at(at, next);
                    quad.schedule_at(at, next);
                    next += 1;
                }
                if let Some(n) = s.burst {
                    // A burst of pushes, three to an instant, swings the population up
                    // through the tiers: FIFO among the ties must survive the moves.
                    for k in 0..u64::from(n) {
                        let at = q.now() + SimDuration::from_nanos(k / 3);
                        q.schedule_at(at, next);
                        quad.schedule_at(at, next);
                        next += 1;
                    }
                }
                if let Some(n) = s.drain {
                    // Pops that push nothing swing it back down.
                    for _ in 0..n {
                        let (a, b) = (q.pop(), quad.pop());
                        prop_assert_eq!(a, b);
                    }
                    q.check_invariants();
                }
                if !s.follow_up {
                    // Pops without pushes shrink the population, so the tiered set
                    // moves back to its sorted tier as well as up.
                    continue;
                }
                // Far delays stop at 2^63 (or now, if an injection went past it).
                let now = q.now().as_nanos();
                let at = now.saturating_add(s.delay).min((u64::MAX >> 1).max(now));
                if s.cancellable {
                    tokens.push((
                        q.schedule_cancellable_at(t(at), next),
                        quad.schedule_cancellable_at(t(at), next),
                    ));
                } else {
                    q.schedule_at(t(at), next);
                    quad.schedule_at(t(at), next);
                }
                next += 1;
                if let Some(k) = s.cancel.filter(|_| !tokens.is_empty()) {
                    let (ta, tb) = tokens.swap_remove(k % tokens.len());
                    prop_assert_eq!(q.cancel(ta), quad.cancel(tb));
                }
                q.check_invariants();
            }
            // And the rest drains in the same order.
            loop {
                let (a, b) = (q.pop(), quad.pop());
                prop_assert_eq!(a, b);
                if a.is_none() {
                    break;
                }
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]
            #[test]
            fn every_pending_set_orders_like_the_4ary_heap(
                // Narrow starts for ties (FIFO through the moves between tiers), wide ones
                // for levels.
                start in prop::collection::vec(prop_oneof![0u64..50, 0u64..100_000], 1..300),
                steps in prop::collection::vec(step(), 1..400),
            ) {
                same_order_as_4ary::<RadixHeap<u32>>(&start, &steps)?;
                same_order_as_4ary::<Tiered<u32>>(&start, &steps)?;
                same_order_as_4ary::<SortedVec<u32>>(&start, &steps)?;
            }
        }
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
