//! Homework problems in the manner of the OSTEP simulators: a seed makes a problem set, and
//! every answer comes from running the model on the scenario the problem describes.
//!
//! A template ([`Template`]) draws round parameters from the quiz's seeded stream and returns a
//! [`Problem`]: the question in words, its parts, and the [`Spec`]s of the runs that answer it.
//! [`Problem::solve`] runs those scenarios through the CLI's [`Runner`] (the path every command
//! takes) and reads each answer off the run's report; the explanation quotes the report and
//! the run's own narration. No answer is a formula of the parameters: a template may only do
//! arithmetic on reported figures (a ratio, a bus capacity over bus bytes per byte).
//!
//! Parameters come from [`sim::RngStreams`] keyed by the quiz seed, one named stream per
//! question, so question `i` of seed `s` is the same whatever `-n` is and whatever topics
//! come before it.
//!
//! | file | topic |
//! |---|---|
//! | [`copies`] | copies and bus bytes per payload byte, and the bus's throughput ceiling |
//! | [`bottleneck`] | which resource limits a run, and its throughput |
//! | [`rewrite`] | what the receiver sees when the buffer or file changes after `write()` |
//! | [`crossover`] | the write size at which a zero-copy strategy starts to beat `copy` |
//! | [`flip`] | page flipping on receive: flipped or copied, and how many pages |
//! | [`mmap_faults`] | minor faults and VMA lookups of `mmap` + `write` |
//! | [`straddle`] | Miller's straddling write, with the bug and fixed |
//! | [`shared_page`] | a page shared by two processes: how many copies |
//! | [`grade`] | reading a student's answers, with units, and judging them |

pub mod bottleneck;
pub mod copies;
pub mod crossover;
pub mod flip;
pub mod grade;
pub mod mmap_faults;
pub mod rewrite;
pub mod shared_page;
pub mod straddle;

use std::cell::RefCell;
use std::rc::Rc;

use models::report::RunReport;
use models::strategy::Strategy;
use scenarios::Overrides;
use serde::Serialize;
use sim::SimRng;

use crate::runner::{Job, Runner};

/// One kind of problem.
pub struct Template {
    /// What `-t` names it by.
    pub topic: &'static str,
    /// One line for `zcsim quiz --list`.
    pub about: &'static str,
    /// Draws a problem's parameters.
    pub make: fn(&mut Draw) -> Problem,
}

/// Every template, in the order `--list` shows them.
pub const TEMPLATES: [Template; 8] = [
    copies::TEMPLATE,
    bottleneck::TEMPLATE,
    rewrite::TEMPLATE,
    crossover::TEMPLATE,
    flip::TEMPLATE,
    mmap_faults::TEMPLATE,
    straddle::TEMPLATE,
    shared_page::TEMPLATE,
];

/// The template named `topic`.
pub fn template(topic: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.topic == topic)
}

/// Round parameters from a seeded stream.
pub struct Draw {
    rng: SimRng,
}

impl Draw {
    /// The stream for question `index` of quiz `seed`.
    pub fn new(seed: u64, index: u64) -> Draw {
        Draw {
            rng: sim::RngStreams::new(seed).named_stream("quiz", index),
        }
    }

    /// One of `choices`, uniformly.
    pub fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[sim::rng::below(&mut self.rng, choices.len() as u64) as usize]
    }

    /// True with probability one half.
    pub fn coin(&mut self) -> bool {
        self.pick(&[false, true])
    }
}

/// What kind of quantity an answer is, which decides the units a student may write and how
/// close a number must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Bytes: any size unit (`64 KiB`, `65536 B`, `0.0625 MiB`); a bare number is bytes.
    Size,
    /// Bytes per second: any rate unit; `KB/s` is 1024 bytes per second, as the report
    /// prints; a bare number is KB/s.
    Rate,
    /// A whole count, exact.
    Count,
    /// A plain number such as bytes per byte, within 2%.
    Number,
    /// One of the words listed.
    Word(&'static [&'static str]),
}

impl Kind {
    /// What a student may write, for error messages and the problem text.
    pub fn hint(self) -> String {
        match self {
            Kind::Size => "a size, e.g. 64 KiB".into(),
            Kind::Rate => "a rate, e.g. 6400 KB/s (KB = 1024 B) or 52 Mb/s".into(),
            Kind::Count => "a whole number".into(),
            Kind::Number => "a number".into(),
            Kind::Word(w) => format!("one of: {}", w.join(", ")),
        }
    }
}

/// One part of a question.
#[derive(Clone, Debug, Serialize)]
pub struct Part {
    pub question: String,
    pub kind: Kind,
}

/// A scenario to run: a preset, a workload kind, one strategy and `--set`s, exactly what
/// `zcsim run` takes, so a student can run it too.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spec {
    pub preset: &'static str,
    pub workload: &'static str,
    pub strategy: &'static str,
    pub sets: Vec<String>,
}

impl Spec {
    pub fn new(preset: &'static str, workload: &'static str, strategy: &'static str) -> Spec {
        Spec {
            preset,
            workload,
            strategy,
            sets: Vec::new(),
        }
    }

    /// Adds `--set path=value`.
    pub fn set(mut self, path: &str, value: impl std::fmt::Display) -> Spec {
        self.sets.push(format!("{path}={value}"));
        self
    }

    /// The same scenario with another strategy.
    pub fn with_strategy(&self, strategy: &'static str) -> Spec {
        Spec {
            strategy,
            ..self.clone()
        }
    }

