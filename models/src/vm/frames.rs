//! Physical memory: the frame arena.

use super::{AsId, FileId, Version};

/// A physical page frame number: an index into the [`FrameTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pfn(pub u32);

/// As a kernel prints it: a page frame number.
impl std::fmt::Display for Pfn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "page frame {:#x}", self.0)
    }
}

/// What a frame holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// On the free list.
    Free,
    /// Anonymous user memory (heap, stack, a COW copy).
    Anon,
    /// The page cache's copy of page `index` of `file`.
    PageCache { file: FileId, index: u64 },
    /// Kernel-owned: no longer in any object, kept alive by kernel references (a loaned page
    /// whose loan was broken from the page cache's side, an orphaned cache page still in an
    /// mbuf after its file was replaced).
    Kernel,
}

/// One physical page.
///
/// Invariants (checked by `Vm::check_invariants`):
/// - a `Free` frame has no mappings, no kernel references, no loans and no wiring;
/// - a live frame has at least one mapping or kernel reference (else it leaked);
/// - `loans + wired ≤ kernel_refs`: every loan and wiring is a kernel reference;
/// - a frame with loans or wiring is mapped read-only in every address space;
/// - `mappings` lists exactly the present PTEs that point here (the reverse map).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub kind: FrameKind,
    /// Reverse map: every (address space, virtual page number) whose PTE points here.
    pub mappings: Vec<(AsId, u64)>,
    /// References the kernel holds: the page cache's own, mbufs' external storage, loans.
    pub kernel_refs: u32,
    /// Active NetBSD-style loans (`uvm_loan`).
    pub loans: u32,
    /// Active FreeBSD-style COW wirings (`socow_setup` / `vm_page_wire`).
    pub wired: u32,
    /// The content's version: a copy preserves it, a write replaces it with a fresh one.
    pub version: Version,
}

impl Frame {
    fn free() -> Self {
        Frame {
            kind: FrameKind::Free,
            mappings: Vec::new(),
            kernel_refs: 0,
            loans: 0,
            wired: 0,
            version: Version(0),
        }
    }

    /// Mappings plus kernel references.
    pub fn refcount(&self) -> u64 {
        self.mappings.len() as u64 + self.kernel_refs as u64
    }

    /// Loaned or wired for the kernel, so it must stay write-protected.
    pub fn is_lent(&self) -> bool {
        self.loans > 0 || self.wired > 0
    }
}

/// The arena of frames with a free list. It grows on demand: the model bounds memory by what
/// is referenced, not by a configured size, and frames are reused LIFO from the free list.
#[derive(Clone, Debug, Default)]
pub struct FrameTable {
    frames: Vec<Frame>,
    free: Vec<Pfn>,
    /// Frames changed since the last [`FrameTable::drain_touched`], when tracking is on (for
    /// traces of the page-frame map).
    touched: Option<Vec<Pfn>>,
    /// Frames changed since the last incremental invariant check, when checking is on.
    dirty: Option<Vec<Pfn>>,
}

impl FrameTable {
    pub fn get(&self, pfn: Pfn) -> &Frame {
        &self.frames[pfn.0 as usize]
    }

    pub fn get_mut(&mut self, pfn: Pfn) -> &mut Frame {
        self.note(pfn);
        &mut self.frames[pfn.0 as usize]
    }

    fn note(&mut self, pfn: Pfn) {
        if let Some(t) = &mut self.touched {
            t.push(pfn);
        }
        if let Some(d) = &mut self.dirty {
            d.push(pfn);
        }
    }

    /// Starts or stops remembering which frames change for the invariant checker.
    pub(super) fn set_dirty_tracking(&mut self, on: bool) {
        self.dirty = on.then(Vec::new);
    }

    /// Takes the frames changed since the last call, sorted, without repeats.
    pub(super) fn take_dirty(&mut self) -> Vec<Pfn> {
        let mut d = self.dirty.as_mut().map(std::mem::take).unwrap_or_default();
        d.sort_unstable();
        d.dedup();
        d
    }

    /// Starts or stops remembering which frames change.
    pub fn set_tracking(&mut self, on: bool) {
        self.touched = on.then(Vec::new);
    }

    /// Appends the frames changed since the last call (with repeats) to `out`.
    pub fn drain_touched(&mut self, out: &mut Vec<Pfn>) {
        if let Some(t) = &mut self.touched {
            out.append(t);
        }
    }

    /// Every frame ever created, in PFN order (the TUI's page-frame map).
    pub fn iter(&self) -> impl Iterator<Item = (Pfn, &Frame)> {
        self.frames
            .iter()
            .enumerate()
            .map(|(i, f)| (Pfn(i as u32), f))
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Frames not on the free list.
    pub fn live(&self) -> usize {
        self.frames.len() - self.free.len()
    }

    /// Takes a free frame (or a new one) and gives it `kind` and `version`, unreferenced.
    pub fn alloc(&mut self, kind: FrameKind, version: Version) -> Pfn {
        assert!(kind != FrameKind::Free, "allocating a frame as Free");
        let pfn = self.free.pop().unwrap_or_else(|| {
            let pfn = Pfn(u32::try_from(self.frames.len()).expect("over 2^32 frames"));
            self.frames.push(Frame::free());
            pfn
        });
        self.note(pfn);
        let f = &mut self.frames[pfn.0 as usize];
        debug_assert_eq!(f.kind, FrameKind::Free);
        f.kind = kind;
        f.version = version;
        pfn
    }

    /// Returns `pfn` to the free list if nothing references it. Returns whether it was freed.
    pub fn free_if_unreferenced(&mut self, pfn: Pfn) -> bool {
        let f = &mut self.frames[pfn.0 as usize];
        if f.kind == FrameKind::Free || f.refcount() > 0 {
            return false;
        }
        assert!(!f.is_lent(), "freeing {pfn:?} while loaned or wired");
        *f = Frame::free();
        self.note(pfn);
        self.free.push(pfn);
        true
    }

    pub(super) fn free_list(&self) -> &[Pfn] {
        &self.free
    }
}
