//! mbufs and their external storage (BSD `mbuf(9)`; Linux `sk_buff` page frags are modelled
//! by the same external-storage mechanism).
//!
//! Payload bytes in the network path live in *external storage* ([`Ext`]): a 2 KiB cluster
//! the kernel filled by copying, or pages it references without copying (a loaned user page,
//! a COW-wired user page, a page-cache page, a kernel page a NIC received into). A storage has
//! a reference count: the socket buffer holds one for as long as the data is unacknowledged,
//! and every packet built from it by `m_copy` takes one more. `m_copy` of external storage
//! only takes a reference; copying bytes is reserved for small internal data. When the last
//! reference goes, the storage is released: a cluster returns to its pool, a loan or wiring is
//! returned to the VM, a page-cache reference is dropped.
//!
//! Every piece of page-backed storage records which content version the send semantics
//! promised for each page; the NIC's DMA compares it with the frame's version when it reads
//! the page, which is how splats are counted.

use crate::idwindow::IdWindow;

use crate::vm::{LendKind, Line, PAGE_SIZE, Pfn, Seg, Version};

/// Size of an mbuf (`MSIZE`).
pub const MSIZE: u64 = 256;
/// Bytes of data an mbuf holds internally (`MLEN`, with a packet header).
pub const MHLEN: u64 = 200;
/// Size of a cluster (`MCLBYTES`).
pub const MCLBYTES: u64 = 2048;

/// An external storage, numbered from a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExtId(pub u64);

/// As narration names it: the storage an mbuf's `m_ext` points at.
impl std::fmt::Display for ExtId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "mbuf storage #{}", self.0)
    }
}

/// What backs an external storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtKind {
    /// A 2 KiB kernel cluster holding a private copy (contiguous; content fixed once filled).
    /// `checksummed` if the copy that filled it computed the checksum on the way.
    Cluster { checksummed: bool },
    /// Contiguous kernel memory: a driver's bounce buffer for a chain it had to coalesce, or
    /// a receive buffer a NIC DMAed a whole frame's payload into.
    Bounce,
    /// User pages lent to the kernel (NetBSD loan or FreeBSD COW wiring), each with the
    /// version `write()` promised.
    Lent {
        kind: LendKind,
        pages: Vec<PagePromise>,
    },
    /// Page-cache or kernel pages referenced directly (`sendfile`, `sendpage`, a locked
    /// cache page, a received page). The promised version is what the sender meant to send.
    Pages { pages: Vec<PagePromise> },
    /// A `net_iov` of a devmem TCP `dmabuf` binding: a page-sized buffer, numbered `niov`, in
    /// a peer device's memory. No host page backs it and the CPU cannot read it (an
    /// "unreadable" frag).
    DeviceMem { niov: u64 },
}

/// One page of page-backed storage: the frame referenced and the content it should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PagePromise {
    pub pfn: Pfn,
    pub expected: Version,
}

/// An external storage and its reference count.
///
/// Invariants: `refs > 0` while it is in the table (it is removed, and released, when the
/// last reference is dropped); a page-backed storage's `offset_in_first_page + len` fits in
/// its pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ext {
    pub kind: ExtKind,
    /// Payload bytes it holds.
    pub len: u64,
    /// Where the payload starts in the first page (page-backed kinds; 0 otherwise).
    pub offset_in_first_page: u64,
    pub refs: u32,
}

impl Ext {
    /// Physically contiguous pieces that `[off, off + len)` of this storage spans: one for a
    /// cluster or bounce buffer, one per page touched for page-backed storage. This is the
    /// number of DMA descriptors the range needs.
    pub fn pieces(&self, off: u64, len: u64) -> u64 {
        match self.kind {
            ExtKind::Cluster { .. } | ExtKind::Bounce | ExtKind::DeviceMem { .. } => 1,
            ExtKind::Lent { .. } | ExtKind::Pages { .. } => {
                if len == 0 {
                    return 0;
                }
                let start = self.offset_in_first_page + off;
                (start + len - 1) / PAGE_SIZE - start / PAGE_SIZE + 1
            }
        }
    }

