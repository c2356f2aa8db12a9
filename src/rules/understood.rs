//! A compiled [`Policy`] in words: the agent page's "What Flare understood" panel and the agent
//! list's one-line summary. Pure, so tests read it without a browser or a database.

use super::{Condition, Lint, Policy, Rule, show_amount};
use serde::{Deserialize, Serialize};

/// What the panel lists, in the order the Description wrote it. The server sends it with the
/// agent and again as the text is typed (`read_description`): the browser never compiles.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Understood {
    /// One line per rule Flare enforces: what makes it escalate, its severity, its steps.
    pub rules: Vec<String>,
    /// Outcome rules left to the model, as written.
    pub model_judged: Vec<String>,
    /// Rule warnings, with what to write instead.
    pub lints: Vec<Lint>,
}

/// What makes a rule escalate, in words: "the message mentions “refunds”, “chargebacks”".
pub fn condition(c: &Condition) -> String {
    match c {
        Condition::AnyOf(terms) => format!(
            "the message mentions {}",
            terms
                .iter()
                .map(|t| format!("\u{201c}{}\u{201d}", t.text))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Condition::Over {
            subject_text,
            amount,
            unit,
            inclusive,
            ..
        } => format!(
            "it is about {} {} {}",
            subject_text,
            if *inclusive { "at least" } else { "over" },
            show_amount(*amount, *unit)
        ),
    }
}

/// One rule's line: its condition, severity, the steps before escalating, and "flag only".
pub fn rule_line(policy: &Policy, rule: &Rule) -> String {
    let mut line = format!(
        "{} ({})",
        condition(&rule.condition),
        policy.rule_severity(rule).label()
    );
    if !rule.before_escalating.is_empty() {
        line.push_str(&format!("; first: {}", rule.before_escalating.join("; ")));
    }
    if rule.flag_only {
        line.push_str("; flag it without drafting a reply");
    }
    line
}

pub fn understood(policy: &Policy) -> Understood {
    Understood {
        rules: policy.rules.iter().map(|r| rule_line(policy, r)).collect(),
        model_judged: policy.model_judged.clone(),
        lints: policy.lints.clone(),
    }
}

/// The agent list's one line: what the rules escalate on, and how many the model judges.
pub fn summary(policy: &Policy) -> String {
    let mut on: Vec<String> = Vec::new();
    for rule in &policy.rules {
        match &rule.condition {
            Condition::AnyOf(terms) => on.extend(terms.iter().map(|t| t.text.clone())),
            Condition::Over {
                subject_text,
                amount,
                unit,
                ..
            } => on.push(format!(
                "{} over {}",
                subject_text,
                show_amount(*amount, *unit)
            )),
        }
    }
    let judged = policy.model_judged.len();
    match (on.is_empty(), judged) {
        (true, 0) => "No escalation rules yet".into(),
        (true, n) => format!("{n} rule(s) for the model to judge"),
        (false, 0) => format!("Escalates on: {}", on.join(", ")),
        (false, n) => format!(
            "Escalates on: {}; plus {n} rule(s) for the model to judge",
            on.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::compile;

    #[test]
    fn a_pattern_rule_names_its_terms_and_severity() {
        let p = compile(
            "Always escalate any request involving refunds or chargebacks. \
             Treat chargebacks as critical.",
        );
        let u = understood(&p);
        assert_eq!(u.rules.len(), 1, "{u:?}");
        let line = &u.rules[0];
        assert!(
            line.starts_with("the message mentions \u{201c}refunds\u{201d}"),
            "{line}"
        );
        assert!(line.contains("\u{201c}chargebacks\u{201d}"), "{line}");
        assert!(line.ends_with("(Critical)"), "{line}");
    }

    #[test]
    fn a_threshold_rule_says_over_or_at_least_and_the_amount() {
        let over = understood(&compile("Escalate refunds over $500."));
        assert_eq!(over.rules.len(), 1, "{over:?}");
        assert!(over.rules[0].contains("over $500"), "{:?}", over.rules);
        let least = understood(&compile("Escalate discounts of at least 20%."));
        assert!(
            least.rules.iter().any(|l| l.contains("at least 20%")),
            "{least:?}"
        );
    }

    #[test]
    fn steps_flag_only_and_model_judged_rules_are_shown() {
        let p = compile(
            "Escalate refunds. Before escalating, confirm the order number. \
             Don't draft a reply yourself, just flag it. \
             Escalate any reply you'd be uncomfortable sending without a human checking it first.",
        );
        let u = understood(&p);
        let line = u.rules.first().expect("the refund rule");
        assert!(line.contains("first: "), "{line}");
        assert!(line.contains("confirm the order number"), "{line}");
        assert!(line.contains("flag it without drafting a reply"), "{line}");
        assert_eq!(u.model_judged.len(), 1, "{u:?}");
        assert!(u.model_judged[0].contains("uncomfortable"), "{u:?}");
    }

    #[test]
    fn an_empty_description_understands_nothing() {
        let u = understood(&compile(""));
        assert!(u.rules.is_empty() && u.model_judged.is_empty());
        assert_eq!(summary(&compile("")), "No escalation rules yet");
    }

    #[test]
    fn the_summary_lists_what_rules_escalate_on() {
        assert_eq!(
            summary(&compile("Always escalate refunds.")),
            "Escalates on: refunds"
        );
        let s = summary(&compile("Escalate refunds over $500."));
        assert!(
            s.starts_with("Escalates on: ") && s.contains("over $500"),
            "{s}"
        );
    }

    #[test]
    fn rule_warnings_come_with_the_panel() {
        // The browser shows only what the server sends, so the warnings must travel with it.
        let p = compile("When in doubt, escalate.");
        let u = understood(&p);
        assert!(!u.lints.is_empty(), "{p:?}");
        assert_eq!(u.lints, p.lints);
    }
}
