//! The VM subsystem: frames, the page cache, address spaces, faults, COW, page loaning.
//!
//! Every operation changes state at once and appends what it costs to a [`Plan`]; the
//! [`Machine`](crate::machine::Machine) turns the plan into simulated time. Costs come from the
//! [`CostTable`]; each operation's doc names the kernel mechanism it models and its cost.
//!
//! ## Content versions
//! Each frame carries a [`Version`] of its content. A write gives it a fresh version from a
//! global counter; a copy (COW, loan break, `copyin` into a kernel buffer) carries the version
//! across. So "is this the data the application handed to `write()`?" is a version comparison,
//! which is how the network model counts splats.
//!
//! ## Lending pages to the kernel
//! Two mechanisms share one implementation ([`Vm::lend`], [`Vm::end_lend`]) and differ in name
//! and counters: NetBSD page loaning (`uvm_loan`, a user write breaks the loan with
//! `uvm_loanbreak`, counted as `loan_break`) and FreeBSD COW wiring for zero-copy sockets
//! (`socow_setup`, a user write takes an ordinary COW fault, counted as `cow`). Either way the
//! page gets a kernel reference, every mapping of it is write-protected, and a write while it
//! is lent gives the writer a copy while the kernel keeps the original.

mod aspace;
mod cache;
mod copy;
mod fault;
mod frames;
mod invariants;
mod lend;
mod llc;
mod mapping;
mod page_cache;
mod pte;

pub use aspace::{AddressSpace, AsId, Backing, Pte, Vma, VmaId};
pub use frames::{Frame, FrameKind, FrameTable, Pfn};
pub use llc::{KBUF_UNIT_BYTES, Line, Llc, Seg};

use crate::machine::{Activity, CostTable, Plan, Step};

/// The page size of every modelled target.
pub const PAGE_SIZE: u64 = 4096;

/// A content version; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// A file, numbered from a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// A file's metadata. Its cached pages live in the page cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub size_bytes: u64,
    /// Unlinked (replaced by a rename): its pages leave the cache as soon as nothing
    /// references them.
    pub unlinked: bool,
    /// Every page counts as cached (read before the run began); pages are materialized on
    /// first use at no cost, so memory follows what the run touches, not the file size.
    pub warm: bool,
}

impl File {
    pub fn pages(&self) -> u64 {
        self.size_bytes.div_ceil(PAGE_SIZE)
    }
}

/// How the VM is set up.
#[derive(Clone, Debug, PartialEq)]
pub struct VmConfig {
    pub costs: CostTable,
    /// CPUs on the machine; above one, write-protecting a page costs a TLB shootdown.
    pub cpus: u32,
    /// Size of each user address space (3 GiB on a 32-bit target).
    pub user_space_bytes: u64,
    /// Bytes one page-cache miss reads from disk in one request: the missing page and the
    /// uncached pages after it, up to this much (read-ahead). A page or less reads the
    /// missing page alone.
    pub read_ahead_bytes: u64,
    /// A read fault on a file mapping also maps the already-cached pages of the window of
    /// this many bytes around it (Linux `fault_around_bytes`, 64 KiB since 3.15; 0 or one
    /// page: no fault-around, as in Linux 2.4 and the 2002 BSDs). See [`Vm::touch`].
    pub fault_around_bytes: u64,
    /// Size of the last-level cache a copy may find its data in (see [`Llc`]); 0: no cache,
    /// every copy cold, as on the 2002 boards, whose caches are tiny against their buffers.
    pub llc_bytes: u64,
}

/// How a page is lent to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LendKind {
    /// NetBSD `uvm_loan`.
    Loan,
    /// FreeBSD `socow_setup` (`vm_page_wire` + `pmap_page_protect(VM_PROT_READ)`).
    CowWire,
}

/// A page lent to the kernel, with the content it had when lent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LentPage {
    pub pfn: Pfn,
    pub version: Version,
}

/// Kind of access a user makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// What a fault resolved to; one per page touched that was not simply accessible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// PTE missing, page in the cache (or a zero-fill).
    Minor,
    /// PTE missing, page read from disk first.
    Major,
    /// Write to a copy-on-write page: allocate, copy 4 KiB, remap.
    Cow,
    /// Write to a loaned page: NetBSD `uvm_loanbreak`.
    LoanBreak,
    /// Write to a page whose loan or wiring has ended: only the permission is restored.
    WriteEnable,
}

/// A user access that no VMA allows. The VM reports it to its caller, which decides: the
/// world's own accesses are always to memory it mapped, so there it is a model bug and the
/// caller panics naming the access; a VM test checks the error itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessError {
    /// No VMA at the address (SIGSEGV).
    Unmapped { addr: u64 },
    /// A write to a read-only VMA.
    ReadOnly { addr: u64 },
}

