//! Timing loops for `zcsim calibrate`. Each returns [`Stats`] over a [`Plan`]'s repetitions:
//! rates in bytes per second, costs in nanoseconds.

use std::ffi::c_void;
use std::fs::File;
use std::hint::black_box;
use std::io::Write;
use std::ptr::null_mut;

use rustix::mm::{self, Advice, MapFlags, ProtFlags};

use super::{HostError, Plan, Stats, cached_file, drain, loopback_pair, seconds, sys};

/// The page size.
pub fn page() -> usize {
    rustix::param::page_size()
}

/// A mapping, unmapped on drop.
struct Map {
    ptr: *mut c_void,
    len: usize,
}

impl Map {
    fn anonymous(len: usize) -> Result<Map, HostError> {
        // SAFETY: a fresh private anonymous mapping aliases nothing.
        let ptr = unsafe {
            mm::mmap_anonymous(
                null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .map_err(|e| sys("an anonymous mmap")(e.into()))?;
        // Base pages, so each touch is one 4 KiB fault, not a 2 MiB one (not fatal if
        // transparent huge pages are off or the call is refused).
        // SAFETY: the range is the mapping just made.
        let _ = unsafe { mm::madvise(ptr, len, Advice::LinuxNoHugepage) };
        Ok(Map { ptr, len })
    }

    fn file(f: &File, len: usize, flags: MapFlags) -> Result<Map, HostError> {
        // SAFETY: a private (copy-on-write) or shared mapping of our own unlinked scratch
        // file, which nothing else writes.
        let ptr = unsafe {
            mm::mmap(
                null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                flags,
                f,
                0,
            )
        }
        .map_err(|e| sys("mmap of a cached file")(e.into()))?;
        Ok(Map { ptr, len })
    }

    /// Reads one byte of every page.
    fn touch_read(&self) -> u64 {
        let p = self.ptr as *const u8;
        let mut s = 0u64;
        for off in (0..self.len).step_by(page()) {
            // SAFETY: inside the mapping, which is readable.
            s += unsafe { std::ptr::read_volatile(p.add(off)) } as u64;
        }
        s
    }

    /// Writes one byte of every page.
    fn touch_write(&self) {
        let p = self.ptr as *mut u8;
        for off in (0..self.len).step_by(page()) {
            // SAFETY: inside the mapping, which is writable.
            unsafe { std::ptr::write_volatile(p.add(off), 1) };
        }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: the mapping made in the constructor, unmapped once.
        let _ = unsafe { mm::munmap(self.ptr, self.len) };
    }
}

/// memcpy rate between two buffers of `bytes` (hot when they fit the caches).
pub fn copy_rate(plan: Plan, bytes: usize, rounds: usize) -> Result<Stats, HostError> {
    let src = vec![7u8; bytes];
    let mut dst = vec![1u8; bytes];
    plan.sample(|| {
        let (t, ()) = seconds(|| {
            for _ in 0..rounds {
                dst.copy_from_slice(black_box(&src));
                black_box(&mut dst);
            }
        });
        Ok((bytes * rounds) as f64 / t)
    })
}

/// The Internet checksum (RFC 1071) of `data`, summed 32 bits at a time into 64.
pub fn inet_checksum(data: &[u8]) -> u16 {
    let mut sum = 0u64;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        sum += u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64;
    }
    let rest = chunks.remainder();
    for (i, b) in rest.iter().enumerate() {
        sum += (*b as u64) << if i % 2 == 0 { 8 } else { 0 };
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Checksum rate over a buffer of `bytes`.
pub fn checksum_rate(plan: Plan, bytes: usize) -> Result<Stats, HostError> {
    let data: Vec<u8> = (0..bytes).map(|i| i as u8).collect();
    plan.sample(|| {
        let (t, c) = seconds(|| inet_checksum(black_box(&data)));
        black_box(c);
        Ok(bytes as f64 / t)
    })
}

/// Zero-fill rate over a buffer of `bytes`.
pub fn zero_rate(plan: Plan, bytes: usize) -> Result<Stats, HostError> {
    let mut data = vec![1u8; bytes];
    plan.sample(|| {
        let (t, ()) = seconds(|| {
            black_box(&mut data).fill(0);
        });
        black_box(&data);
        Ok(bytes as f64 / t)
    })
}

/// ns per `getppid` system call.
pub fn syscall_ns(plan: Plan, calls: usize) -> Result<Stats, HostError> {
    plan.sample(|| {
        let (t, ()) = seconds(|| {
            for _ in 0..calls {
                black_box(rustix::process::getppid());
            }
        });
        Ok(t * 1e9 / calls as f64)
    })
}

/// ns per context switch: two threads pinned to one CPU pass a byte back and forth over two
/// pipes; a round trip is two switches and four pipe calls (`pipe_call_ns` each, taken off).
pub fn context_switch_ns(plan: Plan, rounds: usize, pipe_call_ns: f64) -> Result<Stats, HostError> {
    use rustix::io::{read, write};
    let (a_r, a_w) = rustix::pipe::pipe().map_err(|e| sys("pipe")(e.into()))?;
    let (b_r, b_w) = rustix::pipe::pipe().map_err(|e| sys("pipe")(e.into()))?;
    // The affinity to restore afterwards (a `taskset` the user chose, say).
    let before = rustix::thread::sched_getaffinity(None).ok();
    let mut one = rustix::thread::CpuSet::new();
    one.set(0);
    let pinned = rustix::thread::sched_setaffinity(None, &one).is_ok();
    let total = rounds * (plan.warmup + plan.reps);
    let peer = std::thread::spawn(move || -> rustix::io::Result<()> {
        let _ = rustix::thread::sched_setaffinity(None, &one);
        let mut b = [0u8; 1];
        for _ in 0..total {
            read(&a_r, &mut b)?;
            write(&b_w, &b)?;
        }
        Ok(())
    });
    let mut b = [0u8; 1];
    let r = plan.sample(|| {
        let (t, r) = seconds(|| -> rustix::io::Result<()> {
            for _ in 0..rounds {
                write(&a_w, &b)?;
                read(&b_r, &mut b)?;
            }
            Ok(())
        });
        r.map_err(|e| sys("pipe ping-pong")(e.into()))?;
        Ok(((t * 1e9 / rounds as f64) - 4.0 * pipe_call_ns).max(0.0) / 2.0)
    });
    // Unpin this thread again.
    if pinned && let Some(before) = before {
        let _ = rustix::thread::sched_setaffinity(None, &before);
    }
    drop(a_w);
    let _ = peer.join();
    r
}

/// ns per pipe `write` + `read` of one byte on one thread, halved: the cost of a pipe call.
pub fn pipe_call_ns(plan: Plan, calls: usize) -> Result<Stats, HostError> {
    use rustix::io::{read, write};
    let (r, w) = rustix::pipe::pipe().map_err(|e| sys("pipe")(e.into()))?;
    let mut b = [0u8; 1];
    plan.sample(|| {
        let (t, res) = seconds(|| -> rustix::io::Result<()> {
            for _ in 0..calls {
                write(&w, &b)?;
                read(&r, &mut b)?;
            }
            Ok(())
        });
        res.map_err(|e| sys("pipe calls")(e.into()))?;
        Ok(t * 1e9 / (2 * calls) as f64)
    })
}

/// ns per minor fault on fresh anonymous pages: a read maps the shared zero page, a write
/// allocates and zeroes a page.
pub fn anon_fault_ns(plan: Plan, pages: usize, write: bool) -> Result<Stats, HostError> {
    plan.sample(|| {
        let m = Map::anonymous(pages * page())?;
        let (t, ()) = seconds(|| {
            if write {
                m.touch_write();
            } else {
                black_box(m.touch_read());
            }
        });
        Ok(t * 1e9 / pages as f64)
    })
}

/// ns per copy-on-write fault: a private mapping of a cached file, every page read (mapped
/// read-only), then every page written (a fault that copies the page).
pub fn cow_fault_ns(plan: Plan, f: &File, pages: usize) -> Result<Stats, HostError> {
    plan.sample(|| {
        let m = Map::file(f, pages * page(), MapFlags::PRIVATE)?;
        black_box(m.touch_read());
        let (t, ()) = seconds(|| m.touch_write());
        Ok(t * 1e9 / pages as f64)
    })
}

/// ns per `mmap` and per `munmap` of `pages` of a cached file, untouched (`populate` false)
/// or with every page mapped at once (`MAP_POPULATE`); `batch` mappings per measurement.
pub fn map_unmap_ns(
    plan: Plan,
    f: &File,
    pages: usize,
    populate: bool,
    batch: usize,
) -> Result<(Stats, Stats), HostError> {
    let flags = if populate {
        MapFlags::SHARED | MapFlags::POPULATE
    } else {
        MapFlags::SHARED
    };
    let mut unmaps = Vec::new();
    let maps = plan.sample(|| {
        let mut ms = Vec::with_capacity(batch);
        let (t, r) = seconds(|| -> Result<(), HostError> {
            for _ in 0..batch {
                ms.push(Map::file(f, pages * page(), flags)?);
            }
            Ok(())
        });
        r?;
        let (u, ()) = seconds(|| drop(ms));
        unmaps.push(u * 1e9 / batch as f64);
        Ok(t * 1e9 / batch as f64)
    })?;
    let skip = unmaps.len() - maps.reps;
    Ok((maps, Stats::of(&mut unmaps[skip..])))
}

/// A scratch file of `pages` pages in the page cache.
pub fn scratch(pages: usize) -> Result<File, HostError> {
    cached_file(pages * page())
}

/// Time per `send` of `size` bytes over loopback TCP with `TCP_NODELAY` (one segment per
/// send for sizes under the MSS), a receiver thread draining; ns per send.
pub fn loopback_send_ns(plan: Plan, size: usize, total: usize) -> Result<Stats, HostError> {
    let buf = vec![5u8; size];
    let sends = (total / size).max(1);
    plan.sample(|| {
        let (mut tx, rx) = loopback_pair()?;
        tx.set_nodelay(true).map_err(HostError::NoLoopback)?;
        let rx = drain(rx);
        let (t, r) = seconds(|| -> std::io::Result<()> {
            for _ in 0..sends {
                tx.write_all(&buf)?;
            }
            tx.shutdown(std::net::Shutdown::Write)
        });
        r.map_err(HostError::NoLoopback)?;
        let got = rx
            .join()
            .expect("the receiver thread does not panic")
            .map_err(HostError::NoLoopback)?;
        assert_eq!(got, (sends * size) as u64, "loopback lost bytes");
        Ok(t * 1e9 / sends as f64)
    })
}

/// A least-squares line through `(x, y)` points: (intercept, slope).
pub fn fit_line(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (my - slope * mx, slope)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071's worked example (section 3): the words 0001 f203 f4f5 f6f7 sum to ddf2
    /// (one's complement), so the checksum is its complement 220d. A wrong fold or byte order
    /// gives another value.
    #[test]
    fn checksum_matches_rfc_1071_example() {
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(inet_checksum(&data), !0xddf2);
    }

    /// Points on y = 3 + 2x give back intercept 3 and slope 2: the fit is exact on a line.
    #[test]
    fn fit_recovers_a_line() {
        let pts: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, 3.0 + 2.0 * i as f64)).collect();
        let (a, b) = fit_line(&pts);
        assert!((a - 3.0).abs() < 1e-9 && (b - 2.0).abs() < 1e-9);
    }

    /// An odd count's median is the middle value whatever the order; min and max are the
    /// extremes.
    #[test]
    fn stats_median_and_spread() {
        let s = Stats::of(&mut [5.0, 1.0, 3.0]);
        assert_eq!((s.median, s.min, s.max, s.reps), (3.0, 1.0, 5.0, 3));
    }
}
