//! User archives (PeerTube 6.1's export and import): an archive built on one instance, checked
//! against PeerTube's layout, downloaded by its link and imported on another instance, where it
//! brings the account, channels, video (transcoded again), likes, follows, playlists and history
//! — and brings nothing twice when imported again. Hostile archives (not a zip, paths leaving the
//! archive, a decompression bomb, too many entries, someone else's account) are refused and change
//! nothing.

use std::io::{Read, Write};

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Api, Backend, TestInstance, db_tests, png, settle};

db_tests!(
    an_archive_round_trips_to_another_instance,
    a_peertube_archive_is_imported,
    jobs_stopped_midway_finish_without_doubling,
    hostile_archives_are_refused_and_change_nothing
);

async fn me(api: &Api, token: &str) -> Value {
    api.get("/api/v1/users/me", Some(token)).await.1
}

/// Uploads `bytes` as an archive to import, in two chunks; the last answer.
async fn import(api: &Api, token: &str, uid: i64, bytes: &[u8]) -> (StatusCode, Value) {
    let resp = api
        .http
        .post(api.url(&format!("/api/v1/users/{uid}/imports/import-resumable")))
        .bearer_auth(token)
        .header("X-Upload-Content-Length", bytes.len().to_string())
        .header("X-Upload-Content-Type", "application/zip")
        .json(&json!({ "filename": "user-export.zip" }))
        .send()
        .await
        .unwrap();
    if resp.status() != StatusCode::CREATED {
        let status = resp.status();
        return (status, resp.json().await.unwrap_or(Value::Null));
    }
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let id = location.split("upload_id=").nth(1).unwrap().to_string();
    let total = bytes.len();
    let half = total / 2;
    let mut last = (StatusCode::OK, Value::Null);
    for (start, end) in [(0, half), (half, total)] {
        let req = api
            .http
            .put(api.url(&format!("/api/v1/users/{uid}/imports/import-resumable?upload_id={id}")))
            .bearer_auth(token)
            .header("Content-Range", format!("bytes {start}-{}/{total}", end - 1))
            .body(bytes[start..end].to_vec());
        last = api.send(req).await;
    }
    last
}

/// Builds a zip of `(name, bytes)` entries, deflated.
fn zip_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap();
    out.into_inner()
}

fn entry(zip: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut f = a.by_name(name).ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).unwrap();
    Some(buf)
}

fn json_entry(zip: &[u8], name: &str) -> Value {
    serde_json::from_slice(&entry(zip, name).unwrap_or_else(|| panic!("{name} is in the archive"))).unwrap()
}

