//! The unit parser on arbitrary text: no panic (debug builds check overflow), and what it
//! accepts is exact: adding zeros after the point never changes a value, and a size
//! formatted back parses to the same number of bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scenarios::units::{fmt_size, parse_duration, parse_rate, parse_size};

fuzz_target!(|text: &str| {
    for parse in [parse_size, parse_rate, parse_duration] {
        let Ok(v) = parse(text) else { continue };
        // Zeros after a decimal point are the same number: `1.5 KiB` = `1.50000 KiB`.
        let t = text.trim();
        let end = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(end);
        let padded = if num.contains('.') {
            format!("{num}000000{unit}")
        } else {
            format!("{num}.000000{unit}")
        };
        assert_eq!(parse(&padded), Ok(v), "{text:?} vs {padded:?}");
    }
    if let Ok(b) = parse_size(text) {
        assert_eq!(parse_size(&fmt_size(b)), Ok(b), "{text:?}");
    }
});
