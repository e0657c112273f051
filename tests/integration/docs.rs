//! The pages check themselves: every command the README and the lesson book (`docs/book/src/`)
//! show is run, and what they print must match the page.
//!
//! What a page may hold:
//! - a ```` ```console ```` block: `$ zcsim ARGS` lines, each followed by the output it must
//!   print (standard output, then standard error). In the expected text a line `...` stands
//!   for any number of lines and `[..]` for any text within a line (as trycmd writes them);
//!   use them for what legitimately varies. A last line `? N` expects exit status N (default
//!   0). Lines are compared without trailing spaces.
//! - a ```` ```sh ```` block: a list of commands without output; each line that starts with
//!   `zcsim` or is `cargo run --release [-- ARGS]` (the same binary) must run and exit 0.
//!   `zcsim tui` needs a terminal, so there it must get as far as saying so (exit 2), which it
//!   does only after checking its flags and scenario. Other lines (`cargo test`, `cargo
//!   bench`, `time ...`, fuzzing) are build and benchmark commands and are not run here.
//! - a TUI capture: an HTML comment `<!-- tui WxH: ARGS; keys: KEYS; until: KIND -->` right
//!   before a fenced block. The timeline for `zcsim tui ARGS` is drawn on a W×H test
//!   terminal after pressing KEYS (characters, as typed) and pressing `n` until the cursor
//!   sits on an event of kind KIND, in the order the fields are written; the block must be that screen.
//!
//! Commands run in a scratch directory holding the files of `tests/docs/` (`bad.toml`,
//! `my-scenario.toml`), so files they write land there.
//!
//! When the model changes on purpose, regenerate the pages with
//! `DOCS=overwrite cargo test --test integration docs` (`TRYCMD=overwrite` works too): blocks
//! that no longer match are rewritten with what the code prints now (a rewritten block loses
//! its `...` elisions; put them back where output varies), then review the diff.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The pages checked: the README and every chapter of the book.
fn pages() -> Vec<PathBuf> {
    let mut v = vec![Path::new(ROOT).join("README.md")];
    let dir = Path::new(ROOT).join("docs/book/src");
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("docs/book/src exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    chapters.sort();
    v.extend(chapters);
    v
}

fn overwrite() -> bool {
    ["DOCS", "TRYCMD"]
        .iter()
        .any(|k| std::env::var(k).is_ok_and(|v| v == "overwrite"))
}

/// A fenced block of a page.
struct Block {
    /// Line index of the opening fence.
    open: usize,
    /// Line index of the closing fence.
    close: usize,
    lang: String,
    body: Vec<String>,
    /// The `<!-- tui ... -->` comment right before the fence, without its markers.
    tui: Option<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if let Some(lang) = lines[i].strip_prefix("```") {
            let close = (i + 1..lines.len())
                .find(|&j| lines[j].trim_end() == "```")
                .unwrap_or_else(|| panic!("unclosed fence at line {}", i + 1));
            let tui = i
                .checked_sub(1)
                .map(|p| lines[p].trim())
                .and_then(|l| l.strip_prefix("<!-- tui "))
                .and_then(|l| l.strip_suffix("-->"))
                .map(|l| l.trim().to_owned());
            out.push(Block {
                open: i,
                close,
                lang: lang.trim().to_owned(),
                body: lines[i + 1..close].iter().map(|l| l.to_string()).collect(),
                tui,
            });
            i = close + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// Whether `actual` fits `expected`, with `...` lines and `[..]` in-line wildcards.
fn fits(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e.trim() == "..." => {
            (0..=actual.len()).any(|k| fits(rest, &actual[k..]))
        }
        Some((e, rest)) => {
            !actual.is_empty()
                && line_fits(e.trim_end(), actual[0].trim_end())
                && fits(rest, &actual[1..])
        }
    }
}

fn line_fits(expected: &str, actual: &str) -> bool {
    let mut parts = expected.split("[..]");
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (k, p) in parts.iter().enumerate() {
        if k == parts.len() - 1 {
            return rest.ends_with(p);
        }
        match rest.find(p) {
            Some(at) => rest = &rest[at + p.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Splits a command line into words, honouring single and double quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                any = false;
            }
            (None, c) => cur.push(c),
        }
    }
    if any || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A scratch directory with the fixtures of `tests/docs/`.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zcsim-docs-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    for e in std::fs::read_dir(Path::new(ROOT).join("tests/docs")).expect("tests/docs") {
        let p = e.expect("an entry").path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).expect("a fixture copied");
    }
    dir
}

/// Runs `zcsim args` in `dir`: exit status and stdout followed by stderr, as lines.
fn run(args: &[String], dir: &Path) -> (i32, Vec<String>) {
    let child = {
        let _one_at_a_time = super::SPAWN.lock().unwrap_or_else(|e| e.into_inner());
        Command::new(env!("CARGO_BIN_EXE_zcsim"))
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the zcsim binary runs")
    };
    let out = child.wait_with_output().expect("zcsim ends");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let lines = text.lines().map(|l| l.trim_end().to_owned()).collect();
    (out.status.code().unwrap_or(-1), lines)
}

/// The zcsim arguments of a command-list line, or `None` for a line this test does not run.
fn zcsim_args(line: &str) -> Option<Vec<String>> {
    let line = line.split(" #").next().unwrap_or("").trim();
    // Only the zcsim part of a pipeline or redirection runs; its output is not judged.
    let line = line.split(['|', '>']).next().unwrap_or("").trim();
    let w = words(line);
    match w.first().map(String::as_str) {
        Some("zcsim") => Some(w[1..].to_vec()),
        Some("cargo") if w.get(1..3) == Some(&["run".into(), "--release".into()]) => {
            match w.get(3).map(String::as_str) {
                None => Some(Vec::new()),
                Some("--") => Some(w[4..].to_vec()),
                Some(_) => None,
            }
        }
        _ => None,
    }
}

/// A place on a page that no longer matches, and what the code prints now.
struct Mismatch {
    page: PathBuf,
    /// Line range of the page the new text replaces (inside a fence).
    lines: std::ops::Range<usize>,
    now: Vec<String>,
    what: String,
}

/// Checks every console block and TUI capture of `page`.
fn check_page(page: &Path, dir: &Path, out: &mut Vec<Mismatch>) {
    let text = std::fs::read_to_string(page).expect("a page");
    for b in blocks(&text) {
        if let Some(spec) = &b.tui {
            let now = tui_screen(spec);
            if !fits(&b.body, &now) {
                out.push(Mismatch {
                    page: page.to_owned(),
                    lines: b.open + 1..b.close,
                    now,
                    what: format!("TUI capture `{spec}`"),
                });
            }
        } else if b.lang == "console" {
            check_console(page, &b, dir, out);
        }
    }
}

fn check_console(page: &Path, b: &Block, dir: &Path, out: &mut Vec<Mismatch>) {
    // Each command with its expected lines: (line index of `$`, command, expected).
    let mut cmds: Vec<(usize, String, Vec<String>)> = Vec::new();
    for (k, l) in b.body.iter().enumerate() {
        match l.strip_prefix("$ ") {
            Some(c) => cmds.push((b.open + 1 + k, c.to_owned(), Vec::new())),
            None => cmds
                .last_mut()
                .unwrap_or_else(|| {
                    panic!(
                        "{}:{}: a console block starts with `$ `",
                        page.display(),
                        b.open + 1
                    )
                })
                .2
                .push(l.clone()),
        }
    }
    for (k, (at, cmd, mut expected)) in cmds.iter().cloned().enumerate() {
        let w = words(&cmd);
        assert_eq!(
            w.first().map(String::as_str),
            Some("zcsim"),
            "{}:{}: console commands run zcsim",
            page.display(),
            at + 1
        );
        let want_code = match expected.last().and_then(|l| l.strip_prefix("? ")) {
            Some(c) => {
                let c = c.trim().parse().expect("`? N` takes a number");
                expected.pop();
                c
            }
            None => 0,
        };
        let (code, lines) = run(&w[1..], dir);
        let end = cmds.get(k + 1).map_or(b.close, |n| n.0);
        let mut now = lines.clone();
        if code != 0 {
            now.push(format!("? {code}"));
        }
        if code != want_code || !fits(&expected, &lines) {
            out.push(Mismatch {
                page: page.to_owned(),
                lines: at + 1..end,
                now,
                what: format!("`{cmd}` (exit {code}, expected {want_code})"),
            });
        }
    }
}

/// The screen the capture comment `spec` describes.
fn tui_screen(spec: &str) -> Vec<String> {
    let (size, rest) = spec.split_once(':').expect("`WxH: ARGS`");
    let (w, h) = size.trim().split_once('x').expect("WxH");
    let (w, h): (u16, u16) = (w.parse().expect("a width"), h.parse().expect("a height"));
    let mut fields = rest.split(';').map(str::trim);
    let args = words(fields.next().unwrap_or(""));
    // `keys` and `until` steps, applied in the order written.
    let steps: Vec<(&str, String)> = fields
        .map(|f| match f.split_once(':') {
            Some((k @ ("keys" | "until"), v)) => (k, v.trim().to_owned()),
            _ => panic!("unknown TUI capture field `{f}`"),
        })
        .collect();
    let mut o = scenarios::Overrides::default();
    let mut scenario = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut v = || it.next().expect("a flag's value").clone();
        match a.as_str() {
            "--preset" => o.preset = Some(v()),
            "--workload" => o.workload = Some(v()),
            "--strategies" => o.strategies = Some(v().split(',').map(str::to_owned).collect()),
            "--set" => o.sets.push(v()),
            "--seed" => o.seed = Some(v().parse().expect("a seed")),
            "--scenario" => scenario = Some(v()),
            other => panic!("the TUI capture takes scenario flags only, not `{other}`"),
        }
    }
    let sc = match scenario {
        Some(p) => scenarios::load_file(&Path::new(ROOT).join(p).to_string_lossy(), &o),
        None => scenarios::load_default(&o),
    }
    .expect("the capture's scenario loads");
    let wr = &sc.runs[0];
    let mut world = sc.target.world.clone();
    world.seed = sc.seed;
    let runs = wr
        .strategies
        .iter()
        .map(|st| {
            let (r, t) = tui::data::record(&world, &wr.workload, *st, 1_000_000);
            tui::RunView::new(st.id().to_owned(), r, t)
        })
        .collect();
    let title = format!("{} on {}", wr.workload.summary(), sc.target.name);
    let mut app = tui::App::new(title, runs).expect("runs to show");
    for (step, value) in steps {
        if step == "keys" {
            press(&mut app, &value);
        } else {
            let mut n = 0;
            while app.run().events.get(app.cursor).map(|e| e.kind) != Some(value.as_str()) {
                app.update(tui::Action::NextEvent);
                n += 1;
                assert!(n < 1_000_000, "no `{value}` event in the trace");
            }
        }
    }
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    t.draw(|f| tui::ui::draw(f, &app)).expect("a frame");
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| {
            let mut line = String::new();
            for x in 0..w {
                line.push_str(buf[(x, y)].symbol());
            }
            line.trim_end().to_owned()
        })
        .collect()
}

