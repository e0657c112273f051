//! `zcsim`: compare zero-copy strategies on a simulated machine.
//!
//! Exit codes: 0 success (a simulated failure, such as an `mmap` that does not fit, is an
//! outcome, still 0); 1 a command whose verdict failed (`reproduce`); 2 a user's mistake (a
//! bad scenario, flag or name), printed to stderr with where, which field, the value and
//! what is allowed.

mod output;
mod reproduce;
mod runner;
mod sweep;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use models::report::{Report, RunReport};
use models::strategy::{STRATEGY_IDS, Strategy};
use models::workload::{BulkSource, WORKLOAD_IDS, Workload};
use scenarios::{Overrides, Scenario, ScenarioError, presets};

/// Simulate the 2000-2003 zero-copy argument: copies, faults, and where the bandwidth went.
#[derive(Parser, Debug)]
#[command(name = "zcsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run every strategy (or those named) on the scenario's workloads and compare them.
    Compare {
        #[command(flatten)]
        scenario: ScenarioArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Also show where CPU time and bus bytes went, by activity.
        #[arg(long)]
        breakdown: bool,
    },
    /// Run one strategy; --verbose narrates every event.
    Run {
        /// A strategy id (see `zcsim list strategies`).
        strategy: String,
        #[command(flatten)]
        scenario: ScenarioArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Print one plain-language line per event as the run goes.
        #[arg(long, short)]
        verbose: bool,
    },
    /// List strategies, workloads (with their parameters) or presets (with their keys).
    List {
        #[arg(value_enum)]
        what: ListWhat,
    },
    /// Explain a strategy: where it comes from, its steps, its in-flight semantics.
    Explain {
        strategy: String,
        /// Print the data-path graph of a run on its default workload as Graphviz DOT.
        #[arg(long)]
        dot: bool,
    },
    /// Check a scenario file and summarize it.
    Check { file: String },
    /// Open the interactive timeline on the scenario's first workload (every strategy that
    /// applies, or those named; 1-9 switch between them).
    Tui {
        /// Most records kept per run.
        #[arg(long, default_value_t = 1_000_000)]
        max_records: usize,
        #[command(flatten)]
        scenario: ScenarioArgs,
    },
    /// Record runs and write them as a Chrome Trace Event file for Perfetto or chrome://tracing.
    Export {
        /// The file to write.
        #[arg(long, value_name = "FILE.json")]
        chrome: String,
        /// Most records kept per run (older ones are dropped, and the count is reported).
        #[arg(long, default_value_t = 2_000_000)]
        max_records: usize,
        #[command(flatten)]
        scenario: ScenarioArgs,
    },
    /// Run the seeds' claims (DESIGN section 9) as experiments; exit 1 if any fails.
    Reproduce {
        /// Experiment names (default: all eight).
        experiments: Vec<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Sweep one parameter and compare the strategies at every point.
    Sweep {
        /// The parameter's path, as for --set (target.memory_bus, workload.write_size, ...).
        #[arg(long)]
        param: String,
        /// Values to visit, with units: --values 20MB/s,40MB/s,80MB/s.
        #[arg(long, value_delimiter = ',', conflicts_with = "range")]
        values: Option<Vec<String>>,
        /// A range FROM..TO, with units: --range 10MB/s..100MB/s.
        #[arg(long, requires = "steps")]
        range: Option<String>,
        /// Points in the range.
        #[arg(long)]
        steps: Option<usize>,
        /// Space the range's points evenly on a log scale (and plot a log axis).
        #[arg(long)]
        log: bool,
        /// The report key to compare and plot (dotted: copies.cpu_copy_bytes).
        #[arg(long, default_value = "throughput_bytes_per_sec")]
        metric: String,
        /// Write an SVG plot of the metric.
        #[arg(long, value_name = "FILE.svg")]
        plot: Option<String>,
        /// Worker threads (default: one per core). Results do not depend on it.
        #[arg(long, default_value_t = 0)]
        threads: usize,
        #[command(flatten)]
        scenario: ScenarioArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Also show where CPU time and bus bytes went at every point.
        #[arg(long)]
        breakdown: bool,
    },
}

