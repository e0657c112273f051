//! A shared-bandwidth resource in the fluid (flow-level) model.
//!
//! A [`FluidResource`] (the memory bus, a PCI bus, a disk) has a capacity in bytes per second.
//! The transfers active on it share that capacity **max-min fairly**, each also held to its own
//! cap (a CPU copy cannot exceed the CPU's copy speed, a DMA engine its burst rate): the
//! water-filling allocation. Whenever a transfer starts or ends, the rates are recomputed and
//! the owner reschedules the next completion ([`FluidResource::next_completion`]). This is the
//! flow-level model SimGrid validated against packet-level simulation.
//!
//! # Exact integer arithmetic
//! Rates are whole bytes per second and progress is kept in *work units* of
//! byte·ns/s (bytes × 10⁹), so `rate × elapsed_ns` is the exact progress and
//! `ceil(work / rate)` the exact nanoseconds left: no floating-point drift, and hand-computed
//! cases come out to the nanosecond. When an equal share is not a whole number of bytes per
//! second, the share is rounded down and the remainder (fewer bytes per second than there are
//! transfers) goes one byte per second each to the transfers first in start order. The sum of
//! rates is therefore exactly `min(capacity, Σ caps)`: the resource is work-conserving to the
//! byte, and no transfer ever exceeds its cap.
//!
//! # Invariants
//! Checked by [`FluidResource::check_invariants`]: Σ rates ≤ capacity; each rate ≤ its cap;
//! Σ rates = min(capacity, Σ caps) (work conservation); any transfer below its cap gets at
//! least every other transfer's rate minus 1 B/s (max-min fairness up to integer rounding);
//! the water-filling order names every transfer once, sorted by `(cap, id)` (it is kept
//! sorted as transfers come and go, so a start or an end costs no sort).

use crate::time::{ByteRate, SimTime};

const WORK_PER_BYTE: u128 = 1_000_000_000;
const UNCAPPED: u64 = u64::MAX;

/// `ceil(work / rate)`. Work below 2^64 (under 18 GB left) divides in 64 bits, without the
/// 128-bit division's library call: the same result either way.
#[inline]
fn ceil_div(work: u128, rate: u64) -> u128 {
    match u64::try_from(work) {
        Ok(w) => u128::from(w.div_ceil(rate)),
        Err(_) => work.div_ceil(u128::from(rate)),
    }
}

/// Identifies a transfer on one resource; ids increase in start order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransferId(u64);

impl TransferId {
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

#[derive(Clone, Debug)]
struct Transfer {
    id: TransferId,
    cap_bytes_per_sec: u64,
    remaining_work: u128,
    rate_bytes_per_sec: u64,
}

/// See the module docs for the sharing rule and its invariants.
#[derive(Clone, Debug)]
pub struct FluidResource {
    capacity: ByteRate,
    /// Active transfers in start order (ids ascending), which is also the remainder order.
    active: Vec<Transfer>,
    last_update: SimTime,
    next_id: u64,
    /// Work done since creation, bytes × 10⁹.
    work_done: u128,
    /// Time with at least one transfer active, ns.
    busy_ns: u64,
    /// Indices into `active` by ascending `(cap, id)`, the water-filling order: kept sorted
    /// as transfers start and end, so recomputing rates never sorts.
    order: Vec<usize>,
    /// Scratch for re-indexing `order` when transfers leave (old index to new).
    remap: Vec<usize>,
}

impl FluidResource {
    pub fn new(capacity: ByteRate) -> Self {
        FluidResource {
            capacity,
            active: Vec::new(),
            last_update: SimTime::ZERO,
            next_id: 0,
            work_done: 0,
            busy_ns: 0,
            order: Vec::new(),
            remap: Vec::new(),
        }
    }

    pub fn capacity(&self) -> ByteRate {
        self.capacity
    }

    /// Transfers in progress.
    pub fn active_count(&self) -> usize {
        self.active.len()
    }

    /// Whole bytes moved since creation (as of the last update).
    pub fn bytes_transferred(&self) -> u64 {
        (self.work_done / WORK_PER_BYTE) as u64
    }

    /// Time with at least one active transfer, as of the last update.
    pub fn busy_ns(&self) -> u64 {
        self.busy_ns
    }

    /// Bytes moved over bytes the capacity could have moved in `[0, now]`, in `[0, 1]`.
    pub fn utilization(&self, now: SimTime) -> f64 {
        if now == SimTime::ZERO {
            return 0.0;
        }
        self.work_done as f64 / (self.capacity.bytes_per_sec() as f64 * now.as_nanos() as f64)
    }

