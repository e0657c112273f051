//! # zcsim's OS model
//!
//! The machine (CPUs, one memory bus, a disk), the VM subsystem, the network path (mbufs,
//! socket buffers, TCP, the NIC), the zero-copy strategies and the workloads, all driven by
//! the `sim` engine, and the report of a run.
//!
//! It must not know about files on disk, TOML, terminals or command lines: `scenarios` builds a
//! model from a validated scenario, and the CLI and TUI only read its reports and traces.
//!
//! | module | what it holds |
//! |---|---|
//! | [`machine`] | CPUs running [`machine::Plan`]s of [`machine::Step`]s, the memory bus (a fluid resource), the disk, device DMA, the [`machine::CostTable`] |
//! | [`vm`] | frames, the page cache, address spaces, `find_vma`, faults, COW, page loaning and COW wiring, `mmap`/`munmap` |
//! | [`net`] | link, NIC, TCP and stack parameters; [`net::mbuf`] external storage, [`net::sockbuf`] socket buffers, [`net::tcp`] sequence state, [`net::nic`] the NIC's transmit ring and queues |
//! | [`strategy`] | one room per mechanism (its kernel path, fill, room rule, release, explanation) and the [`strategy::CATALOGUE`] |
//! | [`workload`] | the workloads of the seeds, and how each builds a world for a strategy |
//! | [`world`] | the event loop that dispatches between the subsystems, the applications, the transmit and receive paths, the narrow `world::kernel` interface strategies use, narration, traces and the invariant checker |
//! | [`idwindow`] | [`idwindow::IdWindow`]: live objects by counter id (storages, packets), a ring of slots over the ids in flight |
//! | [`report`] | running one strategy on one workload ([`report::simulate`]) and what the run reports |
//!
//! ## How time arises
//! Model operations change state at once and append the work they imply to a
//! [`machine::Plan`]; the [`machine::Machine`] runs plans on CPUs and the shared bus, so every
//! nanosecond in a result comes from an explicit step competing for the CPU, the bus or a
//! device. No operation computes its own duration from a formula.
//!
//! ## Rooms
//! As in smoltcp, each subsystem is a separate room: `vm` knows nothing of mbufs or sockets,
//! the machine knows nothing of pages, and a strategy reaches the VM, the network path and
//! the machine only through `world::kernel::Kernel`'s operations, never another module's
//! fields.
//!
//! ## Invariants
//! Each subsystem states its invariants on the type that owns them and checks them in a
//! `check_invariants()`; [`world::World::check_invariants`] calls them all and adds the
//! cross-cutting ones (bytes and references conserved). Debug builds and tests run it after
//! every event.

pub mod idwindow;
pub mod machine;
pub mod net;
pub mod report;
pub mod strategy;
pub mod vm;
pub mod workload;
pub mod world;

#[cfg(test)]
pub(crate) mod testkit;
