//! `zcsim quiz` seen from outside: OSTEP's conventions, determinism, topics and grading.

use super::zcsim;

fn stdout(args: &[&str]) -> String {
    let out = zcsim(args);
    assert!(
        out.status.success(),
        "zcsim {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

#[test]
fn compute_prints_the_same_problems_with_answers() {
    // Every line of `-s 1` (but the compute echo and the closing hint) appears, in order, in
    // `-s 1 -c`, which adds answer lines: the same problems, the second with answers.
    let plain = stdout(&["quiz", "-s", "1"]);
    let computed = stdout(&["quiz", "-s", "1", "-c"]);
    assert!(plain.starts_with("ARG seed 1\n"), "{plain}");
    assert!(computed.contains("Answers:"));
    let hint = plain.find("\nWork out the answers").expect("the hint");
    let mut rest = computed.lines();
    for line in plain[..hint].lines() {
        let want = line.replace("ARG compute false", "ARG compute true");
        assert!(
            rest.any(|l| l == want),
            "`{want}` missing from -c output (or out of order)"
        );
    }
}

#[test]
fn same_seed_same_bytes_different_seeds_differ() {
    // Two runs of one seed are byte-identical, answers included; seeds 0 to 3 give four
    // different problem sets.
    let a = stdout(&["quiz", "-s", "7", "-n", "3", "-c"]);
    let b = stdout(&["quiz", "-s", "7", "-n", "3", "-c"]);
    assert_eq!(a, b);
    let sets: Vec<String> = (0..4)
        .map(|s| {
            let out = stdout(&["quiz", "-s", &s.to_string()]);
            out.lines().skip(1).collect::<Vec<_>>().join("\n")
        })
        .collect();
    for i in 0..sets.len() {
        for j in i + 1..sets.len() {
            assert_ne!(sets[i], sets[j], "seeds {i} and {j} gave the same problems");
        }
    }
}

#[test]
fn every_topic_is_reachable_with_t() {
    // `--list` names every topic; `-t TOPIC` gives only questions of that topic.
    let list = stdout(&["quiz", "--list"]);
    let topics: Vec<&str> = list.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert!(topics.len() >= 8, "{list}");
    for t in topics {
        let out = stdout(&["quiz", "-t", t, "-n", "2"]);
        let heads: Vec<&str> = out.lines().filter(|l| l.starts_with("Question")).collect();
        assert_eq!(heads.len(), 2, "{t}: {out}");
        for h in heads {
            assert!(h.ends_with(&format!("({t})")), "{t}: {h}");
        }
    }
}

#[test]
fn an_unknown_topic_is_a_flag_error() {
    let out = zcsim(&["quiz", "-t", "copies,nonsense"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--topic nonsense: unknown topic; allowed: copies"),
        "{err}"
    );
}

/// The quiz as JSON, with answers.
fn answers(args: &[&str]) -> serde_json::Value {
    let mut a = vec!["quiz", "-c", "--format", "json"];
    a.extend_from_slice(args);
    serde_json::from_str(&stdout(&a)).expect("JSON")
}

#[test]
fn grade_accepts_other_units_and_explains_wrong_answers() {
    // The right answers, rewritten in other units (sizes in KiB, rates in MB/s, plain
    // numbers as computed), all pass and exit 0. Then one answer made 10% off fails with
    // exit 1, and the output says which part, what the run gives and why (the same
    // paragraph -c prints).
    let args = ["-s", "4", "-n", "6", "-t", "copies,shared-page,flip"];
    let quiz = answers(&args);
    let mut lines = Vec::new();
    let mut first_why = None;
    for q in quiz["questions"].as_array().unwrap() {
        first_why.get_or_insert_with(|| q["why"].as_str().unwrap().to_owned());
        for p in q["parts"].as_array().unwrap() {
            let label = p["label"].as_str().unwrap();
            let line = match (p["kind"].as_str(), &p["answer"]) {
                (Some("size"), serde_json::Value::Number(n)) => {
                    format!("{} KiB", n.as_f64().unwrap() / 1024.0)
                }
                (Some("rate"), serde_json::Value::Number(n)) => {
                    format!("{} MB/s", n.as_f64().unwrap() / 1e6)
                }
                (_, serde_json::Value::Number(n)) => n.to_string(),
                (_, serde_json::Value::String(w)) => w.clone(),
                other => panic!("{label}: {other:?}"),
            };
            lines.push(line);
        }
    }
    let dir = std::env::temp_dir().join(format!("zcsim-quiz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("answers.txt");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let path = file.to_str().unwrap();
    let mut g = args.to_vec();
    g.extend(["--grade", path]);
    let mut cmd = vec!["quiz"];
    cmd.extend(&g);
    let out = zcsim(&cmd);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("{0} of {0} right", lines.len())),
        "{text}"
    );

    // The first part of question 1 made wrong: 10% more than the answer.
    let q1 = &quiz["questions"][0]["parts"][0];
    let off = q1["answer"].as_f64().unwrap() * 1.1 + 1.0;
    lines[0] = off.to_string();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = zcsim(&cmd);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("1a. WRONG: you wrote"), "{text}");
    assert!(
        text.contains(&format!("the run gives {}", q1["shown"].as_str().unwrap())),
        "{text}"
    );
    // The explanation is the run's paragraph (its first words survive the wrapping).
    let why = first_why.unwrap();
    let start: String = why.split(' ').take(6).collect::<Vec<_>>().join(" ");
    assert!(text.contains(&format!("Why: {start}")), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_answer_file_is_a_flag_error() {
    // An endless file stops at the size limit, a directory and a missing file are named:
    // each exits 2 with the flag and the path, none hangs or panics.
    for (path, says) in [
        ("/dev/zero", "is larger than 1 MiB"),
        ("/", "cannot be read"),
        ("/no/such/answers.txt", "cannot be read"),
    ] {
        let out = zcsim(&["quiz", "--grade", path]);
        assert_eq!(out.status.code(), Some(2), "{path}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("--grade {path}: {says}")), "{err}");
    }
}