/// What to map: `mmap(2)`'s arguments. Build with [`MmapRequest::anon`] or
/// [`MmapRequest::file`], then `.writable()`, `.shared()`, `.at(addr)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmapRequest {
    /// Rounded up to whole pages.
    pub len_bytes: u64,
    pub backing: Backing,
    /// `PROT_WRITE`.
    pub writable: bool,
    /// `MAP_SHARED` (else `MAP_PRIVATE`).
    pub shared: bool,
    /// `MAP_FIXED` address (without replacing existing mappings), else the lowest hole.
    pub at: Option<u64>,
}

impl MmapRequest {
    /// Private, read-only anonymous memory of `len_bytes`.
    pub fn anon(len_bytes: u64) -> Self {
        MmapRequest {
            len_bytes,
            backing: Backing::Anon,
            writable: false,
            shared: false,
            at: None,
        }
    }

    /// A private, read-only mapping of `len_bytes` of `file` from page `first_page` on.
    pub fn file_from(file: FileId, first_page: u64, len_bytes: u64) -> Self {
        MmapRequest {
            backing: Backing::File {
                file,
                offset_pages: first_page,
            },
            ..Self::anon(len_bytes)
        }
    }

    /// A private, read-only mapping of `len_bytes` of `file` from its start.
    pub fn file(file: FileId, len_bytes: u64) -> Self {
        MmapRequest {
            backing: Backing::File {
                file,
                offset_pages: 0,
            },
            ..Self::anon(len_bytes)
        }
    }

    pub fn writable(self) -> Self {
        MmapRequest {
            writable: true,
            ..self
        }
    }

    pub fn shared(self) -> Self {
        MmapRequest {
            shared: true,
            ..self
        }
    }

    pub fn at(self, addr: u64) -> Self {
        MmapRequest {
            at: Some(addr),
            ..self
        }
    }
}

/// `mmap` could not place the mapping: a simulated failure, reported as an outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmapError {
    /// No hole of the requested size is left in the address space (`ENOMEM`).
    NoSpace { len_bytes: u64, mapped_bytes: u64 },
    /// A fixed address overlaps an existing mapping or lies outside the space.
    Overlap { addr: u64 },
}

/// Counters the report reads; all monotone except `wired_pages`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmCounters {
    pub minor_faults: u64,
    pub major_faults: u64,
    pub cow_faults: u64,
    pub loan_breaks: u64,
    /// Cheap faults that only re-enabled write after a loan or wiring ended.
    pub write_enable_faults: u64,
    pub vma_lookups: u64,
    pub vma_cache_hits: u64,
    pub tlb_flushes: u64,
    pub tlb_shootdowns: u64,
    /// Pages mapped by fault-around besides the faulting page.
    pub fault_around_pages: u64,
    pub mmaps: u64,
    pub mmap_failures: u64,
    pub munmaps: u64,
    pub pages_loaned: u64,
    pub pages_wired: u64,
    /// Frames currently loaned or wired.
    pub lent_pages: u64,
    pub peak_wired_pages: u64,
    pub page_allocs: u64,
    /// Page-cache misses outside faults (e.g. `sendfile` on a cold file).
    pub cache_misses: u64,
    /// Times a writer slept for kernel address space to map loaned pages (NetBSD
    /// `sokvaalloc` sleeping on `socurkva` at `SOMAXKVA`).
    pub kva_waits: u64,
    /// Pages an application produced its data into: a zbuf application always, any memory
    /// sender with `fill_each_write`.
    pub data_pages_built: u64,
}

/// The VM subsystem. See the module docs; invariants are on [`Frame`] and
/// [`AddressSpace`] and checked by [`Vm::check_invariants`].
pub struct Vm {
    config: VmConfig,
    frames: FrameTable,
    files: Vec<File>,
    page_cache: page_cache::PageCache,
    llc: Llc,
    spaces: Vec<AddressSpace>,
    next_vma: u32,
    next_version: u64,
    counters: VmCounters,
    /// What changed since the last incremental check; `None` unless
    /// [`Vm::set_incremental_checks`] turned it on.
    dirty: Option<invariants::Dirty>,
}

impl Vm {
    pub fn new(config: VmConfig) -> Self {
        Vm {
            llc: Llc::new(config.llc_bytes),
            config,
            frames: FrameTable::default(),
            files: Vec::new(),
            page_cache: page_cache::PageCache::default(),
            spaces: Vec::new(),
            next_vma: 0,
            next_version: 1,
            counters: VmCounters::default(),
            dirty: None,
        }
    }

