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

#[cfg(test)]
mod tests {
    use super::markdown_to_html;

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
    }
}
