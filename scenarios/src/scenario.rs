//! Loading a scenario: TOML with spans, overlaid preset → file → flags, checked key by key,
//! resolved into the model's types.

use std::collections::BTreeMap;

use models::strategy::{STRATEGY_IDS, Strategy};
use models::workload::{WORKLOAD_IDS, Workload};
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::error::{LineIndex, MAX_SHOWN_CHARS, Origin, ScenarioError, key_name, shorten};
use crate::keys::{Key, Options, TARGET_META, Target, option_keys, target_keys, workload_keys};
use crate::presets;
use crate::units::fmt_size;
pub use crate::workloads::Entry;
use crate::workloads::WorkloadSpec;

/// The built-in default scenario (`zcsim` with no arguments).
pub const DEFAULT_SCENARIO: &str = include_str!("../examples/default.toml");
const DEFAULT_NAME: &str = "scenarios/examples/default.toml";

/// A validated scenario, ready to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub seed: u64,
    pub target: Target,
    pub options: Options,
    pub runs: Vec<WorkloadRun>,
    /// Things the user should know that are not errors (a workload skipped because none of
    /// the listed strategies fits it).
    pub notes: Vec<String>,
}

/// One workload and the strategies to run it with.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadRun {
    pub workload: Workload,
    pub strategies: Vec<Strategy>,
}

