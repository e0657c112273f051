//! The sender: runs its strategy's ops, one request after another.
//!
//! Ops that only cost CPU (a syscall entry, a `read()`, an `mmap`) add to a *pending* plan; a
//! `Send` moves its bytes into the socket buffer chunk by chunk (BSD `sosend`), as much as
//! there is room for, blocking when the buffer is full. Each chunk's plan carries whatever was
//! pending, then its fill; when it completes, the storage joins the socket buffer and
//! `tcp_output` runs in the sender's context. A request whose `mmap` fails is counted as
//! failed and skipped: a simulated failure is an outcome, not an error.

use std::collections::{BTreeMap, VecDeque};

use super::app::{FileName, Requests, Role, SendSource, SenderSpec};
use super::{AppId, ConnId, Cont, World};
use crate::machine::{Activity, Plan};
use crate::strategy::{Addr, MapMode, Op, Request, SendOp, SourceKind};
use crate::vm::{FileId, MmapRequest, PAGE_SIZE};

/// The most one pass of `sosend` moves before `tcp_output` runs: segments leave as the data
/// enters the socket buffer, not after a whole buffer is filled (Linux `tcp_sendmsg` pushes
/// per size goal, 64 KiB with TSO; NetBSD hands each 64 KiB loan chunk to `tcp_output`).
pub(super) const SIZE_GOAL: u64 = 64 << 10;

#[derive(Debug)]
pub(super) struct SenderState {
    spec: SenderSpec,
    /// The data buffer (memory sources; `read-write`'s read buffer).
    buf: u64,
    buf_len: u64,
    header_buf: u64,
    /// Mappings of whole files, by file (mmap strategies map each file once).
    mappings: BTreeMap<FileId, u64>,
    /// `map = per-request`: the current request's mapping, its address and the file offset
    /// it starts at.
    request_map: Option<(u64, u64)>,
    /// `map = per-request`: the starts of the current request's VMAs, to unmap after it.
    request_vmas: Vec<u64>,
    /// Start of the straddle mappings.
    straddle_base: Option<u64>,
    /// Bulk: bytes issued; responses: responses issued.
    issued: u64,
    ops: VecDeque<Op>,
    cur: Option<SendOp>,
    /// The connection of the current request; none for an application that only reads a
    /// file (`read`, `mmap-read`).
    conn: Option<ConnId>,
    file: Option<FileId>,
    pending: Plan,
    pub(super) failed_requests: u64,
}

impl SenderState {
    pub(super) fn new(spec: SenderSpec) -> Self {
        assert!(
            !spec.conns.is_empty() || spec.strategy.source() == SourceKind::LocalFile,
            "a sender needs a connection"
        );
        SenderState {
            conn: spec.conns.first().copied(),
            spec,
            buf: 0,
            buf_len: 0,
            header_buf: 0,
            mappings: BTreeMap::new(),
            request_map: None,
            request_vmas: Vec::new(),
            straddle_base: None,
            issued: 0,
            ops: VecDeque::new(),
            cur: None,
            file: None,
            pending: Plan::new(),
            failed_requests: 0,
        }
    }

    /// The connection of the current request, if it has one.
    pub(super) fn conn(&self) -> Option<ConnId> {
        self.conn
    }

    pub(super) fn file(&self) -> FileId {
        self.file.expect("a file request is in progress")
    }
}

impl World {
    /// The sender's pending plan, to submit. A pooled plan takes its place, so the costs the
    /// application gathers next reuse storage instead of growing a new plan.
    fn take_pending_plan(&mut self, id: AppId) -> Plan {
        let spare = self.new_plan();
        std::mem::replace(&mut self.sender(id).pending, spare)
    }

    fn sender(&mut self, id: AppId) -> &mut SenderState {
        match &mut self.apps[id.0 as usize].role {
            Role::Sender(s) => s,
            _ => unreachable!("{id:?} is not a sender"),
        }
    }

