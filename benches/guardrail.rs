//! The guardrail's evaluation (issue 14): recall on messages that must escalate and false alarms
//! on messages that must not, for words as written, for stems, and for stems with meaning (the
//! embedding model), on the tuning part and the held-out parts of the labelled sets; the curve
//! the threshold was chosen from; the time per message; the model's load time and memory.
//!
//! Rerun: `cargo bench --features ssr --bench guardrail` (the model comes from
//! FLARE_EMBEDDING_MODEL or the pinned copy `scripts/test` installs).

use flare::rules::{Lexical, Policy, compile};
use flare::server::demo::{
    CONTRACT_REVIEWER_DESCRIPTION, CUSTOMER_SUPPORT_DESCRIPTION, SALES_OUTREACH_DESCRIPTION,
};
use flare::server::embedding::{Embedder, model_dir};
use flare::server::runtime::rules_text;
use flare::server::runtime::semantic::{self, Prepared, SemanticMatch, THRESHOLD};
use std::collections::HashMap;
use std::time::{Duration, Instant};

struct Case {
    agent: String,
    escalate: bool,
    message: String,
    part: Part,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Part {
    /// `guardrail-eval.tsv` but its every third message: tuned on from the start.
    Tuning,
    /// `guardrail-eval.tsv`'s every third message: held out until it was measured once
    /// (7.7 % false alarms) and its errors read; tuned on since.
    FirstHeldOut,
    /// `guardrail-eval-fresh.tsv`, written after that: held out until 2026-11-29, when it had
    /// been measured and its errors read (nothing was tuned on it before then).
    Fresh,
    /// `guardrail-eval-second.tsv`, written on 2026-11-29 before any further tuning: held
    /// out, never tuned on.
    Second,
}

impl Part {
    /// What the threshold was chosen from (all of `guardrail-eval.tsv`).
    fn tunable(self) -> bool {
        matches!(self, Part::Tuning | Part::FirstHeldOut)
    }
}

/// The labelled sets. The first held-out part was the 3rd, 6th, 9th... message of each agent
/// and label, so it had its share of both labels.
fn cases() -> Vec<Case> {
    let mut out = parse(include_str!("../tests/data/guardrail-eval.tsv"), |n| {
        if n.is_multiple_of(3) {
            Part::FirstHeldOut
        } else {
            Part::Tuning
        }
    });
    out.extend(parse(
        include_str!("../tests/data/guardrail-eval-fresh.tsv"),
        |_| Part::Fresh,
    ));
    out.extend(parse(
        include_str!("../tests/data/guardrail-eval-second.tsv"),
        |_| Part::Second,
    ));
    out
}

fn parse(text: &str, part: impl Fn(usize) -> Part) -> Vec<Case> {
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            let (agent, expect, message) = (
                f.next().unwrap().to_string(),
                f.next().unwrap().to_string(),
                f.next().expect("three columns").to_string(),
            );
            assert!(matches!(expect.as_str(), "escalate" | "fine"), "{l}");
            let n = seen.entry((agent.clone(), expect.clone())).or_default();
            *n += 1;
            Case {
                part: part(*n),
                escalate: expect == "escalate",
                agent,
                message,
            }
        })
        .collect()
}

