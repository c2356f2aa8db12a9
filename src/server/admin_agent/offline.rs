//! The Admin Agent with no model: the tutorial's three prompts answered from Flare's own
//! analysis (its rule compiler, lint and the stored escalations), labelled as offline. Every
//! figure comes from the data; nothing is invented.

use super::{AgentFacts, Facts};
use crate::admin_agent::Draft;
use crate::escalations::EscalationStatus;
use crate::rules::{self, Policy};
use crate::server::db::admin_agent::EscalationFacts;
use std::collections::BTreeMap;

pub const OFFLINE_NOTE: &str = "_Offline answer from Flare's own analysis of your agents, their threads and escalations: no language model is connected. An owner or admin can connect one in Settings → Models._";

/// A kind of situation an agent should not decide alone.
pub struct Category {
    pub name: &'static str,
    /// Words that show the situation in a job text or a message (matched on word starts).
    pub signs: &'static [&'static str],
    /// A message in this situation: whether a Description covers it is asked of Flare's own
    /// rule compiler, so the answer matches what Flare enforces.
    probes: &'static [&'static str],
    /// Why it must not be decided alone.
    pub consequence: &'static str,
    /// The rule wording, in the tutorial's pattern: the category, the consequence, what to do
    /// first.
    pub rule: &'static str,
}

pub const CATEGORIES: [Category; 5] = [
    Category {
        name: "money (refunds, discounts, credits, payments)",
        signs: &[
            "refund",
            "discount",
            "credit",
            "payment",
            "charge",
            "invoice",
            "billing",
            "price",
            "pricing",
            "compensat",
            "money",
            "reimburse",
        ],
        probes: &[
            "I want a refund for my order.",
            "Please refund my order.",
            "Can you give me a discount?",
            "Please credit the payment back to my card.",
        ],
        consequence: "money promised or paid out cannot be taken back",
        rule: "Always escalate any request involving refunds, discounts, credits or payments: money promised cannot be taken back. Before escalating, confirm the amount and the order or invoice it concerns.",
    },
    Category {
        name: "deletion (accounts, data, cancellations)",
        signs: &[
            "delete",
            "deletion",
            "remove",
            "erase",
            "cancel",
            "close my account",
            "closing",
        ],
        probes: &[
            "Please delete my account.",
            "I want my account deleted.",
            "Please process an account deletion for me.",
            "Cancel my subscription and remove my data.",
        ],
        consequence: "deleted accounts and data cannot be restored",
        rule: "Always escalate any request involving account deletions, cancellations or removing data: what is deleted cannot be restored. Before escalating, confirm who is asking and exactly what should go.",
    },
    Category {
        name: "legal (lawyers, liability, compliance)",
        signs: &[
            "legal",
            "lawyer",
            "attorney",
            "solicitor",
            "lawsuit",
            "sue",
            "court",
            "liabilit",
            "complian",
            "regulat",
            "contract",
            "termination",
            "indemn",
        ],
        probes: &[
            "My lawyer will take legal action.",
            "Who carries the liability under this clause?",
            "Our compliance officer has questions.",
        ],
        consequence: "a wrong word can become a commitment or an admission",
        rule: "Always escalate any message involving lawyers, legal action, liability or compliance: a wrong word can become a commitment. Include a one-sentence summary of what is claimed or asked.",
    },
    Category {
        name: "personal data (passwords, addresses, privacy)",
        signs: &[
            "personal data",
            "password",
            "address",
            "phone",
            "date of birth",
            "passport",
            "privacy",
            "gdpr",
            "social security",
            "card number",
            "identity",
        ],
        probes: &[
            "Send me the personal data you hold on me.",
            "I forgot my password, tell me what it is.",
            "Change the address and phone number on my account.",
        ],
        consequence: "data shared with the wrong person cannot be unshared",
        rule: "Always escalate any request involving personal data, passwords or privacy: data shared with the wrong person cannot be unshared. Before escalating, check that the person asking is the account holder.",
    },
    Category {
        name: "irreversible actions (approving, signing, sending, promising)",
        signs: &[
            "approve",
            "sign ",
            "signing",
            "signature",
            "send",
            "publish",
            "guarantee",
            "promise",
            "commit",
        ],
        probes: &[
            "Approve and sign this agreement.",
            "Can you guarantee delivery by Friday?",
            "Publish the announcement now.",
        ],
        consequence: "once sent, approved or promised, it cannot be taken back",
        rule: "Always escalate any request to approve, sign, guarantee or promise something on our behalf: once given, it cannot be taken back. Include what would be committed to, in one sentence.",
    },
];

/// Whether Flare's compiled rules escalate a message of this category.
pub fn covers(policy: &Policy, c: &Category) -> bool {
    c.probes.iter().any(|p| !policy.evaluate(p).is_empty())
}

