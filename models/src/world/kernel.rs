//! The narrow kernel interface a strategy room works through.
//!
//! A room never sees [`World`]'s fields. It gets a [`Kernel`]: the VM with the plan its work
//! is charged to, the mbuf storage table, the stack's costs, the data-path graph and the
//! narration, plus the few socket-layer services a fill needs (a sender's addresses and file,
//! the kernel address space kept for loans). Every operation appends its cost to the plan; a
//! room never moves time itself.

use std::borrow::Cow;

use super::path::{PathKind, PathNode};
use super::{AppId, ConnId, World, WorldConfig};
use crate::machine::{Activity, Plan};
use crate::net::mbuf::{Ext, ExtId, ExtKind, MCLBYTES};
use crate::net::sockbuf::Piece;
use crate::strategy::Addr;
use crate::vm::{AsId, FileId, Seg, Vm};

/// Storage a fill produced: each external storage with the payload bytes it holds.
pub(crate) type Filled = Vec<(ExtId, u64)>;

/// What a strategy room may do inside the kernel, on behalf of one application (or, for a
/// release at ACK time, of none).
pub(crate) struct Kernel<'a> {
    w: &'a mut World,
    app: Option<AppId>,
    plan: &'a mut Plan,
    out: Option<&'a mut Filled>,
}

impl<'a> Kernel<'a> {
    /// For a fill of `app`'s send: new storage goes to `out`.
    pub(super) fn for_fill(
        w: &'a mut World,
        app: AppId,
        plan: &'a mut Plan,
        out: &'a mut Filled,
    ) -> Self {
        Kernel {
            w,
            app: Some(app),
            plan,
            out: Some(out),
        }
    }

    /// For work that belongs to no send (a release, a `recv()`'s delivery).
    pub(super) fn for_work(w: &'a mut World, app: Option<AppId>, plan: &'a mut Plan) -> Self {
        Kernel {
            w,
            app,
            plan,
            out: None,
        }
    }

    fn app(&self) -> AppId {
        self.app.expect("this kernel work runs for an application")
    }

    /// The application the work is for.
    pub fn app_id(&self) -> AppId {
        self.app()
    }

    /// The zero-copy sends, their completions and the queues they wait in.
    pub fn zc(&mut self) -> &mut crate::strategy::ZcState {
        &mut self.w.zc
    }

    /// The application enters and leaves the kernel once (counted with every syscall).
    pub fn syscall(&mut self) {
        self.w.syscalls += 1;
        self.plan
            .cpu(Activity::Syscall, self.w.cfg.machine.costs.syscall_ns);
    }

    /// Socket-layer work of one call (`sock_recvmsg` bookkeeping, an error-queue read).
    pub fn socket_work(&mut self) {
        self.plan
            .cpu(Activity::Protocol, self.w.cfg.stack.socket_per_chunk_ns);
    }

    /// The sender's data buffer: its start address and length.
    pub fn buffer(&mut self) -> (u64, u64) {
        let app = self.app();
        self.w.sender_buffer(app)
    }

    /// Storage this fill has produced so far.
    pub fn filled(&self) -> usize {
        self.out.as_ref().map_or(0, |o| o.len())
    }

    /// Storage a fill produced, by index (see [`Kernel::filled`]).
    pub fn filled_since(&self, from: usize) -> Vec<ExtId> {
        self.out
            .as_ref()
            .map_or(Vec::new(), |o| o[from..].iter().map(|e| e.0).collect())
    }

    /// Storage came back to an application (a zero-copy completion): a writer asleep on its
    /// connection may go on, as after a loan's return.
    pub fn storage_returned(&mut self) {
        self.w.lend_returned = true;
    }

    pub fn config(&self) -> &WorldConfig {
        &self.w.cfg
    }

    /// The address space of the application the work is for.
    pub fn asid(&self) -> AsId {
        self.w.apps[self.app().0 as usize].asid
    }

