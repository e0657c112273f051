//! Address spaces: VMAs, the page table, the lookup cache.

use std::collections::BTreeMap;

use super::{FileId, PAGE_SIZE, Pfn};

/// An address space, numbered from a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AsId(pub u32);

/// A virtual memory area, numbered from a counter shared by all address spaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VmaId(pub u32);

/// What backs a VMA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// Zero-filled on first touch.
    Anon,
    /// Page `offset_pages + (addr - start) / PAGE_SIZE` of `file`.
    File { file: FileId, offset_pages: u64 },
}

/// A mapped range `[start, end)`, page-aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vma {
    pub id: VmaId,
    pub start: u64,
    pub end: u64,
    pub backing: Backing,
    pub writable: bool,
    /// `MAP_SHARED`: writes reach the object and every other mapping of it.
    pub shared: bool,
}

impl Vma {
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    pub fn len_bytes(&self) -> u64 {
        self.end - self.start
    }

    /// The file page behind `addr`, for file-backed VMAs.
    pub fn file_page(&self, addr: u64) -> Option<(FileId, u64)> {
        match self.backing {
            Backing::Anon => None,
            Backing::File { file, offset_pages } => {
                Some((file, offset_pages + (addr - self.start) / PAGE_SIZE))
            }
        }
    }
}

/// A present page-table entry (absent entries are simply not stored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pte {
    pub pfn: Pfn,
    pub writable: bool,
    /// Copy-on-write: a write must copy unless this mapping is the frame's only user.
    pub cow: bool,
    pub dirty: bool,
    /// Write-protected because the page was loaned or wired; once the loan ends, the next
    /// write only restores the permission (the cheap fault).
    pub lend_protected: bool,
}

/// One process's view of memory.
///
/// Invariants (checked by `Vm::check_invariants`): VMAs do not overlap and lie inside
/// `[0, size_bytes)`; `mapped_bytes` is the sum of their lengths; every present PTE lies inside
/// a VMA, points at a live frame and is listed in that frame's reverse map; the lookup cache
/// names a VMA that exists.
#[derive(Clone, Debug)]
pub struct AddressSpace {
    /// VMAs by start address.
    pub(super) vmas: BTreeMap<u64, Vma>,
    /// Present PTEs by virtual page number.
    pub(super) ptes: BTreeMap<u64, Pte>,
    /// The one-entry `find_vma` cache (NetBSD `map->hint`, Linux `mmap_cache`): a VMA start.
    pub(super) lookup_cache: Option<u64>,
    /// Size of the user address space (3 GiB on a 32-bit target).
    pub(super) size_bytes: u64,
    pub(super) mapped_bytes: u64,
}

impl AddressSpace {
    pub(super) fn new(size_bytes: u64) -> Self {
        AddressSpace {
            vmas: BTreeMap::new(),
            ptes: BTreeMap::new(),
            lookup_cache: None,
            size_bytes,
            mapped_bytes: 0,
        }
    }

    pub fn vma_count(&self) -> usize {
        self.vmas.len()
    }

    pub fn mapped_bytes(&self) -> u64 {
        self.mapped_bytes
    }

    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    pub fn pte(&self, vpn: u64) -> Option<&Pte> {
        self.ptes.get(&vpn)
    }

    pub fn vmas(&self) -> impl Iterator<Item = &Vma> {
        self.vmas.values()
    }

    /// The VMA containing `addr`, without cost or counting (for observers and internal use).
    pub fn vma_at(&self, addr: u64) -> Option<&Vma> {
        self.vmas
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| v.contains(addr))
    }

    /// The lowest page-aligned hole of `len` bytes at or above `PAGE_SIZE` (page 0 stays
    /// unmapped, as on real systems), or `None` if none fits.
    pub(super) fn find_hole(&self, len: u64) -> Option<u64> {
        let mut candidate = PAGE_SIZE;
        for v in self.vmas.values() {
            if v.start >= candidate && v.start - candidate >= len {
                return Some(candidate);
            }
            candidate = candidate.max(v.end);
        }
        (self.size_bytes.checked_sub(candidate)? >= len).then_some(candidate)
    }

    /// Whether `[start, start + len)` is inside the space and overlaps no VMA.
    pub(super) fn is_free(&self, start: u64, len: u64) -> bool {
        let Some(end) = start.checked_add(len) else {
            return false;
        };
        if end > self.size_bytes || start == 0 {
            return false;
        }
        let before = self.vmas.range(..end).next_back();
        before.is_none_or(|(_, v)| v.end <= start)
    }
}
