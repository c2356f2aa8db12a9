//! Message Markdown to HTML that is safe to show: model output is untrusted. Raw HTML in the
//! Markdown is shown as text, and ammonia's allow-list removes anything else dangerous
//! (scripts, event handlers, `javascript:` and other non-web links).

use pulldown_cmark::{Event, Options, Parser, html};
use std::sync::LazyLock;

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"));
    b
});

pub fn to_safe_html(markdown: &str) -> String {
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES,
    )
    .map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        other => other,
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, parser);
    CLEANER.clean(&out).to_string()
}

#[cfg(test)]
mod tests {
    use super::to_safe_html;

    #[test]
    fn keeps_formatting() {
        let h = to_safe_html("**Refund** for order #1234\n\n- one\n- two");
        assert!(h.contains("<strong>Refund</strong>"), "{h}");
        assert!(h.contains("<li>one</li>"), "{h}");
    }

    #[test]
    fn raw_html_is_text_and_scripts_never_survive() {
        let h = to_safe_html("hi <script>alert(1)</script> <img src=x onerror=alert(1)>");
        assert!(!h.contains("<script"), "{h}");
        assert!(!h.contains("<img"), "{h}");
        assert!(
            h.contains("&lt;script&gt;"),
            "raw HTML is shown as text: {h}"
        );
    }

    #[test]
    fn javascript_links_are_dropped() {
        let h = to_safe_html("[click](javascript:alert(1)) and [ok](https://example.com)");
        assert!(!h.to_lowercase().contains("javascript:"), "{h}");
        assert!(h.contains(r#"href="https://example.com""#), "{h}");
        assert!(h.contains("noopener"), "{h}");
    }
}