    /// Sets up the sender's memory: its data buffer (filled once), a header buffer, or the
    /// straddling mappings.
    pub(super) fn sender_start(&mut self, id: AppId) {
        let asid = self.apps[id.0 as usize].asid;
        let s = self.sender(id);
        let spec = s.spec.clone();
        let mut plan = self.new_plan();
        let (buf_len, shared) = match (&spec.source, spec.requests) {
            (
                SendSource::Memory {
                    buffer_bytes,
                    shared_file,
                },
                _,
            ) => (*buffer_bytes, *shared_file),
            (SendSource::Files { .. }, Requests::Bulk { write_size, .. })
                if spec.strategy.reads_into_buffer() =>
            {
                (write_size, None)
            }
            (SendSource::Files { .. }, Requests::Responses { body_bytes, .. })
                if spec.strategy.reads_into_buffer() =>
            {
                (body_bytes, None)
            }
            _ => (0, None),
        };
        // Any mapping that does not fit ends the application before it starts (an outcome).
        let Some(setup) = self.sender_mappings(id, asid, &spec, buf_len, shared, &mut plan) else {
            return;
        };
        let (buf, header_buf, straddle_base) = setup;
        let s = self.sender(id);
        s.buf = buf;
        s.buf_len = buf_len;
        s.header_buf = header_buf;
        s.straddle_base = straddle_base;
        self.app_submit(id, plan, Cont::AppStarted { app: id });
    }

    /// Maps and fills the sender's buffers (data, header) or its straddling mappings.
    /// `None` if one does not fit the address space; the application has then failed.
    fn sender_mappings(
        &mut self,
        id: AppId,
        asid: crate::vm::AsId,
        spec: &SenderSpec,
        buf_len: u64,
        shared: Option<FileName>,
        plan: &mut Plan,
    ) -> Option<(u64, u64, Option<u64>)> {
        let mut buf = 0;
        if buf_len > 0 {
            let req = match shared {
                Some(name) => MmapRequest::file(self.file_of(name), buf_len)
                    .writable()
                    .shared(),
                None => MmapRequest::anon(buf_len).writable(),
            };
            buf = self.setup_map(id, asid, req, plan)?;
            self.vm
                .user_write(asid, buf, buf_len, plan)
                .expect("just mapped writable");
        }
        let mut header_buf = 0;
        if let Requests::Responses { header_bytes, .. } = spec.requests
            && header_bytes > 0
        {
            header_buf =
                self.setup_map(id, asid, MmapRequest::anon(header_bytes).writable(), plan)?;
            self.vm
                .user_write(asid, header_buf, header_bytes, plan)
                .expect("just mapped writable");
        }
        let mut straddle_base = None;
        // Mapped per request, the straddle's files are mapped by each request instead.
        if let SendSource::Straddle {
            first,
            second,
            map_bytes,
        } = spec.source
            && spec.strategy.map_mode() != Some(MapMode::PerRequest)
        {
            let (f1, f2) = (self.file_of(first), self.file_of(second));
            let a = self.setup_map(id, asid, MmapRequest::file(f1, map_bytes).shared(), plan)?;
            let second = MmapRequest::file(f2, map_bytes).shared().at(a + map_bytes);
            self.setup_map(id, asid, second, plan)?;
            straddle_base = Some(a);
        }
        Some((buf, header_buf, straddle_base))
    }

