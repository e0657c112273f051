//! Applications: user threads that make system calls.
//!
//! - A **sender** runs its strategy's ops for one request after another (see `sender.rs`).
//! - A **receiver** loops over `recv()` calls, blocking while the receive buffer is empty.
//! - A **mutator** changes a file while it is being sent, in place or by writing a new file
//!   and renaming it over the old one.
//! - A **writer** writes into a page it shares with a sender, once, at a given time.

use sim::{SimDuration, SimTime};

use super::sender::SenderState;
use super::{ConnId, Cont, Event, World};
use crate::machine::{Activity, Plan, ThreadId};
use crate::strategy::{HeaderMode, Strategy};
use crate::vm::{AsId, FileId, MmapRequest, PAGE_SIZE};

/// An application, numbered from a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppId(pub u32);

/// A name under which a file can be opened; a rename puts a new file under the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileName(pub u32);

/// Where a sender's bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendSource {
    /// A buffer of `buffer_bytes` in the sender's memory, filled once and sent over and over.
    /// With `shared_file`, the buffer is a `MAP_SHARED` mapping of that file (which another
    /// process may map too) instead of anonymous memory.
    Memory {
        buffer_bytes: u64,
        shared_file: Option<FileName>,
    },
    /// Files, sent one after another (requests cycle over them).
    Files { files: Vec<FileName> },
    /// Two files mapped back to back, `map_bytes` of each; every request writes from the
    /// start of the first mapping across into the second (Miller's straddle).
    Straddle {
        first: FileName,
        second: FileName,
        map_bytes: u64,
    },
}

/// What a sender's requests are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requests {
    /// `total_bytes` in `write()`s of `write_size`, on one connection.
    Bulk { total_bytes: u64, write_size: u64 },
    /// `count` responses, each a header and the first `body_bytes` of the next file,
    /// round-robin over the connections; a connection gets its next response once the
    /// previous one is acknowledged (its client asked again).
    Responses {
        count: u64,
        header_bytes: u64,
        header: HeaderMode,
        body_bytes: u64,
    },
}

/// A sending application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderSpec {
    pub strategy: Strategy,
    pub conns: Vec<ConnId>,
    pub source: SendSource,
    pub requests: Requests,
    /// Bytes of the source the application overwrites as soon as each request returns.
    pub rewrite_bytes: u64,
    /// Bytes the application writes into each page of a request's data just before it.
    pub stamp_bytes: u64,
    /// `workload.fill_each_write`: the application writes every byte of each request into its
    /// buffer just before sending it (fresh data for every write, as a `zbuf` application
    /// does), charged as application writes and counted as data pages built.
    pub fill_each_write: bool,
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
    /// moved into the reader's buffer instead of copied when [`crate::strategy::flip_fits`] says it can be;
    /// anything else is copied.
    Flip,
    /// Linux `TCP_ZEROCOPY_RECEIVE`: the `tcp-zerocopy-receive` room maps whole received
    /// pages into a VMA of the socket and copies the rest.
    ZeroCopyMap(crate::strategy::TcpZcOptions),
    /// io_uring zero-copy receive: the `io-uring-zcrx` room completes payload the NIC put in
    /// the reader's registered area.
    Zcrx(crate::strategy::ZcrxOptions),
    /// An AF_XDP socket: the `af-xdp` room takes raw frames off its RX ring (`world::xsk`);
    /// its connection carries nothing.
    Xsk(crate::strategy::XskOptions),
    /// Linux devmem TCP: the `devmem-tcp` room hands out tokens for payload the NIC put in
    /// the dmabuf, and returns them with `SO_DEVMEM_DONTNEED`.
    Devmem(crate::strategy::DevmemOptions),
}

/// How a mutator changes its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// `write()` `bytes` at the start of each page of the file, in place.
    InPlace { bytes_per_page: u64 },
    /// Write a whole new file and `rename()` it over the old name.
    Rename,
}

/// What an application does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppSpec {
    Sender(SenderSpec),
    Receiver {
        conn: ConnId,
        total_bytes: u64,
        read_size: u64,
        receiver: Receiver,
        /// Where the buffer starts relative to a page boundary (0 = page-aligned).
        buffer_offset: u64,
    },
    /// Changes `file` every `every` until the senders are done.
    Mutator {
        file: FileName,
        mutation: Mutation,
        every: SimDuration,
    },
    /// Maps `file` shared and writes `bytes` at its start at time `at`, or, with `None`, once
    /// the senders are done and all their data is acknowledged.
    Writer {
        file: FileName,
        at: Option<SimTime>,
        bytes: u64,
    },
}

#[derive(Debug)]
pub(super) struct ReceiverState {
    mode: Receiver,
    buffer_offset: u64,
    conn: ConnId,
    total: u64,
    read_size: u64,
    buf: u64,
    received: u64,
    /// A zero-copy receiver's state between calls.
    call: crate::strategy::RxCall,
}