fn vm_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Recall and false-alarm rate of `verdicts` (one per case) over the cases `part` selects.
fn rates(
    cases: &[Case],
    verdicts: &[bool],
    part: impl Fn(&Case) -> bool,
) -> (f64, f64, usize, usize) {
    let (mut hit, mut must, mut alarm, mut fine) = (0, 0, 0, 0);
    for (c, v) in cases.iter().zip(verdicts) {
        if !part(c) {
            continue;
        }
        if c.escalate {
            must += 1;
            hit += *v as usize;
        } else {
            fine += 1;
            alarm += *v as usize;
        }
    }
    (
        hit as f64 / must.max(1) as f64,
        alarm as f64 / fine.max(1) as f64,
        must,
        fine,
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    // SAFETY: first thing in main, before any other thread.
    unsafe { flare::server::embedding::one_core_per_message() };
    println!("guardrail evaluation (rerun: cargo bench --features ssr --bench guardrail)");
    let cases = cases();
    let policies: HashMap<&str, Policy> = [
        ("support", CUSTOMER_SUPPORT_DESCRIPTION),
        ("contract", CONTRACT_REVIEWER_DESCRIPTION),
        ("sales", SALES_OUTREACH_DESCRIPTION),
    ]
    .into_iter()
    .map(|(a, d)| (a, compile(d)))
    .collect();
    let policy = |c: &Case| &policies[c.agent.as_str()];
    let lexical = |mode: Lexical| -> Vec<bool> {
        cases
            .iter()
            .map(|c| {
                !policy(c)
                    .evaluate_lexical(&rules_text(&c.message), mode)
                    .is_empty()
            })
            .collect()
    };
    let words = lexical(Lexical::Words);
    let stems = lexical(Lexical::Stems);

    let dir = model_dir(std::env::var("FLARE_EMBEDDING_MODEL").ok().as_deref());
    let rss_before = vm_rss_kb();
    let started = Instant::now();
    let embedder = match Embedder::load(&dir) {
        Ok(e) => e,
        Err(e) => {
            println!("{e}: only the lexical columns can be computed");
            print_table(&cases, &[("words", &words), ("stems", &stems)]);
            std::process::exit(1);
        }
    };
    let load = started.elapsed();
    let rss_model = vm_rss_kb().saturating_sub(rss_before);
    let prepared = prepare_all(&embedder, &policies);
    let prepare_time = started.elapsed() - load;

    let (matches, times) = read_all(&embedder, &cases, &policies, &prepared);
    let with_meaning = |threshold: f32| verdicts(&stems, &matches, |m| m.escalates_at(threshold));
    let meaning = with_meaning(THRESHOLD);
    print_table(
        &cases,
        &[
            ("words", &words),
            ("stems", &stems),
            ("stems + meaning", &meaning),
        ],
    );

    // What it gets wrong, so a reader can judge the misses (the held-out ones are listed to be
    // read, never to tune on).
    for (name, part) in PARTS {
        println!("\nwrong on the {name} (stems + meaning):");
        for ((c, v), m) in cases.iter().zip(&meaning).zip(&matches) {
            if c.part != *part || *v == c.escalate {
                continue;
            }
            let why = m
                .first()
                .map(|m| {
                    format!(
                        "closest: {:?} {:.2} (everyday {:.2})",
                        m.topic, m.closeness, m.everyday
                    )
                })
                .unwrap_or_default();
            let kind = if c.escalate { "missed" } else { "false alarm" };
            println!("  {kind:>11} [{}] {:?}  {why}", c.agent, c.message);
        }
    }

    println!(
        "\nthe threshold's curve (stems + meaning; chosen on guardrail-eval.tsv, never the fresh set):"
    );
    println!(
        "{:>10} {:>14} {:>14}",
        "threshold", "tune recall", "tune alarms"
    );
    for i in 0..=8 {
        let th = 0.30 + 0.05 * i as f32;
        let (r, a, _, _) = rates(&cases, &with_meaning(th), |c| c.part.tunable());
        let mark = if (th - THRESHOLD).abs() < 1e-4 {
            "  <- THRESHOLD"
        } else {
            ""
        };
        println!("{th:>10.2} {:>13.1}% {:>13.1}%{mark}", r * 100.0, a * 100.0);
    }

    println!(
        "\nthreshold x margin over the everyday examples (tunable parts: recall / false alarms):"
    );
    let margins = [0.0f32, 0.02, 0.04, 0.06, 0.08, 0.10];
    print!("{:>10}", "");
    for m in margins {
        print!(" {:>14}", format!("margin {m:.2}"));
    }
    println!();
    for i in 0..=6 {
        let th = 0.35 + 0.025 * i as f32;
        print!("{th:>10.3}");
        for margin in margins {
            let v = verdicts(&stems, &matches, |m| m.escalates_with(th, margin));
            let (r, a, _, _) = rates(&cases, &v, |c| c.part.tunable());
            print!(" {:>14}", format!("{:.1} / {:.1}", r * 100.0, a * 100.0));
        }
        println!();
    }

    print_times("words + meaning", &cases, &times);
    long_messages(
        &embedder,
        &cases,
        &policies["support"],
        &prepared["support"],
    );
    println!(
        "\nmodel: {} loaded in {} ms, {} MB resident; the three Descriptions prepared in {} ms",
        dir.display(),
        load.as_millis(),
        rss_model / 1024,
        prepare_time.as_millis()
    );

    // A static copy of the model, as the route to the speed target for long messages (the
    // model itself costs ~10 GFLOP for 2 KB). Measured beside the model; Flare does not use it.
    println!("\n== a static copy of the model (distilled here; not used by Flare) ==");
    let started = Instant::now();
    let distilled = embedder.distil().expect("distil");
    println!("distilled in {:.1} s", started.elapsed().as_secs_f64());
    let prepared_static = prepare_all(&distilled, &policies);
    let (static_matches, static_times) = read_all(&distilled, &cases, &policies, &prepared_static);
    let static_at =
        |threshold: f32| verdicts(&stems, &static_matches, |m| m.escalates_at(threshold));
    // Chosen by the model's rule: the lowest threshold whose false alarms on the parts the
    // model's threshold was chosen from are at the floor the words set.
    let (_, floor, _, _) = rates(&cases, &stems, |c| c.part.tunable());
    let sweep: Vec<f32> = (0..=16).map(|i| 0.20 + 0.05 * i as f32).collect();
    // As a screen in front of the model (only what it passes is read by the model), it would
    // have to keep every message the model escalates and pass few of the others: "keeps" is
    // the share of the model's escalations on meaning the copy is that close to a topic, and
    // "passes" the share of fine messages it is.
    let by_model: Vec<bool> = matches
        .iter()
        .map(|m| m.iter().any(|m| m.escalates()))
        .collect();
    let screen = |th: f32| -> (f64, f64) {
        let (mut kept, mut hits, mut passed, mut fine) = (0, 0, 0, 0);
        for ((c, m), s) in cases.iter().zip(&by_model).zip(&static_matches) {
            let close = s.iter().any(|s| s.closeness >= th);
            if *m {
                hits += 1;
                kept += close as usize;
            }
            if !c.escalate {
                fine += 1;
                passed += close as usize;
            }
        }
        (kept as f64 / hits as f64, passed as f64 / fine as f64)
    };
    println!(
        "{:>10} {:>14} {:>14} {:>16} {:>16} {:>14} {:>14}",
        "threshold",
        "tune recall",
        "tune alarms",
        "second recall",
        "second alarms",
        "screen keeps",
        "screen passes"
    );
    let mut chosen = None;
    for &th in &sweep {
        let v = static_at(th);
        let (r, a, _, _) = rates(&cases, &v, |c| c.part.tunable());
        let (r2, a2, _, _) = rates(&cases, &v, |c| c.part == Part::Second);
        if chosen.is_none() && a <= floor + 1e-9 {
            chosen = Some(th);
        }
        let (keeps, passes) = screen(th);
        println!(
            "{th:>10.2} {:>13.1}% {:>13.1}% {:>15.1}% {:>15.1}% {:>13.1}% {:>13.1}%",
            r * 100.0,
            a * 100.0,
            r2 * 100.0,
            a2 * 100.0,
            keeps * 100.0,
            passes * 100.0
        );
    }
    let chosen = chosen.unwrap_or(*sweep.last().unwrap());
    println!("static threshold chosen on guardrail-eval.tsv: {chosen:.2}");
    print_table(
        &cases,
        &[
            ("stems", &stems),
            ("stems + meaning", &meaning),
            ("stems + static", &static_at(chosen)),
        ],
    );
    print_times("static copy", &cases, &static_times);
    long_messages(
        &distilled,
        &cases,
        &policies["support"],
        &prepared_static["support"],
    );
}

const PARTS: &[(&str, Part)] = &[
    ("tuning part", Part::Tuning),
    (
        "first held-out third (tuned on since it was measured)",
        Part::FirstHeldOut,
    ),
    (
        "fresh held-out set (never tuned on; its errors read)",
        Part::Fresh,
    ),
    ("second fresh held-out set (never tuned on)", Part::Second),
];

fn print_table(cases: &[Case], columns: &[(&str, &Vec<bool>)]) {
    for (name, which) in PARTS {
        let part = |c: &Case| c.part == *which;
        let (_, _, must, fine) = rates(cases, columns[0].1, part);
        println!("\n{name} ({must} must escalate, {fine} fine):");
        println!("{:>18} {:>10} {:>14}", "", "recall", "false alarms");
        for (col, verdicts) in columns {
            let (r, a, _, _) = rates(cases, verdicts, part);
            println!("{col:>18} {:>9.1}% {:>13.1}%", r * 100.0, a * 100.0);
        }
    }
}

/// Each Description's topics and examples, embedded.
fn prepare_all<'a>(
    embedder: &Embedder,
    policies: &HashMap<&'a str, Policy>,
) -> HashMap<&'a str, Prepared> {
    policies
        .iter()
        .map(|(a, p)| (*a, semantic::prepare(embedder, p).expect("prepare")))
        .collect()
}

