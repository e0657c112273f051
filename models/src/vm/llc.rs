//! The last-level cache: which memory a copy finds on chip.
//!
//! Memory is tracked by [`Line`]: a physical frame, or one 2 KiB unit of kernel buffer
//! memory (an mbuf cluster, the linear data of an skb), which the network path numbers and
//! recycles last-freed-first as UMA's per-CPU buckets and Linux's per-CPU page lists do. What
//! a copy reads or writes becomes resident, most recently used; when the resident lines exceed
//! the capacity, the least recently used go first. A device's write (disk read, receive DMA)
//! takes its lines out: without DDIO the device writes memory and the cache drops its stale
//! copy. A freed frame stays resident: the next owner of the memory finds it hot, which is
//! why a recycled buffer costs no bus bytes.
//!
//! Simplified: one fully associative LRU at line (page or 2 KiB) granularity rather than
//! set-associative 64-byte lines with a replacement policy of the vendor's; no L1/L2 (a copy
//! is hot or cold); dirty lines are written back as part of the copy that wrote them (the
//! `copy_bus_factor` of a miss), not at eviction; a copy's own lines become resident only
//! after its residency is judged, so a copy larger than the cache still hits what it found.
//! Only copies ask the cache ([`crate::machine::Resident`]); the application's own reads and
//! writes and zero-filling make their lines resident but pay their bus bytes regardless.

use foldhash::fast::FixedState;
use std::collections::HashMap;

use super::{PAGE_SIZE, Pfn};
use crate::machine::Resident;

/// Bytes of one unit of kernel buffer memory (`MCLBYTES`).
pub const KBUF_UNIT_BYTES: u64 = 2048;

/// A piece of memory the cache holds or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Line {
    /// A physical page.
    Frame(Pfn),
    /// A 2 KiB unit of kernel buffer memory, numbered by the network path.
    Kbuf(u64),
}

impl Line {
    pub fn bytes(self) -> u64 {
        match self {
            Line::Frame(_) => PAGE_SIZE,
            Line::Kbuf(_) => KBUF_UNIT_BYTES,
        }
    }
}

/// One side of a copy, in order: `bytes` of the copy lie in `line`, or in memory the cache
/// model does not track (`None`: a device's buffer, a bounce buffer, another process's
/// memory), which always misses.
pub type Seg = (Option<Line>, u64);

/// No node: the end of the recency list.
const NIL: u32 = u32::MAX;

/// One resident line in the recency list.
#[derive(Clone, Copy, Debug)]
struct Node {
    line: Line,
    /// Less recent neighbour (towards `lru`).
    older: u32,
    /// More recent neighbour (towards `mru`).
    newer: u32,
}

/// A fully associative LRU cache of lines. See the module docs.
///
/// A hash map finds a line's node; the nodes form a doubly linked list by recency inside one
/// slab, whose freed slots are reused, so a touch is O(1) and allocates nothing once the
/// cache has filled. The map is only looked up, never iterated, so its hasher (fixed, fast)
/// cannot reach the output: eviction order is the list's.
///
/// Invariants ([`Llc::check_invariants`]): `index` and the list from `lru` to `mru` hold the
/// same lines, each once, and each `index` entry names its line's node; every slab slot is
/// in the list or on `free`; `used_bytes` is the sum of the listed lines' sizes and at most
/// `capacity_bytes`.
#[derive(Clone, Debug)]
pub struct Llc {
    capacity_bytes: u64,
    used_bytes: u64,
    index: HashMap<Line, u32, FixedState>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// Least recently used resident line (`NIL` when empty).
    lru: u32,
    /// Most recently used resident line (`NIL` when empty).
    mru: u32,
}

impl Default for Llc {
    /// No cache: nothing is ever resident.
    fn default() -> Self {
        Llc::new(0)
    }
}

impl Llc {
    pub fn new(capacity_bytes: u64) -> Self {
        Llc {
            capacity_bytes,
            used_bytes: 0,
            index: HashMap::default(),
            nodes: Vec::new(),
            free: Vec::new(),
            lru: NIL,
            mru: NIL,
        }
    }

    pub fn capacity_bytes(&self) -> u64 {
        self.capacity_bytes
    }

    pub fn used_bytes(&self) -> u64 {
        self.used_bytes
    }

    #[inline]
    pub fn is_resident(&self, line: Line) -> bool {
        self.capacity_bytes != 0 && self.index.contains_key(&line)
    }

    /// `line` was used: it becomes the most recent, evicting the least recent lines until
    /// the resident ones fit. No-op without a cache.
    pub fn touch(&mut self, line: Line) {
        if self.capacity_bytes == 0 {
            return;
        }
        match self.index.get(&line) {
            Some(&n) => {
                if n != self.mru {
                    self.unlink(n);
                    self.link_mru(n);
                }
            }
            None => {
                let node = Node {
                    line,
                    older: NIL,
                    newer: NIL,
                };
                let n = match self.free.pop() {
                    Some(n) => {
                        self.nodes[n as usize] = node;
                        n
                    }
                    None => {
                        self.nodes.push(node);
                        u32::try_from(self.nodes.len() - 1).expect("under 2^32 resident lines")
                    }
                };
                self.index.insert(line, n);
                self.link_mru(n);
                self.used_bytes += line.bytes();
                while self.used_bytes > self.capacity_bytes {
                    let victim = self.nodes[self.lru as usize].line;
                    self.invalidate(victim);
                }
            }
        }
    }

