//! Simulated time and byte rates, all in integers.
//!
//! [`SimTime`] is an instant and [`SimDuration`] a span, both counted in whole nanoseconds in a
//! `u64` (enough for 584 years of simulated time). Plain `+`/`-` panic on overflow or underflow
//! because either can only come from a bug in a model; the `checked_*` forms are for callers that
//! handle the edge themselves.
//!
//! [`ByteRate`] is a bandwidth in whole bytes per second. Converting a byte count at a rate into a
//! duration **rounds up** to the next nanosecond ([`ByteRate::time_for`]): an operation never
//! finishes before its last byte could have moved, so a chain of conversions can only err late
//! (by under 1 ns each), never early.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

const NS_PER_US: u64 = 1_000;
const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;

/// An instant of simulated time: nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime {
    ns: u64,
}

/// A span of simulated time in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration {
    ns: u64,
}

impl SimTime {
    /// The start of every run.
    pub const ZERO: SimTime = SimTime { ns: 0 };
    /// The largest representable instant; used as "never".
    pub const MAX: SimTime = SimTime { ns: u64::MAX };

    pub const fn from_nanos(ns: u64) -> Self {
        SimTime { ns }
    }

    pub const fn as_nanos(self) -> u64 {
        self.ns
    }

    /// `self - earlier`. Panics if `earlier` is later than `self`: asking for a negative span
    /// is a model bug.
    pub fn duration_since(self, earlier: SimTime) -> SimDuration {
        match self.ns.checked_sub(earlier.ns) {
            Some(ns) => SimDuration { ns },
            None => panic!("duration_since: {earlier} is later than {self}"),
        }
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: SimTime) -> SimDuration {
        SimDuration {
            ns: self.ns.saturating_sub(earlier.ns),
        }
    }

    pub fn checked_add(self, d: SimDuration) -> Option<SimTime> {
        self.ns.checked_add(d.ns).map(|ns| SimTime { ns })
    }

    pub fn checked_sub(self, d: SimDuration) -> Option<SimTime> {
        self.ns.checked_sub(d.ns).map(|ns| SimTime { ns })
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration { ns: 0 };
    pub const MAX: SimDuration = SimDuration { ns: u64::MAX };

    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration { ns }
    }

    /// Panics on overflow (over 584 years).
    pub const fn from_micros(us: u64) -> Self {
        match us.checked_mul(NS_PER_US) {
            Some(ns) => SimDuration { ns },
            None => panic!("SimDuration::from_micros overflows u64 nanoseconds"),
        }
    }

    /// Panics on overflow (over 584 years).
    pub const fn from_millis(ms: u64) -> Self {
        match ms.checked_mul(NS_PER_MS) {
            Some(ns) => SimDuration { ns },
            None => panic!("SimDuration::from_millis overflows u64 nanoseconds"),
        }
    }

    /// Panics on overflow (over 584 years).
    pub const fn from_secs(s: u64) -> Self {
        match s.checked_mul(NS_PER_S) {
            Some(ns) => SimDuration { ns },
            None => panic!("SimDuration::from_secs overflows u64 nanoseconds"),
        }
    }

    pub const fn as_nanos(self) -> u64 {
        self.ns
    }

    pub const fn is_zero(self) -> bool {
        self.ns == 0
    }

    pub fn checked_add(self, d: SimDuration) -> Option<SimDuration> {
        self.ns.checked_add(d.ns).map(|ns| SimDuration { ns })
    }

    pub fn checked_sub(self, d: SimDuration) -> Option<SimDuration> {
        self.ns.checked_sub(d.ns).map(|ns| SimDuration { ns })
    }

    pub fn saturating_sub(self, d: SimDuration) -> SimDuration {
        SimDuration {
            ns: self.ns.saturating_sub(d.ns),
        }
    }

    pub fn checked_mul(self, n: u64) -> Option<SimDuration> {
        self.ns.checked_mul(n).map(|ns| SimDuration { ns })
    }

    /// Seconds as `f64`, for reports and ratios only; never feed it back into the engine.
    pub fn as_secs_f64(self) -> f64 {
        self.ns as f64 / NS_PER_S as f64
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        self.checked_add(d)
            .unwrap_or_else(|| panic!("SimTime overflow: {self} + {d}"))
    }
}