impl ReceiverState {
    pub(super) fn conn(&self) -> ConnId {
        self.conn
    }
}

#[derive(Debug)]
pub(super) struct MutatorState {
    file: FileName,
    mutation: Mutation,
    every: SimDuration,
}

#[derive(Debug)]
pub(super) struct WriterState {
    file: FileName,
    at: Option<SimTime>,
    bytes: u64,
    addr: Option<u64>,
}

#[derive(Debug)]
pub(super) enum Role {
    Sender(Box<SenderState>),
    Receiver(ReceiverState),
    Mutator(MutatorState),
    Writer(WriterState),
}

#[derive(Debug)]
pub(super) struct App {
    pub(super) thread: ThreadId,
    pub(super) asid: AsId,
    pub(super) role: Role,
    pub(super) done: bool,
}

impl World {
    /// Creates a file of `size_bytes` under a new name, warm in the page cache if `warm`.
    pub fn create_named_file(&mut self, size_bytes: u64, warm: bool) -> FileName {
        let file = self.vm.create_file(size_bytes);
        if warm {
            self.vm.warm_file(file);
        }
        let name = FileName(self.file_names.len() as u32);
        self.file_names.push(file);
        name
    }

    /// The file currently under `name`.
    pub fn file_of(&self, name: FileName) -> FileId {
        self.file_names[name.0 as usize]
    }

