//! zcsim's integration tests, built as one binary (one link, one run). Each module covers one
//! layer seen from outside its crate.

mod cli;
mod engine;
mod experiments;

/// Runs the `zcsim` binary from the workspace root.
fn zcsim(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_zcsim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the zcsim binary runs")
}
