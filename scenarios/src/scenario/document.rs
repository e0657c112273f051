//! Reading a scenario document: the size limit, TOML parsing with positions, the top-level
//! shape (seed, target, workloads, strategies, options) and where each value came from.

use super::*;

/// The text being read, with its line index built once.
pub(super) struct Source<'a> {
    pub(super) path: &'a str,
    pub(super) text: &'a str,
    pub(super) lines: LineIndex,
}

impl<'a> Source<'a> {
    pub(super) fn new(path: &'a str, text: &'a str) -> Source<'a> {
        Source {
            path,
            text,
            lines: LineIndex::new(text),
        }
    }

    pub(super) fn origin(&self, span: std::ops::Range<usize>) -> Origin {
        self.lines.origin(self.path, self.text.len(), span.start)
    }

    /// Parses the text as TOML, with errors that name the problem and its line.
    pub(super) fn parse(&self) -> Result<DeTable<'a>, ScenarioError> {
        if self.text.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large(self.path));
        }
        DeTable::parse(self.text)
            .map(Spanned::into_inner)
            .map_err(|e| self.syntax_error(&e))
    }

    pub(super) fn syntax_error(&self, e: &toml::de::Error) -> ScenarioError {
        let message = e.message().trim();
        let (origin, problem, allowed) = match e.span() {
            Some(span) if message == "duplicate key" => {
                let key = self.text.get(span.clone()).unwrap_or("?");
                (
                    self.origin(span),
                    format!("duplicate key `{}`: it is set more than once", shorten(key)),
                    "each key once per table".to_owned(),
                )
            }
            Some(span) => (
                self.origin(span),
                message.to_owned(),
                "a TOML document: key = value lines, [table] and [[workloads]] headers, strings in quotes".to_owned(),
            ),
            // toml's recursion limit comes without a position; find the line ourselves.
            None => (
                deepest_line(self.text)
                    .map(|offset| self.origin(offset..offset))
                    .unwrap_or_else(|| Origin::Whole {
                        path: self.path.to_owned(),
                    }),
                if message == "recursion limit" {
                    format!("nests keys or tables more than {MAX_NESTING} levels deep")
                } else {
                    message.to_owned()
                },
                format!("at most {MAX_NESTING} levels of dotted keys, tables and arrays"),
            ),
        };
        ScenarioError {
            origin,
            field: "(syntax)".into(),
            value: None,
            problem,
            allowed: Some(allowed),
        }
    }

    /// A value as written, converted to a plain TOML value.
    pub(super) fn entry(
        &self,
        field: &str,
        v: Spanned<DeValue<'_>>,
    ) -> Result<Entry, ScenarioError> {
        let origin = self.origin(v.span());
        let value =
            toml::Value::deserialize(ValueDeserializer::from(v)).map_err(|e| ScenarioError {
                origin: origin.clone(),
                field: field.to_owned(),
                value: None,
                problem: format!("is not a usable value: {}", e.message().trim()),
                allowed: Some(
                    "whole numbers within 64 bits, finite decimals, strings, true or false".into(),
                ),
            })?;
        Ok(Entry { value, origin })
    }

    /// `v` as a table of entries named `section.KEY`; `allowed` says what the section holds.
    pub(super) fn table(
        &self,
        section: &str,
        v: Spanned<DeValue<'_>>,
        allowed: &str,
    ) -> Result<(Origin, Vec<(String, Entry)>), ScenarioError> {
        let origin = self.origin(v.span());
        let DeValue::Table(t) = v.into_inner() else {
            return Err(ScenarioError {
                origin,
                field: section.to_owned(),
                value: None,
                problem: "must be a table".into(),
                allowed: Some(allowed.to_owned()),
            });
        };
        let mut out = Vec::with_capacity(t.len());
        for (k, v) in t {
            let key = k.into_inner().into_owned();
            let e = self.entry(&format!("{section}.{}", key_name(&key)), v)?;
            out.push((key, e));
        }
        Ok((origin, out))
    }
}

/// The offset of the first line whose key or header has more dotted parts than toml allows.
pub(super) fn deepest_line(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let key_part = if trimmed.starts_with('[') {
            trimmed
        } else {
            trimmed.split('=').next().unwrap_or("")
        };
        let mut dots = 0;
        let mut quote = None;
        for ch in key_part.chars() {
            match (quote, ch) {
                (None, '"' | '\'') => quote = Some(ch),
                (Some(q), c) if c == q => quote = None,
                (None, '.') => dots += 1,
                (None, '[') if !trimmed.starts_with('[') => break,
                _ => {}
            }
        }
        if dots + 1 >= MAX_NESTING {
            return Some(offset);
        }
        offset += line.len();
    }
    None
}

pub(super) fn too_large(path: &str) -> ScenarioError {
    ScenarioError {
        origin: Origin::Whole {
            path: path.to_owned(),
        },
        field: "(file)".into(),
        value: None,
        problem: format!(
            "is larger than {}, the most a scenario file may be",
            fmt_size(MAX_FILE_BYTES)
        ),
        allowed: Some(format!(
            "a scenario file of at most {}",
            fmt_size(MAX_FILE_BYTES)
        )),
    }
}

