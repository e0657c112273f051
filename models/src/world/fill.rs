//! Fills: how a chunk of a request becomes socket-buffer storage, for each [`Fill`].
//!
//! Each fill calls VM operations (which append their costs to the plan) and attaches external
//! storage; it never moves time itself. The data-path graph records which way the bytes went.

use super::path::{PathKind, PathNode};
use super::sender::{Progress, SendpageCursor};
use super::{AppId, World};
use crate::machine::{Activity, Plan, Step};
use crate::net::mbuf::{ExtId, ExtKind, MCLBYTES, PagePromise};
use crate::strategy::{Addr, Fill, LoanOptions};
use crate::vm::{AsId, FileId, LendKind, PAGE_SIZE, pages_of};

type Out = Vec<(ExtId, u64)>;

impl World {
    /// Fills the next `len` bytes of the send op in progress.
    pub(super) fn fill(
        &mut self,
        id: AppId,
        progress: &mut Progress,
        len: u64,
        plan: &mut Plan,
        out: &mut Out,
    ) {
        let asid = self.apps[id.0 as usize].asid;
        let (done, total) = (progress.done, progress.total);
        match progress.how {
            Fill::CopyIn { at } => {
                let addr = self.resolve(id, at, done);
                self.fill_copy(asid, addr, len, plan, out);
                self.path.add(
                    source_node(at),
                    PathNode::SocketBuffer,
                    PathKind::CpuCopy,
                    len,
                );
            }
            Fill::HeaderMbuf => {
                // The kernel copies the header from the call's iovec (or builds it) into an
                // mbuf: a small copy, counted like any other.
                plan.copy(len);
                self.attach_clusters(len, plan, out);
                self.path.add(
                    PathNode::UserBuffer,
                    PathNode::SocketBuffer,
                    PathKind::CpuCopy,
                    len,
                );
            }
            Fill::Loan { at, opts } => {
                let addr = self.resolve(id, at, done);
                self.fill_loan(
                    asid,
                    addr,
                    done,
                    len,
                    total,
                    opts,
                    source_node(at),
                    plan,
                    out,
                );
            }
            Fill::CowWire { at } => {
                let addr = self.resolve(id, at, done);
                self.fill_cow(asid, addr, len, plan, out);
            }
            Fill::Zbuf => self.fill_zbuf(len, plan, out),
            Fill::CacheRef {
                off,
                linux_fallback,
            } => {
                let file = self.sender_file(id);
                if linux_fallback
                    && (!self.cfg.nic.scatter_gather || !self.cfg.nic.checksum_offload)
                {
                    self.fill_cache_copy(file, off + done, len, plan, out);
                } else {
                    self.fill_cache_ref(file, off + done, len, None, plan, out);
                }
            }
            Fill::SendPage { at, fixed } => {
                let addr = self.resolve(id, at, done);
                self.fill_sendpage(asid, addr, len, fixed, &mut progress.sendpage, plan, out);
            }
        }
    }

    fn sender_file(&mut self, id: AppId) -> FileId {
        match &self.apps[id.0 as usize].role {
            super::app::Role::Sender(s) => s.file(),
            _ => unreachable!(),
        }
    }

    /// Clusters for `len` bytes already copied (or about to be) by the plan.
    fn attach_clusters(&mut self, len: u64, plan: &mut Plan, out: &mut Out) {
        let fused = self.cfg.fused_copy_checksum && !self.cfg.nic.checksum_offload;
        let clusters = len.div_ceil(MCLBYTES);
        plan.cpu(Activity::Protocol, self.cfg.stack.mbuf_ns * clusters);
        let mut left = len;
        while left > 0 {
            let n = left.min(MCLBYTES);
            let e = self
                .exts
                .attach(ExtKind::Cluster { checksummed: fused }, n, 0);
            out.push((e, n));
            left -= n;
        }
    }

    /// `sosend` → `uiomove`: `copyin` into clusters, checksummed on the way if the stack
    /// fuses the two.
    pub(super) fn fill_copy(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        plan: &mut Plan,
        out: &mut Out,
    ) {
        let fused = self.cfg.fused_copy_checksum && !self.cfg.nic.checksum_offload;
        let mut versions = Vec::new();
        self.vm
            .copyin(asid, addr, len, fused, plan, &mut versions)
            .expect("the sender's source is mapped");
        self.attach_clusters(len, plan, out);
    }

