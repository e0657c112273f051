//! The one place runs are assembled. Every command that simulates builds [`Job`]s and hands
//! them to a [`Runner`], which applies the options every run shares:
//!
//! - **invariant checking**: after every event in debug builds (as
//!   [`RunOptions::default`] does), and in release builds with `--check-invariants`;
//! - the hidden `--debug-inject-invariant-bug`, which breaks one invariant so tests can prove
//!   a command really runs the checker;
//! - **progress** on standard error when it is a terminal and a run lasts more than a moment;
//! - narration and tracing for the commands that ask for them.
//!
//! Many runs go on a rayon pool, each a separate deterministic run collected in input order,
//! so results are the same whatever the thread count.
//!
//! A run with progress asks [`models::report::simulate`] to drive it in slices of simulated
//! time and report the bytes moved; it handles the same events in the same order, so it
//! reports the same figures (a test below holds it to that).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use models::report::{Finished, Report, RunOptions, RunReport};
use models::strategy::Strategy;
use models::workload::{Workload, WorkloadOptions};
use models::world::{Narrator, WorldConfig};
use rayon::prelude::*;
use scenarios::{Scenario, WorkloadRun};

/// Most worker threads `--threads` may ask for.
pub const MAX_THREADS: usize = 256;

/// One run to do.
#[derive(Clone, Debug)]
pub struct Job {
    pub world: WorldConfig,
    pub workload: Workload,
    /// What applies to every strategy alike (`workload.fill_each_write`).
    pub options: WorkloadOptions,
    pub strategy: Strategy,
}

impl Job {
    /// Workload run `wr` of scenario `s` (its workload and options) with `strategy`.
    pub fn of(s: &Scenario, wr: &WorkloadRun, strategy: Strategy) -> Job {
        Job {
            options: wr.options,
            ..Job::of_workload(s, &wr.workload, strategy)
        }
    }

    /// A workload with default options on scenario `s`'s target, with `strategy`.
    pub fn of_workload(s: &Scenario, workload: &Workload, strategy: Strategy) -> Job {
        Job {
            world: world_of(s),
            workload: workload.clone(),
            options: WorkloadOptions::default(),
            strategy,
        }
    }
}

/// The options every run of a command shares.
#[derive(Clone, Copy, Debug)]
pub struct Runner {
    /// Check every invariant after every event.
    pub check_invariants: bool,
    /// Break an invariant on purpose (tests of the checker only).
    pub inject_invariant_bug: bool,
    /// Show progress on standard error (only ever drawn on a terminal).
    pub progress: bool,
}

impl Default for Runner {
    fn default() -> Self {
        Runner {
            check_invariants: RunOptions::default().check_invariants,
            inject_invariant_bug: false,
            progress: true,
        }
    }
}

impl Runner {
    /// `--check-invariants` adds the check to release builds; debug builds always check.
    pub fn new(check_invariants: bool, inject_invariant_bug: bool) -> Runner {
        Runner {
            check_invariants: Runner::default().check_invariants || check_invariants,
            inject_invariant_bug,
            ..Runner::default()
        }
    }

    fn options(&self, narrator: Option<Narrator>, trace_records: Option<usize>) -> RunOptions {
        RunOptions {
            check_invariants: self.check_invariants,
            narrator,
            trace_records,
            inject_invariant_bug: self.inject_invariant_bug,
            ..RunOptions::default()
        }
    }

    fn finish(
        &self,
        job: &Job,
        mut opts: RunOptions,
        progress: Option<&Arc<Progress>>,
    ) -> Finished {
        if let Some(p) = progress {
            let p = Arc::clone(p);
            opts.progress = Some(Box::new(move |bytes| p.advance(bytes)));
        }
        opts.workload = job.options;
        let f = models::report::simulate(&job.world, &job.workload, job.strategy, opts);
        // Scenario resolution keeps only strategies that apply to their workload.
        let f = f.unwrap_or_else(|e| {
            panic!("a resolved scenario ran a strategy that does not apply: {e}")
        });
        if let Some(p) = progress {
            p.run_done();
        }
        f
    }

    /// Runs one job.
    pub fn run(&self, job: &Job) -> RunReport {
        self.run_all(std::slice::from_ref(job), 1).remove(0)
    }

    /// Runs one job, sending a line per narrated event to `narrator` (no progress bar: the
    /// narration is the progress).
    pub fn narrated(&self, job: &Job, narrator: Narrator) -> RunReport {
        self.finish(job, self.options(Some(narrator), None), None)
            .report
    }

    /// Runs one job handing every trace record and narration line to `sink` as it is made
    /// (nothing is kept: memory stays bounded however long the run).
    pub fn streamed(&self, job: &Job, sink: Box<dyn sim::TraceSink + Send>) -> RunReport {
        let progress = self.progress_for(std::slice::from_ref(job));
        let opts = RunOptions {
            trace_stream: Some(sink),
            ..self.options(None, None)
        };
        let f = self.finish(job, opts, progress.as_ref());
        if let Some(p) = progress {
            p.clear();
        }
        f.report
    }

