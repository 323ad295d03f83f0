//! Text that users write and others read: Markdown rendered to HTML and sanitized here, on the
//! server, so no client ever inserts a user's raw HTML (stored XSS, Lemmy 2023).

use std::sync::OnceLock;

use pulldown_cmark::{Options, Parser, html};

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static B: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        // Remote images in descriptions would tell another server who watches what.
        b.rm_tags(["img"]);
        b.link_rel(Some("noopener noreferrer nofollow ugc"));
        b.url_schemes(["http", "https", "mailto"].into_iter().collect());
        b
    })
}

/// Markdown → sanitized HTML.
pub fn markdown_to_html(src: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TABLES);
    let mut raw = String::with_capacity(src.len() * 2);
    html::push_html(&mut raw, Parser::new_ext(src, opts));
    sanitizer().clean(&raw).to_string()
}

/// HTML from another server (a Mastodon or Misskey post) → plain text: paragraphs and line
/// breaks become new lines, every tag goes, the text of links and mentions stays (`@name`),
/// entities are decoded. Parsed by html5ever (through ammonia), never by hand.
pub fn html_to_text(src: &str) -> String {
    static B: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    let b = B.get_or_init(|| {
        let mut b = ammonia::Builder::empty();
        // Keeps the text of every tag but these, whose content is not text to read.
        b.clean_content_tags(["script", "style", "template"].into_iter().collect());
        b
    });
    // Line breaks and paragraph ends become markers the cleaner keeps as text.
    let marked = src
        .replace("<br>", "\u{E000}")
        .replace("<br/>", "\u{E000}")
        .replace("<br />", "\u{E000}")
        .replace("</p>", "</p>\u{E000}\u{E000}");
    let cleaned = b.clean(&marked).to_string();
    let text = cleaned
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace('\u{E000}', "\n");
    text.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::{html_to_text, markdown_to_html};

    #[test]
    fn html_from_other_servers_becomes_plain_text() {
        let mastodon = r#"<p><span class="h-card" translate="no"><a href="https://v.example/accounts/root" class="u-url mention">@<span>root</span></a></span> Nice &amp; short<br>second line</p><p>Next <a href="https://x.example/p?a=1&amp;b=2">link</a> 🎉</p>"#;
        assert_eq!(html_to_text(mastodon), "@root Nice & short\nsecond line\n\nNext link 🎉");
        assert_eq!(html_to_text("<script>alert(1)</script>hi <b>&lt;b&gt;</b>"), "hi <b>");
        assert_eq!(html_to_text("plain"), "plain");
    }

    #[test]
    fn markdown_is_rendered() {
        assert_eq!(markdown_to_html("A *generated* clip"), "<p>A <em>generated</em> clip</p>\n");
        assert!(markdown_to_html("[site](https://example.org)").contains("rel=\"noopener noreferrer nofollow ugc\""));
    }

    #[test]
    fn scripts_handlers_and_bad_links_are_removed() {
        let out = markdown_to_html(
            "<script>alert(1)</script>\n\n<b onclick=\"x()\">hi</b>\n\n[x](javascript:alert(1))\n\n![i](https://t.example/p.png)",
        );
        assert!(!out.contains("<script"), "{out}");
        assert!(!out.contains("onclick"), "{out}");
        assert!(!out.contains("href=\"javascript"), "{out}");
        assert!(!out.contains("<img"), "{out}");
        assert!(out.contains("<b>hi</b>"), "{out}");

        // Other ways in (security-cases 17): a data: link, handlers on SVG and on an image whose
        // source fails, a CSS expression, and a tag left open to swallow what follows.
        let cases = [
            ("[x](data:text/html,<script>alert(1)</script>)", "data link"),
            ("<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>", "data href"),
            ("<svg onload=\"alert(1)\"><circle r=\"1\"/></svg>", "svg onload"),
            ("<img src=x onerror=\"alert(1)\">", "img onerror"),
            ("<p style=\"background:expression(alert(1))\">styled</p>", "css expression"),
            ("<b>unclosed\n\n<i onmouseover=\"alert(1)\">after</i>", "unclosed tag"),
        ];
        for (src, what) in cases {
            let out = markdown_to_html(src);
            let lower = out.to_ascii_lowercase();
            for bad in ["<script", "<svg", "<img", "<iframe", "<object", "<embed", "<style", "style=", "expression("] {
                assert!(!lower.contains(bad), "{what}: {bad} survives in {out}");
            }
            for bad in ["href=\"data:", "src=", "javascript:"] {
                assert!(!lower.contains(bad), "{what}: {bad} survives in {out}");
            }
            // No event handler attribute of any name: ` on…=` inside a tag.
            let in_tags: String =
                out.split('<').skip(1).filter_map(|t| t.split('>').next()).collect::<Vec<_>>().join(" ");
            assert!(!in_tags.to_ascii_lowercase().contains(" on"), "{what}: a handler survives in {out}");
        }
        // The unclosed tag is closed by the sanitizer: the bold text is kept and ends.
        let out = markdown_to_html("<b>unclosed\n\nafter");
        assert_eq!(out.matches("<b>").count(), out.matches("</b>").count(), "{out}");
        assert!(out.contains("unclosed") && out.contains("after"), "{out}");
    }
}
