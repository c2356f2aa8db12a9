//! Text helpers for the rule compiler: sentences, words and tolerant stems. All linear.

/// Splits a Description into sentences at `.`, `!`, `?`, `;` and line breaks. A full stop
/// inside a number ("$100.50") or an abbreviation followed by a lower-case word ("e.g. refunds")
/// does not end a sentence.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, n)| n);
        let ends = match c {
            '!' | '?' | ';' | '\n' => true,
            '.' => match next {
                None => true,
                Some(n) if n.is_ascii_digit() => false,
                Some(n) if n.is_whitespace() => !continues_lowercase(&text[i + 1..]),
                Some(_) => false,
            },
            _ => false,
        };
        if ends {
            push_trimmed(&mut out, &text[start..i]);
            start = i + c.len_utf8();
        }
    }
    push_trimmed(&mut out, &text[start..]);
    out
}

fn continues_lowercase(rest: &str) -> bool {
    rest.trim_start()
        .chars()
        .next()
        .is_some_and(|c| c.is_lowercase())
}

fn push_trimmed<'a>(out: &mut Vec<&'a str>, s: &'a str) {
    let s = s.trim();
    if !s.is_empty() {
        out.push(s);
    }
}

/// Lower-case words: letters, digits and inner hyphens/apostrophes ("enterprise-tier", "don't").
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || ((c == '-' || c == '\'' || c == '\u{2019}') && !cur.is_empty()) {
            if c == '\u{2019}' {
                cur.push('\'');
            } else {
                cur.extend(c.to_lowercase());
            }
        } else if !cur.is_empty() {
            out.push(
                std::mem::take(&mut cur)
                    .trim_end_matches(['-', '\''])
                    .to_string(),
            );
        }
    }
    if !cur.is_empty() {
        out.push(cur.trim_end_matches(['-', '\'']).to_string());
    }
    out.retain(|w| !w.is_empty());
    out
}

/// A word's Snowball (Porter 2) English stem: "refunds", "refunded" and "refunding" all become
/// "refund"; "delete", "deleted" and "deletions" all become "delet". The same stemmer runs on the
/// server and in the browser's preview, so both read a Description alike.
pub fn stem(word: &str) -> String {
    // Building a stemmer only picks the algorithm's function: nothing to cache.
    rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English)
        .stem(word)
        .into_owned()
}

pub fn stems(text: &str) -> Vec<String> {
    words(text).iter().map(|w| stem(w)).collect()
}

/// Words that say nothing about *what* a rule is about.
const FILLER_WORDS: [&str; 58] = [
    "a",
    "an",
    "the",
    "any",
    "all",
    "every",
    "some",
    "that",
    "which",
    "who",
    "is",
    "are",
    "be",
    "of",
    "for",
    "to",
    "from",
    "by",
    "with",
    "on",
    "in",
    "our",
    "your",
    "their",
    "this",
    "these",
    "those",
    "and",
    "or",
    "request",
    "ask",
    "message",
    "reply",
    "customer",
    "someone",
    "anyone",
    "thing",
    "anything",
    "something",
    "one",
    "case",
    "situation",
    "about",
    "there",
    "has",
    "have",
    "had",
    "than",
    "more",
    "over",
    "above",
    "always",
    "escalate",
    "just",
    "when",
    "if",
    "where",
    "whose",
];

/// Whether a stem is one of the filler words' stems (so "requests" and "customers" are filler too).
pub fn is_filler(stem: &str) -> bool {
    static FILLER: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    FILLER
        .get_or_init(|| FILLER_WORDS.iter().map(|w| self::stem(w)).collect())
        .iter()
        .any(|f| f == stem)
}

/// Finds `needle` (a run of stems) in `hay`; returns the index of its first stem.
pub fn find_run(hay: &[String], needle: &[String]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len()).find(|&i| hay[i..i + needle.len()] == *needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_on_stops_but_not_inside_numbers() {
        assert_eq!(
            sentences(
                "Escalate refunds over $100.50. Treat refunds as Critical; treat the rest as Info.\nBe kind!"
            ),
            vec![
                "Escalate refunds over $100.50",
                "Treat refunds as Critical",
                "treat the rest as Info",
                "Be kind",
            ]
        );
        assert_eq!(
            sentences("Escalate e.g. refunds. Done."),
            vec!["Escalate e.g. refunds", "Done"]
        );
        assert!(sentences("  \n ;; ").is_empty());
    }

    #[test]
    fn stems_join_the_forms_of_a_word() {
        let same = |forms: &[&str]| {
            let first = stem(forms[0]);
            for w in forms {
                assert_eq!(stem(&w.to_lowercase()), first, "{w} and {}", forms[0]);
            }
        };
        same(&["refund", "refunds", "refunded", "refunding", "Refunds"]);
        same(&["delete", "deleted", "deletes", "deletion", "deletions"]);
        same(&["attorney", "attorneys"]);
        same(&["company", "companies"]);
        same(&["threat", "threats"]);
        assert_ne!(stem("legal"), stem("legally-binding"));
        assert_eq!(stem("customer's"), stem("customer"));
    }

    #[test]
    fn filler_covers_every_form_of_its_words() {
        for w in [
            "requests",
            "customers",
            "replies",
            "messages",
            "things",
            "the",
        ] {
            assert!(is_filler(&stem(w)), "{w}");
        }
        for w in ["refunds", "lawyer", "account", "deletion"] {
            assert!(!is_filler(&stem(w)), "{w}");
        }
    }

    #[test]
    fn words_keep_inner_hyphens_and_apostrophes() {
        assert_eq!(
            words("Enterprise-tier, don’t—flag it."),
            vec!["enterprise-tier", "don't", "flag", "it"]
        );
    }
}