    /// A writer sleeps for kernel address space (NetBSD `sokvaalloc`).
    pub fn count_kva_wait(&mut self) {
        self.counters.kva_waits += 1;
    }

    /// An application built its data in `pages` pages (zbuf's kernel pages, or its own
    /// buffer with `fill_each_write`).
    pub fn count_data_pages(&mut self, pages: u64) {
        self.counters.data_pages_built += pages;
    }

    pub fn counters(&self) -> &VmCounters {
        &self.counters
    }

    pub fn frames(&self) -> &FrameTable {
        &self.frames
    }

    /// The frame table, to turn change tracking on and drain it (traces).
    pub fn frames_mut(&mut self) -> &mut FrameTable {
        &mut self.frames
    }

    pub fn frame(&self, pfn: Pfn) -> &Frame {
        self.frames.get(pfn)
    }

    pub fn space(&self, asid: AsId) -> &AddressSpace {
        &self.spaces[asid.0 as usize]
    }

    pub fn file(&self, file: FileId) -> &File {
        &self.files[file.0 as usize]
    }

    pub fn costs(&self) -> &CostTable {
        &self.config.costs
    }

    /// The last-level cache.
    pub fn llc(&self) -> &Llc {
        &self.llc
    }

    /// `line` was read or written by the CPU (kernel buffer memory the network path fills,
    /// a page the application touches): it becomes the most recently used.
    pub fn llc_touch(&mut self, line: Line) {
        self.llc.touch(line);
    }

    /// A device wrote `line`'s memory (receive DMA): the cache drops its copy.
    pub fn llc_invalidate(&mut self, line: Line) {
        self.llc.invalidate(line);
    }

    /// A CPU copy from `src` to `dst` (the same number of bytes, in order): its residency is
    /// judged as the cache stands, then every line it read and wrote becomes resident, the
    /// source first. Cost: one copy step of the total (fused with the checksum if asked).
    pub fn copy(&mut self, src: &[Seg], dst: &[Seg], fused_checksum: bool, plan: &mut Plan) {
        let resident = self.llc.residency(src, dst);
        for line in src.iter().chain(dst).filter_map(|s| s.0) {
            self.llc.touch(line);
        }
        plan.push(Step::Copy {
            payload_bytes: src.iter().map(|s| s.1).sum(),
            fused_checksum,
            resident,
        });
    }

    /// Whether there is a last-level cache. Without one nothing is ever resident, so callers
    /// may describe a copy's memory as one untracked piece rather than line by line.
    #[inline]
    pub fn cache_on(&self) -> bool {
        self.llc.capacity_bytes() != 0
    }

    /// The frames behind `[addr, addr + len)` of `asid`, each with the bytes of the range it
    /// holds; a page not present is memory the cache cannot know (`None`). No cost. Without
    /// a cache, one untracked piece (see [`Vm::cache_on`]).
    pub fn user_segs(&self, asid: AsId, addr: u64, len: u64) -> Vec<Seg> {
        if !self.cache_on() {
            return vec![(None, len)];
        }
        let ptes = &self.spaces[asid.0 as usize].ptes;
        pages_of(addr, len)
            .map(|vpn| {
                let lo = addr.max(vpn * PAGE_SIZE);
                let hi = (addr + len).min((vpn + 1) * PAGE_SIZE);
                (ptes.get(&vpn).map(|p| Line::Frame(p.pfn)), hi - lo)
            })
            .collect()
    }

    fn fresh_version(&mut self) -> Version {
        let v = Version(self.next_version);
        self.next_version += 1;
        v
    }

    fn alloc(&mut self, kind: FrameKind, version: Version, plan: &mut Plan) -> Pfn {
        self.counters.page_allocs += 1;
        plan.cpu(Activity::Fault, self.config.costs.page_alloc_ns);
        self.frames.alloc(kind, version)
    }
}

/// Depth of a balanced binary tree of `n` nodes: ⌊log₂ n⌋ + 1 (0 for an empty tree).
pub fn tree_depth(n: usize) -> u64 {
    if n == 0 {
        0
    } else {
        u64::from(usize::BITS - n.leading_zeros())
    }
}

/// The virtual page numbers `[addr, addr + len)` touches (none for `len == 0`).
pub fn pages_of(addr: u64, len: u64) -> std::ops::Range<u64> {
    if len == 0 {
        return 0..0;
    }
    addr / PAGE_SIZE..(addr + len - 1) / PAGE_SIZE + 1
}

#[cfg(test)]
mod tests;