    /// Builds the next request's ops, or finishes the sender. Returns `false` if the sender
    /// must wait (for its connection to go idle) or is done.
    fn next_request(&mut self, id: AppId) -> bool {
        let first_file_size = match &self.apps[id.0 as usize].role {
            Role::Sender(s) => match &s.spec.source {
                SendSource::Files { files } => {
                    Some(self.vm.file(self.file_of(files[0])).size_bytes)
                }
                _ => None,
            },
            _ => None,
        };
        let s = self.sender(id);
        let spec = &s.spec;
        let (request, conn, name) = match spec.requests {
            Requests::Bulk {
                total_bytes,
                write_size,
            } => {
                if s.issued >= total_bytes {
                    return false;
                }
                let mut len = write_size.min(total_bytes - s.issued);
                let (off, name) = match &spec.source {
                    SendSource::Memory { .. } => {
                        let off = s.issued % s.buf_len;
                        len = len.min(s.buf_len - off);
                        (off, None)
                    }
                    SendSource::Files { files } => {
                        let size = first_file_size.expect("computed above");
                        let off = s.issued % size.max(1);
                        len = len.min(size - off);
                        (off, Some(files[0]))
                    }
                    SendSource::Straddle { map_bytes, .. } => {
                        len = len.min(2 * map_bytes);
                        (0, None)
                    }
                };
                s.issued += len;
                let req = Request {
                    off,
                    len,
                    header_bytes: 0,
                    header: crate::strategy::HeaderMode::SeparateWrite,
                };
                (req, spec.conns.first().copied(), name)
            }
            Requests::Responses {
                count,
                header_bytes,
                header,
                body_bytes,
            } => {
                if s.issued >= count {
                    return false;
                }
                let conn = spec.conns[(s.issued % spec.conns.len() as u64) as usize];
                let SendSource::Files { files } = &spec.source else {
                    unreachable!("responses come from files")
                };
                let name = files[(s.issued % files.len() as u64) as usize];
                let req = Request {
                    off: 0,
                    len: body_bytes,
                    header_bytes,
                    header,
                };
                (req, Some(conn), Some(name))
            }
        };
        // A client asks again only once its previous response is acknowledged.
        if let (Requests::Responses { .. }, Some(conn)) = (spec.requests, conn) {
            let c = &self.conns[conn.0 as usize];
            if c.sender.una() < c.sender.written() {
                self.conns[conn.0 as usize].blocked_writer = Some(id);
                self.sender(id).conn = Some(conn);
                return false;
            }
        }
        self.start_request(id, request, conn, name);
        true
    }

    fn start_request(
        &mut self,
        id: AppId,
        mut request: Request,
        conn: Option<ConnId>,
        name: Option<FileName>,
    ) {
        let file = name.map(|n| self.file_of(n));
        if let Some(f) = file {
            // A file request is for the file as it is: a body never runs past its end, and a
            // bulk sender cycles over the file.
            let size = self.vm.file(f).size_bytes;
            request.off %= size.max(1);
            request.len = request.len.min(size - request.off);
        }
        let s = self.sender(id);
        if matches!(s.spec.requests, Requests::Responses { .. }) {
            s.issued += 1;
        }
        s.conn = conn;
        s.file = file;
        let mut ops: VecDeque<Op> = s.spec.strategy.request(&request).into();
        // A stamp into each page, or (fill_each_write) the whole request written afresh: a
        // whole-page write of every page it spans.
        let per_page = if s.spec.fill_each_write {
            PAGE_SIZE
        } else {
            s.spec.stamp_bytes
        };
        if per_page > 0 {
            let at = if s.spec.strategy.maps_file() {
                Addr::Mapping(request.off)
            } else {
                Addr::Buffer(request.off)
            };
            let stamp = Op::UserWrite {
                at,
                len: per_page,
                span: request.len,
                per_page: true,
            };
            // After the mapping exists, before the data is sent.
            let pos = ops
                .iter()
                .position(|o| matches!(o, Op::Send { .. } | Op::Syscall))
                .unwrap_or(0);
            ops.insert(pos, stamp);
        }
        if s.spec.rewrite_bytes > 0 {
            // The buffer just sent (the only one, unless a zero-copy sender cycles several).
            let off = request.off.min(s.buf_len);
            ops.push_back(Op::UserWrite {
                at: Addr::Buffer(off),
                len: s.spec.rewrite_bytes.min(s.buf_len - off),
                span: 0,
                per_page: false,
            });
        }
        s.ops = ops;
    }