/// A scenario file as written: each part with where it came from.
#[derive(Default)]
pub(super) struct Doc {
    pub(super) seed: Option<u64>,
    pub(super) target: Table,
    pub(super) options: Table,
    pub(super) workloads: Vec<(Origin, WorkloadSpec)>,
    /// The `name` each `[[workloads]]` table gave itself, by the table's origin.
    pub(super) names: Vec<(Origin, String)>,
    pub(super) strategies: Option<(Origin, Vec<(Origin, String)>)>,
}

pub(super) fn strategy_ids_allowed() -> String {
    format!(
        "a list of strategy ids in quotes, one or more of {} (leave strategies out to run every strategy that applies)",
        STRATEGY_IDS.join(", ")
    )
}

pub(super) fn read_doc(src: &Source) -> Result<Doc, ScenarioError> {
    let root = src.parse()?;
    let mut doc = Doc::default();
    for (key, value) in root {
        let name = key.get_ref().as_ref();
        match name {
            "seed" => {
                let e = src.entry("seed", value)?;
                doc.seed = Some(check_seed(&e)?);
            }
            "target" => {
                let (_, t) = src.table(
                    "target",
                    value,
                    &format!(
                        "a [target] table: preset = one of {}, and any target key (see `zcsim list presets`)",
                        presets::NAMES.join(", ")
                    ),
                )?;
                doc.target = t.into_iter().collect();
            }
            "options" => {
                let names: Vec<&str> = option_keys().iter().map(|k| k.name).collect();
                let (_, t) = src.table(
                    "options",
                    value,
                    &format!("an [options] table with {}", names.join(", ")),
                )?;
                doc.options = t.into_iter().collect();
            }
            "workloads" => (doc.workloads, doc.names) = read_workloads(src, value)?,
            "strategies" => doc.strategies = Some(read_strategies(src, value)?),
            // Read by `zcsim reproduce` (see [`crate::experiments`]); a plain run ignores it.
            "experiment" => {}
            other => {
                return Err(ScenarioError {
                    origin: src.origin(key.span()),
                    field: key_name(other),
                    value: None,
                    problem: "is not a known field".into(),
                    allowed: Some(TOP_LEVEL.into()),
                });
            }
        }
    }
    Ok(doc)
}

pub(super) fn check_seed(e: &Entry) -> Result<u64, ScenarioError> {
    match e.value {
        toml::Value::Integer(i) if i >= 0 => Ok(i as u64),
        toml::Value::Integer(_) => Err(ScenarioError {
            origin: e.origin.clone(),
            field: "seed".into(),
            value: Some(render(&e.value)),
            problem: "must not be negative".into(),
            allowed: Some("a whole number from 0 to 2^63-1".into()),
        }),
        _ => Err(ScenarioError {
            origin: e.origin.clone(),
            field: "seed".into(),
            value: Some(render(&e.value)),
            problem: format!("must be a whole number, not {}", type_name(&e.value)),
            allowed: Some("a whole number from 0 to 2^63-1, without quotes".into()),
        }),
    }
}

pub(super) fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "a whole number",
        toml::Value::Float(_) => "a decimal number",
        toml::Value::Boolean(_) => "true or false",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a table",
    }
}

/// Each workload as written, and the names the tables gave themselves.
type Workloads = (Vec<(Origin, WorkloadSpec)>, Vec<(Origin, String)>);

pub(super) fn read_workloads(
    src: &Source,
    value: Spanned<DeValue<'_>>,
) -> Result<Workloads, ScenarioError> {
    let origin = src.origin(value.span());
    let wrong = |problem: &str| ScenarioError {
        origin: origin.clone(),
        field: "workloads".into(),
        value: None,
        problem: problem.to_owned(),
        allowed: Some(format!(
            "one [[workloads]] table (double brackets) per workload, each with kind = one of {}",
            WORKLOAD_IDS.join(", ")
        )),
    };
    let items = match value.into_inner() {
        DeValue::Array(a) => a,
        DeValue::Table(_) => {
            return Err(wrong(
                "must be a list of tables: write [[workloads]] (double brackets), not [workloads]",
            ));
        }
        _ => return Err(wrong("must be a list of tables")),
    };
    if items.len() > MAX_WORKLOADS {
        return Err(ScenarioError {
            value: Some(items.len().to_string()),
            ..wrong(&format!("has more than {MAX_WORKLOADS} workloads"))
        });
    }
    let mut out = Vec::with_capacity(items.len());
    let mut names = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let section = format!("workloads[{i}]");
        let (origin, entries) = src.table(
            &section,
            item,
            &format!("a table with kind = one of {}", WORKLOAD_IDS.join(", ")),
        )?;
        let mut table: Table = entries.into_iter().collect();
        if let Some(e) = table.remove("name") {
            names.push((origin.clone(), workload_name(&section, &e)?));
        }
        let spec = spec_of(&section, &origin, &mut table)?;
        let mut spec = spec;
        for (key, e) in table {
            if !spec.has(&key) && TOP_LEVEL_KEYS.contains(&key.as_str()) {
                return Err(landed_in_workload(&section, &key, e));
            }
            spec.set(&section, &key, e)?;
        }
        out.push((origin, spec));
    }
    Ok((out, names))
}