    /// NetBSD `sosend_loan`: writes under the threshold are copied; the rest is loaned in
    /// chunks (one mbuf each), unless mapping a chunk would exceed the kernel address space
    /// kept for loans, in which case that chunk is copied.
    #[allow(clippy::too_many_arguments)]
    fn fill_loan(
        &mut self,
        asid: AsId,
        addr: u64,
        done: u64,
        len: u64,
        total: u64,
        opts: LoanOptions,
        from: PathNode,
        plan: &mut Plan,
        out: &mut Out,
    ) {
        if total < opts.threshold_bytes {
            self.fill_copy(asid, addr, len, plan, out);
            self.path
                .add(from, PathNode::SocketBuffer, PathKind::CpuCopy, len);
            return;
        }
        let mut consumed = 0;
        while consumed < len {
            let into_chunk = (done + consumed) % opts.chunk_bytes;
            let n = (len - consumed).min(opts.chunk_bytes - into_chunk);
            let a = addr + consumed;
            let span = pages_of(a, n).count() as u64 * PAGE_SIZE;
            if self.kva_loaned_bytes + span > opts.kva_cap_bytes {
                self.fill_copy(asid, a, n, plan, out);
                self.path
                    .add(from, PathNode::SocketBuffer, PathKind::CpuCopy, n);
            } else {
                let mut lent = Vec::new();
                self.vm
                    .lend(asid, a, n, LendKind::Loan, plan, &mut lent)
                    .expect("the sender's source is mapped");
                self.kva_loaned_bytes += span;
                if self.narrating() {
                    let note = self.narrate(format_args!(
                        "uvm_loan: {} pages ({} B) loaned to the kernel and write-protected in every mapping; one mbuf points at them",
                        lent.len(),
                        n
                    ));
                    let label = format!("loan of {} pages", lent.len());
                    self.trace_instant("loan", label.into(), note);
                }
                let pages = lent
                    .iter()
                    .map(|p| PagePromise {
                        pfn: p.pfn,
                        expected: p.version,
                    })
                    .collect();
                plan.cpu(Activity::Protocol, self.cfg.stack.mbuf_ns);
                let e = self.exts.attach(
                    ExtKind::Lent {
                        kind: LendKind::Loan,
                        pages,
                    },
                    n,
                    a % PAGE_SIZE,
                );
                out.push((e, n));
                self.path
                    .add(from, PathNode::SocketBuffer, PathKind::Reference, n);
            }
            consumed += n;
        }
    }

    /// FreeBSD `sosend` with `ZERO_COPY_SOCKETS`: whole aligned pages are wired COW, one page
    /// per mbuf (`socow_setup`); the ragged head and tail are copied.
    fn fill_cow(&mut self, asid: AsId, addr: u64, len: u64, plan: &mut Plan, out: &mut Out) {
        let head = ((PAGE_SIZE - addr % PAGE_SIZE) % PAGE_SIZE).min(len);
        let pages = (len - head) / PAGE_SIZE;
        let tail = len - head - pages * PAGE_SIZE;
        if head > 0 {
            self.fill_copy(asid, addr, head, plan, out);
        }
        for i in 0..pages {
            let a = addr + head + i * PAGE_SIZE;
            let mut lent = Vec::new();
            self.vm
                .lend(asid, a, PAGE_SIZE, LendKind::CowWire, plan, &mut lent)
                .expect("the sender's source is mapped");
            plan.cpu(Activity::Protocol, self.cfg.stack.mbuf_ns);
            let e = self.exts.attach(
                ExtKind::Lent {
                    kind: LendKind::CowWire,
                    pages: vec![PagePromise {
                        pfn: lent[0].pfn,
                        expected: lent[0].version,
                    }],
                },
                PAGE_SIZE,
                0,
            );
            out.push((e, PAGE_SIZE));
        }
        if tail > 0 {
            self.fill_copy(asid, addr + len - tail, tail, plan, out);
        }
        let (lent_bytes, copied) = (pages * PAGE_SIZE, head + tail);
        self.path.add(
            PathNode::UserBuffer,
            PathNode::SocketBuffer,
            PathKind::Reference,
            lent_bytes,
        );
        self.path.add(
            PathNode::UserBuffer,
            PathNode::SocketBuffer,
            PathKind::CpuCopy,
            copied,
        );
    }

    /// zbufs: the application builds the data directly in kernel pages it got from the
    /// kernel (its own work, one bus byte per byte), then hands them over: each page is
    /// unmapped from the application (a PTE change each way and one TLB flush).
    fn fill_zbuf(&mut self, len: u64, plan: &mut Plan, out: &mut Out) {
        let costs = self.cfg.machine.costs;
        let mut left = len;
        let mut pages = 0;
        while left > 0 {
            let n = left.min(PAGE_SIZE);
            let pfn = self.vm.alloc_kernel_page(plan);
            plan.push(Step::AppWrite { bytes: n });
            self.vm.device_wrote(pfn);
            let expected = self.vm.frame(pfn).version;
            plan.cpu(Activity::Protocol, self.cfg.stack.mbuf_ns);
            let e = self.exts.attach(
                ExtKind::Pages {
                    pages: vec![PagePromise { pfn, expected }],
                },
                n,
                0,
            );
            out.push((e, n));
            left -= n;
            pages += 1;
        }
        plan.cpu(Activity::MapUnmap, 2 * pages * costs.pte_update_ns);
        plan.cpu(Activity::Tlb, costs.tlb_flush_ns);
        self.path.add(
            PathNode::UserBuffer,
            PathNode::SocketBuffer,
            PathKind::Remap,
            len,
        );
    }