    /// Runs ops until one needs the CPU or the sender must wait.
    pub(super) fn sender_next(&mut self, id: AppId) {
        let thread = self.apps[id.0 as usize].thread;
        assert!(
            self.threads
                .get(thread.0 as usize)
                .is_none_or(|t| t.running.is_none() && t.pending.is_empty()),
            "app {} resumed while its thread is busy",
            id.0
        );
        loop {
            if self.sender(id).cur.is_some() {
                self.send_chunk(id);
                return;
            }
            let Some(op) = self.sender(id).ops.pop_front() else {
                let s = self.sender(id);
                if !s.pending.is_empty() {
                    let plan = self.take_pending_plan(id);
                    self.app_submit(id, plan, Cont::AppWorked { app: id });
                    return;
                }
                if !self.next_request(id) {
                    let s = self.sender(id);
                    let finished = match s.spec.requests {
                        Requests::Bulk { total_bytes, .. } => s.issued >= total_bytes,
                        Requests::Responses { count, .. } => s.issued >= count,
                    };
                    if finished {
                        self.apps[id.0 as usize].done = true;
                        self.sender_close(id);
                    }
                    return;
                }
                continue;
            };
            if self.run_op(id, op) {
                return;
            }
        }
    }

    /// The application is done and closes its sockets: `close()` (BSD `soclose` →
    /// `tcp_usrclosed`) pushes out what Nagle was holding back, short segment and all.
    fn sender_close(&mut self, id: AppId) {
        let conns = self.sender(id).spec.conns.clone();
        for conn in conns {
            let c = &mut self.conns[conn.0 as usize];
            if c.sender.nxt() < c.sender.written() {
                c.push = true;
                self.schedule_output(conn, super::SOFTNET);
            }
        }
    }