    /// Sum of current rates.
    pub fn allocated_bytes_per_sec(&self) -> u64 {
        self.active.iter().map(|t| t.rate_bytes_per_sec).sum()
    }

    /// The current rate of `id`, or `None` if it is not active.
    pub fn rate_of(&self, id: TransferId) -> Option<u64> {
        self.find(id).map(|i| self.active[i].rate_bytes_per_sec)
    }

    /// Bytes `id` still has to move (rounded up), or `None` if it is not active.
    pub fn remaining_bytes(&self, id: TransferId) -> Option<u64> {
        self.find(id)
            .map(|i| self.active[i].remaining_work.div_ceil(WORK_PER_BYTE) as u64)
    }

    /// Starts moving `bytes` at `now`, at most at `cap` (no cap: only the capacity limits it).
    /// Progress of the others is settled up to `now` first, then all rates are recomputed.
    pub fn start(&mut self, now: SimTime, bytes: u64, cap: Option<ByteRate>) -> TransferId {
        self.advance(now);
        let id = TransferId(self.next_id);
        self.next_id += 1;
        let cap_bytes_per_sec = cap.map_or(UNCAPPED, ByteRate::bytes_per_sec);
        // The newest id is the largest, so it goes after every transfer of an equal cap.
        let active = &self.active;
        let at = self
            .order
            .partition_point(|&i| active[i].cap_bytes_per_sec <= cap_bytes_per_sec);
        self.order.insert(at, self.active.len());
        self.active.push(Transfer {
            id,
            cap_bytes_per_sec,
            remaining_work: bytes as u128 * WORK_PER_BYTE,
            rate_bytes_per_sec: 0,
        });
        self.recompute_rates();
        id
    }

    /// Aborts `id` at `now`, returning the bytes it had left (rounded up), or `None` if it was
    /// not active. The others speed up accordingly.
    pub fn abort(&mut self, now: SimTime, id: TransferId) -> Option<u64> {
        self.advance(now);
        let i = self.find(id)?;
        let t = self.active.remove(i);
        self.order.retain(|&j| j != i);
        for j in &mut self.order {
            *j -= usize::from(*j > i);
        }
        self.recompute_rates();
        Some(t.remaining_work.div_ceil(WORK_PER_BYTE) as u64)
    }

    /// The earliest instant at which an active transfer finishes at current rates, or `None`
    /// if nothing is moving. Owners schedule a wake-up for it and call
    /// [`Self::complete_due`] then; any start or end changes it.
    pub fn next_completion(&self) -> Option<SimTime> {
        self.active
            .iter()
            .filter(|t| t.rate_bytes_per_sec > 0 || t.remaining_work == 0)
            .map(|t| {
                let ns = ceil_div(t.remaining_work, t.rate_bytes_per_sec.max(1));
                self.last_update
                    + crate::time::SimDuration::from_nanos(
                        u64::try_from(ns).expect("transfer completion beyond SimTime::MAX"),
                    )
            })
            .min()
    }

    /// Settles progress to `now`, removes every transfer that has finished, appends their ids
    /// (in start order) to `done`, and recomputes the rates of the rest.
    pub fn complete_due(&mut self, now: SimTime, done: &mut Vec<TransferId>) {
        self.advance(now);
        if self.active.iter().all(|t| t.remaining_work > 0) {
            return;
        }
        self.remap.clear();
        let mut kept = 0;
        for t in &self.active {
            if t.remaining_work == 0 {
                done.push(t.id);
                self.remap.push(usize::MAX);
            } else {
                self.remap.push(kept);
                kept += 1;
            }
        }
        self.active.retain(|t| t.remaining_work > 0);
        let remap = &self.remap;
        self.order.retain_mut(|j| {
            *j = remap[*j];
            *j != usize::MAX
        });
        self.recompute_rates();
    }

    /// Integrates progress at the current rates from the last update to `now`.
    ///
    /// Panics if a transfer would have finished strictly before `now`: the owner missed a
    /// completion, and capacity it should have handed to the others was lost.
    pub fn advance(&mut self, now: SimTime) {
        let dt = now.duration_since(self.last_update).as_nanos();
        if dt == 0 {
            return;
        }
        if !self.active.is_empty() {
            self.busy_ns += dt;
        }
        for t in &mut self.active {
            let progress = t.rate_bytes_per_sec as u128 * dt as u128;
            if progress > t.remaining_work {
                // Usual at a completion (its time was rounded up); `ceil_div` keeps it off
                // the 128-bit division.
                let finish_ns = ceil_div(t.remaining_work, t.rate_bytes_per_sec);
                assert!(
                    finish_ns >= dt as u128,
                    "transfer {:?} finished {} ns before {now} but was not completed",
                    t.id,
                    dt as u128 - finish_ns
                );
            }
            let p = progress.min(t.remaining_work);
            t.remaining_work -= p;
            self.work_done += p;
        }
        self.last_update = now;
    }