impl AddAssign<SimDuration> for SimTime {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub<SimDuration> for SimTime {
    type Output = SimTime;
    fn sub(self, d: SimDuration) -> SimTime {
        self.checked_sub(d)
            .unwrap_or_else(|| panic!("SimTime underflow: {self} - {d}"))
    }
}

impl Sub<SimTime> for SimTime {
    type Output = SimDuration;
    fn sub(self, earlier: SimTime) -> SimDuration {
        self.duration_since(earlier)
    }
}

impl Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        self.checked_add(d)
            .unwrap_or_else(|| panic!("SimDuration overflow: {self} + {d}"))
    }
}

impl AddAssign for SimDuration {
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}

impl Sub for SimDuration {
    type Output = SimDuration;
    fn sub(self, d: SimDuration) -> SimDuration {
        self.checked_sub(d)
            .unwrap_or_else(|| panic!("SimDuration underflow: {self} - {d}"))
    }
}

impl std::iter::Sum for SimDuration {
    fn sum<I: Iterator<Item = SimDuration>>(iter: I) -> SimDuration {
        iter.fold(SimDuration::ZERO, |a, b| a + b)
    }
}

/// Formats nanoseconds with the largest unit that keeps the integer part non-zero, three
/// decimals, truncated (not rounded) so the text never claims more time than elapsed:
/// `999 ns`, `12.345 us`, `1.500 ms`, `3.000 s`.
fn fmt_nanos(ns: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (unit_ns, unit) = if ns < NS_PER_US {
        return write!(f, "{ns} ns");
    } else if ns < NS_PER_MS {
        (NS_PER_US, "us")
    } else if ns < NS_PER_S {
        (NS_PER_MS, "ms")
    } else {
        (NS_PER_S, "s")
    };
    let whole = ns / unit_ns;
    let millis_of_unit = (ns % unit_ns) / (unit_ns / 1000);
    write!(f, "{whole}.{millis_of_unit:03} {unit}")
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_nanos(self.ns, f)
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_nanos(self.ns, f)
    }
}

/// A bandwidth in whole bytes per second. Never zero: a resource that moves nothing is not a
/// resource, and every conversion divides by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteRate {
    bytes_per_sec: u64,
}

impl ByteRate {
    /// Panics on zero; callers validating user input use [`ByteRate::new`].
    pub const fn from_bytes_per_sec(bytes_per_sec: u64) -> Self {
        assert!(bytes_per_sec > 0, "ByteRate must be > 0 bytes/s");
        ByteRate { bytes_per_sec }
    }

    /// `None` for zero.
    pub const fn new(bytes_per_sec: u64) -> Option<Self> {
        if bytes_per_sec == 0 {
            None
        } else {
            Some(ByteRate { bytes_per_sec })
        }
    }

    /// A link rate in bits per second (100 Mb/s Ethernet = `from_bits_per_sec(100_000_000)`),
    /// rounded down to whole bytes. Panics below 8 bits/s.
    pub const fn from_bits_per_sec(bits_per_sec: u64) -> Self {
        Self::from_bytes_per_sec(bits_per_sec / 8)
    }

    pub const fn bytes_per_sec(self) -> u64 {
        self.bytes_per_sec
    }

    /// Time to move `bytes` at this rate, **rounded up** to the whole nanosecond:
    /// `ceil(bytes × 10⁹ / rate)`, computed exactly (in 64-bit integers when the product fits,
    /// else in 128-bit ones).
    /// Panics if the result exceeds `SimDuration::MAX` (a model bug: over 584 years).
    pub fn time_for(self, bytes: u64) -> SimDuration {
        // Under 18 GB the product fits 64 bits, and a 64-bit division is several times
        // cheaper than the 128-bit one (a library call): the same result either way.
        if let Some(num) = bytes.checked_mul(NS_PER_S) {
            return SimDuration::from_nanos(num.div_ceil(self.bytes_per_sec));
        }
        let num = bytes as u128 * NS_PER_S as u128;
        let ns = num.div_ceil(self.bytes_per_sec as u128);
        SimDuration::from_nanos(
            u64::try_from(ns).unwrap_or_else(|_| panic!("{bytes} bytes at {self} overflows")),
        )
    }

