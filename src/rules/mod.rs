//! The rule compiler: reads an agent's Description and turns the escalation rules it contains
//! into a [`Policy`] that Flare enforces for every provider, plus lint for rules that will
//! misbehave. Pure (no I/O). The server compiles (the guardrail, the agent page's panel as it
//! is typed); the browser uses only the types, so none of the compiler is in the bundle.
//! Every step is a single pass over the text, so it stays linear in the Description's length.

pub mod text;
pub mod understood;

use serde::{Deserialize, Serialize};
use text::{find_run, is_filler, sentences, stems, words};

crate::names::stored_enum! {
    #[derive(PartialOrd, Ord)]
    pub enum Severity as "severity" {
        Info,
        Warning,
        Critical,
    }
}

impl Severity {
    /// The severity of a matching rule that no "Treat … as …" sentence maps.
    pub const DEFAULT: Severity = Severity::Warning;

    /// 0, 1, 2: the order "most severe first" sorts on.
    pub fn rank(self) -> i64 {
        self as i64
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "Info",
            Severity::Warning => "Warning",
            Severity::Critical => "Critical",
        }
    }

    fn from_word(w: &str) -> Option<Self> {
        match w {
            "critical" => Some(Self::Critical),
            "warning" => Some(Self::Warning),
            "info" | "informational" => Some(Self::Info),
            _ => None,
        }
    }
}

/// A phrase to look for, matched on stems ("refunds" matches "refunded").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Term {
    pub text: String,
    pub stems: Vec<String>,
}