#[derive(Args, Debug, Default)]
struct ScenarioArgs {
    /// A target preset (replaces the scenario's).
    #[arg(long, conflicts_with = "scenario")]
    preset: Option<String>,
    /// A scenario file (TOML); default: the built-in default scenario.
    #[arg(long)]
    scenario: Option<String>,
    /// Only this workload kind (its default parameters if the scenario has none).
    #[arg(long)]
    workload: Option<String>,
    /// Comma-separated strategy ids.
    #[arg(long, value_delimiter = ',')]
    strategies: Option<Vec<String>>,
    /// Override a scenario field: --set target.memory_bus=40MB/s (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Root seed.
    #[arg(long, allow_negative_numbers = true)]
    seed: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ListWhat {
    Strategies,
    Workloads,
    Presets,
}

/// A user's mistake: printed, exit code 2.
struct UserError(String);

impl From<ScenarioError> for UserError {
    fn from(e: ScenarioError) -> Self {
        UserError(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Compare {
        scenario: ScenarioArgs::default(),
        format: Format::Table,
        breakdown: false,
    });
    match dispatch(command) {
        Ok(code) => code,
        Err(UserError(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(command: Command) -> Result<ExitCode, UserError> {
    match command {
        Command::Compare {
            scenario,
            format,
            breakdown,
        } => {
            let s = load(&scenario)?;
            let reports = runner::run_scenario(&s, 0);
            print(&s, &reports, format, breakdown);
        }
        Command::Tui {
            max_records,
            scenario,
        } => {
            let s = load(&scenario)?;
            let app = tui_app(&s, max_records);
            if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                return Err(UserError(
                    "zcsim tui needs a terminal on standard output".into(),
                ));
            }
            tui::run(app).map_err(|e| UserError(format!("terminal: {e}")))?;
        }
        Command::Export {
            chrome,
            max_records,
            scenario,
        } => {
            let s = load(&scenario)?;
            export_chrome(&s, &chrome, max_records)?;
        }
        Command::Reproduce {
            experiments,
            format,
        } => {
            let outcomes = reproduce::reproduce(&experiments).map_err(UserError)?;
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&outcomes).expect("outcomes serialize")
                ),
                Format::Csv => {
                    println!("experiment,pass,published,simulated,tolerance");
                    for o in &outcomes {
                        println!(
                            "{},{},\"{}\",\"{}\",\"{}\"",
                            o.name, o.pass, o.published, o.simulated, o.tolerance
                        );
                    }
                }
                Format::Table => print!("{}", reproduce::table(&outcomes)),
            }
            if outcomes.iter().any(|o| !o.pass) {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Sweep {
            param,
            values,
            range,
            steps,
            log,
            metric,
            plot,
            threads,
            scenario,
            format,
            breakdown,
        } => {
            let points = sweep::Points::new(
                &param,
                values.as_deref(),
                range.as_deref(),
                steps.unwrap_or(0),
                log,
            )
            .map_err(UserError)?;
            // Validate the scenario and the metric once before the runs.
            let base = load(&scenario)?;
            let loader = |extra: &[String]| -> Result<Scenario, String> {
                let mut a = overrides(&scenario);
                a.sets.extend_from_slice(extra);
                match &scenario.scenario {
                    Some(p) => scenarios::load_file(p, &a),
                    None => scenarios::load_default(&a),
                }
                .map_err(|e| e.to_string())
            };
            let rows = sweep::run(&points, &metric, threads, &loader).map_err(UserError)?;
            match format {
                Format::Table => {
                    print!("{}", sweep::table(&points, &metric, &rows));
                    if breakdown {
                        for value in &points.values {
                            let runs: Vec<RunReport> = rows
                                .iter()
                                .filter(|r| &r.value == value)
                                .map(|r| r.report.clone())
                                .collect();
                            let r = Report {
                                seed: base.seed,
                                target: base.target.name.clone(),
                                workload: String::new(),
                                runs,
                            };
                            println!("\n{} = {value}", points.param);
                            print!("{}", output::breakdown_table(&r));
                        }
                    }
                }
                Format::Csv => print!("{}", sweep::csv(&points, &metric, &rows)),
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "param": points.param,
                        "metric": metric,
                        "seed": base.seed,
                        "target": base.target.name,
                        "points": rows,
                    }))
                    .expect("rows serialize")
                ),
            }
            if let Some(path) = plot {
                sweep::plot(&points, &metric, &base.target.name, &rows, &path)
                    .map_err(|e| UserError(format!("--plot {path}: {e}")))?;
                eprintln!("wrote {path}");
            }
        }
        Command::Run {
            strategy,
            mut scenario,
            format,
            verbose,
        } => {
            scenario.strategies = Some(vec![strategy.clone()]);
            if scenario.workload.is_none() && scenario.scenario.is_none() {
                // The default scenario has two sources; keep the one this strategy sends from.
                Strategy::from_id(&strategy).map_err(|e| UserError(e.to_string()))?;
            }
            let s = load_for_strategy(&scenario, &strategy)?;
            let mut reports = Vec::new();
            for wr in &s.runs {
                let mut runs = Vec::new();
                for st in &wr.strategies {
                    let narrator: Option<models::world::Narrator> =
                        verbose.then(|| Box::new(|l: &str| println!("{l}")) as _);
                    let job = runner::Job {
                        world: runner::world_of(&s),
                        workload: wr.workload.clone(),
                        strategy: *st,
                    };
                    runs.push(runner::run_job(&job, narrator));
                }
                reports.push(Report {
                    seed: s.seed,
                    target: s.target.name.clone(),
                    workload: wr.workload.id().to_owned(),
                    runs,
                });
            }
            print(&s, &reports, format, false);
        }
        Command::List { what } => list(what),
        Command::Explain { strategy, dot } => explain(&strategy, dot)?,
        Command::Check { file } => {
            let s = scenarios::load_file(&file, &Overrides::default())?;
            println!("{file}: ok");
            println!(
                "  target {} ({}), seed {}",
                s.target.name, s.target.description, s.seed
            );
            for wr in &s.runs {
                let ids: Vec<&str> = wr.strategies.iter().map(|s| s.id()).collect();
                println!("  {}", output::describe_workload(&wr.workload));
                println!("    strategies: {}", ids.join(", "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn overrides(a: &ScenarioArgs) -> Overrides {
    Overrides {
        preset: a.preset.clone(),
        workload: a.workload.clone(),
        strategies: a.strategies.clone(),
        seed: a.seed,
        sets: a.sets.clone(),
    }
}

fn load(a: &ScenarioArgs) -> Result<Scenario, UserError> {
    let o = overrides(a);
    let s = match &a.scenario {
        Some(path) => scenarios::load_file(path, &o)?,
        None => scenarios::load_default(&o)?,
    };
    for n in &s.notes {
        eprintln!("{n}");
    }
    Ok(s)
}

/// Loads the scenario for `zcsim run STRATEGY`: workloads the strategy does not apply to are
/// dropped from the default scenario (which mixes sources); an explicit one must fit.
fn load_for_strategy(a: &ScenarioArgs, id: &str) -> Result<Scenario, UserError> {
    if a.scenario.is_some() || a.workload.is_some() {
        return load(a);
    }
    let s = Strategy::from_id(id).map_err(|e| UserError(e.to_string()))?;
    let mut o = overrides(a);
    if s.source() == models::strategy::SourceKind::Receive {
        o.workload = Some("bulk-receive".into());
        let sc = scenarios::load_default(&o)?;
        return Ok(sc);
    }
    o.strategies = None;
    let mut sc = scenarios::load_default(&o)?;
    sc.runs.retain(|wr| wr.workload.check(&s).is_ok());
    for wr in &mut sc.runs {
        wr.strategies.retain(|x| x.id() == id);
    }
    Ok(sc)
}

fn print(s: &Scenario, reports: &[Report], format: Format, breakdown: bool) {
    match format {
        Format::Json => print!("{}", output::json(reports)),
        Format::Csv => print!("{}", output::csv(reports)),
        Format::Table => {
            for (i, (r, wr)) in reports.iter().zip(&s.runs).enumerate() {
                if i > 0 {
                    println!();
                }
                print!(
                    "{}",
                    output::table(r, &output::describe_workload(&wr.workload), breakdown)
                );
            }
        }
    }
}

fn list(what: ListWhat) {
    match what {
        ListWhat::Strategies => {
            for id in STRATEGY_IDS {
                let s = Strategy::from_id(id).expect("catalogue ids parse");
                let e = s.explain();
                println!("{id:<14} {:<7} {}", s.source().name(), e.title);
            }
            println!();
            println!(
                "planned, not modelled yet: {}",
                models::strategy::FUTURE_IDS.join(", ")
            );
        }
        ListWhat::Workloads => {
            for id in WORKLOAD_IDS {
                let w = Workload::default_for(id).expect("catalogue ids have defaults");
                println!("{id:<20} {}", w.describe());
                println!("  default: {}", output::describe_workload(&w));
                for (key, allowed, doc) in scenarios::scenario::describe_workload_keys(id) {
                    println!("  {key:<24} {doc}; {allowed}");
                }
                println!(
                    "  strategies: {}",
                    scenarios::scenario::applicable(&w).join(", ")
                );
                println!();
            }
        }
        ListWhat::Presets => {
            for name in presets::NAMES {
                let d = presets::description(name).unwrap_or_default();
                let default = if name == presets::DEFAULT {
                    " (default)"
                } else {
                    ""
                };
                println!("{name:<16} {d}{default}");
            }
            println!();
            println!(
                "target keys (any preset value can be overridden in [target] or with --set target.KEY=VALUE):"
            );
            for (key, allowed, doc) in scenarios::scenario::describe_target_keys() {
                println!("  {key:<24} {doc}; {allowed}");
            }
        }
    }
}

fn explain(id: &str, dot: bool) -> Result<(), UserError> {
    let s = Strategy::from_id(id).map_err(|e| UserError(e.to_string()))?;
    let w = match s.source() {
        models::strategy::SourceKind::Memory => Workload::default_for("bulk-send").expect("known"),
        models::strategy::SourceKind::File => Workload::BulkSend {
            total_bytes: 16 << 20,
            write_size: 64 << 10,
            source: BulkSource::File {
                file_bytes: 16 << 20,
                cold: false,
            },
        },
        models::strategy::SourceKind::Receive => {
            Workload::default_for("bulk-receive").expect("known")
        }
    };
    if dot {
        let preset = if s.source() == models::strategy::SourceKind::Receive {
            "gige-2002"
        } else {
            presets::DEFAULT
        };
        let sc = scenarios::load_default(&Overrides {
            preset: Some(preset.into()),
            ..Overrides::default()
        })?;
        let r = runner::run_job(
            &runner::Job {
                world: runner::world_of(&sc),
                workload: w.clone(),
                strategy: s,
            },
            None,
        );
        print!(
            "{}",
            r.data_path
                .to_dot(&format!("{id}: {}", output::describe_workload(&w)))
        );
        return Ok(());
    }
    let e = s.explain();
    println!("{id}: {}", e.title);
    println!("origin: {}", e.origin);
    println!("sends from: {}", s.source().name());
    println!("steps:");
    for (i, step) in e.steps.iter().enumerate() {
        println!("  {}. {step}", i + 1);
    }
    println!("if the data changes in flight: {}", e.in_flight);
    Ok(())
}

/// Writes every (workload, strategy) run of `s` as one process of a Chrome trace.
fn export_chrome(s: &Scenario, path: &str, max_records: usize) -> Result<(), UserError> {
    use sim::{ChromeTraceWriter, LaneId, TraceSink};
    let file = std::fs::File::create(path)
        .map_err(|e| UserError(format!("--chrome {path}: cannot create: {e}")))?;
    let mut w = ChromeTraceWriter::new(std::io::BufWriter::new(file))
        .map_err(|e| UserError(format!("--chrome {path}: {e}")))?;
    let mut pid = 1;
    for wr in &s.runs {
        for st in &wr.strategies {
            let (report, trace) = runner::traced(s, &wr.workload, *st, max_records);
            w.begin_process(pid, &format!("{} on {}", st.id(), wr.workload.id()));
            let recorded = trace.records.len();
            for (i, name) in trace.lanes.iter().enumerate() {
                w.declare_lane(LaneId(i as u32), name);
            }
            for r in trace.records {
                w.record(r);
            }
            eprintln!(
                "{} on {}: {} events, {recorded} trace records{}",
                st.id(),
                wr.workload.id(),
                report.events,
                if trace.dropped > 0 {
                    format!(
                        " ({} oldest records dropped: raise --max-records)",
                        trace.dropped
                    )
                } else {
                    String::new()
                }
            );
            pid += 1;
        }
    }
    w.finish()
        .map_err(|e| UserError(format!("--chrome {path}: {e}")))?;
    eprintln!(
        "wrote {path}: open it at https://ui.perfetto.dev (Open trace file) or chrome://tracing"
    );
    Ok(())
}

/// The timeline for the scenario's first workload: a traced run per strategy.
fn tui_app(s: &Scenario, max_records: usize) -> tui::App {
    let wr = &s.runs[0];
    let runs = wr
        .strategies
        .iter()
        .map(|st| {
            let (report, trace) = runner::traced(s, &wr.workload, *st, max_records);
            tui::RunView::new(st.id().to_owned(), report, trace)
        })
        .collect();
    tui::App::new(
        format!(
            "{} on {}",
            output::describe_workload(&wr.workload),
            s.target.name
        ),
        runs,
    )
}
