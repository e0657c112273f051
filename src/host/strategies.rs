//! The real strategies over loopback TCP, for `zcsim validate`: a cached file sent in
//! requests of `size` bytes to a receiver thread that reads and discards.

use std::fs::File;
use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::FileExt;

use rustix::mm::{self, MapFlags, ProtFlags};
use rustix::pipe::{SpliceFlags, splice};

use super::{HostError, drain, loopback_pair, seconds, sys};

/// A real strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Real {
    /// `pread` into a buffer, `write` it.
    ReadWrite,
    /// The file mapped once, `write` from the mapping.
    MmapWrite,
    /// `sendfile` from the file to the socket.
    Sendfile,
    /// `splice` from the file into a pipe, and from the pipe into the socket.
    Splice,
}

impl Real {
    pub const ALL: [Real; 4] = [
        Real::ReadWrite,
        Real::MmapWrite,
        Real::Sendfile,
        Real::Splice,
    ];

    /// The model's strategy id for the same path.
    pub fn id(self) -> &'static str {
        match self {
            Real::ReadWrite => "read-write",
            Real::MmapWrite => "mmap-write",
            Real::Sendfile => "sendfile",
            Real::Splice => "splice",
        }
    }
}

fn sock(e: std::io::Error) -> HostError {
    HostError::NoLoopback(e)
}

/// Sends `total` bytes of `file` (of `file_bytes`, cycled over) in requests of `size` with
/// `how`; returns the throughput in bytes per second (until the receiver has read the last
/// byte).
pub fn throughput(
    how: Real,
    file: &File,
    file_bytes: usize,
    size: usize,
    total: usize,
) -> Result<f64, HostError> {
    let (tx, rx) = loopback_pair()?;
    let rx = drain(rx);
    let requests = (total / size).max(1);
    let (t, r) = seconds(|| -> Result<(), HostError> {
        send(how, &tx, file, file_bytes, size, requests)?;
        tx.shutdown(std::net::Shutdown::Write).map_err(sock)?;
        let got = rx
            .join()
            .expect("the receiver thread does not panic")
            .map_err(sock)?;
        assert_eq!(got, (requests * size) as u64, "loopback lost bytes");
        Ok(())
    });
    r?;
    Ok((requests * size) as f64 / t)
}

fn send(
    how: Real,
    tx: &TcpStream,
    file: &File,
    file_bytes: usize,
    size: usize,
    requests: usize,
) -> Result<(), HostError> {
    let per_file = (file_bytes / size).max(1);
    let offset = |i: usize| ((i % per_file) * size) as u64;
    let mut out = tx;
    match how {
        Real::ReadWrite => {
            let mut buf = vec![0u8; size];
            for i in 0..requests {
                file.read_exact_at(&mut buf, offset(i))
                    .map_err(sys("pread of the cached file"))?;
                out.write_all(&buf).map_err(sock)?;
            }
        }
        Real::MmapWrite => {
            // SAFETY: a read-only shared mapping of our unlinked scratch file, which nothing
            // writes; unmapped below before the function returns.
            let ptr = unsafe {
                mm::mmap(
                    std::ptr::null_mut(),
                    file_bytes,
                    ProtFlags::READ,
                    MapFlags::SHARED,
                    file,
                    0,
                )
            }
            .map_err(|e| sys("mmap of the cached file")(e.into()))?;
            // SAFETY: the mapping is `file_bytes` long and readable.
            let bytes = unsafe { std::slice::from_raw_parts(ptr as *const u8, file_bytes) };
            let mut r = Ok(());
            for i in 0..requests {
                let o = offset(i) as usize;
                if let Err(e) = out.write_all(&bytes[o..o + size]) {
                    r = Err(sock(e));
                    break;
                }
            }
            // SAFETY: the mapping made above; `bytes` is not used after this.
            let _ = unsafe { mm::munmap(ptr, file_bytes) };
            r?;
        }
        Real::Sendfile => {
            for i in 0..requests {
                let mut off = offset(i);
                let end = off + size as u64;
                while off < end {
                    let want = (end - off) as usize;
                    let n = rustix::fs::sendfile(tx, file, Some(&mut off), want)
                        .map_err(|e| sys("sendfile")(e.into()))?;
                    if n == 0 {
                        return Err(sys("sendfile")(std::io::ErrorKind::UnexpectedEof.into()));
                    }
                }
            }
        }
        Real::Splice => {
            let (pr, pw) = rustix::pipe::pipe().map_err(|e| sys("pipe")(e.into()))?;
            // A pipe as large as a request where allowed (the default is 64 KiB).
            let _ = rustix::pipe::fcntl_setpipe_size(&pw, size.max(4096));
            for i in 0..requests {
                let mut off = offset(i);
                let end = off + size as u64;
                while off < end {
                    let want = (end - off) as usize;
                    let n = splice(file, Some(&mut off), &pw, None, want, SpliceFlags::MORE)
                        .map_err(|e| sys("splice")(e.into()))?;
                    if n == 0 {
                        return Err(sys("splice")(std::io::ErrorKind::UnexpectedEof.into()));
                    }
                    let mut left = n;
                    while left > 0 {
                        let m = splice(&pr, None, tx, None, left, SpliceFlags::MORE)
                            .map_err(|e| sys("splice")(e.into()))?;
                        left -= m;
                    }
                }
            }
        }
    }
    Ok(())
}
