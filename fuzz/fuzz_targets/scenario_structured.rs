//! The scenario layer on structurally valid TOML: documents built from the real key names
//! (plus arbitrary ones) and values of every TOML type, including quantities with units and
//! many decimals, so the fuzzer spends its time past the TOML syntax. Any input gives a
//! scenario or an error naming a field, never a panic; the same document with its keys in
//! another order gives the same result (order never changes meaning).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use models::strategy::STRATEGY_IDS;
use models::workload::WORKLOAD_IDS;
use scenarios::keys::{option_keys, target_keys, workload_keys};
use scenarios::{Overrides, load_str, presets};

#[derive(Arbitrary, Debug)]
enum Key {
    Known(u16),
    Any(String),
}

#[derive(Arbitrary, Debug)]
enum Val {
    Size(u32, u8, u8),
    Int(i64),
    Float(f64),
    Bool(bool),
    Word(u16),
    Str(String),
    List(Vec<u16>),
    Table(Vec<(Key, bool)>),
}

#[derive(Arbitrary, Debug)]
struct Doc {
    seed: Option<Val>,
    target: Option<Vec<(Key, Val)>>,
    workloads: Vec<(Option<u8>, Vec<(Key, Val)>)>,
    strategies: Option<Vec<u16>>,
    options: Option<Vec<(Key, Val)>>,
    top: Vec<(Key, Val)>,
    sets: Vec<(u8, Key, Val)>,
    reverse: bool,
}

fn names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = target_keys().iter().map(|k| k.name).collect();
    v.extend(option_keys().iter().map(|k| k.name));
    for id in WORKLOAD_IDS {
        v.extend(workload_keys(id).iter().map(|p| p.name));
    }
    v.extend([
        "kind",
        "preset",
        "name",
        "description",
        "seed",
        "strategies",
    ]);
    v
}

fn words() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = WORKLOAD_IDS.to_vec();
    v.extend(STRATEGY_IDS);
    v.extend(presets::NAMES);
    v.extend([
        "memory",
        "file",
        "ethernet",
        "loopback",
        "cork",
        "separate-write",
        "header-iovec",
        "in-place",
        "rename",
    ]);
    v
}

const UNITS: [&str; 16] = [
    "B", "KiB", "MiB", "GiB", "TiB", "kB", "MB", "GB", "B/s", "MB/s", "Gb/s", "Mb/s", "ns", "us",
    "ms", "s",
];

impl Key {
    fn name(&self, names: &[&str]) -> String {
        match self {
            Key::Known(i) => names[*i as usize % names.len()].to_owned(),
            Key::Any(s) => s.chars().take(16).collect(),
        }
    }
}

impl Val {
    fn value(&self, words: &[&str]) -> toml::Value {
        match self {
            // A quantity: an integer part, sometimes a fraction with trailing digits, a unit.
            Val::Size(n, frac, unit) => {
                let unit = UNITS[*unit as usize % UNITS.len()];
                let s = if *frac == 0 {
                    format!("{n} {unit}")
                } else {
                    format!(
                        "{n}.{}{} {unit}",
                        frac % 10,
                        "0".repeat(*frac as usize % 48)
                    )
                };
                toml::Value::String(s)
            }
            Val::Int(i) => toml::Value::Integer(*i),
            Val::Float(f) => toml::Value::Float(*f),
            Val::Bool(b) => toml::Value::Boolean(*b),
            Val::Word(i) => toml::Value::String(words[*i as usize % words.len()].to_owned()),
            Val::Str(s) => toml::Value::String(s.chars().take(64).collect()),
            Val::List(l) => toml::Value::Array(
                l.iter()
                    .take(8)
                    .map(|i| toml::Value::String(words[*i as usize % words.len()].to_owned()))
                    .collect(),
            ),
            Val::Table(keys) => toml::Value::Table(
                keys.iter()
                    .take(4)
                    .map(|(k, b)| (k.name(&names()), toml::Value::Boolean(*b)))
                    .collect(),
            ),
        }
    }
}

fn table(entries: &[(Key, Val)], names: &[&str], words: &[&str], reverse: bool) -> toml::Table {
    let mut pairs: Vec<(String, toml::Value)> = entries
        .iter()
        .take(12)
        .map(|(k, v)| (k.name(names), v.value(words)))
        .collect();
    if reverse {
        pairs.reverse();
    }
    pairs.into_iter().collect()
}

fn render(doc: &Doc, reverse: bool) -> String {
    let (names, words) = (names(), words());
    let mut root = toml::Table::new();
    if let Some(s) = &doc.seed {
        root.insert("seed".into(), s.value(&words));
    }
    for (k, v) in doc.top.iter().take(3) {
        root.insert(k.name(&names), v.value(&words));
    }
    if let Some(t) = &doc.target {
        root.insert(
            "target".into(),
            toml::Value::Table(table(t, &names, &words, reverse)),
        );
    }
    if let Some(o) = &doc.options {
        root.insert(
            "options".into(),
            toml::Value::Table(table(o, &names, &words, reverse)),
        );
    }
    if let Some(s) = &doc.strategies {
        root.insert(
            "strategies".into(),
            toml::Value::Array(
                s.iter()
                    .take(6)
                    .map(|i| toml::Value::String(words[*i as usize % words.len()].to_owned()))
                    .collect(),
            ),
        );
    }
    let workloads: Vec<toml::Value> = doc
        .workloads
        .iter()
        .take(4)
        .map(|(kind, entries)| {
            let mut t = table(entries, &names, &words, reverse);
            if let Some(k) = kind {
                t.insert(
                    "kind".into(),
                    toml::Value::String(WORKLOAD_IDS[*k as usize % WORKLOAD_IDS.len()].into()),
                );
            }
            toml::Value::Table(t)
        })
        .collect();
    if !workloads.is_empty() {
        root.insert("workloads".into(), toml::Value::Array(workloads));
    }
    toml::to_string(&root).unwrap_or_default()
}

fuzz_target!(|doc: Doc| {
    let (names, words) = (names(), words());
    let sets: Vec<String> = doc
        .sets
        .iter()
        .take(4)
        .map(|(section, k, v)| {
            let section = ["target", "workload", "options", "seed"][*section as usize % 4];
            format!("{section}.{}={}", k.name(&names), v.value(&words))
        })
        .collect();
    let o = Overrides {
        sets,
        ..Overrides::default()
    };
    let text = render(&doc, false);
    let first = load_str("fuzz.toml", &text, &o);
    if let Err(e) = &first {
        assert!(!e.field.is_empty(), "an error without a field: {e}");
    }
    if doc.reverse && !text.contains("\"\"\"") && !text.contains("\'\'\'") {
        // toml keeps a table's keys sorted, so reordering is done on the text: the same
        // entries written in reverse order within each table must mean the same.
        let reordered = reverse_lines_within_tables(&text);
        let second = load_str("fuzz.toml", &reordered, &o);
        match (&first, &second) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "order changed the meaning:\n{text}\n--\n{reordered}")
            }
            (Err(_), Err(_)) => {}
            _ => {
                panic!("order changed acceptance:\n{text}\n--\n{reordered}\n{first:?}\n{second:?}")
            }
        }
    }
});

/// The same document with the `key = value` lines of each table in reverse order.
fn reverse_lines_within_tables(text: &str) -> String {
    let mut out = Vec::new();
    let mut block: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.starts_with('[') {
            block.reverse();
            out.append(&mut block);
            out.push(line);
        } else {
            // Blank lines move too, so every header stays on its line and positions in
            // notes compare equal.
            block.push(line);
        }
    }
    block.reverse();
    out.append(&mut block);
    out.join("\n")
}
