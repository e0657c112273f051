//! `zcsim calibrate`: measures this machine with real system calls and writes a target
//! preset (the format of `scenarios/presets/*.toml`), every measured value with its median,
//! spread and method in a comment. Linux only, behind the `host` feature.

use super::{Context, Failure, Outcome};

#[derive(clap::Args, Debug, Default)]
pub struct Args {
    /// Write the preset here (default: standard output). Use it with `--preset FILE`.
    #[arg(long)]
    pub out: Option<String>,
    /// Few repetitions and small sizes: seconds instead of a minute (for tests).
    #[arg(long)]
    pub quick: bool,
}

#[cfg(not(all(feature = "host", target_os = "linux")))]
pub fn execute(_cx: &mut Context, _a: Args) -> Outcome {
    Err(Failure::User(
        "zcsim calibrate is not supported on this build: it needs Linux and the `host` feature"
            .into(),
    ))
}

#[cfg(all(feature = "host", target_os = "linux"))]
pub fn execute(cx: &mut Context, a: Args) -> Outcome {
    use crate::host::HostError;
    // Refuse an unwritable --out before a minute of measuring, leaving nothing behind.
    if let Some(out) = &a.out {
        probe_writable(out).map_err(|err| {
            host_failure(HostError::Output {
                path: out.clone(),
                err,
            })
        })?;
    }
    let text = preset::measure(a.quick).map_err(host_failure)?;
    match &a.out {
        Some(out) => {
            write_atomically(out, &text).map_err(|err| {
                host_failure(HostError::Output {
                    path: out.clone(),
                    err,
                })
            })?;
            super::note(&format!(
                "wrote {out}; use it with: zcsim compare --preset {out}"
            ));
        }
        None => write!(cx.out, "{text}")?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(all(feature = "host", target_os = "linux"))]
use std::io::Write;

#[cfg(all(feature = "host", target_os = "linux"))]
pub fn host_failure(e: crate::host::HostError) -> Failure {
    Failure::User(e.to_string())
}

/// The temporary file `out` is written through before it is renamed into place.
#[cfg(all(feature = "host", target_os = "linux"))]
fn temp_path(out: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(out);
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    p.with_file_name(format!(".{name}.zcsim-{}.tmp", std::process::id()))
}

/// Creates and removes the temporary file: `out`'s directory takes new files.
#[cfg(all(feature = "host", target_os = "linux"))]
fn probe_writable(out: &str) -> std::io::Result<()> {
    if std::path::Path::new(out).is_dir() {
        return Err(std::io::Error::other("is a directory"));
    }
    let tmp = temp_path(out);
    std::fs::File::create_new(&tmp)?;
    std::fs::remove_file(&tmp)
}

/// Writes `text` to a temporary file beside `out`, then renames it over `out`; on failure the
/// temporary file is removed.
#[cfg(all(feature = "host", target_os = "linux"))]
fn write_atomically(out: &str, text: &str) -> std::io::Result<()> {
    let tmp = temp_path(out);
    let r = (|| {
        let mut f = std::fs::File::create_new(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, out)
    })();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

#[cfg(all(feature = "host", target_os = "linux"))]
pub mod preset {
    //! The measurements and the preset text.

    use crate::host::measure::*;
    use crate::host::{HostError, Plan, Stats, progress};

    /// One line of the preset.
    struct Line {
        key: &'static str,
        value: String,
        comment: String,
    }

    fn gbs(rate: f64) -> String {
        format!("{} MB/s", (rate / 1e6).round().max(1.0) as u64)
    }

    fn ns(t: f64) -> String {
        format!("{} ns", t.round().max(1.0) as u64)
    }

    fn rate_note(s: &Stats, method: &str) -> String {
        format!(
            "median {:.2} GB/s, min-max {:.2}-{:.2} over {} reps; {method}",
            s.median / 1e9,
            s.min / 1e9,
            s.max / 1e9,
            s.reps
        )
    }

    fn ns_note(s: &Stats, method: &str) -> String {
        format!(
            "median {:.0} ns, min-max {:.0}-{:.0} over {} reps; {method}",
            s.median, s.min, s.max, s.reps
        )
    }

    fn read_sys(path: &str) -> Option<String> {
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_owned())
    }

    /// The maximum of a `tcp_wmem`/`tcp_rmem` triple.
    fn buffer_max(path: &str) -> Option<u64> {
        read_sys(path)?.split_whitespace().nth(2)?.parse().ok()
    }

    /// The last-level cache of CPU 0 as sysfs describes it (`cache/index*/`, the highest
    /// level of data or unified cache): (bytes, level), or `None` where sysfs says nothing
    /// (some virtual machines).
    fn last_level_cache() -> Option<(u64, u32)> {
        let base = "/sys/devices/system/cpu/cpu0/cache";
        let mut best: Option<(u64, u32)> = None;
        for i in 0..8 {
            let dir = format!("{base}/index{i}");
            let Some(level) = read_sys(&format!("{dir}/level")).and_then(|l| l.parse().ok()) else {
                continue;
            };
            if read_sys(&format!("{dir}/type")).is_some_and(|t| t == "Instruction") {
                continue;
            }
            let Some(size) = read_sys(&format!("{dir}/size")).and_then(|s| parse_cache_size(&s))
            else {
                continue;
            };
            if best.is_none_or(|(_, l)| level > l) {
                best = Some((size, level));
            }
        }
        best
    }

    /// sysfs cache sizes: "32768K", "1024K", "32M".
    fn parse_cache_size(s: &str) -> Option<u64> {
        let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
        let n: u64 = digits.parse().ok()?;
        match unit {
            "K" => Some(n << 10),
            "M" => Some(n << 20),
            "G" => Some(n << 30),
            _ => None,
        }
    }

    /// Measures this machine and returns the preset's text.
    pub fn measure(quick: bool) -> Result<String, HostError> {
        let plan = Plan::new(quick);
        let mut lines: Vec<Line> = Vec::new();
        let mut push = |key, value: String, comment: String| {
            lines.push(Line {
                key,
                value,
                comment,
            })
        };
        // Without loopback TCP there is no point measuring the rest: refuse at once.
        drop(crate::host::loopback_pair()?);
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cold = 64 << 20;
        let hot = 256 << 10;

        progress("calibrate: memcpy, hot (256 KiB) and cold (64 MiB) buffers");
        let hot_copy = copy_rate(plan, hot, if quick { 64 } else { 512 })?;
        let cold_copy = copy_rate(plan, cold, 1)?;
        // A copy the model calls hot finds its data in the last-level cache, which on current
        // x86 is far larger than the private L2 the 256 KiB copy runs in: measure two buffers
        // of an eighth of it each, resident there and out of the L2.
        let llc = last_level_cache();
        let llc_copy = match llc {
            Some((bytes, _)) if bytes >= 4 * hot as u64 => {
                let size = (bytes / 8) as usize;
                progress(&format!(
                    "calibrate: memcpy, last-level-cache resident ({} KiB buffers)",
                    size >> 10
                ));
                let rounds = (128 << 20) / size / if quick { 8 } else { 1 };
                Some((size, copy_rate(plan, size, rounds.max(1))?))
            }
            _ => None,
        };
        progress("calibrate: checksum and zero-fill (64 MiB)");
        let csum = checksum_rate(plan, cold)?;
        let zero = zero_rate(plan, cold)?;
        progress("calibrate: syscall (getppid), pipe calls, context switch");
        let calls = if quick { 20_000 } else { 200_000 };
        let sys = syscall_ns(plan, calls)?;
        let pipe = pipe_call_ns(plan, calls / 4)?;
        let cs = context_switch_ns(plan, calls / 20, pipe.median)?;
        progress("calibrate: page faults (anonymous read/write, copy-on-write)");
        let pages = if quick { 1024 } else { 8192 };
        let rd = anon_fault_ns(plan, pages, false)?;
        let wr = anon_fault_ns(plan, pages, true)?;
        let file = scratch(pages)?;
        let cow = cow_fault_ns(plan, &file, pages)?;
        progress("calibrate: mmap and munmap of a cached file");
        let batch = if quick { 64 } else { 512 };
        let big = 256;
        let (map1, unmap1) = map_unmap_ns(plan, &file, 1, false, batch)?;
        let (mapn, unmapn) = map_unmap_ns(plan, &file, big, true, batch / 8)?;
        drop(file);
        progress("calibrate: loopback TCP, per segment and per byte");
        let small_total = if quick { 1 << 20 } else { 8 << 20 };
        let mut small = Vec::new();
        for size in [64usize, 1024, 4096, 16384] {
            let s = loopback_send_ns(plan, size, small_total)?;
            small.push((size as f64, s.median));
        }
        let large_total = if quick { 8 << 20 } else { 64 << 20 };
        let mut large = Vec::new();
        for size in [64usize << 10, 256 << 10, 1 << 20] {
            let s = loopback_send_ns(plan, size, large_total)?;
            large.push((size as f64, s.median));
        }
        let (per_send, _) = fit_line(&small);
        let (_, per_byte) = fit_line(&large);

        // Derived costs, each the measured whole less the parts the model charges apart.
        let page = page() as f64;
        let zero_page_ns = page / zero.median * 1e9;
        let hot_page_copy_ns = page / hot_copy.median * 1e9;
        let page_alloc = (wr.median - rd.median - zero_page_ns).max(10.0);
        let cow_fault = (cow.median - hot_page_copy_ns - page_alloc).max(cow.median * 0.1);
        let mmap_per_page = ((mapn.median - map1.median) / (big - 1) as f64).max(1.0);
        let munmap_per_page = ((unmapn.median - unmap1.median) / (big - 1) as f64).max(1.0);
        let per_segment = ((per_send - sys.median) / 2.0).max(10.0);
        let mtu: u64 = read_sys("/sys/class/net/lo/mtu")
            .and_then(|m| m.parse().ok())
            .unwrap_or(65536);
        let wmem = buffer_max("/proc/sys/net/ipv4/tcp_wmem").unwrap_or(4 << 20);
        let rmem = buffer_max("/proc/sys/net/ipv4/tcp_rmem").unwrap_or(6 << 20);

        push(
            "cpus",
            cpus.to_string(),
            "std::thread::available_parallelism".into(),
        );
        // A cold copy reads the source and (write-allocate) reads then writes the destination:
        // three bus bytes per byte; a bus this fast lets one copy run at the measured rate.
        push(
            "memory_bus",
            gbs(cold_copy.median * 3.0),
            format!(
                "3 x the cold copy rate (read + write-allocate + write back); {}",
                rate_note(&cold_copy, "memcpy of 64 MiB")
            ),
        );
        push(
            "write_allocate",
            "true".into(),
            "x86 stores allocate lines (non-temporal copies aside)".into(),
        );
        push(
            "cpu_copy_rate",
            gbs(cold_copy.median),
            rate_note(
                &cold_copy,
                "copy_from_slice between two 64 MiB buffers (cold)",
            ),
        );
        let l2_note = format!(
            "256 KiB buffers (in the private L2) run at {:.2} GB/s (min-max {:.2}-{:.2})",
            hot_copy.median / 1e9,
            hot_copy.min / 1e9,
            hot_copy.max / 1e9
        );
        match &llc_copy {
            Some((size, s)) => push(
                "cpu_copy_hot_rate",
                gbs(s.median),
                format!(
                    "{}; {l2_note}",
                    rate_note(
                        s,
                        &format!(
                            "copy_from_slice between two {} KiB buffers (an eighth of the last-level cache each: resident there, not in the L2)",
                            size >> 10
                        )
                    )
                ),
            ),
            None => push(
                "cpu_copy_hot_rate",
                gbs(hot_copy.median),
                format!(
                    "{}; sysfs names no last-level cache, so the L2-resident rate stands for it",
                    rate_note(&hot_copy, "copy_from_slice between two 256 KiB buffers")
                ),
            ),
        }
        push(
            "llc_bytes",
            match llc {
                Some((bytes, _)) => format!("{} KiB", bytes >> 10),
                None => "0 KiB".into(),
            },
            match llc {
                Some((_, level)) => format!(
                    "L{level} of CPU 0 (/sys/devices/system/cpu/cpu0/cache); a guest sees the size the hypervisor reports, shared with whatever else runs on the same cores"
                ),
                None => "sysfs names no cache: no cache model".into(),
            },
        );
        push(
            "cpu_checksum_rate",
            gbs(csum.median),
            rate_note(&csum, "RFC 1071 checksum loop in Rust over 64 MiB"),
        );
        push(
            "cpu_zero_rate",
            gbs(zero.median),
            rate_note(&zero, "fill(0) of 64 MiB"),
        );
        push(
            "syscall",
            ns(sys.median),
            ns_note(&sys, &format!("getppid x {calls}")),
        );
        push(
            "context_switch",
            ns(cs.median),
            ns_note(
                &cs,
                &format!(
                    "two threads pinned to CPU 0 ping-pong a byte over two pipes; (round trip - 4 pipe calls of {:.0} ns) / 2",
                    pipe.median
                ),
            ),
        );
        push(
            "ipi",
            "1 us".into(),
            "not measured (needs kernel tracing); server-2024's estimate".into(),
        );
        push(
            "trap",
            ns(sys.median),
            "not measured apart: taken as the syscall entry/exit above".into(),
        );
        push(
            "minor_fault",
            ns(rd.median),
            ns_note(
                &rd,
                &format!(
                    "read one byte of each of {pages} fresh anonymous pages (MADV_NOHUGEPAGE; maps the zero page)"
                ),
            ),
        );
        push("major_fault", "2 us".into(), "not measured (needs a cold page cache: dropping caches needs root and disturbs the machine); server-2024's value".into());
        push(
            "cow_fault",
            ns(cow_fault),
            format!(
                "{}; less the page copy at the hot rate ({hot_page_copy_ns:.0} ns) and page_alloc",
                ns_note(
                    &cow,
                    "write each page of a private mapping of a cached file after reading it"
                )
            ),
        );
        push(
            "pte_update",
            "10 ns".into(),
            "not measured apart (inside the faults above); server-2024's value".into(),
        );
        push(
            "tlb_flush",
            "100 ns".into(),
            "not measurable from user space apart from munmap; server-2024's value".into(),
        );
        push(
            "tlb_shootdown",
            "2 us".into(),
            "not measured; server-2024's value".into(),
        );
        push(
            "vma_cache_hit",
            "10 ns".into(),
            "not measured apart (inside the faults above); server-2024's value".into(),
        );
        push(
            "vma_per_level",
            "20 ns".into(),
            "not measured apart; server-2024's value".into(),
        );
        push(
            "mmap",
            ns(map1.median),
            ns_note(
                &map1,
                &format!("mmap of one page of a cached file, {batch} per sample"),
            ),
        );
        push(
            "mmap_per_page",
            ns(mmap_per_page),
            format!(
                "(mmap MAP_POPULATE of {big} pages - mmap of 1) / {}; {}",
                big - 1,
                ns_note(&mapn, "populated mmap")
            ),
        );
        push(
            "munmap",
            ns(unmap1.median),
            ns_note(&unmap1, "munmap of the one-page mappings above"),
        );
        push(
            "munmap_per_page",
            ns(munmap_per_page),
            format!(
                "(munmap of {big} mapped pages - munmap of 1) / {}, TLB flush included; {}",
                big - 1,
                ns_note(&unmapn, "munmap of populated mappings")
            ),
        );
        push(
            "loan_per_page",
            "100 ns".into(),
            "not measured: Linux has no page loaning; server-2024's value".into(),
        );
        push(
            "unloan_per_page",
            "80 ns".into(),
            "not measured: Linux has no page loaning; server-2024's value".into(),
        );
        push(
            "page_alloc",
            ns(page_alloc),
            format!(
                "write fault - read fault - zeroing a page ({zero_page_ns:.0} ns); {}",
                ns_note(&wr, "write one byte of each fresh anonymous page")
            ),
        );
        push(
            "disk_latency",
            "80 us".into(),
            "not measured (files are served from the page cache here); server-2024's value".into(),
        );
        push(
            "disk_rate",
            "5 GB/s".into(),
            "not measured; server-2024's value".into(),
        );
        push(
            "user_space",
            "128 TiB".into(),
            "x86-64 user address space".into(),
        );
        push(
            "read_ahead",
            "128 KiB".into(),
            "not measured (files are served from the page cache here); Linux's default read_ahead_kb (VM_READAHEAD_PAGES)".into(),
        );
        push(
            "fault_around_bytes",
            "64 KiB".into(),
            "not measured (/sys/kernel/debug/fault_around_bytes needs root); Linux's default since 3.15 (mm/memory.c)".into(),
        );
        push(
            "link",
            "\"loopback\"".into(),
            "measured over 127.0.0.1".into(),
        );
        push("mtu_bytes", mtu.to_string(), "/sys/class/net/lo/mtu".into());
        push("tcp_timestamps", "true".into(), "Linux default".into());
        push("rtt", "10 us".into(), "not used on loopback".into());
        push("loss", "0.0".into(), "loopback loses nothing".into());
        for (k, v) in [
            ("tx_ring_slots", "4096"),
            ("rx_ring_slots", "4096"),
            ("dma_rate", "\"32 GB/s\""),
            ("scatter_gather", "true"),
            ("max_frags", "18"),
            ("checksum_offload", "true"),
            ("header_split", "false"),
            ("tx_coalesce", "64"),
        ] {
            push(
                k,
                v.into(),
                "no NIC on loopback (no checksum either); unused".into(),
            );
        }
        push(
            "send_buffer",
            format!("\"{} KiB\"", wmem >> 10),
            "tcp_wmem maximum (/proc/sys/net/ipv4/tcp_wmem)".into(),
        );
        push(
            "recv_buffer",
            format!("\"{} KiB\"", rmem >> 10),
            "tcp_rmem maximum (/proc/sys/net/ipv4/tcp_rmem)".into(),
        );
        push(
            "window",
            format!("\"{} KiB\"", rmem >> 10),
            "as recv_buffer".into(),
        );
        push("ack_every", "2".into(), "Linux default".into());
        push(
            "delayed_ack",
            "40 ms".into(),
            "Linux's minimum delayed-ACK timer".into(),
        );
        push("rto", "200 ms".into(), "Linux's minimum RTO".into());
        push(
            "initial_window",
            "10".into(),
            "Linux since 2.6.39 (RFC 6928)".into(),
        );
        push("congestion_control", "true".into(), "Linux".into());
        push(
            "tcp_nodelay",
            "false".into(),
            "the default socket option".into(),
        );
        push(
            "nagle",
            "\"minshall\"".into(),
            "Linux: tcp_minshall_check".into(),
        );
        let fit = format!(
            "a line through send() time vs size (64 B-16 KiB, TCP_NODELAY, one segment each, a receiver thread draining) crosses 0 at {per_send:.0} ns per send; less the syscall ({:.0} ns), halved between output and loopback input",
            sys.median
        );
        push("tcp_output_per_segment", ns(per_segment), fit.clone());
        push(
            "tcp_input_per_segment",
            ns(per_segment),
            "see tcp_output_per_segment (loopback input runs on the sender's CPU)".into(),
        );
        push(
            "tcp_ack",
            "200 ns".into(),
            "not measured apart; server-2024's value".into(),
        );
        push(
            "driver_per_frag",
            "30 ns".into(),
            "no driver on loopback; unused".into(),
        );
        push(
            "interrupt",
            "300 ns".into(),
            "no interrupt on loopback; unused".into(),
        );
        push(
            "tx_complete_per_packet",
            "50 ns".into(),
            "no NIC; unused".into(),
        );
        push(
            "mbuf",
            "20 ns".into(),
            "not measured apart; server-2024's value".into(),
        );
        push(
            "socket_per_chunk",
            "100 ns".into(),
            format!(
                "not measured apart; server-2024's value. For reference, sends of 64 KiB-1 MiB cost {:.3} ns per byte ({:.2} GB/s) beyond a fixed cost",
                per_byte,
                1.0 / per_byte.max(1e-12)
            ),
        );
        push(
            "fused_copy_checksum",
            "false".into(),
            "loopback does not checksum".into(),
        );
        push(
            "cpu_crypto_rate",
            "\"4 GB/s\"".into(),
            "not measured; server-2024's value (AES-GCM with AES-NI, an estimate)".into(),
        );
        push(
            "tso",
            "true".into(),
            "Linux's lo advertises TSO/GSO, so the stack hands it 64 KiB segments".into(),
        );
        push("ipv6", "false".into(), "measured over 127.0.0.1".into());
        for k in ["gro", "flow_steering", "page_pool"] {
            push(
                k,
                "false".into(),
                "no NIC on loopback: nothing is received from a wire; unused".into(),
            );
        }
        push(
            "device_memory",
            "\"0 B\"".into(),
            "no peer device memory is measured; devmem TCP needs one".into(),
        );
        push("device_memory_bandwidth", "\"0 B/s\"".into(), "none".into());
        push(
            "linux_sendpage_fallback",
            "true".into(),
            "a Linux target".into(),
        );

        let mut out = String::new();
        out.push_str("# host: this machine, measured by `zcsim calibrate");
        out.push_str(if quick { " --quick`" } else { "`" });
        out.push_str(" (median over repetitions after a warm-up).\n");
        out.push_str("# Values marked \"not measured\" are server-2024's; loopback has no NIC.\n");
        out.push_str("name = \"host\"\n");
        out.push_str(&format!(
            "description = \"this machine ({cpus} CPUs) over loopback TCP, measured by zcsim calibrate\"\n\n"
        ));
        for l in lines {
            let value = if l.value.starts_with('"')
                || l.value.parse::<f64>().is_ok()
                || l.value == "true"
                || l.value == "false"
            {
                l.value
            } else {
                format!("\"{}\"", l.value)
            };
            out.push_str(&format!("{} = {value}  # {}\n", l.key, l.comment));
        }
        progress("calibrate: done");
        Ok(out)
    }
}
