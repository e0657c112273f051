//! Typed workload specs: one struct per workload kind with exactly that kind's fields, each
//! holding the value as written and where (file position or flag). A spec is filled from a
//! `[[workloads]]` table and `--set workload.KEY` flags, then resolved into the model's
//! [`Workload`] in one step that reads every field by name, so the order in which keys were
//! written never changes the meaning, and settings that contradict each other (a file size for
//! a workload that sends from memory) are errors rather than silently dropped.
//!
//! What each field accepts (range, unit, doc) lives in one table,
//! [`crate::keys::workload_keys`], shared with `zcsim list` and sweeps; a unit test checks that
//! every spec's fields and that table agree.

use models::strategy::HeaderMode;
#[cfg(test)]
use models::workload::WORKLOAD_IDS;
use models::workload::{BulkSource, MutationMode, Workload, WorkloadOptions};
use sim::SimDuration;

use crate::error::{Origin, ScenarioError};
use crate::keys::{Param, Value, workload_keys};

/// A value as written and where it was written.
#[derive(Clone, Debug)]
pub struct Entry {
    pub value: toml::Value,
    pub origin: Origin,
}

/// A field of a spec: absent, or the value as written.
pub type Field = Option<Entry>;

macro_rules! specs {
    ($(
        $(#[$doc:meta])*
        $variant:ident($spec:ident) = $id:literal { $($field:ident),* $(,)? }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Debug, Default)]
            pub struct $spec {
                $(pub $field: Field,)*
            }

            impl $spec {
                fn slot(&mut self, key: &str) -> Option<&mut Field> {
                    match key {
                        $(stringify!($field) => Some(&mut self.$field),)*
                        _ => None,
                    }
                }

                #[cfg(test)]
                const FIELDS: &[&str] = &[$(stringify!($field)),*];
            }
        )*

        /// A workload as written: its kind, with that kind's fields.
        #[derive(Clone, Debug)]
        pub enum WorkloadSpec {
            $($variant($spec),)*
        }

        impl WorkloadSpec {
            /// An empty spec of workload kind `id`; `None` if there is no such kind.
            pub fn new(id: &str) -> Option<WorkloadSpec> {
                match id {
                    $($id => Some(WorkloadSpec::$variant($spec::default())),)*
                    _ => None,
                }
            }

            pub fn kind(&self) -> &'static str {
                match self {
                    $(WorkloadSpec::$variant(_) => $id,)*
                }
            }

            fn slot(&mut self, key: &str) -> Option<&mut Field> {
                match self {
                    $(WorkloadSpec::$variant(s) => s.slot(key),)*
                }
            }

            #[cfg(test)]
            fn fields(id: &str) -> &'static [&'static str] {
                match id {
                    $($id => $spec::FIELDS,)*
                    _ => &[],
                }
            }
        }
    };
}

specs! {
    /// `kind = "bulk-send"`: ttcp / netperf.
    BulkSend(BulkSendSpec) = "bulk-send" {
        total, write_size, source, file_size, cold, fill_each_write
    }
    /// `kind = "rewrite-after-write"`.
    RewriteAfterWrite(RewriteAfterWriteSpec) = "rewrite-after-write" {
        total, write_size, rewrite, fill_each_write
    }
    /// `kind = "stamped-pages"`.
    StampedPages(StampedPagesSpec) = "stamped-pages" { total, write_size, stamp }
    /// `kind = "file-server"`.
    FileServer(FileServerSpec) = "file-server" {
        clients, files, file_size, body, requests, header, header_mode
    }
    /// `kind = "file-mutation"`.
    FileMutation(FileMutationSpec) = "file-mutation" { total, write_size, file_size, mode, every }
    /// `kind = "straddle"`.
    Straddle(StraddleSpec) = "straddle" { total, map_size }
    /// `kind = "shared-page"`.
    SharedPage(SharedPageSpec) = "shared-page" { total, write_while_referenced }
    /// `kind = "bulk-receive"`.
    BulkReceive(BulkReceiveSpec) = "bulk-receive" { total, read_size, buffer_offset, segment }
    /// `kind = "file-read"`: LMbench `bw_file_rd`, `bw_mmap_rd`.
    FileRead(FileReadSpec) = "file-read" { total, file_size, read_size }
}

