//! The web client: its built files (from `http.web_dir`, else embedded in a release binary),
//! the single-page fallback (`index.html` for every browser path that is not an API or media
//! route), the OpenGraph/Twitter/oEmbed tags of pages others link to, `/services/oembed`, and the
//! Content-Security-Policy that lets only the client's own scripts run.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use flotilla_app::App;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// Paths the fallback never answers with the client: a mistyped API or media URL gets a 404 its
/// caller can understand, not an HTML page.
const NOT_CLIENT: [&str; 6] = ["/api/", "/static/", "/lazy-static/", "/tracker/", "/.well-known/", "/nodeinfo/"];

struct Asset {
    bytes: Bytes,
    /// The `.gz` sibling the build made (`precompress`), sent to clients that accept gzip.
    gzip: Option<Bytes>,
    content_type: &'static str,
    /// Worked out when the file is first asked for (see [`WebClient`]).
    etag: OnceLock<String>,
}

impl Asset {
    fn etag(&self) -> &str {
        self.etag.get_or_init(|| format!("\"{}\"", &hex(&Sha256::digest(&self.bytes))[..20]))
    }
}

/// The loaded client. `index` is the SPA shell, `script_hashes` the CSP sources of its inline
/// scripts, `style_hashes` those of the style attributes its code writes as markup. The files'
/// ETags and the style hashes (a read of every script) are worked out when first needed: an
/// instance whose traffic is the API and federation never reads the client's 1.5 MB, which a
/// release binary embeds, so those pages of the binary stay out of its memory (bench row 1).
pub struct WebClient {
    files: HashMap<String, Asset>,
    index: String,
    script_hashes: String,
    style_hashes: OnceLock<String>,
}

impl WebClient {
    fn style_hashes(&self) -> &str {
        self.style_hashes.get_or_init(|| {
            let mut styles: Vec<&str> = self
                .files
                .iter()
                .filter(|(name, _)| name.starts_with("_app/immutable/") && name.ends_with(".js"))
                .flat_map(|(_, a)| style_attributes(std::str::from_utf8(&a.bytes).unwrap_or("")))
                .collect();
            styles.sort_unstable();
            styles.dedup();
            styles.iter().map(|s| csp_hash(s)).collect::<Vec<_>>().join(" ")
        })
    }
}

