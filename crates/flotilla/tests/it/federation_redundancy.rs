//! Mirrors (PeerTube's redundancy) between real instances and a PeerTube-shaped stand-in: B and C
//! follow A and mirror its videos by their strategies (recently-added, trending, most-views) or
//! by an admin's hand, copying every piece checked against A's hashes; A lists the mirrors it
//! accepts (`accept_from`) to players; renewals, `Undo`, expiry and refusals.

use flotilla_testkit::reqwest::{StatusCode, header};
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, FakeServer, TestInstance, db_tests, settle};

db_tests!(
    three_instances_mirror_by_each_strategy_and_the_origin_lists_them,
    a_mirror_of_segments_that_do_not_match_their_hashes_is_abandoned,
    cache_files_from_a_peertube_stand_in_are_listed_as_accept_from_allows,
);

const GIB: u64 = 1 << 30;

/// The JSON-LD context of PeerTube 6.3's `CacheFile` (shared/reference/peertube-samples/ap-cachefile.json).
fn peertube_context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        { "RsaSignature2017": "https://w3id.org/security#RsaSignature2017" },
        { "pt": "https://joinpeertube.org/ns#", "sc": "http://schema.org/", "expires": "sc:expires", "CacheFile": "pt:CacheFile",
          "size": { "@type": "sc:Number", "@id": "pt:size" }, "fps": { "@type": "sc:Number", "@id": "pt:fps" } }
    ])
}

fn expires_in(secs: i64) -> String {
    flotilla_domain::time::iso8601(flotilla_domain::time::now_ms() + secs * 1000)
}

async fn sql(t: &TestInstance, text: String) {
    let db = &t.instance.app.db;
    flotilla_db::run!(db, |x| sqlx::query(&text).execute(x).await.map(|_| ())).unwrap();
}

async fn check(t: &TestInstance) {
    flotilla_app::redundancy::check(&t.instance.app).await.unwrap();
    t.run_jobs().await;
}

