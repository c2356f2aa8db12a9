//! Every example sentence of the tutorial, compiled and evaluated.

use super::*;

fn terms(rule: &Rule) -> Vec<&str> {
    match &rule.condition {
        Condition::AnyOf(ts) => ts.iter().map(|t| t.text.as_str()).collect(),
        Condition::Over { .. } => vec![],
    }
}

const SUPPORT: &str =
    "Always escalate any request involving refunds, account deletions, or threats of legal action.";

#[test]
fn pattern_rule_lists_its_triggers() {
    let p = compile(SUPPORT);
    assert_eq!(p.rules.len(), 1);
    assert_eq!(
        terms(&p.rules[0]),
        ["refunds", "account deletions", "threats of legal action"]
    );
    assert!(p.model_judged.is_empty());
}

#[test]
fn triggers_match_tolerantly() {
    let p = compile(SUPPORT);
    for msg in [
        "A customer named John is asking for a full refund on order #1234. Draft my response.",
        "They were REFUNDED twice",
        "Process the Refunds today",
        "Please handle an account deletion",
        "She sent threats of legal action",
    ] {
        assert_eq!(p.evaluate(msg).len(), 1, "{msg}");
    }
    assert!(p.evaluate("When does my order ship?").is_empty());
    assert!(
        p.evaluate("Delete this account label").is_empty(),
        "a two-word term needs both words"
    );
}

#[test]
fn words_that_carry_no_meaning_do_not_block_a_match() {
    // The tutorial's tip: "Escalate refund requests" gets "Customer is asking for a refund."
    let p = compile("Escalate refund requests.");
    assert_eq!(p.evaluate("Customer is asking for a refund.").len(), 1);
    let p = compile("Escalate any reply that mentions legal, procurement, or IT review.");
    assert_eq!(p.evaluate("This needs an IT review first").len(), 1);
    assert!(
        p.evaluate("Please review my draft").is_empty(),
        "IT review is not any review"
    );
}

#[test]
fn quick_start_rule() {
    let p = compile(
        "Always escalate any request involving refunds, account deletions, or angry customers.",
    );
    assert_eq!(
        terms(&p.rules[0]),
        ["refunds", "account deletions", "angry customers"]
    );
    assert_eq!(p.evaluate("an angry customer called").len(), 1);
}

#[test]
fn mention_list() {
    let p = compile(
        "Escalate any customer reply that mentions a lawyer, attorney, legal action, or compliance officer. Don't draft a reply yourself — just flag it.",
    );
    assert_eq!(p.rules.len(), 1);
    assert_eq!(
        terms(&p.rules[0]),
        ["lawyer", "attorney", "legal action", "compliance officer"]
    );
    assert!(p.rules[0].flag_only);
    let m = p.evaluate("My attorneys will be in touch.");
    assert_eq!(m[0].matched, "attorney");
}

#[test]
fn money_threshold_with_steps_before_escalating() {
    let p = compile(
        "Always escalate refund requests over $100. Before escalating, confirm the order details and check whether the customer has had refunds in the past 90 days.",
    );
    assert_eq!(p.rules.len(), 1);
    match &p.rules[0].condition {
        Condition::Over {
            subject,
            subject_text,
            amount,
            unit,
            inclusive,
        } => {
            assert_eq!(subject, &["refund"]);
            assert_eq!(subject_text, "refund requests");
            assert_eq!(*amount, 100.0);
            assert_eq!(*unit, Unit::Money);
            assert!(!inclusive);
        }
        other => panic!("expected a threshold, got {other:?}"),
    }
    assert_eq!(
        p.rules[0].before_escalating,
        [
            "confirm the order details and check whether the customer has had refunds in the past 90 days"
        ]
    );
    assert_eq!(
        p.evaluate("Customer wants a refund of $250 for order #9000")
            .len(),
        1
    );
    assert!(
        p.evaluate("Customer wants a refund of $40").is_empty(),
        "under the threshold"
    );
    assert!(
        p.evaluate("Customer wants a refund of exactly $100")
            .is_empty(),
        "over means over"
    );
    assert!(
        p.evaluate("Order #5000 refund please").is_empty(),
        "an order number is not an amount"
    );
    assert!(
        p.evaluate("Invoice of $900 attached").is_empty(),
        "amount without the subject"
    );
    assert_eq!(p.evaluate("refund €300 please").len(), 1);
    assert_eq!(p.evaluate("refund $1,250.50 please").len(), 1);
}