    /// The plan the work is charged to.
    pub fn plan(&mut self) -> &mut Plan {
        self.plan
    }

    /// The VM and the plan together, for any VM operation, with the application's space.
    pub fn vm(&mut self) -> (&mut Vm, &mut Plan) {
        (&mut self.w.vm, self.plan)
    }

    /// The user address of `at`, `done` bytes in.
    pub fn addr(&mut self, at: Addr, done: u64) -> u64 {
        let app = self.app();
        self.w.resolve(app, at, done)
    }

    /// The file of the sender's current request.
    pub fn source_file(&mut self) -> FileId {
        let app = self.app();
        self.w.sender_file(app)
    }

    /// Records bytes moving from `from` to `to` in the data-path graph.
    pub fn path(&mut self, from: PathNode, to: PathNode, kind: PathKind, bytes: u64) {
        self.w.path.add(from, to, kind, bytes);
    }

    // ----- storage ----------------------------------------------------------------------------

    pub fn ext(&self, id: ExtId) -> &Ext {
        self.w.exts.get(id)
    }

    /// Hangs `len` bytes of storage of `kind` on an mbuf (charging `mbufs` mbuf operations)
    /// and hands it to the socket buffer.
    pub fn attach(&mut self, kind: ExtKind, len: u64, first_page_off: u64, mbufs: u64) {
        self.plan
            .cpu(Activity::Protocol, self.w.cfg.stack.mbuf_ns * mbufs);
        let e = self.w.exts.attach(kind, len, first_page_off);
        self.out
            .as_mut()
            .expect("storage is attached only by a fill")
            .push((e, len));
    }

    /// Clusters for `len` bytes already copied by the plan (a copy the cache model does not
    /// follow), one mbuf each, checksummed on the way when the stack fuses the two.
    pub fn attach_clusters(&mut self, len: u64) {
        let clusters = self.new_clusters(len);
        self.hand_over_clusters(clusters);
    }

    /// Copies the bytes of `src` (page-cache pages, a header the kernel builds: see
    /// [`Kernel::cache_segs`]) into new clusters, hot where the cache holds both sides, and
    /// hands them to the socket buffer. Cost: the copy (fused with the checksum when the stack
    /// fuses the two) and one mbuf per cluster.
    pub fn copy_into_clusters(&mut self, src: &[Seg]) {
        let len = src.iter().map(|s| s.1).sum();
        let clusters = self.new_clusters(len);
        let dst = self.cluster_segs(&clusters);
        let fused = self.fused_checksum();
        self.w.vm.copy(src, &dst, fused, self.plan);
        self.hand_over_clusters(clusters);
    }

    /// The frames holding `[off, off + len)` of `file`, reading missing pages from disk (see
    /// [`Vm::cache_segs`]).
    pub fn cache_segs(&mut self, file: FileId, off: u64, len: u64) -> Vec<Seg> {
        self.w.vm.cache_segs(file, off, len, self.plan)
    }

    /// Clusters for `len` bytes, each with its byte count, not yet charged or handed over.
    fn new_clusters(&mut self, len: u64) -> Filled {
        let fused = self.fused_checksum();
        let mut out = Vec::new();
        let mut left = len;
        while left > 0 {
            let n = left.min(MCLBYTES);
            let e = self
                .w
                .exts
                .attach(ExtKind::Cluster { checksummed: fused }, n, 0);
            out.push((e, n));
            left -= n;
        }
        out
    }

    /// The memory of `clusters`, in order, for the cache model (one untracked piece when
    /// there is no cache: nothing could be resident).
    fn cluster_segs(&self, clusters: &Filled) -> Vec<Seg> {
        if !self.w.vm.cache_on() {
            return vec![(None, clusters.iter().map(|c| c.1).sum())];
        }
        let mut out = Vec::with_capacity(clusters.len());
        for &(e, n) in clusters {
            self.w.exts.segs_into(e, 0, n, &mut out);
        }
        out
    }

