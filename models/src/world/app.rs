//! Applications: user threads that make system calls.
//!
//! A sender loops over `write()` calls (BSD `sosend`): each call pays a syscall, then moves
//! its bytes into the socket buffer chunk by chunk, as much as there is space for, blocking
//! (`sbwait`) when the buffer is full; after each chunk, `tcp_output` runs in the sender's
//! context. How a chunk becomes socket-buffer storage is the strategy's business.
//! A receiver loops over `recv()` calls, blocking while the receive buffer is empty.

use super::{ConnId, Cont, PacketId, World};
use crate::machine::{Activity, Plan, ThreadId};
use crate::net::mbuf::{ExtId, ExtKind, MCLBYTES};
use crate::net::sockbuf::Piece;
use crate::vm::{AsId, MmapRequest};

/// An application, numbered from a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppId(pub u32);

/// Where a sender's bytes come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendSource {
    /// A buffer of `buffer_bytes` in the sender's memory, filled once and sent over and over.
    Memory { buffer_bytes: u64 },
}

/// How a receiver takes data out of its socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receiver {
    /// `recv()` copies out of the kernel's buffers.
    Copy,
    /// `recv(MSG_TRUNC)`: the kernel drops the data without copying it (a baseline that
    /// shows what the receiver's copy costs).
    Discard,
    /// FreeBSD zero-copy receive (`ZERO_COPY_SOCKETS`, `vm_pgmoveco`): a received page is
    /// moved into the reader's buffer instead of copied when [`flip_fits`] says it can be;
    /// anything else is copied.
    Flip,
}

/// Why a received page cannot be flipped into the reader's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlipMisfit {
    /// The payload is not in a page of its own (no header splitting).
    NotPageBacked,
    /// The payload does not start at the start of its page.
    PayloadUnaligned,
    /// Less than a whole page is being moved.
    ShortLength,
    /// The reader's buffer does not start on a page boundary.
    BufferUnaligned,
    /// This page's place in the reader's buffer is not on a page boundary.
    OffsetUnaligned,
    /// The MTU is not larger than a page, so no frame fills a page.
    SmallMtu,
}

/// FreeBSD's conditions for flipping one received piece into the reader's buffer at
/// `buffer + offset`: the payload page-aligned in a page of its own, a whole page moved, the
/// buffer and the offset page-aligned, and an MTU above the page size.
pub fn flip_fits(
    ext: &crate::net::mbuf::Ext,
    piece: &Piece,
    buffer: u64,
    offset: u64,
    mtu_bytes: u64,
) -> Result<(), FlipMisfit> {
    use crate::vm::PAGE_SIZE;
    if mtu_bytes <= PAGE_SIZE {
        return Err(FlipMisfit::SmallMtu);
    }
    match &ext.kind {
        ExtKind::Pages { pages } if pages.len() == 1 => {}
        _ => return Err(FlipMisfit::NotPageBacked),
    }
    if ext.offset_in_first_page + piece.off != 0 {
        return Err(FlipMisfit::PayloadUnaligned);
    }
    if piece.len != PAGE_SIZE || ext.len != PAGE_SIZE {
        return Err(FlipMisfit::ShortLength);
    }
    if !buffer.is_multiple_of(PAGE_SIZE) {
        return Err(FlipMisfit::BufferUnaligned);
    }
    if !offset.is_multiple_of(PAGE_SIZE) {
        return Err(FlipMisfit::OffsetUnaligned);
    }
    Ok(())
}

/// What an application does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppSpec {
    Sender {
        conn: ConnId,
        total_bytes: u64,
        write_size: u64,
        source: SendSource,
        /// Bytes of the buffer the application overwrites as soon as each `write()` returns.
        rewrite_bytes: u64,
    },
    Receiver {
        conn: ConnId,
        total_bytes: u64,
        read_size: u64,
        receiver: Receiver,
        /// Where the buffer starts relative to a page boundary (0 = page-aligned).
        buffer_offset: u64,
    },
}

