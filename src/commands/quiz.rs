//! `zcsim quiz`: homework problems in the OSTEP simulators' manner. `-s` picks the problem
//! set, `-c` prints the answers (each from a model run, with why), `--grade FILE` judges a
//! student's answers. The problems themselves live in [`crate::quiz`].

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::ValueEnum;
use serde::Serialize;

use super::{Context, Failure, Outcome, flag_error};
use crate::quiz::{self, Kind, Lab, Problem, Solved, Value, grade};

/// Most questions one quiz may have.
pub const MAX_COUNT: usize = 100;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The seed that makes the problem set.
    #[arg(short, long, default_value_t = 0)]
    pub seed: u64,
    /// How many questions.
    #[arg(short = 'n', long = "count", default_value_t = 5)]
    pub count: usize,
    /// Only these topics, comma-separated (see --list; default: all).
    #[arg(short, long = "topic", value_delimiter = ',')]
    pub topics: Vec<String>,
    /// Print the answers, each computed by running the model, with why.
    #[arg(short, long)]
    pub compute: bool,
    /// Judge a file of answers (one per line, units accepted) and explain the wrong ones;
    /// exit 1 if any is wrong.
    #[arg(long, value_name = "FILE")]
    pub grade: Option<String>,
    /// List the topics and stop.
    #[arg(long)]
    pub list: bool,
    /// Text, or JSON for autograders (answers, with -c or --grade, in bytes and bytes per
    /// second; `shown` as printed).
    #[arg(long, value_enum, default_value_t = QuizFormat::Text)]
    pub format: QuizFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum QuizFormat {
    Text,
    Json,
}

/// Width problem text and explanations are wrapped to.
const WIDTH: usize = 92;

