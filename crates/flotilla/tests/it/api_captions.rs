//! Captions (PeerTube's `/videos/{id}/captions`): SubRip becomes WebVTT, a new file replaces the
//! old one, deletion removes it; who may change and see them; hostile files (scripts, huge cues,
//! binary, too big, unknown languages) cleaned or refused with nothing stored; captions listed in
//! the `Video` object and the podcast feed, and carried to a following Flotilla, which fetches its
//! copy from the origin.

use flotilla_testkit::reqwest::{StatusCode, multipart};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests, settle};

db_tests!(
    captions_are_converted_listed_replaced_and_deleted,
    hostile_captions_are_cleaned_or_refused,
    captions_reach_a_following_server,
);

const SRT: &str = "1\r\n00:00:00,500 --> 00:00:01,250\r\nBonjour <i>tout le monde</i>\r\n\r\n2\r\n00:00:01,500 --> 00:00:02,000\r\nÇa va ?\r\n";
const SRT_AS_VTT: &str = "WEBVTT\n\n00:00:00.500 --> 00:00:01.250\nBonjour <i>tout le monde</i>\n\n00:00:01.500 --> 00:00:02.000\nÇa va ?\n\n";

async fn put_caption(
    t: &TestInstance,
    token: Option<&str>,
    video: &str,
    lang: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let form = multipart::Form::new().part("captionfile", multipart::Part::bytes(bytes).file_name("c.srt"));
    let mut req = t.api.http.put(t.api.url(&format!("/api/v1/videos/{video}/captions/{lang}"))).multipart(form);
    if let Some(tok) = token {
        req = req.bearer_auth(tok);
    }
    t.api.send(req).await
}

async fn text(t: &TestInstance, url: &str, token: Option<&str>) -> (StatusCode, String, String) {
    let mut req = t.api.http.get(url);
    if let Some(tok) = token {
        req = req.bearer_auth(tok);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, resp.text().await.unwrap(), ct)
}

