//! The configuration a scenario ran with: every target value after the preset and every
//! override, every option, every workload parameter (defaults included), the strategies and
//! the seed. [`Config::to_toml`] prints it as a scenario file that loads back to the same
//! scenario (gem5's `config.ini`, OSTEP's echoed arguments); reports embed it as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use models::strategy::{CowAlign, KvaCapPolicy, TlsMode};
use models::workload::{BulkSource, MutationMode, Workload, WorkloadOptions};
use serde::{Deserialize, Serialize};

use crate::keys::{Options, option_keys, target_keys, workload_keys};
use crate::scenario::Scenario;
use crate::units::fmt_size;

/// How the JSON Schema describes a value of the configuration: what a scenario file writes,
/// a string (with its unit), a number or a boolean.
pub struct Scalar;

impl schemars::JsonSchema for Scalar {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Scalar".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

/// A scenario's effective configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Config {
    pub seed: u64,
    /// Every strategy that runs on at least one workload, in catalogue order.
    pub strategies: Vec<String>,
    pub target: TargetConfig,
    /// Every `[options]` key with its value.
    #[schemars(with = "BTreeMap<String, Scalar>")]
    pub options: BTreeMap<String, toml::Value>,
    pub workloads: Vec<WorkloadConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TargetConfig {
    /// As reports name it: the preset, `PRESET (overridden)`, or `custom`.
    pub name: String,
    pub description: String,
    /// The preset it started from, if any.
    pub preset: Option<String>,
    /// Every target key, as written in the preset or the override that set it last.
    #[schemars(with = "BTreeMap<String, Scalar>")]
    pub values: BTreeMap<String, toml::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WorkloadConfig {
    pub name: String,
    pub kind: String,
    /// Every parameter of the kind, defaults included, with units.
    #[schemars(with = "BTreeMap<String, Scalar>")]
    pub parameters: BTreeMap<String, toml::Value>,
}

fn size(b: u64) -> toml::Value {
    toml::Value::String(fmt_size(b))
}

fn count(n: u64) -> toml::Value {
    toml::Value::Integer(i64::try_from(n).expect("counts are range-checked below 2^63"))
}

/// Every parameter of `w`, written so that it reads back to the same workload.
pub fn workload_parameters(
    w: &Workload,
    options: &WorkloadOptions,
) -> BTreeMap<String, toml::Value> {
    let s = |v: &str| toml::Value::String(v.to_owned());
    let fill = (
        "fill_each_write",
        toml::Value::Boolean(options.fill_each_write),
    );
    let p: Vec<(&str, toml::Value)> = match *w {
        Workload::BulkSend {
            total_bytes,
            write_size,
            source,
        } => {
            let mut p = vec![
                ("total", size(total_bytes)),
                ("write_size", size(write_size)),
            ];
            match source {
                BulkSource::Memory => {
                    p.push(("source", s("memory")));
                    p.push(fill);
                }
                BulkSource::File { file_bytes, cold } => {
                    p.push(("source", s("file")));
                    p.push(("file_size", size(file_bytes)));
                    p.push(("cold", toml::Value::Boolean(cold)));
                }
            }
            p
        }
        Workload::RewriteAfterWrite {
            total_bytes,
            write_size,
            rewrite_bytes,
        } => vec![
            ("total", size(total_bytes)),
            ("write_size", size(write_size)),
            ("rewrite", size(rewrite_bytes)),
            fill,
        ],
        Workload::StampedPages {
            total_bytes,
            write_size,
            stamp_bytes,
        } => vec![
            ("total", size(total_bytes)),
            ("write_size", size(write_size)),
            ("stamp", size(stamp_bytes)),
        ],
        Workload::FileServer {
            clients,
            files,
            file_bytes,
            body_bytes,
            requests,
            header_bytes,
            header,
        } => vec![
            ("clients", count(clients.into())),
            ("files", count(files.into())),
            ("file_size", size(file_bytes)),
            ("body", size(body_bytes)),
            ("requests", count(requests)),
            ("header", size(header_bytes)),
            ("header_mode", s(header.id())),
        ],
        Workload::FileMutation {
            total_bytes,
            write_size,
            file_bytes,
            mode,
            every,
        } => vec![
            ("total", size(total_bytes)),
            ("write_size", size(write_size)),
            ("file_size", size(file_bytes)),
            (
                "mode",
                s(match mode {
                    MutationMode::InPlace => "in-place",
                    MutationMode::Rename => "rename",
                }),
            ),
            ("every", s(&format!("{} ns", every.as_nanos()))),
        ],
        Workload::Straddle {
            total_bytes,
            map_bytes,
        } => vec![("total", size(total_bytes)), ("map_size", size(map_bytes))],
        Workload::SharedPage {
            total_bytes,
            write_while_referenced,
        } => vec![
            ("total", size(total_bytes)),
            (
                "write_while_referenced",
                toml::Value::Boolean(write_while_referenced),
            ),
        ],
        Workload::BulkReceive {
            total_bytes,
            read_size,
            buffer_offset,
            segment_bytes,
        } => vec![
            ("total", size(total_bytes)),
            ("read_size", size(read_size)),
            ("buffer_offset", size(buffer_offset)),
            ("segment", size(segment_bytes)),
        ],
        Workload::FileRead {
            total_bytes,
            file_bytes,
            read_size,
        } => vec![
            ("total", size(total_bytes)),
            ("file_size", size(file_bytes)),
            ("read_size", size(read_size)),
        ],
    };
    p.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Every option with its value.
pub fn option_values(o: &Options) -> BTreeMap<String, toml::Value> {
    let s = |v: &str| toml::Value::String(v.to_owned());
    let b = toml::Value::Boolean;
    [
        ("loan_threshold", size(o.loan.threshold_bytes)),
        ("loan_chunk", size(o.loan.chunk_bytes)),
        ("loan_kva_cap", size(o.loan.kva_cap_bytes)),
        (
            "loan_at_kva_cap",
            s(match o.loan.at_kva_cap {
                KvaCapPolicy::Sleep => "sleep",
                KvaCapPolicy::Copy => "copy",
            }),
        ),
        ("loan_on_multiprocessor", b(o.loan.on_multiprocessor)),
        (
            "cow_align",
            s(match o.cow.align {
                CowAlign::AlignedOnly => "aligned-only",
                CowAlign::PartialPage => "partial-page",
            }),
        ),
        ("sendpage_fixed", b(o.sendpage_fixed)),
        ("zerocopy_buffers", count(o.zerocopy.buffers)),
        ("zerocopy_poll_every", count(o.zerocopy.poll_every)),
        ("zerocopy_wait", b(o.zerocopy.wait_completion)),
        ("zerocopy_memlock", size(o.zerocopy.memlock_bytes)),
        ("pipe_size", size(o.pipe_bytes)),
        (
            "tls_mode",
            s(match o.ktls.mode {
                TlsMode::Software => "software",
                TlsMode::NicOffload => "nic-offload",
            }),
        ),
        ("tls_zerocopy_ro", b(o.ktls.zerocopy_ro)),
        ("send_zc_fixed_buffers", b(o.send_zc.fixed_buffers)),
        ("send_zc_batch", count(o.send_zc.batch)),
        ("send_zc_wait_each", b(o.send_zc.wait_each)),
        ("map", s(o.map.id())),
        ("tcp_zc_copybuf", size(o.tcp_zc.copybuf_bytes)),
        ("zcrx_area", size(o.zcrx.area_bytes)),
        ("zcrx_refill_batch", count(o.zcrx.refill_batch)),
        ("xsk_mode", s(o.xsk.mode.id())),
        ("xsk_chunk_size", size(o.xsk.chunk_bytes)),
        ("xsk_umem_chunks", count(o.xsk.umem_chunks)),
        ("xsk_fill_ring", count(o.xsk.fill_ring)),
        ("xsk_rx_ring", count(o.xsk.rx_ring)),
        ("xsk_tx_ring", count(o.xsk.tx_ring)),
        ("xsk_comp_ring", count(o.xsk.comp_ring)),
        ("xsk_batch", count(o.xsk.batch)),
        ("xsk_reuse_bug", b(o.xsk.reuse_bug)),
        ("devmem_binding", size(o.devmem.binding_bytes)),
        ("devmem_dontneed_batch", count(o.devmem.dontneed_batch)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

impl Config {
    /// The configuration `s` runs with.
    pub fn of(s: &Scenario) -> Config {
        let mut strategies: Vec<String> = Vec::new();
        for id in models::strategy::STRATEGY_IDS {
            if s.runs
                .iter()
                .any(|wr| wr.strategies.iter().any(|x| x.id() == id))
            {
                strategies.push(id.to_owned());
            }
        }
        Config {
            seed: s.seed,
            strategies,
            target: TargetConfig {
                name: s.target.name.clone(),
                description: s.target.description.clone(),
                preset: s.target.preset.clone(),
                values: s.target.values.clone(),
            },
            options: option_values(&s.options),
            workloads: s
                .runs
                .iter()
                .map(|wr| WorkloadConfig {
                    name: wr.name.clone(),
                    kind: wr.workload.id().to_owned(),
                    parameters: workload_parameters(&wr.workload, &wr.options),
                })
                .collect(),
        }
    }

    /// The configuration as a scenario file: `--scenario` loads it back to the same scenario.
    /// Keys come in the order `zcsim list` shows them, each with its doc as a comment.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, key: &str, v: &toml::Value, doc: &str| {
            let kv = format!("{key} = {v}");
            if doc.is_empty() {
                let _ = writeln!(out, "{kv}");
            } else {
                let _ = writeln!(out, "{kv:<34} # {doc}");
            }
        };
        let _ = writeln!(
            out,
            "# The effective configuration of a zcsim {} run: every value after the preset and\n\
             # every override. `zcsim compare --scenario THIS_FILE` runs it again.\n",
            env!("CARGO_PKG_VERSION")
        );
        let _ = writeln!(out, "seed = {}", self.seed);
        let ids: Vec<toml::Value> = self
            .strategies
            .iter()
            .map(|s| toml::Value::String(s.clone()))
            .collect();
        line(&mut out, "strategies", &toml::Value::Array(ids), "");
        let _ = writeln!(out, "\n[target]");
        if let Some(p) = &self.target.preset {
            line(
                &mut out,
                "preset",
                &toml::Value::String(p.clone()),
                "every key below is set, so the preset only names the base",
            );
        }
        let keys = target_keys();
        for k in &keys {
            if let Some(v) = self.target.values.get(k.name) {
                line(&mut out, k.name, v, k.doc);
            }
        }
        // Keys the table does not know (none today) still go out, so nothing is lost.
        for (k, v) in &self.target.values {
            if !keys.iter().any(|x| x.name == k) {
                line(&mut out, k, v, "");
            }
        }
        let _ = writeln!(out, "\n[options]");
        for k in option_keys() {
            if let Some(v) = self.options.get(k.name) {
                line(&mut out, k.name, v, k.doc);
            }
        }
        for w in &self.workloads {
            let _ = writeln!(out, "\n[[workloads]]");
            line(&mut out, "name", &toml::Value::String(w.name.clone()), "");
            line(&mut out, "kind", &toml::Value::String(w.kind.clone()), "");
            for p in workload_keys(&w.kind) {
                if let Some(v) = w.parameters.get(p.name) {
                    line(&mut out, p.name, v, p.doc);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Overrides, load_default, load_str};

    fn reload(s: &Scenario) -> Scenario {
        let text = Config::of(s).to_toml();
        load_str("config.toml", &text, &Overrides::default())
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn a_printed_configuration_loads_back_to_the_same_scenario() {
        // The printout is only worth having if it reproduces the run: for the default
        // scenario with overrides on target, workload and options, every preset and every
        // workload kind, the scenario loaded from the printout equals the original (the
        // notes aside: a skipped workload is simply absent from the printout).
        let mut cases = vec![Overrides {
            sets: vec![
                "target.memory_bus=40MB/s".into(),
                "workload.write_size=16KiB".into(),
                "options.loan_threshold=8KiB".into(),
            ],
            strategies: Some(vec!["copy".into(), "sendfile".into()]),
            seed: Some(7),
            ..Overrides::default()
        }];
        // Under TCP_NODELAY the preset's Nagle rule has nothing to do: printed, it would be
        // refused on the way back in (a user's `nagle` there is an error).
        let nodelay = Overrides {
            sets: vec!["target.tcp_nodelay=true".into()],
            ..Overrides::default()
        };
        // The loop below skips cases that do not load; this one must.
        load_default(&nodelay).expect("the default scenario with TCP_NODELAY loads");
        cases.push(nodelay);
        for p in crate::presets::NAMES {
            for w in models::workload::WORKLOAD_IDS {
                cases.push(Overrides {
                    preset: Some(p.into()),
                    workload: Some(w.into()),
                    ..Overrides::default()
                });
            }
        }
        for o in cases {
            let Ok(s) = load_default(&o) else {
                continue; // a receive workload on a loopback preset, refused by design
            };
            let mut back = reload(&s);
            back.notes.clone_from(&s.notes);
            assert_eq!(back, s, "{o:?}");
        }
    }

    #[test]
    fn workloads_are_named_apart() {
        // Reports tell workloads apart by name: a table's `name` is kept, an unnamed one is
        // its kind and index, and two workloads with one name are refused at the second.
        let text = "[[workloads]]\nname = \"small\"\nkind = \"bulk-send\"\ntotal = \"64 KiB\"\n\
                    [[workloads]]\nkind = \"bulk-send\"\ntotal = \"64 KiB\"\n";
        let s = load_str("n.toml", text, &Overrides::default()).unwrap();
        let names: Vec<&str> = s.runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["small", "bulk-send-1"]);
        let dup = text.replace(
            "[[workloads]]\nkind",
            "[[workloads]]\nname = \"small\"\nkind",
        );
        let e = load_str("n.toml", &dup, &Overrides::default()).unwrap_err();
        assert_eq!(e.field, "workloads[1].name", "{e}");
        let bad = text.replace("\"small\"", "\"a b\"");
        let e = load_str("n.toml", &bad, &Overrides::default()).unwrap_err();
        assert_eq!(e.field, "workloads[0].name", "{e}");
    }

    #[test]
    fn every_option_and_parameter_is_printed() {
        // A key added to the tables but not to this module would be silently dropped from
        // the printout: every option key and every parameter of every kind must appear
        // (bulk-send's file keys appear for a file source).
        let o = option_values(&Options::default());
        for k in option_keys() {
            assert!(o.contains_key(k.name), "option {} is not printed", k.name);
        }
        for kind in models::workload::WORKLOAD_IDS {
            let mut w = Workload::default_for(kind).unwrap();
            if let Workload::BulkSend { source, .. } = &mut w {
                *source = BulkSource::File {
                    file_bytes: 4096,
                    cold: false,
                };
            }
            let mut p = workload_parameters(&w, &WorkloadOptions::default());
            // fill_each_write is a memory source's key: printed for one, refused for a file.
            let memory = Workload::default_for(kind).unwrap();
            p.extend(workload_parameters(&memory, &WorkloadOptions::default()));
            for k in workload_keys(kind) {
                assert!(p.contains_key(k.name), "{kind}.{} is not printed", k.name);
            }
        }
    }
}
