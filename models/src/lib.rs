//! # zcsim's OS model
//!
//! The machine (CPUs, one memory bus), the VM subsystem, the network path, the zero-copy
//! strategies and the workloads, driven by the `sim` engine. It must not know about files on
//! disk, TOML, terminals or command lines: scenarios build a model, the CLI and TUI read its
//! reports and traces.
