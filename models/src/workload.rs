//! The workloads of DESIGN section 7: what the applications do. A workload builds a
//! [`World`] for one strategy (files, connections, applications), or refuses a strategy that
//! does not fit it with a [`DoesNotApply`] naming both.

use sim::{SimDuration, SimTime};

use crate::strategy::{DoesNotApply, HeaderMode, SourceKind, Strategy};
use crate::vm::PAGE_SIZE;
use crate::world::{
    AppSpec, Mutation, Receiver, Requests, SendSource, SenderSpec, World, WorldConfig,
};

/// Where a bulk sender's data comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkSource {
    /// A reused buffer in memory.
    Memory,
    /// A file of `file_bytes` (requests cycle over it), cached unless `cold`.
    File { file_bytes: u64, cold: bool },
}

/// How the file changes in the file-mutation workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutationMode {
    /// Written in place (Linus: "the data changes under you").
    InPlace,
    /// Written to a temp file and renamed over the old name.
    Rename,
}

/// Options that apply to a workload whatever its kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkloadOptions {
    /// `workload.fill_each_write`: the application produces fresh data for every write (it
    /// writes every byte of the request into its buffer just before sending it), as a `zbuf`
    /// application always does. Off, the memory strategies reuse a buffer filled once, and
    /// only `zbuf` pays for producing its data; on, every memory strategy pays alike.
    /// Applies to the workloads that send a private buffer from memory (bulk-send from
    /// memory, rewrite-after-write; the others ignore it); `zbuf` already produces its data in
    /// its fill and gets nothing more.
    pub fill_each_write: bool,
}

/// A workload with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Workload {
    /// ttcp / netperf: `total_bytes` in writes of `write_size`.
    BulkSend {
        total_bytes: u64,
        write_size: u64,
        source: BulkSource,
    },
    /// As bulk-send from memory, overwriting `rewrite_bytes` of the buffer as soon as each
    /// `write()` returns (the NetBSD thread's warning).
    RewriteAfterWrite {
        total_bytes: u64,
        write_size: u64,
        rewrite_bytes: u64,
    },
    /// Serving cached pages, stamping `stamp_bytes` (a timestamp) into each page of a write
    /// just before it (Alan Cox's objection).
    StampedPages {
        total_bytes: u64,
        write_size: u64,
        stamp_bytes: u64,
    },
    /// `clients` connections ask for `files` files of `file_bytes` in turn; each response is
    /// a header of `header_bytes` and the first `body_bytes` of the file (the Linux thread).
    FileServer {
        clients: u32,
        files: u32,
        file_bytes: u64,
        body_bytes: u64,
        requests: u64,
        header_bytes: u64,
        header: HeaderMode,
    },
    /// Bulk-send from a file that another process changes every `every` (Linus).
    FileMutation {
        total_bytes: u64,
        write_size: u64,
        file_bytes: u64,
        mode: MutationMode,
        every: SimDuration,
    },
    /// Two files mapped back to back, each write spanning both (David Miller's bug report).
    Straddle { total_bytes: u64, map_bytes: u64 },
    /// A page shared by two processes, sent by one while the other writes it (FreeBSD
    /// thread): the other writes once, either while the kernel holds the page or after.
    SharedPage {
        total_bytes: u64,
        write_while_referenced: bool,
    },
    /// Receiving `total_bytes` in `read_size` reads into a buffer `buffer_offset` bytes off a
    /// page boundary, the remote sending `segment_bytes` per segment (FreeBSD, NetBSD). For
    /// `af-xdp` there is no TCP: the remote is a packet generator, each segment a raw frame
    /// of `segment_bytes` (Ethernet header on, FCS off: what the RX descriptor's length
    /// says), and `read_size` and `buffer_offset` do not apply (the UMEM is the buffer).
    BulkReceive {
        total_bytes: u64,
        read_size: u64,
        buffer_offset: u64,
        segment_bytes: u64,
    },
    /// Reading `total_bytes` of a cached file of `file_bytes` in requests of `read_size`
    /// (cycling over the file), and summing each, with no network: LMbench `bw_file_rd` and
    /// `bw_mmap_rd`. The payload is what the application has read and summed.
    FileRead {
        total_bytes: u64,
        file_bytes: u64,
        read_size: u64,
    },
}

