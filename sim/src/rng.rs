//! Seeded random streams.
//!
//! One root seed per run (default 1, printed in every report). Each component that draws random
//! numbers (a lossy link, a workload, a PHOLD process) gets its own [`SimRng`] stream from
//! [`RngStreams::stream`]: ChaCha8 keyed by the root seed, with the component's id as the ChaCha
//! *stream* number. Streams never overlap, so adding a component or changing how often one draws
//! cannot shift the numbers another one sees.
//!
//! Portability: ChaCha8's output is fixed by its specification, the key is the seed's
//! little-endian bytes (no seed-expansion function whose details could change), and the
//! conversions to `f64` and to exponential variates below are written here with a
//! platform-independent logarithm (`libm`), so a seed gives the same numbers on every platform
//! and every version of this crate.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::time::SimDuration;

/// The generator every component uses.
pub type SimRng = ChaCha8Rng;

/// Derives independent per-component streams from one root seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RngStreams {
    root_seed: u64,
}

impl RngStreams {
    pub fn new(root_seed: u64) -> Self {
        RngStreams { root_seed }
    }

    pub fn root_seed(&self) -> u64 {
        self.root_seed
    }

    /// The stream numbered `stream_id`.
    pub fn stream(&self, stream_id: u64) -> SimRng {
        let mut key = [0u8; 32];
        key[..8].copy_from_slice(&self.root_seed.to_le_bytes());
        let mut rng = ChaCha8Rng::from_seed(key);
        rng.set_stream(stream_id);
        rng
    }

    /// The stream for a named component and an index within it (e.g. `("link.loss", 0)`).
    /// The name is hashed with FNV-1a, so ids are stable as long as names are.
    pub fn named_stream(&self, name: &str, index: u64) -> SimRng {
        let id = Fnv1a::new()
            .write(name.as_bytes())
            .write_u64(index)
            .finish();
        self.stream(id)
    }
}

/// A uniform draw in `[0, 1)` with 53 random bits: `(x >> 11) × 2⁻⁵³`. Exact in `f64`.
#[inline]
pub fn unit_f64<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in `0..n` (Lemire's multiply-shift; its bias, under n/2⁶⁴, is immaterial
/// here). Panics on `n == 0`.
#[inline]
pub fn below<R: Rng + ?Sized>(rng: &mut R, n: u64) -> u64 {
    assert!(n > 0, "below(0)");
    ((rng.next_u64() as u128 * n as u128) >> 64) as u64
}

/// An exponentially distributed duration with the given mean, by inversion
/// (`-mean × ln(1 - u)`), rounded to the nearest nanosecond.
#[inline]
pub fn exp_duration<R: Rng + ?Sized>(rng: &mut R, mean: SimDuration) -> SimDuration {
    let u = unit_f64(rng);
    let x = -(mean.as_nanos() as f64) * libm::log(1.0 - u);
    SimDuration::from_nanos(libm::round(x) as u64)
}

/// `true` with probability `p`.
#[inline]
pub fn chance<R: Rng + ?Sized>(rng: &mut R, p: f64) -> bool {
    unit_f64(rng) < p
}

/// 64-bit FNV-1a, for stream ids and run checksums. Chosen for being tiny, specified and
/// identical everywhere; it is not a cryptographic or collision-resistant hash.
#[derive(Clone, Copy, Debug)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv1a {
    pub fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }

    pub fn write(mut self, bytes: &[u8]) -> Self {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }

    pub fn write_u64(self, v: u64) -> Self {
        self.write(&v.to_le_bytes())
    }

    pub fn finish(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_streams_differ() {
        let s = RngStreams::new(7);
        let a: Vec<u64> = (0..4).map(|_| s.stream(3).next_u64()).collect();
        assert!(
            a.windows(2).all(|w| w[0] == w[1]),
            "a fresh stream restarts"
        );
        let mut x = s.stream(3);
        let mut y = s.stream(4);
        assert_ne!(x.next_u64(), y.next_u64(), "streams 3 and 4 must differ");
        let mut z = RngStreams::new(8).stream(3);
        assert_ne!(
            s.stream(3).next_u64(),
            z.next_u64(),
            "seeds 7 and 8 must differ"
        );
    }

    #[test]
    fn known_values_are_pinned() {
        // Pins the first draws of seed 1, stream 0 and of the FNV hash: if a dependency upgrade
        // or a refactor changes them, every published figure would silently move.
        let mut r = RngStreams::new(1).stream(0);
        let first = r.next_u64();
        let second = r.next_u64();
        assert_eq!((first, second), PINNED_SEED1_STREAM0);
        assert_eq!(Fnv1a::new().write(b"a").finish(), 0xaf63_dc4c_8601_ec8c);
    }

    const PINNED_SEED1_STREAM0: (u64, u64) = (0x61a9_4a49_a0e9_5ecf, 0x4b80_5b72_edd5_053e);

    #[test]
    fn exp_mean_is_close() {
        // 200k draws of Exp(1000 ns): the sample mean's standard error is ~2.2 ns, so 1% is
        // a safe bound that still catches a wrong formula (e.g. ln(u) sign or a missing mean).
        let mut r = RngStreams::new(1).stream(9);
        let n = 200_000u64;
        let total: u64 = (0..n)
            .map(|_| exp_duration(&mut r, SimDuration::from_nanos(1000)).as_nanos())
            .sum();
        let mean = total as f64 / n as f64;
        assert!((mean - 1000.0).abs() < 10.0, "mean {mean}");
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = RngStreams::new(1).stream(2);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let x = below(&mut r, 7);
            seen[x as usize] = true;
        }
        assert!(
            seen.iter().all(|&s| s),
            "every value of 0..7 appears in 1000 draws"
        );
    }
}