async fn mirrors_on(a: &TestInstance, uuid: &str) -> Vec<String> {
    let (_, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let list = v["streamingPlaylists"][0]["redundancies"].as_array().cloned().unwrap_or_default();
    let mut urls: Vec<String> = list.iter().map(|r| r["baseUrl"].as_str().unwrap().to_string()).collect();
    urls.sort();
    urls
}

/// What A lists for `uuid` once `want` holds, or after a minute: each second the instances run
/// their due jobs again (a delivery refused by a busy server is retried seconds later).
async fn mirrors_become(a: &TestInstance, others: &[&TestInstance], uuid: &str, want: &[String]) -> Vec<String> {
    let mut want = want.to_vec();
    want.sort();
    for _ in 0..60 {
        let got = mirrors_on(a, uuid).await;
        if got == want {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        a.run_jobs().await;
        for o in others {
            o.run_jobs().await;
        }
    }
    mirrors_on(a, uuid).await
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

async fn get_bytes(url: &str, range: Option<&str>) -> (StatusCode, Vec<u8>) {
    let mut req = flotilla_testkit::reqwest::Client::new().get(url);
    if let Some(r) = range {
        req = req.header(header::RANGE, r);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.bytes().await.unwrap().to_vec())
}

async fn three_instances_mirror_by_each_strategy_and_the_origin_lists_them(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let strategy = |name: &str| flotilla_app::config::RedundancyStrategy {
        strategy: name.into(),
        size_bytes: GIB,
        min_lifetime_secs: 3600,
        min_views: 0,
    };
    let b = TestInstance::start_with(backend, |c| {
        c.redundancy.strategies = vec![strategy("recently-added"), strategy("trending")]
    })
    .await;
    let c = TestInstance::start_with(backend, |c| c.redundancy.strategies = vec![strategy("most-views")]).await;
    // A lists the mirrors of servers it follows (accept_from = followings, the default).
    for (x, y) in [(&b, &a), (&c, &a), (&a, &b), (&a, &c)] {
        x.follow_instance(y).await;
    }
    let token = a.user("mara").await;
    // A minute long: fifteen segments, more pieces than an ordinary job may fetch.
    let older = publish_clip(&a, &token, "Older", 60).await;
    let newer = a.publish(&token, "Newer", &[]).await;
    a.run_jobs().await;
    settle(&[&a, &b, &c]).await;

    // Nothing is mirrored before an admin allows A's videos to be.
    check(&b).await;
    let (_, mine) =
        b.api.get("/api/v1/server/redundancy/videos?target=remote-videos", Some(&b.admin_token().await)).await;
    assert_eq!(mine["total"], 0, "{mine}");
    let host = a.instance.addr.to_string();
    for t in [&b, &c] {
        let admin = t.admin_token().await;
        let (s, body) = t
            .api
            .put(&format!("/api/v1/server/redundancy/{host}"), Some(&admin), json!({ "redundancyAllowed": true }))
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
        let (s, _) = t
            .api
            .put("/api/v1/server/redundancy/not-followed.example", Some(&admin), json!({ "redundancyAllowed": true }))
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (_, following) = t.api.get("/api/v1/server/following", None).await;
        let entry = following["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["following"]["host"] == host.as_str())
            .unwrap()
            .clone();
        assert_eq!(entry["following"]["hostRedundancyAllowed"], true, "{entry}");
    }
    // Trending on B: the older video is watched there; most-views on C: the older one has more views.
    // (Views of this week as the views API counts them, written directly: a view of a remote video
    // also queues telling its server, minutes later.)
    let today = flotilla_domain::time::now_ms() / 86_400_000;
    sql(&b, format!("INSERT INTO video_views_daily (video_id, day, views) SELECT id, {today}, 3 FROM videos WHERE uuid = '{older}'"))
        .await;
    sql(&c, format!("UPDATE videos SET views = 50 WHERE uuid = '{older}'")).await;

    check(&b).await; // recently-added → newer, trending → older
    check(&c).await; // most-views → older
    settle(&[&a, &b, &c]).await;
    let b_base = |uuid: &str| format!("{}/static/redundancy/hls/{uuid}", b.api.base);
    let c_base = |uuid: &str| format!("{}/static/redundancy/hls/{uuid}", c.api.base);
    assert_eq!(
        mirrors_become(&a, &[&b, &c], &newer, &[b_base(&newer)]).await,
        vec![b_base(&newer)],
        "recently-added on B"
    );
    let mut both = vec![b_base(&older), c_base(&older)];
    both.sort();
    assert_eq!(mirrors_become(&a, &[&b, &c], &older, &both).await, both, "trending on B, most-views on C");

    // The copy is A's files, byte for byte, at PeerTube's path.
    let (_, v) = a.api.get(&format!("/api/v1/videos/{older}"), None).await;
    let origin = v["streamingPlaylists"][0]["playlistUrl"].as_str().unwrap().to_string();
    let master = origin.rsplit('/').next().unwrap();
    let (s, at_a) = get_bytes(&origin, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(get_bytes(&format!("{}/{master}", b_base(&older)), None).await, (StatusCode::OK, at_a));
    let hashes: Value =
        flotilla_testkit::reqwest::get(v["streamingPlaylists"][0]["segmentsSha256Url"].as_str().unwrap())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let (file, ranges) = hashes.as_object().unwrap().iter().next().unwrap();
    let range = format!("bytes={}", ranges.as_object().unwrap().keys().next().unwrap());
    let dir = &origin[..origin.rfind('/').unwrap()];
    let (s, seg_a) = get_bytes(&format!("{dir}/{file}"), Some(&range)).await;
    assert_eq!(s, StatusCode::PARTIAL_CONTENT);
    let seg_len = seg_a.len() as u64;
    assert_eq!(
        get_bytes(&format!("{}/{file}", c_base(&older)), Some(&range)).await,
        (StatusCode::PARTIAL_CONTENT, seg_a)
    );
    let text = flotilla_testkit::reqwest::get(c.api.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(
        text.contains(&format!("flotilla_mirror_served_bytes_total {seg_len}\n")),
        "C counted what its mirror served: {text}"
    );

    // Our CacheFile answers at its id in PeerTube's shape.
    let cache_url = format!("{}/redundancy/streaming-playlists/hls/{older}", b.api.base);
    let doc: Value = b
        .api
        .http
        .get(&cache_url)
        .header(header::ACCEPT, "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The keys of shared/reference/peertube-samples/ap-cachefile.json.
    assert_eq!(keys(&doc), ["@context", "cc", "expires", "id", "object", "to", "type", "url"]);
    assert_eq!(doc["@context"], peertube_context());
    assert_eq!(keys(&doc["url"]), ["href", "mediaType", "type"]);
    assert_eq!(doc["url"]["mediaType"], "application/x-mpegURL");
    assert_eq!(doc["url"]["href"], b_base(&older));
    assert_eq!(doc["object"], format!("{}/videos/watch/{older}", a.api.base));
    // …and the Create we sent A is PeerTube's.
    let sent = sent_activities(&b, "Create").await;
    let create = sent.iter().find(|s| s["object"]["id"] == cache_url).expect("a Create(CacheFile) was sent");
    // The keys of ap-sent-create-cachefile.json (what PeerTube 6.3 sends), and the context.
    let mut without_context = create.clone();
    without_context.as_object_mut().unwrap().remove("@context");
    assert_eq!(keys(&without_context), ["actor", "cc", "id", "object", "to", "type"]);
    assert_eq!(keys(&create["object"]), ["cc", "expires", "id", "object", "to", "type", "url"]);
    assert_eq!(create["@context"], peertube_context());
    assert_eq!(create["actor"], format!("{}/accounts/peertube", b.api.base));
    assert!(create["id"].as_str().unwrap().starts_with(&format!("{cache_url}/activity#")), "{create}");
    assert_eq!(create["to"], json!([format!("{}/accounts/mara", a.api.base)]));

    // The admins' lists, in PeerTube's shape.
    let (_, theirs) =
        a.api.get("/api/v1/server/redundancy/videos?target=my-videos", Some(&a.admin_token().await)).await;
    assert_eq!(theirs["total"], 3, "{theirs}");
    // The keys of api-redundancy-my-videos.json.
    assert_eq!(keys(&theirs["data"][0]), ["id", "name", "redundancies", "url", "uuid"]);
    assert_eq!(
        keys(&theirs["data"][0]["redundancies"]["streamingPlaylists"][0]),
        ["createdAt", "expiresOn", "fileUrl", "id", "size", "strategy", "updatedAt"]
    );
    let b_admin = b.admin_token().await;
    let (_, ours) = b.api.get("/api/v1/server/redundancy/videos?target=remote-videos", Some(&b_admin)).await;
    assert_eq!(ours["total"], 2, "{ours}");
    let (s, _) = b.api.get("/api/v1/server/redundancy/videos?target=everything", Some(&b_admin)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = b.api.get("/api/v1/server/redundancy/videos?target=remote-videos", Some(&b.user("ines").await)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // An expired mirror of B, renewed by B's check (its strategy has room): A hears the Update.
    sql(&b, format!("UPDATE video_redundancies SET expires_at = 1 WHERE url = '{cache_url}'")).await;
    sql(&a, format!("UPDATE video_redundancies SET expires_at = 1 WHERE url = '{cache_url}'")).await;
    assert_eq!(mirrors_on(&a, &older).await, vec![c_base(&older)], "an expired mirror is not listed");
    check(&b).await;
    settle(&[&a, &b]).await;
    assert_eq!(mirrors_become(&a, &[&b], &older, &both).await, both, "renewed by B's Update");

    // A mirror expired at A and never renewed is forgotten by A's sweep.
    sql(&a, format!("UPDATE video_redundancies SET expires_at = 1 WHERE base_url = '{}'", c_base(&older))).await;
    assert!(
        flotilla_app::redundancy::prune_expired(&a.instance.app, flotilla_domain::time::now_ms()).await.unwrap() >= 1
    );
    assert_eq!(mirrors_on(&a, &older).await, vec![b_base(&older)]);

    // B's admin ends a mirror: A hears the Undo, B's files go.
    let id = ours["data"].as_array().unwrap().iter().find(|d| d["uuid"] == newer.as_str()).unwrap()["redundancies"]["streamingPlaylists"][0]["id"].as_i64().unwrap();
    let (s, _) = b.api.delete(&format!("/api/v1/server/redundancy/videos/{id}"), Some(&b_admin)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    settle(&[&a, &b]).await;
    assert_eq!(mirrors_become(&a, &[&b], &newer, &[]).await, Vec::<String>::new(), "withdrawn by B's Undo");
    assert_eq!(get_bytes(&format!("{}/{master}", b_base(&newer)), None).await.0, StatusCode::NOT_FOUND);

    // Manual mirroring: a local video or one mirrored already is refused.
    let (_, b_video) = b.api.get(&format!("/api/v1/videos/{newer}"), None).await;
    let (s, body) =
        b.api.post("/api/v1/server/redundancy/videos", Some(&b_admin), json!({ "videoId": b_video["id"] })).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    let (s, _) =
        b.api.post("/api/v1/server/redundancy/videos", Some(&b_admin), json!({ "videoId": b_video["id"] })).await;
    assert_eq!(s, StatusCode::CONFLICT);
    b.run_jobs().await;
    settle(&[&a, &b]).await;
    assert_eq!(
        mirrors_become(&a, &[&b], &newer, &[b_base(&newer)]).await,
        vec![b_base(&newer)],
        "the manual mirror is listed"
    );
    let (_, own) = b.api.get(&format!("/api/v1/videos/{}", b.publish(&b_admin, "Mine", &[]).await), None).await;
    let (s, _) = b.api.post("/api/v1/server/redundancy/videos", Some(&b_admin), json!({ "videoId": own["id"] })).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

/// A `secs`-second clip published on `t` and transcoded; its UUID.
async fn publish_clip(t: &TestInstance, token: &str, name: &str, secs: u32) -> String {
    use flotilla_testkit::reqwest::multipart;
    let (_, me) = t.api.get("/api/v1/users/me", Some(token)).await;
    let file = flotilla_testkit::clip(t.dir.path(), "long.mp4", 256, 144, secs);
    let form = multipart::Form::new()
        .text("channelId", me["videoChannels"][0]["id"].to_string())
        .text("name", name.to_string())
        .part("videofile", multipart::Part::bytes(std::fs::read(&file).unwrap()).file_name("long.mp4"));
    let (s, body) =
        t.api.send(t.api.http.post(t.api.url("/api/v1/videos/upload")).bearer_auth(token).multipart(form)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    t.run_jobs().await;
    body["video"]["uuid"].as_str().unwrap().to_string()
}

/// The activities `t` queued for delivery of a type.
async fn sent_activities(t: &TestInstance, kind: &str) -> Vec<Value> {
    let db = &t.instance.app.db;
    let rows: Vec<(String,)> =
        flotilla_db::run!(db, |x| sqlx::query_as("SELECT payload FROM jobs WHERE kind = 'deliver'").fetch_all(x).await)
            .unwrap();
    rows.into_iter()
        .map(|(p,)| flotilla_testkit::serde_json::from_str::<Value>(&p).unwrap()["activity"].clone())
        .filter(|a| a["type"] == kind)
        .collect()
}

async fn cache_files_from_a_peertube_stand_in_are_listed_as_accept_from_allows(backend: Backend) {
    let pt = FakeServer::start().await;
    let server = pt.actor("Application", "peertube", json!({}));
    let a = TestInstance::start(backend).await;
    let token = a.user("mara").await;
    let uuid = a.publish(&token, "Harbour", &[]).await;
    a.run_jobs().await;
    let video_url = format!("{}/videos/watch/{uuid}", a.api.base);
    let inbox = format!("{}/inbox", a.api.base);
    let id = format!("{}/redundancy/streaming-playlists/hls/{uuid}", pt.base);
    let href = format!("{}/static/redundancy/hls/{uuid}", pt.base);
    let expires = expires_in;
    // PeerTube's own activity (ap-sent-create-cachefile.json's shape), from the stand-in.
    let to = json!([format!("{}/accounts/mara", a.api.base)]);
    let create = |n: u32, href: &str, expires: String| {
        json!({
            "@context": peertube_context(),
            "to": to, "cc": [], "type": "Create", "id": format!("{id}/activity#{n}"), "actor": server,
            "object": {
                "to": to, "cc": [], "id": id, "type": "CacheFile", "object": video_url, "expires": expires,
                "url": { "type": "Link", "mediaType": "application/x-mpegURL", "href": href },
            },
        })
    };
    // A does not follow the stand-in: with accept_from = followings its mirror is not listed.
    assert_eq!(pt.send(&inbox, &server, &create(1, &href, expires(3600))).await, StatusCode::ACCEPTED);
    assert_eq!(mirrors_on(&a, &uuid).await, Vec::<String>::new());
    // With anybody, it is.
    let a = {
        let stopped = a.stop_keep().await;
        stopped.start_with(|c| c.redundancy.accept_from = "anybody".into()).await
    };
    assert_eq!(pt.send(&inbox, &server, &create(2, &href, expires(3600))).await, StatusCode::ACCEPTED);
    assert_eq!(mirrors_on(&a, &uuid).await, vec![href.clone()]);
    let (_, v) = a.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    // As api-video-details-with-redundancy.json lists them.
    assert_eq!(v["streamingPlaylists"][0]["redundancies"], json!([{ "baseUrl": href }]));

    // Refused: a copy on another server, a mirror of a video we do not have, an already expired
    // one (ignored), and an Undo by someone else.
    let (s, body) = pt
        .send_full(&inbox, &server, &create(3, "https://elsewhere.example/static/redundancy/hls/x", expires(3600)))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    let mut unknown = create(4, &href, expires(3600));
    unknown["object"]["object"] = json!(format!("{}/videos/watch/00000000-0000-4000-8000-000000000000", a.api.base));
    unknown["object"]["id"] = json!(format!("{id}-other"));
    assert_eq!(pt.send(&inbox, &server, &unknown).await, StatusCode::NOT_FOUND);
    let other = pt.actor("Application", "other", json!({}));
    let undo = |n: u32, actor: &str| {
        json!({
            "@context": peertube_context(),
            "type": "Undo", "id": format!("{id}/undo#{n}"), "actor": actor, "to": [], "cc": [],
            "object": create(9, &href, expires(3600)),
        })
    };
    assert_eq!(pt.send(&inbox, &other, &undo(1, &other)).await, StatusCode::ACCEPTED);
    assert_eq!(mirrors_on(&a, &uuid).await, vec![href.clone()], "someone else's Undo changes nothing");
    // The mirror's own Undo removes it.
    assert_eq!(pt.send(&inbox, &server, &undo(2, &server)).await, StatusCode::ACCEPTED);
    assert_eq!(mirrors_on(&a, &uuid).await, Vec::<String>::new());
    // Announced again, then past its expiry: no longer listed.
    assert_eq!(pt.send(&inbox, &server, &create(5, &href, expires(2))).await, StatusCode::ACCEPTED);
    assert_eq!(mirrors_on(&a, &uuid).await, vec![href.clone()]);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(mirrors_on(&a, &uuid).await, Vec::<String>::new(), "expired");
    assert_eq!(pt.send(&inbox, &server, &create(6, &href, expires(-10))).await, StatusCode::ACCEPTED);
    assert_eq!(mirrors_on(&a, &uuid).await, Vec::<String>::new(), "an expired announcement is ignored");
}

async fn a_mirror_of_segments_that_do_not_match_their_hashes_is_abandoned(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    a.follow_instance(&b).await;
    let token = a.user("mara").await;
    let uuid = a.publish(&token, "Harbour", &[]).await;
    a.run_jobs().await;
    settle(&[&a, &b]).await;
    // A's fragment file changes on its disk, its published hashes do not.
    let dir = a.config.data_dir.join("streaming-playlists/hls").join(&uuid);
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|f| f.path())
        .find(|p| p.to_string_lossy().ends_with("-fragmented.mp4"))
        .unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let n = bytes.len();
    for x in &mut bytes[n - 200..n - 100] {
        *x ^= 0x5a;
    }
    std::fs::write(&file, &bytes).unwrap();

    let admin = b.admin_token().await;
    let (_, v) = b.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    let (s, body) = b.api.post("/api/v1/server/redundancy/videos", Some(&admin), json!({ "videoId": v["id"] })).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{body}");
    b.run_jobs().await;
    settle(&[&a, &b]).await;
    let (_, ours) = b.api.get("/api/v1/server/redundancy/videos?target=remote-videos", Some(&admin)).await;
    assert_eq!(ours["total"], 0, "the mirror was abandoned: {ours}");
    assert!(!b.config.data_dir.join("redundancy/hls").join(&uuid).exists(), "no copy is kept");
    assert!(!b.config.data_dir.join("tmp/redundancy").join(&uuid).exists(), "nor its staging directory");
    assert_eq!(mirrors_on(&a, &uuid).await, Vec::<String>::new(), "A never heard of it");
    assert!(sent_activities(&b, "Create").await.iter().all(|c| c["object"]["type"] != "CacheFile"));
}