/// Every workload id, in catalogue order.
pub const WORKLOAD_IDS: [&str; 9] = [
    "bulk-send",
    "rewrite-after-write",
    "stamped-pages",
    "file-server",
    "file-mutation",
    "straddle",
    "shared-page",
    "bulk-receive",
    "file-read",
];

const MIB: u64 = 1 << 20;

impl Workload {
    /// Payload bytes the workload moves in all (what a run's progress counts up to): a
    /// response body never runs past its file's end.
    pub fn payload_bytes(&self) -> u64 {
        match *self {
            Workload::BulkSend { total_bytes, .. }
            | Workload::RewriteAfterWrite { total_bytes, .. }
            | Workload::StampedPages { total_bytes, .. }
            | Workload::FileMutation { total_bytes, .. }
            | Workload::Straddle { total_bytes, .. }
            | Workload::SharedPage { total_bytes, .. }
            | Workload::BulkReceive { total_bytes, .. }
            | Workload::FileRead { total_bytes, .. } => total_bytes,
            Workload::FileServer {
                file_bytes,
                body_bytes,
                requests,
                header_bytes,
                ..
            } => requests.saturating_mul(header_bytes + body_bytes.min(file_bytes)),
        }
    }

    /// The workload with its parameters, in one line (table headers, `list`, reports).
    pub fn summary(&self) -> String {
        let h = |b: u64| crate::world::human_bytes(b);
        match self {
            Workload::BulkSend {
                total_bytes,
                write_size,
                source,
            } => {
                let from = match source {
                    BulkSource::Memory => "from memory".to_owned(),
                    BulkSource::File { file_bytes, cold } => format!(
                        "from a {} {} file",
                        h(*file_bytes),
                        if *cold { "cold" } else { "cached" }
                    ),
                };
                format!(
                    "bulk-send: {} in {} writes {from}",
                    h(*total_bytes),
                    h(*write_size)
                )
            }
            Workload::RewriteAfterWrite {
                total_bytes,
                write_size,
                rewrite_bytes,
            } => format!(
                "rewrite-after-write: {} in {} writes, rewriting {} after each",
                h(*total_bytes),
                h(*write_size),
                h(*rewrite_bytes)
            ),
            Workload::StampedPages {
                total_bytes,
                write_size,
                stamp_bytes,
            } => format!(
                "stamped-pages: {} in {} writes, {stamp_bytes} B stamped into each page",
                h(*total_bytes),
                h(*write_size)
            ),
            Workload::FileServer {
                clients,
                files,
                file_bytes,
                body_bytes,
                requests,
                header_bytes,
                header,
            } => format!(
                "file-server: {requests} responses to {clients} clients from {files} files of {}, body {}, header {header_bytes} B by {}",
                h(*file_bytes),
                h(*body_bytes),
                header.id()
            ),
            Workload::FileMutation {
                total_bytes,
                write_size,
                file_bytes,
                mode,
                every,
            } => format!(
                "file-mutation: {} in {} writes from a {} file changed {} every {every}",
                h(*total_bytes),
                h(*write_size),
                h(*file_bytes),
                match mode {
                    MutationMode::InPlace => "in place",
                    MutationMode::Rename => "by rename",
                }
            ),
            Workload::Straddle {
                total_bytes,
                map_bytes,
            } => format!(
                "straddle: {} in writes spanning two {} mappings",
                h(*total_bytes),
                h(*map_bytes)
            ),
            Workload::SharedPage {
                total_bytes,
                write_while_referenced,
            } => format!(
                "shared-page: {} of one shared page, the other process writing it {}",
                h(*total_bytes),
                if *write_while_referenced {
                    "while the kernel holds it"
                } else {
                    "afterwards"
                }
            ),
            Workload::BulkReceive {
                total_bytes,
                read_size,
                buffer_offset,
                segment_bytes,
            } => format!(
                "bulk-receive: {} in {} reads, buffer {buffer_offset} B off a page, {segment_bytes} B segments",
                h(*total_bytes),
                h(*read_size)
            ),
            Workload::FileRead {
                total_bytes,
                file_bytes,
                read_size,
            } => format!(
                "file-read: {} in {} reads of a cached {} file, each summed",
                h(*total_bytes),
                h(*read_size),
                h(*file_bytes)
            ),
        }
    }