    /// Runs every job on `threads` threads (0: one per core) and returns the reports in job
    /// order.
    pub fn run_all(&self, jobs: &[Job], threads: usize) -> Vec<RunReport> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.min(MAX_THREADS))
            .build()
            .expect("a thread pool");
        let progress = self.progress_for(jobs);
        let reports = pool.install(|| {
            jobs.par_iter()
                .map(|j| {
                    self.finish(j, self.options(None, None), progress.as_ref())
                        .report
                })
                .collect()
        });
        if let Some(p) = progress {
            p.clear();
        }
        reports
    }

    /// Every (workload, strategy) of a scenario, as reports per workload.
    pub fn scenario(&self, s: &Scenario, threads: usize) -> Vec<Report> {
        let jobs: Vec<Job> = s
            .runs
            .iter()
            .flat_map(|wr| wr.strategies.iter().map(|st| Job::of(s, wr, *st)))
            .collect();
        let mut results = self.run_all(&jobs, threads).into_iter();
        s.runs
            .iter()
            .map(|wr| Report {
                seed: s.seed,
                target: s.target.name.clone(),
                workload: wr.workload.id().to_owned(),
                runs: results.by_ref().take(wr.strategies.len()).collect(),
            })
            .collect()
    }

    fn progress_for(&self, jobs: &[Job]) -> Option<Arc<Progress>> {
        (self.progress && std::io::stderr().is_terminal()).then(|| {
            Arc::new(Progress::new(
                jobs.iter().map(|j| j.workload.payload_bytes()).sum(),
                jobs.len(),
            ))
        })
    }
}

/// The scenario's world with its seed.
pub fn world_of(s: &Scenario) -> WorldConfig {
    let mut w = s.target.world.clone();
    w.seed = s.seed;
    w
}

/// How long runs go before a progress bar appears: short commands stay quiet.
const QUIET_FOR: Duration = Duration::from_millis(800);

/// A progress bar over the payload bytes of a command's runs, on standard error.
struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: AtomicBool,
    runs: usize,
    done: AtomicU64,
}

impl Progress {
    fn new(total_bytes: u64, runs: usize) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:32} {binary_bytes}/{binary_total_bytes} simulated, {msg}, {elapsed} elapsed, about {eta} left",
            )
            .expect("a valid template"),
        );
        bar.set_message(format!("0/{runs} runs done"));
        Progress {
            bar,
            started: Instant::now(),
            shown: AtomicBool::new(false),
            runs,
            done: AtomicU64::new(0),
        }
    }

    fn advance(&self, bytes: u64) {
        self.bar.inc(bytes);
        if !self.shown.load(Ordering::Relaxed)
            && self.started.elapsed() > QUIET_FOR
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn run_done(&self) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        self.bar.set_message(format!("{n}/{} runs done", self.runs));
        self.advance(0);
    }

    fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driving_in_slices_reports_what_one_run_reports() {
        // The progress path must not change a figure: for a bulk-send, a file server with
        // think time, a receive on gigabit and a TX ring smaller than a chain (linearized),
        // the sliced drive's report
        // serializes to the same JSON as models::report::simulate's.
        let small = "workload.total=256KiB";
        let cases = [
            ("embedded-100tx", "bulk-send", "page-loan", vec![small]),
            (
                "embedded-100tx",
                "file-server",
                "sendfile",
                vec!["workload.requests=20"],
            ),
            ("gige-2002", "bulk-receive", "page-flip", vec![small]),
            (
                "gige-2002",
                "bulk-send",
                "copy",
                vec![small, "target.tx_ring_slots=4"],
            ),
        ];
        for (preset, workload, strategy, sets) in cases {
            let sets = sets.into_iter().map(str::to_owned).collect();
            let s = scenarios::load_default(&scenarios::Overrides {
                preset: Some(preset.into()),
                workload: Some(workload.into()),
                strategies: Some(vec![strategy.into()]),
                sets,
                ..Default::default()
            })
            .unwrap();
            let job = Job::of(&s, &s.runs[0], s.runs[0].strategies[0]);
            let plain = models::report::simulate(
                &job.world,
                &job.workload,
                job.strategy,
                RunOptions::default(),
            )
            .unwrap();
            let total = Arc::new(AtomicU64::new(0));
            let counter = Arc::clone(&total);
            let sliced = models::report::simulate(
                &job.world,
                &job.workload,
                job.strategy,
                RunOptions {
                    progress: Some(Box::new(move |b| {
                        counter.fetch_add(b, Ordering::Relaxed);
                    })),
                    ..RunOptions::default()
                },
            )
            .unwrap();
            let json = |r: &RunReport| serde_json::to_string(r).unwrap();
            assert_eq!(
                json(&plain.report),
                json(&sliced.report),
                "{preset} {workload} {strategy}"
            );
            assert_eq!(
                total.load(Ordering::Relaxed),
                sliced.report.payload_bytes,
                "progress counts every payload byte"
            );
        }
    }
}