    /// Adds an application; it starts at the current time.
    pub fn add_app(&mut self, spec: AppSpec) -> AppId {
        let id = AppId(self.apps.len() as u32);
        let asid = self.vm.new_address_space();
        // TUX's workers are kernel threads: no address space of their own to switch.
        let kernel_thread =
            matches!(&spec, AppSpec::Sender(s) if s.strategy == Strategy::KernelServer);
        let role = match spec {
            AppSpec::Sender(s) => Role::Sender(Box::new(SenderState::new(s))),
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
                    buffer_offset: buffer_offset % PAGE_SIZE,
                    conn,
                    total: total_bytes,
                    read_size,
                    buf: 0,
                    received: 0,
                    call: crate::strategy::RxCall::default(),
                })
            }
            AppSpec::Mutator {
                file,
                mutation,
                every,
            } => Role::Mutator(MutatorState {
                file,
                mutation,
                every,
            }),
            AppSpec::Writer { file, at, bytes } => Role::Writer(WriterState {
                file,
                at,
                bytes,
                addr: None,
            }),
        };
        let thread = ThreadId(super::FIRST_APP_THREAD + id.0);
        if kernel_thread {
            self.machine.set_kernel_thread(thread);
        }
        self.apps.push(App {
            thread,
            asid,
            role,
            done: false,
        });
        let start = match &self.apps[id.0 as usize].role {
            Role::Mutator(m) => self.now() + m.every,
            Role::Writer(w) => w.at.unwrap_or(SimTime::ZERO).max(self.now()),
            _ => self.now(),
        };
        self.queue.schedule_at(start, Event::AppTimer { app: id });
        id
    }

    /// Whether every sender and receiver has finished (mutators and writers never hold a run
    /// open).
    pub fn apps_done(&self) -> bool {
        self.apps
            .iter()
            .all(|a| a.done || matches!(a.role, Role::Mutator(_) | Role::Writer(_)))
    }

    fn senders_done(&self) -> bool {
        self.apps
            .iter()
            .all(|a| a.done || !matches!(a.role, Role::Sender(_)))
    }

    /// Requests that failed (an `mmap` that did not fit), over all senders, plus applications
    /// that could not map their memory at all.
    pub fn failed_requests(&self) -> u64 {
        self.failed_setups
            + self
                .apps
                .iter()
                .map(|a| match &a.role {
                    Role::Sender(s) => s.failed_requests,
                    _ => 0,
                })
                .sum::<u64>()
    }

    /// An application's setup `mmap`. If it does not fit the address space (a simulated
    /// failure), the application is counted as failed and finished, and `None` comes back.
    pub(super) fn setup_map(
        &mut self,
        id: AppId,
        asid: AsId,
        req: MmapRequest,
        plan: &mut Plan,
    ) -> Option<u64> {
        match self.vm.mmap(asid, req, plan) {
            Ok(addr) => Some(addr),
            Err(e) => {
                self.failed_setups += 1;
                self.apps[id.0 as usize].done = true;
                if self.narrating() {
                    self.narrate(format_args!(
                        "app {} cannot map its memory ({e:?}) and gives up",
                        id.0
                    ));
                }
                None
            }
        }
    }

    pub(super) fn app_timer(&mut self, id: AppId) {
        let a = &self.apps[id.0 as usize];
        match &a.role {
            Role::Sender(_) => self.sender_start(id),
            Role::Receiver(_) => self.receiver_start(id),
            Role::Mutator(_) => self.mutate(id),
            Role::Writer(_) => self.shared_write(id),
        }
    }

    pub(super) fn app_submit(&mut self, id: AppId, plan: Plan, cont: Cont) {
        let thread = self.apps[id.0 as usize].thread;
        self.submit(thread, plan, cont);
    }

    /// A `recv()` of `len` bytes finished: the window opened, the reader goes on.
    pub(super) fn received(&mut self, id: AppId, len: u64) {
        let Role::Receiver(r) = &mut self.apps[id.0 as usize].role else {
            unreachable!("only receivers receive")
        };
        r.received += len;
        let conn = r.conn;
        self.last_recv = self.now();
        // On loopback the reader's copy can drop the last reference to a sender's storage (a
        // zero-copy send completes, a loan ends). No ACK or TX completion follows to wake a
        // writer asleep on it, so it wakes here, as the completion's wake-up does in Linux
        // (sock_def_error_report for MSG_ZEROCOPY, the CQE's wake for io_uring).
        if std::mem::take(&mut self.lend_returned) {
            for i in 0..self.conns.len() as u32 {
                self.wake_writer(ConnId(i));
            }
        }
        // The call's SO_DEVMEM_DONTNEED has ended: its buffers can take frames again.
        self.rx_buffers_returned();
        self.after_read(conn);
        self.app_next(id);
    }

    /// An application finished reading and summing `len` bytes of a file it reads locally:
    /// they are payload, moved now.
    pub(super) fn consumed(&mut self, id: AppId, len: u64) {
        self.consumed_bytes += len;
        self.last_recv = self.now();
        self.app_next(id);
    }

    /// A blocked application may go on.
    pub(super) fn app_wake(&mut self, id: AppId) {
        self.wakeups += 1;
        self.app_next(id);
    }

    pub(super) fn app_next(&mut self, id: AppId) {
        match self.apps[id.0 as usize].role {
            Role::Sender(_) => self.sender_next(id),
            Role::Receiver(_) => self.receiver_next(id),
            Role::Mutator(_) | Role::Writer(_) => {}
        }
    }

    // ----- receiver ---------------------------------------------------------------------------

    fn receiver_start(&mut self, id: AppId) {
        let a = &self.apps[id.0 as usize];
        let asid = a.asid;
        let Role::Receiver(r) = &a.role else {
            unreachable!()
        };
        if let Receiver::Xsk(o) = r.mode {
            // The UMEM is its buffer.
            self.xsk_start(id, o);
            return;
        }
        let (len, skew) = (r.read_size + r.buffer_offset, r.buffer_offset);
        let mut plan = self.new_plan();
        let Some(addr) = self.setup_map(id, asid, MmapRequest::anon(len).writable(), &mut plan)
        else {
            return;
        };
        self.vm
            .user_write(asid, addr, len, &mut plan)
            .expect("buffer was just mapped writable");
        let Role::Receiver(r) = &mut self.apps[id.0 as usize].role else {
            unreachable!()
        };
        r.buf = addr + skew;
        let (mode, conn, read_size) = (r.mode, r.conn, r.read_size);
        let mut call = std::mem::take(&mut r.call);
        let mut k = super::kernel::Kernel::for_work(self, Some(id), &mut plan);
        if !crate::strategy::receive_setup(&mut k, mode, conn, read_size, &mut call) {
            self.failed_setups += 1;
            self.apps[id.0 as usize].done = true;
            return;
        }
        let Role::Receiver(r) = &mut self.apps[id.0 as usize].role else {
            unreachable!()
        };
        r.call = call;
        self.app_submit(id, plan, Cont::AppStarted { app: id });
    }

    fn receiver_next(&mut self, id: AppId) {
        let stack = self.cfg.stack;
        let syscall_ns = self.cfg.machine.costs.syscall_ns;
        let a = &mut self.apps[id.0 as usize];
        let Role::Receiver(r) = &mut a.role else {
            unreachable!()
        };
        if r.received == r.total {
            a.done = true;
            return;
        }
        let (conn, read_size, buf, mode) = (r.conn, r.read_size, r.buf, r.mode);
        if let Receiver::Xsk(_) = mode {
            self.xsk_next(id);
            return;
        }
        if !self.reader_ready(id) {
            self.conns[conn.0 as usize].blocked_reader = Some(id);
            return;
        }
        if matches!(
            mode,
            Receiver::ZeroCopyMap(_) | Receiver::Zcrx(_) | Receiver::Devmem(_)
        ) {
            let Role::Receiver(r) = &mut self.apps[id.0 as usize].role else {
                unreachable!()
            };
            let mut call = std::mem::take(&mut r.call);
            let mut plan = self.new_plan();
            let mut k = super::kernel::Kernel::for_work(self, Some(id), &mut plan);
            let step = crate::strategy::receive_call(&mut k, mode, conn, buf, read_size, &mut call);
            let Role::Receiver(r) = &mut self.apps[id.0 as usize].role else {
                unreachable!()
            };
            r.call = call;
            match step {
                crate::strategy::RxStep::Received(len) => {
                    self.app_submit(id, plan, Cont::Received { app: id, len })
                }
                crate::strategy::RxStep::Wait => {
                    self.conns[conn.0 as usize].blocked_reader = Some(id);
                }
            }
            return;
        }
        let rcv = self.conns[conn.0 as usize]
            .rcv
            .as_mut()
            .expect("receivers read connections with a local receive buffer");
        let mut taken = Vec::new();
        let split = rcv.take(read_size, &mut taken);
        let len: u64 = taken.iter().map(|p| p.len).sum();
        let mut plan = self.new_plan();
        plan.cpu(Activity::Syscall, syscall_ns);
        self.syscalls += 1;
        plan.cpu(Activity::Protocol, stack.socket_per_chunk_ns);
        let mut offset = 0;
        let mut k = super::kernel::Kernel::for_work(self, Some(id), &mut plan);
        for (i, p) in taken.iter().enumerate() {
            // A piece cut in two keeps its reference with the tail left in the buffer.
            let whole = !(split && i == taken.len() - 1);
            let dest = buf + offset;
            offset += p.len;
            crate::strategy::receive(&mut k, mode, p, buf, dest, whole);
        }
        self.app_submit(id, plan, Cont::Received { app: id, len });
    }

    /// Whether receiver `id` has enough waiting to be woken: any byte, or its `SO_RCVLOWAT`.
    pub(super) fn reader_ready(&self, id: AppId) -> bool {
        let Role::Receiver(r) = &self.apps[id.0 as usize].role else {
            unreachable!("only receivers read")
        };
        let rcv = self.conns[r.conn.0 as usize]
            .rcv
            .as_ref()
            .expect("receivers read connections with a local receive buffer");
        let lowat = crate::strategy::receive_lowat(
            r.mode,
            &r.call,
            r.read_size,
            rcv.hiwat(),
            r.total - r.received,
        );
        rcv.bytes() >= lowat
    }

    // ----- mutator and shared-page writer -----------------------------------------------------

    /// Another process changes the file: `write()` into each page in place, or a new file
    /// renamed over the old name. Repeats until the senders are done.
    fn mutate(&mut self, id: AppId) {
        if self.senders_done() {
            return;
        }
        let a = &self.apps[id.0 as usize];
        let Role::Mutator(m) = &a.role else {
            unreachable!()
        };
        let (name, mutation, every) = (m.file, m.mutation, m.every);
        let file = self.file_of(name);
        let mut plan = self.new_plan();
        match mutation {
            Mutation::InPlace { bytes_per_page } => {
                for page in 0..self.vm.file(file).pages() {
                    self.vm
                        .write_file_in_place(file, page * PAGE_SIZE, bytes_per_page, &mut plan);
                }
            }
            Mutation::Rename => {
                let new = self.vm.replace_file(file, &mut plan);
                self.file_names[name.0 as usize] = new;
            }
        }
        let thread = self.apps[id.0 as usize].thread;
        if !self.machine.is_busy(thread) {
            self.app_submit(id, plan, Cont::AppWorked { app: id });
        }
        self.queue
            .schedule_at(self.now() + every, Event::AppTimer { app: id });
    }

    /// The other process of the shared-page workload maps the file and writes into it once.
    fn shared_write(&mut self, id: AppId) {
        let a = &self.apps[id.0 as usize];
        let asid = a.asid;
        let Role::Writer(w) = &a.role else {
            unreachable!()
        };
        let (name, bytes, addr) = (w.file, w.bytes, w.addr);
        if w.at.is_none() && !(self.senders_done() && self.acked_bytes() == self.written_bytes()) {
            let later = self.now() + SimDuration::from_micros(100);
            self.queue.schedule_at(later, Event::AppTimer { app: id });
            return;
        }
        let mut plan = self.new_plan();
        let addr = match addr {
            Some(a) => a,
            None => {
                let file = self.file_of(name);
                let size = self.vm.file(file).size_bytes;
                let req = MmapRequest::file(file, size).writable().shared();
                match self.setup_map(id, asid, req, &mut plan) {
                    Some(a) => a,
                    None => return,
                }
            }
        };
        self.vm
            .user_write(asid, addr, bytes, &mut plan)
            .expect("mapped writable");
        let Role::Writer(w) = &mut self.apps[id.0 as usize].role else {
            unreachable!()
        };
        w.addr = Some(addr);
        self.apps[id.0 as usize].done = true;
        self.app_submit(id, plan, Cont::AppWorked { app: id });
    }
}
