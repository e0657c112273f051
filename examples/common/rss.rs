//! Shared by the examples that report memory: the process's peak resident set.

/// Peak resident memory of this process in KiB (`VmHWM` in `/proc/self/status`); `None` where
/// there is no procfs.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
