//! `sendfile-ktls`: `sendfile` on a kernel-TLS socket (Linux 4.13, 2017; FreeBSD 13,
//! 2020, Netflix).
//!
//! Models Linux 6.6 `net/tls/`: with `TLS_SW` (`tls_sw.c`, `tls_sw_sendmsg_splice`) the
//! page-cache data is encrypted by the CPU into the open record's own buffer, so every byte
//! is read and its ciphertext written (a copy-like pass at the CPU's crypto speed, besides
//! the NIC's read); with `TLS_HW` (`tls_device.c`, `tls_push_data`) the stack still frames
//! records but copies the plaintext into the record's page frags (so a retransmission
//! re-encrypts the same bytes) and the NIC encrypts while it sends; with
//! `TLS_TX_ZEROCOPY_RO` (5.19, device offload only) that copy is skipped and the NIC reads
//! the page cache directly, so a file changed in flight can make a retransmission carry other
//! bytes than the original and fail the record's authentication at the receiver
//! (`Documentation/networking/tls.rst`, `tls-offload.rst`).
//!
//! Simplified: records of `TLS_MAX_PAYLOAD_SIZE` (16 KiB) cost one socket-layer step each;
//! their 5-byte header, 8-byte nonce and 16-byte tag (29 B per 16 KiB, 0.18%) are not carried
//! on the wire. Under `ZEROCOPY_RO` every NIC read of a page is compared with the first read
//! of it: a difference (a retransmission, or the other part of a split page, after the file
//! changed) is counted as a record that fails authentication (`tls_auth_failures`).

use super::{Entry, Explanation, Fill, Kernel, Op, OptionDoc, Request, SourceKind, Strategy};
use crate::machine::{Activity, Step};
use crate::vm::pages_of;
use crate::world::{PathKind, PathNode};

pub(super) const EXPLANATION: Explanation = Explanation {
    id: "sendfile-ktls",
    title: "sendfile() on a kTLS socket: encryption by the CPU or the NIC",
    origin: "Linux 4.13 (2017, Dave Watson et al., Facebook); FreeBSD 13 kTLS (Netflix, 2020); NIC offload in Linux 4.18 (Mellanox), TLS_TX_ZEROCOPY_RO in 5.19",
    source: "Linux 6.6: net/tls/tls_sw.c (tls_sw_sendmsg_splice: encrypt into the record's buffer), net/tls/tls_device.c (tls_push_data: plaintext copied into record frags; skipped with TLS_TX_ZEROCOPY_RO); Documentation/networking/tls.rst, tls-offload.rst",
    steps: &[
        "sendfile(): enter the kernel; each page is found in the page cache (read from disk on a miss)",
        "software kTLS: the CPU encrypts each 16 KiB record from the page cache into a new kernel buffer (a read and a write of every byte on the bus, at the CPU's AES-GCM speed); the NIC then DMAs the ciphertext",
        "NIC offload: the stack frames records and copies the plaintext into the record's frags; the NIC encrypts as it sends, so the CPU does no crypto",
        "NIC offload with TLS_TX_ZEROCOPY_RO: no copy; the NIC reads the page cache directly, as plain sendfile",
        "the buffers (or page references) are freed at the ACK",
    ],
    in_flight: "Software and plain NIC offload: safe once the record is built (the kernel encrypted or copied it). TLS_TX_ZEROCOPY_RO: unsafe as sendfile, and worse: a retransmission re-reads the file, so a change in flight can give the receiver a record whose bytes differ between transmissions and fail authentication.",
};

/// Who encrypts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// `TLS_SW`: the CPU.
    Software,
    /// `TLS_HW`: the NIC.
    NicOffload,
}

/// `sendfile-ktls` options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KtlsOptions {
    pub mode: TlsMode,
    /// `TLS_TX_ZEROCOPY_RO` (NIC offload only): the NIC reads the page cache, no copy.
    pub zerocopy_ro: bool,
}

impl Default for KtlsOptions {
    fn default() -> Self {
        KtlsOptions {
            mode: TlsMode::Software,
            zerocopy_ro: false,
        }
    }
}

/// `TLS_MAX_PAYLOAD_SIZE`.
pub const TLS_RECORD_BYTES: u64 = 16 << 10;

pub(super) const ENTRY: Entry = Entry {
    explanation: &EXPLANATION,
    source: SourceKind::File,
    make: || Strategy::SendfileKtls(KtlsOptions::default()),
    options: &[
        OptionDoc {
            key: "tls_mode",
            what: "\"software\" (the CPU encrypts, TLS_SW) or \"nic-offload\" (the NIC does, TLS_HW)",
            default: "software",
        },
        OptionDoc {
            key: "tls_zerocopy_ro",
            what: "TLS_TX_ZEROCOPY_RO: with NIC offload, sendfile data goes to the NIC without the in-kernel copy",
            default: "false",
        },
    ],
};

pub(super) fn request(r: &Request, o: KtlsOptions, header: Option<u64>, ops: &mut Vec<Op>) {
    ops.push(Op::Syscall);
    super::sends(
        ops,
        header,
        r.len,
        Fill::Ktls {
            off: r.off,
            opts: o,
        },
    );
}

/// `len` bytes at `off` of the file, as records.
pub(super) fn fill(k: &mut Kernel<'_>, off: u64, len: u64, o: KtlsOptions) {
    let file = k.source_file();
    let records = len.div_ceil(TLS_RECORD_BYTES);
    let per_record = k.config().stack.socket_per_chunk_ns;
    k.plan().cpu(Activity::Protocol, per_record * records);
    if o.mode == TlsMode::NicOffload && o.zerocopy_ro {
        let before = k.filled();
        super::sendfile::cache_ref(k, file, off, len, None);
        for e in k.filled_since(before) {
            k.zc().track_tls_ro(e);
        }
        return;
    }
    let (vm, plan) = k.vm();
    for index in pages_of(off, len) {
        vm.cache_page(file, index, plan);
    }
    match o.mode {
        TlsMode::Software => {
            k.plan().push(Step::Encrypt { bytes: len });
            if k.narrating() {
                k.narrate(format_args!(
                    "kTLS (software): {records} records, {len} B encrypted by the CPU from the page cache into a new buffer"
                ));
            }
        }
        TlsMode::NicOffload => {
            k.plan().copy(len);
            if k.narrating() {
                k.narrate(format_args!(
                    "kTLS (NIC offload): {records} records framed, {len} B of plaintext copied into their frags; the NIC encrypts"
                ));
            }
        }
    }
    k.attach_clusters(len);
    k.path(
        PathNode::PageCache,
        PathNode::SocketBuffer,
        PathKind::CpuCopy,
        len,
    );
}
