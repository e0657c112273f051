//! Reading a student's answers and judging them against the computed ones.
//!
//! The file has one answer per line, in the order the parts are printed; blank lines and
//! lines starting with `#` are skipped, and a leading label such as `1a.`, `1a:` or `1a)` is
//! optional (when present it must name the part it stands for). Sizes and rates may be
//! written in any unit `--set` accepts, plus `KB/s` meaning 1024 bytes per second as the
//! report prints; a bare number is bytes for a size and KB/s for a rate.

use super::{Kind, Value};

/// How close a number must be: relative to the answer, or absolute near zero.
const REL: f64 = 0.02;
const ABS: f64 = 0.005;

/// Why an answer was not accepted.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Right,
    /// Read, but not the answer.
    Wrong,
    /// Could not be read as the kind of quantity asked: why.
    Unreadable(String),
    /// No line for this part.
    Missing,
}

/// The file's answers: `(label it carried, text)` per answer line.
pub fn lines(text: &str) -> Vec<(Option<String>, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let label_end = l.find(['.', ':', ')']);
            match label_end {
                Some(i) if is_label(&l[..i]) => {
                    (Some(l[..i].to_owned()), l[i + 1..].trim().to_owned())
                }
                _ => (None, l.to_owned()),
            }
        })
        .collect()
}

/// `12b`: digits then one lowercase letter.
fn is_label(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_lowercase());
    s.len() == digits.len() + 1 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Reads `text` as a quantity of `kind`: bytes, bytes per second, a count, a number or a
/// word.
pub fn read(kind: Kind, text: &str) -> Result<Value, String> {
    // An answer copied from the printed key, `1.0 MiB (1048576 B)`, is read up to its note.
    let t = text.split(" (").next().unwrap_or(text).trim();
    let bare = t
        .replace('_', "")
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite());
    match kind {
        Kind::Size => match bare {
            Some(b) => Ok(Value::Number(b)),
            None => scaled(t, scenarios::units::parse_size).map(Value::Number),
        },
        Kind::Rate => match (bare, t.strip_suffix("KB/s")) {
            (Some(kb), _) => Ok(Value::Number(kb * 1024.0)),
            (None, Some(kb)) => kb
                .trim()
                .parse::<f64>()
                .map(|x| Value::Number(x * 1024.0))
                .map_err(|_| format!("`{t}` is not a number followed by a unit")),
            (None, None) => scaled(t, scenarios::units::parse_rate).map(Value::Number),
        },
        Kind::Count | Kind::Number => bare
            .map(Value::Number)
            .ok_or_else(|| format!("`{t}` is not a number")),
        Kind::Word(words) => {
            let norm = |w: &str| w.to_lowercase().replace([' ', '-'], "_");
            words
                .iter()
                .find(|w| norm(w) == norm(t))
                .map(|w| Value::Word(w))
                .ok_or_else(|| format!("`{t}` is not one of {}", words.join(", ")))
        }
    }
}

/// A number with a unit, the number read as a decimal (a computed answer need not be a whole
/// number of bytes) and the unit's factor taken from the parser `--set` uses (on 8 of the
/// unit, so bit rates come out whole).
fn scaled(
    t: &str,
    parse: fn(&str) -> Result<u64, scenarios::units::UnitError>,
) -> Result<f64, String> {
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(t.len());
    let (num, unit) = (t[..split].replace('_', ""), t[split..].trim());
    let x: f64 = num
        .parse()
        .map_err(|_| format!("`{t}` is not a number followed by a unit"))?;
    let eight = parse(&format!("8 {unit}")).map_err(|e| format!("`{t}`: {e}"))?;
    Ok(x * eight as f64 / 8.0)
}

/// Whether `given` is `answer`: counts exactly, words exactly, other numbers within 2%.
pub fn judge(kind: Kind, answer: &Value, given: &Value) -> bool {
    match (answer, given) {
        (Value::Word(a), Value::Word(g)) => a == g,
        (Value::Number(a), Value::Number(g)) => match kind {
            Kind::Count => a.round() == g.round() && (g - g.round()).abs() < 1e-9,
            _ => (a - g).abs() <= ABS.max(a.abs() * REL),
        },
        _ => false,
    }
}

/// Judges one line against an answer.
pub fn verdict(kind: Kind, answer: &Value, line: Option<&str>) -> Verdict {
    let Some(line) = line else {
        return Verdict::Missing;
    };
    match read(kind, line) {
        Ok(v) if judge(kind, answer, &v) => Verdict::Right,
        Ok(_) => Verdict::Wrong,
        Err(why) => Verdict::Unreadable(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_rates_in_any_unit() {
        // 64 KiB written four ways is the same number of bytes; a rate in KB/s (1024, as the
        // report prints), MB/s or Mb/s lands on the same bytes per second, and a bare rate is
        // KB/s: each reading is judged right against the byte figure.
        let size = Value::Number(65536.0);
        for t in [
            "64 KiB",
            "64KiB",
            "65536",
            "65536 B",
            "0.0625 MiB",
            "64.0 KiB (65536 B)",
        ] {
            assert_eq!(verdict(Kind::Size, &size, Some(t)), Verdict::Right, "{t}");
        }
        let rate = Value::Number(6_400.0 * 1024.0);
        for t in [
            "6400 KB/s",
            "6400",
            "6.5536 MB/s",
            "52.4288 Mb/s",
            "6400 KiB/s",
        ] {
            assert_eq!(verdict(Kind::Rate, &rate, Some(t)), Verdict::Right, "{t}");
        }
    }

    #[test]
    fn wrong_answers_are_refused() {
        // Off by more than 2%, a count off by one, a wrong word, an unreadable unit and a
        // missing line are each told apart.
        let size = Value::Number(65536.0);
        assert_eq!(verdict(Kind::Size, &size, Some("60 KiB")), Verdict::Wrong);
        assert!(matches!(
            verdict(Kind::Size, &size, Some("64 furlongs")),
            Verdict::Unreadable(_)
        ));
        assert_eq!(verdict(Kind::Size, &size, None), Verdict::Missing);
        assert_eq!(
            verdict(Kind::Count, &Value::Number(16.0), Some("17")),
            Verdict::Wrong
        );
        assert_eq!(
            verdict(Kind::Count, &Value::Number(16.0), Some("16.5")),
            Verdict::Wrong
        );
        let words: &[&str] = &["wire", "memory_bus"];
        assert_eq!(
            verdict(Kind::Word(words), &Value::Word("wire"), Some("memory bus")),
            Verdict::Wrong
        );
        assert_eq!(
            verdict(
                Kind::Word(words),
                &Value::Word("memory_bus"),
                Some("Memory Bus")
            ),
            Verdict::Right
        );
    }

    #[test]
    fn labels_are_optional_and_comments_skipped() {
        // `1a.`, `2b:` and `3c)` are labels; a number with a decimal point is not.
        let l = lines("# my answers\n1a. 64 KiB\n\n2b: wire\n3c) 7\n4.17\n");
        assert_eq!(
            l,
            vec![
                (Some("1a".into()), "64 KiB".into()),
                (Some("2b".into()), "wire".into()),
                (Some("3c".into()), "7".into()),
                (None, "4.17".into()),
            ]
        );
    }
}