    /// Charges an mbuf per cluster and hands them to the socket buffer.
    fn hand_over_clusters(&mut self, clusters: Filled) {
        self.plan.cpu(
            Activity::Protocol,
            self.w.cfg.stack.mbuf_ns * clusters.len() as u64,
        );
        self.out
            .as_mut()
            .expect("storage is attached only by a fill")
            .extend(clusters);
    }

    /// Whether the target runs Linux (whose `tcp_sendpage` falls back to a copy without
    /// scatter-gather or checksum offload, and whose `tcp_sendmsg` builds linear skbs without
    /// scatter-gather).
    ///
    /// Hook: `WorldConfig` has no target-OS flag yet; until the lead adds one (set from the
    /// preset, e.g. from `linux_sendpage_fallback`), the fused copy-and-checksum, which only
    /// Linux does (`csum_and_copy_from_user`), stands for it. Every preset agrees: pc-2003 is
    /// Linux and fuses; server-2024 is Linux with SG and offload, where nothing depends on it;
    /// the BSD boards do not fuse.
    pub fn linux_target(&self) -> bool {
        self.w.linux_stack()
    }

    /// Whether a copy into clusters also computes the checksum (Linux
    /// `csum_and_copy_from_user`, no offload).
    pub fn fused_checksum(&self) -> bool {
        self.w.cfg.fused_copy_checksum && !self.w.cfg.nic.checksum_offload
    }

    /// `sosend` → `uiomove`: `copyin` of `len` user bytes at `addr` into clusters, hot where
    /// the cache holds both the user's pages and the recycled clusters.
    pub fn copyin(&mut self, addr: u64, len: u64) {
        let fused = self.fused_checksum();
        let asid = self.asid();
        let clusters = self.new_clusters(len);
        let dst = self.cluster_segs(&clusters);
        self.w
            .vm
            .copyin(asid, addr, len, &dst, fused, self.plan)
            .expect("the sender's source is mapped");
        self.hand_over_clusters(clusters);
    }

    /// The memory holding `[off, off + len)` of storage `ext`, for a copy out of it.
    pub fn ext_segs(&self, ext: ExtId, off: u64, len: u64) -> Vec<Seg> {
        if !self.w.vm.cache_on() {
            let held = self.w.exts.get(ext).len;
            assert!(
                off + len <= held,
                "{ext:?} of {held} bytes does not hold [{off}, {off} + {len})"
            );
            return vec![(None, len)];
        }
        self.w.exts.segs(ext, off, len)
    }

    /// Drops one reference to `ext` (its release, if it was the last, is charged here).
    pub fn unref(&mut self, ext: ExtId) {
        self.w.unref_ext(ext, self.plan);
    }

    /// Takes the one page out of single-page storage whose last reference this is.
    pub fn take_page(&mut self, ext: ExtId) -> crate::vm::Pfn {
        self.w.exts.take_single_page(ext)
    }

    // ----- kernel address space for loans ---------------------------------------------------

    /// Bytes of kernel address space mapping loaned pages now.
    pub fn kva_loaned(&self) -> u64 {
        self.w.kva_loaned_bytes
    }

    pub fn kva_map(&mut self, bytes: u64) {
        self.w.kva_loaned_bytes += bytes;
    }

    pub fn kva_unmap(&mut self, bytes: u64) {
        self.w.kva_loaned_bytes -= bytes;
    }

    // ----- the receive side -------------------------------------------------------------------

    /// Bytes waiting in `conn`'s receive buffer (`tcp_inq`).
    pub fn rcv_bytes(&self, conn: ConnId) -> u64 {
        self.w.conns[conn.0 as usize]
            .rcv
            .as_ref()
            .expect("a receiving connection")
            .bytes()
    }

    /// The pieces waiting in `conn`'s receive buffer, in order (what `tcp_recv_skb` walks).
    pub fn rcv_pieces(&self, conn: ConnId) -> Vec<Piece> {
        self.w.conns[conn.0 as usize]
            .rcv
            .as_ref()
            .expect("a receiving connection")
            .pieces()
            .copied()
            .collect()
    }