/// Presses each key of `keys` (as typed; capitals with Shift).
fn press(app: &mut tui::App, keys: &str) {
    for c in keys.chars().filter(|c| !c.is_whitespace()) {
        let mods = if c.is_ascii_uppercase() {
            KeyModifiers::SHIFT
        } else {
            KeyModifiers::NONE
        };
        let action = tui::action_for(KeyEvent::new(KeyCode::Char(c), mods))
            .unwrap_or_else(|| panic!("no action for key `{c}`"));
        app.update(action);
    }
}

/// Rewrites the mismatched places with what the code prints now (bottom up, so earlier
/// line numbers stay right).
fn rewrite(mut ms: Vec<Mismatch>) {
    ms.sort_by(|a, b| (&a.page, b.lines.start).cmp(&(&b.page, a.lines.start)));
    let mut pages: Vec<PathBuf> = ms.iter().map(|m| m.page.clone()).collect();
    pages.dedup();
    for p in pages {
        let text = std::fs::read_to_string(&p).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        for m in ms.iter().filter(|m| m.page == p) {
            lines.splice(m.lines.clone(), m.now.iter().cloned());
        }
        let mut new = lines.join("\n");
        new.push('\n');
        std::fs::write(&p, new).unwrap();
    }
}

fn report(ms: &[Mismatch]) -> String {
    ms.iter()
        .map(|m| {
            format!(
                "{}:{}: {} prints now:\n{}\n",
                m.page.display(),
                m.lines.start,
                m.what,
                m.now.join("\n")
            )
        })
        .collect()
}