/// Whether each case escalates: its stems matched, or one of its semantic matches `escalates`.
fn verdicts(
    stems: &[bool],
    matches: &[Vec<SemanticMatch>],
    escalates: impl Fn(&SemanticMatch) -> bool,
) -> Vec<bool> {
    stems
        .iter()
        .zip(matches)
        .map(|(s, m)| *s || m.iter().any(&escalates))
        .collect()
}

/// Reads every case's meaning as the runtime does, timing each together with the lexical pass.
fn read_all(
    embedder: &Embedder,
    cases: &[Case],
    policies: &HashMap<&str, Policy>,
    prepared: &HashMap<&str, Prepared>,
) -> (Vec<Vec<SemanticMatch>>, Vec<Duration>) {
    let mut times = Vec::new();
    let matches = cases
        .iter()
        .map(|c| {
            let policy = &policies[c.agent.as_str()];
            let t = Instant::now();
            let text = rules_text(&c.message);
            let lexical = policy.evaluate(&text);
            let m = semantic::evaluate(embedder, policy, &prepared[c.agent.as_str()], &text, None)
                .expect("evaluate");
            times.push(t.elapsed());
            std::hint::black_box(lexical);
            m
        })
        .collect();
    (matches, times)
}

fn print_times(what: &str, cases: &[Case], times: &[Duration]) {
    let mut sorted = times.to_vec();
    sorted.sort();
    println!(
        "\ntime per message ({what}, {} messages up to {} bytes): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        sorted.len(),
        cases.iter().map(|c| c.message.len()).max().unwrap_or(0),
        percentile(&sorted, 0.5).as_secs_f64() * 1e3,
        percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        sorted.last().unwrap().as_secs_f64() * 1e3,
    );
}

/// Longer messages: the eval's sentences joined, read in pieces of at most 40 words.
fn long_messages(embedder: &Embedder, cases: &[Case], policy: &Policy, prepared: &Prepared) {
    let all: String = cases
        .iter()
        .map(|c| c.message.trim_end_matches(['.', '!', '?']).to_string() + ". ")
        .collect();
    for kb in [2usize, 8, 32] {
        let mut text = String::new();
        while text.len() < kb * 1024 {
            text.push_str(&all);
        }
        let mut cut = kb * 1024;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let text = &text[..cut];
        let t = Instant::now();
        let m = semantic::evaluate(embedder, policy, prepared, &rules_text(text), None)
            .expect("evaluate");
        let took = t.elapsed();
        std::hint::black_box(m);
        println!(
            "{kb:>3} KB message: {:.1} ms ({:.2} ms per KB)",
            took.as_secs_f64() * 1e3,
            took.as_secs_f64() * 1e3 / kb as f64
        );
    }
}
