//! Quantities written with units: sizes (`64 KiB`), rates (`27 MB/s`, `100 Mb/s`) and
//! durations (`1.8 us`).
//!
//! Numbers are decimal and parsed exactly (no floating point): `1.8 us` is 1800 ns, and a
//! value that does not come out whole in the base unit (`0.5 ns`, `1.3 B`) is refused rather
//! than rounded. Sizes take binary (`KiB`, `MiB`, `GiB`, `TiB`) and decimal (`kB`, `MB`,
//! `GB`, `TB`) prefixes; rates take bytes (`B/s`, `kB/s`, `MB/s`, `GB/s`, `KiB/s`, `MiB/s`,
//! `GiB/s`) or bits (`b/s`, `kb/s`, `Mb/s`, `Gb/s`, also written `bps`, `kbps`, `Mbps`,
//! `Gbps`); durations take `ns`, `us` (or `µs`), `ms`, `s`. Spaces between number and unit are
//! optional. A bare number is refused: the unit is part of the value.
//!
//! The crates in the ecosystem each cover one of these (`bytesize` sizes, `humantime`
//! durations without decimals), none bit rates, and their error texts differ; one exact
//! parser gives every field the same rules and messages.

use std::fmt;

/// Why a quantity did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnitError {
    /// A number without a unit.
    MissingUnit { allowed: &'static str },
    /// A unit this kind of quantity does not take.
    UnknownUnit { unit: String, allowed: &'static str },
    /// Not a decimal number.
    BadNumber,
    /// Negative.
    Negative,
    /// Not a whole number of the base unit.
    NotWhole { base: &'static str },
    /// Too large to represent.
    Overflow,
    /// More than [`MAX_SIGNIFICANT_DIGITS`] significant digits.
    TooManyDigits,
}

impl fmt::Display for UnitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnitError::MissingUnit { allowed } => write!(f, "needs a unit ({allowed})"),
            UnitError::UnknownUnit { unit, allowed } => {
                write!(f, "unit `{unit}` is not one of {allowed}")
            }
            UnitError::BadNumber => write!(f, "is not a number followed by a unit"),
            UnitError::Negative => write!(f, "must not be negative"),
            UnitError::NotWhole { base } => write!(f, "is not a whole number of {base}"),
            UnitError::Overflow => write!(f, "is too large"),
            UnitError::TooManyDigits => write!(
                f,
                "has more than {MAX_SIGNIFICANT_DIGITS} significant digits"
            ),
        }
    }
}

pub const SIZE_UNITS: &str = "B, KiB, MiB, GiB, TiB, kB, MB, GB, TB";
pub const RATE_UNITS: &str = "B/s, kB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s, b/s, kb/s, Mb/s, Gb/s";
pub const DURATION_UNITS: &str = "ns, us, ms, s";

/// Bytes.
pub fn parse_size(s: &str) -> Result<u64, UnitError> {
    let (num, unit) = split(s)?;
    let factor: u128 = match unit {
        "" => {
            return Err(UnitError::MissingUnit {
                allowed: SIZE_UNITS,
            });
        }
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            return Err(UnitError::UnknownUnit {
                unit: other.to_owned(),
                allowed: SIZE_UNITS,
            });
        }
    };
    scale(num, factor, 1, "bytes")
}

/// Bytes per second; bit rates are divided by 8 (and must come out whole).
pub fn parse_rate(s: &str) -> Result<u64, UnitError> {
    let (num, unit) = split(s)?;
    let (factor, divisor): (u128, u128) = match unit {
        "" => {
            return Err(UnitError::MissingUnit {
                allowed: RATE_UNITS,
            });
        }
        "B/s" => (1, 1),
        "kB/s" | "KB/s" => (1_000, 1),
        "MB/s" => (1_000_000, 1),
        "GB/s" => (1_000_000_000, 1),
        "TB/s" => (1_000_000_000_000, 1),
        "KiB/s" => (1 << 10, 1),
        "MiB/s" => (1 << 20, 1),
        "GiB/s" => (1 << 30, 1),
        "b/s" | "bps" => (1, 8),
        "kb/s" | "kbps" | "Kb/s" => (1_000, 8),
        "Mb/s" | "Mbps" => (1_000_000, 8),
        "Gb/s" | "Gbps" => (1_000_000_000, 8),
        "Tb/s" | "Tbps" => (1_000_000_000_000, 8),
        other => {
            return Err(UnitError::UnknownUnit {
                unit: other.to_owned(),
                allowed: RATE_UNITS,
            });
        }
    };
    scale(num, factor, divisor, "bytes per second")
}

