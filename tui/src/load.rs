//! Recording runs while the timeline is on screen. A worker thread runs each job in turn
//! with its trace streamed ([`models::world::World::stream_trace_with_frames`]) into batches
//! of at most [`BATCH`] records, sent over a channel that holds at most [`QUEUE`] of them:
//! the worker waits when the screen falls behind, so memory stays bounded, and the screen
//! takes batches between frames ([`crate::Action::Load`]), so its first frame comes after
//! the first batch rather than after the whole run.
//!
//! A run is driven in slices of simulated time, as `models::report::simulate` drives one
//! for a progress bar: the same events in the same order, so the same run. The view a run
//! ends with does not depend on where batches were cut ([`crate::RunView`]).

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use models::report::RunReport;
use models::strategy::Strategy;
use models::workload::{Workload, WorkloadOptions};
use models::world::{FrameChange, WorldConfig};
use sim::{LaneId, SimTime, TraceRecord, TraceSink};

/// Most records in one batch.
pub const BATCH: usize = 16_384;

/// Most batches waiting for the screen.
pub const QUEUE: usize = 4;

/// Longest the worker keeps a batch that is not full (a quiet stretch of a run).
const FLUSH_AFTER: Duration = Duration::from_millis(50);

/// Simulated time per slice; an idle slice doubles the next (as `simulate` does).
const SLICE_NS: u64 = 100_000;

/// One run to record.
#[derive(Clone, Debug)]
pub struct Job {
    /// What the timeline calls it (the strategy's id).
    pub name: String,
    pub world: WorldConfig,
    pub workload: Workload,
    pub options: WorkloadOptions,
    pub strategy: Strategy,
    /// Check every invariant after every event.
    pub check_invariants: bool,
    /// Break an invariant on purpose (tests of the checker only).
    pub inject_invariant_bug: bool,
}

impl Job {
    /// `strategy` on `workload` on `world`, with the default options of a run.
    pub fn new(world: &WorldConfig, workload: &Workload, strategy: Strategy) -> Job {
        Job {
            name: strategy.id().to_owned(),
            world: world.clone(),
            workload: workload.clone(),
            options: WorkloadOptions::default(),
            strategy,
            check_invariants: cfg!(debug_assertions),
            inject_invariant_bug: false,
        }
    }
}

/// What the worker has recorded since its last message.
#[derive(Debug, Default)]
pub struct Batch {
    /// The job's index.
    pub run: usize,
    /// Lane names, by `LaneId` (the first batch of a run).
    pub lanes: Vec<String>,
    pub records: Vec<TraceRecord>,
    /// Narration lines with their ids, in id order.
    pub notes: Vec<(u64, String)>,
    pub frames: Vec<FrameChange>,
    /// Frames that exist now.
    pub frame_count: u32,
}

/// A message from the worker.
#[derive(Debug)]
pub enum Msg {
    Batch(Batch),
    /// Job `run` has ended at `now`.
    Done {
        run: usize,
        report: Box<RunReport>,
        now: SimTime,
        frame_count: u32,
    },
}

/// The worker's end of a run's trace: records and lines go into the batch being filled,
/// which is sent when full.
struct Collector {
    batch: Arc<Mutex<Filling>>,
}

struct Filling {
    batch: Batch,
    /// Most records in a batch.
    limit: usize,
    tx: SyncSender<Msg>,
    /// The screen has gone (the user quit): stop recording.
    gone: bool,
    sent_at: Instant,
}

impl Filling {
    fn send(&mut self) {
        let next = Batch {
            run: self.batch.run,
            frame_count: self.batch.frame_count,
            ..Batch::default()
        };
        let b = std::mem::replace(&mut self.batch, next);
        self.gone |= self.tx.send(Msg::Batch(b)).is_err();
        self.sent_at = Instant::now();
    }
}

impl TraceSink for Collector {
    fn declare_lane(&mut self, lane: LaneId, name: &str) {
        let mut f = self
            .batch
            .lock()
            .expect("the recorder never panics holding it");
        let lanes = &mut f.batch.lanes;
        let i = lane.0 as usize;
        if lanes.len() <= i {
            lanes.resize(i + 1, String::new());
        }
        lanes[i] = name.to_owned();
    }

    fn record(&mut self, record: TraceRecord) {
        let mut f = self
            .batch
            .lock()
            .expect("the recorder never panics holding it");
        f.batch.records.push(record);
        if f.batch.records.len() >= f.limit {
            f.send();
        }
    }

