//! Each template's answers against the model's own report for the scenario it describes,
//! run here straight through `models::report::run` (not through the quiz's [`Lab`]), so an
//! answer that came from anywhere but the run would differ.

use models::report::{RunOptions, RunReport};

use super::*;

/// The scenario of `spec`, run directly by the model.
fn report(spec: &Spec) -> RunReport {
    let sc = scenarios::load_default(&Overrides {
        preset: Some(spec.preset.into()),
        workload: Some(spec.workload.into()),
        strategies: Some(vec![spec.strategy.into()]),
        seed: None,
        sets: spec.sets.clone(),
    })
    .expect("a template's scenario loads");
    let wr = &sc.runs[0];
    let mut world = sc.target.world.clone();
    world.seed = sc.seed;
    models::report::run(
        &world,
        &wr.workload,
        wr.strategies[0],
        RunOptions::default(),
    )
    .expect("the strategy applies")
}

fn lab() -> Lab {
    Lab {
        runner: Runner {
            progress: false,
            ..Runner::default()
        },
    }
}

/// Problems of `topic` from several quiz seeds (question 0 of each).
fn drawn(topic: &str, seeds: u64) -> Vec<Problem> {
    let t = template(topic).expect("a topic");
    (0..seeds).map(|s| (t.make)(&mut Draw::new(s, 0))).collect()
}

/// Checks every drawn problem of `topic` with `expect`, which recomputes the answers from
/// direct runs, and that the answers are not all the same (they depend on the parameters).
fn check(topic: &str, seeds: u64, expect: impl Fn(&Problem) -> Vec<Value>) {
    let lab = lab();
    let mut seen = Vec::new();
    for p in drawn(topic, seeds) {
        let got = p.solve(&lab).answers;
        let want = expect(&p);
        assert_eq!(got, want, "{topic}: {}", p.text);
        if !seen.contains(&got) {
            seen.push(got);
        }
    }
    assert!(
        seen.len() > 1,
        "{topic}: every drawn problem had the same answers {seen:?}"
    );
}

#[test]
fn copies_answers_are_the_runs_figures() {
    // CPU copy bytes over payload, bus bytes per payload byte, and the stated bus capacity
    // over the latter, all read from the direct run.
    check("copies", 6, |p| {
        let r = report(&p.specs[0]);
        let bus: u64 = p.specs[0]
            .sets
            .iter()
            .find_map(|s| s.strip_prefix("target.memory_bus="))
            .and_then(|v| scenarios::units::parse_rate(v).ok())
            .expect("the problem sets the bus");
        vec![
            Value::Number(r.copies.cpu_copy_bytes as f64 / r.payload_bytes as f64),
            Value::Number(r.bus_bytes_per_payload_byte),
            Value::Number(bus as f64 / r.bus_bytes_per_payload_byte),
        ]
    });
}

#[test]
fn bottleneck_answers_are_the_runs_figures() {
    check("bottleneck", 8, |p| {
        let r = report(&p.specs[0]);
        vec![
            Value::Word(r.bottleneck.name()),
            Value::Number(r.throughput_bytes_per_sec),
        ]
    });
}

#[test]
fn every_bottleneck_name_is_an_accepted_word() {
    // A run whose bottleneck were missing from the word list could not be graded; the
    // list must hold every resource and every stall the model can name.
    use models::report::Bottleneck as B;
    let all = [B::Wire, B::MemoryBus, B::Disk, B::Nic, B::Cpu]
        .into_iter()
        .chain(models::world::Cause::ALL.into_iter().map(B::Stall));
    for b in all {
        assert!(bottleneck::NAMES.contains(&b.name()), "{}", b.name());
    }
}

#[test]
fn rewrite_answers_are_the_runs_figures() {
    check("rewrite", 8, |p| {
        let r = report(&p.specs[0]);
        vec![
            Value::Number(r.integrity.corrupt_bytes as f64),
            Value::Number((r.faults.cow + r.faults.loan_break) as f64),
        ]
    });
}

#[test]
fn crossover_answer_is_the_first_size_where_the_runs_cross() {
    // The runs come in (zero-copy, copy) pairs per write size; the answer is the size of
    // the first pair whose zero-copy run reports the higher throughput.
    check("crossover", 4, |p| {
        let first = p.specs.chunks(2).find_map(|pair| {
            let zc = report(&pair[0]);
            let copy = report(&pair[1]);
            let size = pair[0]
                .sets
                .iter()
                .find_map(|s| s.strip_prefix("workload.write_size="))
                .and_then(|v| scenarios::units::parse_size(v).ok())
                .expect("a write size");
            (zc.throughput_bytes_per_sec > copy.throughput_bytes_per_sec).then_some(size)
        });
        vec![Value::Number(first.unwrap_or(0) as f64)]
    });
}

#[test]
fn flip_answers_are_the_runs_figures() {
    check("flip", 8, |p| {
        let r = report(&p.specs[0]);
        vec![
            Value::Number(r.outcome.page_flips as f64),
            Value::Number(r.outcome.flip_fallbacks as f64),
            Value::Number(r.copies.cpu_copy_bytes as f64),
        ]
    });
}

#[test]
fn mmap_fault_answers_are_the_runs_figures() {
    check("mmap-faults", 6, |p| {
        let r = report(&p.specs[0]);
        vec![
            Value::Number(r.faults.minor as f64),
            Value::Number(r.vm.vma_lookups as f64),
        ]
    });
}

#[test]
fn straddle_answers_are_the_runs_figures() {
    // Wrong bytes reported means the first file's bytes went out past the first mapping.
    check("straddle", 6, |p| {
        let r = report(&p.specs[0]);
        let whose = if r.integrity.corrupt_bytes > 0 {
            "first"
        } else {
            "second"
        };
        vec![
            Value::Word(whose),
            Value::Number(r.integrity.corrupt_bytes as f64),
            Value::Number(r.vm.vma_lookups as f64),
        ]
    });
}

#[test]
fn shared_page_answers_are_the_runs_figures() {
    check("shared-page", 8, |p| {
        let r = report(&p.specs[0]);
        vec![
            Value::Number(r.copies.cpu_copy_bytes as f64),
            Value::Number((r.faults.cow + r.faults.loan_break) as f64),
        ]
    });
}

#[test]
fn question_i_does_not_depend_on_the_count() {
    // Each question draws from its own stream: the first three questions of a five-question
    // quiz are the three questions of a three-question quiz.
    let five = problems(3, 5, &[]);
    let three = problems(3, 3, &[]);
    for (a, b) in five.iter().zip(&three) {
        assert_eq!((a.topic, &a.text, &a.specs), (b.topic, &b.text, &b.specs));
    }
}

#[test]
fn explanations_quote_the_runs_narration() {
    // The why paragraph is built from the run: it quotes at least one narration line the
    // run printed (here: the loan-break line of a rewrite under page-loan).
    let lab = lab();
    let p = (0..64)
        .map(|s| (rewrite::TEMPLATE.make)(&mut Draw::new(s, 0)))
        .find(|p| p.specs[0].strategy == "page-loan")
        .expect("some seed draws page-loan");
    let why = p.solve(&lab).why;
    assert!(why.contains("The run's narration: \""), "{why}");
    assert!(why.contains("loan breaks"), "{why}");
}
