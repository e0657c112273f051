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

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line, column } => write!(f, "{path}:{line}:{column}"),
            Origin::Flag { arg } => write!(f, "{arg}"),
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
            write!(f, " = {v}")?;
        }
        write!(f, ": {}", self.problem)?;
        if let Some(a) = &self.allowed {
            write!(f, "; allowed: {a}")?;
        }
        Ok(())
    }
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