/// What the command line adds to a scenario.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Overrides {
    /// `--preset`: replaces the scenario's target preset.
    pub preset: Option<String>,
    /// `--workload`: keep only workloads of this kind (its defaults if the scenario has none).
    pub workload: Option<String>,
    /// `--strategies a,b`.
    pub strategies: Option<Vec<String>>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--set path=value`, in order.
    pub sets: Vec<String>,
}

/// Largest scenario file read: far above any real scenario (the default is under 1 KiB, 20,000
/// workloads about 1.2 MB), small enough that `check /dev/zero` stops at once.
pub const MAX_FILE_BYTES: u64 = 16 << 20;
/// Most `[[workloads]]` a scenario may have.
pub const MAX_WORKLOADS: usize = 100_000;
/// Most entries a strategy list may have (there are far fewer strategies; repeats count).
pub const MAX_STRATEGIES: usize = 64;
/// toml's own limit on nesting (dotted keys, tables in tables, arrays in arrays).
pub const MAX_NESTING: usize = 80;

/// What the top level of a scenario file may hold.
const TOP_LEVEL: &str =
    "seed, target, workloads, strategies, options (and experiment, read by zcsim reproduce)";

type Table = BTreeMap<String, Entry>;

/// The text being read, with its line index built once.
struct Source<'a> {
    path: &'a str,
    text: &'a str,
    lines: LineIndex,
}

impl<'a> Source<'a> {
    fn new(path: &'a str, text: &'a str) -> Source<'a> {
        Source {
            path,
            text,
            lines: LineIndex::new(text),
        }
    }

    fn origin(&self, span: std::ops::Range<usize>) -> Origin {
        self.lines.origin(self.path, self.text.len(), span.start)
    }

    /// Parses the text as TOML, with errors that name the problem and its line.
    fn parse(&self) -> Result<DeTable<'a>, ScenarioError> {
        if self.text.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large(self.path));
        }
        DeTable::parse(self.text)
            .map(Spanned::into_inner)
            .map_err(|e| self.syntax_error(&e))
    }

    fn syntax_error(&self, e: &toml::de::Error) -> ScenarioError {
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
    fn entry(&self, field: &str, v: Spanned<DeValue<'_>>) -> Result<Entry, ScenarioError> {
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
    fn table(
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
fn deepest_line(text: &str) -> Option<usize> {
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

fn too_large(path: &str) -> ScenarioError {
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
struct Doc {
    seed: Option<u64>,
    target: Table,
    options: Table,
    workloads: Vec<(Origin, WorkloadSpec)>,
    strategies: Option<(Origin, Vec<(Origin, String)>)>,
}

fn strategy_ids_allowed() -> String {
    format!(
        "a list of strategy ids in quotes, one or more of {} (leave strategies out to run every strategy that applies)",
        STRATEGY_IDS.join(", ")
    )
}

fn read_doc(src: &Source) -> Result<Doc, ScenarioError> {
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
            "workloads" => doc.workloads = read_workloads(src, value)?,
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

fn check_seed(e: &Entry) -> Result<u64, ScenarioError> {
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

fn type_name(v: &toml::Value) -> &'static str {
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

fn read_workloads(
    src: &Source,
    value: Spanned<DeValue<'_>>,
) -> Result<Vec<(Origin, WorkloadSpec)>, ScenarioError> {
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
    for (i, item) in items.into_iter().enumerate() {
        let section = format!("workloads[{i}]");
        let (origin, entries) = src.table(
            &section,
            item,
            &format!("a table with kind = one of {}", WORKLOAD_IDS.join(", ")),
        )?;
        let mut table: Table = entries.into_iter().collect();
        let spec = spec_of(&section, &origin, &mut table)?;
        let mut spec = spec;
        for (key, e) in table {
            spec.set(&section, &key, e)?;
        }
        out.push((origin, spec));
    }
    Ok(out)
}

/// The empty spec named by the table's `kind` (removed from the table).
fn spec_of(
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

fn read_strategies(
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
fn check_strategy_count(origin: &Origin, n: usize) -> Result<(), ScenarioError> {
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

/// Loads the scenario in `path`.
pub fn load_file(path: &str, o: &Overrides) -> Result<Scenario, ScenarioError> {
    let text = read_scenario_file(path)?;
    load_str(path, &text, o)
}

/// The built-in default scenario, with the command line's overrides.
pub fn load_default(o: &Overrides) -> Result<Scenario, ScenarioError> {
    load_str(DEFAULT_NAME, DEFAULT_SCENARIO, o)
}

/// Loads a scenario from `text`, reporting positions as in `path`.
pub fn load_str(path: &str, text: &str, o: &Overrides) -> Result<Scenario, ScenarioError> {
    let src = Source::new(path, text);
    let Doc {
        seed,
        mut target,
        mut options,
        mut workloads,
        mut strategies,
    } = read_doc(&src)?;
    let mut seed = seed.unwrap_or(1);
    if workloads.is_empty() {
        return Err(ScenarioError {
            origin: Origin::Whole { path: path.into() },
            field: "workloads".into(),
            value: None,
            problem: "no workload given".into(),
            allowed: Some(format!(
                "one or more [[workloads]] with kind = {}",
                WORKLOAD_IDS.join(", ")
            )),
        });
    }

    // Command-line overrides, each remembered as its own origin.
    if let Some(p) = &o.preset {
        target.insert(
            "preset".into(),
            Entry {
                value: toml::Value::String(p.clone()),
                origin: Origin::Flag {
                    arg: format!("--preset {p}"),
                },
            },
        );
    }
    if let Some(s) = o.seed {
        seed = s;
    }
    if let Some(ids) = &o.strategies {
        let origin = Origin::Flag {
            arg: format!("--strategies {}", ids.join(",")),
        };
        check_strategy_count(&origin, ids.len())?;
        strategies = Some((
            origin.clone(),
            ids.iter().map(|id| (origin.clone(), id.clone())).collect(),
        ));
    }
    if let Some(kind) = &o.workload {
        let origin = Origin::Flag {
            arg: format!("--workload {kind}"),
        };
        let Some(spec) = WorkloadSpec::new(kind) else {
            return Err(ScenarioError {
                origin,
                field: "workload".into(),
                value: Some(kind.clone()),
                problem: "is not a workload".into(),
                allowed: Some(WORKLOAD_IDS.join(", ")),
            });
        };
        workloads.retain(|(_, w)| w.kind() == kind);
        if workloads.is_empty() {
            workloads.push((origin, spec));
        }
    }
    for set in &o.sets {
        apply_set(
            set,
            &mut seed,
            &mut target,
            &mut workloads,
            &mut options,
            &mut strategies,
        )?;
    }

    let target = resolve_target(path, target)?;
    let options = resolve_keys("options", &options, Options::default(), &option_keys())?;
    let mut resolved = Vec::new();
    for (i, (origin, spec)) in workloads.iter().enumerate() {
        let w = spec.resolve(&format!("workloads[{i}]"))?;
        if let Err(problem) = w.check_target(&target.world) {
            return Err(ScenarioError {
                origin: (*origin).clone(),
                field: format!("workloads[{i}].kind"),
                value: Some(format!("\"{}\"", w.id())),
                problem: format!("cannot run on target {}: {problem}", target.name),
                allowed: Some("a sending workload, or a target with link = \"ethernet\"".into()),
            });
        }
        resolved.push((origin, w));
    }
    let (runs, notes) = resolve_strategies(&resolved, &strategies, &target, &options)?;
    Ok(Scenario {
        seed,
        target,
        options,
        runs,
        notes,
    })
}

/// `--set path=value`: `seed`, `strategies`, `target.KEY`, `workload.KEY` (every workload
/// the key applies to) or `options.KEY`. The value is read as TOML (`true`, `1500`, `0.01`),
/// or as a string when it is not (`40MB/s`).
fn apply_set(
    arg: &str,
    seed: &mut u64,
    target: &mut Table,
    workloads: &mut [(Origin, WorkloadSpec)],
    options: &mut Table,
    strategies: &mut Option<(Origin, Vec<(Origin, String)>)>,
) -> Result<(), ScenarioError> {
    let origin = Origin::Flag {
        arg: format!("--set {arg}"),
    };
    let err = |field: &str, problem: &str, allowed: &str| ScenarioError {
        origin: origin.clone(),
        field: if field.is_empty() {
            key_name(field)
        } else {
            shorten(field)
        },
        value: None,
        problem: problem.to_owned(),
        allowed: Some(allowed.to_owned()),
    };
    let Some((path, raw)) = arg.split_once('=') else {
        return Err(err(
            arg,
            "is not of the form path=value",
            "e.g. --set target.memory_bus=40MB/s",
        ));
    };
    let (path, raw) = (path.trim(), raw.trim());
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    let entry = Entry {
        value,
        origin: origin.clone(),
    };
    const PATHS: &str = "seed, strategies, target.KEY, workload.KEY, options.KEY";
    match path.split_once('.') {
        None if path == "seed" => match entry.value.as_integer() {
            Some(s) if s >= 0 => *seed = s as u64,
            _ => {
                return Err(ScenarioError {
                    value: Some(shorten(raw)),
                    ..err("seed", "must be a whole number", "0 to 2^63-1")
                });
            }
        },
        None if path == "strategies" => {
            let ids: Vec<(Origin, String)> = raw
                .split(',')
                .map(|s| (origin.clone(), s.trim().to_owned()))
                .collect();
            check_strategy_count(&origin, ids.len())?;
            *strategies = Some((origin.clone(), ids));
        }
        Some(("target", key)) => {
            target.insert(key.to_owned(), entry);
        }
        Some(("options", key)) => {
            options.insert(key.to_owned(), entry);
        }
        Some(("workload", key)) => {
            let mut hit = false;
            for (i, (_, w)) in workloads.iter_mut().enumerate() {
                if w.takes(key) {
                    w.set(&format!("workloads[{i}]"), key, entry.clone())?;
                    hit = true;
                }
            }
            if !hit {
                let kinds: Vec<&str> = workloads.iter().map(|(_, w)| w.kind()).collect();
                let problem = if workloads.iter().any(|(_, w)| w.has(key)) {
                    "applies to none of this scenario's workloads as written (file_size and cold need a bulk-send from a file)"
                } else {
                    "is not a parameter of any workload in this scenario"
                };
                return Err(ScenarioError {
                    value: Some(shorten(raw)),
                    ..err(
                        &format!("workload.{key}"),
                        problem,
                        &format!(
                            "a parameter of {} (see `zcsim list workloads`)",
                            kinds.join(", ")
                        ),
                    )
                });
            }
        }
        _ => return Err(err(path, "is not a settable path", PATHS)),
    }
    Ok(())
}

/// A value for an error message, shortened when long.
pub(crate) fn render(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) if s.len() > MAX_SHOWN_CHARS => shorten(&format!("\"{s}\"")),
        _ => shorten(&v.to_string()),
    }
}

/// Checks and applies every entry of `table` to `base` with `keys`; unknown keys are errors.
fn resolve_keys<T>(
    section: &str,
    table: &Table,
    mut base: T,
    keys: &[Key<T>],
) -> Result<T, ScenarioError> {
    for (name, e) in table {
        let Some(key) = keys.iter().find(|k| k.name == name) else {
            let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
            return Err(ScenarioError {
                origin: e.origin.clone(),
                field: format!("{section}.{}", key_name(name)),
                value: Some(render(&e.value)),
                problem: "is not a known field".into(),
                allowed: Some(names.join(", ")),
            });
        };
        let v = key.kind.check(&e.value).map_err(|problem| ScenarioError {
            origin: e.origin.clone(),
            field: format!("{section}.{}", key_name(name)),
            value: Some(render(&e.value)),
            problem,
            allowed: Some(key.kind.allowed()),
        })?;
        (key.apply)(&mut base, v);
    }
    Ok(base)
}

fn blank_target() -> Target {
    use models::machine::{CostTable, DiskConfig, MachineConfig};
    use models::net::{LinkConfig, LinkKind, NicConfig, StackCosts, TcpConfig};
    use sim::{ByteRate, SimDuration};
    let r = ByteRate::from_bytes_per_sec(1);
    Target {
        name: String::new(),
        description: String::new(),
        linux_sendpage_fallback: false,
        loopback: false,
        link_rate: r,
        world: models::world::WorldConfig {
            machine: MachineConfig {
                cpus: 1,
                memory_bus: r,
                costs: CostTable {
                    syscall_ns: 0,
                    context_switch_ns: 0,
                    trap_ns: 0,
                    minor_fault_ns: 0,
                    major_fault_ns: 0,
                    cow_fault_ns: 0,
                    pte_update_ns: 0,
                    tlb_flush_ns: 0,
                    tlb_shootdown_per_cpu_ns: 0,
                    vma_cache_hit_ns: 0,
                    vma_per_level_ns: 0,
                    mmap_ns: 0,
                    mmap_per_page_ns: 0,
                    munmap_ns: 0,
                    munmap_per_page_ns: 0,
                    loan_per_page_ns: 0,
                    unloan_per_page_ns: 0,
                    page_alloc_ns: 0,
                    cpu_copy_rate: r,
                    cpu_checksum_rate: r,
                    cpu_zero_rate: r,
                    write_allocate: false,
                },
                disk: DiskConfig {
                    latency_ns: 0,
                    rate: r,
                },
            },
            link: LinkConfig {
                kind: LinkKind::Loopback,
                mtu_bytes: 1500,
                tcp_timestamps: false,
                rtt: SimDuration::ZERO,
                loss: 0.0,
            },
            nic: NicConfig {
                tx_ring_slots: 1,
                rx_ring_slots: 1,
                dma_rate: None,
                scatter_gather: false,
                max_frags: 1,
                checksum_offload: false,
                header_split: false,
                tx_coalesce: 1,
            },
            tcp: TcpConfig {
                send_buffer_bytes: 0,
                recv_buffer_bytes: 0,
                window_bytes: 0,
                ack_every: 1,
                delayed_ack: SimDuration::ZERO,
                rto: SimDuration::ZERO,
                initial_window_segments: 2,
                congestion_control: true,
                nodelay: false,
            },
            stack: StackCosts {
                tcp_output_per_segment_ns: 0,
                tcp_input_per_segment_ns: 0,
                tcp_ack_ns: 0,
                driver_per_frag_ns: 0,
                interrupt_ns: 0,
                tx_complete_per_packet_ns: 0,
                mbuf_ns: 0,
                socket_per_chunk_ns: 0,
            },
            fused_copy_checksum: false,
            user_space_bytes: 0,
            seed: 1,
        },
    }
}

/// The preset (named by `preset`, the default when no `[target]` is given), then the
/// scenario's and the flags' keys over it; every key must end up set.
fn resolve_target(path: &str, mut table: Table) -> Result<Target, ScenarioError> {
    // The descriptive keys are strings; `--set target.name=42` is a mistake, not a name.
    for meta in TARGET_META {
        if let Some(e) = table.get(meta)
            && !e.value.is_str()
        {
            return Err(ScenarioError {
                origin: e.origin.clone(),
                field: format!("target.{meta}"),
                value: Some(render(&e.value)),
                problem: format!("must be a string in quotes, not {}", type_name(&e.value)),
                allowed: Some(if meta == "preset" {
                    presets::NAMES.join(", ")
                } else {
                    "any text in quotes".into()
                }),
            });
        }
    }
    let user_link_rate = table.get("link_rate").cloned();
    let preset = match table.remove("preset") {
        Some(e) => {
            let Some(name) = e.value.as_str() else {
                return Err(ScenarioError {
                    origin: e.origin,
                    field: "target.preset".into(),
                    value: Some(render(&e.value)),
                    problem: "must be a preset name in quotes".into(),
                    allowed: Some(presets::NAMES.join(", ")),
                });
            };
            Some((name.to_owned(), e.origin))
        }
        None if table.is_empty() => Some((
            presets::DEFAULT.to_owned(),
            Origin::Whole { path: path.into() },
        )),
        None => None,
    };
    let mut merged = Table::new();
    let mut name = String::from("custom");
    let mut description = String::from("inline target");
    if let Some((preset, origin)) = preset {
        let Some(text) = presets::text(&preset) else {
            return Err(ScenarioError {
                origin,
                field: "target.preset".into(),
                value: Some(format!("\"{preset}\"")),
                problem: "is not a preset".into(),
                allowed: Some(presets::NAMES.join(", ")),
            });
        };
        let preset_path = format!("scenarios/presets/{preset}.toml");
        let src = Source::new(&preset_path, text);
        let root = src.parse()?;
        for (k, v) in root {
            let key = k.into_inner().into_owned();
            let e = src.entry(&format!("target.{key}"), v)?;
            merged.insert(key, e);
        }
        name = preset.clone();
        if let Some(d) = merged.get("description").and_then(|e| e.value.as_str()) {
            description = d.to_owned();
        }
        if !table.is_empty() {
            name = format!("{preset} (overridden)");
        }
    }
    merged.extend(table);
    for meta in TARGET_META {
        merged.remove(meta);
    }
    let keys = target_keys();
    let mut target = resolve_keys("target", &merged, blank_target(), &keys)?;
    // The link rate is the Ethernet line's: on loopback it does not apply, so a rate the user
    // wrote for a loopback target is a contradiction (a preset's rate, kept for when a user
    // switches the link to Ethernet, is not the user's).
    if target.loopback
        && let Some(e) = user_link_rate
    {
        return Err(ScenarioError {
            origin: e.origin,
            field: "target.link_rate".into(),
            value: Some(render(&e.value)),
            problem: "does not apply to link = \"loopback\"".into(),
            allowed: Some("link_rate only with link = \"ethernet\"".into()),
        });
    }
    let missing: Vec<&str> = keys
        .iter()
        .map(|k| k.name)
        // A loopback target has no line rate to set.
        .filter(|n| !(merged.contains_key(*n) || target.loopback && *n == "link_rate"))
        .collect();
    if !missing.is_empty() {
        return Err(ScenarioError {
            origin: Origin::Whole { path: path.into() },
            field: format!("target.{}", missing[0]),
            value: None,
            problem: format!(
                "is required: without a preset, a target must set every parameter ({} missing)",
                missing.len()
            ),
            allowed: Some(format!(
                "preset = one of {}, or all of: {}",
                presets::NAMES.join(", "),
                missing.join(", ")
            )),
        });
    }
    target.finish();
    target.name = name;
    target.description = description;
    // Cross-field sanity: a full segment must fit every buffer and window on its way, or TCP
    // could never send one.
    let mss = target.world.link.mss();
    let tcp = &target.world.tcp;
    for (key, bytes) in [
        ("send_buffer", tcp.send_buffer_bytes),
        ("recv_buffer", tcp.recv_buffer_bytes),
        ("window", tcp.window_bytes),
    ] {
        if bytes < mss {
            let e = &merged[key];
            return Err(ScenarioError {
                origin: e.origin.clone(),
                field: format!("target.{key}"),
                value: Some(render(&e.value)),
                problem: format!("is smaller than one segment ({mss} bytes at this MTU)"),
                allowed: Some(format!("at least {mss} bytes, or a smaller mtu_bytes")),
            });
        }
    }
    Ok(target)
}

/// The strategies for each workload. Without a list, every strategy that applies. With one,
/// each workload runs the listed strategies that apply to it. A listed strategy that applies
/// to none of the workloads is an error naming both; a workload that none of the listed
/// strategies fits is skipped with a note (an error if that leaves nothing to run).
fn resolve_strategies(
    workloads: &[(&Origin, Workload)],
    listed: &Option<(Origin, Vec<(Origin, String)>)>,
    target: &Target,
    options: &Options,
) -> Result<(Vec<WorkloadRun>, Vec<String>), ScenarioError> {
    let configure = |s: Strategy| match s {
        Strategy::PageLoan(_) => Strategy::PageLoan(options.loan),
        Strategy::CowSend(_) => Strategy::CowSend(options.cow),
        Strategy::MmapLoan(_) => Strategy::MmapLoan(options.loan),
        Strategy::MmapSendpage { .. } => Strategy::MmapSendpage {
            fixed: options.sendpage_fixed,
        },
        Strategy::Sendfile { .. } => Strategy::Sendfile {
            linux_fallback: target.linux_sendpage_fallback,
        },
        other => other,
    };
    let mut chosen: Vec<Strategy> = Vec::new();
    if let Some((_, ids)) = listed {
        for (origin, id) in ids {
            let s = Strategy::from_id(id).map_err(|e| ScenarioError {
                origin: origin.clone(),
                field: "strategies".into(),
                value: Some(format!("\"{id}\"")),
                problem: e.to_string(),
                allowed: Some(STRATEGY_IDS.join(", ")),
            })?;
            if let Some(Err(e)) = workloads
                .iter()
                .map(|(_, w)| w.check(&s))
                .reduce(|a, b| if a.is_ok() { a } else { b })
            {
                let fits: Vec<&str> = workloads.iter().flat_map(|(_, w)| applicable(w)).collect();
                return Err(ScenarioError {
                    origin: origin.clone(),
                    field: "strategies".into(),
                    value: Some(format!("\"{id}\"")),
                    problem: e.to_string(),
                    allowed: Some(dedup(fits).join(", ")),
                });
            }
            chosen.push(configure(s));
        }
    } else {
        chosen = STRATEGY_IDS
            .iter()
            .map(|id| configure(Strategy::from_id(id).expect("catalogue ids parse")))
            .collect();
    }
    let mut runs = Vec::new();
    let mut notes = Vec::new();
    for (origin, w) in workloads {
        let strategies: Vec<Strategy> = chosen
            .iter()
            .copied()
            .filter(|s| w.check(s).is_ok())
            .collect();
        if strategies.is_empty() {
            notes.push(format!(
                "note: skipping workload `{}` declared at {origin}: none of the listed strategies applies to it (it takes {})",
                w.id(),
                applicable(w).join(", ")
            ));
            continue;
        }
        runs.push(WorkloadRun {
            workload: w.clone(),
            strategies,
        });
    }
    Ok((runs, notes))
}

fn dedup(mut v: Vec<&str>) -> Vec<&str> {
    let mut seen = std::collections::BTreeSet::new();
    v.retain(|x| seen.insert(*x));
    v
}

/// The strategy ids that apply to `w`.
pub fn applicable(w: &Workload) -> Vec<&'static str> {
    STRATEGY_IDS
        .iter()
        .copied()
        .filter(|id| {
            w.check(&Strategy::from_id(id).expect("catalogue ids parse"))
                .is_ok()
        })
        .collect()
}

/// The kind of value a settable path takes (`target.memory_bus`, `workload.write_size`,
/// `options.loan_threshold`, `seed`), for sweeps; `None` if no such path exists.
pub fn param_kind(path: &str) -> Option<crate::keys::Kind> {
    if path == "seed" {
        return Some(crate::keys::Kind::Count {
            min: 0,
            max: i64::MAX as u64,
        });
    }
    let (section, key) = path.split_once('.')?;
    match section {
        "target" => target_keys()
            .into_iter()
            .find(|k| k.name == key)
            .map(|k| k.kind),
        "options" => option_keys()
            .into_iter()
            .find(|k| k.name == key)
            .map(|k| k.kind),
        "workload" => WORKLOAD_IDS
            .iter()
            .flat_map(|w| workload_keys(w))
            .find(|k| k.name == key)
            .map(|k| k.kind),
        _ => None,
    }
}

/// Every target key with its allowed values and doc, for `zcsim list`.
pub fn describe_target_keys() -> Vec<(&'static str, String, &'static str)> {
    target_keys()
        .iter()
        .map(|k| (k.name, k.kind.allowed(), k.doc))
        .collect()
}

/// Every key of a workload kind, for `zcsim list workloads`.
pub fn describe_workload_keys(kind: &str) -> Vec<(&'static str, String, &'static str)> {
    workload_keys(kind)
        .iter()
        .map(|k| (k.name, k.kind.allowed(), k.doc))
        .collect()
}
