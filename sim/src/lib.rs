//! # zcsim's discrete-event engine
//!
//! A generic, single-threaded, deterministic discrete-event engine. It knows time, events,
//! random streams, shared bandwidth and traces; it knows **nothing** of pages, packets,
//! sockets or kernels: those live in the `models` crate, which drives this one.
//!
//! | module | what it holds |
//! |---|---|
//! | [`time`] | [`SimTime`], [`SimDuration`] (integer ns) and [`ByteRate`] (bytes/s, rounding-up conversion) |
//! | [`queue`] | [`EventQueue`]: the future-event list, with cancellation by generation token |
//! | [`rng`] | [`RngStreams`]: one root seed, independent portable per-component streams |
//! | [`fluid`] | [`FluidResource`]: a bandwidth shared max-min fairly among capped transfers |
//! | [`trace`] | [`TraceSink`] and its sinks: none, in-memory ring, Chrome Trace Event JSON |
//! | [`phold`] | the PHOLD benchmark model, shared by the example, benchmark and tests |
//!
//! # Guarantees
//! - **Ordering**: events are delivered in increasing `(time, seq)` order, `seq` being the
//!   order of scheduling; events at the same instant are delivered FIFO. Event payloads are
//!   plain data and never take part in ordering.
//! - **Determinism**: nothing here reads a clock, the environment or an entropy source. The
//!   same seed and the same sequence of calls give the same results, bit for bit, on every
//!   platform: time and bandwidth are integers, and the only floating point (random variates)
//!   uses a platform-independent `libm`.
//! - **No threads, no async**: a run is one loop on one thread; parallelism belongs to sweeps
//!   of independent runs.
//!
//! A model owns the loop: pop an event from its [`EventQueue`], handle it, call its own
//! `check_invariants()` in debug builds and tests, repeat.

pub mod fluid;
pub mod phold;
pub mod queue;
pub mod rng;
pub mod time;
pub mod trace;

pub use fluid::{FluidResource, TransferId};
pub use queue::{CancelToken, EventQueue};
pub use rng::{RngStreams, SimRng};
pub use time::{ByteRate, SimDuration, SimTime};
pub use trace::{ChromeTraceWriter, LaneId, NullSink, RingSink, TraceRecord, TraceSink};