async fn captions_are_converted_listed_replaced_and_deleted(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let owner = t.user("cleo").await;
    let other = t.user("carl").await;
    let uuid = t.publish(&owner, "Subtitled", &[]).await;
    t.run_jobs().await;

    let (status, body) = put_caption(&t, Some(&owner), &uuid, "fr", SRT.as_bytes().to_vec()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, list) = t.api.get(&format!("/api/v1/videos/{uuid}/captions"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 1);
    let c = &list["data"][0];
    assert_eq!(c["language"], json!({ "id": "fr", "label": "French" }));
    assert_eq!(c["automaticallyGenerated"], false);
    let path = c["captionPath"].as_str().unwrap().to_string();
    assert!(path.starts_with("/lazy-static/video-captions/") && path.ends_with("-fr.vtt"), "{path}");
    assert_eq!(c["fileUrl"].as_str().unwrap(), t.api.url(&path));
    let (status, vtt, ct) = text(&t, &t.api.url(&path), None).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "text/vtt; charset=utf-8"));
    assert_eq!(vtt, SRT_AS_VTT, "SubRip became WebVTT");

    // In the `Video` object (PeerTube's subtitleLanguage) and the podcast feed.
    let resp =
        t.api.http.get(t.api.url(&format!("/videos/watch/{uuid}"))).header("accept", "application/activity+json");
    let object: Value = resp.send().await.unwrap().json().await.unwrap();
    assert_eq!(
        object["subtitleLanguage"],
        json!([{ "identifier": "fr", "name": "French", "automaticallyGenerated": false, "url": t.api.url(&path) }])
    );
    let (_, me) = t.api.get("/api/v1/users/me", Some(&owner)).await;
    let feed = format!("/feeds/podcast/videos.xml?videoChannelId={}", me["videoChannels"][0]["id"]);
    let (_, xml, _) = text(&t, &t.api.url(&feed), None).await;
    assert!(xml.contains("<podcast:transcript") && xml.contains(&format!("url=\"{}\"", t.api.url(&path))), "{xml}");
    assert!(xml.contains("rel=\"captions\"") && xml.contains("type=\"text/vtt\""), "{xml}");

    // Only those who manage the video change its captions.
    let vtt2 = b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nSalut\n".to_vec();
    assert_eq!(put_caption(&t, Some(&other), &uuid, "fr", vtt2.clone()).await.0, StatusCode::FORBIDDEN);
    assert_eq!(put_caption(&t, None, &uuid, "fr", vtt2.clone()).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = t.api.delete(&format!("/api/v1/videos/{uuid}/captions/fr"), Some(&other)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A new file replaces the old one, under a new name.
    assert_eq!(put_caption(&t, Some(&owner), &uuid, "fr", vtt2).await.0, StatusCode::NO_CONTENT);
    let (_, list) = t.api.get(&format!("/api/v1/videos/{uuid}/captions"), None).await;
    assert_eq!(list["total"], 1);
    let path2 = list["data"][0]["captionPath"].as_str().unwrap().to_string();
    assert_ne!(path2, path);
    assert_eq!(text(&t, &t.api.url(&path), None).await.0, StatusCode::NOT_FOUND, "the old file is gone");
    assert_eq!(text(&t, &t.api.url(&path2), None).await.1, "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nSalut\n\n");

    let (status, _) = t.api.delete(&format!("/api/v1/videos/{uuid}/captions/fr"), Some(&owner)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = t.api.get(&format!("/api/v1/videos/{uuid}/captions"), None).await;
    assert_eq!(list["total"], 0);
    assert_eq!(text(&t, &t.api.url(&path2), None).await.0, StatusCode::NOT_FOUND);
    let (status, _) = t.api.delete(&format!("/api/v1/videos/{uuid}/captions/fr"), Some(&owner)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    t.stop().await;
}

async fn hostile_captions_are_cleaned_or_refused(backend: Backend) {
    let t = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let owner = t.user("hera").await;
    let other = t.user("hank").await;
    let uuid = t.publish(&owner, "Target", &[]).await;
    let private = t.publish(&owner, "Private", &[("privacy", "3")]).await;
    t.run_jobs().await;

    // Markup a player could run or render: gone; the words stay.
    let evil = b"WEBVTT\n\nSTYLE\n::cue { background-image: url(https://evil.example/x) }\n\n00:00:00.000 --> 00:00:01.000\n<script>alert(1)</script><img src=x onerror=alert(2)>hello &bogus; <b>bold</b>\n".to_vec();
    assert_eq!(put_caption(&t, Some(&owner), &uuid, "en", evil).await.0, StatusCode::NO_CONTENT);
    let (_, list) = t.api.get(&format!("/api/v1/videos/{uuid}/captions"), None).await;
    let (_, vtt, _) = text(&t, &t.api.url(list["data"][0]["captionPath"].as_str().unwrap()), None).await;
    assert_eq!(vtt, "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nalert(1)hello &amp;bogus; <b>bold</b>\n\n");

    // Refused, with nothing stored: a cue too long, not text, no cue, backwards, a bad language.
    let huge = format!("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n{}\n", "x".repeat(5000)).into_bytes();
    for (bytes, lang, code) in [
        (huge, "de", "invalid_caption"),
        (vec![0xff, 0xfe, 0x00, 0x01, 0x02], "de", "invalid_caption"),
        (b"WEBVTT\n\nNOTE nothing\n".to_vec(), "de", "invalid_caption"),
        (b"1\n00:00:05,000 --> 00:00:01,000\nback\n".to_vec(), "de", "invalid_caption"),
        (SRT.as_bytes().to_vec(), "xx", "invalid_params"),
        (SRT.as_bytes().to_vec(), "..%2F..%2Fetc", "invalid_params"),
    ] {
        let (status, body) = put_caption(&t, Some(&owner), &uuid, lang, bytes).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{lang}: {body}");
        assert_eq!(body["code"], code, "{body}");
    }
    // Larger than PeerTube's 20 MB: refused before it is read whole.
    let big = vec![b'a'; 21 * 1024 * 1024];
    let (status, _) = put_caption(&t, Some(&owner), &uuid, "de", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (_, list) = t.api.get(&format!("/api/v1/videos/{uuid}/captions"), None).await;
    assert_eq!(list["total"], 1, "only the cleaned English one: {list}");

    // A private video's captions exist for its owner only.
    assert_eq!(put_caption(&t, Some(&owner), &private, "en", SRT.as_bytes().to_vec()).await.0, StatusCode::NO_CONTENT);
    let (status, _) = t.api.get(&format!("/api/v1/videos/{private}/captions"), Some(&other)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = t.api.get(&format!("/api/v1/videos/{private}/captions"), Some(&owner)).await;
    let url = t.api.url(list["data"][0]["captionPath"].as_str().unwrap());
    assert_eq!(text(&t, &url, None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(text(&t, &url, Some(&other)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(text(&t, &url, Some(&owner)).await.0, StatusCode::OK);
    for path in ["/lazy-static/video-captions/..%2F..%2Fconfig.vtt", "/lazy-static/video-captions/nope-en.vtt"] {
        assert_eq!(text(&t, &t.api.url(path), None).await.0, StatusCode::NOT_FOUND, "{path}");
    }
    t.stop().await;
}

async fn captions_reach_a_following_server(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    let ada = a.user("ada").await;
    let uuid = a.publish(&ada, "Travelling captions", &[]).await;
    a.run_jobs().await;
    assert_eq!(put_caption(&a, Some(&ada), &uuid, "fr", SRT.as_bytes().to_vec()).await.0, StatusCode::NO_CONTENT);
    settle(&[&a, &b]).await;

    let (status, list) = b.api.get(&format!("/api/v1/videos/{uuid}/captions"), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 1, "B lists A's caption: {list}");
    let path = list["data"][0]["captionPath"].as_str().unwrap();
    assert!(path.starts_with("/lazy-static/video-captions/"));
    // Served by B (its copy, fetched from A on first request), the same WebVTT.
    let (status, vtt, _) = text(&b, &b.api.url(path), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(vtt, SRT_AS_VTT);

    // A deletes it: B follows.
    let (status, _) = a.api.delete(&format!("/api/v1/videos/{uuid}/captions/fr"), Some(&ada)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b]).await;
    let (_, list) = b.api.get(&format!("/api/v1/videos/{uuid}/captions"), None).await;
    assert_eq!(list["total"], 0, "{list}");
    assert_eq!(text(&b, &b.api.url(path), None).await.0, StatusCode::NOT_FOUND);
    a.stop().await;
    b.stop().await;
}
