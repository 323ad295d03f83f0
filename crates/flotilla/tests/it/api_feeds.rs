//! Feeds read by a real feed parser (Python's `feedparser`, installed by `make test`): the videos
//! feed in RSS 2.0, Atom 1.0 and JSON Feed 1.1 with its filters, the podcast feed (Podcasting
//! 2.0 namespace, an alternate enclosure per rendition, each reachable), the private
//! subscriptions feed behind its token, the comments feed, the `<link rel="alternate">` of pages,
//! and the refusals.

use std::process::Command;

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests};

db_tests!(
    video_feeds_parse_in_every_format_and_filter,
    the_podcast_feed_has_the_namespace_and_reachable_enclosures,
    the_subscriptions_feed_needs_its_token,
    the_comments_feed_lists_public_comments,
    bad_feed_requests_are_refused,
);

const PARSE: &str = r#"
import sys, json
try:
    import feedparser
except ImportError:
    sys.exit("feedparser is missing: run 'python3 -m pip install feedparser' (make test installs it)")
import xml.etree.ElementTree as ET
d = feedparser.parse(sys.argv[1])
out = {
    "bozo": bool(d.bozo), "error": str(d.get("bozo_exception", "")), "version": d.version,
    "title": d.feed.get("title"), "namespaces": dict(d.namespaces),
    "entries": [{"title": e.get("title"), "link": e.get("link"), "id": e.get("id"),
                 "enclosures": [x.get("href") for x in e.get("enclosures", [])],
                 "published": bool(e.get("published_parsed")), "author": e.get("author")} for e in d.entries],
}
if d.version.startswith("rss"):
    ns = {"podcast": "https://podcastindex.org/namespace/1.0", "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd"}
    root = ET.parse(sys.argv[1]).getroot()
    items = list(root.iter("item"))
    out["sources"] = [[s.get("uri") for s in i.findall("podcast:alternateEnclosure/podcast:source", ns)] for i in items]
    out["social"] = [[s.get("protocol") for s in i.findall("podcast:socialInteract", ns)] for i in items]
    out["durations"] = [i.findtext("itunes:duration", namespaces=ns) for i in items]
    out["guid"] = root.findtext("channel/podcast:guid", namespaces=ns)
print(json.dumps(out))
"#;