    /// The pages `[off, off + len)` reads, each with the bytes it contributes.
    pub fn page_ranges(&self, off: u64, len: u64) -> impl Iterator<Item = (PagePromise, u64)> + '_ {
        let pages: &[PagePromise] = match &self.kind {
            ExtKind::Lent { pages, .. } | ExtKind::Pages { pages } => pages,
            _ => &[],
        };
        let start = self.offset_in_first_page + off;
        let end = start + len;
        let first = start / PAGE_SIZE;
        let last = if len == 0 {
            first
        } else {
            (end - 1) / PAGE_SIZE + 1
        };
        (first..last).filter_map(move |i| {
            let page = pages.get(i as usize)?;
            let lo = start.max(i * PAGE_SIZE);
            let hi = end.min((i + 1) * PAGE_SIZE);
            Some((*page, hi - lo))
        })
    }
}

/// What the caller must do when a storage's last reference goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Release {
    /// Nothing else holds it; a cluster or bounce buffer back to its pool.
    Memory,
    /// Return each page's loan or wiring to the VM (`uvm_unloan`, `socow_iodone`).
    EndLend { kind: LendKind, pages: Vec<Pfn> },
    /// Drop one VM reference per page (`put_page`).
    Unref { pages: Vec<Pfn> },
}

/// Counters the report reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MbufCounters {
    /// mbufs allocated (headers, chain links, internal data).
    pub mbufs: u64,
    /// 2 KiB clusters allocated.
    pub clusters: u64,
    /// Payload bytes copied by `m_copy` because they were internal data.
    pub internal_copy_bytes: u64,
    /// Storages released because their last reference went.
    pub released: u64,
}

/// The table of live external storages.
///
/// Each live cluster occupies one unit of kernel buffer memory, numbered for the cache model
/// ([`crate::vm::Line::Kbuf`]): a freed unit is the next one handed out, as UMA's per-CPU
/// buckets (FreeBSD `uma_zalloc`) and Linux's per-CPU page lists (`sk_page_frag` refills)
/// hand back the memory freed last, which is still in the cache.
///
/// Invariants ([`ExtTable::check_invariants`]): the live clusters and the keys of `units`
/// agree; every unit below `next_unit` is either some live cluster's, once, or free, once.
#[derive(Clone, Debug, Default)]
pub struct ExtTable {
    exts: IdWindow<ExtId, Ext>,
    next: u64,
    counters: MbufCounters,
    /// Each live cluster's unit of kernel buffer memory.
    units: IdWindow<ExtId, u64>,
    /// Units free, the last freed at the end.
    free_units: Vec<u64>,
    next_unit: u64,
}

impl ExtTable {
    pub fn counters(&self) -> &MbufCounters {
        &self.counters
    }

    pub fn get(&self, id: ExtId) -> &Ext {
        self.exts
            .get(&id)
            .unwrap_or_else(|| panic!("{id:?} is not a live external storage"))
    }

    pub fn live(&self) -> usize {
        self.exts.len()
    }

