//! Files and the page cache: pages found, read from disk on a miss, written in place, and
//! replaced by a rename; kernel references that pin cache pages.

use super::*;

impl Vm {
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
                self.note_cache((file, index));
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
    pub(super) fn lookup(&mut self, file: FileId, index: u64) -> Option<Pfn> {
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
        self.note_cache((file, index));
        self.page_cache.insert((file, index), pfn);
        Some(pfn)
    }

    /// The cached frame for page `index` of `file`, if cached. No cost.
    pub fn cached(&self, file: FileId, index: u64) -> Option<Pfn> {
        self.page_cache.get(&(file, index)).copied()
    }

    /// Copies page `from` into page `to` (a COW or loan break). Cost: a 4 KiB copy.
    pub(super) fn copy_page(&mut self, from: Pfn, to: Pfn, plan: &mut Plan) {
        let (src, dst) = (Line::Frame(from), Line::Frame(to));
        self.copy(
            &[(Some(src), PAGE_SIZE)],
            &[(Some(dst), PAGE_SIZE)],
            false,
            plan,
        );
    }

    /// The frames holding `[off, off + len)` of `file`, each with the bytes it holds, found
    /// (or read from disk) as [`Vm::cache_page`] does; one untracked piece without a cache
    /// (see [`Vm::cache_on`]). Cost: as `cache_page`'s.
    pub fn cache_segs(&mut self, file: FileId, off: u64, len: u64, plan: &mut Plan) -> Vec<Seg> {
        if !self.cache_on() {
            // Nothing can be resident: find (or read) the pages, describe them as one piece.
            for index in pages_of(off, len) {
                self.cache_page(file, index, plan);
            }
            return vec![(None, len)];
        }
        pages_of(off, len)
            .map(|index| {
                let pfn = self.cache_page(file, index, plan);
                let lo = off.max(index * PAGE_SIZE);
                let hi = (off + len).min((index + 1) * PAGE_SIZE);
                (Some(Line::Frame(pfn)), hi - lo)
            })
            .collect()
    }

    /// Page-cache lookup with a read from disk on a miss (Linux `find_get_page` +
    /// `page_cache_sync_readahead`, as `read` and `sendfile` do). Cost: nothing on a hit; on a
    /// miss the read-ahead window's page allocations and one disk read of it (see
    /// [`Vm::read_into_cache`]). Counted as a cache miss, not a fault.
    pub fn cache_page(&mut self, file: FileId, index: u64, plan: &mut Plan) -> Pfn {
        if let Some(pfn) = self.lookup(file, index) {
            return pfn;
        }
        self.counters.cache_misses += 1;
        self.read_into_cache(file, index, plan)
    }

    /// Reads page `index` of `file` from disk into the cache, with the read-ahead window:
    /// the uncached pages that follow it, up to `read_ahead_bytes` in all, in the same disk
    /// request (Linux 2.4 `generic_file_readahead` up to `vm_max_readahead`, 6.x
    /// `page_cache_sync_ra` up to `ra_pages`; FreeBSD `cluster_read` up to `vfs.read_max`
    /// blocks). Simplified: the window is fixed (no ramp-up from a small first window, no
    /// asynchronous read of the next window while this one is consumed) and stops at the
    /// first page already cached; a cold in-place write reads ahead too (Linux's
    /// `write_begin` reads only the page written). The pages are in the cache as soon as the
    /// read is planned: the reader whose plan holds the disk read waits for it, but another
    /// thread finding a page of the window meanwhile does not wait on the locked page as in
    /// the kernel (true of a single page before read-ahead too). Cost: a page allocation per
    /// page and one disk read.
    pub(super) fn read_into_cache(&mut self, file: FileId, index: u64, plan: &mut Plan) -> Pfn {
        let pages = self.file(file).pages();
        assert!(index < pages, "page {index} beyond the end of {file:?}");
        let window = (self.config.read_ahead_bytes / PAGE_SIZE).max(1);
        let mut read = 0;
        let mut first = None;
        for i in index..(index + window).min(pages) {
            if i > index && self.page_cache.contains_key(&(file, i)) {
                break;
            }
            let v = self.fresh_version();
            let pfn = self.alloc(FrameKind::PageCache { file, index: i }, v, plan);
            self.frames.get_mut(pfn).kernel_refs = 1;
            self.note_cache((file, i));
            self.page_cache.insert((file, i), pfn);
            // The disk's DMA writes the frame: a recycled frame's cached copy is stale.
            self.llc.invalidate(Line::Frame(pfn));
            first.get_or_insert(pfn);
            read += 1;
        }
        plan.push(Step::DiskRead {
            bytes: read * PAGE_SIZE,
        });
        first.expect("the missing page is read")
    }

    /// Another process `write()`s `[offset, offset + len)` of `file` in place: the bytes are
    /// copied into the cached pages (read from disk first if missing) and each page gets a new
    /// version. Anything still referencing those frames (an mbuf from `sendfile`) now holds
    /// the new bytes. Cost: a syscall and a copy of `len`.
    pub fn write_file_in_place(&mut self, file: FileId, offset: u64, len: u64, plan: &mut Plan) {
        plan.cpu(Activity::Syscall, self.config.costs.syscall_ns);
        let mut dst = Vec::new();
        for index in pages_of(offset, len) {
            let mut pfn = self.cache_page(file, index, plan);
            if self.frames.get(pfn).is_lent() {
                pfn = self.break_object_lend(pfn, plan);
            }
            let v = self.fresh_version();
            self.frames.get_mut(pfn).version = v;
            let lo = offset.max(index * PAGE_SIZE);
            let hi = (offset + len).min((index + 1) * PAGE_SIZE);
            dst.push((Some(Line::Frame(pfn)), hi - lo));
        }
        // From the other process's buffer, which the model does not track.
        self.copy(&[(None, len)], &dst, false, plan);
    }

    /// A `write()` into a cached page that is lent to the kernel (NetBSD: the loan is broken
    /// from the object's side, `uvm_loanbreak` on a `uvm_object` page): the page cache gets a
    /// copy, every mapping follows it (write-protected, so the next write through a mapping
    /// takes the cheap fault), and the kernel keeps the original as a kernel page until its
    /// loan ends. Cost: a page allocation, a 4 KiB copy, a PTE update per mapping and a TLB
    /// flush. Counted as a loan break.
    pub(super) fn break_object_lend(&mut self, old: Pfn, plan: &mut Plan) -> Pfn {
        let old_frame = self.frames.get(old).clone();
        let FrameKind::PageCache { file, index } = old_frame.kind else {
            panic!("break_object_lend of {old:?}, which is not a cache page");
        };
        let new = self.alloc(old_frame.kind, old_frame.version, plan);
        self.copy_page(old, new, plan);
        self.note_cache((file, index));
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
            self.note_cache((new, index));
            self.page_cache.insert((new, index), pfn);
        }
        plan.copy(size);
        self.files[old.0 as usize].unlinked = true;
        for (index, pfn) in self.page_cache.take_file(old) {
            self.note_cache((old, index));
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
}