#[test]
fn percent_threshold_with_reason_requirement() {
    let p = compile(
        "Escalate any contract clause that deviates from our standard terms by more than 10%. Include a one-sentence summary of the deviation and which standard clause it diverges from.",
    );
    assert_eq!(p.rules.len(), 1);
    match &p.rules[0].condition {
        Condition::Over {
            amount,
            unit,
            subject_text,
            ..
        } => {
            assert_eq!((*amount, *unit), (10.0, Unit::Percent));
            assert_eq!(
                subject_text,
                "contract clause that deviates from our standard terms"
            );
        }
        other => panic!("expected a threshold, got {other:?}"),
    }
    assert_eq!(
        p.rules[0].reason_includes,
        ["a one-sentence summary of the deviation and which standard clause it diverges from"]
    );
    assert_eq!(
        p.evaluate("Clause 7 deviates from the standard terms by 15%")
            .len(),
        1
    );
    assert!(
        p.evaluate("Clause 7 deviates from the standard terms by 5%")
            .is_empty()
    );
    assert!(
        p.evaluate("Clause 7 deviates by $15").is_empty(),
        "money is not a percentage"
    );
}

#[test]
fn severity_mapping() {
    let p = compile(&format!(
        "{SUPPORT} Escalate anything about unusual phrasing. Treat refund requests as Critical; treat unusual phrasing as Info."
    ));
    assert_eq!(p.severities.len(), 2);
    assert_eq!(p.severities[0].severity, Severity::Critical);
    assert_eq!(p.severities[1].subject.text, "unusual phrasing");
    assert_eq!(
        p.evaluate("I need a refund")[0].severity,
        Severity::Critical
    );
    assert_eq!(
        p.evaluate("please delete my account - account deletion")[0].severity,
        Severity::DEFAULT
    );
    assert_eq!(
        p.evaluate("some unusual phrasing here")[0].severity,
        Severity::Info
    );
}

#[test]
fn outcome_rules_are_left_to_the_model() {
    let s = "Escalate any reply you'd be uncomfortable sending without a human checking it first.";
    let p = compile(s);
    assert!(p.rules.is_empty(), "{:?}", p.rules);
    assert_eq!(p.model_judged, [s.trim_end_matches('.')]);
    assert!(
        !p.lints.iter().any(|l| l.kind == LintKind::NoRule),
        "an outcome rule is a rule"
    );
}

#[test]
fn mixed_outcome_and_pattern_sentence() {
    let s = "Escalate any clause you can't classify with confidence, or anything involving liability or termination.";
    let p = compile(s);
    assert_eq!(p.model_judged, [s.trim_end_matches('.')]);
    assert_eq!(terms(&p.rules[0]), ["liability", "termination"]);
}

#[test]
fn two_clauses_joined_by_or_any() {
    let p = compile(
        "Escalate any prospect that's flagged as enterprise-tier or any reply that mentions legal, procurement, or IT review.",
    );
    assert_eq!(p.rules.len(), 2);
    assert_eq!(terms(&p.rules[0]), ["enterprise-tier"]);
    assert_eq!(terms(&p.rules[1]), ["legal", "procurement", "it review"]);
    assert_eq!(p.evaluate("This is an Enterprise-tier account").len(), 1);
}

#[test]
fn bad_rules_are_linted_with_a_rewrite() {
    for (sentence, kind) in [
        ("Escalate when uncertain.", LintKind::TooVague),
        ("Never escalate; just answer.", LintKind::NeverEscalate),
        (
            "Escalate everything important.",
            LintKind::MeaninglessImportant,
        ),
    ] {
        let p = compile(sentence);
        let lint = p
            .lints
            .iter()
            .find(|l| l.kind == kind)
            .unwrap_or_else(|| panic!("{sentence}: {:?}", p.lints));
        assert!(!lint.why.is_empty() && !lint.suggestion.is_empty());
        assert!(p.rules.is_empty(), "a bad rule is not enforced: {sentence}");
    }
}

#[test]
fn description_wide_lints() {
    let none = compile("You draft replies to customers. Be friendly.");
    assert!(none.lints.iter().any(|l| l.kind == LintKind::NoRule));
    let no_fine = compile(SUPPORT);
    assert!(
        no_fine
            .lints
            .iter()
            .any(|l| l.kind == LintKind::NoFineExample)
    );
    let good = compile(&format!(
        "{SUPPORT} Questions about shipping times are fine to answer on your own."
    ));
    assert!(good.lints.is_empty(), "{:?}", good.lints);
    assert_eq!(good.fine_alone.len(), 1);
    assert!(
        compile("").lints.is_empty(),
        "nothing written, nothing to nag about yet"
    );
}

#[test]
fn when_in_doubt_is_a_catch_all_beside_specific_rules() {
    let p = compile(&format!("{SUPPORT} When in doubt, escalate."));
    assert!(!p.lints.iter().any(|l| l.kind == LintKind::TooVague));
    assert_eq!(p.model_judged, ["When in doubt, escalate"]);
    let alone = compile("When in doubt, escalate.");
    assert!(alone.lints.iter().any(|l| l.kind == LintKind::TooVague));
}

