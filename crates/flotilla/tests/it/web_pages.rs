//! What the server does for the web client, with a stand-in build of it: its files, the page
//! shell for browser paths, metadata of pages others link to, oEmbed, the CSP, and the refresh
//! token kept in an HttpOnly cookie. (The client itself is tested in a browser: web/tests.)

use std::path::Path;

use base64::Engine as _;
use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::Value;
use flotilla_testkit::{Backend, TestInstance, clip, db_tests};
use sha2::{Digest, Sha256};

db_tests!(
    the_client_is_served_with_metadata_and_a_strict_policy,
    the_refresh_token_can_live_in_an_httponly_cookie,
    an_https_instance_marks_the_refresh_cookie_secure,
);

const ANNOUNCER_STYLE: &str = "position: absolute; left: 0; top: 0; width: 1px; height: 1px";
const SHELL_SCRIPT: &str = "\n\t\t\t{ import(\"/_app/immutable/entry/start.js\"); }\n\t\t";

fn fake_client(dir: &Path) -> String {
    let root = dir.join("web");
    std::fs::create_dir_all(root.join("_app/immutable/entry")).unwrap();
    std::fs::write(
        root.join("index.html"),
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Flotilla</title>\
             <link rel=\"modulepreload\" href=\"/_app/immutable/entry/start.js\"></head>\
             <body><div id=\"app\"></div><script>{SHELL_SCRIPT}</script></body></html>"
        ),
    )
    .unwrap();
    std::fs::write(root.join("_app/immutable/entry/start.js"), "console.log('start')").unwrap();
    std::fs::write(
        root.join("_app/immutable/entry/app.js"),
        format!("const t = '<div id=\"svelte-announcer\" style=\"{ANNOUNCER_STYLE}\"></div>';"),
    )
    .unwrap();
    std::fs::write(root.join("_app/immutable/entry/start.js.gz"), b"\x1f\x8bnot-really-gzip").unwrap();
    std::fs::write(root.join("favicon.png"), flotilla_testkit::png(16, 16)).unwrap();
    root.to_string_lossy().into_owned()
}