    /// Water-filling: visit transfers by ascending cap; each gets its cap if that is below the
    /// equal share of what is left, else all the rest split what is left equally.
    fn recompute_rates(&mut self) {
        let n = self.active.len();
        let mut left = self.capacity.bytes_per_sec();
        for (k, &i) in self.order.iter().enumerate() {
            let sharers = (n - k) as u64;
            let share = left / sharers;
            let cap = self.active[i].cap_bytes_per_sec;
            if cap <= share {
                self.active[i].rate_bytes_per_sec = cap;
                left -= cap;
                continue;
            }
            // Every remaining transfer has cap > share, and every one already given its cap has
            // cap ≤ share (shares only rise as capped transfers leave less than their share),
            // so `cap > share` picks out exactly the rest. They all get the share, and the
            // remainder goes +1 B/s to the earliest-started of them (each has cap ≥ share + 1).
            let mut extra = left % sharers;
            for t in self
                .active
                .iter_mut()
                .filter(|t| t.cap_bytes_per_sec > share)
            {
                let bonus = u64::from(extra > 0);
                extra -= bonus;
                t.rate_bytes_per_sec = share + bonus;
            }
            break;
        }
    }

    fn find(&self, id: TransferId) -> Option<usize> {
        self.active.binary_search_by_key(&id, |t| t.id).ok()
    }