#[test]
fn the_demo_descriptions_compile_to_what_they_say() {
    let p = compile(
        "You draft replies to customer emails and chats for our support team. \
         Always escalate any request involving refunds, account deletions, or threats of legal action. \
         Always escalate refund requests over $100. Before escalating, confirm the order details. \
         Treat refund requests as Critical; treat unusual phrasing as Info. \
         Questions about shipping times are fine to answer on your own.",
    );
    assert_eq!(p.rules.len(), 2);
    assert!(p.lints.is_empty(), "{:?}", p.lints);
}

/// A tiny deterministic generator: arbitrary input without a property-testing dependency.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn never_panics_on_arbitrary_input_up_to_100_kb() {
    const PIECES: [&str; 24] = [
        "escalate",
        "Escalate any",
        " over $",
        "100",
        ".",
        ";",
        ",",
        " or any ",
        " involving ",
        "Treat ",
        " as ",
        "Critical",
        "Before escalating",
        "—",
        "’",
        "€",
        "%",
        "\n",
        "#",
        "é",
        "never",
        "important everything",
        " mentions ",
        "\u{0}",
    ];
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for round in 0..60u32 {
        let target = if round.is_multiple_of(20) {
            100 * 1024
        } else {
            (rng.next() % 4096) as usize
        };
        let mut s = String::new();
        while s.len() < target {
            if rng.next().is_multiple_of(3) {
                s.push(char::from_u32((rng.next() % 0x3000) as u32).unwrap_or('x'));
            } else {
                s.push_str(PIECES[(rng.next() % PIECES.len() as u64) as usize]);
            }
        }
        let p = compile(&s);
        let _ = p.evaluate(&s.chars().take(4096).collect::<String>());
        let _ = p.evaluate(&s.chars().rev().take(2000).collect::<String>());
    }
}

#[test]
fn severity_reads_every_term_the_message_mentions() {
    let p = compile(
        "Escalate anything involving account deletions or refunds. Treat refunds as Critical.",
    );
    let m = p.evaluate("Close the account deletion and refund me");
    assert_eq!(
        m[0].matched, "account deletions",
        "the first term found is named"
    );
    assert_eq!(
        m[0].severity,
        Severity::Critical,
        "but the refund decides the severity"
    );
    assert_eq!(
        p.evaluate("process an account deletion")[0].severity,
        Severity::DEFAULT
    );
    // The editor shows the highest severity the rule can have: the same mapping.
    assert_eq!(p.rule_severity(&p.rules[0]), Severity::Critical);
}

#[test]
fn every_form_of_a_rule_word_matches() {
    let p = compile("Always escalate any request involving deletions, refunds or lawsuits.");
    for m in [
        "Please delete this.",
        "It was deleted yesterday.",
        "Deleting it now",
        "I was refunded twice",
        "refunding is slow",
        "a lawsuit is coming",
    ] {
        assert_eq!(p.evaluate(m).len(), 1, "{m}");
    }
    // As written, without stems, the same messages mostly do not match.
    assert!(
        p.evaluate_lexical("It was deleted yesterday.", Lexical::Words)
            .is_empty()
    );
    assert_eq!(
        p.evaluate_lexical("Please process my refunds", Lexical::Words)
            .len(),
        1
    );
    assert!(p.evaluate("The deli is open").is_empty());
}

#[test]
fn an_instruction_after_the_topics_is_not_a_topic() {
    let p = compile("Escalate any billing dispute and explain what you've already tried.");
    assert_eq!(p.rules.len(), 1);
    match &p.rules[0].condition {
        Condition::AnyOf(terms) => {
            let texts: Vec<&str> = terms.iter().map(|t| t.text.as_str()).collect();
            assert_eq!(texts, ["billing dispute"]);
        }
        other => panic!("expected a list, got {other:?}"),
    }
    assert_eq!(
        p.rules[0].reason_includes,
        ["explain what you've already tried"]
    );
    assert_eq!(p.evaluate("I have a billing dispute").len(), 1);
    assert!(
        p.evaluate("Could you explain what you've already tried?")
            .is_empty(),
        "the instruction is not a trigger"
    );
    // A step asked for in the same sentence comes before escalating; lists with "and" still
    // split into topics.
    let p = compile("Always escalate refunds and chargebacks, and check the order history first.");
    match &p.rules[0].condition {
        Condition::AnyOf(terms) => {
            let texts: Vec<&str> = terms.iter().map(|t| t.text.as_str()).collect();
            assert_eq!(texts, ["refunds", "chargebacks"]);
        }
        other => panic!("expected a list, got {other:?}"),
    }
    assert_eq!(
        p.rules[0].before_escalating,
        ["check the order history first"]
    );
}
