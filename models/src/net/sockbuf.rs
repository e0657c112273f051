//! Socket buffers (`struct sockbuf`).
//!
//! The send buffer holds every byte from the oldest unacknowledged one (`snd_una`) to the
//! newest written, as records that each own one reference to an external storage. Sending a
//! segment never removes data: the packet takes references of its own (`m_copy`), so a
//! retransmission takes references again instead of copying. An ACK drops the acknowledged
//! prefix (`sbdrop`), and records fully acknowledged give their references back.

use std::cell::Cell;
use std::collections::VecDeque;

use super::mbuf::ExtId;

/// A run of bytes in one external storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub ext: ExtId,
    /// Offset into the storage's payload.
    pub off: u64,
    pub len: u64,
}

/// The send side.
///
/// Invariants: `bytes` is the sum of the records' lengths less `head_consumed`;
/// `head_consumed` is less than the first record's length (an exhausted record is removed);
/// the cursor names a record and the sum of the lengths of the records before it.
#[derive(Clone, Debug)]
pub struct SendBuffer {
    records: VecDeque<Piece>,
    head_consumed: u64,
    bytes: u64,
    hiwat: u64,
    /// Where the last [`SendBuffer::pieces`] ended: a record's index and its first byte
    /// counted from the first record's start. Segments are cut in order, so the next lookup
    /// starts here instead of walking the whole buffer (which grows with what is unacked).
    cursor: Cell<(usize, u64)>,
}

impl SendBuffer {
    pub fn new(hiwat: u64) -> Self {
        SendBuffer {
            records: VecDeque::new(),
            head_consumed: 0,
            bytes: 0,
            hiwat,
            cursor: Cell::new((0, 0)),
        }
    }

    /// Bytes held (unacknowledged or unsent): `sb_cc`.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn hiwat(&self) -> u64 {
        self.hiwat
    }

    /// Room left below the high-water mark (`sbspace`).
    pub fn space(&self) -> u64 {
        self.hiwat.saturating_sub(self.bytes)
    }

    /// Appends a storage's bytes; the buffer takes over the caller's reference (`sbappend`).
    pub fn append(&mut self, piece: Piece) {
        self.bytes += piece.len;
        self.records.push_back(piece);
    }

    /// The pieces covering `[from, from + len)`, counted from the first unacknowledged byte.
    pub fn pieces(&self, from: u64, len: u64, out: &mut Vec<Piece>) {
        assert!(
            from + len <= self.bytes,
            "asked for bytes {from}..{} of {}",
            from + len,
            self.bytes
        );
        let at = from + self.head_consumed;
        // Resume from the cursor when the range starts at or after it (the next segment);
        // a retransmission from before it walks from the front.
        let (mut i, mut start) = match self.cursor.get() {
            (i, start) if start <= at && i < self.records.len() => (i, start),
            _ => (0, 0),
        };
        let mut want = len;
        while want > 0 {
            let r = &self.records[i];
            let skip = at.max(start) - start;
            if skip < r.len {
                let take = (r.len - skip).min(want);
                out.push(Piece {
                    ext: r.ext,
                    off: r.off + skip,
                    len: take,
                });
                want -= take;
                if skip + take < r.len {
                    break; // the next segment starts in this record
                }
            }
            start += r.len;
            i += 1;
            if i == self.records.len() {
                break;
            }
        }
        if i < self.records.len() {
            self.cursor.set((i, start));
        } else {
            self.cursor.set((0, 0));
        }
    }

    /// Drops the first `n` bytes (acknowledged), appending the storages whose records are now
    /// fully consumed to `released`: the caller drops those references.
    pub fn drop_front(&mut self, n: u64, released: &mut Vec<ExtId>) {
        assert!(n <= self.bytes, "sbdrop of {n} bytes from {}", self.bytes);
        self.bytes -= n;
        let mut left = n + self.head_consumed;
        while let Some(r) = self.records.front() {
            if left < r.len {
                break;
            }
            let gone = r.len;
            left -= gone;
            released.push(r.ext);
            self.records.pop_front();
            // The cursor counts from the first record: move it with the front.
            let (i, start) = self.cursor.get();
            self.cursor.set(if i == 0 {
                (0, 0)
            } else {
                (i - 1, start - gone)
            });
        }
        self.head_consumed = left;
    }

    /// Every storage the buffer references (for invariant checks).
    pub fn exts(&self) -> impl Iterator<Item = ExtId> + '_ {
        self.records.iter().map(|r| r.ext)
    }

    pub fn check_invariants(&self) {
        let total: u64 = self.records.iter().map(|r| r.len).sum();
        assert_eq!(
            total - self.head_consumed,
            self.bytes,
            "send buffer byte count drifted"
        );
        if let Some(r) = self.records.front() {
            assert!(self.head_consumed < r.len, "exhausted record kept");
        } else {
            assert_eq!(self.head_consumed, 0);
        }
        let (i, start) = self.cursor.get();
        let before: u64 = self.records.iter().take(i).map(|r| r.len).sum();
        assert!(
            (i, start) == (0, 0) || (i < self.records.len() && start == before),
            "send buffer cursor ({i}, {start}) is not at a record start ({before})"
        );
    }
}

/// The receive side: received payload waiting for `recv()`, in order.
#[derive(Clone, Debug, Default)]
pub struct RecvBuffer {
    pieces: VecDeque<Piece>,
    bytes: u64,
    hiwat: u64,
}