/// What an application's finished plan leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum AppCont {
    /// The buffer is set up; start the first call.
    Started,
    /// A chunk's storage is ready to be appended to the socket buffer (the app holds one
    /// reference to each until then).
    ChunkReady { exts: Vec<(ExtId, u64)> },
    /// The `tcp_output` that followed a chunk finished; its packets go to the NIC. If the
    /// call is over and the application rewrites its buffer, that comes next.
    Output {
        packets: Vec<PacketId>,
        then_rewrite: bool,
    },
    /// The work after `write()` returned (a rewrite) is done.
    AfterWrite,
    /// A `recv()` finished, moving `len` bytes.
    Received { len: u64 },
}

impl AppCont {
    pub(super) fn held_exts(&self) -> Vec<ExtId> {
        match self {
            AppCont::ChunkReady { exts } => exts.iter().map(|e| e.0).collect(),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug)]
struct SenderState {
    conn: ConnId,
    total: u64,
    write_size: u64,
    buf: u64,
    buf_len: u64,
    rewrite_bytes: u64,
    /// Bytes handed to `write()` calls so far (started calls included).
    issued: u64,
    /// Bytes of the current call not yet in the socket buffer.
    resid: u64,
    /// The current call has not paid its syscall yet.
    fresh_call: bool,
    /// Offset in the buffer of the next byte to send.
    buf_off: u64,
}

#[derive(Debug)]
struct ReceiverState {
    mode: Receiver,
    buffer_offset: u64,
    conn: ConnId,
    total: u64,
    read_size: u64,
    buf: u64,
    received: u64,
}

#[derive(Debug)]
enum Role {
    Sender(SenderState),
    Receiver(ReceiverState),
}

#[derive(Debug)]
pub(super) struct App {
    thread: ThreadId,
    asid: AsId,
    role: Role,
    done: bool,
}

impl World {
    /// Adds an application; it starts at the current time.
    pub fn add_app(&mut self, spec: AppSpec) -> AppId {
        let id = AppId(self.apps.len() as u32);
        let asid = self.vm.new_address_space();
        let role = match spec {
            AppSpec::Sender {
                conn,
                total_bytes,
                write_size,
                source: SendSource::Memory { buffer_bytes },
                rewrite_bytes,
            } => {
                assert!(write_size > 0 && buffer_bytes > 0, "empty writes or buffer");
                Role::Sender(SenderState {
                    conn,
                    total: total_bytes,
                    write_size,
                    buf: 0,
                    buf_len: buffer_bytes,
                    rewrite_bytes: rewrite_bytes.min(buffer_bytes),
                    issued: 0,
                    resid: 0,
                    fresh_call: false,
                    buf_off: 0,
                })
            }
            AppSpec::Receiver {
                conn,
                total_bytes,
                read_size,
                receiver,
                buffer_offset,
            } => {
                assert!(read_size > 0, "empty reads");
                Role::Receiver(ReceiverState {
                    mode: receiver,
                    buffer_offset: buffer_offset % crate::vm::PAGE_SIZE,
                    conn,
                    total: total_bytes,
                    read_size,
                    buf: 0,
                    received: 0,
                })
            }
        };
        self.apps.push(App {
            thread: ThreadId(super::FIRST_APP_THREAD + id.0),
            asid,
            role,
            done: false,
        });
        self.queue
            .schedule_at(self.now(), super::Event::AppTimer { app: id });
        id
    }

    /// Whether every application has finished.
    pub fn apps_done(&self) -> bool {
        self.apps.iter().all(|a| a.done)
    }

    /// The application's start: map and fill its buffer.
    pub(super) fn app_timer(&mut self, id: AppId) {
        let a = &self.apps[id.0 as usize];
        let asid = a.asid;
        let (len, skew) = match &a.role {
            Role::Sender(s) => (s.buf_len, 0),
            Role::Receiver(r) => (r.read_size + r.buffer_offset, r.buffer_offset),
        };
        let mut plan = Plan::new();
        let addr = self
            .vm
            .mmap(asid, MmapRequest::anon(len).writable(), &mut plan)
            .expect("an application's buffer fits in an empty address space");
        self.vm
            .user_write(asid, addr, len, &mut plan)
            .expect("buffer was just mapped writable");
        match &mut self.apps[id.0 as usize].role {
            Role::Sender(s) => s.buf = addr,
            Role::Receiver(r) => r.buf = addr + skew,
        }
        self.app_submit(id, plan, AppCont::Started);
    }

