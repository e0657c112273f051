//! The receive chapter's experiments (issue 17): what Linux does with received pages today.
//! Each runs on its scenario file in `scenarios/experiments/`:
//! - `tcp-zc-cpu`: CPU per MiB of `recv-copy` against `tcp-zerocopy-receive` on a wire both
//!   keep up with, at MTU 4168 (every page maps);
//! - `zcrx-200g`: `io-uring-zcrx` against `recv-copy` on one 200 Gb/s flow, one core;
//! - `af-xdp-rxdrop`: `af-xdp` in zero-copy against copy mode, `rxdrop` of 64-byte and
//!   1500-byte frames.
//!
//! Each states the published figure and its source; nothing is fitted.

use models::report::RunReport;
use models::strategy::Strategy;
use serde::Deserialize;

use crate::Scenario;
use crate::experiments_modern::{Run, Verdict};

/// `check = "tcp-zc-cpu"`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TcpZcCpu {
    /// Published CPU per MB of the copying reader and of the mapping one, microseconds.
    pub published_copy_us_per_mb: f64,
    pub published_zerocopy_us_per_mb: f64,
    /// The copying reader's CPU per MiB over the mapping reader's must be above 1 and within
    /// this factor of the published ratio.
    pub within_factor: f64,
    /// Throughputs must agree within this fraction (the comparison is at equal throughput).
    pub throughput_within: f64,
}

/// `check = "zcrx-200g"`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Zcrx200g {
    /// Published throughputs of the copying reader and of io_uring zero-copy receive, Gb/s.
    pub published_copy_gbps: f64,
    pub published_zcrx_gbps: f64,
    /// zcrx over copy must be at least this.
    pub at_least_ratio: f64,
}

/// `check = "af-xdp-rxdrop"`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AfXdpRxdrop {
    /// Published `rxdrop` rates of 64-byte frames, Mpps: copy mode and zero-copy (both with
    /// the XDP program in the driver).
    pub published_copy_mpps: f64,
    pub published_zerocopy_mpps: f64,
    /// On the first workload (the small frames), zero-copy's frame rate over copy mode's
    /// must be at least this.
    pub at_least_ratio: f64,
}

/// Frames the application took off RX per second, millions.
fn mpps(r: &RunReport) -> Result<f64, String> {
    let rx = r
        .receive
        .as_ref()
        .ok_or_else(|| format!("{} received nothing", r.strategy))?;
    Ok(rx.completions as f64 / r.sim_time_ns.max(1) as f64 * 1e3)
}

/// Bus bytes the payload's DMA and copies moved, per payload byte.
fn data_bus_per_byte(r: &RunReport) -> f64 {
    let b = |k: &str| r.breakdown.bus_bytes.get(k).copied().unwrap_or(0);
    (b("dma") + b("copy")) as f64 / r.payload_bytes.max(1) as f64
}

impl AfXdpRxdrop {
    pub fn evaluate(&self, s: &Scenario, run: &Run) -> Result<Verdict, String> {
        let with = |mode| {
            Strategy::AfXdp(models::strategy::XskOptions {
                mode,
                ..s.options.xsk
            })
        };
        let (zc, copy) = (
            with(models::strategy::XskMode::ZeroCopy),
            with(models::strategy::XskMode::Copy),
        );
        let small = (run(s, 0, zc)?, run(s, 0, copy)?);
        let large = (run(s, 1, zc)?, run(s, 1, copy)?);
        let ratio = mpps(&small.0)? / mpps(&small.1)?;
        let published = self.published_zerocopy_mpps / self.published_copy_mpps;
        let mut v = Verdict {
            published: format!(
                "rxdrop of 64-byte frames: copy mode {:.1} Mpps, zero-copy {:.1} Mpps ({published:.2}x)",
                self.published_copy_mpps, self.published_zerocopy_mpps
            ),
            simulated: format!(
                "small frames: copy {:.2} Mpps, zero-copy {:.2} Mpps ({ratio:.2}x); 1500 B: copy {:.2}, zero-copy {:.2} Mpps",
                mpps(&small.1)?,
                mpps(&small.0)?,
                mpps(&large.1)?,
                mpps(&large.0)?
            ),
            tolerance: format!(
                "zero-copy at least {}x copy mode at the small frames; at 1500 B one bus byte per payload byte zero-copy (the DMA), at least two in copy mode (the DMA and the copy's read of it)",
                self.at_least_ratio
            ),
            // The copy's read of a freshly DMAed buffer always misses (no DDIO); its write
            // into the chunk misses too unless the cache holds the UMEM: 2 or 3 more.
            pass: ratio >= self.at_least_ratio
                && data_bus_per_byte(&large.0) <= 1.01
                && data_bus_per_byte(&large.1) >= 2.0,
            details: Vec::new(),
        };
        for (name, (z, c)) in [("small frames", &small), ("1500 B frames", &large)] {
            for r in [z, c] {
                let rx = r.receive.as_ref().expect("checked by mpps");
                let mode = if r.copies.cpu_copy_bytes == 0 {
                    "zero-copy"
                } else {
                    "copy"
                };
                v.details.push(format!(
                    "{name}, {mode}: {} frames received, {} dropped (FILL empty {}, RX ring full {}, NIC ring full {}); payload bus bytes per byte {:.2} (DMA and copies); {:.1} us CPU per MiB; bottleneck {}",
                    rx.completions,
                    rx.frames_dropped,
                    rx.fill_ring_empty_drops,
                    rx.rx_ring_full_drops,
                    rx.nic_ring_full_drops,
                    data_bus_per_byte(r),
                    rx.cpu_us_per_mib,
                    r.bottleneck.name()
                ));
            }
        }
        Ok(v)
    }
}

