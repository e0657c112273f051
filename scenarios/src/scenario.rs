//! Loading a scenario: TOML with spans, overlaid preset → file → flags, checked key by key,
//! resolved into the model's types.

use std::collections::BTreeMap;

use models::strategy::{STRATEGY_IDS, Strategy};
use models::workload::{WORKLOAD_IDS, Workload};
use serde::Deserialize;
use toml::Spanned;

use crate::error::{Origin, ScenarioError};
use crate::keys::{Key, Options, TARGET_META, Target, option_keys, target_keys, workload_keys};
use crate::presets;

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

/// The file as written, with spans.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    seed: Option<Spanned<i64>>,
    target: Option<BTreeMap<String, Spanned<toml::Value>>>,
    #[serde(default)]
    workloads: Vec<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    strategies: Option<Spanned<Vec<Spanned<String>>>>,
    options: Option<BTreeMap<String, Spanned<toml::Value>>>,
    /// Read by `zcsim reproduce` (see [`crate::experiments`]); a plain run ignores it.
    #[allow(dead_code)]
    experiment: Option<toml::Value>,
}

/// A value and where it came from.
#[derive(Clone, Debug)]
struct Entry {
    value: toml::Value,
    origin: Origin,
}

type Table = BTreeMap<String, Entry>;

struct Source<'a> {
    path: &'a str,
    text: &'a str,
}

impl Source<'_> {
    fn origin(&self, span: std::ops::Range<usize>) -> Origin {
        Origin::at(self.path, self.text, span.start)
    }

    fn table(&self, raw: BTreeMap<String, Spanned<toml::Value>>) -> Table {
        raw.into_iter()
            .map(|(k, v)| {
                let origin = self.origin(v.span());
                (
                    k,
                    Entry {
                        value: v.into_inner(),
                        origin,
                    },
                )
            })
            .collect()
    }
}

fn parse_raw<T: for<'de> Deserialize<'de>>(path: &str, text: &str) -> Result<T, ScenarioError> {
    toml::from_str(text).map_err(|e| {
        let origin = match e.span() {
            Some(span) => Origin::at(path, text, span.start),
            None => Origin::Whole {
                path: path.to_owned(),
            },
        };
        let message = e.message().trim().to_owned();
        let field = if message.starts_with("unknown field") {
            "(field)".to_owned()
        } else {
            "(syntax)".to_owned()
        };
        ScenarioError {
            origin,
            field,
            value: None,
            problem: message,
            allowed: Some("seed, target, workloads, strategies, options at the top level".into()),
        }
    })
}

/// Loads the scenario in `path`.
pub fn load_file(path: &str, o: &Overrides) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        origin: Origin::Whole {
            path: path.to_owned(),
        },
        field: "(file)".into(),
        value: None,
        problem: format!("cannot be read: {e}"),
        allowed: None,
    })?;
    load_str(path, &text, o)
}

/// The built-in default scenario, with the command line's overrides.
pub fn load_default(o: &Overrides) -> Result<Scenario, ScenarioError> {
    load_str(DEFAULT_NAME, DEFAULT_SCENARIO, o)
}