    fn app_submit(&mut self, id: AppId, plan: Plan, cont: AppCont) {
        let thread = self.apps[id.0 as usize].thread;
        self.submit(thread, plan, Cont::App(id, cont));
    }

    pub(super) fn app_continue(&mut self, id: AppId, cont: AppCont) {
        match cont {
            AppCont::Started => self.app_next(id),
            AppCont::ChunkReady { exts } => self.chunk_ready(id, exts),
            AppCont::Output {
                packets,
                then_rewrite,
            } => {
                self.output_done(packets);
                if then_rewrite {
                    self.rewrite(id);
                } else {
                    self.app_next(id);
                }
            }
            AppCont::AfterWrite => self.app_next(id),
            AppCont::Received { len } => {
                let Role::Receiver(r) = &mut self.apps[id.0 as usize].role else {
                    unreachable!("only receivers receive")
                };
                r.received += len;
                let conn = r.conn;
                // Reading opened the window: the sender may go on.
                if self.conns[conn.0 as usize].remote.is_some() {
                    self.window_update(conn);
                } else {
                    self.schedule_output(conn, super::SOFTNET);
                }
                self.app_next(id);
            }
        }
    }

    /// A blocked application may go on.
    pub(super) fn app_wake(&mut self, id: AppId) {
        self.app_next(id);
    }

    /// The application's next step: the next chunk of the current call, a new call, or done.
    fn app_next(&mut self, id: AppId) {
        match self.apps[id.0 as usize].role {
            Role::Sender(_) => self.sender_next(id),
            Role::Receiver(_) => self.receiver_next(id),
        }
    }

    fn sender_next(&mut self, id: AppId) {
        let stack = self.cfg.stack;
        let syscall_ns = self.cfg.machine.costs.syscall_ns;
        let a = &mut self.apps[id.0 as usize];
        let asid = a.asid;
        let Role::Sender(s) = &mut a.role else {
            unreachable!()
        };
        if s.resid == 0 {
            if s.issued == s.total {
                a.done = true;
                return;
            }
            s.resid = s.write_size.min(s.total - s.issued);
            s.issued += s.resid;
            s.fresh_call = true;
        }
        let conn = s.conn;
        let space = self.conns[conn.0 as usize].snd.space();
        // sosend: wait unless the whole rest fits or at least a cluster's worth of room is free.
        if space == 0 || (space < s.resid && space < MCLBYTES) {
            self.net.send_blocks += 1;
            self.conns[conn.0 as usize].blocked_writer = Some(id);
            return;
        }
        let chunk = s.resid.min(space);
        let mut plan = Plan::new();
        if std::mem::take(&mut s.fresh_call) {
            plan.cpu(Activity::Syscall, syscall_ns);
        }
        plan.cpu(Activity::Protocol, stack.socket_per_chunk_ns);
        // The chunk may wrap around the end of the reused buffer.
        let mut exts = Vec::new();
        let mut left = chunk;
        while left > 0 {
            let Role::Sender(s) = &mut self.apps[id.0 as usize].role else {
                unreachable!()
            };
            let off = s.buf_off;
            let n = left.min(s.buf_len - off);
            let addr = s.buf + off;
            s.buf_off = (off + n) % s.buf_len;
            self.fill_copy(asid, addr, n, &mut plan, &mut exts);
            left -= n;
        }
        let Role::Sender(s) = &mut self.apps[id.0 as usize].role else {
            unreachable!()
        };
        s.resid -= chunk;
        self.app_submit(id, plan, AppCont::ChunkReady { exts });
    }

    /// The `copy` strategy's chunk: `copyin` into freshly allocated clusters, checksummed on
    /// the way if the stack fuses the two.
    fn fill_copy(
        &mut self,
        asid: AsId,
        addr: u64,
        len: u64,
        plan: &mut Plan,
        exts: &mut Vec<(ExtId, u64)>,
    ) {
        let fused = self.cfg.fused_copy_checksum && !self.cfg.nic.checksum_offload;
        let clusters = len.div_ceil(MCLBYTES);
        plan.cpu(Activity::Protocol, self.cfg.stack.mbuf_ns * clusters);
        let mut versions = Vec::new();
        self.vm
            .copyin(asid, addr, len, fused, plan, &mut versions)
            .expect("the sender's buffer is mapped");
        let mut left = len;
        while left > 0 {
            let n = left.min(MCLBYTES);
            let e = self
                .exts
                .attach(ExtKind::Cluster { checksummed: fused }, n, 0);
            exts.push((e, n));
            left -= n;
        }
    }