#[test]
fn pages_print_what_the_code_prints() {
    // Every console block's commands are run and must print what the page shows (with its
    // elisions), and every TUI capture must be the screen the timeline draws: a change to
    // the model or the output that the pages do not follow fails here.
    let dir = scratch("console");
    let mut ms = Vec::new();
    for p in pages() {
        check_page(&p, &dir, &mut ms);
    }
    std::fs::remove_dir_all(&dir).ok();
    if overwrite() {
        rewrite(ms);
        return;
    }
    assert!(
        ms.is_empty(),
        "{} places differ (regenerate with DOCS=overwrite):\n{}",
        ms.len(),
        report(&ms)
    );
}

#[test]
fn command_lists_run() {
    // Each zcsim command of a ```sh list runs and exits 0 (tui: gets as far as asking for a
    // terminal, after its flags and scenario were accepted).
    let dir = scratch("lists");
    let mut failed = Vec::new();
    for p in pages() {
        let text = std::fs::read_to_string(&p).unwrap();
        for b in blocks(&text).iter().filter(|b| b.lang == "sh") {
            // Join `\` continuations.
            let mut joined: Vec<(usize, String)> = Vec::new();
            let mut pending = false;
            for (k, l) in b.body.iter().enumerate() {
                let part = l.trim_end().trim_end_matches('\\').trim().to_owned();
                if pending {
                    let last = joined.last_mut().unwrap();
                    last.1.push(' ');
                    last.1.push_str(&part);
                } else {
                    joined.push((b.open + 2 + k, part));
                }
                pending = l.trim_end().ends_with('\\');
            }
            for (at, line) in joined {
                let Some(args) = zcsim_args(&line) else {
                    continue;
                };
                let (code, out) = run(&args, &dir);
                let tui = args.first().is_some_and(|a| a == "tui");
                let ok = if tui {
                    code == 2 && out.iter().any(|l| l.contains("needs a terminal"))
                } else {
                    code == 0
                };
                if !ok {
                    failed.push(format!(
                        "{}:{at}: `{line}` exited {code}:\n{}",
                        p.display(),
                        out.iter()
                            .rev()
                            .take(5)
                            .rev()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("\n")
                    ));
                }
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn the_matcher_elides_and_refuses() {
    // `...` takes any number of lines (none included), `[..]` any text in a line; anything
    // else must match exactly, so a changed figure is caught.
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(fits(&v(&["a", "...", "d"]), &v(&["a", "b", "c", "d"])));
    assert!(fits(&v(&["a", "...", "b"]), &v(&["a", "b"])));
    assert!(fits(
        &v(&["took [..] s, [..] runs"]),
        &v(&["took 1.2 s, 3 runs"])
    ));
    assert!(!fits(&v(&["copy 6494 KB/s"]), &v(&["copy 6495 KB/s"])));
    assert!(!fits(&v(&["a", "b"]), &v(&["a", "b", "c"])));
    assert!(!fits(&v(&["took [..] s"]), &v(&["took 1.2 ms, more"])));
}