    /// A device wrote `line`'s memory: the cache's copy is gone.
    pub fn invalidate(&mut self, line: Line) {
        if let Some(n) = self.index.remove(&line) {
            self.unlink(n);
            self.free.push(n);
            self.used_bytes -= line.bytes();
        }
    }

    /// Takes node `n` out of the recency list.
    fn unlink(&mut self, n: u32) {
        let Node { older, newer, .. } = self.nodes[n as usize];
        match older {
            NIL => self.lru = newer,
            o => self.nodes[o as usize].newer = newer,
        }
        match newer {
            NIL => self.mru = older,
            m => self.nodes[m as usize].older = older,
        }
    }

    /// Puts node `n` at the most recent end of the list.
    fn link_mru(&mut self, n: u32) {
        let old = self.mru;
        let node = &mut self.nodes[n as usize];
        node.older = old;
        node.newer = NIL;
        match old {
            NIL => self.lru = n,
            o => self.nodes[o as usize].newer = n,
        }
        self.mru = n;
    }

    /// Resident lines, least recently used first.
    fn by_recency(&self) -> impl Iterator<Item = (u32, Line)> + '_ {
        let mut n = self.lru;
        std::iter::from_fn(move || {
            (n != NIL).then(|| {
                let here = n;
                n = self.nodes[here as usize].newer;
                (here, self.nodes[here as usize].line)
            })
        })
    }

    /// How many of a copy's bytes find their source, their destination or both resident now,
    /// walking `src` and `dst` side by side in byte order. Both sides must add up to the same
    /// length (a model bug otherwise).
    pub fn residency(&self, src: &[Seg], dst: &[Seg]) -> Resident {
        let hit = |s: &Seg| s.0.is_some_and(|l| self.is_resident(l));
        let mut r = Resident::default();
        let (mut i, mut j) = (0, 0);
        let (mut left_s, mut left_d) = (
            src.first().map_or(0, |s| s.1),
            dst.first().map_or(0, |d| d.1),
        );
        while i < src.len() && j < dst.len() {
            let n = left_s.min(left_d);
            match (hit(&src[i]), hit(&dst[j])) {
                (true, true) => r.both += n,
                (true, false) => r.src_only += n,
                (false, true) => r.dst_only += n,
                (false, false) => {}
            }
            left_s -= n;
            left_d -= n;
            if left_s == 0 {
                i += 1;
                left_s = src.get(i).map_or(0, |s| s.1);
            }
            if left_d == 0 {
                j += 1;
                left_d = dst.get(j).map_or(0, |d| d.1);
            }
        }
        let total = |side: &[Seg]| side.iter().map(|s| s.1).sum::<u64>();
        assert_eq!(
            total(src),
            total(dst),
            "a copy's source and destination differ in length"
        );
        r
    }

    /// The invariants that cost nothing to check (sizes and capacity), for the incremental
    /// check after every event; [`Llc::check_invariants`] walks every line.
    pub fn check_counts(&self) {
        assert_eq!(
            self.index.len() + self.free.len(),
            self.nodes.len(),
            "a slab slot is neither resident nor free"
        );
        assert!(
            self.used_bytes <= self.capacity_bytes,
            "{} bytes resident in a {}-byte cache",
            self.used_bytes,
            self.capacity_bytes
        );
    }

    /// Panics with a message if an invariant of the type docs does not hold.
    pub fn check_invariants(&self) {
        self.check_counts();
        let (mut bytes, mut listed, mut prev) = (0, 0, NIL);
        let mut in_list = vec![false; self.nodes.len()];
        for (n, line) in self.by_recency() {
            assert_eq!(
                self.index.get(&line),
                Some(&n),
                "{line:?} is in the recency list but not indexed to its node"
            );
            assert_eq!(
                self.nodes[n as usize].older, prev,
                "{line:?}'s older link is broken"
            );
            assert!(listed < self.nodes.len(), "the recency list has a cycle");
            in_list[n as usize] = true;
            prev = n;
            listed += 1;
            bytes += line.bytes();
        }
        assert_eq!(
            prev, self.mru,
            "the list does not end at the most recent line"
        );
        assert_eq!(
            listed,
            self.index.len(),
            "resident lines missing from the list"
        );
        assert_eq!(bytes, self.used_bytes, "resident bytes miscounted");
        for &n in &self.free {
            assert!(
                !std::mem::replace(&mut in_list[n as usize], true),
                "slab slot {n} is free twice, or free and resident"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Line = Line::Frame(Pfn(1));
    const B: Line = Line::Frame(Pfn(2));
    const C: Line = Line::Frame(Pfn(3));

    #[test]
    fn the_least_recently_used_page_goes_first() {
        // Two pages of room. A, B, then A again: B is now the least recent, so C evicts B,
        // not A, which a FIFO would have evicted.
        let mut llc = Llc::new(2 * PAGE_SIZE);
        for l in [A, B, A, C] {
            llc.touch(l);
            llc.check_invariants();
        }
        assert!(llc.is_resident(A) && llc.is_resident(C));
        assert!(!llc.is_resident(B));
        assert_eq!(llc.used_bytes(), 2 * PAGE_SIZE);
    }

    #[test]
    fn kernel_buffer_units_take_half_a_page() {
        // One page of room holds two 2 KiB units; a third evicts the first.
        let mut llc = Llc::new(PAGE_SIZE);
        for u in 0..3 {
            llc.touch(Line::Kbuf(u));
        }
        llc.check_invariants();
        assert!(!llc.is_resident(Line::Kbuf(0)));
        assert!(llc.is_resident(Line::Kbuf(1)) && llc.is_resident(Line::Kbuf(2)));
    }

    #[test]
    fn without_a_cache_nothing_is_ever_resident() {
        // llc_bytes = 0 (the 2002 presets): touching keeps nothing, so every copy is cold and
        // the machine charges what it charged before the cache existed.
        let mut llc = Llc::new(0);
        llc.touch(A);
        assert!(!llc.is_resident(A));
        assert_eq!(
            llc.residency(&[(Some(A), PAGE_SIZE)], &[(Some(A), PAGE_SIZE)]),
            Resident::default()
        );
        llc.check_invariants();
    }

    #[test]
    fn a_device_write_takes_the_line_out() {
        // A receive DMA or a disk read overwrote A's memory: the next copy of A misses.
        let mut llc = Llc::new(4 * PAGE_SIZE);
        llc.touch(A);
        llc.invalidate(A);
        assert!(!llc.is_resident(A));
        assert_eq!(llc.used_bytes(), 0);
        llc.check_invariants();
    }

    #[test]
    fn residency_pairs_source_and_destination_byte_by_byte() {
        // Source: A (resident) 4096 B, then untracked memory 4096 B. Destination: unit 0
        // (resident) 2048 B, unit 1 (not) 2048 B, then C (resident) 4096 B. Byte by byte:
        // [0, 2048) A/unit 0: both; [2048, 4096) A/unit 1: source only; [4096, 8192)
        // untracked/C: destination only.
        let mut llc = Llc::new(16 * PAGE_SIZE);
        for l in [A, Line::Kbuf(0), C] {
            llc.touch(l);
        }
        let r = llc.residency(
            &[(Some(A), 4096), (None, 4096)],
            &[
                (Some(Line::Kbuf(0)), 2048),
                (Some(Line::Kbuf(1)), 2048),
                (Some(C), 4096),
            ],
        );
        assert_eq!(
            r,
            Resident {
                both: 2048,
                src_only: 2048,
                dst_only: 4096
            }
        );
        // Bus bytes at 3 per cold byte (write-allocate): the 2048 B with the destination
        // missing pay the write-allocate read and the write-back (2 each); the 4096 B with the
        // source missing pay its read (1 each): 4096 + 4096 = 8192.
        assert_eq!(r.bus_bytes(8192, 3), 8192);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// What a cache of lines is, plainly: resident lines least recent first.
        fn reference(cap: u64, ops: &[(bool, Line)]) -> Vec<Vec<Line>> {
            let mut lru: Vec<Line> = Vec::new();
            let mut states = Vec::new();
            for &(touch, line) in ops {
                lru.retain(|&l| l != line);
                if touch && cap > 0 {
                    lru.push(line);
                    while lru.iter().map(|l| l.bytes()).sum::<u64>() > cap {
                        lru.remove(0);
                    }
                }
                states.push(lru.clone());
            }
            states
        }

        fn line() -> impl Strategy<Value = Line> {
            prop_oneof![
                (0u32..12).prop_map(|p| Line::Frame(Pfn(p))),
                (0u64..12).prop_map(Line::Kbuf),
            ]
        }

        proptest! {
            /// Touches and invalidations of a few lines (pages and 2 KiB units, so evictions
            /// free uneven room) against a list kept in recency order by hand, with capacities
            /// from none, through less than a page, to more than every line. The same lines
            /// resident after every step, in the same recency order, is the same eviction
            /// order; the invariants hold after every step too.
            #[test]
            fn the_slab_lru_evicts_as_a_plain_list_does(
                cap in prop_oneof![Just(0u64), Just(1000), 2048u64..40_000],
                ops in prop::collection::vec((any::<bool>(), line()), 1..200),
            ) {
                let want = reference(cap, &ops);
                let mut llc = Llc::new(cap);
                for (i, &(touch, l)) in ops.iter().enumerate() {
                    if touch { llc.touch(l) } else { llc.invalidate(l) }
                    llc.check_invariants();
                    let got: Vec<Line> = llc.by_recency().map(|(_, l)| l).collect();
                    prop_assert_eq!(&got, &want[i], "after step {}", i);
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "differ in length")]
    fn a_copy_of_unequal_sides_is_a_model_bug() {
        Llc::new(PAGE_SIZE).residency(&[(None, 10)], &[(None, 20)]);
    }
}