    fn note(&mut self, id: u64, line: &str) {
        let mut f = self
            .batch
            .lock()
            .expect("the recorder never panics holding it");
        f.batch.notes.push((id, line.to_owned()));
    }
}

/// Records `jobs` one after another on a worker thread; the screen takes what is ready with
/// [`Loader::try_next`].
#[derive(Debug)]
pub struct Loader {
    rx: Receiver<Msg>,
    worker: Option<JoinHandle<()>>,
    /// The jobs' names, in order.
    pub names: Vec<String>,
    /// Most records kept per run.
    pub capacity: usize,
}

impl Loader {
    /// Starts recording `jobs`, each view keeping its newest `capacity` records.
    pub fn start(jobs: Vec<Job>, capacity: usize) -> Loader {
        Loader::start_with(jobs, capacity, BATCH, QUEUE)
    }

    /// [`Loader::start`] with batches of at most `batch` records, and at most `queue` of
    /// them waiting for the screen.
    pub fn start_with(jobs: Vec<Job>, capacity: usize, batch: usize, queue: usize) -> Loader {
        assert!(batch > 0, "a batch holds at least one record");
        let names = jobs.iter().map(|j| j.name.clone()).collect();
        let (tx, rx) = sync_channel(queue);
        let worker = std::thread::Builder::new()
            .name("zcsim-tui-recorder".into())
            .spawn(move || {
                for (run, job) in jobs.into_iter().enumerate() {
                    if !record(run, &job, batch, tx.clone()) {
                        return;
                    }
                }
            })
            .expect("a thread for the recorder");
        Loader {
            rx,
            worker: Some(worker),
            names,
            capacity,
        }
    }

    /// The next message if one is ready, `None` if not yet. When the worker has ended
    /// without finishing (it panicked: a broken invariant), its panic goes on here.
    pub fn try_next(&mut self) -> Option<Msg> {
        match self.rx.try_recv() {
            Ok(m) => Some(m),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                if let Some(w) = self.worker.take()
                    && let Err(panic) = w.join()
                {
                    std::panic::resume_unwind(panic);
                }
                None
            }
        }
    }

    /// The next message, waiting at most `wait` for one.
    pub fn wait_next(&mut self, wait: Duration) -> Option<Msg> {
        match self.rx.recv_timeout(wait) {
            Ok(m) => Some(m),
            Err(_) => self.try_next(),
        }
    }
}

/// Records one job, sending its batches and its end; false if the screen has gone.
fn record(run: usize, job: &Job, limit: usize, tx: SyncSender<Msg>) -> bool {
    let mut world = job
        .workload
        .build_with(&job.world, job.strategy, job.options)
        .unwrap_or_else(|e| panic!("a resolved scenario ran a strategy that does not apply: {e}"));
    world.set_check_invariants(job.check_invariants);
    let filling = Arc::new(Mutex::new(Filling {
        batch: Batch {
            run,
            ..Batch::default()
        },
        limit,
        tx: tx.clone(),
        gone: false,
        sent_at: Instant::now(),
    }));
    world.stream_trace_with_frames(Box::new(Collector {
        batch: Arc::clone(&filling),
    }));
    if job.inject_invariant_bug {
        world.inject_invariant_bug();
    }
    // After each slice, the frames changed in it join the batch, which goes if it has
    // waited long enough.
    let flush = |world: &mut models::world::World, force: bool| -> bool {
        let mut f = filling
            .lock()
            .expect("the recorder never panics holding it");
        f.batch.frames.extend(world.take_frame_changes());
        f.batch.frame_count = world.vm().frames().len() as u32;
        if force || f.sent_at.elapsed() >= FLUSH_AFTER {
            f.send();
        }
        !f.gone
    };
    let (mut limit, mut slice) = (0u64, SLICE_NS);
    while limit < u64::MAX && world.stalled().is_none() {
        limit = limit.saturating_add(slice);
        let before = world.events_handled();
        world.run_until(SimTime::from_nanos(limit));
        if !flush(&mut world, false) {
            return false;
        }
        slice = if world.events_handled() == before {
            slice.saturating_mul(2)
        } else {
            SLICE_NS
        };
    }
    world.run();
    if !flush(&mut world, true) {
        return false;
    }
    let report = RunReport::from_world(&world, job.strategy);
    tx.send(Msg::Done {
        run,
        report: Box::new(report),
        now: world.now(),
        frame_count: world.vm().frames().len() as u32,
    })
    .is_ok()
}