    /// The workload with DESIGN's default parameters, by id.
    pub fn default_for(id: &str) -> Option<Workload> {
        Some(match id {
            "bulk-send" => Workload::BulkSend {
                total_bytes: 16 * MIB,
                write_size: 64 << 10,
                source: BulkSource::Memory,
            },
            "rewrite-after-write" => Workload::RewriteAfterWrite {
                total_bytes: 16 * MIB,
                write_size: 64 << 10,
                rewrite_bytes: 64 << 10,
            },
            "stamped-pages" => Workload::StampedPages {
                total_bytes: 16 * MIB,
                write_size: 64 << 10,
                stamp_bytes: 16,
            },
            "file-server" => Workload::FileServer {
                clients: 8,
                files: 64,
                file_bytes: 256 << 10,
                body_bytes: 256 << 10,
                requests: 256,
                header_bytes: 200,
                header: HeaderMode::SeparateWrite,
            },
            "file-mutation" => Workload::FileMutation {
                total_bytes: 16 * MIB,
                write_size: 64 << 10,
                file_bytes: MIB,
                mode: MutationMode::InPlace,
                every: SimDuration::from_millis(1),
            },
            "straddle" => Workload::Straddle {
                total_bytes: 4 * MIB,
                map_bytes: 32 << 10,
            },
            "shared-page" => Workload::SharedPage {
                total_bytes: 4 * MIB,
                write_while_referenced: true,
            },
            "bulk-receive" => Workload::BulkReceive {
                total_bytes: 16 * MIB,
                read_size: 64 << 10,
                buffer_offset: 0,
                segment_bytes: 8192,
            },
            // LMbench's XFERSIZE is 64 KiB; a file that is read 8 times over, so the first
            // pass (the mapping's faults, the buffer's first touch) is a small part.
            "file-read" => Workload::FileRead {
                total_bytes: 64 * MIB,
                file_bytes: 8 * MIB,
                read_size: 64 << 10,
            },
            _ => return None,
        })
    }