/// Nanoseconds.
pub fn parse_duration(s: &str) -> Result<u64, UnitError> {
    let (num, unit) = split(s)?;
    let factor: u128 = match unit {
        "" => {
            return Err(UnitError::MissingUnit {
                allowed: DURATION_UNITS,
            });
        }
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        other => {
            return Err(UnitError::UnknownUnit {
                unit: other.to_owned(),
                allowed: DURATION_UNITS,
            });
        }
    };
    scale(num, factor, 1, "nanoseconds")
}

/// Most significant digits a number may have (`u128` holds any 38-digit number). Leading
/// zeros and trailing zeros after the point do not count, so
/// `1.000000000000000000000000000000000000000 GB/s` is one digit.
pub const MAX_SIGNIFICANT_DIGITS: usize = 38;

/// A decimal number, exactly: `digits / 10^frac_digits`, with `digits` free of trailing zeros
/// after the point.
struct Decimal {
    digits: u128,
    frac_digits: u32,
}

fn split(s: &str) -> Result<(Decimal, &str), UnitError> {
    let s = s.trim();
    if s.starts_with('-') {
        return Err(UnitError::Negative);
    }
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    let num: String = num.chars().filter(|&c| c != '_').collect();
    if num.is_empty() || num == "." || num.matches('.').count() > 1 {
        return Err(UnitError::BadNumber);
    }
    let (int, frac) = num.split_once('.').unwrap_or((&num, ""));
    // Zeros that do not change the value are dropped before counting digits, so any number
    // of them is fine.
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    // Significant digits: the integer part's, then the fraction's after any zeros that lead
    // the whole number (`0.000125` has three).
    let lead = if int.is_empty() {
        frac.len() - frac.trim_start_matches('0').len()
    } else {
        0
    };
    if int.len() + frac.len() - lead > MAX_SIGNIFICANT_DIGITS {
        // Past 38 significant digits the number is either larger than any quantity (an
        // integer part of more than 21 digits is above 2^64 * 8) or has a fraction no unit
        // can make whole; say which.
        return Err(if int.len() > 21 {
            UnitError::Overflow
        } else {
            UnitError::TooManyDigits
        });
    }
    let mut digits: u128 = 0;
    for c in int.bytes().chain(frac.bytes()) {
        // At most 38 significant digits: 10^38 - 1 < u128::MAX, so this cannot overflow.
        digits = digits * 10 + u128::from(c - b'0');
    }
    Ok((
        Decimal {
            digits,
            frac_digits: frac.len() as u32,
        },
        unit.trim(),
    ))
}

/// A unit's factor and divisor as powers of two and five (every unit is `2^a * 5^b`, every
/// divisor `2^c`), so scaling is exact cancellation rather than a product that can overflow.
#[derive(Clone, Copy)]
struct Factor {
    twos: u32,
    fives: u32,
}

impl Factor {
    fn of(mut n: u128) -> Factor {
        let mut f = Factor { twos: 0, fives: 0 };
        while n > 1 && n.is_multiple_of(2) {
            n /= 2;
            f.twos += 1;
        }
        while n > 1 && n.is_multiple_of(5) {
            n /= 5;
            f.fives += 1;
        }
        debug_assert_eq!(n, 1, "unit factors are 2^a * 5^b");
        f
    }
}

/// `n * factor / divisor`, exactly, or why not: the value is `digits * 2^a * 5^b /
/// (2^(f + c) * 5^f)`; common powers cancel, what is left of the denominator must divide
/// `digits`, and what is left of the numerator multiplies with overflow checks.
fn scale(n: Decimal, factor: u128, divisor: u128, base: &'static str) -> Result<u64, UnitError> {
    let num = Factor::of(factor);
    let div = Factor::of(divisor);
    let den_twos = n.frac_digits + div.twos;
    let den_fives = n.frac_digits + div.fives;
    let cancel_twos = num.twos.min(den_twos);
    let cancel_fives = num.fives.min(den_fives);
    let mut digits = n.digits;
    for (prime, times) in [
        (2u128, den_twos - cancel_twos),
        (5, den_fives - cancel_fives),
    ] {
        for _ in 0..times {
            if !digits.is_multiple_of(prime) {
                return Err(UnitError::NotWhole { base });
            }
            digits /= prime;
        }
    }
    let mut value = digits;
    for (prime, times) in [
        (2u128, num.twos - cancel_twos),
        (5, num.fives - cancel_fives),
    ] {
        for _ in 0..times {
            value = value.checked_mul(prime).ok_or(UnitError::Overflow)?;
        }
    }
    u64::try_from(value).map_err(|_| UnitError::Overflow)
}

