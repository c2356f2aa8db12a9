//! What the agent is told and what it may call: the built-in `escalate_to_human` tool (its
//! schema and the parsing of its arguments), the system prompt, and the guardrail that
//! enforces the Description's compiled rules whatever the model would do.

use super::provider::{ESCALATE_TOOL, ToolSpec};
use crate::rules::{Policy, Severity};

/// The arguments of `escalate_to_human`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalate {
    pub reason: String,
    pub severity: Severity,
}

pub fn escalate_tool() -> ToolSpec {
    ToolSpec {
        name: ESCALATE_TOOL.into(),
        description: "Ask a person for help and wait for their answer. Use it whenever your \
            instructions say to escalate. The answer comes back as this tool's result."
            .into(),
        parameters: serde_json::json!({
            "type": "object",
            "properties": {
                "reason": {"type": "string", "description": "Why you stopped: what you need decided and what you already checked."},
                "severity": {"type": "string", "enum": ["info", "warning", "critical"]}
            },
            "required": ["reason", "severity"]
        }),
    }
}

/// Reads the model's arguments to `escalate_to_human`; the error goes back to the model.
pub fn parse_escalate(arguments: &str) -> Result<Escalate, String> {
    #[derive(serde::Deserialize)]
    struct Args {
        reason: String,
        #[serde(default)]
        severity: Option<String>,
    }
    let args: Args = serde_json::from_str(arguments)
        .map_err(|e| format!("the arguments are not valid JSON with a reason: {e}"))?;
    let reason = args.reason.trim();
    if reason.is_empty() {
        return Err("the reason is empty".into());
    }
    let reason: String = reason
        .chars()
        .filter(|c| !c.is_control() || *c == '\n')
        .take(4000)
        .collect();
    let severity = match args.severity.as_deref().map(str::trim) {
        None | Some("") => Severity::DEFAULT,
        Some(s) => s
            .parse::<Severity>()
            .map_err(|_| format!("severity must be info, warning or critical, not {s:?}"))?,
    };
    Ok(Escalate { reason, severity })
}

/// Text as the rules read it: compatibility forms folded (NFKC: full-width letters, ligatures,
/// circled digits) and invisible format characters (zero-width spaces and joiners, bidi
/// controls, soft hyphens) removed, so `ref\u{200B}und` or `ｒｅｆｕｎｄ` is read as `refund`.
pub fn rules_text(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    let visible = |c: &char| c.general_category() != GeneralCategory::Format;
    raw.chars().filter(visible).nfkc().filter(visible).collect()
}

/// The lowest severity an escalation about `texts` may have: the highest that the
/// Description's "Treat … as …" sentences give the rules those texts trigger. The model picks
/// the severity of its own escalations, but never below what the admin wrote.
pub fn severity_floor(policy: &Policy, texts: &[&str]) -> Option<Severity> {
    texts
        .iter()
        .flat_map(|t| policy.evaluate(&rules_text(t)))
        .map(|m| m.severity)
        .max()
}

/// The guardrail: a message a compiled rule matches escalates whatever the provider would do.
/// The reason names the rule, what in the message triggered it, and the steps the Description
/// asks for before escalating.
pub fn guardrail(policy: &Policy, message: &str) -> Option<Escalate> {
    lexical_escalation(policy, &policy.evaluate(&rules_text(message)))
}

/// The guardrail's verdict on words already matched (most severe rule first).
pub fn lexical_escalation(
    policy: &Policy,
    matches: &[crate::rules::RuleMatch],
) -> Option<Escalate> {
    let top = matches
        .iter()
        .max_by_key(|m| (m.severity, std::cmp::Reverse(m.rule)))?;
    let rule = &policy.rules[top.rule];
    let mut reason = format!(
        "This message matches \u{201c}{}\u{201d} in my rule \u{201c}{}.\u{201d} The rule says to escalate, so a person decides.",
        top.matched, rule.sentence
    );
    append_rule_asks(&mut reason, rule);
    Some(Escalate {
        reason,
        severity: top.severity,
    })
}

/// The guardrail's verdict on meaning: the closest escalating match (most severe first), with
/// a reason that names the sentence, the topic and the rule.
pub fn semantic_escalation(
    policy: &Policy,
    matches: &[super::semantic::SemanticMatch],
) -> Option<Escalate> {
    let top = matches.iter().filter(|m| m.escalates()).max_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(a.closeness.total_cmp(&b.closeness))
    })?;
    let rule = &policy.rules[top.rule];
    let mut reason = format!(
        "\u{201c}{}\u{201d} is close to \u{201c}{}\u{201d} (closeness {:.2}) in my rule \u{201c}{}.\u{201d} The rule says to escalate, so a person decides.",
        top.sentence, top.topic, top.closeness, rule.sentence
    );
    append_rule_asks(&mut reason, rule);
    Some(Escalate {
        reason,
        severity: top.severity,
    })
}

/// What the rule asks for around an escalation: steps first, what the reason includes, and
/// "just flag it".
fn append_rule_asks(reason: &mut String, rule: &crate::rules::Rule) {
    if !rule.before_escalating.is_empty() {
        reason.push_str(&format!(
            " Before escalating, my Description asks to {}: I cannot do that offline, so please check it.",
            rule.before_escalating.join("; ")
        ));
    }
    // "Include a one-sentence summary…" names a thing; "… and explain what you've tried" is
    // an instruction of its own.
    let (told, named): (Vec<&str>, Vec<&str>) = rule
        .reason_includes
        .iter()
        .map(String::as_str)
        .partition(|w| crate::rules::is_instruction(w));
    if !named.is_empty() {
        reason.push_str(&format!(
            " You asked the reason to include {}.",
            named.join("; ")
        ));
    }
    if !told.is_empty() {
        reason.push_str(&format!(" You asked me to {}.", told.join("; ")));
    }
    if rule.flag_only {
        reason.push_str(" As asked, I have not drafted a reply.");
    }
}

/// The system prompt models get.
pub(super) fn instructions(agent_name: &str, description: &str, policy: &Policy) -> String {
    let mut s = format!(
        "You are {agent_name}, an agent in Flare. Your job description follows.\n\n{description}\n\n\
         When your job description says to escalate, or you should not decide alone, call the \
         tool {ESCALATE_TOOL} with a reason and a severity (info, warning or critical), and wait \
         for its result before going on."
    );
    if !policy.model_judged.is_empty() {
        s.push_str("\nRules you must judge yourself:\n");
        for r in &policy.model_judged {
            s.push_str(&format!("- {r}\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_says_what_the_rule_asks_for_in_plain_words() {
        let p = crate::rules::compile(
            "Escalate any billing dispute and explain what you've already tried. \
             Include the order number.",
        );
        let e = guardrail(&p, "I have a billing dispute about order 88").expect("escalates");
        assert!(
            e.reason
                .contains(" You asked the reason to include the order number.")
                && e.reason
                    .contains(" You asked me to explain what you've already tried."),
            "{}",
            e.reason
        );
        assert!(!e.reason.contains("include explain"), "{}", e.reason);
    }
}