/// Whether `text` shows signs of the category (word starts, case-insensitive).
pub fn shows(text: &str, c: &Category) -> bool {
    let lower = text.to_lowercase();
    c.signs.iter().any(|s| {
        lower.match_indices(s).any(|(i, _)| {
            i == 0
                || !lower[..i]
                    .chars()
                    .next_back()
                    .is_some_and(char::is_alphanumeric)
        })
    })
}

/// One agent's uncovered situations: (category, in its job text, messages it answered alone
/// that show it, one such message).
pub struct Gap<'a> {
    pub category: &'a Category,
    pub in_job: bool,
    pub alone: usize,
    pub example: Option<String>,
}

/// `policy` is the agent's Description compiled (the callers need it too).
pub fn gaps<'a>(
    agent: &AgentFacts,
    policy: &rules::Policy,
    alone: &[String],
) -> (Vec<Gap<'a>>, Vec<&'a Category>) {
    let (mut open, mut covered) = (Vec::new(), Vec::new());
    for c in &CATEGORIES {
        if covers(policy, c) {
            covered.push(c);
            continue;
        }
        let hits: Vec<&String> = alone.iter().filter(|m| shows(m, c)).collect();
        open.push(Gap {
            category: c,
            in_job: shows(&agent.description, c),
            alone: hits.len(),
            example: hits.first().map(|m| clip(m, 90)),
        });
    }
    // The best-founded first: seen in its threads, then in its job, then the rest.
    open.sort_by_key(|g| (std::cmp::Reverse(g.alone), !g.in_job));
    (open, covered)
}

