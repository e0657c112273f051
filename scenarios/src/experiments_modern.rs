//! The modern chapter's experiments (issue 16): what Linux answered the seeds with, twenty
//! years on. Three checks, each run on its scenario file in `scenarios/experiments/`:
//! - `ktls-bus`: bus bytes per payload byte of `sendfile`, software kTLS and NIC kTLS with
//!   `TLS_TX_ZEROCOPY_RO`, files read from disk (the memory-bandwidth argument of a CDN);
//! - `zerocopy-break-even`: `copy` against `msg-zerocopy` (and `io-uring-send-zc`) across
//!   write sizes, printing the smallest size at which zero copy is faster;
//! - `send-zc-wait`: `io-uring-send-zc` waiting for every notification against pipelined.
//!
//! Each states the published figure and its source; nothing is fitted.

use models::report::RunReport;
use models::strategy::{KtlsOptions, Strategy, TlsMode, UringZcOptions, ZcOptions};
use models::workload::Workload;
use serde::Deserialize;

use crate::Scenario;

/// `check = "ktls-bus"`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KtlsBus {
    /// Published bus bytes per payload byte of `sendfile` (and of NIC kTLS).
    pub published_sendfile: f64,
    /// Published bus bytes per payload byte of software kTLS.
    pub published_software: f64,
    /// Software kTLS over sendfile must be at least this.
    pub at_least_ratio: f64,
}

/// `check = "zerocopy-break-even"`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ZerocopyBreakEven {
    /// The published write size above which MSG_ZEROCOPY pays, bytes.
    pub published_bytes: u64,
    /// The simulated break-even must lie within this factor of it.
    pub within_factor: f64,
}

/// `check = "send-zc-wait"`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SendZcWait {
    /// Published slowdown of waiting for each notification.
    pub published_ratio: f64,
    /// The simulated slowdown must be at least this.
    pub at_least: f64,
}

/// A verdict, in the words `zcsim reproduce` prints.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    pub published: String,
    pub simulated: String,
    pub tolerance: String,
    pub pass: bool,
    pub details: Vec<String>,
}

/// Runs one strategy on workload `w` of a scenario (the caller's runner).
pub type Run<'a> = dyn Fn(&Scenario, usize, Strategy) -> Result<RunReport, String> + 'a;

fn gbps(r: &RunReport) -> f64 {
    r.throughput_bytes_per_sec / 1e9
}

impl KtlsBus {
    pub fn evaluate(&self, s: &Scenario, run: &Run) -> Result<Verdict, String> {
        let ktls = |mode, zerocopy_ro| Strategy::SendfileKtls(KtlsOptions { mode, zerocopy_ro });
        let modes = [
            (
                "sendfile",
                Strategy::Sendfile {
                    linux_fallback: true,
                },
            ),
            ("software kTLS", ktls(TlsMode::Software, false)),
            ("NIC kTLS", ktls(TlsMode::NicOffload, false)),
            ("NIC kTLS ZEROCOPY_RO", ktls(TlsMode::NicOffload, true)),
        ];
        let mut v = Verdict::default();
        let mut per_byte = Vec::new();
        for (name, st) in modes {
            let r = run(s, 0, st)?;
            v.details.push(format!(
                "{name}: {:.2} bus bytes per payload byte, {:.2} GB/s, bottleneck {}, crypto CPU {} ns",
                r.bus_bytes_per_payload_byte,
                gbps(&r),
                r.bottleneck.name(),
                r.breakdown.cpu_ns.get("crypto").copied().unwrap_or(0)
            ));
            per_byte.push(r.bus_bytes_per_payload_byte);
        }
        // The same runs on a bus without write-allocate, where a copy-like pass is 2 bus
        // bytes per byte (the Netflix arithmetic) instead of 3.
        let mut plain = s.clone();
        plain.target.world.machine.costs.write_allocate = false;
        let sf = run(&plain, 0, modes[0].1)?.bus_bytes_per_payload_byte;
        let sw = run(&plain, 0, modes[1].1)?.bus_bytes_per_payload_byte;
        v.details.push(format!(
            "without write-allocate: sendfile {sf:.2}, software kTLS {sw:.2} bus bytes per byte"
        ));
        let ratio = per_byte[1] / per_byte[0];
        v.published = format!(
            "sendfile and NIC kTLS {:.0}, software kTLS {:.0} bus bytes per byte",
            self.published_sendfile, self.published_software
        );
        v.simulated = format!(
            "sendfile {:.2}, software {:.2} ({ratio:.2}x), NIC {:.2}, NIC ZEROCOPY_RO {:.2}; {sf:.2} / {sw:.2} without write-allocate",
            per_byte[0], per_byte[1], per_byte[2], per_byte[3]
        );
        v.tolerance = format!(
            "software at least {}x sendfile; ZEROCOPY_RO within 5% of sendfile",
            self.at_least_ratio
        );
        v.pass =
            ratio >= self.at_least_ratio && (per_byte[3] - per_byte[0]).abs() <= 0.05 * per_byte[0];
        Ok(v)
    }
}

