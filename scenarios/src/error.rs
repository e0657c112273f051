//! Scenario errors: where (file, line, column, or the flag), which field, the bad value, and
//! what is allowed.

use std::fmt;

/// Where a value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A position in a file (1-based line and column).
    File {
        path: String,
        line: usize,
        column: usize,
    },
    /// A command-line flag, as typed (`--set target.mtu_bytes=0`).
    Flag { arg: String },
    /// Nowhere in particular (a required field that is missing from the file as a whole).
    Whole { path: String },
}

impl Origin {
    /// The 1-based line and column of byte `offset` in `text`.
    pub fn at(path: &str, text: &str, offset: usize) -> Origin {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rfind('\n')
            .map_or(before.len(), |nl| before.len() - nl - 1)
            + 1;
        Origin::File {
            path: path.to_owned(),
            line,
            column,
        }
    }
}

/// Where each line of a text starts, built once so that finding the line and column of an
/// offset is a binary search rather than a rescan of everything before it (a file with 20,000
/// workloads has 20,000 positions to look up).
#[derive(Clone, Debug)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    /// The 1-based line and (byte) column of `offset`, as [`Origin::at`] counts them.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= offset);
        (line, offset - self.starts[line - 1] + 1)
    }

    pub fn origin(&self, path: &str, text_len: usize, offset: usize) -> Origin {
        let (line, column) = self.line_column(offset.min(text_len));
        Origin::File {
            path: path.to_owned(),
            line,
            column,
        }
    }
}

/// Longest value or flag echoed whole in an error; longer ones are cut (a 50 MB string must
/// not be printed back).
pub const MAX_SHOWN_CHARS: usize = 80;

/// `s`, or its first characters and how long it was.
pub fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_SHOWN_CHARS {
        return s.to_owned();
    }
    let head: String = s.chars().take(MAX_SHOWN_CHARS - 20).collect();
    format!("{head}… ({} bytes in all)", s.len())
}

/// A key as it would be written in TOML: bare when it can be (`memory_bus`), else quoted
/// (`""`, `"a b"`), so an empty or odd key still shows in a field name.
pub fn key_name(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_owned()
    } else {
        shorten(&format!("{k:?}"))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line, column } => write!(f, "{path}:{line}:{column}"),
            Origin::Flag { arg } => write!(f, "{}", shorten(arg)),
            Origin::Whole { path } => write!(f, "{path}"),
        }
    }
}

/// A user's mistake in a scenario, a preset name or a flag. Every variant names where, the
/// field, and what is allowed; the CLI prints it and exits with status 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub origin: Origin,
    /// Dotted path of the field (`target.memory_bus`, `workloads[0].write_size`), or
    /// `(syntax)` for a file that is not TOML.
    pub field: String,
    /// The value as written, if there was one.
    pub value: Option<String>,
    pub problem: String,
    /// What would have been accepted.
    pub allowed: Option<String>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.field)?;
        if let Some(v) = &self.value {
            write!(f, " = {}", shorten(v))?;
        }
        write!(f, ": {}", self.problem)?;
        if let Some(a) = &self.allowed {
            write!(f, "; allowed: {a}")?;
        }
        if let Some(s) = self.suggestion() {
            write!(f, "; did you mean `{s}`?")?;
        }
        Ok(())
    }
}

/// Problems that mean "this name is not one of those allowed": the ones a near miss can
/// explain.
const NAME_PROBLEMS: [&str; 7] = [
    "is not a known field",
    "is not a parameter",
    "is not a settable path",
    "is not a workload",
    "is not a preset",
    "unknown strategy",
    "is not a strategy",
];

/// The candidate closest to `word` by edit distance, if it is close enough to be a likely
/// typo (Jaro-Winkler similarity of at least 0.8, or one edit in a short word) and is not
/// `word` itself.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter(|c| !c.is_empty() && *c != word)
        .map(|c| {
            let score = strsim::jaro_winkler(&word, &c.to_ascii_lowercase());
            let edits = strsim::damerau_levenshtein(&word, &c.to_ascii_lowercase());
            (c, score, edits)
        })
        .filter(|(_, score, edits)| *score >= 0.8 || *edits <= 1)
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.2.cmp(&a.2)))
        .map(|(c, _, _)| c)
}