impl RecvBuffer {
    pub fn new(hiwat: u64) -> Self {
        RecvBuffer {
            pieces: VecDeque::new(),
            bytes: 0,
            hiwat,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Window the receiver can advertise.
    pub fn space(&self) -> u64 {
        self.hiwat.saturating_sub(self.bytes)
    }

    pub fn hiwat(&self) -> u64 {
        self.hiwat
    }

    pub fn append(&mut self, piece: Piece) {
        self.bytes += piece.len;
        self.pieces.push_back(piece);
    }

    /// Takes up to `max` bytes from the front, as pieces; a piece cut in two leaves its tail
    /// (which then needs its own reference: the caller gets `true` for "split", and must take
    /// one on the storage).
    pub fn take(&mut self, max: u64, out: &mut Vec<Piece>) -> bool {
        let mut want = max;
        while want > 0 {
            let Some(p) = self.pieces.front_mut() else {
                break;
            };
            if p.len <= want {
                want -= p.len;
                self.bytes -= p.len;
                out.push(*p);
                self.pieces.pop_front();
            } else {
                out.push(Piece {
                    ext: p.ext,
                    off: p.off,
                    len: want,
                });
                p.off += want;
                p.len -= want;
                self.bytes -= want;
                return true;
            }
        }
        false
    }

    pub fn front(&self) -> Option<&Piece> {
        self.pieces.front()
    }

    /// Every piece waiting, in order.
    pub fn pieces(&self) -> impl Iterator<Item = &Piece> + '_ {
        self.pieces.iter()
    }

    pub fn exts(&self) -> impl Iterator<Item = ExtId> + '_ {
        self.pieces.iter().map(|p| p.ext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(ext: u64, len: u64) -> Piece {
        Piece {
            ext: ExtId(ext),
            off: 0,
            len,
        }
    }

    #[test]
    fn pieces_span_records_and_acks_release_whole_records() {
        // Three 2048-byte clusters; a 1448-byte segment at 1448 spans the first two. Acking
        // 3000 bytes releases only the first record; acking the rest releases the others.
        let mut sb = SendBuffer::new(8192);
        for i in 0..3 {
            sb.append(piece(i, 2048));
        }
        assert_eq!(sb.space(), 8192 - 6144);
        let mut out = Vec::new();
        sb.pieces(1448, 1448, &mut out);
        assert_eq!(
            out,
            vec![
                Piece {
                    ext: ExtId(0),
                    off: 1448,
                    len: 600
                },
                Piece {
                    ext: ExtId(1),
                    off: 0,
                    len: 848
                }
            ]
        );
        let mut released = Vec::new();
        sb.drop_front(3000, &mut released);
        assert_eq!(released, vec![ExtId(0)]);
        sb.check_invariants();
        out.clear();
        sb.pieces(0, 100, &mut out);
        assert_eq!(
            out,
            vec![Piece {
                ext: ExtId(1),
                off: 952,
                len: 100
            }]
        );
        sb.drop_front(3144, &mut released);
        assert_eq!(released, vec![ExtId(0), ExtId(1), ExtId(2)]);
        assert_eq!(sb.bytes(), 0);
        sb.check_invariants();
    }

    /// The pieces of `[from, from + len)` by a walk from the front: what the cursor must
    /// reproduce.
    fn pieces_by_walk(records: &[(u64, u64)], head: u64, from: u64, len: u64) -> Vec<Piece> {
        let (mut skip, mut want, mut out) = (from + head, len, Vec::new());
        for &(ext, rlen) in records {
            if want == 0 {
                break;
            }
            if skip >= rlen {
                skip -= rlen;
                continue;
            }
            let take = (rlen - skip).min(want);
            out.push(Piece {
                ext: ExtId(ext),
                off: skip,
                len: take,
            });
            want -= take;
            skip = 0;
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn the_cursor_finds_what_a_walk_from_the_front_finds(
            ops in proptest::collection::vec((0u8..4, 1u64..5000, 0u64..100), 1..200)
        ) {
            // Appends, in-order segment lookups, retransmissions from anywhere and ACKs, in
            // random order: every lookup must return exactly the pieces a walk from the
            // first record returns, whatever the cursor was left at.
            let mut sb = SendBuffer::new(u64::MAX);
            let mut model: Vec<(u64, u64)> = Vec::new();
            let (mut head, mut next_ext, mut sent) = (0u64, 0u64, 0u64);
            for (op, n, pct) in ops {
                match op {
                    0 => {
                        sb.append(piece(next_ext, n));
                        model.push((next_ext, n));
                        next_ext += 1;
                    }
                    1 | 2 => {
                        let from = if op == 1 { sent.min(sb.bytes()) } else { sb.bytes() * pct / 100 };
                        let len = n.min(sb.bytes() - from);
                        let mut out = Vec::new();
                        sb.pieces(from, len, &mut out);
                        proptest::prop_assert_eq!(out, pieces_by_walk(&model, head, from, len));
                        sent = from + len;
                    }
                    _ => {
                        let n = n.min(sb.bytes());
                        let mut released = Vec::new();
                        sb.drop_front(n, &mut released);
                        let mut left = n + head;
                        while let Some(&(_, rlen)) = model.first() {
                            if left < rlen {
                                break;
                            }
                            left -= rlen;
                            model.remove(0);
                        }
                        head = left;
                        sent = sent.saturating_sub(n);
                    }
                }
                sb.check_invariants();
            }
        }
    }

    #[test]
    fn recv_take_splits_a_piece() {
        let mut rb = RecvBuffer::new(10_000);
        rb.append(piece(7, 1448));
        let mut out = Vec::new();
        assert!(rb.take(1000, &mut out));
        assert_eq!(
            rb.front(),
            Some(&Piece {
                ext: ExtId(7),
                off: 1000,
                len: 448
            })
        );
        assert!(!rb.take(5000, &mut out));
        assert_eq!(rb.bytes(), 0);
    }
}