/// Shared with handlers through an `Extension`: `None` when this binary has no client.
#[derive(Clone, Default)]
pub struct Web(pub Option<Arc<WebClient>>);

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map_or("", |(_, e)| e) {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        "webp" => "image/webp",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

impl WebClient {
    /// From `dir` when set (an error if it holds no `index.html`), else the embedded files.
    pub fn load(dir: &str) -> Result<Option<WebClient>, String> {
        let mut raw: Vec<(String, Bytes)> = Vec::new();
        if dir.is_empty() {
            // Served from the binary's own pages, not copied to the heap: the copies were ~2 MB of
            // the idle process's memory (bench row 1), and a `.gz` sibling is read only when sent.
            raw.extend(embedded::FILES.iter().map(|(n, b)| (n.to_string(), Bytes::from_static(b))));
        } else {
            let root = Path::new(dir);
            if !root.join("index.html").is_file() {
                return Err(format!("http.web_dir {dir}: no index.html there (build the client with `npm run build`)"));
            }
            let mut read = Vec::new();
            read_tree(root, root, &mut read).map_err(|e| format!("http.web_dir {dir}: {e}"))?;
            raw.extend(read.into_iter().map(|(n, b)| (n, Bytes::from(b))));
        }
        if raw.is_empty() {
            return Ok(None);
        }
        let mut gz: HashMap<String, Bytes> = HashMap::new();
        let mut files = HashMap::new();
        for (name, bytes) in raw {
            if let Some(orig) = name.strip_suffix(".gz") {
                gz.insert(orig.to_string(), bytes);
                continue;
            }
            if name.ends_with(".br") {
                continue;
            }
            files.insert(
                name.clone(),
                Asset { content_type: content_type(&name), bytes, gzip: None, etag: OnceLock::new() },
            );
        }
        for (name, g) in gz {
            if let Some(a) = files.get_mut(&name) {
                a.gzip = Some(g);
            }
        }
        let index = files
            .get("index.html")
            .map(|a| String::from_utf8_lossy(&a.bytes).into_owned())
            .ok_or("the web client has no index.html")?;
        let script_hashes = inline_scripts(&index).iter().map(|s| csp_hash(s)).collect::<Vec<_>>().join(" ");
        Ok(Some(WebClient { files, index, script_hashes, style_hashes: OnceLock::new() }))
    }
}

fn read_tree(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let path = e?.path();
        if path.is_dir() {
            read_tree(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push((rel.to_string_lossy().replace('\\', "/"), std::fs::read(&path)?));
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn csp_hash(s: &str) -> String {
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes())))
}

/// The values of `style="…"` attributes in the markup the client's code builds (Svelte templates;
/// SvelteKit's route announcer is one): the only inline styles the policy lets through, by hash.
fn style_attributes(js: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = js;
    while let Some(at) = rest.find("style=\"") {
        let value = &rest[at + 7..];
        let Some(end) = value.find('"') else { break };
        if !value[..end].contains(['{', '$', '\\']) {
            out.push(&value[..end]);
        }
        rest = &value[end..];
    }
    out
}

/// The bodies of `<script>` elements without `src`, exactly as the browser hashes them.
fn inline_scripts(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(open_end) = after.find('>') else { break };
        let tag = &after[..open_end];
        let body_start = start + open_end + 1;
        let Some(close) = rest[body_start..].find("</script>") else { break };
        if !tag.contains(" src=") {
            out.push(&rest[body_start..body_start + close]);
        }
        rest = &rest[body_start + close + "</script>".len()..];
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The policy of every client page. Media and images may come from other instances (federated
/// videos play from their origin); scripts only from here and the shell's own inline scripts.
fn csp(app: &App, hashes: &str, style_hashes: &str, embed: bool) -> String {
    let remote = if app.config.federation.allow_private { "https: http:" } else { "https:" };
    let sockets = if app.config.federation.allow_private { "wss: ws:" } else { "wss:" };
    format!(
        "default-src 'self'; script-src 'self' {hashes}; style-src 'self' {styles}; \
         img-src 'self' data: blob: {remote}; media-src 'self' blob: {remote}; \
         connect-src 'self' {remote} {sockets}; worker-src 'self' blob:; font-src 'self'; object-src 'none'; \
         base-uri 'self'; form-action 'self'; frame-ancestors {}",
        if embed { "*" } else { "'self'" },
        styles = if style_hashes.is_empty() { String::new() } else { format!("'unsafe-hashes' {style_hashes}") },
    )
}

fn page_headers(app: &App, script_hashes: &str, style_hashes: &str, path: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Accept"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    let policy = csp(app, script_hashes, style_hashes, path.starts_with("/videos/embed/"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(&policy).expect("ascii policy"));
    h
}

/// The shell with `head` (already escaped tags) in place of its own `<title>`.
fn shell(index: &str, head: &str) -> String {
    let mut html = index.to_string();
    if head.is_empty() {
        return html;
    }
    if head.contains("<title>")
        && let (Some(a), Some(b)) = (html.find("<title>"), html.find("</title>"))
        && a < b
    {
        html.replace_range(a..b + "</title>".len(), "");
    }
    match html.find("</head>") {
        Some(i) => html.insert_str(i, head),
        None => html.insert_str(0, head),
    }
    html
}

/// A page of the client: the shell, with meta tags when `path` is a page others link to.
/// Answers 404 (still the shell, which shows its own message) for a video, channel or account
/// that does not exist.
pub async fn page(app: &App, web: &Web, path: &str) -> Response {
    let (status, head) = match meta_for(app, path).await {
        Meta::None => (StatusCode::OK, String::new()),
        Meta::Missing => (StatusCode::NOT_FOUND, String::new()),
        Meta::Tags(t) => (StatusCode::OK, t),
    };
    let (index, hashes, styles) = match web.0.as_deref() {
        Some(c) => (c.index.as_str(), c.script_hashes.as_str(), c.style_hashes()),
        None => (NO_CLIENT, "", ""),
    };
    (status, page_headers(app, hashes, styles, path), shell(index, &head)).into_response()
}

/// The page of a binary built without the client (debug builds with no `http.web_dir`): still
/// HTML, still with the metadata of the page.
const NO_CLIENT: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Flotilla</title></head>\
<body><p>This Flotilla binary was built without its web client. The API is at <a href=\"/api/v1/config\">/api/v1</a>.</p>\
</body></html>";

enum Meta {
    /// Not a page with its own metadata.
    None,
    /// A video, channel or account page whose subject does not exist (or is not public).
    Missing,
    Tags(String),
}

async fn meta_for(app: &App, path: &str) -> Meta {
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match seg.as_slice() {
        ["w", id] | ["videos", "watch", id] | ["videos", "embed", id] => video_meta(app, id).await,
        ["c", handle] | ["video-channels", handle] | ["c", handle, _] => actor_meta(app, handle, true).await,
        ["a", name] | ["accounts", name] | ["a", name, _] => actor_meta(app, name, false).await,
        _ => Meta::None,
    }
}

fn tag(property: &str, content: &str) -> String {
    let attr = if property.starts_with("og:") { "property" } else { "name" };
    format!("<meta {attr}=\"{property}\" content=\"{}\">", escape(content))
}

fn plain_text(s: &str, max: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

async fn video_meta(app: &App, id: &str) -> Meta {
    let Ok(v) = flotilla_app::video::get(app, None, id, &flotilla_app::video::passwords::Attempt::none()).await else {
        return Meta::Missing;
    };
    let base = app.public.base();
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let name = s("name");
    let watch = format!("{base}/w/{}", s("shortUUID"));
    let embed = format!("{base}/videos/embed/{}", s("uuid"));
    let description = plain_text(&s("description"), 200);
    let image = v.get("previewPath").and_then(Value::as_str).map(|p| format!("{base}{p}"));
    let site = app.settings().name.clone();
    let mut head = format!("<title>{} - {}</title>", escape(&name), escape(&site));
    head += &tag("description", &description);
    for (k, val) in [
        ("og:type", "video.other"),
        ("og:site_name", &site),
        ("og:title", &name),
        ("og:description", &description),
        ("og:url", &watch),
        ("og:video:url", &embed),
        ("og:video:secure_url", &embed),
        ("og:video:type", "text/html"),
        ("og:video:width", "1280"),
        ("og:video:height", "720"),
        ("twitter:card", "player"),
        ("twitter:title", &name),
        ("twitter:description", &description),
        ("twitter:player", &embed),
        ("twitter:player:width", "1280"),
        ("twitter:player:height", "720"),
    ] {
        head += &tag(k, val);
    }
    if let Some(img) = &image {
        // The player's poster is the page's largest paint: fetch it while the scripts load.
        head += &format!("<link rel=\"preload\" as=\"image\" href=\"{}\" fetchpriority=\"high\">", escape(img));
        head += &tag("og:image", img);
        head += &tag("og:image:width", "850");
        head += &tag("og:image:height", "480");
        head += &tag("twitter:image", img);
    }
    if v.pointer("/privacy/id").and_then(Value::as_i64) != Some(1) {
        head += &tag("robots", "noindex");
    }
    let query = serde_urlencoded::to_string([("url", &watch)]).unwrap_or_default();
    let oembed = format!("{base}/services/oembed?{query}");
    head += &format!(
        "<link rel=\"alternate\" type=\"application/json+oembed\" href=\"{}\" title=\"{}\">",
        escape(&oembed),
        escape(&name)
    );
    head += &format!("<link rel=\"canonical\" href=\"{}\">", escape(&watch));
    if let Some(url) = v.get("url").and_then(Value::as_str) {
        head += &format!("<link rel=\"alternate\" type=\"application/activity+json\" href=\"{}\">", escape(url));
    }
    head +=
        &feed_link(&format!("{base}/feeds/video-comments.xml?videoId={}", s("uuid")), &format!("{name} - Comments"));
    Meta::Tags(head)
}

/// A `<link rel="alternate">` to an RSS feed (readers find feeds by it).
fn feed_link(href: &str, title: &str) -> String {
    format!(
        "<link rel=\"alternate\" type=\"application/rss+xml\" href=\"{}\" title=\"{}\">",
        escape(href),
        escape(title)
    )
}

async fn actor_meta(app: &App, handle: &str, channel: bool) -> Meta {
    let (v, url) = if channel {
        let Ok(c) = flotilla_app::channel::get_by_handle(app, handle).await else { return Meta::Missing };
        let Ok(v) = flotilla_app::channel::view(app, &c).await else { return Meta::Missing };
        let url = format!("{}/c/{}", app.public.base(), handle);
        (v, url)
    } else {
        let Ok(a) = flotilla_app::account::get_by_handle(app, handle).await else { return Meta::Missing };
        let Ok(v) = flotilla_app::account::view(app, &a).await else { return Meta::Missing };
        let url = format!("{}/a/{}", app.public.base(), handle);
        (v, url)
    };
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let name = s("displayName");
    let description = plain_text(&s("description"), 200);
    let site = app.settings().name.clone();
    let mut head = format!("<title>{} - {}</title>", escape(&name), escape(&site));
    head += &tag("description", &description);
    for (k, val) in [
        ("og:type", "profile"),
        ("og:site_name", &site),
        ("og:title", &name),
        ("og:description", &description),
        ("og:url", &url),
        ("twitter:card", "summary"),
        ("twitter:title", &name),
        ("twitter:description", &description),
    ] {
        head += &tag(k, val);
    }
    if let Some(img) = v.pointer("/avatars/0/fileUrl").and_then(Value::as_str) {
        head += &tag("og:image", img);
        head += &tag("twitter:image", img);
    }
    head += &format!("<link rel=\"canonical\" href=\"{}\">", escape(&url));
    if let Some(ap) = v.get("url").and_then(Value::as_str) {
        head += &format!("<link rel=\"alternate\" type=\"application/activity+json\" href=\"{}\">", escape(ap));
    }
    let base = app.public.base();
    let id = v.get("id").and_then(Value::as_i64).unwrap_or_default();
    if channel {
        head += &feed_link(&format!("{base}/feeds/videos.xml?videoChannelId={id}"), &name);
        if v.get("isLocal").and_then(Value::as_bool) == Some(true) {
            head += &feed_link(
                &format!("{base}/feeds/podcast/videos.xml?videoChannelId={id}"),
                &format!("{name} - Podcast"),
            );
        }
    } else {
        head += &feed_link(&format!("{base}/feeds/videos.xml?accountId={id}"), &name);
    }
    Meta::Tags(head)
}

fn asset_response(a: &Asset, name: &str, req: &HeaderMap) -> Response {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.content_type));
    let cache = if name.starts_with("_app/immutable/") {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::ETAG, HeaderValue::from_str(a.etag()).expect("ascii etag"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if req.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(a.etag()) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    match &a.gzip {
        Some(g) if crate::compress::accepts_gzip(req) => {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            (h, g.clone()).into_response()
        }
        _ => (h, a.bytes.clone()).into_response(),
    }
}

/// The router's fallback: a client file, the client shell for a browser path, or a 404.
pub async fn fallback(app: &App, web: &Web, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let plain_404 = || (StatusCode::NOT_FOUND, "Not found\n").into_response();
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return plain_404();
    }
    if NOT_CLIENT.iter().any(|p| path.starts_with(p)) {
        return plain_404();
    }
    let Some(client) = web.0.as_deref() else { return page(app, web, &path).await };
    let name = path.trim_start_matches('/');
    if name != "index.html"
        && let Some(a) = client.files.get(name)
    {
        return asset_response(a, name, req.headers());
    }
    // A missing script or image is a 404, not a page: a stale tab asking for an old chunk must
    // fail loudly rather than parse HTML as JavaScript.
    if name.starts_with("_app/") || name.rsplit('/').next().is_some_and(|last| last.contains('.')) {
        return plain_404();
    }
    page(app, web, &path).await
}

#[derive(Deserialize)]
pub struct OembedQuery {
    url: Option<String>,
    format: Option<String>,
    maxwidth: Option<u32>,
    maxheight: Option<u32>,
}

/// `GET /services/oembed?url=`: the embed iframe of one of our videos, as PeerTube answers it.
pub async fn oembed(State(app): State<Arc<App>>, Query(q): Query<OembedQuery>) -> Result<Response, ApiError> {
    let url =
        q.url.filter(|u| !u.is_empty()).ok_or_else(|| ApiError::invalid("url", "the url parameter is required"))?;
    if q.format.as_deref().is_some_and(|f| f != "json") {
        return Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, "oembed_format", "only the json format is supported"));
    }
    let base = app.public.base();
    let path = url.strip_prefix(base.as_str()).filter(|p| p.starts_with('/')).ok_or_else(|| {
        ApiError::invalid("url", format!("the url must be a video page of this instance ({base}/w/…)"))
    })?;
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let id = path
        .strip_prefix("/w/")
        .or_else(|| path.strip_prefix("/videos/watch/"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(|| ApiError::invalid("url", "the url must be a video page (/w/… or /videos/watch/…)"))?;
    let v = flotilla_app::video::get(&app, None, id, &flotilla_app::video::passwords::Attempt::none()).await?;
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
    let width = q.maxwidth.unwrap_or(560).min(1920);
    let height = q.maxheight.unwrap_or(315).min(1080);
    let embed = format!("{base}/videos/embed/{}", s("/uuid"));
    let html = format!(
        "<iframe width=\"{width}\" height=\"{height}\" sandbox=\"allow-same-origin allow-scripts allow-popups allow-forms\" \
         title=\"{}\" src=\"{}\" style=\"border: 0px;\" allow=\"fullscreen\"></iframe>",
        escape(&s("/name")),
        escape(&embed)
    );
    let mut body = json!({
        "type": "video",
        "version": "1.0",
        "html": html,
        "width": width,
        "height": height,
        "title": s("/name"),
        "author_name": s("/channel/displayName"),
        "author_url": s("/channel/url"),
        "provider_name": app.settings().name.clone(),
        "provider_url": base,
    });
    if let Some(p) = v.get("previewPath").and_then(Value::as_str) {
        body["thumbnail_url"] = json!(format!("{base}{p}"));
        body["thumbnail_width"] = json!(850);
        body["thumbnail_height"] = json!(480);
    }
    Ok(Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_inline_scripts_only() {
        let html = "<head><script type=\"module\" src=\"/a.js\"></script><script>var a = 1;</script></head>\
                    <body><script>\n{ b() }\n</script></body>";
        assert_eq!(inline_scripts(html), vec!["var a = 1;", "\n{ b() }\n"]);
    }

    #[test]
    fn text_is_flattened_and_cut() {
        assert_eq!(plain_text("a\n\n b", 10), "a b");
        assert_eq!(plain_text("abcdefghijkl", 5), "abcd…");
    }
}
