//! TCP as a 4.4BSD / Linux 2.4-era stack does it, one rule per named function.
//!
//! **Sender** ([`TcpSender`]): segments the send buffer to the MSS within the smaller of the
//! peer's window and the congestion window; Nagle (RFC 896) holds a short segment while data
//! is in flight unless `TCP_NODELAY` (the BSD rule, `tcp_output`'s `idle` test), or, in Linux's
//! variant after Minshall, only while an earlier short segment is unacknowledged
//! (`tcp_minshall_check`, `include/net/tcp.h` in Linux 2.4, `net/ipv4/tcp_output.c` since); congestion control per RFC 2581 / RFC 3782 (slow start,
//! congestion avoidance, fast retransmit on the third duplicate ACK, NewReno fast recovery
//! with partial ACKs); one retransmission timer per connection whose timeout doubles on each
//! expiry (Karn's back-off) and resets when new data is acknowledged. The timeout follows
//! the measured round trip (Jacobson/Karels, RFC 6298: `srtt + 4 rttvar`, one segment timed
//! per round trip, none while retransmitting), never below the configured minimum.
//!
//! **Receiver** ([`TcpReceiver`]): accepts everything, buffers out-of-order segments and
//! acknowledges cumulatively: every `ack_every` in-order segments, immediately on a gap or a
//! segment that fills one, else after the delayed-ACK timer. Whether a read should send a
//! window update is [`window_update_due`].
//!
//! Simplified: no SACK, no limited transmit, no F-RTO; cwnd counted in bytes and grown per
//! ACK (not per byte acknowledged).

use std::collections::BTreeMap;

/// Which form of Nagle's algorithm a stack runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NagleRule {
    /// RFC 896 as 4.4BSD `tcp_output` has it: a short segment leaves only when nothing is in
    /// flight (`idle = snd_max == snd_una`). The BSDs.
    #[default]
    Bsd,
    /// Minshall's variant (draft-minshall-nagle): a short segment leaves unless an earlier
    /// short segment is still unacknowledged (`tcp_minshall_check`: `snd_sml` after `snd_una`
    /// and not after `snd_nxt`). Linux since 2.4; a request's short tail no longer waits
    /// behind its full segments' ACKs.
    Minshall,
}

/// When a segment shorter than the MSS may leave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShortSegments {
    /// Nagle: only when the stack's [`NagleRule`] allows a short segment now.
    Nagle,
    /// Corked (`TCP_CORK`): never.
    Never,
    /// Just uncorked, closing, or `TCP_NODELAY`: the tail goes now.
    Always,
}

/// What an ACK told the sender.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AckOutcome {
    /// Bytes newly acknowledged.
    pub acked: u64,
    /// Retransmit the segment starting here now (fast retransmit, or a NewReno partial ACK).
    pub retransmit: Option<u64>,
    /// This ACK was the third duplicate: fast retransmit and recovery began.
    pub fast_retransmit: bool,
    /// Everything sent is acknowledged: stop the retransmission timer (else restart it when
    /// `acked > 0`).
    pub all_acked: bool,
}

/// Sender sequence and congestion state, in bytes from the start of the connection.
///
/// Invariants: `una ≤ nxt ≤ written`; `cwnd ≥ 1 MSS` once set; in recovery, `una < recover
/// ≤ nxt`; `sml ≤ nxt`.
#[derive(Clone, Debug)]
pub struct TcpSender {
    una: u64,
    nxt: u64,
    written: u64,
    /// Congestion window and slow-start threshold (`snd_cwnd`, `snd_ssthresh`), bytes.
    cwnd: u64,
    ssthresh: u64,
    /// Duplicate ACKs in a row.
    dupacks: u32,
    /// In fast recovery (or recovering after a timeout) until `una` reaches this.
    recover: Option<u64>,
    /// The recovery began with a timeout (slow start from one segment), not with three
    /// duplicate ACKs (fast recovery's inflated window).
    after_timeout: bool,
    /// Retransmission timeouts in a row (the RTO is `rto << backoff`).
    backoff: u32,
    /// Congestion control on; off, only the peer's window limits the sender.
    congestion_control: bool,
    /// Smoothed round trip and its variation, ns, once measured.
    srtt_ns: Option<u64>,
    rttvar_ns: u64,
    /// The segment being timed: the sequence number that acknowledges it, and when it left.
    probe: Option<(u64, u64)>,
    /// Which Nagle rule holds short segments.
    nagle: NagleRule,
    /// End of the last short segment sent (`snd_sml`), for Minshall's rule.
    sml: u64,
}