async fn latest(api: &Api, token: &str, uid: i64) -> Value {
    let (status, body) = api.get(&format!("/api/v1/users/{uid}/imports/latest"), Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn an_archive_round_trips_to_another_instance(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let b = TestInstance::start(backend).await;
    let a_host = a.instance.addr.to_string();

    // ava on A: a profile, a second channel, a video; she likes bob's video, keeps it in a
    // playlist and watch later, watched part of it, and follows bob's channel.
    let ava = a.user("ava").await;
    let bob = a.user("bob").await;
    let (status, body) = a
        .api
        .put("/api/v1/users/me", Some(&ava), json!({ "displayName": "Ava Lovelace", "description": "Films of trains" }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let form = flotilla_testkit::reqwest::multipart::Form::new()
        .part("avatarfile", flotilla_testkit::reqwest::multipart::Part::bytes(png(300, 300)).file_name("a.png"));
    let (status, body) =
        a.api.send(a.api.http.post(a.api.url("/api/v1/users/me/avatar/pick")).bearer_auth(&ava).multipart(form)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = a
        .api
        .post("/api/v1/video-channels", Some(&ava), json!({ "name": "ava_travels", "displayName": "Travels" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ava_video = a.publish(&ava, "Steam engines at dawn", &[("tags[]", "trains")]).await;
    let bob_video = a.publish(&bob, "Bob's garden", &[]).await;
    a.run_jobs().await;
    // Her video has a caption and chapters (set by hand).
    let form = flotilla_testkit::reqwest::multipart::Form::new().part(
        "captionfile",
        flotilla_testkit::reqwest::multipart::Part::bytes(
            b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nChoo choo\n".to_vec(),
        )
        .file_name("en.vtt"),
    );
    let req = a.api.http.put(a.api.url(&format!("/api/v1/videos/{ava_video}/captions/en"))).bearer_auth(&ava);
    assert_eq!(a.api.send(req.multipart(form)).await.0, StatusCode::NO_CONTENT);
    let chapters = json!({ "chapters": [{ "timecode": 0, "title": "Dawn" }, { "timecode": 1, "title": "Steam" }] });
    let (status, _) = a.api.put(&format!("/api/v1/videos/{ava_video}/chapters"), Some(&ava), chapters).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let bob_channel = me(&a.api, &bob).await["videoChannels"][0]["name"].as_str().unwrap().to_string();
    assert_eq!(
        a.api.put(&format!("/api/v1/videos/{bob_video}/rate"), Some(&ava), json!({ "rating": "like" })).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) =
        a.api.post("/api/v1/video-playlists", Some(&ava), json!({ "displayName": "Favourites", "privacy": 3 })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let playlist = body["videoPlaylist"]["uuid"].as_str().unwrap().to_string();
    let (status, body) = a
        .api
        .post(
            &format!("/api/v1/video-playlists/{playlist}/videos"),
            Some(&ava),
            json!({ "videoId": bob_video, "startTimestamp": 1 }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        a.api.post(&format!("/api/v1/videos/{bob_video}/views"), Some(&ava), json!({ "currentTime": 1 })).await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = a
        .api
        .post("/api/v1/users/me/subscriptions", Some(&ava), json!({ "uri": format!("{bob_channel}@{a_host}") }))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    settle(&[&a]).await;

    // The export: asked, built by its job, listed with its link.
    let ava_id = me(&a.api, &ava).await["id"].as_i64().unwrap();
    let bob_id = me(&a.api, &bob).await["id"].as_i64().unwrap();
    let (status, body) = a
        .api
        .post(&format!("/api/v1/users/{ava_id}/exports/request"), Some(&ava), json!({ "withVideoFiles": true }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["export"]["id"].is_i64(), "{body}");
    let (status, body) = a
        .api
        .post(&format!("/api/v1/users/{ava_id}/exports/request"), Some(&ava), json!({ "withVideoFiles": true }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "one export at a time: {body}");
    let (status, body) = a.api.get(&format!("/api/v1/users/{ava_id}/exports"), Some(&bob)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "someone else's exports: {body}");
    a.run_jobs().await;
    let (status, list) = a.api.get(&format!("/api/v1/users/{ava_id}/exports"), Some(&ava)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let export = &list["data"][0];
    assert_eq!(export["state"], json!({ "id": 3, "label": "Completed" }), "{list}");
    let link = export["privateDownloadUrl"].as_str().unwrap().to_string();
    let resp = a.api.http.get(&link).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/zip");
    assert!(
        resp.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"user-export-ava-")
    );
    let zip = resp.bytes().await.unwrap().to_vec();
    assert_eq!(export["size"].as_u64(), Some(zip.len() as u64));
    let wrong = format!("{}x", link.trim_end_matches(".zip"));
    assert_eq!(a.api.http.get(&wrong).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // PeerTube's layout and names.
    let account = json_entry(&zip, "peertube/account.json");
    assert_eq!(account["name"], "ava");
    assert_eq!(account["displayName"], "Ava Lovelace");
    let avatar = account["archiveFiles"]["avatar"].as_str().unwrap();
    assert!(avatar.starts_with("../files/account/avatars/ava."), "{avatar}");
    assert!(entry(&zip, &avatar.replace("../", "")).is_some_and(|b| image::load_from_memory(&b).is_ok()));
    let channels = json_entry(&zip, "peertube/channels.json");
    let names: Vec<&str> =
        channels["channels"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"ava_travels"), "{channels}");
    let videos = json_entry(&zip, "peertube/videos.json");
    let v = &videos["videos"][0];
    assert_eq!(v["uuid"], ava_video.as_str());
    assert_eq!(v["name"], "Steam engines at dawn");
    assert_eq!(v["tags"], json!(["trains"]));
    let file = v["archiveFiles"]["videoFile"].as_str().unwrap();
    assert_eq!(file, format!("../files/videos/video-files/{ava_video}.mp4"));
    let mp4 = entry(&zip, &file.replace("../", "")).expect("the video file is in the archive");
    assert_eq!(&mp4[4..8], b"ftyp", "a whole MP4");
    assert_eq!(v["captions"][0]["language"], "en", "{v}");
    let caption = v["archiveFiles"]["captions"]["en"].as_str().unwrap();
    assert_eq!(
        entry(&zip, &caption.replace("../", "")).unwrap(),
        b"WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nChoo choo\n\n"
    );
    assert_eq!(v["chapters"], json!([{ "timecode": 0, "title": "Dawn" }, { "timecode": 1, "title": "Steam" }]));
    assert!(v["files"][0]["fileUrl"].as_str().unwrap().contains("/static/web-videos/"), "{v}");
    let likes = json_entry(&zip, "peertube/likes.json");
    assert_eq!(likes["likes"][0]["videoUrl"], format!("{}/videos/watch/{bob_video}", a.api.base));
    let following = json_entry(&zip, "peertube/following.json");
    assert_eq!(following["following"][0]["targetHandle"], format!("{bob_channel}@{a_host}"));
    let playlists = json_entry(&zip, "peertube/video-playlists.json");
    let fav =
        playlists["videoPlaylists"].as_array().unwrap().iter().find(|p| p["displayName"] == "Favourites").unwrap();
    assert_eq!(
        fav["elements"],
        json!([{ "videoUrl": format!("{}/videos/watch/{bob_video}", a.api.base), "startTimestamp": 1 }])
    );
    let history = json_entry(&zip, "peertube/video-history.json");
    assert_eq!(history["watchedVideos"][0]["lastTimecode"], 1);
    assert_eq!(json_entry(&zip, "peertube/user-settings.json")["videosHistoryEnabled"], true);
    let outbox = json_entry(&zip, "activity-pub/outbox.json");
    assert_eq!(outbox["orderedItems"][0]["object"]["type"], "Video");
    assert_eq!(json_entry(&zip, "activity-pub/actor.json")["type"], "Person");

    // The import on B, into a new account.
    let ava2 = b.user("ava").await;
    let ava2_id = me(&b.api, &ava2).await["id"].as_i64().unwrap();
    let (status, body) = b.api.get(&format!("/api/v1/users/{ava2_id}/imports/latest"), Some(&ava2)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = import(&b.api, &ava2, ava2_id, &zip).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["userImport"]["id"].is_i64(), "{body}");
    settle(&[&b, &a]).await;
    b.run_jobs().await;
    let done = latest(&b.api, &ava2, ava2_id).await;
    assert_eq!(done["state"], json!({ "id": 3, "label": "Completed" }), "{done}");
    let stats = &done["resultSummary"]["stats"];
    assert_eq!(stats["videos"], json!({ "success": 1, "duplicates": 0, "errors": 0 }), "{done}");
    assert_eq!(stats["channels"]["success"], 1, "ava_travels is new: {done}");
    assert_eq!(stats["channels"]["duplicates"], 1, "her first channel has the same name here: {done}");
    for part in ["account", "userSettings", "likes", "following", "videoPlaylists", "userVideoHistory"] {
        assert_eq!(stats[part]["errors"], 0, "{part}: {done}");
        assert!(stats[part]["success"].as_u64().unwrap() >= 1, "{part}: {done}");
    }
    let profile = me(&b.api, &ava2).await;
    assert_eq!(profile["account"]["displayName"], "Ava Lovelace");
    assert_eq!(profile["account"]["description"], "Films of trains");
    assert!(!profile["account"]["avatars"].as_array().unwrap().is_empty(), "{profile}");
    let chans: Vec<String> =
        profile["videoChannels"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
    assert!(chans.contains(&"ava_travels".to_string()), "{chans:?}");
    let (_, mine) = b.api.get("/api/v1/users/me/videos", Some(&ava2)).await;
    assert_eq!(mine["total"], 1, "{mine}");
    assert_eq!(mine["data"][0]["name"], "Steam engines at dawn");
    assert_eq!(mine["data"][0]["state"]["id"], 1, "transcoded here: {mine}");
    // With its caption and chapters.
    let imported = mine["data"][0]["uuid"].as_str().unwrap().to_string();
    let (_, caps) = b.api.get(&format!("/api/v1/videos/{imported}/captions"), Some(&ava2)).await;
    assert_eq!(caps["data"][0]["language"]["id"], "en", "{caps}");
    let (_, chs) = b.api.get(&format!("/api/v1/videos/{imported}/chapters"), Some(&ava2)).await;
    assert_eq!(chs["chapters"], json!([{ "timecode": 0, "title": "Dawn" }, { "timecode": 1, "title": "Steam" }]));
    let (_, subs) = b.api.get("/api/v1/users/me/subscriptions", Some(&ava2)).await;
    assert_eq!(subs["data"][0]["name"], bob_channel.as_str(), "{subs}");
    let (_, lists) = b.api.get("/api/v1/accounts/ava/video-playlists", Some(&ava2)).await;
    let fav = lists["data"].as_array().unwrap().iter().find(|p| p["displayName"] == "Favourites").expect("Favourites");
    assert_eq!(fav["videosLength"], 1, "{fav}");
    let (_, hist) = b.api.get("/api/v1/users/me/history/videos", Some(&ava2)).await;
    assert_eq!(hist["data"][0]["name"], "Bob's garden", "{hist}");
    let bob_here = hist["data"][0]["uuid"].as_str().unwrap().to_string();
    let (_, rating) = b.api.get(&format!("/api/v1/users/me/videos/{bob_here}/rating"), Some(&ava2)).await;
    assert_eq!(rating["rating"], "like", "{rating}");

    // The same archive again: everything is already here.
    let (status, body) = import(&b.api, &ava2, ava2_id, &zip).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    b.run_jobs().await;
    let again = latest(&b.api, &ava2, ava2_id).await;
    assert_eq!(again["state"]["id"], 3, "{again}");
    assert_eq!(again["resultSummary"]["stats"]["videos"], json!({ "success": 0, "duplicates": 1, "errors": 0 }));
    assert_eq!(again["resultSummary"]["stats"]["videoPlaylists"]["duplicates"], 1, "{again}");
    assert_eq!(b.api.get("/api/v1/users/me/videos", Some(&ava2)).await.1["total"], 1);

    // Deleting the export takes its link down.
    let export_id = export["id"].as_i64().unwrap();
    assert_eq!(
        a.api.delete(&format!("/api/v1/users/{ava_id}/exports/{export_id}"), Some(&bob)).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        a.api.delete(&format!("/api/v1/users/{bob_id}/exports/{export_id}"), Some(&bob)).await.0,
        StatusCode::NOT_FOUND,
        "not bob's export"
    );
    assert_eq!(
        a.api.delete(&format!("/api/v1/users/{ava_id}/exports/{export_id}"), Some(&ava)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(a.api.http.get(&link).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

async fn hostile_archives_are_refused_and_change_nothing(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let eve = t.user("eve").await;
    let other = t.user("other").await;
    let eve_id = me(&t.api, &eve).await["id"].as_i64().unwrap();
    let other_id = me(&t.api, &other).await["id"].as_i64().unwrap();
    let videos = || async { t.api.get("/api/v1/users/me/videos", Some(&eve)).await.1["total"].as_i64().unwrap() };
    let channel = me(&t.api, &eve).await["videoChannels"][0]["name"].as_str().unwrap().to_string();

    // Into someone else's account.
    let (status, body) = import(&t.api, &eve, other_id, &zip_of(&[])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // Announced larger than any archive this instance takes: refused before a byte is sent.
    let resp = t
        .api
        .http
        .post(t.api.url(&format!("/api/v1/users/{eve_id}/imports/import-resumable")))
        .bearer_auth(&eve)
        .header("X-Upload-Content-Length", (12u64 << 30).to_string())
        .json(&json!({ "filename": "huge.zip" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "max_file_size_reached");

    // Not a zip: refused at the last byte, no import, no file kept.
    let (status, body) = import(&t.api, &eve, eve_id, b"just some text, not an archive").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_archive", "{body}");
    assert_eq!(t.api.get(&format!("/api/v1/users/{eve_id}/imports/latest"), Some(&eve)).await.0, StatusCode::NOT_FOUND);

    // Too many entries.
    let many: Vec<(String, Vec<u8>)> = (0..10_001).map(|i| (format!("f/{i}"), Vec::new())).collect();
    let many: Vec<(&str, Vec<u8>)> = many.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let (status, body) = import(&t.api, &eve, eve_id, &zip_of(&many)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().unwrap_or_default().contains("10000"), "{body}");

    // Paths that leave the archive, a real file named by an absolute path, a bomb (70 MB of
    // spaces in a few kilobytes) as a part's JSON: each is that item's or that part's error; the
    // rest is imported, the process stays up.
    let clip = flotilla_testkit::clip(t.dir.path(), "c.mp4", 128, 72, 1);
    let videos_json = json!({ "videos": [
        { "name": "Escape", "duration": 1, "privacy": 1, "channel": { "name": channel },
          "archiveFiles": { "videoFile": "../../../../../../etc/passwd", "thumbnail": null } },
        { "name": "Absolute", "duration": 1, "privacy": 1, "channel": { "name": channel },
          "archiveFiles": { "videoFile": clip.display().to_string(), "thumbnail": null } },
        { "name": "Not a video", "duration": 1, "privacy": 1, "channel": { "name": channel },
          "archiveFiles": { "videoFile": "../files/videos/video-files/x.mp4", "thumbnail": null } },
        { "name": "Elsewhere", "duration": 1, "privacy": 1, "channel": { "name": "not_mine_at_all" },
          "archiveFiles": { "videoFile": "../files/videos/video-files/y.mp4", "thumbnail": null } },
    ] });
    let bomb = vec![b' '; 70 * 1024 * 1024];
    let archive = zip_of(&[
        ("peertube/videos.json", serde_json::to_vec(&videos_json).unwrap()),
        ("peertube/channels.json", bomb),
        ("peertube/account.json", serde_json::to_vec(&json!({ "displayName": "Eve Imported" })).unwrap()),
        ("files/videos/video-files/x.mp4", b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n".to_vec()),
        ("files/videos/video-files/y.mp4", std::fs::read(&clip).unwrap()),
    ]);
    assert!(archive.len() < 1024 * 1024, "the bomb is small compressed ({} bytes)", archive.len());
    let (status, body) = import(&t.api, &eve, eve_id, &archive).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.run_jobs().await;
    let done = latest(&t.api, &eve, eve_id).await;
    assert_eq!(done["state"]["id"], 3, "{done}");
    let stats = &done["resultSummary"]["stats"];
    assert_eq!(stats["videos"], json!({ "success": 0, "duplicates": 0, "errors": 4 }), "{done}");
    assert_eq!(stats["channels"]["errors"], 1, "the bomb: {done}");
    assert_eq!(stats["account"]["success"], 1, "{done}");
    assert_eq!(me(&t.api, &eve).await["account"]["displayName"], "Eve Imported");
    assert_eq!(videos().await, 0, "no video from a hostile archive");
    let leftovers: Vec<_> = std::fs::read_dir(t.config.data_dir.join("tmp/uploads")).unwrap().collect();
    assert!(leftovers.is_empty(), "the archive and the extracted files are gone: {leftovers:?}");
    assert_eq!(t.api.get("/api/v1/config", None).await.0, StatusCode::OK, "still up");
}

/// An archive as PeerTube 6.3 writes it (`server/core/lib/user-import-export/exporters`): its
/// extra fields (captions, chapters, source, player settings, watched words…) are read or left
/// aside, what points at its old server (gone now) counts as errors, the rest comes in.
async fn a_peertube_archive_is_imported(backend: Backend) {
    let t = TestInstance::start(backend).await;
    let zoe = t.user("zoe").await;
    let zoe_id = me(&t.api, &zoe).await["id"].as_i64().unwrap();
    let old = format!("http://127.0.0.1:{}", flotilla_testkit::free_port());
    let uuid = "0f9b3f5e-7d0c-4c1b-9f5e-2a6a8d1e4b3c";
    let clip = flotilla_testkit::clip(t.dir.path(), "p.mp4", 160, 90, 1);
    let videos = json!({ "videos": [{
        "uuid": uuid, "createdAt": "2024-02-09T10:12:11.682Z", "updatedAt": "2024-02-09T10:12:11.682Z",
        "publishedAt": "2024-02-09T10:12:11.682Z", "originallyPublishedAt": null,
        "name": "Birds of the marsh", "category": 5, "licence": 1, "language": "en", "tags": ["birds", "marsh"],
        "privacy": 5, "passwords": ["heron-watch"], "duration": 1, "description": "Herons at *dusk*", "support": null,
        "isLive": false, "url": format!("{old}/videos/watch/{uuid}"),
        "thumbnailUrl": format!("{old}/lazy-static/thumbnails/a.jpg"), "previewUrl": null,
        "views": 12, "likes": 3, "dislikes": 0, "nsfw": false, "commentsEnabled": true, "commentsPolicy": 3,
        "downloadEnabled": true, "channel": { "name": "zoe_birds" }, "waitTranscoding": true, "state": 1,
        "captions": [{ "createdAt": "2024-02-09T10:12:11.682Z", "updatedAt": "2024-02-09T10:12:11.682Z",
                       "language": "en", "filename": "x.vtt", "automaticallyGenerated": false,
                       "fileUrl": format!("{old}/lazy-static/video-captions/x.vtt") }],
        "chapters": [{ "timecode": 0, "title": "Start" }],
        "files": [],
        "streamingPlaylists": [{ "type": 1, "playlistUrl": format!("{old}/static/streaming-playlists/hls/{uuid}/m.m3u8"),
                                 "segmentsSha256Url": format!("{old}/s.json"), "files": [] }],
        "source": { "inputFilename": "marsh.mp4", "resolution": 90, "size": 1000, "width": 160, "height": 90,
                    "fps": 25, "metadata": {} },
        "archiveFiles": { "videoFile": format!("../files/videos/video-files/{uuid}.mp4"),
                          "thumbnail": format!("../files/videos/thumbnails/{uuid}.jpg"),
                          "captions": { "en": format!("../files/videos/captions/{uuid}-en.vtt") } }
    }] });
    let channels = json!({ "channels": [{
        "url": format!("{old}/video-channels/zoe_birds"), "name": "zoe_birds", "displayName": "Zoe's birds",
        "description": "Wading birds", "support": null, "updatedAt": "2024-02-09T10:12:11.682Z",
        "createdAt": "2024-02-09T10:12:11.682Z", "avatars": [], "banners": [],
        "playerSettings": { "theme": "channel-default" }, "archiveFiles": { "avatar": null, "banner": null }
    }] });
    let settings = json!({
        "email": "zoe@old.example", "emailPublic": false, "nsfwPolicy": "blur", "autoPlayVideo": false,
        "autoPlayNextVideo": true, "autoPlayNextVideoPlaylist": true, "p2pEnabled": false,
        "videosHistoryEnabled": true, "videoLanguages": null, "browseVideosCategories": [], "theme": "instance-default",
        "createdAt": "2024-02-09T10:12:11.682Z", "notificationSettings": { "newCommentOnMyVideo": 3, "unknownKey": 2 }
    });
    let archive = zip_of(&[
        (
            "peertube/account.json",
            serde_json::to_vec(&json!({
            "url": format!("{old}/accounts/zoe"), "name": "zoe", "displayName": "Zoé", "description": "Birder",
            "updatedAt": "2024-02-09T10:12:11.682Z", "createdAt": "2024-02-09T10:12:11.682Z",
            "avatars": [], "archiveFiles": { "avatar": null } }))
            .unwrap(),
        ),
        ("peertube/user-settings.json", serde_json::to_vec(&settings).unwrap()),
        ("peertube/channels.json", serde_json::to_vec(&channels).unwrap()),
        ("peertube/videos.json", serde_json::to_vec(&videos).unwrap()),
        (
            "peertube/likes.json",
            serde_json::to_vec(&json!({ "likes": [
            { "videoUrl": format!("{old}/videos/watch/3c0c9f5e-0000-4c1b-9f5e-2a6a8d1e4b3c"),
              "createdAt": "2024-02-09T10:12:11.682Z" }] }))
            .unwrap(),
        ),
        ("peertube/watched-words-lists.json", br#"{ "watchedWordsLists": [] }"#.to_vec()),
        ("peertube/automatic-tag-policies.json", br#"{ "reviewComments": [] }"#.to_vec()),
        ("activity-pub/outbox.json", br#"{ "type": "OrderedCollection", "orderedItems": [] }"#.to_vec()),
        (&format!("files/videos/video-files/{uuid}.mp4"), std::fs::read(&clip).unwrap()),
        (&format!("files/videos/thumbnails/{uuid}.jpg"), png(640, 360)),
        (&format!("files/videos/captions/{uuid}-en.vtt"), b"WEBVTT\n\n00:00.000 --> 00:01.000\nHeron\n".to_vec()),
    ]);
    let (status, body) = import(&t.api, &zoe, zoe_id, &archive).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.run_jobs().await;
    let done = latest(&t.api, &zoe, zoe_id).await;
    assert_eq!(done["state"]["id"], 3, "{done}");
    let stats = &done["resultSummary"]["stats"];
    assert_eq!(stats["videos"], json!({ "success": 1, "duplicates": 0, "errors": 0 }), "{done}");
    assert_eq!(stats["channels"]["success"], 1, "{done}");
    assert_eq!(stats["likes"]["errors"], 1, "its old server is gone: {done}");
    let profile = me(&t.api, &zoe).await;
    assert_eq!(profile["account"]["displayName"], "Zoé");
    assert_eq!(profile["nsfwPolicy"], "blur");
    assert_eq!(profile["p2pEnabled"], false);
    let (_, mine) = t.api.get("/api/v1/users/me/videos", Some(&zoe)).await;
    assert_eq!(mine["total"], 1, "{mine}");
    let v = &mine["data"][0];
    assert_eq!(v["name"], "Birds of the marsh");
    assert_eq!(v["channel"]["name"], "zoe_birds");
    let (_, full) = t.api.get(&format!("/api/v1/videos/{}", v["uuid"].as_str().unwrap()), Some(&zoe)).await;
    assert_eq!(full["tags"], json!(["birds", "marsh"]), "{full}");
    assert_eq!(full["description"], "Herons at *dusk*");
    assert_eq!(full["commentsPolicy"]["id"], 3, "{full}");
    assert_eq!(full["category"]["id"], 5);
    assert_ne!(full["uuid"], uuid, "a new video here, not the old one's identity");
    // Password-protected, with its password.
    assert_eq!(full["privacy"]["id"], 5, "{full}");
    let (_, words) =
        t.api.get(&format!("/api/v1/videos/{}/passwords", full["uuid"].as_str().unwrap()), Some(&zoe)).await;
    assert_eq!(words["data"][0]["password"], "heron-watch", "{words}");
}

/// An export and an import whose jobs die midway (a panic where a crash would be) are run again
/// from the start: the export's half-built file was never linked, the import finds the video it
/// already brought and brings nothing twice.
async fn jobs_stopped_midway_finish_without_doubling(backend: Backend) {
    use flotilla_app::failpoints::Action;
    let t = TestInstance::start(backend).await;
    let app = &t.instance.app;
    let mia = t.user("mia").await;
    let mia_id = me(&t.api, &mia).await["id"].as_i64().unwrap();
    t.publish(&mia, "Rain on the roof", &[]).await;
    t.run_jobs().await;
    let make_due = || async {
        flotilla_db::run!(&app.db, |x| sqlx::query("UPDATE jobs SET run_at = 0 WHERE state = 'queued'")
            .execute(x)
            .await
            .map(|_| ()))
        .unwrap();
    };

    app.failpoints.arm("archive.export.written", Action::PanicOnce);
    let (status, body) = t
        .api
        .post(&format!("/api/v1/users/{mia_id}/exports/request"), Some(&mia), json!({ "withVideoFiles": true }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.run_jobs().await;
    let (_, list) = t.api.get(&format!("/api/v1/users/{mia_id}/exports"), Some(&mia)).await;
    assert_eq!(list["data"][0]["state"]["id"], 2, "stopped while processing: {list}");
    assert!(list["data"][0]["privateDownloadUrl"].is_null(), "no link to a half-built archive: {list}");
    make_due().await;
    t.run_jobs().await;
    let (_, list) = t.api.get(&format!("/api/v1/users/{mia_id}/exports"), Some(&mia)).await;
    assert_eq!(list["data"][0]["state"]["id"], 3, "{list}");
    let zip = t.api.http.get(list["data"][0]["privateDownloadUrl"].as_str().unwrap()).send().await.unwrap();
    let zip = zip.bytes().await.unwrap().to_vec();
    assert_eq!(json_entry(&zip, "peertube/videos.json")["videos"].as_array().unwrap().len(), 1);
    let dir: Vec<String> = std::fs::read_dir(t.config.data_dir.join("user-exports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(dir.len(), 1, "one archive, no .part left: {dir:?}");

    // Mia deletes her video, then imports her archive; the import stops after the videos.
    let (_, mine) = t.api.get("/api/v1/users/me/videos", Some(&mia)).await;
    let uuid = mine["data"][0]["uuid"].as_str().unwrap().to_string();
    assert_eq!(t.api.delete(&format!("/api/v1/videos/{uuid}"), Some(&mia)).await.0, StatusCode::NO_CONTENT);
    app.failpoints.arm("archive.import.after_videos", Action::PanicOnce);
    let (status, body) = import(&t.api, &mia, mia_id, &zip).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.run_jobs().await;
    assert_eq!(latest(&t.api, &mia, mia_id).await["state"]["id"], 2, "stopped while processing");
    make_due().await;
    t.run_jobs().await;
    let done = latest(&t.api, &mia, mia_id).await;
    assert_eq!(done["state"]["id"], 3, "{done}");
    assert_eq!(
        done["resultSummary"]["stats"]["videos"],
        json!({ "success": 0, "duplicates": 1, "errors": 0 }),
        "{done}"
    );
    let (_, mine) = t.api.get("/api/v1/users/me/videos", Some(&mia)).await;
    assert_eq!(mine["total"], 1, "the video once: {mine}");
    assert_eq!(mine["data"][0]["name"], "Rain on the roof");
}