/// Loads a scenario from `text`, reporting positions as in `path`.
pub fn load_str(path: &str, text: &str, o: &Overrides) -> Result<Scenario, ScenarioError> {
    let src = Source { path, text };
    let raw: RawScenario = parse_raw(path, text)?;
    let mut seed = match raw.seed {
        Some(s) if *s.get_ref() < 0 => {
            return Err(ScenarioError {
                origin: src.origin(s.span()),
                field: "seed".into(),
                value: Some(s.get_ref().to_string()),
                problem: "must not be negative".into(),
                allowed: Some("a whole number from 0 to 2^63-1".into()),
            });
        }
        Some(s) => *s.get_ref() as u64,
        None => 1,
    };
    let mut target = raw.target.map(|t| src.table(t)).unwrap_or_default();
    let mut options = raw.options.map(|t| src.table(t)).unwrap_or_default();
    let mut workloads: Vec<(Origin, Table)> = raw
        .workloads
        .into_iter()
        .map(|w| (src.origin(w.span()), src.table(w.into_inner())))
        .collect();
    let mut strategies: Option<(Origin, Vec<(Origin, String)>)> = raw.strategies.map(|s| {
        let origin = src.origin(s.span());
        let ids = s
            .into_inner()
            .into_iter()
            .map(|id| (src.origin(id.span()), id.into_inner()))
            .collect();
        (origin, ids)
    });
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
        strategies = Some((
            origin.clone(),
            ids.iter().map(|id| (origin.clone(), id.clone())).collect(),
        ));
    }
    if let Some(kind) = &o.workload {
        let origin = Origin::Flag {
            arg: format!("--workload {kind}"),
        };
        if Workload::default_for(kind).is_none() {
            return Err(ScenarioError {
                origin,
                field: "workload".into(),
                value: Some(kind.clone()),
                problem: "is not a workload".into(),
                allowed: Some(WORKLOAD_IDS.join(", ")),
            });
        }
        workloads.retain(|(_, t)| t.get("kind").and_then(|e| e.value.as_str()) == Some(kind));
        if workloads.is_empty() {
            let mut t = Table::new();
            t.insert(
                "kind".into(),
                Entry {
                    value: toml::Value::String(kind.clone()),
                    origin: origin.clone(),
                },
            );
            workloads.push((origin, t));
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
    for (i, (origin, table)) in workloads.iter().enumerate() {
        let w = resolve_workload(i, origin, table)?;
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
/// that has KEY) or `options.KEY`. The value is read as TOML (`true`, `1500`, `0.01`), or as
/// a string when it is not (`40MB/s`).
fn apply_set(
    arg: &str,
    seed: &mut u64,
    target: &mut Table,
    workloads: &mut [(Origin, Table)],
    options: &mut Table,
    strategies: &mut Option<(Origin, Vec<(Origin, String)>)>,
) -> Result<(), ScenarioError> {
    let origin = Origin::Flag {
        arg: format!("--set {arg}"),
    };
    let err = |field: &str, problem: &str, allowed: &str| ScenarioError {
        origin: origin.clone(),
        field: field.to_owned(),
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
                    value: Some(raw.to_owned()),
                    ..err("seed", "must be a whole number", "0 to 2^63-1")
                });
            }
        },
        None if path == "strategies" => {
            let ids = raw
                .split(',')
                .map(|s| (origin.clone(), s.trim().to_owned()))
                .collect();
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
            for (_, w) in workloads.iter_mut() {
                let kind = w.get("kind").and_then(|e| e.value.as_str()).unwrap_or("");
                if workload_keys(kind).iter().any(|k| k.name == key) {
                    w.insert(key.to_owned(), entry.clone());
                    hit = true;
                }
            }
            if !hit {
                let kinds: Vec<String> = workloads
                    .iter()
                    .filter_map(|(_, w)| {
                        w.get("kind")
                            .and_then(|e| e.value.as_str())
                            .map(String::from)
                    })
                    .collect();
                return Err(ScenarioError {
                    value: Some(raw.to_owned()),
                    ..err(
                        &format!("workload.{key}"),
                        "is not a parameter of any workload in this scenario",
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

fn render(v: &toml::Value) -> String {
    v.to_string()
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
                field: format!("{section}.{name}"),
                value: Some(render(&e.value)),
                problem: "is not a known field".into(),
                allowed: Some(names.join(", ")),
            });
        };
        let v = key.kind.check(&e.value).map_err(|problem| ScenarioError {
            origin: e.origin.clone(),
            field: format!("{section}.{name}"),
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
        let raw: BTreeMap<String, Spanned<toml::Value>> = parse_raw(&preset_path, text)?;
        let src = Source {
            path: &preset_path,
            text,
        };
        merged = src.table(raw);
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
    let missing: Vec<&str> = keys
        .iter()
        .map(|k| k.name)
        .filter(|n| !merged.contains_key(*n))
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

fn resolve_workload(i: usize, origin: &Origin, table: &Table) -> Result<Workload, ScenarioError> {
    let section = format!("workloads[{i}]");
    let Some(kind) = table.get("kind") else {
        return Err(ScenarioError {
            origin: origin.clone(),
            field: format!("{section}.kind"),
            value: None,
            problem: "is missing".into(),
            allowed: Some(WORKLOAD_IDS.join(", ")),
        });
    };
    let base = kind
        .value
        .as_str()
        .and_then(Workload::default_for)
        .ok_or_else(|| ScenarioError {
            origin: kind.origin.clone(),
            field: format!("{section}.kind"),
            value: Some(render(&kind.value)),
            problem: "is not a workload".into(),
            allowed: Some(WORKLOAD_IDS.join(", ")),
        })?;
    let mut rest = table.clone();
    rest.remove("kind");
    let keys = workload_keys(base.id());
    resolve_keys(&section, &rest, base, &keys)
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