impl Term {
    fn new(raw: &str) -> Option<Self> {
        let words = words(raw);
        // Leading articles and quantifiers say nothing: "a lawyer" is "lawyer".
        let start = words
            .iter()
            .position(|w| !matches!(w.as_str(), "a" | "an" | "the" | "any" | "all" | "some"))?;
        // ...and so do trailing links: "terms by" (more than 10%) is "terms".
        let end = words.len()
            - words.iter().rev().position(|w| {
                !matches!(
                    w.as_str(),
                    "by" | "of" | "for" | "to" | "from" | "with" | "on" | "in" | "than" | "at"
                )
            })?;
        let words = &words[start..end.max(start + 1)];
        let text = words.join(" ");
        // Matched on the words that carry meaning: "refund requests" is about refunds, and
        // "threats of legal action" matches "threats of legal action" however it is joined.
        let stems: Vec<String> = stems(&text).into_iter().filter(|s| !is_filler(s)).collect();
        if stems.is_empty() {
            return None;
        }
        Some(Self { text, stems })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Unit {
    Money,
    Percent,
    Number,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Condition {
    /// Escalate when the message contains any of these.
    AnyOf(Vec<Term>),
    /// Escalate when the message is about `subject` and names an amount above `amount`.
    Over {
        /// Meaningful stems, any of which the message must mention.
        subject: Vec<String>,
        /// The subject as written, for people ("refund requests").
        subject_text: String,
        amount: f64,
        unit: Unit,
        /// "at least" rather than "over".
        inclusive: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The sentence it came from, as written.
    pub sentence: String,
    pub condition: Condition,
    /// Steps the Description asks for before escalating ("confirm the order details…").
    pub before_escalating: Vec<String>,
    /// What the reason must include ("a one-sentence summary of the deviation…").
    pub reason_includes: Vec<String>,
    /// "Don't draft a reply yourself — just flag it."
    pub flag_only: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeverityMapping {
    pub subject: Term,
    pub severity: Severity,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LintKind {
    TooVague,
    NeverEscalate,
    MeaninglessImportant,
    NoRule,
    NoFineExample,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lint {
    pub kind: LintKind,
    /// The sentence it is about; empty for lint about the whole Description.
    pub sentence: String,
    pub why: String,
    pub suggestion: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub rules: Vec<Rule>,
    pub severities: Vec<SeverityMapping>,
    /// Outcome-based rules only a model can judge, kept as written and given to the model.
    pub model_judged: Vec<String>,
    /// Examples of what is fine to answer alone.
    pub fine_alone: Vec<String>,
    pub lints: Vec<Lint>,
}

/// How the lexical match compares words: as written (lower-cased), or by their stems.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lexical {
    Words,
    Stems,
}

/// Why a message escalates: the rule, what in the message triggered it, and the severity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleMatch {
    pub rule: usize,
    pub matched: String,
    pub severity: Severity,
}

const OUTCOME_MARKERS: [&str; 8] = [
    "uncomfortable",
    "with confidence",
    "not confident",
    "in doubt",
    "your judgment",
    "your judgement",
    "you're not sure",
    "you are not sure",
];
const VAGUE_MARKERS: [&str; 5] = ["uncertain", "unsure", "not sure", "not certain", "in doubt"];
const LIST_INTROS: [&str; 13] = [
    " involving ",
    " that mentions ",
    " that mention ",
    " mentioning ",
    " mentions ",
    " mention of ",
    " flagged as ",
    " related to ",
    " regarding ",
    " concerning ",
    " about ",
    " containing ",
    " that includes ",
];
const FINE_MARKERS: [&str; 6] = [
    "fine to",
    "on your own",
    "by yourself",
    "no need to escalate",
    "don't need to escalate",
    "ok to answer",
];

/// Compiles a Description into a policy. Never panics; linear in the input.
pub fn compile(description: &str) -> Policy {
    let mut p = Policy::default();
    for sentence in sentences(description) {
        let lower = format!(" {} ", sentence.to_lowercase().replace('\u{2019}', "'"));
        if let Some(lint) = lint_sentence(sentence, &lower) {
            p.lints.push(lint);
            continue;
        }
        if let Some(map) = severity_mapping(&lower) {
            p.severities.push(map);
            continue;
        }
        // Steps, reason requirements and "just flag it" belong to the rule written before them.
        let t = lower.trim();
        if let Some(step) = t
            .strip_prefix("before escalating")
            .or_else(|| t.strip_prefix("before you escalate"))
        {
            let step = step.trim_start_matches([',', ' ']).trim().to_string();
            if let Some(last) = p.rules.last_mut() {
                last.before_escalating.push(step);
            }
            continue;
        }
        if let Some(what) = reason_include(t) {
            if let Some(last) = p.rules.last_mut() {
                last.reason_includes.push(what);
            }
            continue;
        }
        if t.contains("don't draft") || t.contains("do not draft") || t.contains("just flag it") {
            if let Some(last) = p.rules.last_mut() {
                last.flag_only = true;
            }
            continue;
        }
        if FINE_MARKERS.iter().any(|m| t.contains(m)) && !lower.contains(" escalate ") {
            p.fine_alone.push(sentence.to_string());
            continue;
        }
        if !words(t).iter().any(|w| w == "escalate") {
            continue;
        }
        let outcome = OUTCOME_MARKERS.iter().any(|m| t.contains(m));
        let rules = escalation_rules(sentence, &lower, !outcome);
        if outcome || rules.is_empty() {
            // What Flare cannot structure is still a rule: the model is asked to judge it.
            p.model_judged.push(sentence.to_string());
        }
        p.rules.extend(rules);
    }
    // "When in doubt, escalate" beside specific rules is the tutorial's catch-all, not vagueness.
    if !p.rules.is_empty() {
        let (catch_all, rest): (Vec<Lint>, Vec<Lint>) =
            std::mem::take(&mut p.lints).into_iter().partition(|l| {
                l.kind == LintKind::TooVague && l.sentence.to_lowercase().contains("in doubt")
            });
        p.lints = rest;
        p.model_judged
            .extend(catch_all.into_iter().map(|l| l.sentence));
    }
    whole_description_lints(&mut p, description);
    p
}

fn lint_sentence(sentence: &str, lower: &str) -> Option<Lint> {
    let ws = words(lower);
    let has = |w: &str| ws.iter().any(|x| x == w);
    let escalates = ws.iter().any(|w| w.starts_with("escalat"));
    if !escalates {
        return None;
    }
    let negated =
        has("never") || lower.contains("don't escalate") || lower.contains("do not escalate");
    let content: Vec<&String> = ws
        .iter()
        .filter(|w| {
            !is_filler(&text::stem(w))
                && !matches!(
                    w.as_str(),
                    "never"
                        | "don't"
                        | "do"
                        | "not"
                        | "answer"
                        | "respond"
                        | "yourself"
                        | "instead"
                        | "always"
                )
        })
        .collect();
    if negated && content.is_empty() {
        return Some(Lint {
            kind: LintKind::NeverEscalate,
            sentence: sentence.into(),
            why: "Defeats the point: the agent will answer even what must never be answered alone.".into(),
            suggestion: "Always escalate any request involving refunds, account deletions, or threats of legal action.".into(),
        });
    }
    if VAGUE_MARKERS.iter().any(|m| lower.contains(m))
        && content.iter().all(|w| {
            matches!(
                w.as_str(),
                "uncertain"
                    | "unsure"
                    | "sure"
                    | "certain"
                    | "doubt"
                    | "you're"
                    | "you"
                    | "are"
                    | "feel"
            )
        })
    {
        return Some(Lint {
            kind: LintKind::TooVague,
            sentence: sentence.into(),
            why: "Too vague: a model is always a little uncertain, so the agent will escalate constantly.".into(),
            suggestion: "Name the situations instead: \u{201c}Escalate refund requests over $100 and any reply that mentions a lawyer.\u{201d}".into(),
        });
    }
    let vague_word = [
        "important",
        "serious",
        "significant",
        "sensitive",
        "risky",
        "big",
    ]
    .into_iter()
    .find(|w| has(w));
    let catch_all = has("everything") || has("anything") || has("things") || has("stuff");
    if let Some(word) = vague_word.filter(|_| catch_all) {
        return Some(Lint {
            kind: LintKind::MeaninglessImportant,
            sentence: sentence.into(),
            why: format!("\u{201c}{word}\u{201d} means nothing to a model without examples."),
            suggestion: "List what counts: \u{201c}Escalate refunds over $100, contract changes and anything involving legal action.\u{201d}".into(),
        });
    }
    None
}

fn whole_description_lints(p: &mut Policy, description: &str) {
    if description.trim().is_empty() {
        return;
    }
    if p.rules.is_empty() && p.model_judged.is_empty() {
        p.lints.push(Lint {
            kind: LintKind::NoRule,
            sentence: String::new(),
            why: "No escalation rule: this agent will never ask a person, whatever it is asked.".into(),
            suggestion: "Add one, e.g. \u{201c}Always escalate any request involving refunds, account deletions, or threats of legal action.\u{201d}".into(),
        });
    } else if p.fine_alone.is_empty() {
        p.lints.push(Lint {
            kind: LintKind::NoFineExample,
            sentence: String::new(),
            why: "No example of what is fine to answer alone: agents without one tend to escalate everything.".into(),
            suggestion: "Add one, e.g. \u{201c}Questions about shipping times and order status are fine to answer on your own.\u{201d}".into(),
        });
    }
}

/// "Treat refund requests as Critical".
fn severity_mapping(lower: &str) -> Option<SeverityMapping> {
    let trimmed = lower.trim();
    let body = trimmed
        .strip_prefix("treat ")
        .or_else(|| trimmed.strip_prefix("mark "))?;
    let (subject, level) = body.rsplit_once(" as ")?;
    let severity = Severity::from_word(words(level).first()?.as_str())?;
    Some(SeverityMapping {
        subject: Term::new(subject)?,
        severity,
    })
}

fn reason_include(t: &str) -> Option<String> {
    for prefix in [
        "include ",
        "in your reason, include ",
        "in the reason, include ",
        "and explain ",
    ] {
        if let Some(rest) = t.strip_prefix(prefix) {
            return Some(rest.trim().to_string());
        }
    }
    if t.starts_with("explain ") {
        return Some(t.to_string());
    }
    None
}

/// Verbs that begin an instruction inside an escalation sentence ("Escalate any billing
/// dispute and explain what you've already tried"): the list of topics ends before them, so
/// the instruction never becomes a topic. The first group shapes the reason, the second comes
/// before escalating. Words that are also nouns ("state", "note") are left out: "refunds and
/// state taxes" is a list.
const REASON_ASKS: [&str; 7] = [
    "explain",
    "include",
    "describe",
    "summarize",
    "summarise",
    "say",
    "mention",
];
const STEP_ASKS: [&str; 4] = ["check", "confirm", "verify", "ask"];

/// Whether something a rule asks the reason to include is an instruction of its own ("explain
/// what you've already tried") rather than a thing to name ("the order number").
pub fn is_instruction(ask: &str) -> bool {
    starts_with_verb(ask, &REASON_ASKS)
}

fn starts_with_verb(text: &str, verbs: &[&str]) -> bool {
    verbs.iter().any(|v| {
        text.strip_prefix(v)
            .is_some_and(|rest| rest.starts_with(' '))
    })
}

/// Cuts an instruction ("… and explain what you've already tried") off a rule's clause.
fn split_ask(after: &str) -> (&str, Option<&str>) {
    let cut = REASON_ASKS
        .iter()
        .chain(STEP_ASKS.iter())
        .flat_map(|verb| {
            [" and ", ", and ", "; ", ", then ", " then "]
                .into_iter()
                .filter_map(move |joint| {
                    let at = after.find(&format!("{joint}{verb} "))?;
                    Some((at, at + joint.len()))
                })
        })
        .min_by_key(|&(at, _)| at);
    match cut {
        Some((at, ask)) => (&after[..at], Some(after[ask..].trim())),
        None => (after, None),
    }
}

/// The structured rules of one escalation sentence (several when joined by "or any …").
/// `bare` allows a list with no introducing word ("Always escalate refunds and complaints").
fn escalation_rules(sentence: &str, lower: &str, bare: bool) -> Vec<Rule> {
    let after = match lower.find("escalate") {
        Some(i) => &lower[i + "escalate".len()..],
        None => return vec![],
    };
    let (after, ask) = split_ask(after);
    let (mut before_escalating, mut reason_includes) = (vec![], vec![]);
    if let Some(ask) = ask.map(|a| a.trim_end_matches(['.', '!']).trim()) {
        if starts_with_verb(ask, &STEP_ASKS) {
            before_escalating.push(ask.to_string());
        } else {
            reason_includes.push(reason_include(ask).unwrap_or_else(|| ask.to_string()));
        }
    }
    after
        .split(" or any ")
        .filter_map(|clause| clause_condition(&format!(" {} ", clause.trim()), bare))
        .map(|condition| Rule {
            sentence: sentence.to_string(),
            condition,
            before_escalating: before_escalating.clone(),
            reason_includes: reason_includes.clone(),
            flag_only: false,
        })
        .collect()
}

fn clause_condition(clause: &str, bare: bool) -> Option<Condition> {
    if let Some(t) = threshold(clause) {
        return Some(t);
    }
    let introduced = LIST_INTROS
        .iter()
        .filter_map(|intro| clause.find(intro).map(|i| (i, intro.len())))
        .min_by_key(|&(i, _)| i)
        .map(|(i, len)| &clause[i + len..]);
    let list = match introduced {
        Some(list) => list,
        None if bare => clause,
        None => return None,
    };
    // The list ends where a new clause begins.
    let list = [" before ", " unless ", " except ", " so that "]
        .iter()
        .filter_map(|stop| list.find(stop))
        .min()
        .map_or(list, |i| &list[..i]);
    let terms: Vec<Term> = list
        .split([',', '/'])
        .flat_map(|part| part.split(" or "))
        .flat_map(|part| part.split(" and "))
        .filter_map(Term::new)
        .collect();
    (!terms.is_empty()).then_some(Condition::AnyOf(terms))
}

/// "refund requests over $100", "deviates … by more than 10%".
fn threshold(clause: &str) -> Option<Condition> {
    const COMPARISONS: [(&str, bool); 8] = [
        (" more than ", false),
        (" over ", false),
        (" above ", false),
        (" greater than ", false),
        (" exceeding ", false),
        (" exceeds ", false),
        (" at least ", true),
        (" > ", false),
    ];
    let (at, len, inclusive) = COMPARISONS
        .iter()
        .filter_map(|&(c, inc)| clause.find(c).map(|i| (i, c.len(), inc)))
        .min_by_key(|&(i, _, _)| i)?;
    let (amount, unit) = amount_at(&clause[at + len..])?;
    let term = Term::new(&clause[..at])?;
    Some(Condition::Over {
        subject: term.stems,
        subject_text: term.text,
        amount,
        unit,
        inclusive,
    })
}

/// Reads "$1,250.50", "10%", "10 percent", "100 dollars" at the start of `s`.
fn amount_at(s: &str) -> Option<(f64, Unit)> {
    let s = s.trim_start();
    let (money, rest) = match s
        .strip_prefix('$')
        .or_else(|| s.strip_prefix('€'))
        .or_else(|| s.strip_prefix('£'))
    {
        Some(r) => (true, r),
        None => (false, s),
    };
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .collect();
    let digits = digits.trim_end_matches(['.', ',']);
    if digits.is_empty() {
        return None;
    }
    let value: f64 = digits.replace(',', "").parse().ok()?;
    let tail = rest[digits.len()..].trim_start();
    let unit = if money
        || tail.starts_with("dollars")
        || tail.starts_with("usd")
        || tail.starts_with("euros")
    {
        Unit::Money
    } else if tail.starts_with('%') || tail.starts_with("percent") {
        Unit::Percent
    } else {
        Unit::Number
    };
    Some((value, unit))
}

/// Every amount in a message with its unit, in one pass.
fn amounts(message: &str) -> Vec<(f64, Unit)> {
    let mut out = Vec::new();
    let bytes = message.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let starts_number = c.is_ascii_digit()
            && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric() && bytes[i - 1] != b'#');
        if c == b'$' || starts_number {
            // "€100" and "£100": the symbol is the (multi-byte) character before the digits.
            let money = message[..i].ends_with(['\u{20ac}', '\u{a3}']);
            if let Some((v, u)) = amount_at(&message[i..]) {
                out.push((v, if money { Unit::Money } else { u }));
            }
            // Skip past this number.
            i += 1;
            while i < bytes.len()
                && (bytes[i].is_ascii_digit() || bytes[i] == b',' || bytes[i] == b'.')
            {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

impl Policy {
    /// The rules a message triggers, in the order written. Linear in the message for each rule.
    pub fn evaluate(&self, message: &str) -> Vec<RuleMatch> {
        self.evaluate_lexical(message, Lexical::Stems)
    }

    /// [`Policy::evaluate`] with a choice of how words are compared; the guardrail evaluation
    /// prints both, to show what stemming adds.
    pub fn evaluate_lexical(&self, message: &str, mode: Lexical) -> Vec<RuleMatch> {
        // The meaningful words of a phrase and the keys they are compared by (each word is
        // stemmed once: for the filler check and, when comparing stems, as its key).
        let keyed = |phrase: &str| -> (Vec<String>, Vec<String>) {
            words(phrase)
                .into_iter()
                .filter_map(|w| {
                    let stem = text::stem(&w);
                    if is_filler(&stem) {
                        return None;
                    }
                    let key = match mode {
                        Lexical::Words => w.clone(),
                        Lexical::Stems => stem,
                    };
                    Some((w, key))
                })
                .unzip()
        };
        let (msg_words, msg) = keyed(message);
        let lower = message.to_lowercase();
        let mut nums: Option<Vec<(f64, Unit)>> = None;
        let mut out = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            // What in the message triggered the rule, and the stems its severity is read from:
            // every term of the rule the message mentions, not only the first.
            let hit: Option<(String, Vec<String>)> = match &rule.condition {
                Condition::AnyOf(terms) => {
                    let found: Vec<&Term> = terms
                        .iter()
                        .filter(|t| match mode {
                            Lexical::Stems => find_run(&msg, &t.stems).is_some(),
                            Lexical::Words => find_run(&msg, &keyed(&t.text).1).is_some(),
                        })
                        .collect();
                    found.first().map(|first| {
                        let about = found.iter().flat_map(|t| t.stems.clone()).collect();
                        (first.text.clone(), about)
                    })
                }
                Condition::Over {
                    subject,
                    subject_text,
                    amount,
                    unit,
                    inclusive,
                } => {
                    let keys = match mode {
                        Lexical::Stems => subject.clone(),
                        Lexical::Words => keyed(subject_text).1,
                    };
                    // The first word of the message that names the subject, as written.
                    let word = msg
                        .iter()
                        .position(|m| keys.contains(m))
                        .map(|i| msg_words[i].as_str());
                    let nums = nums.get_or_insert_with(|| amounts(&lower));
                    let over = first_past(nums, *amount, *unit, *inclusive);
                    match (word, over) {
                        // Shown as the message wrote it: "refund $250", "deviates 25%".
                        (Some(w), Some((v, u))) => {
                            let about = subject
                                .iter()
                                .filter(|s| msg.contains(s) || mode == Lexical::Words)
                                .cloned()
                                .collect();
                            Some((format!("{w} {}", show_amount(*v, *u)), about))
                        }
                        _ => None,
                    }
                }
            };
            if let Some((matched, about)) = hit {
                out.push(RuleMatch {
                    rule: index,
                    severity: self.severity_of(&about),
                    matched,
                });
            }
        }
        out
    }

    /// The highest severity a rule can escalate with, shown beside it in the editor: the same
    /// mapping `evaluate` applies, over everything the rule triggers on.
    pub fn rule_severity(&self, rule: &Rule) -> Severity {
        let about: Vec<String> = match &rule.condition {
            Condition::AnyOf(terms) => terms.iter().flat_map(|t| t.stems.clone()).collect(),
            Condition::Over { subject, .. } => subject.clone(),
        };
        self.severity_of(&about)
    }

    /// The "Treat … as …" mapping whose subject is among `about` (meaningful stems); the
    /// highest if several apply, else the default.
    pub fn severity_of(&self, about: &[String]) -> Severity {
        self.severities
            .iter()
            .filter(|m| m.subject.stems.iter().any(|s| about.contains(s)))
            .map(|m| m.severity)
            .max()
            .unwrap_or(Severity::DEFAULT)
    }
}

impl Condition {
    /// For a threshold rule, the first amount in `message` past it ("$250" for "over $100").
    pub fn amount_past(&self, message: &str) -> Option<String> {
        let Condition::Over {
            amount,
            unit,
            inclusive,
            ..
        } = self
        else {
            return None;
        };
        first_past(
            &amounts(&message.to_lowercase()),
            *amount,
            *unit,
            *inclusive,
        )
        .map(|(v, u)| show_amount(*v, *u))
    }
}

/// The first of a message's amounts past a threshold rule's (in its unit).
fn first_past(
    amounts: &[(f64, Unit)],
    amount: f64,
    unit: Unit,
    inclusive: bool,
) -> Option<&(f64, Unit)> {
    amounts
        .iter()
        .find(|(v, u)| *u == unit && if inclusive { *v >= amount } else { *v > amount })
}

/// An amount as written in a rule: "$100", "10%", "3".
pub fn show_amount(v: f64, u: Unit) -> String {
    match u {
        Unit::Money => format!("${v}"),
        Unit::Percent => format!("{v}%"),
        Unit::Number => format!("{v}"),
    }
}

#[cfg(test)]
mod tests;