fn gbps(r: &RunReport) -> f64 {
    r.throughput_bytes_per_sec * 8.0 / 1e9
}

fn us_per_mib(r: &RunReport) -> Result<f64, String> {
    r.receive
        .as_ref()
        .map(|x| x.cpu_us_per_mib)
        .ok_or_else(|| format!("{} received nothing", r.strategy))
}

impl TcpZcCpu {
    pub fn evaluate(&self, s: &Scenario, run: &Run) -> Result<Verdict, String> {
        let copy = run(s, 0, Strategy::RecvCopy)?;
        let zc = run(s, 0, Strategy::TcpZerocopyReceive(s.options.tcp_zc))?;
        let (c, z) = (us_per_mib(&copy)?, us_per_mib(&zc)?);
        let rx = zc.receive.as_ref().expect("checked above");
        let ratio = c / z;
        let published = self.published_copy_us_per_mb / self.published_zerocopy_us_per_mb;
        let same = (gbps(&copy) - gbps(&zc)).abs() <= self.throughput_within * gbps(&copy);
        let mut v = Verdict {
            published: format!(
                "recvmsg {:.0} us per MB, mmap {:.0} us per MB ({:.2}x)",
                self.published_copy_us_per_mb, self.published_zerocopy_us_per_mb, published
            ),
            simulated: format!(
                "recv-copy {c:.1} us per MiB, tcp-zerocopy-receive {z:.1} ({ratio:.2}x), at {:.1} and {:.1} Gb/s",
                gbps(&copy),
                gbps(&zc)
            ),
            tolerance: format!(
                "ratio above 1 and within {}x of the published, throughputs within {:.0}%",
                self.within_factor,
                self.throughput_within * 100.0
            ),
            pass: ratio > 1.0
                && ratio >= published / self.within_factor
                && ratio <= published * self.within_factor
                && same,
            details: Vec::new(),
        };
        v.details.push(format!(
            "tcp-zerocopy-receive: {} pages mapped, {} B copied, {} calls (one VMA lookup each), {} ns of TLB work, bottleneck {}; recv-copy: {} B copied, bottleneck {}",
            rx.pages_mapped,
            rx.copied_bytes,
            zc.vm.vma_lookups,
            zc.breakdown.cpu_ns.get("tlb").copied().unwrap_or(0),
            zc.bottleneck.name(),
            copy.copies.cpu_copy_bytes,
            copy.bottleneck.name()
        ));
        // The same reader at MTU 1500: nothing fills a page, so it copies like recv-copy.
        let mut small = s.clone();
        small.target.world.link.mtu_bytes = 1500;
        small.target.world.link.ipv6 = false;
        let zc1500 = run(&small, 0, Strategy::TcpZerocopyReceive(s.options.tcp_zc))?;
        let rx1500 = zc1500.receive.as_ref().expect("a receive run");
        v.details.push(format!(
            "at MTU 1500: {} pages mapped, {} of {} B copied, {:.1} us per MiB",
            rx1500.pages_mapped, rx1500.copied_bytes, zc1500.payload_bytes, rx1500.cpu_us_per_mib
        ));
        Ok(v)
    }
}

impl Zcrx200g {
    pub fn evaluate(&self, s: &Scenario, run: &Run) -> Result<Verdict, String> {
        let copy = run(s, 0, Strategy::RecvCopy)?;
        let zcrx = run(s, 0, Strategy::IoUringZcrx(s.options.zcrx))?;
        let ratio = zcrx.throughput_bytes_per_sec / copy.throughput_bytes_per_sec;
        let rx = zcrx
            .receive
            .as_ref()
            .ok_or("io-uring-zcrx received nothing")?;
        let mut v = Verdict {
            published: format!(
                "epoll {:.1} Gb/s, io_uring zcrx {:.1} Gb/s ({:.2}x), one core",
                self.published_copy_gbps,
                self.published_zcrx_gbps,
                self.published_zcrx_gbps / self.published_copy_gbps
            ),
            simulated: format!(
                "recv-copy {:.1} Gb/s, io-uring-zcrx {:.1} Gb/s ({ratio:.2}x)",
                gbps(&copy),
                gbps(&zcrx)
            ),
            tolerance: format!("zcrx at least {}x recv-copy", self.at_least_ratio),
            pass: ratio >= self.at_least_ratio,
            details: Vec::new(),
        };
        v.details.push(format!(
            "recv-copy: bottleneck {}, {:.1} us CPU per MiB; io-uring-zcrx: bottleneck {}, {:.1} us per MiB, {} completions, {} B copied, area ran out for {} pages",
            copy.bottleneck.name(),
            us_per_mib(&copy)?,
            zcrx.bottleneck.name(),
            rx.cpu_us_per_mib,
            rx.completions,
            rx.copied_bytes,
            rx.area_exhausted_pages
        ));
        Ok(v)
    }
}