    pub fn id(&self) -> &'static str {
        match self {
            Workload::BulkSend { .. } => "bulk-send",
            Workload::RewriteAfterWrite { .. } => "rewrite-after-write",
            Workload::StampedPages { .. } => "stamped-pages",
            Workload::FileServer { .. } => "file-server",
            Workload::FileMutation { .. } => "file-mutation",
            Workload::Straddle { .. } => "straddle",
            Workload::SharedPage { .. } => "shared-page",
            Workload::BulkReceive { .. } => "bulk-receive",
            Workload::FileRead { .. } => "file-read",
        }
    }

    /// One line on what the application does.
    pub fn describe(&self) -> &'static str {
        match self {
            Workload::BulkSend { .. } => {
                "sends a total in fixed-size writes from a reused buffer or a file (ttcp, netperf)"
            }
            Workload::RewriteAfterWrite { .. } => {
                "as bulk-send, but overwrites its buffer as soon as each write() returns (NetBSD thread)"
            }
            Workload::StampedPages { .. } => {
                "serves cached pages, writing a small timestamp into each before write() (Alan Cox)"
            }
            Workload::FileServer { .. } => {
                "clients request files; each response is a header and a body (the Linux thread)"
            }
            Workload::FileMutation { .. } => {
                "another process changes the file while it is sent, in place or by rename (Linus)"
            }
            Workload::Straddle { .. } => {
                "two files mapped back to back, one write() spanning both (David Miller)"
            }
            Workload::SharedPage { .. } => {
                "two processes share a page; one sends it, the other writes it (FreeBSD thread)"
            }
            Workload::BulkReceive { .. } => {
                "receives a total in fixed-size reads into a buffer, aligned or not (FreeBSD, NetBSD)"
            }
            Workload::FileRead { .. } => {
                "reads a cached file with read() or through a mapping and sums it, no network (LMbench)"
            }
        }
    }

    /// Whether the workload can run on a target at all, and why not.
    pub fn check_target(&self, cfg: &WorldConfig) -> Result<(), String> {
        if matches!(self, Workload::BulkReceive { .. })
            && cfg.link.kind == crate::net::LinkKind::Loopback
        {
            return Err(
                "bulk-receive needs a remote sender on a wire; this target's link is loopback"
                    .into(),
            );
        }
        Ok(())
    }

    /// Why the link cannot carry this workload for `strategy`, if it cannot: an AF_XDP raw
    /// frame is at most the MTU and the Ethernet header (the FCS is not counted).
    pub fn link_misfit(
        &self,
        strategy: &Strategy,
        link: &crate::net::LinkConfig,
    ) -> Option<String> {
        let Workload::BulkReceive { segment_bytes, .. } = self else {
            return None;
        };
        let largest = link.mtu_bytes + crate::net::ETHER_HEADER;
        (matches!(strategy, Strategy::AfXdp(_)) && *segment_bytes > largest).then(|| {
            format!(
                "a {segment_bytes}-byte frame does not fit the link: at most {largest} bytes (target.mtu_bytes = {} plus the {}-byte Ethernet header)",
                link.mtu_bytes,
                crate::net::ETHER_HEADER
            )
        })
    }

    /// Whether `strategy` fits this workload, and why not.
    pub fn check(&self, strategy: &Strategy) -> Result<(), DoesNotApply> {
        let src = strategy.source();
        let refuse = |reason: String| {
            Err(DoesNotApply {
                strategy: strategy.id(),
                workload: self.id(),
                reason,
            })
        };
        // Reading a file locally is its own workload, and it has no socket to send to.
        let local = matches!(self, Workload::FileRead { .. });
        if (src == SourceKind::LocalFile) != local {
            return refuse(if local {
                "file-read has no socket: only read and mmap-read apply".into()
            } else {
                "it reads a file locally, with no socket; it applies to file-read only".into()
            });
        }

        let wants = match self {
            Workload::BulkSend { source, .. } => match source {
                BulkSource::Memory => vec![SourceKind::Memory],
                BulkSource::File { .. } => vec![SourceKind::File],
            },
            Workload::RewriteAfterWrite { .. } => vec![SourceKind::Memory],
            Workload::FileServer { .. } | Workload::FileMutation { .. } => vec![SourceKind::File],
            Workload::BulkReceive {
                segment_bytes,
                buffer_offset,
                ..
            } => {
                // An AF_XDP socket takes each segment as one raw frame, which must fit a chunk,
                // and its buffer is the UMEM, whose chunks start where they start.
                if let Strategy::AfXdp(o) = strategy {
                    if let Some(reason) = o.frame_misfit(*segment_bytes) {
                        return refuse(reason);
                    }
                    if *buffer_offset != 0 {
                        return refuse(format!(
                            "its frames land in UMEM chunks, not a read buffer: buffer_offset = {buffer_offset} does not apply (0 only)"
                        ));
                    }
                }
                // devmem TCP's payload lands in the dmabuf; the reader gets tokens, no bytes.
                if matches!(strategy, Strategy::DevmemTcp(_)) && *buffer_offset != 0 {
                    return refuse(format!(
                        "its payload lands in device memory and the reader gets tokens, not bytes in a read buffer: buffer_offset = {buffer_offset} does not apply (0 only)"
                    ));
                }
                vec![SourceKind::Receive]
            }
            Workload::FileRead { .. } => vec![SourceKind::LocalFile],
            Workload::StampedPages { .. } => {
                if src == SourceKind::Memory || strategy.maps_file() {
                    return Ok(());
                }
                return refuse(
                    "stamping a page needs the data in the sender's memory (a buffer or a mapping); \
                     this strategy sends from the file itself, so a stamp would change the file"
                        .into(),
                );
            }
            Workload::Straddle { .. } => {
                if strategy.maps_file() {
                    return Ok(());
                }
                return refuse("the straddle is a write() from two adjacent file mappings".into());
            }
            Workload::SharedPage { .. } => {
                if matches!(
                    strategy,
                    Strategy::Copy | Strategy::PageLoan(_) | Strategy::CowSend(_)
                ) {
                    return Ok(());
                }
                return refuse("the shared page is sent with write() from a mapping of it".into());
            }
        };
        if wants.contains(&src) {
            Ok(())
        } else {
            let names: Vec<&str> = wants.iter().map(|k| k.name()).collect();
            refuse(format!(
                "it sends from {} but this workload's data comes from {}",
                src.name(),
                names.join(" or ")
            ))
        }
    }

    /// Bytes each of the workload's sending connections carries, in connection order (for
    /// the local readers a loopback target needs).
    fn bytes_per_conn(&self) -> Vec<u64> {
        match *self {
            Workload::BulkSend { total_bytes, .. }
            | Workload::RewriteAfterWrite { total_bytes, .. }
            | Workload::StampedPages { total_bytes, .. }
            | Workload::FileMutation { total_bytes, .. }
            | Workload::Straddle { total_bytes, .. }
            | Workload::SharedPage { total_bytes, .. } => vec![total_bytes],
            Workload::FileServer {
                clients,
                file_bytes,
                body_bytes,
                requests,
                header_bytes,
                ..
            } => {
                let clients = u64::from(clients.max(1));
                let each = header_bytes + body_bytes.min(file_bytes);
                (0..clients)
                    .map(|c| (requests / clients + u64::from(c < requests % clients)) * each)
                    .collect()
            }
            Workload::BulkReceive { .. } | Workload::FileRead { .. } => Vec::new(),
        }
    }

    /// Builds the world: files, connections and applications, ready to run. On a loopback
    /// target each sending connection also gets a local reader that `recv()`s (copies) what
    /// arrives, as the client of a loopback benchmark does; it competes for the same CPU and
    /// bus.
    pub fn build(&self, cfg: &WorldConfig, strategy: Strategy) -> Result<World, DoesNotApply> {
        self.build_with(cfg, strategy, WorkloadOptions::default())
    }

    /// [`Workload::build`] with workload-wide options (`workload.fill_each_write`).
    pub fn build_with(
        &self,
        cfg: &WorldConfig,
        strategy: Strategy,
        opts: WorkloadOptions,
    ) -> Result<World, DoesNotApply> {
        let mut w = self.build_senders(cfg, strategy, opts)?;
        if cfg.link.kind == crate::net::LinkKind::Loopback {
            for (i, bytes) in self.bytes_per_conn().into_iter().enumerate() {
                if bytes > 0 {
                    w.add_app(AppSpec::Receiver {
                        conn: crate::world::ConnId(i as u32),
                        total_bytes: bytes,
                        read_size: 64 << 10,
                        receiver: Receiver::Copy,
                        buffer_offset: 0,
                    });
                }
            }
        }
        Ok(w)
    }

    fn build_senders(
        &self,
        cfg: &WorldConfig,
        strategy: Strategy,
        opts: WorkloadOptions,
    ) -> Result<World, DoesNotApply> {
        self.check(&strategy)?;
        if let Err(reason) = self.check_target(cfg) {
            return Err(DoesNotApply {
                strategy: strategy.id(),
                workload: self.id(),
                reason,
            });
        }
        let mut w = World::new(cfg.clone());
        // fill_each_write: the application writes every request into its buffer just before
        // sending it. Only the workloads that send a private buffer from memory take it
        // (bulk-send from memory, rewrite-after-write); zbuf produces its data in its fill.
        let fresh = opts.fill_each_write && strategy != Strategy::Zbuf;
        let sender = |conns, source: SendSource, requests| SenderSpec {
            strategy,
            conns,
            stamp_bytes: 0,
            fill_each_write: false,
            source,
            requests,
            rewrite_bytes: 0,
        };
        match *self {
            Workload::BulkSend {
                total_bytes,
                write_size,
                source,
            } => {
                let conn = w.open_conn();
                let source = match source {
                    BulkSource::Memory => SendSource::Memory {
                        buffer_bytes: write_size * strategy.buffers_cycled(),
                        shared_file: None,
                    },
                    BulkSource::File { file_bytes, cold } => SendSource::Files {
                        files: vec![w.create_named_file(file_bytes, false)],
                    }
                    .warm_unless(&mut w, cold),
                };
                let mut s = sender(
                    vec![conn],
                    source,
                    Requests::Bulk {
                        total_bytes,
                        write_size,
                    },
                );
                s.fill_each_write = fresh && matches!(s.source, SendSource::Memory { .. });
                w.add_app(AppSpec::Sender(s));
            }
            Workload::RewriteAfterWrite {
                total_bytes,
                write_size,
                rewrite_bytes,
            } => {
                let conn = w.open_conn();
                let mut s = sender(
                    vec![conn],
                    SendSource::Memory {
                        buffer_bytes: write_size * strategy.buffers_cycled(),
                        shared_file: None,
                    },
                    Requests::Bulk {
                        total_bytes,
                        write_size,
                    },
                );
                s.rewrite_bytes = rewrite_bytes;
                s.fill_each_write = fresh;
                w.add_app(AppSpec::Sender(s));
            }
            Workload::StampedPages {
                total_bytes,
                write_size,
                stamp_bytes,
            } => {
                let conn = w.open_conn();
                let source = if strategy.maps_file() {
                    SendSource::Files {
                        files: vec![w.create_named_file(write_size.max(PAGE_SIZE), false)],
                    }
                    .warm_unless(&mut w, false)
                } else {
                    SendSource::Memory {
                        buffer_bytes: write_size,
                        shared_file: None,
                    }
                };
                let mut s = sender(
                    vec![conn],
                    source,
                    Requests::Bulk {
                        total_bytes,
                        write_size,
                    },
                );
                s.stamp_bytes = stamp_bytes;
                w.add_app(AppSpec::Sender(s));
            }
            Workload::FileServer {
                clients,
                files,
                file_bytes,
                body_bytes,
                requests,
                header_bytes,
                header,
            } => {
                let conns = (0..clients.max(1)).map(|_| w.open_conn()).collect();
                let names = (0..files.max(1))
                    .map(|_| w.create_named_file(file_bytes, false))
                    .collect();
                let source = SendSource::Files { files: names }.warm_unless(&mut w, false);
                w.add_app(AppSpec::Sender(sender(
                    conns,
                    source,
                    Requests::Responses {
                        count: requests,
                        header_bytes,
                        header,
                        body_bytes: body_bytes.min(file_bytes),
                    },
                )));
            }
            Workload::FileMutation {
                total_bytes,
                write_size,
                file_bytes,
                mode,
                every,
            } => {
                let conn = w.open_conn();
                let name = w.create_named_file(file_bytes, true);
                w.add_app(AppSpec::Sender(sender(
                    vec![conn],
                    SendSource::Files { files: vec![name] },
                    Requests::Bulk {
                        total_bytes,
                        write_size,
                    },
                )));
                let mutation = match mode {
                    MutationMode::InPlace => Mutation::InPlace { bytes_per_page: 16 },
                    MutationMode::Rename => Mutation::Rename,
                };
                w.add_app(AppSpec::Mutator {
                    file: name,
                    mutation,
                    every,
                });
            }
            Workload::Straddle {
                total_bytes,
                map_bytes,
            } => {
                let conn = w.open_conn();
                let map_bytes = map_bytes.div_ceil(PAGE_SIZE).max(1) * PAGE_SIZE;
                // The first file is twice its mapping, so the bug reads its next bytes rather
                // than running past its end.
                let first = w.create_named_file(2 * map_bytes, true);
                let second = w.create_named_file(map_bytes, true);
                w.add_app(AppSpec::Sender(sender(
                    vec![conn],
                    SendSource::Straddle {
                        first,
                        second,
                        map_bytes,
                    },
                    Requests::Bulk {
                        total_bytes,
                        write_size: 2 * map_bytes,
                    },
                )));
            }
            Workload::SharedPage {
                total_bytes,
                write_while_referenced,
            } => {
                let conn = w.open_conn();
                let page = w.create_named_file(PAGE_SIZE, true);
                w.add_app(AppSpec::Sender(sender(
                    vec![conn],
                    SendSource::Memory {
                        buffer_bytes: PAGE_SIZE,
                        shared_file: Some(page),
                    },
                    Requests::Bulk {
                        total_bytes,
                        write_size: PAGE_SIZE,
                    },
                )));
                // While referenced: early in the transfer, with the page in flight. After: once
                // the sender is done and every page is back.
                let at = write_while_referenced.then(|| SimTime::from_nanos(200_000));
                w.add_app(AppSpec::Writer {
                    file: page,
                    at,
                    bytes: 8,
                });
            }
            Workload::FileRead {
                total_bytes,
                file_bytes,
                read_size,
            } => {
                let source = SendSource::Files {
                    files: vec![w.create_named_file(file_bytes, false)],
                }
                .warm_unless(&mut w, false);
                w.add_app(AppSpec::Sender(sender(
                    Vec::new(),
                    source,
                    Requests::Bulk {
                        total_bytes,
                        write_size: read_size,
                    },
                )));
            }
            Workload::BulkReceive {
                total_bytes,
                read_size,
                buffer_offset,
                segment_bytes,
            } => {
                if let Some(reason) = crate::strategy::target_misfit(&strategy, &cfg.nic) {
                    return Err(DoesNotApply {
                        strategy: strategy.id(),
                        workload: self.id(),
                        reason: reason.into(),
                    });
                }
                if let Some(reason) = crate::strategy::machine_misfit(&strategy, &cfg.machine) {
                    return Err(DoesNotApply {
                        strategy: strategy.id(),
                        workload: self.id(),
                        reason,
                    });
                }
                if let Some(reason) = self.link_misfit(&strategy, &cfg.link) {
                    return Err(DoesNotApply {
                        strategy: strategy.id(),
                        workload: self.id(),
                        reason,
                    });
                }
                if let Strategy::AfXdp(o) = strategy {
                    // No TCP: a packet generator sends raw frames of `segment` bytes to the
                    // socket; the connection is only the receiver's slot.
                    let conn = w.open_conn();
                    let app = w.add_app(AppSpec::Receiver {
                        conn,
                        total_bytes,
                        read_size,
                        receiver: Receiver::Xsk(o),
                        buffer_offset,
                    });
                    w.open_xsk_flow(app, total_bytes, segment_bytes);
                    return Ok(w);
                }
                let conn = w.open_incoming(total_bytes, segment_bytes);
                let receiver = strategy.receiver().unwrap_or(Receiver::Copy);
                w.add_app(AppSpec::Receiver {
                    conn,
                    total_bytes,
                    read_size,
                    receiver,
                    buffer_offset,
                });
            }
        }
        Ok(w)
    }
}

impl SendSource {
    /// Marks the source's files warm (lazily cached) unless `cold`.
    fn warm_unless(self, w: &mut World, cold: bool) -> SendSource {
        if !cold && let SendSource::Files { files } = &self {
            for &name in files {
                let file = w.file_of(name);
                w.vm_mut().set_warm(file);
            }
        }
        self
    }
}