async fn get(
    t: &TestInstance,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let mut req = t.api.http.get(t.api.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let (status, h) = (resp.status(), resp.headers().clone());
    (status, h, resp.text().await.unwrap())
}

async fn the_client_is_served_with_metadata_and_a_strict_policy(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let web_dir = fake_client(dir.path());
    let t = TestInstance::start_with(backend, |c| {
        c.http.web_dir = web_dir.clone();
        c.transcoding.resolutions = vec![240];
    })
    .await;

    // Browser paths get the shell, with a CSP allowing exactly its inline script.
    let expected_hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(SHELL_SCRIPT.as_bytes()));
    for path in ["/", "/videos/upload", "/my-library/videos", "/admin/users", "/search?search=x", "/login"] {
        let (status, h, body) = get(&t, path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(body.contains("<div id=\"app\">"), "{path}: {body}");
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains(&format!("script-src 'self' 'sha256-{expected_hash}'")), "{csp}");
        assert!(csp.contains("frame-ancestors 'self'") && csp.contains("object-src 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-eval") && !csp.contains("unsafe-inline"), "{csp}");
        // Inline styles only as the client's own markup writes them, by hash.
        let style_hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(ANNOUNCER_STYLE.as_bytes()));
        assert!(csp.contains(&format!("style-src 'self' 'unsafe-hashes' 'sha256-{style_hash}';")), "{csp}");
    }

    // Client files: gzip when accepted, immutable caching, ETag revalidation; missing files are
    // 404s, never the shell; API and media paths keep their own 404s.
    let (status, h, _) = get(&t, "/_app/immutable/entry/start.js", &[("accept-encoding", "gzip")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["content-encoding"], "gzip");
    assert!(h["cache-control"].to_str().unwrap().contains("immutable"));
    assert!(h["content-type"].to_str().unwrap().starts_with("text/javascript"));
    let (status, h, body) = get(&t, "/_app/immutable/entry/start.js", &[]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "console.log('start')"));
    assert!(h.get("content-encoding").is_none());
    let etag = h["etag"].to_str().unwrap().to_string();
    let (status, _, _) = get(&t, "/_app/immutable/entry/start.js", &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, h, _) = get(&t, "/favicon.png", &[]).await;
    assert_eq!((status, h["content-type"].to_str().unwrap()), (StatusCode::OK, "image/png"));
    for path in ["/_app/immutable/entry/old-chunk.js", "/robots-missing.txt", "/static/x.mp4", "/lazy-static/a.jpg"] {
        let (status, _, body) = get(&t, path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("<div id=\"app\">"), "{path}");
    }
    let (status, h, body) = get(&t, "/api/v1/nothing-here", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(h["content-type"].to_str().unwrap().contains("json"), "{body}");
    let (status, _, _) = get(&t, "/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let resp = t.api.http.post(t.api.url("/some/page")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    // A published video: its pages carry OpenGraph, Twitter player and oEmbed discovery tags.
    let token = t.user("olga").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&token)).await;
    let channel = me["videoChannels"][0]["id"].as_i64().unwrap();
    let file = clip(t.dir.path(), "clip.mp4", 320, 240, 2);
    let form = multipart::Form::new()
        .text("channelId", channel.to_string())
        .text("name", "Owls <at> night & \"day\"")
        .text("description", "A **clip**\nabout owls")
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("clip.mp4"));
    let (status, up) =
        t.api.send(t.api.http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(&token).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{up}");
    t.run_jobs().await;
    let uuid = up["video"]["uuid"].as_str().unwrap().to_string();
    let short = up["video"]["shortUUID"].as_str().unwrap().to_string();
    let base = t.api.url("");
    for path in [format!("/w/{short}"), format!("/videos/watch/{uuid}")] {
        let (status, h, body) = get(&t, &path, &[("accept", "text/html")]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'self'"));
        assert!(body.contains("<title>Owls &lt;at&gt; night &amp; &quot;day&quot; - Flotilla</title>"), "{body}");
        assert_eq!(body.matches("<title>").count(), 1, "the shell's own title is replaced: {body}");
        assert!(body.contains("<meta property=\"og:title\" content=\"Owls &lt;at&gt; night"), "{body}");
        assert!(body.contains("<meta property=\"og:description\" content=\"A **clip** about owls\">"), "{body}");
        assert!(body.contains(&format!("<meta property=\"og:url\" content=\"{base}/w/{short}\">")), "{body}");
        assert!(body.contains(&format!("<meta name=\"twitter:player\" content=\"{base}/videos/embed/{uuid}\">")));
        assert!(body.contains("<meta property=\"og:image\" content=\"http"), "{body}");
        assert!(body.contains("<link rel=\"preload\" as=\"image\" href=\"http"), "the poster is preloaded: {body}");
        assert!(body.contains("type=\"application/json+oembed\""), "{body}");
        assert!(body.contains(&format!("/services/oembed?url={}", urlencode(&format!("{base}/w/{short}")))), "{body}");
        assert!(body.contains("<div id=\"app\">"));
    }
    // The same path still answers ActivityPub to servers.
    let (status, h, body) = get(&t, &format!("/videos/watch/{uuid}"), &[("accept", "application/activity+json")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(h["content-type"].to_str().unwrap().starts_with("application/activity+json"));
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["type"], "Video");
    // The embed page may be framed anywhere.
    let (status, h, _) = get(&t, &format!("/videos/embed/{uuid}"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(h["content-security-policy"].to_str().unwrap().ends_with("frame-ancestors *"));
    // Unknown videos, channels and accounts: the shell (it shows its own message) with a 404.
    for path in ["/w/nope", "/videos/watch/00000000-0000-0000-0000-000000000000", "/c/nobody_channel", "/a/nobody"] {
        let (status, _, body) = get(&t, path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(body.contains("<div id=\"app\">"), "{path}");
    }
    // Channel and account pages.
    for (path, title) in [("/c/olga_channel", "Main olga channel"), ("/a/olga", "olga"), ("/accounts/olga", "olga")] {
        let (status, _, body) = get(&t, path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(body.contains(&format!("<meta property=\"og:title\" content=\"{title}\">")), "{path}: {body}");
        assert!(body.contains("<meta property=\"og:type\" content=\"profile\">"), "{path}");
    }

    // Text built per request goes out gzipped to clients that take it, and the same bytes as the
    // plain answer once unpacked; media keeps its own bytes (ranges and counts are the file's).
    let api_path = format!("/api/v1/videos/{uuid}");
    let plain = t.api.http.get(t.api.url(&api_path)).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let vary: Vec<_> = plain.headers().get_all("vary").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert!(vary.iter().any(|v| v.contains("Accept-Encoding")), "{vary:?}");
    let plain = plain.bytes().await.unwrap();
    for accept in ["gzip, deflate, br", "br;q=1.0, gzip;q=0.5"] {
        let packed = t.api.http.get(t.api.url(&api_path)).header("accept-encoding", accept).send().await.unwrap();
        assert_eq!(packed.headers()["content-encoding"], "gzip", "{accept}");
        let packed = packed.bytes().await.unwrap();
        assert!(packed.len() * 2 < plain.len(), "{} of {} bytes", packed.len(), plain.len());
        assert_eq!(gunzip(&packed), plain);
    }
    let refused = t.api.http.get(t.api.url(&api_path)).header("accept-encoding", "gzip;q=0").send().await.unwrap();
    assert!(refused.headers().get("content-encoding").is_none());
    let (_, h, _) = get(&t, &format!("/w/{short}"), &[("accept-encoding", "gzip")]).await;
    assert_eq!(h["content-encoding"], "gzip", "the page shell too");
    let (_, v) = t.api.get(&api_path, None).await;
    let playlist = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap().to_string();
    let segment = v["streamingPlaylists"][0]["files"][0]["fileUrl"].as_str().unwrap().to_string();
    for url in [&playlist, &segment] {
        let resp = t.api.http.get(url).header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{url}");
        assert!(resp.headers().get("content-encoding").is_none(), "{url}");
    }

    // oEmbed, as PeerTube answers it.
    let watch = format!("{base}/w/{short}");
    let (status, o) = t.api.get(&format!("/services/oembed?url={}&maxwidth=640", urlencode(&watch)), None).await;
    assert_eq!(status, StatusCode::OK, "{o}");
    assert_eq!(o["type"], "video");
    assert_eq!(o["version"], "1.0");
    assert_eq!(o["width"], 640);
    assert_eq!(o["title"], "Owls <at> night & \"day\"");
    assert_eq!(o["author_name"], "Main olga channel");
    let html = o["html"].as_str().unwrap();
    assert!(html.starts_with("<iframe") && html.contains(&format!("src=\"{base}/videos/embed/{uuid}\"")), "{html}");
    assert!(html.contains("title=\"Owls &lt;at&gt; night &amp; &quot;day&quot;\""), "{html}");
    assert!(o["thumbnail_url"].as_str().unwrap().starts_with(&base));
    for (url, status) in [
        ("https%3A%2F%2Felsewhere.example%2Fw%2Fabc".to_string(), StatusCode::BAD_REQUEST),
        (urlencode(&format!("{base}/c/olga_channel")), StatusCode::BAD_REQUEST),
        (urlencode(&format!("{base}/w/unknown")), StatusCode::NOT_FOUND),
    ] {
        let (got, body) = t.api.get(&format!("/services/oembed?url={url}"), None).await;
        assert_eq!(got, status, "{url}: {body}");
        assert!(body["detail"].is_string(), "{body}");
    }
    let (status, _) = t.api.get(&format!("/services/oembed?url={}&format=xml", urlencode(&watch)), None).await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);

    // A private video's page leaks nothing.
    let (status, _) =
        t.api.put(&format!("/api/v1/videos/{uuid}"), Some(&token), serde_json::json!({"privacy": 3})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, body) = get(&t, &format!("/w/{short}"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("Owls"), "{body}");
    let (status, _) = t.api.get(&format!("/services/oembed?url={}", urlencode(&watch)), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    t.stop().await;
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("a gzip stream");
    out
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn the_refresh_token_can_live_in_an_httponly_cookie(backend: Backend) {
    let t = TestInstance::start(backend).await;
    t.user("pia").await;
    let (id, secret) = t.api.client().await;
    let form = [
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("grant_type", "password"),
        ("username", "pia"),
        ("password", "password-123"),
    ];
    let resp = t
        .api
        .http
        .post(t.api.url("/api/v1/users/token"))
        .header("x-token-cookie", "1")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("flotilla_rt=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(cookie.contains("Path=/api/v1/users"), "{cookie}");
    let body: Value = resp.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "the refresh token stays out of script's reach: {body}");
    let access = body["access_token"].as_str().unwrap().to_string();
    let value = cookie.split(';').next().unwrap().to_string();

    // Refresh with the cookie and no refresh_token field.
    let refresh = [("client_id", id.as_str()), ("client_secret", secret.as_str()), ("grant_type", "refresh_token")];
    let send_refresh = |c: Option<String>| {
        let mut req = t.api.http.post(t.api.url("/api/v1/users/token")).header("x-token-cookie", "1").form(&refresh);
        if let Some(c) = c {
            req = req.header("cookie", c);
        }
        req.send()
    };
    let resp = send_refresh(Some(value.clone())).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let rotated = resp.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let body: Value = resp.json().await.unwrap();
    let new_access = body["access_token"].as_str().unwrap().to_string();
    assert_ne!(new_access, access);
    let (status, me) = t.api.get("/api/v1/users/me", Some(&new_access)).await;
    assert_eq!((status, me["username"].as_str()), (StatusCode::OK, Some("pia")));

    // No cookie: a clear 400; without the header a cookie is ignored (PeerTube's clients unchanged).
    let resp = send_refresh(None).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = t.api.http.post(t.api.url("/api/v1/users/token")).header("cookie", rotated.clone()).form(&refresh);
    assert_eq!(resp.send().await.unwrap().status(), StatusCode::BAD_REQUEST);

    // Revoking clears the cookie and ends the session.
    let resp = t.api.http.post(t.api.url("/api/v1/users/revoke-token")).bearer_auth(&new_access).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let resp = send_refresh(Some(rotated)).await.unwrap();
    assert_ne!(resp.status(), StatusCode::OK);
    t.stop().await;
}

/// Behind TLS (`public_url = "https://…"`) the refresh cookie is `Secure` as well as `HttpOnly` and
/// `SameSite=Strict` (security-cases 19): a browser never sends it over plain HTTP. Each cookie
/// the instance sets carries the three: at login, at refresh and when revoking.
async fn an_https_instance_marks_the_refresh_cookie_secure(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.public_url = "https://video.example".into()).await;
    assert_eq!(t.config.public_url, "https://video.example");
    t.user("tess").await;
    let (id, secret) = t.api.client().await;
    let attributes = |cookie: &str| {
        let parts: Vec<String> = cookie.split(';').skip(1).map(|a| a.trim().to_ascii_lowercase()).collect();
        for want in ["secure", "httponly", "samesite=strict", "path=/api/v1/users"] {
            assert!(parts.iter().any(|p| p == want), "{want} missing in {cookie}");
        }
    };
    let login = [
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("grant_type", "password"),
        ("username", "tess"),
        ("password", "password-123"),
    ];
    let token_url = t.api.url("/api/v1/users/token");
    let resp = t.api.http.post(&token_url).header("x-token-cookie", "1").form(&login).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("flotilla_rt="), "{cookie}");
    attributes(&cookie);

    let refresh = [("client_id", id.as_str()), ("client_secret", secret.as_str()), ("grant_type", "refresh_token")];
    let value = cookie.split(';').next().unwrap().to_string();
    let resp = t
        .api
        .http
        .post(&token_url)
        .header("x-token-cookie", "1")
        .header("cookie", value)
        .form(&refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    attributes(resp.headers()["set-cookie"].to_str().unwrap());
    let access = resp.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string();

    let resp = t.api.http.post(t.api.url("/api/v1/users/revoke-token")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cleared = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    attributes(&cleared);
    t.stop().await;
}