fn clip(s: &str, n: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// Prompt 1: per agent, the situations its Description does not cover yet.
pub fn moments(facts: &Facts) -> String {
    if facts.agents.is_empty() {
        return format!(
            "None of your teams has an agent yet. Create one in Settings → Agents, then ask again.\n\n{OFFLINE_NOTE}"
        );
    }
    let mut out = String::from(
        "Here is where each agent's Description does not make it escalate yet, checked with Flare's own rule compiler (by their words) against typical messages of each kind. The ones seen in its threads come first.\n\n",
    );
    for a in &facts.agents {
        let alone = facts.alone_for(&a.id);
        let (open, covered) = gaps(a, &rules::compile(&a.description), &alone);
        out.push_str(&format!("### {} ({})\n\n", a.name, a.team_name));
        if open.is_empty() {
            out.push_str("Its rules already escalate all five kinds of situation Flare checks (money, deletion, legal, personal data, irreversible actions).\n\n");
        }
        for g in open.iter().take(3) {
            let mut evidence = Vec::new();
            if g.alone > 0 {
                evidence.push(format!(
                    "{} of the {} messages it answered alone concern this (e.g. “{}”)",
                    g.alone,
                    alone.len(),
                    g.example.clone().unwrap_or_default()
                ));
            }
            if g.in_job {
                evidence.push("its job text mentions it".into());
            }
            if evidence.is_empty() {
                evidence.push("not seen yet in its job text or threads".into());
            }
            out.push_str(&format!(
                "- **{}**: {}. Seen: {}.\n",
                g.category.name,
                g.category.consequence,
                evidence.join("; ")
            ));
        }
        if !covered.is_empty() {
            let names: Vec<&str> = covered
                .iter()
                .map(|c| c.name.split(" (").next().unwrap_or(c.name))
                .collect();
            out.push_str(&format!(
                "\nAlready covered by its rules: {}.\n",
                names.join(", ")
            ));
        }
        out.push('\n');
    }
    out.push_str("Ask me to draft the wording for any of them.\n\n");
    out.push_str(OFFLINE_NOTE);
    out
}

/// Prompt 2: rule wording for the agents named in `text` (all agents when none is named), for
/// their uncovered situations, each sentence checked with Flare's compiler and lint first.
pub fn drafts(facts: &Facts, text: &str) -> (String, Vec<Draft>) {
    let lower = text.to_lowercase();
    let named: Vec<&AgentFacts> = facts
        .agents
        .iter()
        .filter(|a| lower.contains(&a.name.to_lowercase()))
        .collect();
    let chosen: Vec<&AgentFacts> = match named.is_empty() {
        true => facts.agents.iter().collect(),
        false => named,
    };
    if chosen.is_empty() {
        return (
            format!("None of your teams has an agent yet.\n\n{OFFLINE_NOTE}"),
            Vec::new(),
        );
    }
    // Situations the person listed, by the category words they used.
    let asked: Vec<&Category> = CATEGORIES.iter().filter(|c| shows(&lower, c)).collect();
    let mut out = String::new();
    if text.contains("[name]") {
        out.push_str("You did not name an agent, so here is wording for each of them. Name one (\"For my agent Contract Reviewer…\") to get only its own.\n\n");
    }
    let mut drafts = Vec::new();
    for a in chosen {
        let alone = facts.alone_for(&a.id);
        let before = rules::compile(&a.description);
        let (open, _) = gaps(a, &before, &alone);
        // Without a list from the person: the gaps its job text or threads show.
        let wanted: Vec<&Category> = match asked.is_empty() {
            true => open
                .iter()
                .filter(|g| g.in_job || g.alone > 0)
                .take(3)
                .map(|g| g.category)
                .collect(),
            false => asked.clone(),
        };
        let mut kept: Vec<&str> = Vec::new();
        let mut refused: Vec<String> = Vec::new();
        for c in wanted {
            let trial = format!("{}\n{}", a.description, c.rule);
            let after = rules::compile(&trial);
            let new_lints: Vec<&rules::Lint> = after
                .lints
                .iter()
                .filter(|l| {
                    l.sentence
                        .contains(c.rule.split(':').next().unwrap_or(c.rule))
                })
                .collect();
            if after.rules.len() > before.rules.len() && new_lints.is_empty() && covers(&after, c) {
                kept.push(c.rule);
            } else if !covers(&before, c) {
                refused.push(c.name.to_string());
            }
        }
        out.push_str(&format!("### {}\n\n", a.name));
        if kept.is_empty() {
            out.push_str(match asked.is_empty() {
                true => "Nothing in its job text or threads points to a situation its rules miss. Name the situations you want (for example “refunds, personal data”) and I will draft them.\n\n",
                false => "Its rules already escalate these situations: nothing to add.\n\n",
            });
            continue;
        }
        let draft = kept.join(" ");
        out.push_str(&format!(
            "Add this to its Description (each sentence names the category, the consequence and what to do first; Flare's lint finds nothing to fix in it):\n\n> {draft}\n\n"
        ));
        if !refused.is_empty() {
            out.push_str(&format!(
                "Left out, because the lint found a problem with the wording: {}.\n\n",
                refused.join(", ")
            ));
        }
        drafts.push(Draft {
            agent_id: a.id.clone(),
            agent_name: a.name.clone(),
            text: draft,
        });
    }
    out.push_str(OFFLINE_NOTE);
    (out, drafts)
}

/// "1 escalation", "3 escalations".
fn count(n: usize, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

fn pct(n: usize, of: usize) -> String {
    if of == 0 {
        "0%".into()
    } else {
        format!("{:.0}%", 100.0 * n as f64 / of as f64)
    }
}

fn duration(ms: i64) -> String {
    let s = ms / 1000;
    match s {
        s if s < 90 => format!("{s} s"),
        s if s < 90 * 60 => format!("{} min", (s + 30) / 60),
        s if s < 48 * 3600 => format!("{:.1} h", s as f64 / 3600.0),
        s => format!("{:.1} days", s as f64 / 86400.0),
    }
}

/// The rule of the agent's current Description that escalates `asked`, by its sentence.
fn rule_for(policy: &Policy, asked: Option<&str>) -> Option<String> {
    let m = policy.evaluate(asked?);
    m.first().map(|m| policy.rules[m.rule].sentence.clone())
}

/// Prompt 3: the last two weeks' escalations, per rule and per agent.
pub fn review(facts: &Facts, days: i64) -> String {
    let esc = &facts.escalations;
    if esc.is_empty() {
        return format!(
            "Your agents created no escalations in the last {days} days, so there is nothing to review yet. Try a message on an agent's page to see what would escalate.\n\n{OFFLINE_NOTE}"
        );
    }
    let answered: Vec<&EscalationFacts> = esc.iter().filter(|e| e.answered_at.is_some()).collect();
    let dismissed = esc
        .iter()
        .filter(|e| e.status == EscalationStatus::Dismissed)
        .count();
    let resolved = esc
        .iter()
        .filter(|e| e.status == EscalationStatus::Resolved)
        .count();
    let open = esc.len() - dismissed - resolved;
    let mut waits: Vec<i64> = answered
        .iter()
        .map(|e| e.answered_at.unwrap_or(e.created_at) - e.created_at)
        .collect();
    waits.sort_unstable();
    let median = match waits.len() {
        0 => "none answered yet".to_string(),
        n if n % 2 == 1 => duration(waits[n / 2]),
        n => duration((waits[n / 2 - 1] + waits[n / 2]) / 2),
    };
    let mut out = format!(
        "In the last {days} days your agents created **{} escalations**: {resolved} resolved, {dismissed} dismissed, {open} still open. Median time to answer: **{median}**.\n\n",
        esc.len()
    );
    out.push_str("### Per agent and rule\n\n");
    for a in &facts.agents {
        let mine: Vec<&EscalationFacts> = esc.iter().filter(|e| e.agent_id == a.id).collect();
        let policy = rules::compile(&a.description);
        out.push_str(&format!(
            "**{}** ({}",
            a.name,
            count(mine.len(), "escalation", "escalations")
        ));
        if let Some(runs) = facts.runs.get(&a.id) {
            out.push_str(&format!(" in {}", count(*runs as usize, "run", "runs")));
        }
        out.push_str(")\n\n");
        let mut per_rule: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for e in &mine {
            let key = rule_for(&policy, e.asked.as_deref()).unwrap_or_else(|| {
                "(no rule of its Description: the model's or an outcome rule's judgment)".into()
            });
            let entry = per_rule.entry(key).or_default();
            entry.0 += 1;
            if e.status == EscalationStatus::Dismissed {
                entry.1 += 1;
            }
        }
        let runs = facts.runs.get(&a.id).copied().unwrap_or(0) as usize;
        // One sentence may make several rules ("… enterprise-tier or … legal"): one line each.
        let mut sentences: Vec<&str> = policy.rules.iter().map(|r| r.sentence.as_str()).collect();
        sentences.dedup();
        for sentence in sentences {
            match per_rule.get(sentence) {
                None => out.push_str(&format!("- Never triggered: “{}”. Check it still matches how people write, or drop it.\n", clip(sentence, 120))),
                Some((n, d)) => {
                    let mut line = format!("- “{}”: {}, {d} dismissed ({})", clip(sentence, 120), count(*n, "escalation", "escalations"), pct(*d, *n));
                    if *d * 2 > *n {
                        line.push_str(": mostly dismissed, so mostly noise. Narrow it, or add an example of what is fine to answer alone");
                    }
                    if runs >= 5 && *n * 10 >= runs * 8 {
                        line.push_str(&format!(": it escalates {} of the agent's {runs} runs, almost everything. Make it more specific", pct(*n, runs)));
                    }
                    line.push_str(".\n");
                    out.push_str(&line);
                }
            }
        }
        for (rule, (n, d)) in &per_rule {
            if !policy.rules.iter().any(|r| &r.sentence == rule) {
                out.push_str(&format!(
                    "- {rule}: {}, {d} dismissed ({}).\n",
                    count(*n, "escalation", "escalations"),
                    pct(*d, *n)
                ));
            }
        }
        out.push('\n');
    }
    // Guidance given more than once: what people keep telling agents is a rule waiting to be
    // written.
    let mut said: BTreeMap<String, (usize, String, String)> = BTreeMap::new();
    for e in esc {
        if let Some(g) = e.guidance.as_deref().filter(|g| !g.trim().is_empty()) {
            let key: String = rules::text::words(g).join(" ");
            let entry = said
                .entry(key)
                .or_insert((0, clip(g, 140), e.agent_name.clone()));
            entry.0 += 1;
        }
    }
    let repeated: Vec<_> = said.values().filter(|(n, ..)| *n > 1).collect();
    out.push_str("### Guidance that repeats\n\n");
    if repeated.is_empty() {
        out.push_str("No guidance was given twice: nothing yet suggests a new rule.\n\n");
    } else {
        for (n, g, agent) in repeated {
            out.push_str(&format!("- “{g}” ({n} times, e.g. to {agent}): a candidate for a rule or a “fine to answer” example in its Description.\n"));
        }
        out.push('\n');
    }
    if dismissed > 0 {
        out.push_str("### Dismissed ones, to check\n\n");
        for e in esc
            .iter()
            .filter(|e| e.status == EscalationStatus::Dismissed)
            .take(10)
        {
            out.push_str(&format!(
                "- {}: “{}” (by {})\n",
                e.agent_name,
                clip(&e.reason, 120),
                e.responder.as_deref().unwrap_or("someone")
            ));
        }
        out.push('\n');
    }
    out.push_str(OFFLINE_NOTE);
    out
}

/// Anything else: what it can do offline.
pub fn help() -> String {
    format!(
        "Offline, I answer the three coaching questions from Flare's own analysis: where each agent should escalate but its Description does not say so, the exact wording to add, and a review of past escalations. Pick one of the suggestions, or ask in your own words (\"which situations…\", \"draft the wording for…\", \"review the escalations…\").\n\n{OFFLINE_NOTE}"
    )
}

/// Which of the three questions `text` asks.
pub enum Question {
    Moments,
    Drafts,
    Review,
    Other,
}

pub fn question(text: &str) -> Question {
    let t = text.to_lowercase();
    if t.contains("draft") || t.contains("wording") || t.contains("write the rule") {
        Question::Drafts
    } else if t.contains("past escalations")
        || t.contains("escalations my agents created")
        || (t.contains("review") && t.contains("escalation"))
    {
        Question::Review
    } else if t.contains("situation") || t.contains("should escalate") || t.contains("moments") {
        Question::Moments
    } else {
        Question::Other
    }
}