    /// Runs one op; returns `true` if it handed work to the CPU and the sender must wait for
    /// it to finish.
    fn run_op(&mut self, id: AppId, op: Op) -> bool {
        let asid = self.apps[id.0 as usize].asid;
        let syscall_ns = self.cfg.machine.costs.syscall_ns;
        match op {
            Op::Syscall => {
                self.syscalls += 1;
                self.sender(id).pending.cpu(Activity::Syscall, syscall_ns);
            }
            Op::Cork(on) => {
                let conn = self.sender(id).conn.expect("corking a socket");
                if self.narrating() {
                    let what = if on { "corks" } else { "uncorks" };
                    self.narrate(format_args!(
                        "setsockopt: app {} {what} conn {}",
                        id.0, conn.0
                    ));
                }
                let c = &mut self.conns[conn.0 as usize];
                c.corked = on;
                if !on {
                    // Uncorking pushes out what is left, short segment and all.
                    c.push = true;
                    let mut plan = self.take_pending_plan(id);
                    let out = self.tcp_output(conn, &mut plan);
                    self.app_submit(id, plan, Cont::AppOutput { app: id, out });
                    return true;
                }
            }
            Op::ReadFile { off, len } => {
                let s = self.sender(id);
                let (file, buf) = (s.file.expect("a file request"), s.buf);
                let mut plan = std::mem::take(&mut s.pending);
                let src = self.vm.cache_segs(file, off, len, &mut plan);
                self.vm
                    .copyout_from(asid, buf, &src, &mut plan)
                    .expect("the read buffer is mapped writable");
                self.path.add(
                    super::path::PathNode::PageCache,
                    super::path::PathNode::UserBuffer,
                    super::path::PathKind::CpuCopy,
                    len,
                );
                self.sender(id).pending = plan;
            }
            Op::EnsureMapped => {
                let s = self.sender(id);
                if s.straddle_base.is_some() {
                    return false;
                }
                let file = s.file.expect("a file request");
                if s.mappings.contains_key(&file) {
                    return false;
                }
                let writable = s.spec.stamp_bytes > 0;
                let size = self.vm.file(file).size_bytes;
                let mut plan = std::mem::take(&mut self.sender(id).pending);
                plan.cpu(Activity::Syscall, syscall_ns);
                self.syscalls += 1;
                let mut req = MmapRequest::file(file, size);
                if writable {
                    req = req.writable();
                }
                let result = self.vm.mmap(asid, req, &mut plan);
                let s = self.sender(id);
                s.pending = plan;
                match result {
                    Ok(addr) => {
                        s.mappings.insert(file, addr);
                    }
                    Err(_) => {
                        // ENOMEM: the request fails; the model reports it.
                        s.failed_requests += 1;
                        s.ops.clear();
                    }
                }
            }
            Op::MapRequest { off, len } => {
                let mut plan = std::mem::take(&mut self.sender(id).pending);
                let mapped = self.map_request(id, asid, off, len, &mut plan);
                let s = self.sender(id);
                s.pending = plan;
                if !mapped {
                    // ENOMEM: the request fails; the model reports it.
                    s.failed_requests += 1;
                    s.ops.clear();
                }
            }
            Op::UnmapRequest => {
                let s = self.sender(id);
                let vmas = std::mem::take(&mut s.request_vmas);
                assert!(!vmas.is_empty(), "unmapping a request that mapped nothing");
                s.request_map = None;
                s.straddle_base = None;
                let mut plan = std::mem::take(&mut s.pending);
                for addr in vmas {
                    plan.cpu(Activity::Syscall, syscall_ns);
                    self.syscalls += 1;
                    self.vm.munmap(asid, addr, &mut plan);
                }
                self.sender(id).pending = plan;
            }
            Op::UserRead { at, len } => {
                // The application's own pass over the bytes: they count as payload once it
                // has finished reading them.
                let addr = self.resolve(id, at, 0);
                let mut plan = self.take_pending_plan(id);
                self.vm
                    .user_read(asid, addr, len, &mut plan)
                    .expect("the application reads memory it mapped");
                self.app_submit(id, plan, Cont::Consumed { app: id, len });
                return true;
            }
            Op::UserWrite {
                at,
                len,
                span,
                per_page,
            } => {
                let addr = self.resolve(id, at, 0);
                let before = self.vm.counters().clone();
                let mut plan = std::mem::take(&mut self.sender(id).pending);
                if per_page {
                    // The stamp goes into the bytes about to be sent: never past the end of
                    // the request (a short last write stamps what it has).
                    let end = addr + span;
                    let mut pages = 0;
                    for page in crate::vm::pages_of(addr, span) {
                        let a = (page * PAGE_SIZE).max(addr);
                        self.vm
                            .user_write(asid, a, len.min(end - a), &mut plan)
                            .expect("the source is mapped writable");
                        pages += 1;
                    }
                    if self.sender(id).spec.fill_each_write {
                        // Only fill_each_write writes per page for a memory sender: the
                        // application produced this request's data.
                        self.vm.count_data_pages(pages);
                    }
                } else {
                    self.vm
                        .user_write(asid, addr, len, &mut plan)
                        .expect("the buffer is mapped writable");
                }
                self.sender(id).pending = plan;
                if self.narrating() {
                    let after = self.vm.counters();
                    let (breaks, cows, cheap) = (
                        after.loan_breaks - before.loan_breaks,
                        after.cow_faults - before.cow_faults,
                        after.write_enable_faults - before.write_enable_faults,
                    );
                    let note = self.narrate(format_args!(
                        "app {} writes its own memory: {breaks} loan breaks and {cows} COW faults \
                         (each a trap, a new page and a 4 KiB copy), {cheap} write-enable faults \
                         (a trap and a PTE change)",
                        id.0
                    ));
                    if breaks > 0 {
                        let label = format!("{breaks} loan breaks");
                        self.trace_instant("loan break", label.into(), note);
                    }
                    if cows > 0 {
                        self.trace_instant("cow fault", format!("{cows} COW faults").into(), note);
                    }
                }
            }
            Op::Send { len, how } => {
                self.sender(id).cur = Some(SendOp::new(len, how));
            }
            Op::Zc(z) => {
                let mut plan = std::mem::take(&mut self.sender(id).pending);
                let mut k = super::kernel::Kernel::for_work(self, Some(id), &mut plan);
                let step = crate::strategy::zerocopy::app_op(&mut k, z);
                let s = self.sender(id);
                s.pending = plan;
                if step == crate::strategy::zerocopy::ZcStep::Block {
                    // Asleep until storage comes back (an ACK or TX completion wakes it).
                    s.ops.push_front(op);
                    let conn = s.conn.expect("a zero-copy send has a socket");
                    self.conns[conn.0 as usize].blocked_writer = Some(id);
                    return true;
                }
            }
        }
        false
    }

