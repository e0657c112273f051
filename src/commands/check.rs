//! `zcsim check FILE`: validate a scenario file and summarize it.

use std::process::ExitCode;

use scenarios::Overrides;

use super::{Context, Outcome};

#[derive(clap::Args, Debug)]
pub struct Args {
    pub file: String,
}

pub fn execute(cx: &mut Context, a: Args) -> Outcome {
    let file = &a.file;
    let s = scenarios::load_file(file, &Overrides::default())?;
    let out = &mut *cx.out;
    writeln!(out, "{file}: ok")?;
    writeln!(
        out,
        "  target {} ({}), seed {}",
        s.target.name, s.target.description, s.seed
    )?;
    for wr in &s.runs {
        let ids: Vec<&str> = wr.strategies.iter().map(|s| s.id()).collect();
        writeln!(out, "  {}", wr.workload.summary())?;
        writeln!(out, "    strategies: {}", ids.join(", "))?;
    }
    Ok(ExitCode::SUCCESS)
}
