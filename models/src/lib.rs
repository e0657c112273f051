//! # zcsim's OS model
//!
//! The machine (CPUs, one memory bus, a disk), the VM subsystem and, as they land, the network
//! path, the zero-copy strategies and the workloads, all driven by the `sim` engine.
//!
//! It must not know about files on disk, TOML, terminals or command lines: `scenarios` builds a
//! model from a validated scenario, and the CLI and TUI only read its reports and traces.
//!
//! | module | what it holds |
//! |---|---|
//! | [`machine`] | CPUs running [`machine::Plan`]s of [`machine::Step`]s, the memory bus (a fluid resource), the disk, the [`machine::CostTable`] |
//! | [`vm`] | frames, page cache, address spaces, `find_vma`, faults, COW, page loaning and COW wiring, `mmap`/`munmap` |
//!
//! ## How time arises
//! Model operations change state at once and append the work they imply to a
//! [`machine::Plan`]; the [`machine::Machine`] runs plans on CPUs and the shared bus, so every
//! nanosecond in a result comes from an explicit step competing for the CPU, the bus or a
//! device. No operation computes its own duration from a formula.
//!
//! ## Rooms
//! As in smoltcp, each subsystem is a separate room: `vm` knows nothing of mbufs or sockets,
//! the machine knows nothing of pages, and strategies call operations rather than touching
//! another module's fields.

pub mod machine;
pub mod net;
pub mod report;
pub mod strategy;
pub mod vm;
pub mod workload;
pub mod world;

#[cfg(test)]
pub(crate) mod testkit;