/// The file a bulk send cycles over when `file_size` is not given: the total, at most this.
pub const DEFAULT_FILE_CAP: u64 = 64 << 20;

impl WorkloadSpec {
    /// Whether this kind has parameter `key`.
    pub fn has(&self, key: &str) -> bool {
        workload_keys(self.kind()).iter().any(|p| p.name == key)
    }

    /// Whether `--set workload.KEY` should land on this workload: it has the key and the key
    /// applies to it (a bulk send from memory, written `source = "memory"`, takes no file keys).
    pub fn takes(&self, key: &str) -> bool {
        if let WorkloadSpec::BulkSend(s) = self {
            match key {
                "file_size" | "cold" => {
                    return s
                        .source
                        .as_ref()
                        .is_none_or(|e| e.value.as_str() != Some("memory"));
                }
                // The application produces data only for a buffer in memory.
                "fill_each_write" => return s.file_key().is_none(),
                _ => {}
            }
        }
        self.has(key)
    }

    /// Sets `key`; an error names the key and what this kind takes.
    pub fn set(&mut self, section: &str, key: &str, e: Entry) -> Result<(), ScenarioError> {
        let kind = self.kind();
        match self.slot(key) {
            Some(slot) => {
                *slot = Some(e);
                Ok(())
            }
            None => Err(ScenarioError {
                origin: e.origin,
                field: format!("{section}.{}", crate::error::key_name(key)),
                value: Some(crate::scenario::render(&e.value)),
                problem: format!("is not a parameter of workload `{kind}`"),
                allowed: Some(format!(
                    "kind, {}",
                    workload_keys(kind)
                        .iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }),
        }
    }

    /// The model's workload: DESIGN's defaults, with every field that was written checked
    /// against its range and applied by name; and the options that apply to every strategy
    /// alike (`fill_each_write`).
    pub fn resolve(&self, section: &str) -> Result<(Workload, WorkloadOptions), ScenarioError> {
        let c = Checker {
            section,
            params: workload_keys(self.kind()),
        };
        let mut opts = WorkloadOptions::default();
        let fill = match self {
            WorkloadSpec::BulkSend(s) => {
                if let (Some(e), Some((key, at))) = (&s.fill_each_write, s.file_key()) {
                    return Err(ScenarioError {
                        origin: e.origin.clone(),
                        field: format!("{section}.fill_each_write"),
                        value: Some(crate::scenario::render(&e.value)),
                        problem: format!(
                            "does not apply to a bulk-send from a file ({key} set at {at}): the file's data is not produced by the application"
                        ),
                        allowed: Some(
                            "fill_each_write only with source = \"memory\" (or no source and no file key), or in a rewrite-after-write"
                                .into(),
                        ),
                    });
                }
                &s.fill_each_write
            }
            WorkloadSpec::RewriteAfterWrite(s) => &s.fill_each_write,
            _ => &None,
        };
        if let Some(v) = c.get("fill_each_write", fill)? {
            opts.fill_each_write = v.bool();
        }
        let mut w = Workload::default_for(self.kind()).expect("every spec kind is a workload");
        match (self, &mut w) {
            (
                WorkloadSpec::BulkSend(s),
                Workload::BulkSend {
                    total_bytes,
                    write_size,
                    source,
                },
            ) => {
                c.u64("total", &s.total, total_bytes)?;
                c.u64("write_size", &s.write_size, write_size)?;
                let file_size = c.get("file_size", &s.file_size)?.map(Value::u64);
                let cold = c.get("cold", &s.cold)?.map(Value::bool);
                let chosen = c.get("source", &s.source)?.map(Value::word);
                *source = match chosen {
                    Some("memory") => {
                        // A key that does not apply to the chosen source is a contradiction,
                        // not something to drop.
                        if let Some((name, e)) = [("file_size", &s.file_size), ("cold", &s.cold)]
                            .into_iter()
                            .find_map(|(n, f)| f.as_ref().map(|e| (n, e)))
                        {
                            let src = s.source.as_ref().expect("chosen");
                            return Err(ScenarioError {
                                origin: e.origin.clone(),
                                field: format!("{section}.{name}"),
                                value: Some(crate::scenario::render(&e.value)),
                                problem: format!(
                                    "does not apply to source = \"memory\" (set at {})",
                                    src.origin
                                ),
                                allowed: Some(
                                    "file_size and cold only with source = \"file\"; \
                                     a memory source takes total and write_size"
                                        .into(),
                                ),
                            });
                        }
                        BulkSource::Memory
                    }
                    // `source = "file"`, or no source but a file key.
                    Some(_) => file_source(file_size, cold, *total_bytes),
                    None if file_size.is_some() || cold.is_some() => {
                        file_source(file_size, cold, *total_bytes)
                    }
                    None => BulkSource::Memory,
                };
            }
            (
                WorkloadSpec::RewriteAfterWrite(s),
                Workload::RewriteAfterWrite {
                    total_bytes,
                    write_size,
                    rewrite_bytes,
                },
            ) => {
                c.u64("total", &s.total, total_bytes)?;
                c.u64("write_size", &s.write_size, write_size)?;
                c.u64("rewrite", &s.rewrite, rewrite_bytes)?;
            }
            (
                WorkloadSpec::StampedPages(s),
                Workload::StampedPages {
                    total_bytes,
                    write_size,
                    stamp_bytes,
                },
            ) => {
                c.u64("total", &s.total, total_bytes)?;
                c.u64("write_size", &s.write_size, write_size)?;
                c.u64("stamp", &s.stamp, stamp_bytes)?;
            }
            (
                WorkloadSpec::FileServer(s),
                Workload::FileServer {
                    clients,
                    files,
                    file_bytes,
                    body_bytes,
                    requests,
                    header_bytes,
                    header,
                },
            ) => {
                if let Some(v) = c.get("clients", &s.clients)? {
                    *clients = u32::try_from(v.u64()).expect("range fits u32");
                }
                if let Some(v) = c.get("files", &s.files)? {
                    *files = u32::try_from(v.u64()).expect("range fits u32");
                }
                c.u64("file_size", &s.file_size, file_bytes)?;
                c.u64("body", &s.body, body_bytes)?;
                c.u64("requests", &s.requests, requests)?;
                c.u64("header", &s.header, header_bytes)?;
                if let Some(v) = c.get("header_mode", &s.header_mode)? {
                    *header = HeaderMode::ALL
                        .into_iter()
                        .find(|m| m.id() == v.word())
                        .expect("checked against the choices");
                }
            }
            (
                WorkloadSpec::FileMutation(s),
                Workload::FileMutation {
                    total_bytes,
                    write_size,
                    file_bytes,
                    mode,
                    every,
                },
            ) => {
                c.u64("total", &s.total, total_bytes)?;
                c.u64("write_size", &s.write_size, write_size)?;
                c.u64("file_size", &s.file_size, file_bytes)?;
                if let Some(v) = c.get("mode", &s.mode)? {
                    *mode = if v.word() == "rename" {
                        MutationMode::Rename
                    } else {
                        MutationMode::InPlace
                    };
                }
                if let Some(v) = c.get("every", &s.every)? {
                    *every = SimDuration::from_nanos(v.u64());
                }
            }
            (
                WorkloadSpec::Straddle(s),
                Workload::Straddle {
                    total_bytes,
                    map_bytes,
                },
            ) => {
                c.u64("total", &s.total, total_bytes)?;
                c.u64("map_size", &s.map_size, map_bytes)?;
            }
            (
                WorkloadSpec::SharedPage(s),
                Workload::SharedPage {
                    total_bytes,
                    write_while_referenced,
                },
            ) => {
                c.u64("total", &s.total, total_bytes)?;
                if let Some(v) = c.get("write_while_referenced", &s.write_while_referenced)? {
                    *write_while_referenced = v.bool();
                }
            }
            (
                WorkloadSpec::BulkReceive(s),
                Workload::BulkReceive {
                    total_bytes,
                    read_size,
                    buffer_offset,
                    segment_bytes,
                },
            ) => {
                c.u64("total", &s.total, total_bytes)?;
                c.u64("read_size", &s.read_size, read_size)?;
                c.u64("buffer_offset", &s.buffer_offset, buffer_offset)?;
                c.u64("segment", &s.segment, segment_bytes)?;
            }
            (
                WorkloadSpec::FileRead(s),
                Workload::FileRead {
                    total_bytes,
                    file_bytes,
                    read_size,
                },
            ) => {
                c.u64("total", &s.total, total_bytes)?;
                c.u64("file_size", &s.file_size, file_bytes)?;
                c.u64("read_size", &s.read_size, read_size)?;
            }
            _ => unreachable!("a spec's default workload is of its own kind"),
        }
        Ok((w, opts))
    }
}

impl BulkSendSpec {
    /// The key that makes this bulk send read a file, and where it was written: `source =
    /// "file"`, or no source but `file_size` or `cold`. `None` for a send from memory.
    fn file_key(&self) -> Option<(&'static str, &Origin)> {
        match &self.source {
            Some(e) if e.value.as_str() == Some("file") => Some(("source", &e.origin)),
            Some(_) => None,
            None => [("file_size", &self.file_size), ("cold", &self.cold)]
                .into_iter()
                .find_map(|(k, f)| f.as_ref().map(|e| (k, &e.origin))),
        }
    }
}

/// `source = "file"`, or no source but a file key: a file of `file_size` (default: the total,
/// at most [`DEFAULT_FILE_CAP`], so a long send cycles over a file of reasonable size), cached
/// unless `cold`.
fn file_source(file_size: Option<u64>, cold: Option<bool>, total: u64) -> BulkSource {
    BulkSource::File {
        file_bytes: file_size.unwrap_or_else(|| total.min(DEFAULT_FILE_CAP)),
        cold: cold.unwrap_or(false),
    }
}

/// Checks a spec's fields against the kind's parameter table.
struct Checker<'a> {
    section: &'a str,
    params: Vec<Param>,
}

impl Checker<'_> {
    /// The checked value of field `name`, against its entry in the parameter table.
    fn get(&self, name: &str, field: &Field) -> Result<Option<Value>, ScenarioError> {
        let Some(e) = field else { return Ok(None) };
        let param = self
            .params
            .iter()
            .find(|p| p.name == name)
            .expect("every spec field is in the parameter table");
        param
            .kind
            .check(&e.value)
            .map(Some)
            .map_err(|problem| ScenarioError {
                origin: e.origin.clone(),
                field: format!("{}.{name}", self.section),
                value: Some(crate::scenario::render(&e.value)),
                problem,
                allowed: Some(param.kind.allowed()),
            })
    }

    fn u64(&self, name: &str, field: &Field, into: &mut u64) -> Result<(), ScenarioError> {
        if let Some(v) = self.get(name, field)? {
            *into = v.u64();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_has_exactly_its_kinds_parameters() {
        // The spec structs and the parameter table are written separately; if they disagreed a
        // documented key would be refused, or an undocumented one accepted.
        for id in WORKLOAD_IDS {
            let mut table: Vec<&str> = workload_keys(id).iter().map(|p| p.name).collect();
            let mut spec: Vec<&str> = WorkloadSpec::fields(id).to_vec();
            table.sort_unstable();
            spec.sort_unstable();
            assert_eq!(table, spec, "{id}");
            assert_eq!(WorkloadSpec::new(id).map(|s| s.kind()), Some(id));
        }
    }
}
