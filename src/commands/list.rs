//! `zcsim list`: strategies, workloads (with their parameters) or presets (with their keys).

use std::process::ExitCode;

use clap::ValueEnum;
use models::strategy::{STRATEGY_IDS, Strategy};
use models::workload::{WORKLOAD_IDS, Workload};
use scenarios::presets;

use super::{Context, Outcome};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  zcsim list strategies
  zcsim list workloads      # every parameter with its range and default
  zcsim list presets        # every target key of every preset
  zcsim list schema > report.schema.json   # the JSON Schema of --format json")]
pub struct Args {
    /// What to list.
    #[arg(value_enum)]
    pub what: What,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum What {
    /// Every strategy id with what it sends from and its one-line title.
    Strategies,
    /// Every workload kind with its parameters.
    Workloads,
    /// Every target preset, and the target keys a scenario may set.
    Presets,
    /// The JSON Schema of every command's --format json document (docs/report-schema.json).
    Schema,
}

pub fn execute(cx: &mut Context, a: Args) -> Outcome {
    let out = &mut *cx.out;
    match a.what {
        What::Schema => {
            let text = serde_json::to_string_pretty(&crate::output::json_schema())
                .expect("schemas serialize");
            writeln!(out, "{text}")?;
        }
        What::Strategies => {
            // Columns as wide as the longest id, so a long id never runs into its source.
            let width = STRATEGY_IDS.iter().map(|id| id.len()).max().unwrap_or(0);
            for id in STRATEGY_IDS {
                let s = Strategy::from_id(id).expect("catalogue ids parse");
                let e = s.explain();
                writeln!(out, "{id:<width$} {:<7} {}", s.source().name(), e.title)?;
            }
        }
        What::Workloads => {
            for id in WORKLOAD_IDS {
                let w = Workload::default_for(id).expect("catalogue ids have defaults");
                writeln!(out, "{id:<20} {}", w.describe())?;
                writeln!(out, "  default: {}", w.summary())?;
                for (key, allowed, doc) in scenarios::scenario::describe_workload_keys(id) {
                    writeln!(out, "  {key:<24} {doc}; {allowed}")?;
                }
                writeln!(
                    out,
                    "  strategies: {}",
                    scenarios::scenario::applicable(&w).join(", ")
                )?;
                writeln!(out)?;
            }
        }
        What::Presets => {
            for name in presets::NAMES {
                let d = presets::description(name).unwrap_or_default();
                let default = if name == presets::DEFAULT {
                    " (default)"
                } else {
                    ""
                };
                writeln!(out, "{name:<16} {d}{default}")?;
            }
            writeln!(out)?;
            writeln!(
                out,
                "target keys (any preset value can be overridden in [target] or with --set target.KEY=VALUE):"
            )?;
            for (key, allowed, doc) in scenarios::scenario::describe_target_keys() {
                writeln!(out, "  {key:<24} {doc}; {allowed}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
