//! `zcsim explain STRATEGY`: where a strategy comes from, its steps and its in-flight
//! semantics; `--dot` prints the data-path graph of a run on its default workload.

use std::process::ExitCode;

use models::strategy::SourceKind;
use models::workload::{BulkSource, Workload};
use scenarios::{Overrides, presets};

use super::{Context, Outcome};
use crate::runner::Job;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  zcsim explain page-loan
  zcsim explain mmap-sendpage --dot | dot -Tsvg > path.svg")]
pub struct Args {
    /// A strategy id (see `zcsim list strategies`).
    #[arg(value_name = "STRATEGY")]
    pub strategy: String,
    /// Print the data-path graph of a run on its default workload as Graphviz DOT.
    #[arg(long)]
    pub dot: bool,
}

pub fn execute(cx: &mut Context, a: Args) -> Outcome {
    let id = a.strategy.as_str();
    let s = super::unknown_strategy(id)?;
    let out = &mut *cx.out;
    if a.dot {
        let w = match s.source() {
            SourceKind::Memory => Workload::default_for("bulk-send").expect("known"),
            SourceKind::File => Workload::BulkSend {
                total_bytes: 16 << 20,
                write_size: 64 << 10,
                source: BulkSource::File {
                    file_bytes: 16 << 20,
                    cold: false,
                },
            },
            SourceKind::Receive => Workload::default_for("bulk-receive").expect("known"),
            SourceKind::LocalFile => Workload::default_for("file-read").expect("known"),
        };
        let preset = if s.source() == SourceKind::Receive {
            "gige-2002"
        } else {
            presets::DEFAULT
        };
        let sc = scenarios::load_default(&Overrides {
            preset: Some(preset.into()),
            ..Overrides::default()
        })?;
        let r = cx.runner.run(&Job::of_workload(&sc, &w, s));
        write!(
            out,
            "{}",
            r.data_path.to_dot(&format!("{id}: {}", w.summary()))
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let e = s.explain();
    writeln!(out, "{id}: {}", e.title)?;
    writeln!(out, "origin: {}", e.origin)?;
    writeln!(out, "source: {}", e.source)?;
    writeln!(out, "sends from: {}", s.source().name())?;
    writeln!(out, "steps:")?;
    for (i, step) in e.steps.iter().enumerate() {
        writeln!(out, "  {}. {step}", i + 1)?;
    }
    writeln!(out, "if the data changes in flight: {}", e.in_flight)?;
    Ok(ExitCode::SUCCESS)
}