/// Fetches `path` and reads it with feedparser: `(content type, what it parsed)`.
async fn parsed(t: &TestInstance, path: &str) -> (String, Value) {
    let resp = t.api.http.get(t.api.url(path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
    let body = resp.bytes().await.unwrap();
    let file = t.dir.path().join("feed.out");
    std::fs::write(&file, &body).unwrap();
    let out = Command::new("python3").arg("-c").arg(PARSE).arg(&file).output().expect("python3 runs");
    assert!(out.status.success(), "feedparser: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json_from(&out.stdout);
    assert_eq!(v["bozo"], false, "{path} is well-formed: {}", v["error"]);
    (ct, v)
}

fn serde_json_from(bytes: &[u8]) -> Value {
    flotilla_testkit::serde_json::from_slice(bytes).expect("JSON from the parser")
}

async fn me_channel_name(t: &TestInstance, token: &str) -> String {
    let (_, me) = t.api.get("/api/v1/users/me", Some(token)).await;
    me["videoChannels"][0]["displayName"].as_str().unwrap().to_string()
}

fn titles(v: &Value) -> Vec<String> {
    let mut t: Vec<String> =
        v["entries"].as_array().unwrap().iter().map(|e| e["title"].as_str().unwrap().to_string()).collect();
    t.sort();
    t
}

async fn video_feeds_parse_in_every_format_and_filter(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = t.user("ava").await;
    let bob = t.user("bob").await;
    t.publish(&ava, "Ava's <first> & best", &[("description", "Some *markdown*")]).await;
    t.publish(&bob, "Bob's", &[]).await;
    t.publish(&bob, "Bob's private", &[("privacy", "3")]).await;
    t.run_jobs().await;
    for (path, version, ct) in [
        ("/feeds/videos.xml", "rss20", "application/rss+xml"),
        ("/feeds/videos.rss", "rss20", "application/rss+xml"),
        ("/feeds/videos.atom", "atom10", "application/atom+xml"),
        ("/feeds/videos.xml?format=atom", "atom10", "application/atom+xml"),
    ] {
        let (content_type, feed) = parsed(&t, path).await;
        assert!(content_type.starts_with(ct), "{path}: {content_type}");
        assert_eq!(feed["version"], version, "{path}");
        assert_eq!(titles(&feed), ["Ava's <first> & best", "Bob's"], "{path}: public videos only");
        for e in feed["entries"].as_array().unwrap() {
            assert!(e["link"].as_str().unwrap().contains("/w/"), "{e}");
            assert_eq!(e["published"], true, "{e}");
        }
        let ava_entry =
            feed["entries"].as_array().unwrap().iter().find(|e| e["title"] == "Ava's <first> & best").unwrap();
        let enclosure =
            ava_entry["enclosures"][0].as_str().unwrap_or_else(|| panic!("{path}: an enclosure: {ava_entry}"));
        assert!(enclosure.contains("/static/web-videos/"), "{path}: the web video: {enclosure}");
        assert_eq!(ava_entry["author"], me_channel_name(&t, &ava).await, "{path}");
    }
    // JSON Feed 1.1 (feedparser 6.0 reads no JSON): the members the spec requires, and ours.
    let resp = t.api.http.get(t.api.url("/feeds/videos.json")).send().await.unwrap();
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/feed+json"));
    let feed: Value = resp.json().await.unwrap();
    assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
    assert!(feed["title"].is_string() && feed["feed_url"].as_str().unwrap().ends_with("/feeds/videos.json"));
    let items = feed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for i in items {
        assert!(i["id"].is_string() && i["url"].is_string() && i["content_html"].is_string(), "{i}");
        assert!(i["date_published"].as_str().unwrap().ends_with('Z'));
    }
    let ava_item = items.iter().find(|i| i["title"] == "Ava's <first> & best").unwrap();
    assert!(ava_item["content_html"].as_str().unwrap().contains("<em>markdown</em>"), "{ava_item}");
    assert_eq!(ava_item["attachments"][0]["mime_type"], "video/mp4");

    // Filters: one account, one channel.
    let (_, me) = t.api.get("/api/v1/users/me", Some(&ava)).await;
    let account = me["account"]["id"].as_i64().unwrap();
    let channel = me["videoChannels"][0]["id"].as_i64().unwrap();
    let channel_name = me["videoChannels"][0]["name"].as_str().unwrap();
    for path in [
        format!("/feeds/videos.xml?accountId={account}"),
        format!("/feeds/videos.atom?videoChannelId={channel}"),
        format!("/feeds/videos.rss?videoChannelName={channel_name}"),
        "/feeds/videos.xml?accountName=ava".to_string(),
    ] {
        let (_, feed) = parsed(&t, &path).await;
        assert_eq!(titles(&feed), ["Ava's <first> & best"], "{path}");
    }
    let (_, feed) = parsed(&t, &format!("/feeds/videos.xml?videoChannelId={channel}")).await;
    assert_eq!(feed["title"], me["videoChannels"][0]["displayName"]);
    // The channel's and the video's pages link their feeds.
    let page = t.api.http.get(t.api.url(&format!("/c/{channel_name}"))).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains(&format!(
            "type=\"application/rss+xml\" href=\"{}/feeds/videos.xml?videoChannelId={channel}\"",
            t.api.base
        )),
        "{page}"
    );
    assert!(page.contains("/feeds/podcast/videos.xml?videoChannelId="));
    let page = t.api.http.get(t.api.url("/a/ava")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("/feeds/videos.xml?accountId={account}")));
    t.stop().await;
}

async fn the_podcast_feed_has_the_namespace_and_reachable_enclosures(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144, 240]).await;
    let ava = t.user("ava").await;
    let (_, me) = t.api.get("/api/v1/users/me", Some(&ava)).await;
    let channel = me["videoChannels"][0]["id"].as_i64().unwrap();
    // A 240p clip: two renditions.
    let file = flotilla_testkit::clip(t.dir.path(), "e.mp4", 426, 240, 1);
    let form = flotilla_testkit::reqwest::multipart::Form::new()
        .text("channelId", channel.to_string())
        .text("name", "Episode 1")
        .part(
            "videofile",
            flotilla_testkit::reqwest::multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("e.mp4"),
        );
    let req = t.api.http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(&ava).multipart(form);
    let (status, body) = t.api.send(req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let uuid = body["video"]["uuid"].as_str().unwrap().to_string();
    t.run_jobs().await;
    let (ct, feed) = parsed(&t, &format!("/feeds/podcast/videos.xml?videoChannelId={channel}")).await;
    assert!(ct.starts_with("application/rss+xml"));
    assert_eq!(feed["version"], "rss20");
    assert_eq!(feed["namespaces"]["podcast"], "https://podcastindex.org/namespace/1.0", "{feed}");
    assert_eq!(feed["namespaces"]["itunes"], "http://www.itunes.com/dtds/podcast-1.0.dtd");
    assert!(feed["guid"].as_str().is_some_and(|g| g.len() == 36), "podcast:guid: {feed}");
    assert_eq!(titles(&feed), ["Episode 1"]);
    let (_, video) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    // The web videos (plain MP4s) are the episodes' files.
    let files = video["files"].as_array().unwrap();
    let sources = feed["sources"][0].as_array().unwrap();
    assert_eq!(sources.len(), files.len(), "one alternate enclosure per rendition: {feed}");
    assert!(files.len() >= 2);
    for s in sources {
        let url = s.as_str().unwrap();
        let resp = t.api.http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{url} is reachable");
        let size = files.iter().find(|f| f["fileUrl"] == url).expect("a rendition's file")["size"].as_u64().unwrap();
        assert_eq!(resp.bytes().await.unwrap().len() as u64, size);
    }
    let enclosure = feed["entries"][0]["enclosures"][0].as_str().unwrap();
    assert!(sources.iter().any(|s| s == enclosure), "the main enclosure is one of them");
    assert_eq!(feed["social"][0], json!(["activitypub"]));
    assert_eq!(feed["durations"][0], video["duration"].to_string());
    t.stop().await;
}

