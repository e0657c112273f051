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
mod frames;

use std::collections::BTreeMap;

pub use aspace::{AddressSpace, AsId, Backing, Pte, Vma, VmaId};
pub use frames::{Frame, FrameKind, FrameTable, Pfn};

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

/// A user access that no VMA allows. Workloads never do this; it is reported rather than
/// panicking so a mis-built scenario surfaces as an outcome.
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
}

/// The VM subsystem. See the module docs; invariants are on [`Frame`] and
/// [`AddressSpace`] and checked by [`Vm::check_invariants`].
pub struct Vm {
    config: VmConfig,
    frames: FrameTable,
    files: Vec<File>,
    page_cache: BTreeMap<(FileId, u64), Pfn>,
    spaces: Vec<AddressSpace>,
    next_vma: u32,
    next_version: u64,
    counters: VmCounters,
}

impl Vm {
    pub fn new(config: VmConfig) -> Self {
        Vm {
            config,
            frames: FrameTable::default(),
            files: Vec::new(),
            page_cache: BTreeMap::new(),
            spaces: Vec::new(),
            next_vma: 0,
            next_version: 1,
            counters: VmCounters::default(),
        }
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

    // ----- files and the page cache -------------------------------------------------------

    /// Creates a file of `size_bytes`, none of it cached (cold).
    pub fn create_file(&mut self, size_bytes: u64) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).expect("over 2^32 files"));
        self.files.push(File {
            size_bytes,
            unlinked: false,
            warm: false,
        });
        id
    }

    /// Puts every page of `file` in the page cache at no cost: the file was read before the
    /// run began (files are warm unless a workload says cold).
    pub fn warm_file(&mut self, file: FileId) {
        for index in 0..self.file(file).pages() {
            if !self.page_cache.contains_key(&(file, index)) {
                let v = self.fresh_version();
                let pfn = self.frames.alloc(FrameKind::PageCache { file, index }, v);
                self.frames.get_mut(pfn).kernel_refs = 1; // the cache's own reference
                self.page_cache.insert((file, index), pfn);
            }
        }
    }

    /// Marks `file` warm without materializing its pages: each is put in the cache, at no
    /// cost, the first time anything looks for it.
    pub fn set_warm(&mut self, file: FileId) {
        self.files[file.0 as usize].warm = true;
    }

    /// The cache's frame for the page, materializing it if the file is warm.
    fn lookup(&mut self, file: FileId, index: u64) -> Option<Pfn> {
        if let Some(pfn) = self.cached(file, index) {
            return Some(pfn);
        }
        let f = self.file(file);
        if !f.warm || f.unlinked || index >= f.pages() {
            return None;
        }
        let v = self.fresh_version();
        let pfn = self.frames.alloc(FrameKind::PageCache { file, index }, v);
        self.frames.get_mut(pfn).kernel_refs = 1;
        self.page_cache.insert((file, index), pfn);
        Some(pfn)
    }

    /// The cached frame for page `index` of `file`, if cached. No cost.
    pub fn cached(&self, file: FileId, index: u64) -> Option<Pfn> {
        self.page_cache.get(&(file, index)).copied()
    }

    /// Page-cache lookup with a read from disk on a miss (Linux `find_get_page` +
    /// `page_cache_read`, as `sendfile` does). Cost: nothing on a hit; on a miss a page
    /// allocation and a disk read of one page. Counted as a cache miss, not a fault.
    pub fn cache_page(&mut self, file: FileId, index: u64, plan: &mut Plan) -> Pfn {
        if let Some(pfn) = self.lookup(file, index) {
            return pfn;
        }
        self.counters.cache_misses += 1;
        self.read_into_cache(file, index, plan)
    }

    fn read_into_cache(&mut self, file: FileId, index: u64, plan: &mut Plan) -> Pfn {
        assert!(
            index < self.file(file).pages(),
            "page {index} beyond the end of {file:?}"
        );
        let v = self.fresh_version();
        let pfn = self.alloc(FrameKind::PageCache { file, index }, v, plan);
        plan.push(Step::DiskRead { bytes: PAGE_SIZE });
        self.frames.get_mut(pfn).kernel_refs = 1;
        self.page_cache.insert((file, index), pfn);
        pfn
    }

    /// Another process `write()`s `[offset, offset + len)` of `file` in place: the bytes are
    /// copied into the cached pages (read from disk first if missing) and each page gets a new
    /// version. Anything still referencing those frames (an mbuf from `sendfile`) now holds
    /// the new bytes. Cost: a syscall and a copy of `len`.
    pub fn write_file_in_place(&mut self, file: FileId, offset: u64, len: u64, plan: &mut Plan) {
        plan.cpu(Activity::Syscall, self.config.costs.syscall_ns);
        for index in pages_of(offset, len) {
            let mut pfn = self.cache_page(file, index, plan);
            if self.frames.get(pfn).is_lent() {
                pfn = self.break_object_lend(pfn, plan);
            }
            let v = self.fresh_version();
            self.frames.get_mut(pfn).version = v;
        }
        plan.copy(len);
    }

    /// A `write()` into a cached page that is lent to the kernel (NetBSD: the loan is broken
    /// from the object's side, `uvm_loanbreak` on a `uvm_object` page): the page cache gets a
    /// copy, every mapping follows it (write-protected, so the next write through a mapping
    /// takes the cheap fault), and the kernel keeps the original as a kernel page until its
    /// loan ends. Cost: a page allocation, a 4 KiB copy, a PTE update per mapping and a TLB
    /// flush. Counted as a loan break.
    fn break_object_lend(&mut self, old: Pfn, plan: &mut Plan) -> Pfn {
        let old_frame = self.frames.get(old).clone();
        let FrameKind::PageCache { file, index } = old_frame.kind else {
            panic!("break_object_lend of {old:?}, which is not a cache page");
        };
        let new = self.alloc(old_frame.kind, old_frame.version, plan);
        plan.copy(PAGE_SIZE);
        self.page_cache.insert((file, index), new);
        self.frames.get_mut(new).kernel_refs = 1;
        let o = self.frames.get_mut(old);
        o.kind = FrameKind::Kernel;
        o.kernel_refs -= 1;
        for &(a, v) in &old_frame.mappings {
            let cow = self.pte_mut(a, v).cow;
            self.unmap(a, v);
            self.map(a, v, new, false, cow);
            self.pte_mut(a, v).lend_protected = true;
        }
        plan.cpu(
            Activity::Fault,
            old_frame.mappings.len() as u64 * self.config.costs.pte_update_ns,
        );
        self.tlb_flush(plan);
        self.counters.loan_breaks += 1;
        new
    }

    /// Writes a new file of the same size and renames it over `old` (write to a temp file,
    /// then `rename`): `old` is unlinked and its pages leave the page cache, freed once nothing
    /// references them; frames still in flight keep their bytes. Cost: a syscall and a copy of
    /// the whole file into fresh cache pages. Returns the new file.
    pub fn replace_file(&mut self, old: FileId, plan: &mut Plan) -> FileId {
        plan.cpu(Activity::Syscall, self.config.costs.syscall_ns);
        let size = self.file(old).size_bytes;
        let new = self.create_file(size);
        for index in 0..self.file(new).pages() {
            let v = self.fresh_version();
            let pfn = self.alloc(FrameKind::PageCache { file: new, index }, v, plan);
            self.frames.get_mut(pfn).kernel_refs = 1;
            self.page_cache.insert((new, index), pfn);
        }
        plan.copy(size);
        self.files[old.0 as usize].unlinked = true;
        let old_pages: Vec<(u64, Pfn)> = self
            .page_cache
            .range((old, 0)..=(old, u64::MAX))
            .map(|(&(_, i), &p)| (i, p))
            .collect();
        for (index, pfn) in old_pages {
            self.page_cache.remove(&(old, index));
            let f = self.frames.get_mut(pfn);
            f.kind = FrameKind::Kernel;
            f.kernel_refs -= 1;
            self.frames.free_if_unreferenced(pfn);
        }
        new
    }

    /// Takes a kernel reference on a frame (an mbuf's external storage pointing at a page-cache
    /// page, Linux `get_page`). Free of cost here; the caller charges its own work.
    pub fn kernel_ref(&mut self, pfn: Pfn) {
        let f = self.frames.get_mut(pfn);
        assert!(f.kind != FrameKind::Free, "kernel_ref on free {pfn:?}");
        f.kernel_refs += 1;
    }

    /// Drops a kernel reference (Linux `put_page`), freeing the frame if it was the last one.
    pub fn kernel_unref(&mut self, pfn: Pfn) {
        let f = self.frames.get_mut(pfn);
        assert!(
            f.kernel_refs > 0,
            "kernel_unref of {pfn:?} with no kernel reference"
        );
        f.kernel_refs -= 1;
        assert!(
            f.kernel_refs >= f.loans + f.wired,
            "kernel_unref dropped a reference that belongs to a loan or wiring of {pfn:?}"
        );
        self.frames.free_if_unreferenced(pfn);
    }

    // ----- address spaces, mmap, munmap, find_vma --------------------------------------------

    /// A new, empty address space of the configured size.
    pub fn new_address_space(&mut self) -> AsId {
        let id = AsId(u32::try_from(self.spaces.len()).expect("over 2^32 address spaces"));
        self.spaces
            .push(AddressSpace::new(self.config.user_space_bytes));
        id
    }

    /// Maps `len` bytes (rounded up to pages) at the lowest hole, or at `at` if given
    /// (`MAP_FIXED` without replacement). Pages are not populated: the first touch faults.
    /// Models `mmap(2)` (`uvm_mmap`, `do_mmap_pgoff`): a VMA is allocated and inserted.
    /// Cost: `mmap_ns + pages × mmap_per_page_ns`, whether or not it succeeds in placing it;
    /// a failure is an outcome, counted in `mmap_failures`, and leaves nothing behind.
    pub fn mmap(
        &mut self,
        asid: AsId,
        req: MmapRequest,
        plan: &mut Plan,
    ) -> Result<u64, MmapError> {
        let MmapRequest {
            len_bytes,
            backing,
            writable,
            shared,
            at,
        } = req;
        let len = len_bytes.div_ceil(PAGE_SIZE).max(1) * PAGE_SIZE;
        let c = &self.config.costs;
        plan.cpu(
            Activity::MapUnmap,
            c.mmap_ns + (len / PAGE_SIZE) * c.mmap_per_page_ns,
        );
        let space = &mut self.spaces[asid.0 as usize];
        let start = match at {
            Some(addr) if addr % PAGE_SIZE == 0 && space.is_free(addr, len) => addr,
            Some(addr) => {
                self.counters.mmap_failures += 1;
                return Err(MmapError::Overlap { addr });
            }
            None => match space.find_hole(len) {
                Some(a) => a,
                None => {
                    self.counters.mmap_failures += 1;
                    return Err(MmapError::NoSpace {
                        len_bytes: len,
                        mapped_bytes: space.mapped_bytes,
                    });
                }
            },
        };
        let id = VmaId(self.next_vma);
        self.next_vma += 1;
        space.vmas.insert(
            start,
            Vma {
                id,
                start,
                end: start + len,
                backing,
                writable,
                shared,
            },
        );
        space.mapped_bytes += len;
        self.counters.mmaps += 1;
        Ok(start)
    }

    /// Unmaps the VMA that starts at `addr` (whole VMAs only). Models `munmap(2)`
    /// (`uvm_unmap`, `do_munmap`): every present PTE is torn down, anonymous frames no one
    /// else uses are freed, page-cache frames stay cached, and the TLB is flushed (shot down
    /// on every other CPU of a multiprocessor). Cost: `munmap_ns + present × munmap_per_page_ns`
    /// plus the flush. Panics if no VMA starts at `addr` (a model bug).
    pub fn munmap(&mut self, asid: AsId, addr: u64, plan: &mut Plan) {
        let space = &mut self.spaces[asid.0 as usize];
        let vma = space
            .vmas
            .remove(&addr)
            .unwrap_or_else(|| panic!("munmap: no VMA starts at {addr:#x} in {asid:?}"));
        space.mapped_bytes -= vma.len_bytes();
        if space.lookup_cache == Some(addr) {
            space.lookup_cache = None;
        }
        let vpns: Vec<u64> = space
            .ptes
            .range(vma.start / PAGE_SIZE..vma.end / PAGE_SIZE)
            .map(|(&v, _)| v)
            .collect();
        for &vpn in &vpns {
            let pte = space.ptes.remove(&vpn).expect("listed above");
            let f = self.frames.get_mut(pte.pfn);
            f.mappings.retain(|&m| m != (asid, vpn));
            self.frames.free_if_unreferenced(pte.pfn);
        }
        let c = &self.config.costs;
        plan.cpu(
            Activity::MapUnmap,
            c.munmap_ns + vpns.len() as u64 * c.munmap_per_page_ns,
        );
        self.counters.munmaps += 1;
        self.tlb_flush(plan);
    }

    /// `find_vma` (NetBSD `uvm_map_lookup_entry`, Linux `find_vma`): the VMA containing
    /// `addr`. Counted. Cost: `vma_cache_hit_ns` if the one-entry cache holds it, else
    /// `vma_per_level_ns × depth`, with depth = ⌊log₂ n⌋ + 1 for n VMAs (a balanced tree);
    /// the result is then cached.
    pub fn find_vma(&mut self, asid: AsId, addr: u64, plan: &mut Plan) -> Option<Vma> {
        self.counters.vma_lookups += 1;
        let c = &self.config.costs;
        let space = &mut self.spaces[asid.0 as usize];
        if let Some(cached) = space.lookup_cache.and_then(|s| space.vmas.get(&s))
            && cached.contains(addr)
        {
            self.counters.vma_cache_hits += 1;
            plan.cpu(Activity::VmaLookup, c.vma_cache_hit_ns);
            return Some(*cached);
        }
        plan.cpu(
            Activity::VmaLookup,
            c.vma_per_level_ns * tree_depth(space.vmas.len()),
        );
        let found = space.vma_at(addr).copied();
        if let Some(v) = found {
            space.lookup_cache = Some(v.start);
        }
        found
    }

    /// `fork(2)`'s memory half: a new address space with the same VMAs. Shared VMAs map the
    /// same frames; private ones map them too, but write-protected and copy-on-write in both
    /// parent and child (`uvm_fork`, `copy_page_range`). Cost: one PTE update per present
    /// page and a TLB flush of the parent. Returns the child.
    pub fn fork(&mut self, parent: AsId, plan: &mut Plan) -> AsId {
        let child = self.new_address_space();
        let p = &self.spaces[parent.0 as usize];
        let vmas = p.vmas.clone();
        let mapped = p.mapped_bytes;
        let mut ptes: Vec<(u64, Pte)> = p.ptes.iter().map(|(&v, &e)| (v, e)).collect();
        for (vpn, pte) in &mut ptes {
            let vma = *p.vma_at(*vpn * PAGE_SIZE).expect("PTE inside a VMA");
            if !vma.shared {
                pte.cow = true;
                pte.writable = false;
            }
            self.frames.get_mut(pte.pfn).mappings.push((child, *vpn));
        }
        plan.cpu(
            Activity::Fault,
            ptes.len() as u64 * self.config.costs.pte_update_ns,
        );
        let parent_space = &mut self.spaces[parent.0 as usize];
        for (vpn, pte) in &ptes {
            parent_space.ptes.insert(*vpn, *pte);
        }
        let c = &mut self.spaces[child.0 as usize];
        c.vmas = vmas;
        c.mapped_bytes = mapped;
        c.ptes = ptes.into_iter().collect();
        self.tlb_flush(plan);
        child
    }

    // ----- faults -----------------------------------------------------------------------------

    /// The MMU's view of one user access to the page holding `addr`: nothing if the PTE
    /// allows it, else the fault handler (`uvm_fault`, `handle_mm_fault`), which does a
    /// `find_vma` and one of:
    /// - **minor**: PTE missing, page in the cache (or anonymous zero-fill, which adds a page
    ///   allocation and zeroing 4 KiB over the bus): `trap + minor_fault + pte_update`;
    /// - **major**: PTE missing, page not cached: `trap + major_fault + page_alloc`, a disk read
    ///   of 4 KiB, `pte_update`;
    /// - **COW** (write to a COW page others use, or to a lent page): `trap + cow_fault +
    ///   page_alloc`, a 4 KiB copy, `pte_update + tlb_flush`; for a loan, NetBSD
    ///   `uvm_loanbreak`: the writer gets the copy, the kernel keeps the original;
    /// - **write-enable**: write to a page whose loan ended: `trap + pte_update + tlb_flush`,
    ///   no copy.
    ///
    /// A write through a private file mapping of an absent page does the read fault first and
    /// then the COW. Returns the frame now mapped, and what faulted.
    pub fn touch(
        &mut self,
        asid: AsId,
        addr: u64,
        access: Access,
        plan: &mut Plan,
    ) -> Result<(Pfn, Option<FaultKind>), AccessError> {
        let vpn = addr / PAGE_SIZE;
        let space = &self.spaces[asid.0 as usize];
        if let Some(pte) = space.ptes.get(&vpn)
            && (access == Access::Read || pte.writable)
        {
            return Ok((pte.pfn, None));
        }
        let c = self.config.costs;
        plan.cpu(Activity::Fault, c.trap_ns);
        let Some(vma) = self.find_vma(asid, addr, plan) else {
            return Err(AccessError::Unmapped { addr });
        };
        if access == Access::Write && !vma.writable {
            return Err(AccessError::ReadOnly { addr });
        }
        let present = self.spaces[asid.0 as usize].ptes.get(&vpn).copied();
        let (pfn, kind) = match present {
            None => {
                let (pfn, kind) = self.fault_in(asid, vpn, &vma, plan);
                let pte = *self.pte_mut(asid, vpn);
                if access == Access::Read {
                    (pfn, kind)
                } else if pte.cow || self.frames.get(pfn).is_lent() {
                    // A private file page or a lent page: the write copies it.
                    self.write_fault(asid, vpn, pte, &vma, plan)
                } else {
                    self.pte_mut(asid, vpn).writable = true;
                    (pfn, kind)
                }
            }
            Some(pte) => self.write_fault(asid, vpn, pte, &vma, plan),
        };
        if access == Access::Write {
            self.pte_mut(asid, vpn).dirty = true;
        }
        Ok((pfn, Some(kind)))
    }

    /// Installs a PTE for an absent page: minor (cached or zero-fill) or major.
    fn fault_in(&mut self, asid: AsId, vpn: u64, vma: &Vma, plan: &mut Plan) -> (Pfn, FaultKind) {
        let c = self.config.costs;
        let addr = vpn * PAGE_SIZE;
        let (pfn, kind) = match vma.file_page(addr) {
            None => {
                plan.cpu(Activity::Fault, c.minor_fault_ns);
                let v = self.fresh_version();
                let pfn = self.alloc(FrameKind::Anon, v, plan);
                plan.push(Step::Zero { bytes: PAGE_SIZE });
                self.counters.minor_faults += 1;
                (pfn, FaultKind::Minor)
            }
            Some((file, index)) => match self.lookup(file, index) {
                Some(pfn) => {
                    plan.cpu(Activity::Fault, c.minor_fault_ns);
                    self.counters.minor_faults += 1;
                    (pfn, FaultKind::Minor)
                }
                None => {
                    plan.cpu(Activity::Fault, c.major_fault_ns);
                    self.counters.major_faults += 1;
                    (self.read_into_cache(file, index, plan), FaultKind::Major)
                }
            },
        };
        plan.cpu(Activity::Fault, c.pte_update_ns);
        self.map(
            asid,
            vpn,
            pfn,
            false,
            !vma.shared && vma.backing != Backing::Anon,
        );
        (pfn, kind)
    }

    /// A write to a present, write-protected PTE.
    fn write_fault(
        &mut self,
        asid: AsId,
        vpn: u64,
        pte: Pte,
        vma: &Vma,
        plan: &mut Plan,
    ) -> (Pfn, FaultKind) {
        let c = self.config.costs;
        let f = self.frames.get(pte.pfn);
        if f.is_lent() {
            let loaned = f.loans > 0;
            let new = self.cow_copy(asid, vpn, pte.pfn, vma.shared, plan);
            if loaned {
                self.counters.loan_breaks += 1;
                return (new, FaultKind::LoanBreak);
            }
            self.counters.cow_faults += 1;
            return (new, FaultKind::Cow);
        }
        let sole_anon_user = f.refcount() == 1 && f.kind == FrameKind::Anon;
        if pte.cow && !sole_anon_user {
            let new = self.cow_copy(asid, vpn, pte.pfn, false, plan);
            self.counters.cow_faults += 1;
            return (new, FaultKind::Cow);
        }
        // The loan or wiring ended, or a COW page nobody else uses: just allow the write.
        plan.cpu(Activity::Fault, c.pte_update_ns);
        let p = self.pte_mut(asid, vpn);
        p.writable = true;
        p.cow = false;
        p.lend_protected = false;
        self.tlb_flush_local(plan);
        if pte.cow {
            self.counters.minor_faults += 1;
            (pte.pfn, FaultKind::Minor)
        } else {
            self.counters.write_enable_faults += 1;
            (pte.pfn, FaultKind::WriteEnable)
        }
    }

    /// Gives the writer (and, for a shared mapping, the object and every other shared mapping)
    /// a copy of `old`; the kernel and any private sharers keep `old`.
    fn cow_copy(&mut self, asid: AsId, vpn: u64, old: Pfn, shared: bool, plan: &mut Plan) -> Pfn {
        let c = self.config.costs;
        plan.cpu(Activity::Fault, c.cow_fault_ns);
        let old_frame = self.frames.get(old).clone();
        // A shared mapping of a cache page moves the object itself to the copy.
        let moves_object = shared && matches!(old_frame.kind, FrameKind::PageCache { .. });
        let kind = if moves_object {
            old_frame.kind
        } else {
            FrameKind::Anon
        };
        let new = self.alloc(kind, old_frame.version, plan);
        plan.copy(PAGE_SIZE);
        plan.cpu(Activity::Fault, c.pte_update_ns);
        let movers: Vec<(AsId, u64)> = if moves_object {
            let FrameKind::PageCache { file, index } = old_frame.kind else {
                unreachable!()
            };
            self.page_cache.insert((file, index), new);
            let o = self.frames.get_mut(old);
            o.kind = FrameKind::Kernel;
            o.kernel_refs -= 1;
            self.frames.get_mut(new).kernel_refs = 1;
            // Every mapping of the object through a shared VMA follows it.
            old_frame
                .mappings
                .iter()
                .copied()
                .filter(|&(a, v)| {
                    self.spaces[a.0 as usize]
                        .vma_at(v * PAGE_SIZE)
                        .is_some_and(|m| m.shared)
                })
                .collect()
        } else {
            vec![(asid, vpn)]
        };
        for (a, v) in movers {
            let writer = (a, v) == (asid, vpn);
            self.unmap(a, v);
            self.map(a, v, new, writer, false);
            if !writer {
                self.pte_mut(a, v).lend_protected = true;
            }
        }
        self.frames.free_if_unreferenced(old);
        self.tlb_flush_local(plan);
        new
    }

    // ----- user and kernel data movement --------------------------------------------------------

    /// The application writes `[addr, addr + len)` itself (filling or rewriting its buffer):
    /// each page is touched for write (faulting as needed) and gets a new content version.
    /// Cost: the faults, plus one bus byte per byte written.
    pub fn user_write(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        plan: &mut Plan,
    ) -> Result<(), AccessError> {
        self.write_pages(asid, addr, len, plan)?;
        plan.push(Step::AppWrite { bytes: len });
        Ok(())
    }

    /// Touches every page of `[addr, addr + len)` for write and gives each a new version.
    fn write_pages(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        plan: &mut Plan,
    ) -> Result<(), AccessError> {
        for page in pages_of(addr, len) {
            let (pfn, _) = self.touch(asid, page * PAGE_SIZE, Access::Write, plan)?;
            let v = self.fresh_version();
            self.frames.get_mut(pfn).version = v;
        }
        Ok(())
    }

    /// `copyin` (`copyin(9)`, `copy_from_user`): the kernel reads `[addr, addr + len)` of user
    /// memory into a kernel buffer, faulting absent pages in. Returns the content versions of
    /// the user pages as read. Cost: the faults and a CPU copy of `len` (fused with the
    /// checksum if asked).
    pub fn copyin(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        fused_checksum: bool,
        plan: &mut Plan,
        versions: &mut Vec<Version>,
    ) -> Result<(), AccessError> {
        for page in pages_of(addr, len) {
            let (pfn, _) = self.touch(asid, page * PAGE_SIZE, Access::Read, plan)?;
            versions.push(self.frames.get(pfn).version);
        }
        plan.push(Step::Copy {
            payload_bytes: len,
            fused_checksum,
        });
        Ok(())
    }

    /// `copyout` (`copyout(9)`, `copy_to_user`): the kernel writes `len` bytes into user
    /// memory at `addr`, faulting pages in for write; each page gets a new version. Cost: the
    /// faults and a CPU copy of `len`.
    pub fn copyout(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        plan: &mut Plan,
    ) -> Result<(), AccessError> {
        self.write_pages(asid, addr, len, plan)?;
        plan.copy(len);
        Ok(())
    }

    /// The content version of the page holding `addr` as the user sees it now (no cost; an
    /// observer's view for integrity checks). `None` if the page is not present.
    pub fn user_version(&self, asid: AsId, addr: u64) -> Option<Version> {
        let pte = self.spaces[asid.0 as usize].ptes.get(&(addr / PAGE_SIZE))?;
        Some(self.frames.get(pte.pfn).version)
    }

    /// Replaces the page at `addr` with the kernel page `pfn` (FreeBSD `vm_pgmoveco`, the
    /// receive-side page flip): the user's old frame is dropped and `pfn`, which must hold
    /// exactly one kernel reference, becomes an anonymous page mapped writable. Cost:
    /// `pte_update` and a local TLB flush (shootdowns on a multiprocessor).
    pub fn flip_page_in(
        &mut self,
        asid: AsId,
        addr: u64,
        pfn: Pfn,
        plan: &mut Plan,
    ) -> Result<(), AccessError> {
        let vpn = addr / PAGE_SIZE;
        let vma = *self.spaces[asid.0 as usize]
            .vma_at(addr)
            .ok_or(AccessError::Unmapped { addr })?;
        if !vma.writable {
            return Err(AccessError::ReadOnly { addr });
        }
        if self.spaces[asid.0 as usize].ptes.contains_key(&vpn) {
            let old = self.unmap(asid, vpn);
            self.frames.free_if_unreferenced(old);
        }
        let f = self.frames.get_mut(pfn);
        assert_eq!(f.kernel_refs, 1, "flipping {pfn:?} that others reference");
        f.kernel_refs = 0;
        f.kind = FrameKind::Anon;
        self.map(asid, vpn, pfn, true, false);
        plan.cpu(Activity::Fault, self.config.costs.pte_update_ns);
        self.tlb_flush(plan);
        Ok(())
    }

    /// Allocates a kernel page holding one kernel reference (a receive buffer for a
    /// header-splitting NIC). Cost: a page allocation.
    pub fn alloc_kernel_page(&mut self, plan: &mut Plan) -> Pfn {
        let v = self.fresh_version();
        let pfn = self.alloc(FrameKind::Kernel, v, plan);
        self.frames.get_mut(pfn).kernel_refs = 1;
        pfn
    }

    /// Gives `pfn` a fresh content version: a device wrote into it (receive DMA).
    pub fn device_wrote(&mut self, pfn: Pfn) {
        let v = self.fresh_version();
        self.frames.get_mut(pfn).version = v;
    }

    // ----- lending pages to the kernel -------------------------------------------------------

    /// Lends the pages of `[addr, addr + len)` to the kernel: NetBSD `uvm_loan` (kind
    /// [`LendKind::Loan`]) or FreeBSD `socow_setup` ([`LendKind::CowWire`]). One `find_vma`,
    /// then for each page: fault it in if absent, take a kernel reference and a loan or
    /// wiring, and write-protect every mapping of it (in every address space). Cost:
    /// `loan_per_page_ns` per page, `pte_update_ns` per mapping protected, and one TLB flush
    /// (with a shootdown to every other CPU on a multiprocessor) if anything was protected.
    /// Appends each page and its content version to `out`.
    pub fn lend(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        kind: LendKind,
        plan: &mut Plan,
        out: &mut Vec<LentPage>,
    ) -> Result<(), AccessError> {
        if self.find_vma(asid, addr, plan).is_none() {
            return Err(AccessError::Unmapped { addr });
        }
        let c = self.config.costs;
        let mut protected = 0u64;
        for page in pages_of(addr, len) {
            let (pfn, _) = self.touch(asid, page * PAGE_SIZE, Access::Read, plan)?;
            let f = self.frames.get_mut(pfn);
            let was_lent = f.is_lent();
            f.kernel_refs += 1;
            match kind {
                LendKind::Loan => {
                    f.loans += 1;
                    self.counters.pages_loaned += 1;
                }
                LendKind::CowWire => {
                    f.wired += 1;
                    self.counters.pages_wired += 1;
                }
            }
            let version = f.version;
            let mappings = f.mappings.clone();
            if !was_lent {
                self.counters.lent_pages += 1;
                self.counters.peak_wired_pages =
                    self.counters.peak_wired_pages.max(self.counters.lent_pages);
            }
            for (a, v) in mappings {
                let pte = self.pte_mut(a, v);
                if pte.writable || !pte.lend_protected {
                    protected += u64::from(pte.writable);
                    pte.writable = false;
                    pte.lend_protected = true;
                }
            }
            plan.cpu(Activity::Loan, c.loan_per_page_ns);
            out.push(LentPage { pfn, version });
        }
        plan.cpu(Activity::Loan, protected * c.pte_update_ns);
        if protected > 0 {
            self.tlb_flush(plan);
        }
        Ok(())
    }

    /// Ends one loan or wiring of `pfn` (NetBSD `uvm_unloan`, FreeBSD `socow_iodone` →
    /// `vm_page_unwire`), dropping its kernel reference and freeing the frame if that was the
    /// last reference (the user had broken the loan). Mappings stay write-protected: the next
    /// user write takes the cheap write-enable fault. Cost: `unloan_per_page_ns`.
    pub fn end_lend(&mut self, pfn: Pfn, kind: LendKind, plan: &mut Plan) {
        let f = self.frames.get_mut(pfn);
        match kind {
            LendKind::Loan => {
                assert!(f.loans > 0, "unloan of {pfn:?} that is not loaned");
                f.loans -= 1;
            }
            LendKind::CowWire => {
                assert!(f.wired > 0, "unwire of {pfn:?} that is not wired");
                f.wired -= 1;
            }
        }
        f.kernel_refs -= 1;
        if !f.is_lent() {
            self.counters.lent_pages -= 1;
        }
        plan.cpu(Activity::Loan, self.config.costs.unloan_per_page_ns);
        self.frames.free_if_unreferenced(pfn);
    }

    // ----- page-table plumbing --------------------------------------------------------------

    fn pte_mut(&mut self, asid: AsId, vpn: u64) -> &mut Pte {
        self.spaces[asid.0 as usize]
            .ptes
            .get_mut(&vpn)
            .unwrap_or_else(|| panic!("no PTE for vpn {vpn:#x} in {asid:?}"))
    }

    fn map(&mut self, asid: AsId, vpn: u64, pfn: Pfn, writable: bool, cow: bool) {
        let f = self.frames.get_mut(pfn);
        f.mappings.push((asid, vpn));
        let lent = f.is_lent();
        let old = self.spaces[asid.0 as usize].ptes.insert(
            vpn,
            Pte {
                pfn,
                writable: writable && !lent,
                cow,
                dirty: false,
                lend_protected: lent,
            },
        );
        assert!(old.is_none(), "mapping over a present PTE at vpn {vpn:#x}");
    }

    fn unmap(&mut self, asid: AsId, vpn: u64) -> Pfn {
        let pte = self.spaces[asid.0 as usize]
            .ptes
            .remove(&vpn)
            .expect("unmapping an absent PTE");
        self.frames
            .get_mut(pte.pfn)
            .mappings
            .retain(|&m| m != (asid, vpn));
        pte.pfn
    }

    fn tlb_flush_local(&mut self, plan: &mut Plan) {
        self.counters.tlb_flushes += 1;
        plan.cpu(Activity::Tlb, self.config.costs.tlb_flush_ns);
    }

    /// A local flush, and on a multiprocessor a shootdown IPI to every other CPU.
    fn tlb_flush(&mut self, plan: &mut Plan) {
        self.tlb_flush_local(plan);
        let remote = u64::from(self.config.cpus.saturating_sub(1));
        if remote > 0 {
            self.counters.tlb_shootdowns += 1;
            plan.cpu(
                Activity::Tlb,
                remote * self.config.costs.tlb_shootdown_per_cpu_ns,
            );
        }
    }

    // ----- invariants -------------------------------------------------------------------------

    /// Panics with a message naming the first broken invariant (see [`Frame`] and
    /// [`AddressSpace`]). O(frames + PTEs); for tests and debug builds.
    pub fn check_invariants(&self) {
        let mut lent = 0;
        for (pfn, f) in self.frames.iter() {
            if f.kind == FrameKind::Free {
                assert!(
                    f.mappings.is_empty() && f.kernel_refs == 0 && !f.is_lent(),
                    "free {pfn:?} is still referenced: {f:?}"
                );
                continue;
            }
            assert!(
                f.refcount() > 0,
                "{pfn:?} leaked: live but unreferenced: {f:?}"
            );
            assert!(
                f.loans + f.wired <= f.kernel_refs,
                "{pfn:?} has more loans/wirings than kernel references: {f:?}"
            );
            if f.is_lent() {
                lent += 1;
            }
            for &(a, v) in &f.mappings {
                let pte = self.spaces[a.0 as usize].ptes.get(&v);
                assert!(
                    pte.is_some_and(|p| p.pfn == pfn),
                    "{pfn:?} reverse-maps ({a:?}, vpn {v:#x}) but that PTE points elsewhere"
                );
                if f.is_lent() {
                    assert!(
                        !pte.expect("checked").writable,
                        "lent {pfn:?} is mapped writable at ({a:?}, vpn {v:#x})"
                    );
                }
            }
            if let FrameKind::PageCache { file, index } = f.kind {
                assert_eq!(
                    self.page_cache.get(&(file, index)),
                    Some(&pfn),
                    "{pfn:?} claims to cache ({file:?}, {index}) but the cache disagrees"
                );
            }
        }
        for pfn in self.frames.free_list() {
            assert_eq!(
                self.frames.get(*pfn).kind,
                FrameKind::Free,
                "{pfn:?} on the free list is not free"
            );
        }
        assert_eq!(lent, self.counters.lent_pages, "lent-page count drifted");
        for (&(file, index), &pfn) in &self.page_cache {
            assert_eq!(
                self.frames.get(pfn).kind,
                FrameKind::PageCache { file, index },
                "page cache maps ({file:?}, {index}) to {pfn:?} of another kind"
            );
        }
        for (i, s) in self.spaces.iter().enumerate() {
            let asid = AsId(i as u32);
            let mut end = 0;
            let mut mapped = 0;
            for v in s.vmas.values() {
                assert!(v.start >= end, "VMAs overlap at {:#x} in {asid:?}", v.start);
                assert!(
                    v.end <= s.size_bytes,
                    "VMA beyond the address space in {asid:?}"
                );
                end = v.end;
                mapped += v.len_bytes();
            }
            assert_eq!(mapped, s.mapped_bytes, "mapped bytes drifted in {asid:?}");
            if let Some(c) = s.lookup_cache {
                assert!(
                    s.vmas.contains_key(&c),
                    "lookup cache names a gone VMA in {asid:?}"
                );
            }
            for (&vpn, pte) in &s.ptes {
                assert!(
                    s.vma_at(vpn * PAGE_SIZE).is_some(),
                    "PTE for vpn {vpn:#x} outside every VMA in {asid:?}"
                );
                let f = self.frames.get(pte.pfn);
                assert!(
                    f.kind != FrameKind::Free,
                    "PTE for vpn {vpn:#x} in {asid:?} points at free {:?}",
                    pte.pfn
                );
                assert!(
                    f.mappings.contains(&(asid, vpn)),
                    "PTE for vpn {vpn:#x} in {asid:?} missing from {:?}'s reverse map",
                    pte.pfn
                );
            }
        }
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