    /// Whole bytes that move in `d` at this rate (rounded down).
    pub fn bytes_in(self, d: SimDuration) -> u64 {
        let b = self.bytes_per_sec as u128 * d.as_nanos() as u128 / NS_PER_S as u128;
        u64::try_from(b).unwrap_or(u64::MAX)
    }
}

/// Decimal units, as network and bus rates are quoted: `12.500 MB/s`.
impl fmt::Display for ByteRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.bytes_per_sec;
        let (unit, name) = match b {
            0..1_000 => return write!(f, "{b} B/s"),
            1_000..1_000_000 => (1_000, "kB/s"),
            1_000_000..1_000_000_000 => (1_000_000, "MB/s"),
            _ => (1_000_000_000, "GB/s"),
        };
        write!(f, "{}.{:03} {name}", b / unit, (b % unit) / (unit / 1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_picks_unit_and_truncates() {
        // Each unit boundary and the truncation rule: 1_234_567 ns is 1.234 ms, not 1.235.
        assert_eq!(SimDuration::from_nanos(999).to_string(), "999 ns");
        assert_eq!(SimDuration::from_nanos(12_345).to_string(), "12.345 us");
        assert_eq!(SimDuration::from_nanos(1_234_567).to_string(), "1.234 ms");
        assert_eq!(SimDuration::from_secs(3).to_string(), "3.000 s");
        assert_eq!(SimTime::from_nanos(1_500).to_string(), "1.500 us");
    }

    #[test]
    fn time_for_rounds_up_exactly() {
        // 1 byte at 3 B/s is 333_333_333.3 ns; rounding up gives ...334. An exact multiple
        // (1500 bytes at 12.5 MB/s = 120 us) must not gain a nanosecond.
        let r = ByteRate::from_bytes_per_sec(3);
        assert_eq!(r.time_for(1).as_nanos(), 333_333_334);
        let fe = ByteRate::from_bits_per_sec(100_000_000);
        assert_eq!(fe.time_for(1500), SimDuration::from_micros(120));
        assert_eq!(fe.time_for(0), SimDuration::ZERO);
        // Large counts do not overflow the intermediate product.
        let bus = ByteRate::from_bytes_per_sec(1);
        assert_eq!(
            bus.time_for(10_000_000_000).as_nanos(),
            10_000_000_000 * NS_PER_S
        );
        // Either side of 2^64 / 10^9 bytes, where the product leaves 64 bits and the
        // 128-bit path takes over, the result is still ceil(bytes * 10^9 / rate)
        // (values from Python's exact integers).
        let seven = ByteRate::from_bytes_per_sec(7);
        assert_eq!(
            seven.time_for(18_446_744_073).as_nanos(),
            2_635_249_153_285_714_286
        );
        assert_eq!(
            seven.time_for(18_446_744_074).as_nanos(),
            2_635_249_153_428_571_429
        );
        assert_eq!(
            r.time_for(20_000_000_000).as_nanos(),
            6_666_666_666_666_666_667
        );
    }

    #[test]
    fn bytes_in_is_inverse_rounding_down() {
        let r = ByteRate::from_bytes_per_sec(3);
        assert_eq!(r.bytes_in(r.time_for(1)), 1);
        assert_eq!(r.bytes_in(SimDuration::from_nanos(333_333_333)), 0);
    }

    #[test]
    #[should_panic(expected = "is later than")]
    fn negative_span_is_a_bug() {
        let _ = SimTime::from_nanos(1).duration_since(SimTime::from_nanos(2));
    }

    #[test]
    fn checked_arithmetic_reports_overflow() {
        assert_eq!(SimTime::MAX.checked_add(SimDuration::from_nanos(1)), None);
        assert_eq!(SimTime::ZERO.checked_sub(SimDuration::from_nanos(1)), None);
        assert_eq!(
            SimTime::from_nanos(5).checked_add(SimDuration::from_nanos(2)),
            Some(SimTime::from_nanos(7))
        );
        assert_eq!(ByteRate::new(0), None);
    }

    #[test]
    fn rate_display() {
        assert_eq!(
            ByteRate::from_bits_per_sec(100_000_000).to_string(),
            "12.500 MB/s"
        );
        assert_eq!(ByteRate::from_bytes_per_sec(512).to_string(), "512 B/s");
    }
}