    /// The `zcsim run` command that runs this scenario.
    pub fn command(&self) -> String {
        let mut c = format!(
            "zcsim run {} --preset {} --workload {}",
            self.strategy, self.preset, self.workload
        );
        for s in &self.sets {
            c.push_str(" --set ");
            c.push_str(s);
        }
        c
    }
}

/// A generated problem, before it is solved.
pub struct Problem {
    pub topic: &'static str,
    /// The situation, in words, with every parameter a student needs.
    pub text: String,
    pub parts: Vec<Part>,
    /// The runs that answer it (the first is the one the question is about).
    pub specs: Vec<Spec>,
    /// Reads the answers off runs of the lab.
    pub solve: Box<dyn Fn(&Lab) -> Solved>,
}

/// A reported figure as an answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Number(f64),
    Word(&'static str),
}

/// The answers to a problem's parts (in order), why, and how to see it.
#[derive(Clone, Debug, Serialize)]
pub struct Solved {
    pub answers: Vec<Value>,
    /// One paragraph built from the runs' reports and narration.
    pub why: String,
    /// The `zcsim run` commands that show the runs.
    pub commands: Vec<String>,
}

/// One finished run of a [`Spec`], with the narration lines the template asked to keep.
pub struct Ran {
    pub report: RunReport,
    /// The workload as the report's header names it.
    pub workload: String,
    /// The first narration lines (up to the limit asked for) that matched the filter.
    pub narration: Vec<String>,
}

/// Runs the scenarios problems describe.
pub struct Lab {
    pub runner: Runner,
}

impl Lab {
    /// Runs `spec` without narration.
    pub fn run(&self, spec: &Spec) -> Ran {
        self.narrated(spec, |_| false, 0)
    }

    /// Runs `spec`, keeping the first `keep` narration lines for which `want` holds.
    pub fn narrated(&self, spec: &Spec, want: fn(&str) -> bool, keep: usize) -> Ran {
        let sc = scenarios::load_default(&Overrides {
            preset: Some(spec.preset.into()),
            workload: Some(spec.workload.into()),
            strategies: Some(vec![spec.strategy.into()]),
            seed: None,
            sets: spec.sets.clone(),
        })
        .unwrap_or_else(|e| panic!("a quiz template made a bad scenario: {e}"));
        let wr = &sc.runs[0];
        let strategy: Strategy = wr.strategies[0];
        let job = Job::of(&sc, wr, strategy);
        let kept = Rc::new(RefCell::new(Vec::new()));
        let report = if keep == 0 {
            self.runner.run(&job)
        } else {
            let sink = Rc::clone(&kept);
            self.runner.narrated(
                &job,
                Box::new(move |line: &str| {
                    let mut k = sink.borrow_mut();
                    if k.len() < keep && want(line) {
                        k.push(line.trim().to_owned());
                    }
                }),
            )
        };
        let narration = kept.borrow().clone();
        Ran {
            report,
            workload: wr.workload.summary(),
            narration,
        }
    }
}

impl Problem {
    /// Runs the problem's scenarios and reads off the answers.
    pub fn solve(&self, lab: &Lab) -> Solved {
        let s = (self.solve)(lab);
        assert_eq!(
            s.answers.len(),
            self.parts.len(),
            "template {} answered {} parts of {}",
            self.topic,
            s.answers.len(),
            self.parts.len()
        );
        s
    }
}

/// The problems of a quiz: `count` questions from `topics` (all when empty), question `i`'s
/// template and parameters drawn from stream `i` of `seed`.
pub fn problems(seed: u64, count: usize, topics: &[&'static Template]) -> Vec<Problem> {
    let pool: Vec<&Template> = if topics.is_empty() {
        TEMPLATES.iter().collect()
    } else {
        topics.to_vec()
    };
    (0..count)
        .map(|i| {
            let mut d = Draw::new(seed, i as u64);
            let t = d.pick(&pool);
            (t.make)(&mut d)
        })
        .collect()
}

/// Bytes per second as the report prints them: KB/s with KB = 1024 bytes.
pub fn kb_per_sec(bytes_per_sec: f64) -> f64 {
    bytes_per_sec / 1024.0
}

/// A size in words: `64.0 KiB`, `512 B`.
pub fn bytes(b: u64) -> String {
    models::world::human_bytes(b)
}

/// An answer as printed: counts whole, sizes with a unit, rates in KB/s.
pub fn show(kind: Kind, v: &Value) -> String {
    match (kind, v) {
        (_, Value::Word(w)) => (*w).to_owned(),
        (Kind::Size, Value::Number(n)) => {
            let b = *n as u64;
            if b < 1024 {
                format!("{b} B")
            } else {
                format!("{} ({b} B)", bytes(b))
            }
        }
        (Kind::Rate, Value::Number(n)) => format!("{:.0} KB/s", kb_per_sec(*n)),
        (Kind::Count, Value::Number(n)) => format!("{n:.0}"),
        (Kind::Number | Kind::Word(_), Value::Number(n)) => format!("{n:.2}"),
    }
}

/// Quotes narration lines for an explanation: ` The narration: "..."; "...".`
pub fn quote(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let q: Vec<String> = lines.iter().map(|l| format!("\"{l}\"")).collect();
    format!(" The run's narration: {}.", q.join("; "))
}

#[cfg(test)]
mod tests;
