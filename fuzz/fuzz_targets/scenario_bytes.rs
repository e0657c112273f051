//! The scenario parser on arbitrary bytes: any input gives a scenario or a `ScenarioError`,
//! never a panic, and an error always names where and which field. Bytes after a NUL are
//! used as `--set` flags, one per further NUL, so the flag path is fuzzed too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scenarios::{Overrides, load_str};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0);
    let Ok(text) = std::str::from_utf8(parts.next().unwrap_or_default()) else {
        return;
    };
    let sets: Vec<String> = parts
        .filter_map(|p| std::str::from_utf8(p).ok())
        .map(str::to_owned)
        .collect();
    let o = Overrides {
        sets,
        ..Overrides::default()
    };
    match load_str("fuzz.toml", text, &o) {
        Ok(s) => assert!(
            s.runs.iter().all(|r| !r.strategies.is_empty()),
            "a run without strategies"
        ),
        Err(e) => {
            assert!(!e.field.is_empty(), "an error without a field: {e}");
            assert!(e.to_string().len() < 4096, "an over-long error: {e}");
        }
    }
});
