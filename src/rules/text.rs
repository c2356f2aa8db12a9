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

/// A tolerant stem: "refunds", "refunded" and "refunding" all become "refund";
/// "deletions" becomes "deletion"; "companies" becomes "company".
pub fn stem(word: &str) -> String {
    let w = word.strip_suffix("'s").unwrap_or(word);
    let n = w.chars().count();
    let cut = |suffix: &str, add: &str| format!("{}{}", &w[..w.len() - suffix.len()], add);
    if n > 4 && w.ends_with("ies") {
        cut("ies", "y")
    } else if n > 5 && w.ends_with("ing") {
        cut("ing", "")
    } else if n > 4 && w.ends_with("ed") && !w.ends_with("eed") {
        cut("ed", "")
    } else if n > 3
        && (w.ends_with("sses") || w.ends_with("xes") || w.ends_with("ches") || w.ends_with("shes"))
    {
        cut("es", "")
    } else if n > 3
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
    {
        cut("s", "")
    } else {
        w.to_string()
    }
}

pub fn stems(text: &str) -> Vec<String> {
    words(text).iter().map(|w| stem(w)).collect()
}

/// Words that say nothing about *what* a rule is about.
pub fn is_filler(stem: &str) -> bool {
    matches!(
        stem,
        "a" | "an"
            | "the"
            | "any"
            | "all"
            | "every"
            | "some"
            | "that"
            | "which"
            | "who"
            | "is"
            | "are"
            | "be"
            | "of"
            | "for"
            | "to"
            | "from"
            | "by"
            | "with"
            | "on"
            | "in"
            | "our"
            | "your"
            | "their"
            | "this"
            | "these"
            | "those"
            | "and"
            | "or"
            | "request"
            | "ask"
            | "message"
            | "reply"
            | "customer"
            | "someone"
            | "anyone"
            | "thing"
            | "anything"
            | "something"
            | "one"
            | "case"
            | "situation"
            | "about"
            | "there"
            | "has"
            | "have"
            | "had"
            | "than"
            | "more"
            | "over"
            | "above"
            | "always"
            | "escalate"
            | "just"
            | "when"
            | "if"
            | "where"
            | "whose"
            | "'s"
    )
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
    fn stems_are_tolerant() {
        for w in ["refund", "refunds", "refunded", "refunding", "Refunds"] {
            assert_eq!(stem(&w.to_lowercase()), "refund", "{w}");
        }
        assert_eq!(stem("deletions"), "deletion");
        assert_eq!(stem("attorneys"), "attorney");
        assert_eq!(stem("companies"), "company");
        assert_eq!(stem("process"), "process");
        assert_eq!(stem("status"), "status");
        assert_eq!(stem("customer's"), "customer");
    }

    #[test]
    fn words_keep_inner_hyphens_and_apostrophes() {
        assert_eq!(
            words("Enterprise-tier, don’t—flag it."),
            vec!["enterprise-tier", "don't", "flag", "it"]
        );
    }
}
