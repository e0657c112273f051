//! Running many independent simulations: on a rayon pool, each a separate deterministic run,
//! collected in input order, so results are the same whatever the thread count.

use models::report::{Report, RunOptions, RunReport, run};
use models::strategy::Strategy;
use models::workload::Workload;
use models::world::{Narrator, WorldConfig};
use rayon::prelude::*;
use scenarios::Scenario;

/// One run to do.
#[derive(Clone, Debug)]
pub struct Job {
    pub world: WorldConfig,
    pub workload: Workload,
    pub strategy: Strategy,
}

/// Runs one job, narrating if asked.
pub fn run_job(job: &Job, narrator: Option<Narrator>) -> RunReport {
    run(
        &job.world,
        &job.workload,
        job.strategy,
        RunOptions {
            narrator,
            ..RunOptions::default()
        },
    )
    .expect("scenario resolution only keeps strategies that apply")
}

/// Runs one strategy on one workload of `s`, recording at most `max_records` trace records.
pub fn traced(
    s: &Scenario,
    workload: &Workload,
    strategy: Strategy,
    max_records: usize,
) -> (RunReport, models::world::Trace) {
    let f = models::report::simulate(
        &world_of(s),
        workload,
        strategy,
        RunOptions {
            trace_records: Some(max_records),
            ..RunOptions::default()
        },
    )
    .expect("scenario resolution only keeps strategies that apply");
    (f.report, f.trace.expect("tracing was asked for"))
}

/// Runs every job on `threads` threads (0: rayon's default), calling `tick` after each, and
/// returns the reports in job order.
pub fn run_all(jobs: &[Job], threads: usize, tick: &(dyn Fn() + Sync)) -> Vec<RunReport> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    pool.install(|| {
        jobs.par_iter()
            .map(|j| {
                let r = run_job(j, None);
                tick();
                r
            })
            .collect()
    })
}

/// The scenario's world with its seed.
pub fn world_of(s: &Scenario) -> WorldConfig {
    let mut w = s.target.world.clone();
    w.seed = s.seed;
    w
}

/// Every (workload, strategy) of a scenario, as reports per workload.
pub fn run_scenario(s: &Scenario, threads: usize) -> Vec<Report> {
    let world = world_of(s);
    let jobs: Vec<Job> = s
        .runs
        .iter()
        .flat_map(|wr| {
            wr.strategies.iter().map(|st| Job {
                world: world.clone(),
                workload: wr.workload.clone(),
                strategy: *st,
            })
        })
        .collect();
    let mut results = run_all(&jobs, threads, &|| {}).into_iter();
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