/// The keys of a scenario's top level.
pub(super) const TOP_LEVEL_KEYS: [&str; 6] = [
    "seed",
    "strategies",
    "target",
    "options",
    "workloads",
    "experiment",
];

/// A top-level key written after a `[[workloads]]` header, which TOML puts in that workload.
fn landed_in_workload(section: &str, key: &str, e: Entry) -> ScenarioError {
    ScenarioError {
        origin: e.origin,
        field: format!("{section}.{key}"),
        value: Some(render(&e.value)),
        problem: "is a top-level key, but it comes after a [[workloads]] header, so TOML put it in that workload".into(),
        allowed: Some(format!(
            "move `{key} = ...` above the first [table] or [[workloads]] header of the file"
        )),
    }
}

/// A workload's `name`: a short label for reports (letters, digits, `-`, `_`, `.`).
fn workload_name(section: &str, e: &Entry) -> Result<String, ScenarioError> {
    let ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    match e.value.as_str() {
        Some(n) if ok(n) => Ok(n.to_owned()),
        _ => Err(ScenarioError {
            origin: e.origin.clone(),
            field: format!("{section}.name"),
            value: Some(render(&e.value)),
            problem: "is not a usable workload name".into(),
            allowed: Some(
                "a string of 1 to 64 letters, digits, '-', '_' or '.', e.g. \"from-file\"".into(),
            ),
        }),
    }
}

/// The empty spec named by the table's `kind` (removed from the table).
pub(super) fn spec_of(
    section: &str,
    origin: &Origin,
    table: &mut Table,
) -> Result<WorkloadSpec, ScenarioError> {
    let Some(kind) = table.remove("kind") else {
        return Err(ScenarioError {
            origin: origin.clone(),
            field: format!("{section}.kind"),
            value: None,
            problem: "is missing".into(),
            allowed: Some(WORKLOAD_IDS.join(", ")),
        });
    };
    kind.value
        .as_str()
        .and_then(WorkloadSpec::new)
        .ok_or_else(|| ScenarioError {
            origin: kind.origin.clone(),
            field: format!("{section}.kind"),
            value: Some(render(&kind.value)),
            problem: "is not a workload".into(),
            allowed: Some(WORKLOAD_IDS.join(", ")),
        })
}

pub(super) fn read_strategies(
    src: &Source,
    value: Spanned<DeValue<'_>>,
) -> Result<(Origin, Vec<(Origin, String)>), ScenarioError> {
    let e = src.entry("strategies", value)?;
    let wrong = |field: String, value: &toml::Value, problem: String| ScenarioError {
        origin: e.origin.clone(),
        field,
        value: Some(render(value)),
        problem,
        allowed: Some(strategy_ids_allowed()),
    };
    let toml::Value::Array(items) = &e.value else {
        return Err(wrong(
            "strategies".into(),
            &e.value,
            format!("must be a list in [brackets], not {}", type_name(&e.value)),
        ));
    };
    check_strategy_count(&e.origin, items.len())?;
    let mut ids = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(id) = item.as_str() else {
            return Err(wrong(
                format!("strategies[{i}]"),
                item,
                format!("must be a strategy id in quotes, not {}", type_name(item)),
            ));
        };
        ids.push((e.origin.clone(), id.to_owned()));
    }
    Ok((e.origin.clone(), ids))
}

/// A strategy list names at least one and at most [`MAX_STRATEGIES`] strategies.
pub(super) fn check_strategy_count(origin: &Origin, n: usize) -> Result<(), ScenarioError> {
    let problem = if n == 0 {
        "names no strategy, so nothing would run".to_owned()
    } else if n > MAX_STRATEGIES {
        format!("lists {n} strategies, more than the {MAX_STRATEGIES} allowed")
    } else {
        return Ok(());
    };
    Err(ScenarioError {
        origin: origin.clone(),
        field: "strategies".into(),
        value: None,
        problem,
        allowed: Some(strategy_ids_allowed()),
    })
}

/// Reads a scenario file, at most [`MAX_FILE_BYTES`] of it: a larger file (or `/dev/zero`)
/// is an error, not a read until memory runs out.
pub fn read_scenario_file(path: &str) -> Result<String, ScenarioError> {
    use std::io::Read;
    let cannot = |e: std::io::Error| ScenarioError {
        origin: Origin::Whole {
            path: path.to_owned(),
        },
        field: "(file)".into(),
        value: None,
        problem: format!("cannot be read: {e}"),
        allowed: None,
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(path));
    }
    String::from_utf8(bytes).map_err(|e| ScenarioError {
        origin: Origin::Whole {
            path: path.to_owned(),
        },
        field: "(file)".into(),
        value: None,
        problem: format!(
            "is not UTF-8 text (bad byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
        allowed: Some("a TOML file in UTF-8".into()),
    })
}