impl Default for TcpSender {
    fn default() -> Self {
        TcpSender::new(u64::MAX, true)
    }
}

impl TcpSender {
    /// A sender whose congestion window starts at `initial_cwnd` bytes.
    pub fn new(initial_cwnd: u64, congestion_control: bool) -> Self {
        TcpSender {
            una: 0,
            nxt: 0,
            written: 0,
            cwnd: initial_cwnd,
            ssthresh: u64::MAX,
            dupacks: 0,
            recover: None,
            after_timeout: false,
            backoff: 0,
            congestion_control,
            srtt_ns: None,
            rttvar_ns: 0,
            probe: None,
            nagle: NagleRule::Bsd,
            sml: 0,
        }
    }

    /// The same sender under `rule` for short segments.
    pub fn with_nagle(mut self, rule: NagleRule) -> Self {
        self.nagle = rule;
        self
    }

    /// Whether Nagle's algorithm lets a short segment leave now: under the BSD rule only with
    /// nothing in flight; under Minshall's only with no short segment in flight.
    pub fn nagle_allows_short(&self) -> bool {
        match self.nagle {
            NagleRule::Bsd => self.in_flight() == 0,
            NagleRule::Minshall => !(self.sml > self.una && self.sml <= self.nxt),
        }
    }

    pub fn nagle_rule(&self) -> NagleRule {
        self.nagle
    }

    /// The retransmission timeout now: `srtt + 4 rttvar` (RFC 6298), at least `min_ns`,
    /// doubled per timeout in a row, at most 64 s.
    pub fn rto_ns(&self, min_ns: u64) -> u64 {
        let base = match self.srtt_ns {
            Some(srtt) => (srtt + 4 * self.rttvar_ns).max(min_ns),
            None => min_ns,
        };
        base.saturating_mul(1 << self.backoff).min(64_000_000_000)
    }

    /// A round-trip sample: Jacobson/Karels smoothing.
    fn rtt_sample(&mut self, r: u64) {
        match self.srtt_ns {
            None => {
                self.srtt_ns = Some(r);
                self.rttvar_ns = r / 2;
            }
            Some(srtt) => {
                self.rttvar_ns = (3 * self.rttvar_ns + srtt.abs_diff(r)) / 4;
                self.srtt_ns = Some((7 * srtt + r) / 8);
            }
        }
    }

    /// A segment is being retransmitted: no sample may be taken across it (Karn).
    pub fn retransmitting(&mut self) {
        self.probe = None;
    }

    /// Oldest unacknowledged byte (`snd_una`).
    pub fn una(&self) -> u64 {
        self.una
    }

    /// Next new byte to send (`snd_max`: retransmissions do not move it).
    pub fn nxt(&self) -> u64 {
        self.nxt
    }

