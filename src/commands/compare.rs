//! `zcsim compare` (and `zcsim` with no command): every strategy, or those named, on the
//! scenario's workloads, side by side.

use std::process::ExitCode;

use super::{Context, Format, Outcome, ScenarioArgs, print_reports};

#[derive(clap::Args, Debug, Default)]
#[command(after_help = "\
Examples:
  zcsim compare                                        # the default scenario (also plain `zcsim`)
  zcsim compare --strategies copy,page-loan --set target.memory_bus=40MB/s
  zcsim compare --preset gige-2002 --workload file-server --breakdown
  zcsim compare --scenario my.toml --format json > report.json
  zcsim compare --format csv > runs.csv
  zcsim compare --plot compare.png                     # bars: throughput and bus bytes per byte

`zcsim config` with the same flags prints every value the comparison ran with.")]
pub struct Args {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// table (for reading), json (one document with the configuration; see
    /// docs/report-schema.md) or csv (one row per run, the same columns for every command).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also show where CPU time and bus bytes went, by activity.
    #[arg(long)]
    pub breakdown: bool,
    /// Also write a bar chart, SVG or PNG by the file's extension: throughput and memory-bus
    /// bytes per payload byte, a bar per strategy (and workload).
    #[arg(long, value_name = "FILE.svg|FILE.png")]
    pub plot: Option<String>,
}

pub fn execute(cx: &mut Context, a: Args) -> Outcome {
    let s = a.scenario.load()?;
    if let Some(path) = &a.plot {
        super::sweep::check_plot_path(path)?;
    }
    let reports = cx.runner.scenario(&s, 0);
    let printed = print_reports(cx.out, "compare", &s, &reports, a.format, a.breakdown);
    if let Some(path) = &a.plot {
        plot(&s, &reports, path)
            .map_err(|e| super::Failure::User(format!("--plot {}: {e}", super::shorten(path))))?;
        super::note(&format!("wrote {path}"));
    }
    printed?;
    Ok(ExitCode::SUCCESS)
}

/// The comparison as bars, one per run, coloured by strategy as in every plot.
fn plot(
    s: &scenarios::Scenario,
    reports: &[models::report::Report],
    path: &str,
) -> Result<(), String> {
    use super::sweep::plot::{Bar, bars};
    let many = s.runs.len() > 1;
    let mut all = Vec::new();
    for (r, wr) in reports.iter().zip(&s.runs) {
        for run in &r.runs {
            all.push(Bar {
                label: if many {
                    format!("{} / {}", wr.name, run.strategy)
                } else {
                    run.strategy.to_owned()
                },
                colour: models::strategy::STRATEGY_IDS
                    .iter()
                    .position(|id| *id == run.strategy)
                    .unwrap_or(0),
                throughput_bytes_per_sec: run.throughput_bytes_per_sec,
                bus_bytes_per_payload_byte: run.bus_bytes_per_payload_byte,
            });
        }
    }
    let what = if many {
        format!("{} workloads", s.runs.len())
    } else {
        super::workload_title(&s.runs[0])
    };
    bars(
        &format!("Strategies compared on {}: {what}", s.target.name),
        &all,
        path,
    )
}
