//! Measuring the machine zcsim runs on (`zcsim calibrate`, `zcsim validate`): real system
//! calls through `rustix`, Linux only, behind the `host` feature.
//!
//! | module | what |
//! |---|---|
//! | [`measure`] | timing loops: copies, checksums, faults, mappings, syscalls, loopback TCP |
//! | [`strategies`] | the real strategies (read+write, mmap+write, sendfile, splice) over loopback |
//!
//! Nothing here leaves anything behind: scratch files are unlinked as soon as they are open
//! (so even Ctrl-C leaves no file), sockets and threads end with their scope.

pub mod measure;
pub mod strategies;

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

/// Why the host could not be measured: printed as `error: ...`, exit 2.
#[derive(Debug)]
pub enum HostError {
    /// No loopback TCP: binding or connecting to 127.0.0.1 failed.
    NoLoopback(io::Error),
    /// A system call was refused (`EPERM`, `EACCES`, a seccomp filter).
    Permission { what: &'static str, err: io::Error },
    /// Another system call failed.
    Syscall { what: &'static str, err: io::Error },
    /// `--out` cannot be written.
    Output { path: String, err: io::Error },
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::NoLoopback(e) => write!(
                f,
                "cannot measure over loopback TCP (127.0.0.1): {e}; allowed: a machine with the lo interface up"
            ),
            HostError::Permission { what, err } => write!(
                f,
                "cannot measure {what}: permission refused ({err}); allowed: a process that may call it (no seccomp filter or sandbox denying it)"
            ),
            HostError::Syscall { what, err } => write!(f, "cannot measure {what}: {err}"),
            HostError::Output { path, err } => write!(
                f,
                "--out {path}: cannot be written ({err}); allowed: a path in a writable directory"
            ),
        }
    }
}

impl std::error::Error for HostError {}

/// Maps a failed call measuring `what` to its error (permission refusals named as such).
pub fn sys(what: &'static str) -> impl Fn(io::Error) -> HostError {
    move |err| match err.kind() {
        io::ErrorKind::PermissionDenied => HostError::Permission { what, err },
        _ => HostError::Syscall { what, err },
    }
}

impl From<rustix::io::Errno> for HostError {
    fn from(e: rustix::io::Errno) -> Self {
        sys("a system call")(e.into())
    }
}

/// Median and spread of repeated measurements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub reps: usize,
}

impl Stats {
    /// The statistics of `xs` (not empty).
    pub fn of(xs: &mut [f64]) -> Stats {
        assert!(!xs.is_empty(), "statistics of no sample");
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        let median = if n % 2 == 1 {
            xs[n / 2]
        } else {
            (xs[n / 2 - 1] + xs[n / 2]) / 2.0
        };
        Stats {
            median,
            min: xs[0],
            max: xs[n - 1],
            reps: n,
        }
    }
}

/// How many repetitions to time after how many warm-ups.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub warmup: usize,
    pub reps: usize,
}

impl Plan {
    pub fn new(quick: bool) -> Plan {
        if quick {
            Plan { warmup: 1, reps: 3 }
        } else {
            Plan { warmup: 2, reps: 9 }
        }
    }

    /// Runs `f` (which returns one measurement) `warmup` times untimed, then `reps` times.
    pub fn sample<F>(&self, mut f: F) -> Result<Stats, HostError>
    where
        F: FnMut() -> Result<f64, HostError>,
    {
        for _ in 0..self.warmup {
            f()?;
        }
        let mut xs = Vec::with_capacity(self.reps);
        for _ in 0..self.reps {
            xs.push(f()?);
        }
        Ok(Stats::of(&mut xs))
    }
}

/// Seconds `f` took.
pub fn seconds<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let r = f();
    (t.elapsed().as_secs_f64(), r)
}

/// A scratch file of `bytes` filled with a pattern and read once (so it is in the page
/// cache), already unlinked: it disappears when the handle closes, whatever ends the process.
pub fn cached_file(bytes: usize) -> Result<File, HostError> {
    let dir = std::env::temp_dir();
    let path = dir.join(format!(
        ".zcsim-host-{}-{}",
        std::process::id(),
        SCRATCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(sys("a scratch file in the temporary directory"))?;
    // Unlink at once: the open handle keeps the data, nothing is left behind.
    let unlinked = std::fs::remove_file(&path);
    let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 + 3) as u8).collect();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len());
        f.write_all(&chunk[..n])
            .map_err(sys("a scratch file in the temporary directory"))?;
        left -= n;
    }
    f.flush()
        .map_err(sys("a scratch file in the temporary directory"))?;
    unlinked.map_err(sys("a scratch file in the temporary directory"))?;
    // Read it once: the page cache now holds it.
    let mut buf = vec![0u8; 1 << 20];
    let mut off = 0u64;
    use std::os::unix::fs::FileExt;
    while (off as usize) < bytes {
        let n = f
            .read_at(&mut buf, off)
            .map_err(sys("a scratch file in the temporary directory"))?;
        if n == 0 {
            break;
        }
        off += n as u64;
    }
    Ok(f)
}

static SCRATCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A connected loopback TCP pair: (sender, receiver).
pub fn loopback_pair() -> Result<(TcpStream, TcpStream), HostError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(HostError::NoLoopback)?;
    let addr = l.local_addr().map_err(HostError::NoLoopback)?;
    let tx = TcpStream::connect(addr).map_err(HostError::NoLoopback)?;
    let (rx, _) = l.accept().map_err(HostError::NoLoopback)?;
    Ok((tx, rx))
}

/// Starts a thread that reads `rx` to its end and discards the bytes; joining it gives the
/// byte count.
pub fn drain(mut rx: TcpStream) -> std::thread::JoinHandle<io::Result<u64>> {
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = vec![0u8; 256 << 10];
        let mut total = 0u64;
        loop {
            match rx.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => total += n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    })
}

/// Prints progress on standard error.
pub fn progress(line: &str) {
    crate::commands::note(line);
}