    /// End of the data written into the send buffer.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn cwnd(&self) -> u64 {
        self.cwnd
    }

    pub fn ssthresh(&self) -> u64 {
        self.ssthresh
    }

    pub fn in_recovery(&self) -> bool {
        self.recover.is_some()
    }

    /// Consecutive timeouts: the retransmission timer runs `rto << backoff()`.
    pub fn backoff(&self) -> u32 {
        self.backoff
    }

    /// Bytes sent and not yet acknowledged.
    pub fn in_flight(&self) -> u64 {
        self.nxt - self.una
    }

    /// The application appended `len` bytes to the send buffer.
    pub fn wrote(&mut self, len: u64) {
        self.written += len;
    }

    /// `len` new bytes left at `now_ns` (they start at `nxt`); the first of a round trip is
    /// timed. A segment (or TSO super-packet) that is not a whole number of `mss` is short:
    /// it becomes `snd_sml` (Linux `tcp_minshall_update`).
    pub fn sent(&mut self, len: u64, mss: u64, now_ns: u64) {
        if self.probe.is_none() {
            self.probe = Some((self.nxt + len, now_ns));
        }
        self.nxt += len;
        if !len.is_multiple_of(mss) {
            self.sml = self.nxt;
        }
        assert!(self.nxt <= self.written, "sent past the written data");
    }

    /// The window the sender may fill: the peer's, within the congestion window.
    pub fn usable_window(&self, peer_window: u64) -> u64 {
        if self.congestion_control {
            peer_window.min(self.cwnd)
        } else {
            peer_window
        }
    }

    /// The next new segment's length within `window` (the peer's), the congestion window
    /// and the MSS, if one may be sent now.
    ///
    /// Under [`ShortSegments::Nagle`], a segment shorter than the MSS goes only if the
    /// [`NagleRule`] allows it ([`Self::nagle_allows_short`]) and it carries all the data there
    /// is (Nagle's algorithm, RFC 896, with BSD's silly-window avoidance): otherwise the sender
    /// waits for more data or for an ACK.
    pub fn next_segment(&self, window: u64, mss: u64, short: ShortSegments) -> Option<u64> {
        let usable = self.usable_window(window).saturating_sub(self.in_flight());
        let pending = self.written - self.nxt;
        let len = pending.min(mss).min(usable);
        if len == 0 {
            return None;
        }
        if len < mss {
            let allowed = match short {
                ShortSegments::Never => false,
                ShortSegments::Always => len == pending,
                ShortSegments::Nagle => self.nagle_allows_short() && len == pending,
            };
            if !allowed {
                return None;
            }
        }
        Some(len)
    }

    /// Processes an ACK for everything below `ack`. `window_update` marks an ACK sent only to
    /// open the window, which RFC 5681 does not count as a duplicate.
    pub fn on_ack(&mut self, ack: u64, mss: u64, window_update: bool, now_ns: u64) -> AckOutcome {
        let mut out = AckOutcome::default();
        if let Some((end, t)) = self.probe
            && ack >= end
        {
            self.probe = None;
            self.rtt_sample(now_ns.saturating_sub(t));
        }
        if ack <= self.una {
            if ack == self.una && self.in_flight() > 0 && !window_update {
                out = self.duplicate_ack(mss);
            }
            out.all_acked = self.in_flight() == 0;
            return out;
        }
        assert!(ack <= self.nxt, "ACK {ack} beyond snd_nxt {}", self.nxt);
        out.acked = ack - self.una;
        self.una = ack;
        self.dupacks = 0;
        self.backoff = 0;
        match self.recover {
            Some(recover) if ack < recover => out.retransmit = self.partial_ack(out.acked, mss),
            Some(_) => self.exit_recovery(mss),
            None => self.open_window(mss),
        }
        out.all_acked = self.in_flight() == 0;
        out
    }

    /// Slow start below `ssthresh` (one MSS per ACK: about doubling per RTT), congestion
    /// avoidance above it (about one MSS per RTT).
    fn open_window(&mut self, mss: u64) {
        if !self.congestion_control {
            return;
        }
        if self.cwnd < self.ssthresh {
            self.cwnd = self.cwnd.saturating_add(mss);
        } else {
            self.cwnd = self.cwnd.saturating_add((mss * mss / self.cwnd).max(1));
        }
    }

    /// The third duplicate ACK in a row starts fast retransmit and fast recovery (RFC 2581):
    /// `ssthresh` halves the flight, the lost segment goes again, and `cwnd` is inflated by the
    /// three segments that left the network. Later duplicates inflate it by one MSS each.
    fn duplicate_ack(&mut self, mss: u64) -> AckOutcome {
        self.dupacks += 1;
        let mut out = AckOutcome::default();
        if self.recover.is_some() {
            // Fast recovery inflates the window per duplicate (a segment left the network);
            // after a timeout the window grows only by slow start.
            if self.congestion_control && !self.after_timeout {
                self.cwnd = self.cwnd.saturating_add(mss);
            }
        } else if self.dupacks == 3 {
            self.halve(mss);
            if self.congestion_control {
                self.cwnd = self.ssthresh + 3 * mss;
            }
            self.recover = Some(self.nxt);
            self.after_timeout = false;
            out.retransmit = Some(self.una);
            out.fast_retransmit = true;
        }
        out
    }

    /// NewReno (RFC 3782): an ACK inside the recovery window means the next hole is lost too:
    /// retransmit it at once, deflate `cwnd` by what was acknowledged, add back one MSS.
    /// After a timeout the same ACK is a slow-start step instead: the window opens by one
    /// segment per ACK while the holes are retransmitted.
    fn partial_ack(&mut self, acked: u64, mss: u64) -> Option<u64> {
        if self.after_timeout {
            self.open_window(mss);
        } else if self.congestion_control {
            self.cwnd = self.cwnd.saturating_sub(acked).max(mss) + mss;
        }
        Some(self.una)
    }

    /// Recovery ends when everything outstanding at its start is acknowledged: `cwnd`
    /// deflates to `ssthresh`.
    /// After a timeout the window slow-starts on: this ACK of new data opens it by one more
    /// segment, as any ACK in slow start does.
    fn exit_recovery(&mut self, mss: u64) {
        self.recover = None;
        if self.after_timeout {
            self.open_window(mss);
        } else if self.congestion_control {
            self.cwnd = self.ssthresh;
        }
        self.after_timeout = false;
    }

    /// `ssthresh = max(flight / 2, 2 MSS)`.
    fn halve(&mut self, mss: u64) {
        self.ssthresh = (self.in_flight() / 2).max(2 * mss);
    }

    /// The retransmission timer expired with data outstanding: halve `ssthresh`, restart
    /// from one segment (slow start), back the timer off, and retransmit from `una`; ACKs
    /// below what was outstanding are then partial ACKs that retransmit the next hole.
    /// Returns where to retransmit.
    pub fn on_timeout(&mut self, mss: u64) -> u64 {
        assert!(self.in_flight() > 0, "a timeout with nothing outstanding");
        self.halve(mss);
        if self.congestion_control {
            self.cwnd = mss;
        }
        self.dupacks = 0;
        self.backoff = (self.backoff + 1).min(6);
        self.recover = Some(self.nxt);
        self.after_timeout = true;
        self.una
    }

    pub fn check_invariants(&self) {
        assert!(
            self.una <= self.nxt && self.nxt <= self.written,
            "TCP sender out of order: una {} nxt {} written {}",
            self.una,
            self.nxt,
            self.written
        );
        if let Some(r) = self.recover {
            assert!(
                r <= self.nxt,
                "recovery point {r} beyond snd_nxt {}",
                self.nxt
            );
        }
        assert!(self.cwnd > 0, "an empty congestion window");
        assert!(
            self.sml <= self.nxt,
            "last short segment ends at {} beyond snd_nxt {}",
            self.sml,
            self.nxt
        );
    }
}