    /// `map = per-request`: `mmap()` the pages of the source file `[off, off + len)` spans
    /// (one syscall), or, for the straddle, its two files back to back (two). Returns `false`
    /// if a mapping does not fit, leaving nothing mapped.
    fn map_request(
        &mut self,
        id: AppId,
        asid: crate::vm::AsId,
        off: u64,
        len: u64,
        plan: &mut Plan,
    ) -> bool {
        let syscall_ns = self.cfg.machine.costs.syscall_ns;
        let s = self.sender(id);
        let reqs = match s.spec.source {
            SendSource::Straddle {
                first,
                second,
                map_bytes,
            } => vec![
                MmapRequest::file(self.file_of(first), map_bytes).shared(),
                MmapRequest::file(self.file_of(second), map_bytes).shared(),
            ],
            _ => {
                let file = s.file.expect("a file request");
                let span = crate::vm::pages_of(off, len).count() as u64 * PAGE_SIZE;
                let req = MmapRequest::file_from(file, off / PAGE_SIZE, span);
                vec![if s.spec.stamp_bytes > 0 {
                    req.writable()
                } else {
                    req
                }]
            }
        };
        let mut vmas: Vec<u64> = Vec::new();
        let mut end = None;
        for mut req in reqs {
            // The straddle's second file goes right after the first.
            if let Some(e) = end {
                req = req.at(e);
            }
            plan.cpu(Activity::Syscall, syscall_ns);
            self.syscalls += 1;
            match self.vm.mmap(asid, req, plan) {
                Ok(addr) => {
                    vmas.push(addr);
                    end = Some(addr + req.len_bytes.div_ceil(PAGE_SIZE).max(1) * PAGE_SIZE);
                }
                Err(_) => {
                    for addr in vmas {
                        self.vm.munmap(asid, addr, plan);
                    }
                    return false;
                }
            }
        }
        let s = self.sender(id);
        if matches!(s.spec.source, SendSource::Straddle { .. }) {
            s.straddle_base = Some(vmas[0]);
        } else {
            s.request_map = Some((vmas[0], off / PAGE_SIZE * PAGE_SIZE));
        }
        s.request_vmas = vmas;
        true
    }

    /// The sender's data buffer: its start and length.
    pub(super) fn sender_buffer(&mut self, id: AppId) -> (u64, u64) {
        let s = self.sender(id);
        (s.buf, s.buf_len)
    }

    /// The file of `id`'s current request.
    pub(super) fn sender_file(&mut self, id: AppId) -> FileId {
        self.sender(id).file()
    }

    /// The user address `at` plus `done` bytes.
    pub(super) fn resolve(&mut self, id: AppId, at: Addr, done: u64) -> u64 {
        let s = self.sender(id);
        match at {
            Addr::Buffer(off) => s.buf + off + done,
            Addr::Header => s.header_buf + done,
            Addr::Mapping(off) => match (s.straddle_base, s.request_map) {
                (Some(b), _) => b + off + done,
                (None, Some((base, start))) => base + (off - start) + done,
                (None, None) => s.mappings[&s.file.expect("a file request")] + off + done,
            },
        }
    }