pub fn execute(cx: &mut Context, a: Args) -> Outcome {
    if a.list {
        for t in &quiz::TEMPLATES {
            writeln!(cx.out, "{:<12} {}", t.topic, t.about)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.count == 0 || a.count > MAX_COUNT {
        return Err(flag_error(
            "-n",
            &a.count.to_string(),
            "out of range",
            &format!("a whole number from 1 to {MAX_COUNT}"),
        ));
    }
    let mut topics = Vec::new();
    for t in &a.topics {
        let found = quiz::template(t).ok_or_else(|| {
            let known: Vec<&str> = quiz::TEMPLATES.iter().map(|t| t.topic).collect();
            flag_error("--topic", t, "unknown topic", &known.join(", "))
        })?;
        if !topics
            .iter()
            .any(|x: &&quiz::Template| x.topic == found.topic)
        {
            topics.push(found);
        }
    }
    let answers_text = match &a.grade {
        Some(path) => Some(read_answers(path)?),
        None => None,
    };
    let problems = quiz::problems(a.seed, a.count, &topics);
    let lab = Lab { runner: cx.runner };
    let solve = a.compute || answers_text.is_some();
    let solved: Vec<Option<Solved>> = problems
        .iter()
        .map(|p| solve.then(|| p.solve(&lab)))
        .collect();
    let graded = match &answers_text {
        Some(text) => Some(grade_all(&problems, &solved, text)?),
        None => None,
    };
    let topic_arg = if topics.is_empty() {
        "all".to_owned()
    } else {
        topics.iter().map(|t| t.topic).collect::<Vec<_>>().join(",")
    };
    match a.format {
        QuizFormat::Json => {
            let doc = json(&a, &topic_arg, &problems, &solved, graded.as_deref());
            writeln!(
                cx.out,
                "{}",
                serde_json::to_string_pretty(&doc).expect("a quiz serializes")
            )?;
        }
        QuizFormat::Text => {
            let mut s = String::new();
            let _ = writeln!(s, "ARG seed {}", a.seed);
            let _ = writeln!(s, "ARG count {}", a.count);
            let _ = writeln!(s, "ARG topic {topic_arg}");
            let _ = writeln!(s, "ARG compute {}", a.compute);
            if let Some(g) = &a.grade {
                let _ = writeln!(s, "ARG grade {g}");
            }
            match &graded {
                Some(g) => text_graded(&mut s, &problems, &solved, g),
                None => text_problems(&mut s, &problems, &solved, a.compute),
            }
            write!(cx.out, "{s}")?;
        }
    }
    let all_right = graded
        .iter()
        .flatten()
        .all(|g| g.verdict == grade::Verdict::Right);
    Ok(if all_right {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Largest answer file read: far above any real one, small enough that `--grade /dev/zero`
/// stops at once.
const MAX_ANSWER_BYTES: u64 = 1 << 20;

fn read_answers(path: &str) -> Result<String, Failure> {
    use std::io::Read;
    let unreadable = |e: std::io::Error| {
        flag_error(
            "--grade",
            path,
            &format!("cannot be read ({e})"),
            "a text file",
        )
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_ANSWER_BYTES + 1).read_to_end(&mut bytes))
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_ANSWER_BYTES {
        return Err(flag_error(
            "--grade",
            path,
            "is larger than 1 MiB",
            "a text file of answers, one per line",
        ));
    }
    String::from_utf8(bytes).map_err(|_| {
        flag_error(
            "--grade",
            path,
            "is not UTF-8 text",
            "a text file of answers, one per line",
        )
    })
}

/// One part's grade.
struct Graded {
    label: String,
    given: Option<String>,
    verdict: grade::Verdict,
}

/// The label of part `j` of question `i` (both from 0): `1a`, `1b`, `2a`.
fn label(i: usize, j: usize) -> String {
    format!("{}{}", i + 1, char::from(b'a' + j as u8))
}

fn grade_all(
    problems: &[Problem],
    solved: &[Option<Solved>],
    text: &str,
) -> Result<Vec<Graded>, Failure> {
    let lines = grade::lines(text);
    let labelled = lines.iter().any(|(l, _)| l.is_some());
    let mut out = Vec::new();
    let mut next = 0;
    for (i, (p, s)) in problems.iter().zip(solved).enumerate() {
        let s = s.as_ref().expect("graded problems are solved");
        for (j, (part, answer)) in p.parts.iter().zip(&s.answers).enumerate() {
            let l = label(i, j);
            let given = if labelled {
                lines
                    .iter()
                    .find(|(x, _)| x.as_deref() == Some(l.as_str()))
                    .map(|(_, t)| t.clone())
            } else {
                next += 1;
                lines.get(next - 1).map(|(_, t)| t.clone())
            };
            let verdict = grade::verdict(part.kind, answer, given.as_deref());
            out.push(Graded {
                label: l,
                given,
                verdict,
            });
        }
    }
    if labelled {
        if let Some((Some(x), _)) = lines.iter().find(|(x, _)| {
            x.as_ref()
                .is_none_or(|x| !out.iter().any(|g| &g.label == x))
        }) {
            return Err(Failure::User(format!(
                "--grade: answer label `{x}` names no part of this quiz (same -s, -n and -t as \
                 the problems?)"
            )));
        }
        if lines.iter().any(|(x, _)| x.is_none()) {
            return Err(Failure::User(
                "--grade: some lines have a label such as `1a.` and some do not; label all or none"
                    .into(),
            ));
        }
    } else if lines.len() > out.len() {
        return Err(Failure::User(format!(
            "--grade: {} answers for {} parts (same -s, -n and -t as the problems?)",
            lines.len(),
            out.len()
        )));
    }
    Ok(out)
}

fn wrap(s: &mut String, indent: &str, text: &str) {
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > WIDTH {
            let _ = writeln!(s, "{indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(s, "{indent}{line}");
    }
}

fn question(s: &mut String, i: usize, p: &Problem) {
    let _ = writeln!(s);
    let _ = writeln!(s, "Question {} ({})", i + 1, p.topic);
    wrap(s, "  ", &p.text);
    for (j, part) in p.parts.iter().enumerate() {
        wrap(
            s,
            "    ",
            &format!("{}. {} [{}]", label(i, j), part.question, part.kind.hint()),
        );
    }
}

fn text_problems(s: &mut String, problems: &[Problem], solved: &[Option<Solved>], compute: bool) {
    for (i, (p, sol)) in problems.iter().zip(solved).enumerate() {
        question(s, i, p);
        if let Some(sol) = sol {
            let _ = writeln!(s, "  Answers:");
            for (j, (part, v)) in p.parts.iter().zip(&sol.answers).enumerate() {
                let _ = writeln!(s, "    {}. {}", label(i, j), quiz::show(part.kind, v));
            }
            wrap(s, "  ", &format!("Why: {}", sol.why));
            let _ = writeln!(s, "  See it:");
            for c in &sol.commands {
                let _ = writeln!(s, "    {c}");
            }
        }
    }
    if !compute {
        let _ = writeln!(s);
        wrap(
            s,
            "",
            "Work out the answers, then see them with -c, or write one per line in a file \
             (units welcome) and check them with --grade FILE.",
        );
    }
}

fn text_graded(s: &mut String, problems: &[Problem], solved: &[Option<Solved>], g: &[Graded]) {
    let mut k = 0;
    for (i, (p, sol)) in problems.iter().zip(solved).enumerate() {
        let sol = sol.as_ref().expect("graded problems are solved");
        question(s, i, p);
        let mut wrong = false;
        for (part, v) in p.parts.iter().zip(&sol.answers) {
            let gr = &g[k];
            k += 1;
            let shown = quiz::show(part.kind, v);
            let given = gr.given.as_deref().unwrap_or("");
            let line = match &gr.verdict {
                grade::Verdict::Right => format!("{}. right: {given}", gr.label),
                grade::Verdict::Wrong => format!(
                    "{}. WRONG: you wrote {given}; the run gives {shown}",
                    gr.label
                ),
                grade::Verdict::Unreadable(why) => format!(
                    "{}. WRONG: {why} ({}); the run gives {shown}",
                    gr.label,
                    part.kind.hint()
                ),
                grade::Verdict::Missing => {
                    format!("{}. MISSING: the run gives {shown}", gr.label)
                }
            };
            wrong |= gr.verdict != grade::Verdict::Right;
            wrap(s, "    ", &line);
        }
        if wrong {
            wrap(s, "  ", &format!("Why: {}", sol.why));
            let _ = writeln!(s, "  See it:");
            for c in &sol.commands {
                let _ = writeln!(s, "    {c}");
            }
        }
    }
    let right = g
        .iter()
        .filter(|x| x.verdict == grade::Verdict::Right)
        .count();
    let _ = writeln!(s);
    let _ = writeln!(s, "{right} of {} right", g.len());
}

#[derive(Serialize)]
struct JsonQuiz<'a> {
    seed: u64,
    count: usize,
    topic: &'a str,
    compute: bool,
    questions: Vec<JsonQuestion<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    right: Option<usize>,
}

#[derive(Serialize)]
struct JsonQuestion<'a> {
    number: usize,
    topic: &'static str,
    text: &'a str,
    parts: Vec<JsonPart<'a>>,
    runs: &'a [quiz::Spec],
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    commands: Option<&'a [String]>,
}

#[derive(Serialize)]
struct JsonPart<'a> {
    label: String,
    question: &'a str,
    kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shown: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    given: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<String>,
}

fn json<'a>(
    a: &Args,
    topic: &'a str,
    problems: &'a [Problem],
    solved: &'a [Option<Solved>],
    graded: Option<&'a [Graded]>,
) -> JsonQuiz<'a> {
    let mut k = 0;
    let questions = problems
        .iter()
        .zip(solved)
        .enumerate()
        .map(|(i, (p, s))| JsonQuestion {
            number: i + 1,
            topic: p.topic,
            text: &p.text,
            parts: p
                .parts
                .iter()
                .enumerate()
                .map(|(j, part)| {
                    let answer = s.as_ref().map(|s| &s.answers[j]);
                    let g = graded.map(|g| {
                        k += 1;
                        &g[k - 1]
                    });
                    JsonPart {
                        label: label(i, j),
                        question: &part.question,
                        kind: part.kind,
                        answer,
                        shown: answer.map(|v| quiz::show(part.kind, v)),
                        given: g.and_then(|g| g.given.as_deref()),
                        verdict: g.map(|g| match &g.verdict {
                            grade::Verdict::Right => "right".to_owned(),
                            grade::Verdict::Wrong => "wrong".to_owned(),
                            grade::Verdict::Unreadable(why) => format!("unreadable: {why}"),
                            grade::Verdict::Missing => "missing".to_owned(),
                        }),
                    }
                })
                .collect(),
            runs: &p.specs,
            why: s.as_ref().map(|s| s.why.as_str()),
            commands: s.as_ref().map(|s| s.commands.as_slice()),
        })
        .collect();
    JsonQuiz {
        seed: a.seed,
        count: a.count,
        topic,
        compute: a.compute,
        questions,
        right: graded.map(|g| {
            g.iter()
                .filter(|x| x.verdict == grade::Verdict::Right)
                .count()
        }),
    }
}