impl ScenarioError {
    /// For a name that is not one of those allowed, the allowed name it most likely meant
    /// (`memroy_bus` → `memory_bus`).
    pub fn suggestion(&self) -> Option<String> {
        if !NAME_PROBLEMS.iter().any(|p| self.problem.contains(p)) {
            return None;
        }
        let about_the_key = ["field", "parameter", "path"]
            .iter()
            .any(|w| self.problem.contains(w));
        let word = if about_the_key {
            let f = self.field.as_str();
            // `workloads[0].wirte_size` → `wirte_size`; a --set path is suggested whole.
            if self.problem.contains("path") {
                f.to_owned()
            } else {
                f.rsplit('.').next().unwrap_or(f).to_owned()
            }
        } else {
            self.value.as_deref()?.trim_matches('"').to_owned()
        };
        let allowed = self.allowed.as_deref()?;
        let words = allowed
            .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .filter(|w| w.len() > 2);
        closest(&word, words).map(str::to_owned)
    }

    /// The error as the CLI prints it: [`Display`](fmt::Display)'s line, then, for a position
    /// in a file, the line of the file with a caret under the column (the file is read again
    /// for this; built-in files are found by name).
    pub fn render(&self) -> String {
        let mut out = self.to_string();
        if let Origin::File { path, line, column } = &self.origin
            && let Some(text) = source_text(path)
            && let Some(src_line) = text.lines().nth(line - 1)
        {
            out.push_str(&snippet(path, *line, *column, src_line));
        }
        out
    }
}

/// A rustc-style excerpt: the path and position, the line, and a caret under `column`.
pub fn snippet(path: &str, line: usize, column: usize, src_line: &str) -> String {
    let shown: String = src_line.chars().take(120).collect();
    let gutter = line.to_string().len();
    // The caret goes under the column'th byte, counted in characters of the shown line.
    let before = src_line
        .get(..column.saturating_sub(1).min(src_line.len()))
        .map_or(0, |s| s.chars().count())
        .min(shown.chars().count());
    let pad: String = shown
        .chars()
        .take(before)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    format!(
        "\n{:gutter$}--> {path}:{line}:{column}\n{:gutter$} |\n{line} | {shown}\n{:gutter$} | {pad}^",
        "", "", ""
    )
}

/// The text of a scenario, preset or experiment file, by the path errors name it with.
fn source_text(path: &str) -> Option<std::borrow::Cow<'static, str>> {
    if path == crate::scenario::DEFAULT_NAME {
        return Some(crate::scenario::DEFAULT_SCENARIO.into());
    }
    let builtin = |dir: &str| {
        path.strip_prefix(dir)
            .and_then(|rest| rest.strip_suffix(".toml"))
    };
    if let Some(text) = builtin("scenarios/presets/").and_then(crate::presets::text) {
        return Some(text.into());
    }
    if let Some(text) = builtin("scenarios/experiments/").and_then(crate::experiments::text) {
        return Some(text.into());
    }
    crate::scenario::read_scenario_file(path)
        .ok()
        .map(Into::into)
}

impl std::error::Error for ScenarioError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(
            Origin::at("f.toml", text, 6),
            Origin::File {
                path: "f.toml".into(),
                line: 2,
                column: 1
            }
        );
        assert_eq!(Origin::at("f.toml", text, 11).to_string(), "f.toml:2:6");
    }

    #[test]
    fn line_index_agrees_with_a_rescan() {
        // The index replaces a rescan per lookup; it must give the same answer at every
        // offset, including the newline itself, the end and past the end.
        let text = "a = 1\n\nbb = 2\nlast";
        let index = LineIndex::new(text);
        for offset in 0..=text.len() + 3 {
            assert_eq!(
                index.origin("f", text.len(), offset),
                Origin::at("f", text, offset),
                "offset {offset}"
            );
        }
    }

    #[test]
    fn long_values_are_shortened() {
        // A 50 MB value must not be echoed back: the message stays short and says how long
        // the value was.
        let e = ScenarioError {
            origin: Origin::Flag {
                arg: format!("--set target.name={}", "x".repeat(50_000_000)),
            },
            field: "target.name".into(),
            value: Some("y".repeat(50_000_000)),
            problem: "is wrong".into(),
            allowed: None,
        };
        let shown = e.to_string();
        assert!(shown.len() < 400, "{} bytes", shown.len());
        assert!(shown.contains("50000000 bytes in all"), "{shown}");
    }

    #[test]
    fn display_names_everything() {
        let e = ScenarioError {
            origin: Origin::Flag {
                arg: "--set target.mtu_bytes=0".into(),
            },
            field: "target.mtu_bytes".into(),
            value: Some("0".into()),
            problem: "is out of range".into(),
            allowed: Some("a whole number from 576 to 65536".into()),
        };
        assert_eq!(
            e.to_string(),
            "--set target.mtu_bytes=0: target.mtu_bytes = 0: is out of range; allowed: a whole number from 576 to 65536"
        );
    }
}