    /// Moves the next chunk of the current `Send` into storage, or blocks for space.
    fn send_chunk(&mut self, id: AppId) {
        let s = self.sender(id);
        let conn = s.conn.expect("a send has a socket");
        let p = s.cur.expect("a send in progress");
        let space = self.conns[conn.0 as usize].snd.space();
        let cpus = self.cfg.machine.cpus;
        let (room, unit) = p.room(cpus);
        // sosend: wait unless the whole rest fits or the op's minimum room is free.
        if space < room {
            self.net.send_blocks += 1;
            let c = &mut self.conns[conn.0 as usize];
            c.blocked_writer = Some(id);
            return;
        }
        let mut chunk = p.left.min(space).min(SIZE_GOAL);
        if chunk < p.left {
            chunk = chunk / unit * unit;
        }
        // The room rule may hold the writer back for kernel state outside the socket buffer
        // (NetBSD `sokvaalloc` sleeping at `SOMAXKVA`): it then sleeps on its connection and
        // is woken, like a writer waiting for room, by the ACK that returns the loans.
        let addr = p.needs_addr().map(|at| self.resolve(id, at, p.done));
        chunk = p.take(chunk, cpus, addr, self.kva_loaned_bytes);
        if chunk == 0 {
            self.vm.count_kva_wait();
            let c = &mut self.conns[conn.0 as usize];
            c.blocked_writer = Some(id);
            return;
        }
        let mut plan = self.take_pending_plan(id);
        plan.cpu(Activity::Protocol, self.cfg.stack.socket_per_chunk_ns);
        let mut exts = self.spare_chunks.take();
        let mut p = p;
        let mut k = super::kernel::Kernel::for_fill(self, id, &mut plan, &mut exts);
        crate::strategy::fill(&mut k, &mut p, chunk);
        let s = self.sender(id);
        let left = p.left - chunk;
        s.cur = (left > 0).then_some(SendOp {
            done: p.done + chunk,
            left,
            ..p
        });
        self.app_submit(
            id,
            plan,
            Cont::ChunkReady {
                app: id,
                conn,
                exts,
            },
        );
    }

    /// A chunk's storage joins the socket buffer; `tcp_output` runs in the sender's context.
    pub(super) fn chunk_ready(
        &mut self,
        id: AppId,
        conn: ConnId,
        exts: Vec<(crate::net::mbuf::ExtId, u64)>,
    ) {
        if self.narrating() {
            let bytes: u64 = exts.iter().map(|e| e.1).sum();
            self.narrate(format_args!(
                "sosend: app {} appends {bytes} bytes in {} to conn {}",
                id.0,
                super::narrate::count(exts.len() as u64, "mbuf storage", "mbuf storages"),
                conn.0
            ));
        }
        let mut exts = exts;
        let c = &mut self.conns[conn.0 as usize];
        let from = c.sender.written();
        for (ext, len) in exts.drain(..) {
            c.snd
                .append(crate::net::sockbuf::Piece { ext, off: 0, len });
            c.sender.wrote(len);
        }
        self.spare_chunks.give(exts);
        let (to, thread) = (c.sender.written(), self.apps[id.0 as usize].thread);
        self.trace_write(conn, from, to, thread);
        // Within one call, more data follows (a header iovec before its body): like BSD's
        // single chain per call, tcp_output waits for the rest.
        let s = self.sender(id);
        let more_to_come = s.cur.is_none() && matches!(s.ops.front(), Some(Op::Send { .. }));
        let mut plan = self.new_plan();
        if more_to_come {
            self.app_submit(id, plan, Cont::AppWorked { app: id });
        } else {
            let out = self.tcp_output(conn, &mut plan);
            self.app_submit(id, plan, Cont::AppOutput { app: id, out });
        }
    }
}
