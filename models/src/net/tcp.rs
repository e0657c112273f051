//! TCP sequence state for one connection: what the sender may send, and when the (ideal)
//! receiver acknowledges.
//!
//! The sender segments the send buffer to the MSS within the peer's window. A segment that the
//! link loses is retransmitted when its RTO expires, built again from the send buffer (taking
//! references, not copying). The receiver accepts everything, buffers out-of-order segments
//! and acknowledges cumulatively: every `ack_every` in-order segments, immediately on a gap or
//! a segment that fills one, else after the delayed-ACK timer.

use std::collections::BTreeMap;

/// When a segment shorter than the MSS may leave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShortSegments {
    /// Nagle: only with nothing in flight.
    Nagle,
    /// Corked (`TCP_CORK`): never.
    Never,
    /// Just uncorked: the tail goes now.
    Always,
}

/// Sender sequence variables, in bytes from the start of the connection.
///
/// Invariants: `una ≤ nxt ≤ written`; `lost` holds segments in `[una, nxt)`.
#[derive(Clone, Debug, Default)]
pub struct TcpSender {
    /// Oldest unacknowledged byte (`snd_una`).
    pub una: u64,
    /// Next new byte to send (`snd_nxt`, ignoring retransmissions).
    pub nxt: u64,
    /// End of the data written into the send buffer.
    pub written: u64,
    /// Segments lost and awaiting retransmission: seq → len.
    pub lost: BTreeMap<u64, u64>,
}

impl TcpSender {
    /// Bytes sent and not yet acknowledged.
    pub fn in_flight(&self) -> u64 {
        self.nxt - self.una
    }

    /// The next new segment's length within `window` and the MSS, if one may be sent now.
    ///
    /// Under [`ShortSegments::Nagle`], a segment shorter than the MSS goes only if nothing is
    /// in flight and it carries all the data there is (Nagle's algorithm, RFC 896, with BSD's
    /// silly-window avoidance): otherwise the sender waits for more data or for an ACK.
    pub fn next_segment(&self, window: u64, mss: u64, short: ShortSegments) -> Option<u64> {
        let usable = window.saturating_sub(self.in_flight());
        let pending = self.written - self.nxt;
        let len = pending.min(mss).min(usable);
        if len == 0 {
            return None;
        }
        if len < mss {
            let allowed = match short {
                ShortSegments::Never => false,
                ShortSegments::Always => len == pending,
                ShortSegments::Nagle => self.in_flight() == 0 && len == pending,
            };
            if !allowed {
                return None;
            }
        }
        Some(len)
    }

    /// A cumulative ACK for everything below `ack`; returns the bytes newly acknowledged.
    pub fn ack(&mut self, ack: u64) -> u64 {
        if ack <= self.una {
            return 0;
        }
        assert!(ack <= self.nxt, "ACK {ack} beyond snd_nxt {}", self.nxt);
        let n = ack - self.una;
        self.una = ack;
        self.lost.retain(|&seq, _| seq >= ack);
        n
    }

    pub fn check_invariants(&self) {
        assert!(
            self.una <= self.nxt && self.nxt <= self.written,
            "TCP sender out of order: una {} nxt {} written {}",
            self.una,
            self.nxt,
            self.written
        );
        for (&seq, &len) in &self.lost {
            assert!(
                seq >= self.una && seq + len <= self.nxt,
                "lost segment outside window"
            );
        }
    }
}

/// What the receiver does with a segment that arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckDecision {
    /// Send a cumulative ACK now.
    Now(u64),
    /// Arm the delayed-ACK timer (if not armed).
    Delay,
}

/// An ideal receiver: unlimited buffering, cumulative ACKs.
#[derive(Clone, Debug, Default)]
pub struct TcpReceiver {
    /// Next in-order byte expected (`rcv_nxt`).
    pub nxt: u64,
    /// Out-of-order segments held: seq → len.
    pub ooo: BTreeMap<u64, u64>,
    /// In-order segments not yet acknowledged.
    pub unacked_segments: u32,
    /// Payload bytes accepted in order.
    pub received: u64,
}

impl TcpReceiver {
    /// Accepts a segment and decides when to acknowledge.
    pub fn segment(&mut self, seq: u64, len: u64, ack_every: u32) -> AckDecision {
        if seq + len <= self.nxt {
            return AckDecision::Now(self.nxt); // duplicate
        }
        if seq > self.nxt {
            self.ooo.insert(seq, len);
            return AckDecision::Now(self.nxt); // gap: duplicate ACK at once
        }
        let filled_gap = !self.ooo.is_empty();
        self.advance(seq + len);
        while let Some((&s, &l)) = self.ooo.first_key_value() {
            if s > self.nxt {
                break;
            }
            self.ooo.pop_first();
            self.advance(s + l);
        }
        self.unacked_segments += 1;
        if filled_gap || self.unacked_segments >= ack_every {
            self.unacked_segments = 0;
            AckDecision::Now(self.nxt)
        } else {
            AckDecision::Delay
        }
    }

    fn advance(&mut self, to: u64) {
        if to > self.nxt {
            self.received += to - self.nxt;
            self.nxt = to;
        }
    }

    /// The delayed-ACK timer fired.
    pub fn delayed_ack(&mut self) -> Option<u64> {
        (self.unacked_segments > 0).then(|| {
            self.unacked_segments = 0;
            self.nxt
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_mss_bound_segments() {
        let mut s = TcpSender {
            written: 10_000,
            ..Default::default()
        };
        assert_eq!(s.next_segment(4000, 1448, ShortSegments::Nagle), Some(1448));
        s.nxt = 2896;
        // 1104 bytes of window left, less than an MSS, with data in flight: wait (SWS).
        assert_eq!(s.next_segment(4000, 1448, ShortSegments::Nagle), None);
        assert_eq!(s.ack(2896), 2896);
        assert_eq!(s.next_segment(4000, 1448, ShortSegments::Nagle), Some(1448));
        // The last 200 bytes go only once nothing is in flight (Nagle).
        s.nxt = 9800;
        assert_eq!(s.next_segment(100_000, 1448, ShortSegments::Nagle), None);
        s.ack(9800);
        assert_eq!(
            s.next_segment(100_000, 1448, ShortSegments::Nagle),
            Some(200)
        );
    }

    #[test]
    fn receiver_acks_every_second_segment_and_at_once_around_gaps() {
        // In order: the second of each pair triggers the ACK. A gap gets a duplicate ACK at
        // once; filling it acknowledges everything buffered.
        let mut r = TcpReceiver::default();
        assert_eq!(r.segment(0, 100, 2), AckDecision::Delay);
        assert_eq!(r.segment(100, 100, 2), AckDecision::Now(200));
        assert_eq!(r.segment(300, 100, 2), AckDecision::Now(200), "gap");
        assert_eq!(r.segment(200, 100, 2), AckDecision::Now(400), "gap filled");
        assert_eq!(r.received, 400);
        assert_eq!(r.segment(400, 50, 2), AckDecision::Delay);
        assert_eq!(r.delayed_ack(), Some(450));
        assert_eq!(r.delayed_ack(), None);
    }
}