async fn the_subscriptions_feed_needs_its_token(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = t.user("ava").await;
    let bob = t.user("bob").await;
    t.publish(&bob, "Bob's news", &[]).await;
    t.publish(&ava, "Not followed", &[]).await;
    t.run_jobs().await;
    let (_, bob_me) = t.api.get("/api/v1/users/me", Some(&bob)).await;
    let handle = bob_me["videoChannels"][0]["name"].as_str().unwrap().to_string();
    let (status, _) = t.api.post("/api/v1/users/me/subscriptions", Some(&ava), json!({ "uri": handle })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    t.run_jobs().await;
    let (status, token) = t.api.get("/api/v1/users/me/feed-token", Some(&ava)).await;
    assert_eq!(status, StatusCode::OK);
    let token = token["feedToken"].as_str().unwrap().to_string();
    assert!(token.len() >= 24);
    let (_, again) = t.api.get("/api/v1/users/me/feed-token", Some(&ava)).await;
    assert_eq!(again["feedToken"], token.as_str(), "the same until renewed");
    let (_, me) = t.api.get("/api/v1/users/me", Some(&ava)).await;
    let account = me["account"]["id"].as_i64().unwrap();
    let path = format!("/feeds/subscriptions.xml?accountId={account}&token={token}");
    let (_, feed) = parsed(&t, &path).await;
    assert_eq!(titles(&feed), ["Bob's news"]);
    // Another user's token, none, or a renewed one: refused.
    let (_, bob_token) = t.api.get("/api/v1/users/me/feed-token", Some(&bob)).await;
    for bad in [format!("token={}", bob_token["feedToken"].as_str().unwrap()), String::new(), "token=x".into()] {
        let resp = t
            .api
            .http
            .get(t.api.url(&format!("/feeds/subscriptions.atom?accountId={account}&{bad}")))
            .send()
            .await
            .unwrap();
        assert!(
            resp.status() == StatusCode::FORBIDDEN || resp.status() == StatusCode::BAD_REQUEST,
            "{bad}: {}",
            resp.status()
        );
    }
    let (status, renewed) = t.api.post("/api/v1/users/me/feed-token", Some(&ava), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(renewed["feedToken"], token.as_str());
    // The very URL answered (and kept) a moment ago.
    let resp = t.api.http.get(t.api.url(&path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "the old token no longer works");
    let (status, _) = t.api.get("/api/v1/users/me/feed-token", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    t.stop().await;
}

async fn the_comments_feed_lists_public_comments(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let ava = t.user("ava").await;
    let public = t.publish(&ava, "Open", &[]).await;
    let hidden = t.publish(&ava, "Closed", &[("privacy", "3")]).await;
    t.run_jobs().await;
    for (v, text) in [(&public, "Nice one"), (&hidden, "Secret remark")] {
        let (status, body) =
            t.api.post(&format!("/api/v1/videos/{v}/comment-threads"), Some(&ava), json!({ "text": text })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, feed) = parsed(&t, "/feeds/video-comments.xml").await;
    assert_eq!(feed["entries"].as_array().unwrap().len(), 1, "{feed}");
    assert!(feed["entries"][0]["title"].as_str().unwrap().starts_with("Open"), "{feed}");
    let (_, feed) = parsed(&t, &format!("/feeds/video-comments.atom?videoId={public}")).await;
    assert_eq!(feed["entries"].as_array().unwrap().len(), 1);
    let resp = t.api.http.get(t.api.url(&format!("/feeds/video-comments.xml?videoId={hidden}"))).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "a private video's comments have no feed");
    let page =
        t.api.http.get(t.api.url(&format!("/videos/watch/{public}"))).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains(&format!("/feeds/video-comments.xml?videoId={public}")),
        "the watch page links its comments feed"
    );
    t.stop().await;
}

async fn bad_feed_requests_are_refused(backend: Backend) {
    let t = TestInstance::start(backend).await;
    for (path, want) in [
        ("/feeds/nothing.xml", StatusCode::NOT_FOUND),
        ("/feeds/videos.html", StatusCode::NOT_FOUND),
        ("/feeds/videos", StatusCode::NOT_FOUND),
        ("/feeds/videos.xml?format=pdf", StatusCode::BAD_REQUEST),
        ("/feeds/videos.xml?videoChannelId=999999", StatusCode::NOT_FOUND),
        ("/feeds/videos.xml?accountId=abc", StatusCode::BAD_REQUEST),
        ("/feeds/videos.xml?nsfw=maybe", StatusCode::BAD_REQUEST),
        ("/feeds/podcast/videos.xml", StatusCode::BAD_REQUEST),
        ("/feeds/podcast/videos.xml?videoChannelId=999999", StatusCode::NOT_FOUND),
        ("/feeds/subscriptions.xml", StatusCode::BAD_REQUEST),
        ("/feeds/subscriptions.xml?accountId=1&token=nope", StatusCode::FORBIDDEN),
    ] {
        let resp = t.api.http.get(t.api.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), want, "{path}");
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert!(body["detail"].is_string() || body["error"].is_string(), "{path}: a JSON error, not {body}");
    }
    t.stop().await;
}
