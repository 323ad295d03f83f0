//! Blocklists between real instances: a server blocked by an instance is refused at its inbox
//! before any work (nothing fetched, nothing written), never fetched from, and its videos and
//! comments are hidden until it is unblocked; a user's own mute hides only for that user (lists,
//! comments, notifications); the lists answer PeerTube's shapes; the CSV import and export of
//! blocked domains; and the hostile requests, which change nothing.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, FakeServer, TestInstance, db_tests, settle};

db_tests!(
    a_blocked_server_is_refused_hidden_and_restored,
    a_mute_hides_only_for_its_user,
    hostile_blocklist_requests_change_nothing,
);

async fn posted(t: &TestInstance, token: &str, uuid: &str, text: &str) -> i64 {
    let (status, body) =
        t.api.post(&format!("/api/v1/videos/{uuid}/comment-threads"), Some(token), json!({ "text": text })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["comment"]["id"].as_i64().unwrap()
}

async fn thread_texts(t: &TestInstance, token: Option<&str>, uuid: &str) -> Vec<String> {
    let (status, list) = t.api.get(&format!("/api/v1/videos/{uuid}/comment-threads"), token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let texts: Vec<String> =
        list["data"].as_array().unwrap().iter().map(|c| c["text"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(list["total"].as_u64().unwrap() as usize, texts.len(), "the total counts what is shown: {list}");
    texts
}

async fn video_names(t: &TestInstance, token: Option<&str>, path: &str) -> Vec<String> {
    let (status, list) = t.api.get(path, token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap().to_string()).collect()
}

/// Rows of the tables a delivery could write to.
async fn rows(t: &TestInstance) -> Vec<i64> {
    let db = &t.instance.app.db;
    let mut out = Vec::new();
    for table in ["actors", "inbox_seen", "jobs", "video_comments", "videos", "follows", "notifications"] {
        let sql = match table {
            "actors" => "SELECT COUNT(*) FROM actors",
            "inbox_seen" => "SELECT COUNT(*) FROM inbox_seen",
            "jobs" => "SELECT COUNT(*) FROM jobs",
            "video_comments" => "SELECT COUNT(*) FROM video_comments",
            "videos" => "SELECT COUNT(*) FROM videos",
            "follows" => "SELECT COUNT(*) FROM follows",
            _ => "SELECT COUNT(*) FROM notifications",
        };
        out.push(flotilla_db::run!(db, |x| sqlx::query_scalar::<_, i64>(sql).fetch_one(x).await).unwrap());
    }
    out
}

async fn a_blocked_server_is_refused_hidden_and_restored(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    a.follow_instance(&b).await;
    b.follow_instance(&a).await;
    let ava = a.user("ava").await;
    let here = a.publish(&ava, "Harbour at dawn", &[]).await;
    let bea = b.user("bea").await;
    b.publish(&bea, "Noise from B", &[]).await;
    settle(&[&a, &b]).await;
    posted(&b, &bea, &here, "Buy my stuff").await;
    settle(&[&a, &b]).await;
    settle(&[&a, &b]).await;
    let mut before = video_names(&a, None, "/api/v1/videos").await;
    before.sort();
    assert_eq!(before, ["Harbour at dawn", "Noise from B"], "A has B's video");
    assert_eq!(thread_texts(&a, None, &here).await, ["Buy my stuff"]);

    // A's moderator blocks B.
    let admin = a.admin_token().await;
    let b_host = b.instance.addr.to_string();
    let (status, body) = a.api.post("/api/v1/server/blocklist/servers", Some(&admin), json!({ "host": b_host })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, list) = a.api.get("/api/v1/server/blocklist/servers", Some(&admin)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 1, "{list}");
    let entry = &list["data"][0];
    // PeerTube's shape (api-server-blocklist-servers.json): the instance's account blocks.
    let mut keys: Vec<&str> = entry.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["blockedServer", "byAccount", "createdAt"]);
    assert_eq!(entry["blockedServer"], json!({ "host": b_host }));
    assert_eq!(entry["byAccount"]["name"], "peertube");
    assert_eq!(entry["byAccount"]["host"], a.instance.addr.to_string());

    // Hidden for everyone: lists, search, comments.
    for token in [None, Some(ava.as_str()), Some(admin.as_str())] {
        assert_eq!(video_names(&a, token, "/api/v1/videos").await, ["Harbour at dawn"]);
        assert!(video_names(&a, token, "/api/v1/search/videos?search=Noise").await.is_empty());
        assert!(thread_texts(&a, token, &here).await.is_empty());
    }

    // B's deliveries are refused, and nothing of them is written.
    let counted = rows(&a).await;
    posted(&b, &bea, &here, "Buy my stuff again").await;
    settle(&[&a, &b]).await;
    assert_eq!(rows(&a).await, counted, "a blocked server's delivery writes nothing");
    let db = &b.instance.app.db;
    let refused: i64 = flotilla_db::run!(db, |x| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM jobs WHERE kind = 'deliver' AND last_error LIKE '%403%'"
    )
    .fetch_one(x)
    .await)
    .unwrap();
    assert!(refused >= 1, "B's delivery to A was refused with 403");

    // A stand-in server on a blocked domain: refused before its key is fetched.
    let fake = FakeServer::start().await;
    let (status, _) = a.api.post("/api/v1/server/blocklist/servers", Some(&admin), json!({ "host": fake.host })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mallory = fake.actor("Person", "mallory", json!({}));
    let note = json!({
        "id": format!("{mallory}/statuses/1"), "type": "Note", "attributedTo": mallory,
        "inReplyTo": format!("{}/videos/watch/{here}", a.api.base), "content": "spam",
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "published": "2026-12-04T10:00:00Z",
    });
    let create = json!({ "@context": "https://www.w3.org/ns/activitystreams", "id": format!("{mallory}/statuses/1/activity"),
        "type": "Create", "actor": mallory, "object": note });
    let counted = rows(&a).await;
    let (status, body) = fake.send_full(&format!("{}/inbox", a.api.base), &mallory, &create).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("blocked"), "{body}");
    assert!(fake.gets.lock().unwrap().is_empty(), "nothing fetched from a blocked server");
    assert_eq!(rows(&a).await, counted);
    // Nor fetched when a user of A looks it up.
    let (_, found) = a.api.get(&format!("/api/v1/search/videos?search={}/videos/watch/x", fake.base), Some(&ava)).await;
    assert!(found["data"].as_array().is_none_or(|d| d.is_empty()), "{found}");
    let (_, found) = a.api.get(&format!("/api/v1/search/video-channels?search={mallory}"), Some(&ava)).await;
    assert!(found["data"].as_array().is_none_or(|d| d.is_empty()), "{found}");
    assert!(
        fake.gets.lock().unwrap().is_empty(),
        "A fetches nothing from a blocked server: {:?}",
        fake.gets.lock().unwrap()
    );

    // Nor does A send anything to B while B is blocked.
    a.publish(&ava, "Quiet news", &[]).await;
    settle(&[&a, &b]).await;
    assert!(!video_names(&b, None, "/api/v1/videos").await.contains(&"Quiet news".to_string()));

    // Unblocked: what was kept shows again, and B's next delivery is taken.
    let (status, _) = a.api.delete(&format!("/api/v1/server/blocklist/servers/{b_host}"), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut after = video_names(&a, None, "/api/v1/videos").await;
    after.sort();
    assert_eq!(after, ["Harbour at dawn", "Noise from B", "Quiet news"]);
    assert_eq!(thread_texts(&a, None, &here).await, ["Buy my stuff"]);
    posted(&b, &bea, &here, "Peace offering").await;
    settle(&[&a, &b]).await;
    settle(&[&a, &b]).await;
    let texts = thread_texts(&a, None, &here).await;
    assert!(texts.contains(&"Peace offering".to_string()), "{texts:?}");
    a.stop().await;
    b.stop().await;
}

async fn unread(t: &TestInstance, token: &str) -> Vec<Value> {
    let (status, list) = t.api.get("/api/v1/users/me/notifications?unread=true", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["data"].as_array().unwrap().clone()
}

async fn a_mute_hides_only_for_its_user(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    a.follow_instance(&b).await;
    b.follow_instance(&a).await;
    let ava = a.user("ava").await;
    let uma = a.user("uma").await;
    let ulf = a.user("ulf").await;
    let here = a.publish(&ava, "Harbour at dawn", &[]).await;
    let bea = b.user("bea").await;
    b.publish(&bea, "Noise from B", &[]).await;
    settle(&[&a, &b]).await;
    let a_host = a.instance.addr.to_string();
    let b_host = b.instance.addr.to_string();

    // uma mutes bea (of B).
    let bea_handle = format!("bea@{b_host}");
    let (status, body) =
        a.api.post("/api/v1/users/me/blocklist/accounts", Some(&uma), json!({ "accountName": bea_handle })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, list) = a.api.get("/api/v1/users/me/blocklist/accounts", Some(&uma)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 1);
    let entry = &list["data"][0];
    let mut keys: Vec<&str> = entry.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["blockedAccount", "byAccount", "createdAt"], "api-user-blocklist-accounts.json");
    assert_eq!(entry["byAccount"]["name"], "uma");
    assert!(entry["byAccount"]["userId"].is_number());
    assert_eq!(entry["blockedAccount"]["name"], "bea");
    assert_eq!(entry["blockedAccount"]["host"], b_host);
    let (_, others) = a.api.get("/api/v1/users/me/blocklist/accounts", Some(&ulf)).await;
    assert_eq!(others["total"], 0, "a user sees only their own mutes");

    // bea speaks on A's video, naming uma and ulf.
    posted(&b, &bea, &here, &format!("Hello @uma@{a_host} and @ulf@{a_host}")).await;
    settle(&[&a, &b]).await;
    settle(&[&a, &b]).await;
    let hello = format!("Hello @uma@{a_host} and @ulf@{a_host}");
    assert!(thread_texts(&a, Some(&uma), &here).await.is_empty(), "hidden from uma");
    assert_eq!(thread_texts(&a, Some(&ulf), &here).await, [hello.as_str()], "shown to ulf");
    assert_eq!(thread_texts(&a, None, &here).await, [hello.as_str()], "shown to everyone else");
    assert!(video_names(&a, Some(&uma), "/api/v1/videos").await == ["Harbour at dawn"], "B's video hidden from uma");
    assert_eq!(video_names(&a, Some(&ulf), "/api/v1/videos").await.len(), 2);
    let mentions = |list: &[Value]| list.iter().filter(|n| n["type"] == 11).count();
    assert_eq!(mentions(&unread(&a, &ulf).await), 1, "ulf hears of the mention");
    assert_eq!(mentions(&unread(&a, &uma).await), 0, "uma does not");
    assert!(unread(&a, &ava).await.iter().any(|n| n["type"] == 2), "the video's owner hears of the comment");

    // The status of handles and hosts, as uma and as nobody.
    let q = format!("/api/v1/blocklist/status?accounts={bea_handle}&accounts=ava@{a_host}&hosts={b_host}");
    let (status, st) = a.api.get(&q, Some(&uma)).await;
    assert_eq!(status, StatusCode::OK, "{st}");
    assert_eq!(st["accounts"][&bea_handle], json!({ "blockedByServer": false, "blockedByUser": true }));
    assert_eq!(st["accounts"][format!("ava@{a_host}")], json!({ "blockedByServer": false, "blockedByUser": false }));
    assert_eq!(st["hosts"][&b_host], json!({ "blockedByServer": false, "blockedByUser": false }));
    let (_, anon) = a.api.get(&q, None).await;
    assert_eq!(anon["accounts"][&bea_handle]["blockedByUser"], false);

    // ulf mutes the whole server instead.
    let (status, _) = a.api.post("/api/v1/users/me/blocklist/servers", Some(&ulf), json!({ "host": b_host })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = a.api.get("/api/v1/users/me/blocklist/servers", Some(&ulf)).await;
    assert_eq!(list["data"][0]["blockedServer"], json!({ "host": b_host }), "{list}");
    assert!(thread_texts(&a, Some(&ulf), &here).await.is_empty());
    assert_eq!(video_names(&a, Some(&ulf), "/api/v1/videos").await, ["Harbour at dawn"]);
    let (_, st) = a.api.get(&format!("/api/v1/blocklist/status?hosts={b_host}"), Some(&ulf)).await;
    assert_eq!(st["hosts"][&b_host], json!({ "blockedByServer": false, "blockedByUser": true }));

    // Unmuted: shown again.
    let (status, _) = a.api.delete(&format!("/api/v1/users/me/blocklist/accounts/{bea_handle}"), Some(&uma)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(thread_texts(&a, Some(&uma), &here).await, [hello.as_str()]);
    let (status, _) = a.api.delete(&format!("/api/v1/users/me/blocklist/servers/{b_host}"), Some(&ulf)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(video_names(&a, Some(&ulf), "/api/v1/videos").await.len(), 2);

    // The video's owner mutes bea: her comments leave the owner's videos for everyone (PeerTube's
    // rule), not her own video from others' lists.
    let (status, _) =
        a.api.post("/api/v1/users/me/blocklist/accounts", Some(&ava), json!({ "accountName": bea_handle })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(thread_texts(&a, None, &here).await.is_empty(), "hidden under ava's video for visitors");
    assert!(thread_texts(&a, Some(&ulf), &here).await.is_empty(), "and for other users");
    assert_eq!(video_names(&a, Some(&ulf), "/api/v1/videos").await.len(), 2);
    let (status, _) = a.api.delete(&format!("/api/v1/users/me/blocklist/accounts/{bea_handle}"), Some(&ava)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(thread_texts(&a, None, &here).await, [hello.as_str()]);
    a.stop().await;
    b.stop().await;
}

async fn hostile_blocklist_requests_change_nothing(backend: Backend) {
    let a = TestInstance::start(backend).await;
    let admin = a.admin_token().await;
    let ulf = a.user("ulf").await;
    a.user("mo").await;
    let (_, users) = a.api.get("/api/v1/users?search=mo", Some(&admin)).await;
    let mo_id = users["data"].as_array().unwrap().iter().find(|u| u["username"] == "mo").unwrap()["id"].clone();
    let (status, _) = a.api.put(&format!("/api/v1/users/{mo_id}"), Some(&admin), json!({ "role": 1 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mo = a.api.login("mo", "password-123").await;

    // A user is no moderator.
    for path in ["/api/v1/server/blocklist/servers", "/api/v1/server/blocklist/accounts"] {
        let (status, _) = a.api.get(path, Some(&ulf)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) =
        a.api.post("/api/v1/server/blocklist/servers", Some(&ulf), json!({ "host": "spam.example" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = a.api.get("/api/v1/users/me/blocklist/servers", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A moderator cannot block an administrator (nor another moderator), but can block a user.
    let (status, body) =
        a.api.post("/api/v1/server/blocklist/accounts", Some(&mo), json!({ "accountName": "root" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = a.api.post("/api/v1/server/blocklist/accounts", Some(&mo), json!({ "accountName": "ulf" })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Bad names: refused with the field named.
    let own = a.instance.addr.to_string();
    for (host, code) in [
        ("a b.example", StatusCode::BAD_REQUEST),
        ("com", StatusCode::BAD_REQUEST),
        ("spam%.example", StatusCode::BAD_REQUEST),
        (own.as_str(), StatusCode::CONFLICT),
        (&"x".repeat(400), StatusCode::BAD_REQUEST),
    ] {
        let (status, body) =
            a.api.post("/api/v1/users/me/blocklist/servers", Some(&ulf), json!({ "host": host })).await;
        assert_eq!(status, code, "{host}: {body}");
        assert!(body["detail"].is_string() || body["error"].is_string(), "{body}");
    }
    let (status, body) = a.api.post("/api/v1/users/me/blocklist/servers", Some(&ulf), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = a
        .api
        .post("/api/v1/users/me/blocklist/accounts", Some(&ulf), json!({ "accountName": "ghost@nowhere.example" }))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        a.api.post("/api/v1/users/me/blocklist/accounts", Some(&ulf), json!({ "accountName": "ulf" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "nobody mutes themselves (PeerTube's 409)");
    let (status, _) = a.api.delete("/api/v1/users/me/blocklist/servers/never.example", Some(&ulf)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, list) = a.api.get("/api/v1/users/me/blocklist/servers", Some(&ulf)).await;
    assert_eq!(list["total"], 0, "nothing was added: {list}");

    // The status of at most 100 names.
    let many: String = (0..101).map(|i| format!("hosts=h{i}.example&")).collect();
    let (status, _) = a.api.get(&format!("/api/v1/blocklist/status?{many}"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Import: Mastodon's CSV; silenced rows skipped, bad ones listed back, subdomains covered.
    let csv = "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n\
               spam.example,suspend,true,true,,false\n\
               quiet.example,silence,false,false,,false\n\
               bad domain,suspend,true,true,,false\n\
               trol*.example,suspend,true,true,,true\n\
               Noise.Example,suspend,true,true,,false\n";
    let import = |body: Vec<u8>, token: &str| {
        a.api.send(
            a.api
                .http
                .post(a.api.url("/api/v1/server/blocklist/servers/import"))
                .bearer_auth(token)
                .header("content-type", "text/csv")
                .body(body),
        )
    };
    let (status, _) = import(csv.as_bytes().to_vec(), &ulf).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, report) = import(csv.as_bytes().to_vec(), &admin).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["added"], 2, "{report}");
    assert_eq!(report["skipped"], json!(["quiet.example"]));
    assert_eq!(report["invalid"].as_array().unwrap().len(), 2, "{report}");
    let (_, again) = import(csv.as_bytes().to_vec(), &admin).await;
    assert_eq!(again["added"], 0);
    assert_eq!(again["alreadyBlocked"], 2);
    let (_, st) = a.api.get("/api/v1/blocklist/status?hosts=video.spam.example&hosts=quiet.example", None).await;
    assert_eq!(st["hosts"]["video.spam.example"]["blockedByServer"], true, "a domain covers its subdomains: {st}");
    assert_eq!(st["hosts"]["quiet.example"]["blockedByServer"], false);
    // Too large: refused whole.
    let huge = "x.example,suspend\n".repeat(70_000).into_bytes();
    let (status, body) = import(huge, &admin).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(body["detail"].is_string(), "a JSON error: {body}");
    let not_utf8 = vec![0xff, 0xfe, b'\n'];
    let (status, _) = import(not_utf8, &admin).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Export: the same CSV shape back.
    let resp =
        a.api.http.get(a.api.url("/api/v1/server/blocklist/servers/export")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = resp.text().await.unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.remove(0), "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate");
    lines.sort();
    assert_eq!(lines, ["noise.example,suspend,true,true,,false", "spam.example,suspend,true,true,,false"]);
    let (_, list) = a.api.get("/api/v1/server/blocklist/servers", Some(&mo)).await;
    assert_eq!(list["total"], 2);
    a.stop().await;
}