/// Whether a read that brought the free receive space from `before` to `after` (of a
/// buffer of `capacity`) should send a window update now (BSD `tcp_output`'s rule after
/// `PRU_RCVD`: the window opens by at least two segments or half the buffer).
pub fn window_update_due(before: u64, after: u64, capacity: u64, mss: u64) -> bool {
    let opened = after.saturating_sub(before);
    opened >= 2 * mss || 2 * opened >= capacity
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
            // A shorter retransmission at the same place must not forget what is held.
            let held = self.ooo.entry(seq).or_insert(0);
            *held = (*held).max(len);
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

    const MSS: u64 = 1448;

    /// A sender with `written` bytes and congestion control off, so only the peer's window
    /// and Nagle bound it.
    fn plain(written: u64) -> TcpSender {
        let mut s = TcpSender::new(u64::MAX, false);
        s.wrote(written);
        s
    }

    /// A request of 3 full segments and a 200-byte tail, then a second 200-byte write.
    /// BSD holds the tail until all 3 segments are acked; Minshall sends it at once (no short
    /// segment is in flight) but then holds the second short write until the tail's ACK.
    #[test]
    fn minshall_holds_only_behind_a_short_segment() {
        let tail = 200;
        let mut bsd = plain(3 * MSS + tail);
        let mut minshall = plain(3 * MSS + tail).with_nagle(NagleRule::Minshall);
        for s in [&mut bsd, &mut minshall] {
            s.sent(3 * MSS, MSS, 0);
        }
        // Full segments in flight: only BSD's rule (nothing in flight) holds the tail.
        assert_eq!(bsd.next_segment(100_000, MSS, ShortSegments::Nagle), None);
        assert_eq!(
            minshall.next_segment(100_000, MSS, ShortSegments::Nagle),
            Some(tail)
        );
        minshall.sent(tail, MSS, 0);
        minshall.wrote(tail);
        // Now a short segment (the tail) is unacknowledged: the second one waits...
        assert_eq!(
            minshall.next_segment(100_000, MSS, ShortSegments::Nagle),
            None
        );
        // ...even after the full segments are acked, because snd_sml is still ahead of una...
        minshall.on_ack(3 * MSS, MSS, false, 0);
        assert_eq!(
            minshall.next_segment(100_000, MSS, ShortSegments::Nagle),
            None
        );
        // ...and goes once the tail's ACK moves una to snd_sml.
        minshall.on_ack(3 * MSS + tail, MSS, false, 0);
        assert_eq!(
            minshall.next_segment(100_000, MSS, ShortSegments::Nagle),
            Some(tail)
        );
        minshall.check_invariants();
    }

    #[test]
    fn window_and_mss_bound_segments() {
        let mut s = plain(10_000);
        assert_eq!(s.next_segment(4000, MSS, ShortSegments::Nagle), Some(MSS));
        s.sent(2 * MSS, MSS, 0);
        // 1104 bytes of window left, less than an MSS, with data in flight: wait (SWS).
        assert_eq!(s.next_segment(4000, MSS, ShortSegments::Nagle), None);
        assert_eq!(s.on_ack(2 * MSS, MSS, false, 0).acked, 2 * MSS);
        assert_eq!(s.next_segment(4000, MSS, ShortSegments::Nagle), Some(MSS));
        // The last 200 bytes go only once nothing is in flight (Nagle), at once without it.
        s.sent(9800 - 2 * MSS, MSS, 0);
        assert_eq!(s.next_segment(100_000, MSS, ShortSegments::Nagle), None);
        assert_eq!(
            s.next_segment(100_000, MSS, ShortSegments::Always),
            Some(200)
        );
        s.on_ack(9800, MSS, false, 0);
        assert_eq!(
            s.next_segment(100_000, MSS, ShortSegments::Nagle),
            Some(200)
        );
    }

    #[test]
    fn slow_start_doubles_the_window_each_round_trip() {
        // IW = 2 segments; each ACK of one segment adds one MSS. Round 1: 2 segments out,
        // 2 ACKs back -> cwnd 4. Round 2: 4 out, 4 ACKs -> 8. Round 3 -> 16: doubling.
        let mut s = TcpSender::new(2 * MSS, true);
        s.wrote(1 << 30);
        let mut acked = 0;
        for round in 0..3 {
            let cwnd = s.cwnd();
            assert_eq!(cwnd, (2 << round) * MSS, "round {round}");
            let n = cwnd / MSS;
            s.sent(n * MSS, MSS, 0);
            for _ in 0..n {
                acked += MSS;
                s.on_ack(acked, MSS, false, 0);
            }
            assert_eq!(s.cwnd(), 2 * cwnd);
        }
        // Above ssthresh the growth is about one MSS per round trip: 16 ACKs of a 16-MSS
        // window add 16 * MSS * MSS / cwnd, about one MSS.
        let mut s = TcpSender::new(16 * MSS, true);
        s.ssthresh = 8 * MSS;
        s.wrote(1 << 30);
        s.sent(16 * MSS, MSS, 0);
        for i in 1..=16 {
            s.on_ack(i * MSS, MSS, false, 0);
        }
        let grown = s.cwnd() - 16 * MSS;
        assert!(grown > MSS * 9 / 10 && grown <= MSS, "grew {grown}");
    }

    #[test]
    fn three_duplicate_acks_trigger_one_fast_retransmit_and_halve_cwnd() {
        // 10 segments in flight with cwnd = 10 MSS; the first is lost. Each of the other
        // nine arrivals sends a duplicate ACK for 0. The third starts fast retransmit of the
        // segment at 0: ssthresh = flight/2 = 5 MSS, cwnd = 5 + 3 = 8 MSS. The other six
        // inflate cwnd by one MSS each (14 MSS) and retransmit nothing more. The ACK for all
        // ten ends recovery: cwnd deflates to ssthresh, 5 MSS.
        let mut s = TcpSender::new(10 * MSS, true);
        s.wrote(100 * MSS);
        s.sent(10 * MSS, MSS, 0);
        let mut retransmits = 0;
        for dup in 1..=9 {
            let out = s.on_ack(0, MSS, false, 0);
            assert_eq!(out.acked, 0);
            if out.retransmit.is_some() {
                retransmits += 1;
                assert_eq!(dup, 3, "the third duplicate retransmits");
                assert_eq!(out.retransmit, Some(0));
                assert!(out.fast_retransmit);
                assert_eq!(s.ssthresh(), 5 * MSS);
                assert_eq!(s.cwnd(), 8 * MSS);
            }
        }
        assert_eq!(retransmits, 1);
        assert_eq!(s.cwnd(), 14 * MSS);
        let out = s.on_ack(10 * MSS, MSS, false, 0);
        assert_eq!(out.retransmit, None);
        assert!(out.all_acked && !s.in_recovery());
        assert_eq!(s.cwnd(), 5 * MSS);
        // A window update (same ACK, window opened) is not a duplicate.
        let mut s = TcpSender::new(10 * MSS, true);
        s.wrote(100 * MSS);
        s.sent(10 * MSS, MSS, 0);
        for _ in 0..5 {
            assert_eq!(s.on_ack(0, MSS, true, 0), AckOutcome::default());
        }
    }

    #[test]
    fn a_partial_ack_retransmits_the_next_hole() {
        // Segments 0 and 2 of 6 are lost. Fast retransmit resends 0; its ACK covers only up
        // to 2 (segment 1 had arrived), below the recovery point 6: NewReno retransmits the
        // segment at 2 at once instead of waiting for three more duplicates or the RTO.
        let mut s = TcpSender::new(6 * MSS, true);
        s.wrote(6 * MSS);
        s.sent(6 * MSS, MSS, 0);
        for _ in 0..3 {
            s.on_ack(0, MSS, false, 0);
        }
        let out = s.on_ack(2 * MSS, MSS, false, 0);
        assert_eq!(out.acked, 2 * MSS);
        assert_eq!(out.retransmit, Some(2 * MSS));
        assert!(s.in_recovery());
        assert!(s.on_ack(6 * MSS, MSS, false, 0).all_acked);
        assert!(!s.in_recovery());
    }

    #[test]
    fn timeouts_back_off_and_restart_slow_start() {
        // A timeout with 8 MSS outstanding: ssthresh 4 MSS, cwnd 1 MSS, retransmit from una,
        // backoff 1 (the timer doubles). A second timeout doubles it again; new data
        // acknowledged resets the back-off.
        let mut s = TcpSender::new(8 * MSS, true);
        s.wrote(8 * MSS);
        s.sent(8 * MSS, MSS, 0);
        assert_eq!(s.on_timeout(MSS), 0);
        assert_eq!((s.ssthresh(), s.cwnd(), s.backoff()), (4 * MSS, MSS, 1));
        s.on_timeout(MSS);
        assert_eq!(s.backoff(), 2);
        s.on_ack(MSS, MSS, false, 0);
        assert_eq!(s.backoff(), 0);
    }

    #[test]
    fn after_a_timeout_the_window_slow_starts_while_holes_are_repaired() {
        // 8 MSS outstanding, the first segment lost, then a timeout: cwnd 1 MSS. Each
        // partial ACK (one more segment acknowledged, still below the recovery point)
        // retransmits the next hole and, as slow start, adds one MSS: 2, 3, ... A duplicate
        // ACK adds nothing. The ACK that covers everything ends recovery and is one more
        // step of the window (not a jump to ssthresh): at ssthresh (4 MSS, half the 8 in
        // flight) that is congestion avoidance, MSS * MSS / cwnd = a quarter segment.
        let mut s = TcpSender::new(8 * MSS, true);
        s.wrote(8 * MSS);
        s.sent(8 * MSS, MSS, 0);
        s.on_timeout(MSS);
        assert_eq!(s.cwnd(), MSS);
        s.on_ack(0, MSS, false, 0);
        assert_eq!(s.cwnd(), MSS, "no inflation after a timeout");
        for k in 1..4 {
            let out = s.on_ack(k * MSS, MSS, false, 0);
            assert_eq!(out.retransmit, Some(k * MSS));
            assert_eq!(s.cwnd(), (1 + k) * MSS);
        }
        s.on_ack(8 * MSS, MSS, false, 0);
        assert!(!s.in_recovery());
        assert_eq!(s.cwnd(), 4 * MSS + MSS * MSS / (4 * MSS));
    }

    #[test]
    fn the_timeout_follows_the_measured_round_trip() {
        // Before any sample the RTO is the minimum. A first sample of 100 ms gives srtt 100,
        // rttvar 50: RTO = 100 + 4 * 50 = 300 ms. A timeout doubles it; a retransmitted
        // segment is never timed (Karn), so its ACK leaves srtt alone.
        const MS: u64 = 1_000_000;
        let mut s = TcpSender::new(10 * MSS, true);
        s.wrote(10 * MSS);
        assert_eq!(s.rto_ns(200 * MS), 200 * MS);
        s.sent(MSS, MSS, 0);
        s.on_ack(MSS, MSS, false, 100 * MS);
        assert_eq!(s.rto_ns(200 * MS), 300 * MS);
        assert_eq!(s.rto_ns(500 * MS), 500 * MS, "never below the minimum");
        s.sent(MSS, MSS, 100 * MS);
        s.on_timeout(MSS);
        assert_eq!(s.rto_ns(200 * MS), 600 * MS);
        s.retransmitting();
        s.on_ack(2 * MSS, MSS, false, 2000 * MS);
        assert_eq!(
            s.rto_ns(200 * MS),
            300 * MS,
            "back-off reset, no sample taken"
        );
    }

    #[test]
    fn a_read_sends_a_window_update_when_the_window_opens_enough() {
        // Two segments' worth, or half the buffer, opens enough; one segment of a large
        // buffer does not.
        assert!(window_update_due(0, 2 * MSS, 64 << 10, MSS));
        assert!(window_update_due(0, 8 << 10, 16 << 10, MSS));
        assert!(!window_update_due(10_000, 10_000 + MSS, 64 << 10, MSS));
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
