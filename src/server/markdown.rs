//! Message Markdown to HTML that is safe to show: model output is untrusted. Raw HTML in the
//! Markdown is shown as text, and ammonia's allow-list removes anything else dangerous
//! (scripts, event handlers, `javascript:` and other non-web links). Images become links:
//! a remote `<img>` would make every reader's browser fetch a URL the model chose (a tracking
//! pixel, or data smuggled out in the URL).

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, html};
use std::sync::LazyLock;

static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::default();
    b.url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .rm_tags(["img"]);
    b
});

pub fn to_safe_html(markdown: &str) -> String {
    // The image being turned into a link: its URL, and whether it had any alt text to show.
    let mut image: Option<(CowStr<'_>, bool)> = None;
    let parser = Parser::new_ext(
        markdown,
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES,
    )
    .flat_map(move |e| match e {
        Event::Html(t) | Event::InlineHtml(t) => vec![Event::Text(t)],
        Event::Start(Tag::Image {
            dest_url, title, ..
        }) => {
            image = Some((dest_url.clone(), false));
            vec![Event::Start(Tag::Link {
                link_type: LinkType::Inline,
                dest_url,
                title,
                id: CowStr::Borrowed(""),
            })]
        }
        Event::End(TagEnd::Image) => match image.take() {
            // No alt text: the URL itself is the link's text.
            Some((url, false)) => vec![Event::Text(url), Event::End(TagEnd::Link)],
            _ => vec![Event::End(TagEnd::Link)],
        },
        Event::Text(t) => {
            if let Some((_, had_text)) = image.as_mut() {
                *had_text = true;
            }
            vec![Event::Text(t)]
        }
        other => vec![other],
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
    fn images_never_load_they_show_as_links() {
        for md in [
            "![pixel](https://tracker.example/p.png?secret=1)",
            "![](https://tracker.example/p.png)",
            "![a][r]\n\n[r]: https://tracker.example/r.png",
            "<img src=\"https://tracker.example/raw.png\">",
        ] {
            let h = to_safe_html(md);
            assert!(!h.contains("<img"), "{md}: nothing to fetch: {h}");
        }
        for md in [
            "![pixel](https://tracker.example/p.png?secret=1)",
            "![](https://tracker.example/p.png)",
        ] {
            assert!(!to_safe_html(md).contains("src="), "{md}");
        }
        let h = to_safe_html("![pixel](https://tracker.example/p.png)");
        assert!(
            h.contains(r#"href="https://tracker.example/p.png""#) && h.contains(">pixel</a>"),
            "{h}"
        );
        let h = to_safe_html("![](https://tracker.example/p.png)");
        assert!(h.contains(">https://tracker.example/p.png</a>"), "{h}");
    }

    #[test]
    fn javascript_links_are_dropped() {
        let h = to_safe_html("[click](javascript:alert(1)) and [ok](https://example.com)");
        assert!(!h.to_lowercase().contains("javascript:"), "{h}");
        assert!(h.contains(r#"href="https://example.com""#), "{h}");
        assert!(h.contains("noopener"), "{h}");
    }
}