    /// A chunk's storage joins the socket buffer; `tcp_output` runs in the sender's context.
    fn chunk_ready(&mut self, id: AppId, exts: Vec<(ExtId, u64)>) {
        let Role::Sender(s) = &self.apps[id.0 as usize].role else {
            unreachable!()
        };
        let conn = s.conn;
        let c = &mut self.conns[conn.0 as usize];
        for (ext, len) in exts {
            c.snd.append(Piece { ext, off: 0, len });
            c.sender.written += len;
        }
        let mut plan = Plan::new();
        let packets = self.tcp_output(conn, &mut plan);
        let Role::Sender(s) = &self.apps[id.0 as usize].role else {
            unreachable!()
        };
        let then_rewrite = s.resid == 0 && s.rewrite_bytes > 0;
        self.app_submit(
            id,
            plan,
            AppCont::Output {
                packets,
                then_rewrite,
            },
        );
    }

    /// `write()` returned and the application at once overwrites the start of its buffer.
    fn rewrite(&mut self, id: AppId) {
        let a = &self.apps[id.0 as usize];
        let Role::Sender(s) = &a.role else {
            unreachable!()
        };
        let (asid, buf, n) = (a.asid, s.buf, s.rewrite_bytes);
        let mut plan = Plan::new();
        self.vm
            .user_write(asid, buf, n, &mut plan)
            .expect("the sender's buffer is writable");
        self.app_submit(id, plan, AppCont::AfterWrite);
    }

    fn receiver_next(&mut self, id: AppId) {
        let stack = self.cfg.stack;
        let syscall_ns = self.cfg.machine.costs.syscall_ns;
        let a = &mut self.apps[id.0 as usize];
        let asid = a.asid;
        let Role::Receiver(r) = &mut a.role else {
            unreachable!()
        };
        if r.received == r.total {
            a.done = true;
            return;
        }
        let (conn, read_size, buf, mode) = (r.conn, r.read_size, r.buf, r.mode);
        let rcv = self.conns[conn.0 as usize]
            .rcv
            .as_mut()
            .expect("receivers read connections with a local receive buffer");
        if rcv.bytes() == 0 {
            self.conns[conn.0 as usize].blocked_reader = Some(id);
            return;
        }
        let mut taken = Vec::new();
        let split = rcv.take(read_size, &mut taken);
        let len: u64 = taken.iter().map(|p| p.len).sum();
        let mut plan = Plan::new();
        plan.cpu(Activity::Syscall, syscall_ns);
        plan.cpu(Activity::Protocol, stack.socket_per_chunk_ns);
        let mtu = self.cfg.link.mtu_bytes;
        let mut offset = 0;
        for (i, p) in taken.iter().enumerate() {
            // A piece cut in two keeps its reference with the tail left in the buffer.
            let whole = !(split && i == taken.len() - 1);
            let dest = buf + offset;
            offset += p.len;
            match mode {
                Receiver::Discard => {}
                Receiver::Flip
                    if whole
                        && flip_fits(self.exts.get(p.ext), p, buf, dest - buf, mtu).is_ok() =>
                {
                    let pfn = self.exts.take_single_page(p.ext);
                    self.vm
                        .flip_page_in(asid, dest, pfn, &mut plan)
                        .expect("the receiver's buffer is mapped writable");
                    self.net.page_flips += 1;
                    continue;
                }
                Receiver::Flip | Receiver::Copy => {
                    if mode == Receiver::Flip {
                        self.net.flip_fallbacks += 1;
                    }
                    self.vm
                        .copyout(asid, dest, p.len, &mut plan)
                        .expect("the receiver's buffer is mapped writable");
                }
            }
            if whole {
                self.unref_ext(p.ext, &mut plan);
            }
        }
        self.app_submit(id, plan, AppCont::Received { len });
    }
}