    /// `sendfile` / TUX / `sendpage`: each page of `[off, off + len)` of `file` is found in
    /// the page cache (read from disk on a miss) and referenced. The promise for each page is
    /// its content now, or, with `meant_at = (asid, addr)`, the content of the page the user
    /// has mapped at the corresponding address: under the 2003 patch's straddle bug, past the
    /// first VMA's end, that is the *other* file's page.
    fn fill_cache_ref(
        &mut self,
        file: FileId,
        off: u64,
        len: u64,
        meant_at: Option<(AsId, u64)>,
        plan: &mut Plan,
        out: &mut Out,
    ) {
        let mut pages = Vec::new();
        for (i, index) in pages_of(off, len).enumerate() {
            let pfn = self.vm.cache_page(file, index, plan);
            self.vm.kernel_ref(pfn);
            let meant = meant_at.and_then(|(asid, addr)| {
                let user_addr = (addr / PAGE_SIZE + i as u64) * PAGE_SIZE;
                let (f, idx) = self
                    .vm
                    .space(asid)
                    .vma_at(user_addr)?
                    .file_page(user_addr)?;
                self.vm.cached(f, idx)
            });
            let expected = self.vm.frame(meant.unwrap_or(pfn)).version;
            pages.push(PagePromise { pfn, expected });
        }
        plan.cpu(
            Activity::Protocol,
            self.cfg.stack.mbuf_ns * pages.len() as u64,
        );
        if self.narrating() {
            self.narrate(format_args!(
                "page cache: {} pages of {file:?} referenced into the socket buffer, no copy",
                pages.len()
            ));
        }
        let e = self
            .exts
            .attach(ExtKind::Pages { pages }, len, off % PAGE_SIZE);
        out.push((e, len));
        self.path.add(
            PathNode::PageCache,
            PathNode::SocketBuffer,
            PathKind::Reference,
            len,
        );
    }

    /// Linux `sendpage` without scatter-gather or checksum offload: the page-cache data is
    /// copied into a normal socket buffer instead.
    fn fill_cache_copy(
        &mut self,
        file: FileId,
        off: u64,
        len: u64,
        plan: &mut Plan,
        out: &mut Out,
    ) {
        for index in pages_of(off, len) {
            self.vm.cache_page(file, index, plan);
        }
        plan.copy(len);
        self.attach_clusters(len, plan, out);
        self.path.add(
            PathNode::PageCache,
            PathNode::SocketBuffer,
            PathKind::CpuCopy,
            len,
        );
    }

    /// The 2003 patch: once per `write()`, `find_vma(current->mm, from)`, then
    /// `do_generic_file_read` of that VMA's file from `from - vm_start` onward, handing each
    /// page to `sendpage`. With the bug the whole write is read from that one file; fixed,
    /// reaching the VMA's end looks up the next one.
    #[allow(clippy::too_many_arguments)]
    fn fill_sendpage(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        fixed: bool,
        cursor: &mut Option<SendpageCursor>,
        plan: &mut Plan,
        out: &mut Out,
    ) {
        let mut a = addr;
        let mut left = len;
        while left > 0 {
            let needs_lookup = match cursor {
                None => true,
                Some(c) => fixed && a >= c.vma_end,
            };
            if needs_lookup {
                let vma = self
                    .vm
                    .find_vma(asid, a, plan)
                    .expect("the source is mapped");
                let (file, index) = vma.file_page(a).expect("a file mapping");
                if self.narrating() {
                    self.narrate(format_args!(
                        "find_vma({a:#x}) finds {:?} [{:#x}, {:#x}) of {file:?}; sendpage reads that file from page {index}",
                        vma.id, vma.start, vma.end
                    ));
                }
                *cursor = Some(SendpageCursor {
                    file,
                    pos: index * PAGE_SIZE + a % PAGE_SIZE,
                    vma_end: vma.end,
                });
            }
            let c = cursor.as_mut().expect("set above");
            let n = if fixed { left.min(c.vma_end - a) } else { left };
            let (file, pos) = (c.file, c.pos);
            c.pos += n;
            self.fill_cache_ref(file, pos, n, Some((asid, a)), plan, out);
            a += n;
            left -= n;
        }
    }
}

/// Where bytes at `at` live, for the data-path graph.
fn source_node(at: Addr) -> PathNode {
    match at {
        Addr::Mapping(_) => PathNode::PageCache,
        Addr::Buffer(_) | Addr::Header => PathNode::UserBuffer,
    }
}