    /// Takes up to `max` bytes from the front of `conn`'s receive buffer; true if the last
    /// piece was cut in two (its tail keeps the storage's reference).
    pub fn rcv_take(&mut self, conn: ConnId, max: u64, out: &mut Vec<Piece>) -> bool {
        self.w.conns[conn.0 as usize]
            .rcv
            .as_mut()
            .expect("a receiving connection")
            .take(max, out)
    }

    /// The io_uring zero-copy receive area bound to the receive queue, if any.
    pub fn zcrx_area(&mut self) -> Option<&mut crate::strategy::ZcrxArea> {
        self.w.rxq.zcrx.as_mut().map(|(_, a)| a)
    }

    /// Binds `area` to the receive queue, steering `conn`'s frames into it
    /// (`io_register_zcrx_ifq` with an ntuple rule).
    pub fn bind_zcrx(&mut self, conn: ConnId, area: crate::strategy::ZcrxArea) {
        assert!(self.w.rxq.zcrx.is_none(), "one zero-copy area per queue");
        self.w.rxq.zcrx = Some((conn, area));
    }

    /// The AF_XDP socket's UMEM and rings, once registered.
    pub fn xsk(&mut self) -> Option<&mut crate::strategy::Umem> {
        self.w.xsk.as_mut().and_then(|x| x.umem.as_mut())
    }

    /// The devmem TCP dmabuf bound to the receive queue, if any.
    pub fn devmem_binding(&mut self) -> Option<&mut crate::strategy::DevmemBinding> {
        self.w.rxq.devmem.as_mut().map(|(_, b)| b)
    }

    /// Binds `binding` to the receive queue, steering `conn`'s frames' payload into it
    /// (netlink `bind-rx` with an ntuple rule).
    pub fn bind_devmem(&mut self, conn: ConnId, binding: crate::strategy::DevmemBinding) {
        assert!(self.w.rxq.devmem.is_none(), "one dmabuf per queue");
        self.w.rxq.devmem = Some((conn, binding));
    }

    /// `pages` received pages mapped into the reader (`TCP_ZEROCOPY_RECEIVE`).
    pub fn count_mapped(&mut self, pages: u64) {
        self.w.net.pages_mapped += pages;
    }

    /// A completion handing the reader payload where it already lies (io_uring zero-copy
    /// receive).
    pub fn count_completion(&mut self) {
        self.w.net.rx_completions += 1;
    }

    /// `bytes` of payload copied to a reader.
    pub fn count_copied(&mut self, bytes: u64) {
        self.w.net.rx_copied_bytes += bytes;
    }

    /// A zero-copy receive had to copy `bytes` its path could not take.
    pub fn count_fallback(&mut self, bytes: u64) {
        self.w.net.rx_fallbacks += 1;
        self.w.net.rx_fallback_bytes += bytes;
    }

    // ----- counters ---------------------------------------------------------------------------

    /// A page flipped, or a piece of `bytes` a flipping receiver had to copy.
    pub fn count_flip(&mut self, flipped: bool, bytes: u64) {
        if flipped {
            self.w.net.page_flips += 1;
        } else {
            self.w.net.flip_fallbacks += 1;
            self.w.net.rx_fallback_bytes += bytes;
        }
    }

    // ----- narration --------------------------------------------------------------------------

    /// Whether anyone listens; check before formatting a line.
    pub fn narrating(&self) -> bool {
        self.w.narrating()
    }

    /// Narrates one line; returns its id in the trace.
    pub fn narrate(&mut self, line: std::fmt::Arguments<'_>) -> u64 {
        self.w.narrate(line)
    }

    /// Marks an instant on the trace's events lane.
    pub fn instant(&mut self, kind: &'static str, label: Cow<'static, str>, note: u64) {
        self.w.trace_instant(kind, label, note);
    }
}