    /// Panics with a message if an invariant of the module docs does not hold.
    pub fn check_invariants(&self) {
        let cap = self.capacity.bytes_per_sec();
        let sum: u128 = self
            .active
            .iter()
            .map(|t| t.rate_bytes_per_sec as u128)
            .sum();
        assert!(sum <= cap as u128, "rates sum {sum} above capacity {cap}");
        let caps: u128 = self
            .active
            .iter()
            .map(|t| t.cap_bytes_per_sec as u128)
            .sum();
        assert_eq!(
            sum,
            caps.min(cap as u128),
            "not work-conserving: rates sum {sum}, capacity {cap}, caps sum {caps}"
        );
        let max_rate = self.active.iter().map(|t| t.rate_bytes_per_sec).max();
        for t in &self.active {
            assert!(
                t.rate_bytes_per_sec <= t.cap_bytes_per_sec,
                "transfer {:?} at {} B/s exceeds its cap {}",
                t.id,
                t.rate_bytes_per_sec,
                t.cap_bytes_per_sec
            );
            if t.rate_bytes_per_sec < t.cap_bytes_per_sec {
                let m = max_rate.unwrap_or(0);
                assert!(
                    t.rate_bytes_per_sec + 1 >= m,
                    "not max-min fair: {:?} below its cap at {} B/s while another gets {m}",
                    t.id,
                    t.rate_bytes_per_sec
                );
            }
        }
        assert!(
            self.active.windows(2).all(|w| w[0].id < w[1].id),
            "active transfers out of start order"
        );
        let mut seen = vec![false; self.active.len()];
        for &i in &self.order {
            assert!(
                i < seen.len() && !std::mem::replace(&mut seen[i], true),
                "the cap order names transfer index {i} twice or out of range"
            );
        }
        assert!(
            seen.iter().all(|&s| s),
            "a transfer is missing from the cap order"
        );
        let key = |i: usize| (self.active[i].cap_bytes_per_sec, self.active[i].id);
        assert!(
            self.order.windows(2).all(|w| key(w[0]) < key(w[1])),
            "the cap order is not sorted by (cap, id)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::SimDuration;

    fn t(ns: u64) -> SimTime {
        SimTime::from_nanos(ns)
    }
    fn rate(bps: u64) -> ByteRate {
        ByteRate::from_bytes_per_sec(bps)
    }

    /// Runs the resource like an owner would: wake at each completion, collect who finished.
    fn run_to_idle(r: &mut FluidResource) -> Vec<(TransferId, u64)> {
        let mut out = Vec::new();
        let mut done = Vec::new();
        while let Some(at) = r.next_completion() {
            r.complete_due(at, &mut done);
            r.check_invariants();
            out.extend(done.drain(..).map(|id| (id, at.as_nanos())));
        }
        out
    }

    // 1 GB/s makes 1 byte = 1 ns, so the hand arithmetic below reads directly in ns.
    const GBPS: u64 = 1_000_000_000;

    #[test]
    fn one_transfer_takes_bytes_over_capacity() {
        // Alone, a transfer gets the whole capacity: 4096 B at 1 GB/s = 4096 ns.
        let mut r = FluidResource::new(rate(GBPS));
        let a = r.start(t(0), 4096, None);
        assert_eq!(run_to_idle(&mut r), vec![(a, 4096)]);
        assert_eq!(r.bytes_transferred(), 4096);
        assert_eq!(r.busy_ns(), 4096);
    }

    #[test]
    fn two_equal_transfers_share_equally() {
        // Two 1000 B transfers at 1 GB/s each get 500 MB/s, so both end at 2000 ns, not
        // one at 1000 and one at 2000 (which a FIFO bus would give).
        let mut r = FluidResource::new(rate(GBPS));
        let a = r.start(t(0), 1000, None);
        let b = r.start(t(0), 1000, None);
        assert_eq!(r.rate_of(a), Some(GBPS / 2));
        assert_eq!(run_to_idle(&mut r), vec![(a, 2000), (b, 2000)]);
    }

    #[test]
    fn capped_and_uncapped_water_fill() {
        // Capacity 1 GB/s; A capped at 200 MB/s, B uncapped. Water-filling: A gets its cap,
        // B the remaining 800 MB/s. B (800 B) ends at 1000 ns; A has then moved 200 B of 1000,
        // and alone but still capped moves 800 more at 200 MB/s: 4000 ns more, ending at 5000.
        let mut r = FluidResource::new(rate(GBPS));
        let a = r.start(t(0), 1000, Some(rate(200_000_000)));
        let b = r.start(t(0), 800, None);
        assert_eq!(r.rate_of(a), Some(200_000_000));
        assert_eq!(r.rate_of(b), Some(800_000_000));
        r.check_invariants();
        assert_eq!(run_to_idle(&mut r), vec![(b, 1000), (a, 5000)]);
        // A ran capped alone for 4000 ns: busy but not saturated.
        assert_eq!(r.busy_ns(), 5000);
        assert_eq!(r.bytes_transferred(), 1800);
    }

    #[test]
    fn join_and_leave_midway() {
        // A (3000 B) starts alone at 0 at 1 GB/s. At 1000 ns it has 2000 B left and B (500 B)
        // joins: both at 500 MB/s. B finishes after 1000 ns (t=2000); A then has 1500 B left
        // and full speed again: ends at 3500 ns. Total bytes 3500 in 3500 ns: work-conserving.
        let mut r = FluidResource::new(rate(GBPS));
        let a = r.start(t(0), 3000, None);
        assert_eq!(r.next_completion(), Some(t(3000)));
        let b = r.start(t(1000), 500, None);
        assert_eq!(r.remaining_bytes(a), Some(2000));
        assert_eq!(
            r.next_completion(),
            Some(t(2000)),
            "rescheduled by the join"
        );
        assert_eq!(run_to_idle(&mut r), vec![(b, 2000), (a, 3500)]);
        assert_eq!(r.busy_ns(), 3500);
    }

    #[test]
    fn abort_hands_back_capacity() {
        let mut r = FluidResource::new(rate(GBPS));
        let a = r.start(t(0), 1000, None);
        let b = r.start(t(0), 1000, None);
        // At 400 ns each has moved 200 B; aborting A leaves B 800 B at full speed: ends at 1200.
        assert_eq!(r.abort(t(400), a), Some(800));
        assert_eq!(run_to_idle(&mut r), vec![(b, 1200)]);
    }

    #[test]
    fn indivisible_share_gives_remainder_to_earliest() {
        // 10 B/s over 3 transfers: 4, 3, 3. Still exactly work-conserving.
        let mut r = FluidResource::new(rate(10));
        let ids: Vec<_> = (0..3).map(|_| r.start(t(0), 100, None)).collect();
        let rates: Vec<_> = ids.iter().map(|&i| r.rate_of(i).unwrap()).collect();
        assert_eq!(rates, vec![4, 3, 3]);
        r.check_invariants();
    }

    #[test]
    fn zero_byte_transfer_completes_immediately() {
        let mut r = FluidResource::new(rate(GBPS));
        let a = r.start(t(50), 0, None);
        assert_eq!(r.next_completion(), Some(t(50)));
        assert_eq!(run_to_idle(&mut r), vec![(a, 50)]);
    }

    #[test]
    #[should_panic(expected = "was not completed")]
    fn missing_a_completion_is_a_bug() {
        let mut r = FluidResource::new(rate(GBPS));
        r.start(t(0), 100, None);
        r.advance(t(0) + SimDuration::from_nanos(200));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        struct Job {
            start_ns: u64,
            bytes: u64,
            cap: Option<u64>,
        }

        fn jobs() -> impl Strategy<Value = Vec<Job>> {
            prop::collection::vec(
                (
                    0u64..20_000,
                    0u64..50_000,
                    prop::option::of(1u64..2_000_000_000),
                )
                    .prop_map(|(start_ns, bytes, cap)| Job {
                        start_ns,
                        bytes,
                        cap,
                    }),
                1..24,
            )
        }

        proptest! {
            /// Starts, aborts and completions in random order, several transfers often
            /// finishing at one instant: the water-filling order is kept by inserting and
            /// re-indexing, not sorting, and `check_invariants` compares it with a sort by
            /// (cap, id) after every step, besides the rates' own invariants. Aborting returns
            /// what was left, so the bytes moved plus those aborted are the bytes started, up
            /// to rounding: each abort rounds its rest up, the total moved is rounded down.
            #[test]
            fn starts_aborts_and_completions_keep_the_cap_order(
                ops in prop::collection::vec(
                    (0u8..3, 1u64..20_000, prop::option::of(prop_oneof![
                        Just(100_000_000u64), Just(150_000_000), 1u64..500_000_000])),
                    1..120,
                ),
            ) {
                let mut r = FluidResource::new(rate(400_000_000));
                let (mut now, mut started, mut aborted, mut aborts) = (t(0), 0u64, 0u64, 0u64);
                let mut live: Vec<TransferId> = Vec::new();
                let mut done = Vec::new();
                for (op, n, cap) in ops {
                    match op {
                        0 => {
                            live.push(r.start(now, n, cap.map(rate)));
                            started += n;
                        }
                        1 if !live.is_empty() => {
                            let id = live.remove(n as usize % live.len());
                            aborted += r.abort(now, id).expect("a live transfer");
                            aborts += 1;
                        }
                        _ => {
                            if let Some(at) = r.next_completion() {
                                now = at;
                                r.complete_due(now, &mut done);
                                live.retain(|id| !done.contains(id));
                                done.clear();
                            }
                        }
                    }
                    r.check_invariants();
                }
                while let Some(at) = r.next_completion() {
                    r.complete_due(at, &mut done);
                    r.check_invariants();
                }
                let accounted = r.bytes_transferred() + aborted;
                prop_assert!(
                    accounted + 1 >= started && accounted <= started + aborts,
                    "moved {} + aborted {} against {} started ({} aborts)",
                    r.bytes_transferred(), aborted, started, aborts
                );
            }

            /// Drives random arrivals through the resource as an owner would, checking the
            /// invariants (cap, capacity, work conservation, fairness) at every step, and that
            /// every byte of every job completes, no job faster than its own cap or the
            /// capacity allows.
            #[test]
            fn random_workloads_respect_every_invariant(
                capacity in 1_000u64..3_000_000_000,
                mut jobs in jobs(),
            ) {
                jobs.sort_by_key(|j| j.start_ns);
                let mut r = FluidResource::new(rate(capacity));
                let mut started = Vec::new();
                let mut finished = std::collections::BTreeMap::new();
                let mut done = Vec::new();
                let mut next = 0;
                loop {
                    let arrival = jobs.get(next).map(|j| t(j.start_ns));
                    let completion = r.next_completion();
                    let now = match (arrival, completion) {
                        (None, None) => break,
                        (Some(a), Some(c)) => a.min(c),
                        (Some(a), None) => a,
                        (None, Some(c)) => c,
                    };
                    r.complete_due(now, &mut done);
                    for id in done.drain(..) {
                        finished.insert(id, now);
                    }
                    while next < jobs.len() && t(jobs[next].start_ns) == now {
                        let j = &jobs[next];
                        let id = r.start(now, j.bytes, j.cap.map(rate));
                        started.push((id, j.clone()));
                        next += 1;
                    }
                    r.check_invariants();
                }
                let total: u64 = jobs.iter().map(|j| j.bytes).sum();
                prop_assert_eq!(r.bytes_transferred(), total);
                prop_assert_eq!(finished.len(), jobs.len());
                for (id, j) in &started {
                    let end = finished[id];
                    let fastest = rate(j.cap.unwrap_or(u64::MAX).min(capacity)).time_for(j.bytes);
                    prop_assert!(end.duration_since(t(j.start_ns)) >= fastest,
                        "job {:?} beat its own cap or the capacity", id);
                }
            }
        }
    }
}