    /// Live storages, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (ExtId, &Ext)> {
        self.exts.iter()
    }

    /// Attaches a new storage with one reference (its creator's), counting the mbuf that
    /// carries it and, for clusters, the cluster (`MGETHDR` + `MCLGET` / `MEXTADD`).
    pub fn attach(&mut self, kind: ExtKind, len: u64, offset_in_first_page: u64) -> ExtId {
        self.counters.mbufs += 1;
        let id = ExtId(self.next);
        self.next += 1;
        if matches!(kind, ExtKind::Cluster { .. }) {
            assert!(len <= MCLBYTES, "cluster of {len} bytes");
            self.counters.clusters += 1;
            let unit = self.free_units.pop().unwrap_or_else(|| {
                self.next_unit += 1;
                self.next_unit - 1
            });
            self.units.insert(id, unit);
        }
        self.exts.insert(
            id,
            Ext {
                kind,
                len,
                offset_in_first_page,
                refs: 1,
            },
        );
        id
    }

    /// `m_copy` of external storage: one more reference and one more mbuf, no bytes moved.
    pub fn m_copy_ref(&mut self, id: ExtId) {
        self.counters.mbufs += 1;
        let e = self
            .exts
            .get_mut(&id)
            .unwrap_or_else(|| panic!("m_copy of dead {id:?}"));
        e.refs += 1;
    }

    /// `m_copy` of internal data: a new mbuf and a copy of the bytes. Returns the bytes the
    /// caller must charge as a CPU copy.
    pub fn m_copy_internal(&mut self, len: u64) -> u64 {
        assert!(len <= MHLEN, "{len} bytes do not fit in an mbuf");
        self.counters.mbufs += 1;
        self.counters.internal_copy_bytes += len;
        len
    }

    /// Drops one reference (`m_free` of one mbuf of a chain). Returns what must be released
    /// if it was the last.
    pub fn unref(&mut self, id: ExtId) -> Option<Release> {
        let e = self
            .exts
            .get_mut(&id)
            .unwrap_or_else(|| panic!("m_free of dead {id:?}"));
        assert!(e.refs > 0, "{id:?} reference count underflow");
        e.refs -= 1;
        if e.refs > 0 {
            return None;
        }
        let e = self.exts.remove(&id).expect("present");
        self.counters.released += 1;
        if let Some(unit) = self.units.remove(&id) {
            self.free_units.push(unit);
        }
        Some(match e.kind {
            // A net_iov goes back to its binding when the application returns its token, not
            // when the skb lets go of it.
            ExtKind::Cluster { .. } | ExtKind::Bounce | ExtKind::DeviceMem { .. } => {
                Release::Memory
            }
            ExtKind::Lent { kind, pages } => Release::EndLend {
                kind,
                pages: pages.iter().map(|p| p.pfn).collect(),
            },
            ExtKind::Pages { pages } => Release::Unref {
                pages: pages.iter().map(|p| p.pfn).collect(),
            },
        })
    }

    /// The cache line of the memory holding `[off, off + len)` of `id`, piece by piece: a
    /// cluster's unit, a page-backed storage's frames; a bounce buffer or a peer device's
    /// memory is memory the cache model does not track (`None`: a NIC wrote it, or it was
    /// filled once to be DMAed, or it is not host memory).
    pub fn segs(&self, id: ExtId, off: u64, len: u64) -> Vec<Seg> {
        let mut out = Vec::new();
        self.segs_into(id, off, len, &mut out);
        out
    }

    /// [`ExtTable::segs`], appended to `out`.
    pub fn segs_into(&self, id: ExtId, off: u64, len: u64, out: &mut Vec<Seg>) {
        let e = self.get(id);
        let from = out.len();
        match e.kind {
            ExtKind::Cluster { .. } => out.push((Some(Line::Kbuf(self.units[&id])), len)),
            // Device memory is not the host's: no host cache line holds it.
            ExtKind::Bounce | ExtKind::DeviceMem { .. } => out.push((None, len)),
            ExtKind::Lent { .. } | ExtKind::Pages { .. } => out.extend(
                e.page_ranges(off, len)
                    .map(|(page, bytes)| (Some(Line::Frame(page.pfn)), bytes)),
            ),
        }
        assert_eq!(
            out[from..].iter().map(|s| s.1).sum::<u64>(),
            len,
            "{id:?} does not hold [{off}, {off} + {len})"
        );
    }

    /// Removes a one-page storage held by a single reference and hands its page over to the
    /// caller, who takes over the page's reference (FreeBSD's receive page flip moves the page
    /// into the user's address space instead of copying it). Panics if the storage is shared
    /// or not exactly one page.
    pub fn take_single_page(&mut self, id: ExtId) -> Pfn {
        let e = self.exts.remove(&id).expect("flipping a dead storage");
        assert_eq!(e.refs, 1, "flipping {id:?} that others reference");
        self.counters.released += 1;
        match e.kind {
            ExtKind::Pages { pages } if pages.len() == 1 => pages[0].pfn,
            other => panic!("flipping {id:?} of kind {other:?}"),
        }
    }

    /// Panics if a storage is out of shape (see [`Ext`]).
    pub fn check_invariants(&self) {
        self.exts.check_invariants();
        self.units.check_invariants();
        let clusters = self
            .exts
            .iter()
            .filter(|(_, e)| matches!(e.kind, ExtKind::Cluster { .. }))
            .map(|(id, _)| id);
        assert!(
            clusters.eq(self.units.iter().map(|(id, _)| id)),
            "live clusters and their memory units disagree"
        );
        let mut seen = vec![false; self.next_unit as usize];
        for &u in self.units.values().chain(&self.free_units) {
            assert!(
                !std::mem::replace(&mut seen[u as usize], true),
                "kernel buffer unit {u} is used or free twice"
            );
        }
        assert!(seen.iter().all(|&s| s), "a kernel buffer unit was lost");
        for (id, e) in self.exts.iter() {
            assert!(e.refs > 0, "{id:?} is live with no reference");
            if let ExtKind::Lent { pages, .. } | ExtKind::Pages { pages } = &e.kind {
                assert!(
                    e.offset_in_first_page + e.len <= pages.len() as u64 * PAGE_SIZE,
                    "{id:?} holds {} bytes at offset {} in {} pages",
                    e.len,
                    e.offset_in_first_page,
                    pages.len()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(n: u32) -> Vec<PagePromise> {
        (0..n)
            .map(|i| PagePromise {
                pfn: Pfn(i),
                expected: Version(1),
            })
            .collect()
    }

    #[test]
    fn m_copy_of_a_cluster_chain_copies_no_payload() {
        // A chain of three clusters copied for a packet: three more references, three more
        // mbufs, zero bytes copied. Freeing the copy leaves the originals alive; freeing
        // those releases them.
        let mut t = ExtTable::default();
        let ids: Vec<_> = (0..3)
            .map(|_| t.attach(ExtKind::Cluster { checksummed: false }, MCLBYTES, 0))
            .collect();
        for &id in &ids {
            t.m_copy_ref(id);
        }
        assert_eq!(t.counters().internal_copy_bytes, 0);
        assert_eq!(t.counters().mbufs, 6);
        assert_eq!(t.counters().clusters, 3, "m_copy allocates no cluster");
        for &id in &ids {
            assert_eq!(t.unref(id), None);
        }
        assert_eq!(t.live(), 3);
        for &id in &ids {
            assert_eq!(t.unref(id), Some(Release::Memory));
        }
        assert_eq!(t.live(), 0);
        t.check_invariants();
    }

    #[test]
    fn m_copy_of_internal_data_copies_it() {
        // Small internal data (a 52-byte header) is copied byte for byte and counted.
        let mut t = ExtTable::default();
        assert_eq!(t.m_copy_internal(52), 52);
        assert_eq!(t.counters().internal_copy_bytes, 52);
    }

    #[test]
    fn last_reference_of_lent_pages_returns_the_loan() {
        let mut t = ExtTable::default();
        let id = t.attach(
            ExtKind::Lent {
                kind: LendKind::Loan,
                pages: pages(2),
            },
            8192,
            0,
        );
        t.m_copy_ref(id);
        assert_eq!(t.unref(id), None);
        assert_eq!(
            t.unref(id),
            Some(Release::EndLend {
                kind: LendKind::Loan,
                pages: vec![Pfn(0), Pfn(1)]
            })
        );
    }

    #[test]
    fn pieces_count_page_crossings() {
        // 1448 bytes starting 3000 bytes into a page-backed storage cross one page boundary:
        // two DMA pieces. A cluster is always one.
        let mut t = ExtTable::default();
        let id = t.attach(ExtKind::Pages { pages: pages(4) }, 16384, 0);
        assert_eq!(t.get(id).pieces(3000, 1448), 2);
        assert_eq!(t.get(id).pieces(0, 4096), 1);
        let ranges: Vec<u64> = t.get(id).page_ranges(3000, 1448).map(|r| r.1).collect();
        assert_eq!(ranges, vec![1096, 352]);
        let c = t.attach(ExtKind::Cluster { checksummed: true }, 2048, 0);
        assert_eq!(t.get(c).pieces(100, 1448), 1);
    }

    #[test]
    #[should_panic(expected = "m_free of dead")]
    fn freeing_twice_is_a_bug() {
        let mut t = ExtTable::default();
        let id = t.attach(ExtKind::Bounce, 100, 0);
        t.unref(id);
        t.unref(id);
    }
}
