//! zcsim's integration tests, built as one binary (one link, one run). Each module covers one
//! layer seen from outside its crate.

mod cli;
mod docs;
mod engine;
mod experiments;
mod export;
mod host;
mod merge;
mod quiz;

/// Runs the `zcsim` binary from the workspace root.
fn zcsim(args: &[&str]) -> std::process::Output {
    run_zcsim(args, false)
}

/// Children are started one at a time: between another thread's fork and exec, the new
/// child briefly holds copies of every pipe end this process has open, which would keep a
/// pipe that a test closed on purpose (see `cli::with_closed_stdout`) open for a moment.
static SPAWN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `zcsim args`; with `close_stdout`, its standard output is a pipe whose reader has
/// gone away before the child writes anything.
fn run_zcsim(args: &[&str], close_stdout: bool) -> std::process::Output {
    use std::process::{Command, Stdio};
    // A closed stdout is a pipe whose reader is gone before the child starts, so its first
    // write meets EPIPE whatever the timing.
    let stdout = if close_stdout {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        Stdio::from(writer)
    } else {
        Stdio::piped()
    };
    let child = {
        let _one_at_a_time = SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        Command::new(env!("CARGO_BIN_EXE_zcsim"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .expect("the zcsim binary runs")
    };
    child.wait_with_output().expect("zcsim ends")
}