impl ZerocopyBreakEven {
    pub fn evaluate(&self, s: &Scenario, run: &Run) -> Result<Verdict, String> {
        let mut v = Verdict::default();
        let mut zc_even: Option<u64> = None;
        let mut uring_even: Option<u64> = None;
        let send_buffer = s.target.world.tcp.send_buffer_bytes;
        for (i, wr) in s.runs.iter().enumerate() {
            let Workload::BulkSend { write_size, .. } = wr.workload else {
                return Err("zerocopy-break-even needs bulk-send workloads".into());
            };
            // The application keeps enough buffers to fill its socket buffer (it may reuse
            // one only after its completion): no more, no fewer.
            let buffers = send_buffer.div_ceil(write_size).max(1);
            let copy = run(s, i, Strategy::Copy)?;
            let zc = run(
                s,
                i,
                Strategy::MsgZerocopy(ZcOptions {
                    buffers,
                    ..ZcOptions::default()
                }),
            )?;
            let uring = run(
                s,
                i,
                Strategy::IoUringSendZc(UringZcOptions {
                    buffers,
                    ..UringZcOptions::default()
                }),
            )?;
            if zc_even.is_none() && zc.throughput_bytes_per_sec > copy.throughput_bytes_per_sec {
                zc_even = Some(write_size);
            }
            if uring_even.is_none()
                && uring.throughput_bytes_per_sec > copy.throughput_bytes_per_sec
            {
                uring_even = Some(write_size);
            }
            v.details.push(format!(
                "{write_size} B writes ({buffers} buffers): copy {:.2} GB/s, msg-zerocopy {:.2} GB/s ({} errqueue reads), io-uring-send-zc {:.2} GB/s",
                gbps(&copy),
                gbps(&zc),
                zc.zerocopy.errqueue_reads + zc.zerocopy.errqueue_empty_reads,
                gbps(&uring)
            ));
        }
        let name = |b: Option<u64>| b.map_or("never".to_owned(), |b| format!("{b} B"));
        v.published = format!(
            "MSG_ZEROCOPY \"generally only effective at writes over around {} KB\"",
            self.published_bytes / 1000
        );
        v.simulated = format!(
            "msg-zerocopy beats copy from {}; io-uring-send-zc (registered buffers) from {}",
            name(zc_even),
            name(uring_even)
        );
        v.tolerance = format!("within {}x", self.within_factor);
        let p = self.published_bytes as f64;
        v.pass = zc_even.is_some_and(|b| {
            let b = b as f64;
            b >= p / self.within_factor && b <= p * self.within_factor
        });
        Ok(v)
    }
}

impl SendZcWait {
    pub fn evaluate(&self, s: &Scenario, run: &Run) -> Result<Verdict, String> {
        let piped = run(s, 0, Strategy::IoUringSendZc(UringZcOptions::default()))?;
        let waited = run(
            s,
            0,
            Strategy::IoUringSendZc(UringZcOptions {
                wait_each: true,
                ..UringZcOptions::default()
            }),
        )?;
        let ratio = piped.throughput_bytes_per_sec / waited.throughput_bytes_per_sec;
        let mut lo = s.clone();
        lo.target.loopback = true;
        lo.target.finish();
        let lo_piped = run(&lo, 0, Strategy::IoUringSendZc(UringZcOptions::default()))?;
        let lo_waited = run(
            &lo,
            0,
            Strategy::IoUringSendZc(UringZcOptions {
                wait_each: true,
                ..UringZcOptions::default()
            }),
        )?;
        let mut v = Verdict {
            published: format!(
                "{:.1}x slower waiting for each notification",
                self.published_ratio
            ),
            simulated: format!(
                "{ratio:.2}x slower ({:.2} GB/s pipelined, {:.2} GB/s waiting)",
                gbps(&piped),
                gbps(&waited)
            ),
            tolerance: format!("at least {}x", self.at_least),
            pass: ratio >= self.at_least,
            details: Vec::new(),
        };
        v.details.push(format!(
            "waiting: {} sleeps for a notification, {} syscalls; pipelined: {} sleeps, {} syscalls",
            waited.zerocopy.completion_waits,
            waited.net.syscalls,
            piped.zerocopy.completion_waits,
            piped.net.syscalls
        ));
        v.details.push(format!(
            "on loopback: {:.2} GB/s pipelined, {:.2} GB/s waiting ({:.2}x): the model's loopback completes a send at the local ACK, without the notification's task-work delay",
            gbps(&lo_piped),
            gbps(&lo_waited),
            lo_piped.throughput_bytes_per_sec / lo_waited.throughput_bytes_per_sec
        ));
        Ok(v)
    }
}