/// Formats bytes with the largest binary unit that divides them (`64 KiB`, `1500 B`).
pub fn fmt_size(b: u64) -> String {
    for (unit, shift) in [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if b >= 1 << shift && b.is_multiple_of(1 << shift) {
            return format!("{} {unit}", b >> shift);
        }
    }
    format!("{b} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64 KiB"), Ok(65_536));
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert_eq!(parse_size("1.5 KiB"), Ok(1536));
        assert_eq!(parse_size("16 MiB"), Ok(16 << 20));
        assert_eq!(parse_size("1500 B"), Ok(1500));
        assert_eq!(parse_size("2 GB"), Ok(2_000_000_000));
        assert_eq!(parse_size("1_000 B"), Ok(1000));
        assert_eq!(
            parse_size("64"),
            Err(UnitError::MissingUnit {
                allowed: SIZE_UNITS
            })
        );
        assert!(matches!(
            parse_size("64 KB/s"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert_eq!(
            parse_size("1.3 B"),
            Err(UnitError::NotWhole { base: "bytes" })
        );
        assert_eq!(parse_size("-4 KiB"), Err(UnitError::Negative));
        assert_eq!(parse_size("x KiB"), Err(UnitError::BadNumber));
        assert_eq!(parse_size("99999999999 TiB"), Err(UnitError::Overflow));
    }

    #[test]
    fn rates() {
        // 100 Mb/s Ethernet is 12.5 MB/s exactly; a bit rate that is not whole bytes fails.
        assert_eq!(parse_rate("100 Mb/s"), Ok(12_500_000));
        assert_eq!(parse_rate("100Mbps"), Ok(12_500_000));
        assert_eq!(parse_rate("27 MB/s"), Ok(27_000_000));
        assert_eq!(parse_rate("1.6 GB/s"), Ok(1_600_000_000));
        assert_eq!(parse_rate("1 Gb/s"), Ok(125_000_000));
        assert_eq!(
            parse_rate("1 b/s"),
            Err(UnitError::NotWhole {
                base: "bytes per second"
            })
        );
        assert!(matches!(
            parse_rate("40 MB"),
            Err(UnitError::UnknownUnit { .. })
        ));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.8 us"), Ok(1_800));
        assert_eq!(parse_duration("1.8µs"), Ok(1_800));
        assert_eq!(parse_duration("200 ms"), Ok(200_000_000));
        assert_eq!(
            parse_duration("0.5 ns"),
            Err(UnitError::NotWhole {
                base: "nanoseconds"
            })
        );
        assert!(matches!(
            parse_duration("3 h"),
            Err(UnitError::UnknownUnit { .. })
        ));
    }

    #[test]
    fn many_decimals_are_exact_not_too_large() {
        // Issue 12: these overflowed (a panic in debug builds) or were called "too large".
        // Trailing zeros do not change a decimal's value, so each must equal its short form.
        let zeros = "0".repeat(39);
        assert_eq!(parse_rate(&format!("1.{zeros} GB/s")), Ok(1_000_000_000));
        assert_eq!(
            parse_size(&format!("1.{} KiB", "0".repeat(10_000))),
            Ok(1024)
        );
        assert_eq!(parse_size(&format!("{}1 B", "0".repeat(10_000))), Ok(1));
        // 2^-40 TiB is one byte: 40 fraction digits, more than 10^38 in the plain
        // denominator, yet exact by cancelling powers of two.
        assert_eq!(
            parse_size("0.0000000000009094947017729282379150390625 TiB"),
            Ok(1)
        );
        // A fraction no unit can make whole, and digits past the limit, are refused with the
        // reason rather than wrapped or rounded.
        assert_eq!(
            parse_size(&format!("0.{}1 TiB", "0".repeat(60))),
            Err(UnitError::NotWhole { base: "bytes" })
        );
        assert_eq!(
            parse_size(&format!("0.{} TiB", "1".repeat(40))),
            Err(UnitError::TooManyDigits)
        );
        assert_eq!(
            parse_size(&format!("{} B", "9".repeat(60))),
            Err(UnitError::Overflow)
        );
        assert_eq!(
            parse_rate("0.1 b/s"),
            Err(UnitError::NotWhole {
                base: "bytes per second"
            })
        );
        // The largest byte count parses; one more does not.
        assert_eq!(parse_size("18446744073709551615 B"), Ok(u64::MAX));
        assert_eq!(
            parse_size("18446744073709551616 B"),
            Err(UnitError::Overflow)
        );
        assert_eq!(parse_rate("147573952589676412920 b/s"), Ok(u64::MAX));
    }

    #[test]
    fn size_format_round_trips() {
        for b in [1500, 65_536, 16 << 20, 3 << 30, 1] {
            assert_eq!(parse_size(&fmt_size(b)), Ok(b));
        }
    }
}
