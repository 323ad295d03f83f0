//! Comments between servers: three real instances talking under one video; stand-in servers
//! sending replies, edits and deletions in Mastodon's, Misskey's, Lemmy's and PeerTube's shapes (fixtures
//! written by us from their documentation and PeerTube's samples); what we send checked against
//! what Mastodon needs; and the forged, misdirected and oversized ones, which change nothing.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, FakeServer, TestInstance, db_tests, settle};

db_tests!(
    three_instances_talk_under_one_video,
    mastodon_misskey_and_peertube_replies_become_comments,
    hostile_comments_change_nothing,
    held_comments_travel_once_approved,
    a_deleted_user_is_forgotten_where_it_spoke,
);

const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

async fn posted(a: &TestInstance, token: &str, uuid: &str, parent: Option<i64>, text: &str) -> i64 {
    let path = match parent {
        None => format!("/api/v1/videos/{uuid}/comment-threads"),
        Some(p) => format!("/api/v1/videos/{uuid}/comments/{p}"),
    };
    let (status, body) = a.api.post(&path, Some(token), json!({ "text": text })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["comment"]["id"].as_i64().unwrap()
}

async fn threads(a: &TestInstance, uuid: &str) -> Value {
    let (status, list) = a.api.get(&format!("/api/v1/videos/{uuid}/comment-threads"), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list
}

async fn tree(a: &TestInstance, uuid: &str, thread: &Value) -> Value {
    let (status, t) = a.api.get(&format!("/api/v1/videos/{uuid}/comment-threads/{thread}"), None).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    t
}

async fn ap_get(a: &TestInstance, url: &str) -> (StatusCode, Value) {
    a.api.send(a.api.http.get(url).header("Accept", "application/activity+json")).await
}

async fn three_instances_talk_under_one_video(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    let c = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    c.follow_instance(&a).await;
    let ava = a.user("ava").await;
    let uuid = a.publish(&ava, "Under discussion", &[]).await;
    settle(&[&a, &b, &c]).await;
    assert_eq!(threads(&b, &uuid).await["total"], 0, "B has the video");

    // A user of B comments on A's video (on B's copy): it reaches A, and C through A.
    let bea = b.user("bea").await;
    let on_b = posted(&b, &bea, &uuid, None, &format!("Hello from B, @ava@{}", a.instance.addr)).await;
    settle(&[&a, &b, &c]).await;
    settle(&[&a, &b, &c]).await;
    let url_on_b = format!("{}/videos/watch/{uuid}/comments/{on_b}", b.api.base);
    let at_a = threads(&a, &uuid).await;
    assert_eq!(at_a["total"], 1, "{at_a}");
    let first = &at_a["data"][0];
    assert_eq!(first["text"], format!("Hello from B, @ava@{}", a.instance.addr));
    assert_eq!(first["url"], url_on_b.as_str());
    assert_eq!(first["account"]["name"], "bea");
    assert_eq!(first["account"]["host"], b.instance.addr.to_string());
    let at_c = threads(&c, &uuid).await;
    assert_eq!(at_c["total"], 1, "C heard it through A: {at_c}");
    assert_eq!(at_c["data"][0]["url"], url_on_b.as_str());
    assert_eq!(at_c["data"][0]["account"]["host"], b.instance.addr.to_string());

    // A's owner replies on A: B and C see the reply in the thread.
    posted(&a, &ava, &uuid, Some(first["id"].as_i64().unwrap()), "Thanks, B!").await;
    settle(&[&a, &b, &c]).await;
    for (who, instance, thread) in
        [("B", &b, json!(on_b)), ("C", &c, at_c["data"][0]["id"].clone()), ("A", &a, first["id"].clone())]
    {
        let t = tree(instance, &uuid, &thread).await;
        let kids = t["children"].as_array().unwrap();
        assert_eq!(kids.len(), 1, "{who}: {t}");
        assert_eq!(kids[0]["comment"]["text"], "Thanks, B!", "{who}");
        assert_eq!(kids[0]["comment"]["account"]["name"], "ava", "{who}");
        assert_eq!(kids[0]["comment"]["account"]["host"], a.instance.addr.to_string(), "{who}");
    }
    // A's `comments` collection lists both.
    let (status, coll) = ap_get(&a, &format!("{}/videos/watch/{uuid}/comments", a.api.base)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(coll["totalItems"], 2, "{coll}");

    // B deletes its comment: a tombstone on A and C, the reply kept (as PeerTube does).
    let (status, _) = b.api.delete(&format!("/api/v1/videos/{uuid}/comments/{on_b}"), Some(&bea)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    settle(&[&a, &b, &c]).await;
    settle(&[&a, &b, &c]).await;
    for (who, instance, thread) in [("A", &a, first["id"].clone()), ("C", &c, at_c["data"][0]["id"].clone())] {
        let t = tree(instance, &uuid, &thread).await;
        assert_eq!(t["comment"]["isDeleted"], true, "{who}: {t}");
        assert_eq!(t["comment"]["text"], "", "{who}");
        assert_eq!(t["children"].as_array().unwrap().len(), 1, "{who}: the reply stays");
    }
    // B's comment URL answers a Tombstone now.
    let (status, gone) = ap_get(&b, &url_on_b).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(gone["type"], "Tombstone", "{gone}");
    assert_eq!(gone["formerType"], "Note");
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

fn mastodon_note(masto: &FakeServer, actor: &str, n: u32, in_reply_to: &str, content: &str, tag: Value) -> Value {
    let id = format!("{actor}/statuses/{n}");
    json!({
        "id": id,
        "type": "Note",
        "summary": null,
        "inReplyTo": in_reply_to,
        "published": "2026-12-01T10:00:00Z",
        "url": format!("{}/@zoe/{n}", masto.base),
        "attributedTo": actor,
        "to": [PUBLIC],
        "cc": [format!("{actor}/followers")],
        "sensitive": false,
        "atomUri": id,
        "inReplyToAtomUri": in_reply_to,
        "conversation": format!("tag:{},2026-12-01:objectId=1:objectType=Conversation", masto.host),
        "content": content,
        "contentMap": { "en": content },
        "attachment": [],
        "tag": tag,
        "replies": { "id": format!("{id}/replies"), "type": "Collection",
                     "first": { "type": "CollectionPage", "next": format!("{id}/replies?page=true"), "partOf": format!("{id}/replies"), "items": [] } },
    })
}

fn create_of(note: &Value) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/activitystreams", { "ostatus": "http://ostatus.org#", "atomUri": "ostatus:atomUri",
                     "inReplyToAtomUri": "ostatus:inReplyToAtomUri", "conversation": "ostatus:conversation",
                     "sensitive": "as:sensitive", "toot": "http://joinmastodon.org/ns#", "Emoji": "toot:Emoji" }],
        "id": format!("{}/activity", note["id"].as_str().unwrap()),
        "type": "Create",
        "actor": note["attributedTo"],
        "published": note["published"],
        "to": note["to"],
        "cc": note["cc"],
        "object": note,
    })
}

async fn mastodon_misskey_and_peertube_replies_become_comments(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let lia = a.user("lia").await;
    let uuid = a.publish(&lia, "Seen from everywhere", &[]).await;
    a.run_jobs().await;
    let video = format!("{}/videos/watch/{uuid}", a.api.base);
    let inbox = format!("{}/inbox", a.api.base);
    let lia_url = format!("{}/accounts/lia", a.api.base);

    // Mastodon: a reply to the video's URL, HTML with a mention and a custom emoji.
    let masto = FakeServer::start().await;
    let zoe = masto.actor("Person", "zoe", json!({}));
    let content = format!(
        "<p><span class=\"h-card\" translate=\"no\"><a href=\"{lia_url}\" class=\"u-url mention\">@<span>lia</span></a></span> Lovely &amp; calm 🎉 :blobcat:</p><p>Second &lt;paragraph&gt;</p>"
    );
    let tags = json!([
        { "type": "Mention", "href": lia_url, "name": format!("@lia@{}", a.instance.addr) },
        { "id": format!("{}/emojis/1", masto.base), "type": "Emoji", "name": ":blobcat:", "updated": "2026-01-01T00:00:00Z",
          "icon": { "type": "Image", "mediaType": "image/png", "url": format!("{}/emoji/blobcat.png", masto.base) } },
    ]);
    let zoes = mastodon_note(&masto, &zoe, 1, &video, &content, tags);
    assert_eq!(masto.send(&inbox, &zoe, &create_of(&zoes)).await, StatusCode::ACCEPTED);
    let list = threads(&a, &uuid).await;
    assert_eq!(list["total"], 1, "{list}");
    let zc = &list["data"][0];
    assert_eq!(zc["text"], "@lia Lovely & calm 🎉 :blobcat:\n\nSecond <paragraph>");
    assert_eq!(zc["url"], zoes["id"]);
    assert_eq!(zc["account"]["name"], "zoe");
    assert_eq!(zc["account"]["host"], masto.host.as_str());
    assert_eq!(zc["createdAt"], "2026-12-01T10:00:00.000Z");
    let zoe_comment = zc["id"].clone();
    // The same Create again (a retry): still one.
    let again =
        json!({ "type": "Create", "id": format!("{zoe}/statuses/1/activity-again"), "actor": zoe, "object": zoes });
    assert_eq!(masto.send(&inbox, &zoe, &again).await, StatusCode::ACCEPTED);
    assert_eq!(threads(&a, &uuid).await["totalNotDeletedComments"], 1);

    // Misskey: a reply to Zoe's comment, HTML with its Markdown source beside.
    let misskey = FakeServer::start().await;
    let mika = misskey.actor("Person", "mika", json!({}));
    let mnote = json!({
        "id": format!("{}/notes/9x2ab", misskey.base),
        "type": "Note",
        "attributedTo": mika,
        "content": format!("<p><a href=\"{zoe}\" class=\"u-url mention\">@zoe@{}</a> yes <b>really</b><br>two lines</p>", masto.host),
        "_misskey_content": format!("@zoe@{} yes **really**\ntwo lines", masto.host),
        "source": { "content": format!("@zoe@{} yes **really**\ntwo lines", masto.host), "mediaType": "text/x.misskeymarkdown" },
        "published": "2026-12-01T11:00:00.000Z",
        "to": [PUBLIC],
        "cc": [format!("{mika}/followers"), zoe],
        "inReplyTo": zoes["id"],
        "attachment": [],
        "sensitive": false,
        "tag": [{ "type": "Mention", "href": zoe, "name": format!("@zoe@{}", masto.host) }],
    });
    let mcreate = json!({ "id": format!("{}/notes/9x2ab/activity", misskey.base), "actor": mika, "type": "Create",
                          "published": mnote["published"], "object": mnote, "to": mnote["to"], "cc": mnote["cc"] });
    assert_eq!(misskey.send(&inbox, &mika, &mcreate).await, StatusCode::ACCEPTED);
    let t = tree(&a, &uuid, &zoe_comment).await;
    let kids = t["children"].as_array().unwrap();
    assert_eq!(kids.len(), 1, "{t}");
    assert_eq!(kids[0]["comment"]["text"], format!("@zoe@{} yes really\ntwo lines", masto.host));
    assert_eq!(kids[0]["comment"]["inReplyToCommentId"], zoe_comment);
    let mika_comment = kids[0]["comment"]["id"].as_i64().unwrap();

    // PeerTube: a Note as its samples have it (Markdown source, kept as it is).
    let pt = FakeServer::start().await;
    let bob = pt.actor("Person", "bob", json!({}));
    let pnote = json!({
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1",
                     { "RsaSignature2017": "https://w3id.org/security#RsaSignature2017" },
                     { "pt": "https://joinpeertube.org/ns#", "sc": "http://schema.org/", "replyApproval": "pt:replyApproval" }],
        "to": [PUBLIC], "cc": [format!("{bob}/followers")],
        "type": "Note",
        "id": format!("{}/videos/watch/{uuid}/comments/4", pt.base),
        "content": "A **bold** take <not html>",
        "mediaType": "text/markdown",
        "inReplyTo": video,
        "updated": "2026-12-01T12:00:00.000Z",
        "published": "2026-12-01T12:00:00.000Z",
        "url": format!("{}/videos/watch/{uuid}/comments/4", pt.base),
        "attributedTo": bob,
        "replyApproval": null,
        "tag": [],
    });
    let pcreate = json!({ "to": pnote["to"], "cc": [], "type": "Create", "id": format!("{}/activity", pnote["id"].as_str().unwrap()),
                          "actor": bob, "object": pnote });
    assert_eq!(pt.send(&inbox, &bob, &pcreate).await, StatusCode::ACCEPTED);
    let list = threads(&a, &uuid).await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["data"][0]["text"], "A **bold** take <not html>");

    // Lemmy: a comment is a Note with HTML content and its Markdown source beside.
    let lemmy = FakeServer::start().await;
    let lu = lemmy.actor("Person", "lu", json!({}));
    let lnote = json!({
        "type": "Note", "id": format!("{}/comment/31", lemmy.base), "attributedTo": lu,
        "to": [PUBLIC], "cc": [], "audience": format!("{}/c/videos", lemmy.base),
        "content": "<p>Seen on <strong>Lemmy</strong> &gt; here</p>\n", "mediaType": "text/html",
        "source": { "content": "Seen on **Lemmy** > here", "mediaType": "text/markdown" },
        "inReplyTo": video, "published": "2026-12-01T13:00:00.000000+00:00", "distinguished": false,
    });
    let lcreate = json!({ "type": "Create", "id": format!("{}/activities/create/1", lemmy.base), "actor": lu,
                          "to": [PUBLIC], "cc": [], "object": lnote });
    assert_eq!(lemmy.send(&inbox, &lu, &lcreate).await, StatusCode::ACCEPTED);
    let list = threads(&a, &uuid).await;
    assert_eq!(list["total"], 3);
    assert_eq!(list["data"][0]["text"], "Seen on Lemmy > here");
    assert_eq!(list["data"][0]["createdAt"], "2026-12-01T13:00:00.000Z");

    // Zoe edits hers (Update), then deletes it (Delete of a Tombstone, as Mastodon sends).
    let mut edited = zoes.clone();
    edited["content"] = json!("<p>Edited, still calm</p>");
    let update =
        json!({ "type": "Update", "id": format!("{zoe}/statuses/1#updates/1"), "actor": zoe, "object": edited });
    assert_eq!(masto.send(&inbox, &zoe, &update).await, StatusCode::ACCEPTED);
    assert_eq!(tree(&a, &uuid, &zoe_comment).await["comment"]["text"], "Edited, still calm");

    // Lia answers Mika, naming Zoe too: what goes out is what Mastodon needs.
    let text = format!("@mika@{} and @zoe@{}: thanks!", misskey.host, masto.host);
    let mine = posted(&a, &lia, &uuid, Some(mika_comment), &text).await;
    a.run_jobs().await;
    a.run_jobs().await;
    let my_url = format!("{video}/comments/{mine}");
    let (_, lia_actor) = ap_get(&a, &lia_url).await;
    let lia_key = lia_actor["publicKey"]["publicKeyPem"].as_str().expect("Lia's key").to_string();
    for (server, who) in [(&misskey, &mika), (&masto, &zoe)] {
        let got = server.received.lock().unwrap().clone();
        let create = got
            .iter()
            .find(|v| v["type"] == "Create" && v["object"]["id"] == my_url.as_str())
            .unwrap_or_else(|| panic!("{who} was told: {got:?}"))
            .clone();
        assert_eq!(create["actor"], lia_url.as_str());
        assert_eq!(create["id"], format!("{my_url}/activity"));
        let note = &create["object"];
        assert_eq!(note["type"], "Note");
        assert_eq!(note["attributedTo"], lia_url.as_str());
        assert_eq!(note["inReplyTo"], mnote["id"]);
        assert_eq!(note["content"], text.as_str());
        assert!(note["to"].as_array().unwrap().contains(&json!(PUBLIC)), "{note}");
        assert!(note["cc"].as_array().unwrap().contains(&json!(format!("{lia_url}/followers"))), "{note}");
        let mentions: Vec<&str> = note["tag"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["type"] == "Mention")
            .filter_map(|t| t["href"].as_str())
            .collect();
        assert!(mentions.contains(&mika.as_str()) && mentions.contains(&zoe.as_str()), "{note}");
        assert!(note["published"].as_str().is_some_and(|p| p.ends_with('Z')));
        // Signed in its body too, so that a server may pass it on: jsonld.js, hashing as PeerTube
        // and as Mastodon do, accepts it with Lia's key, and refuses it once changed.
        assert_eq!(create["signature"]["type"], "RsaSignature2017", "{create}");
        assert_eq!(create["signature"]["creator"], format!("{lia_url}#main-key"));
        assert_eq!(flotilla_testkit::ld_signature_verdicts(&create, &lia_key), (true, true), "{create}");
        let mut forged = create.clone();
        forged["object"]["content"] = json!("thanks, and send me your password");
        assert_eq!(flotilla_testkit::ld_signature_verdicts(&forged, &lia_key), (false, false));
    }
    // Its URL answers the same Note to servers that look.
    let (status, served) = ap_get(&a, &my_url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served["type"], "Note");
    assert_eq!(served["inReplyTo"], mnote["id"]);
    assert_eq!(served["content"], text.as_str());

    let delete = json!({ "type": "Delete", "id": format!("{zoe}/statuses/1#delete"), "actor": zoe,
                         "object": { "id": zoes["id"], "type": "Tombstone", "atomUri": zoes["id"] }, "to": [PUBLIC] });
    assert_eq!(masto.send(&inbox, &zoe, &delete).await, StatusCode::ACCEPTED);
    let t = tree(&a, &uuid, &zoe_comment).await;
    assert_eq!(t["comment"]["isDeleted"], true, "{t}");
    assert_eq!(t["children"].as_array().unwrap().len(), 1, "Mika's reply stays");
    let (_, coll) = ap_get(&a, &format!("{video}/comments")).await;
    assert_eq!(coll["totalItems"], 5, "{coll}");
    a.stop().await;
}

async fn hostile_comments_change_nothing(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let vic = a.user("vic").await;
    let open = a.publish(&vic, "Open", &[]).await;
    let private = a.publish(&vic, "Private", &[("privacy", "3")]).await;
    let closed = a.publish(&vic, "Closed", &[("commentsPolicy", "2")]).await;
    a.run_jobs().await;
    let inbox = format!("{}/inbox", a.api.base);
    let video = |uuid: &str| format!("{}/videos/watch/{uuid}", a.api.base);
    let masto = FakeServer::start().await;
    let zoe = masto.actor("Person", "zoe", json!({}));
    let carol = masto.actor("Person", "carol", json!({}));
    let evil = FakeServer::start().await;
    let eve = evil.actor("Person", "eve", json!({}));
    let note = |actor: &str, n: u32, reply_to: &str, content: &str| {
        mastodon_note(&masto, actor, n, reply_to, content, json!([]))
    };
    let send = |actor: &str, activity: Value| {
        let (masto, inbox, actor) = (&masto, inbox.clone(), actor.to_string());
        async move { masto.send(&inbox, &actor, &activity).await }
    };
    let stored = || async {
        let mut n = 0;
        for uuid in [&open, &private, &closed] {
            let (_, l) = a.api.get(&format!("/api/v1/videos/{uuid}/comment-threads"), Some(&vic)).await;
            n += l["totalNotDeletedComments"].as_i64().unwrap_or(0);
        }
        n
    };

    // A Note whose id is on another server than its author's.
    let mut elsewhere = note(&zoe, 1, &video(&open), "<p>mine, honestly</p>");
    elsewhere["id"] = json!(format!("{}/statuses/1", evil.base));
    let mut create = create_of(&elsewhere);
    create["id"] = json!(format!("{zoe}/statuses/1/activity"));
    assert_eq!(send(&zoe, create).await, StatusCode::FORBIDDEN);
    // A Note attributed to someone else than the sender.
    let mut as_carol = note(&zoe, 2, &video(&open), "<p>carol said this</p>");
    as_carol["attributedTo"] = json!(carol);
    let mut create = create_of(&as_carol);
    create["actor"] = json!(zoe);
    assert_eq!(send(&zoe, create).await, StatusCode::FORBIDDEN);
    // Replies to a private video, to an unknown video of ours and to a comment we do not have.
    assert_eq!(send(&zoe, create_of(&note(&zoe, 3, &video(&private), "<p>hi</p>"))).await, StatusCode::NOT_FOUND);
    let unknown = video("7c9e6679-7425-40de-944b-e07fc1f90ae7");
    assert_eq!(send(&zoe, create_of(&note(&zoe, 4, &unknown, "<p>hi</p>"))).await, StatusCode::NOT_FOUND);
    let no_comment = format!("{}/comments/999999", video(&open));
    assert_eq!(send(&zoe, create_of(&note(&zoe, 5, &no_comment, "<p>hi</p>"))).await, StatusCode::NOT_FOUND);
    // A video whose comments are disabled.
    assert_eq!(send(&zoe, create_of(&note(&zoe, 6, &video(&closed), "<p>hi</p>"))).await, StatusCode::FORBIDDEN);
    // A reply to something we do not have at all (a post elsewhere): ignored.
    let post = format!("{}/statuses/77", evil.base);
    assert_eq!(send(&zoe, create_of(&note(&zoe, 7, &post, "<p>hi</p>"))).await, StatusCode::ACCEPTED);
    // Too long: 100 KB of content.
    let long = format!("<p>{}</p>", "a".repeat(100 * 1024));
    assert_eq!(send(&zoe, create_of(&note(&zoe, 8, &video(&open), &long))).await, StatusCode::BAD_REQUEST);
    assert_eq!(stored().await, 0, "nothing stored");

    // Zoe's real comment; Carol (same server) may neither edit nor delete it.
    let real = note(&zoe, 10, &video(&open), "<p>the real words</p>");
    assert_eq!(send(&zoe, create_of(&real)).await, StatusCode::ACCEPTED);
    let mut hijack = real.clone();
    hijack["content"] = json!("<p>hijacked</p>");
    hijack["attributedTo"] = json!(carol);
    let update = json!({ "type": "Update", "id": format!("{carol}/u/1"), "actor": carol, "object": hijack });
    assert_eq!(send(&carol, update).await, StatusCode::FORBIDDEN);
    let delete = json!({ "type": "Delete", "id": format!("{carol}/d/1"), "actor": carol, "object": real["id"] });
    assert_eq!(send(&carol, delete).await, StatusCode::FORBIDDEN);
    let list = threads(&a, &open).await;
    assert_eq!(list["data"][0]["text"], "the real words");
    assert_eq!(list["data"][0]["isDeleted"], false);

    // A thousand mentions of actors we do not know: stored, and none of them looked up.
    let crowd = FakeServer::start().await;
    let tags: Vec<Value> = (0..1000)
        .map(|n| json!({ "type": "Mention", "href": format!("{}/users/u{n}", crowd.base), "name": format!("@u{n}@{}", crowd.host) }))
        .collect();
    let text: String = (0..1000).map(|n| format!("@u{n}@{} ", crowd.host)).collect();
    let mut crowded = mastodon_note(&masto, &zoe, 11, &video(&open), &format!("<p>{text}</p>"), json!(tags));
    crowded["content"] = json!(format!("<p>{}</p>", &text[..text.len().min(9000)]));
    assert_eq!(send(&zoe, create_of(&crowded)).await, StatusCode::ACCEPTED);
    assert_eq!(stored().await, 2);
    assert!(crowd.gets.lock().unwrap().is_empty(), "no mentioned actor fetched");

    // A server passing on a comment of another server's user: what its origin says is stored, not
    // what was passed on; one its origin does not have is not stored at all.
    let true_note = note(&zoe, 12, &video(&open), "<p>as written</p>");
    masto.serve("/users/zoe/statuses/12", true_note.clone());
    let mut forged = true_note.clone();
    forged["content"] = json!("<p>as forged</p>");
    let forwarded =
        json!({ "type": "Create", "id": format!("{zoe}/statuses/12/activity"), "actor": zoe, "object": forged });
    assert_eq!(evil.send(&inbox, &eve, &forwarded).await, StatusCode::ACCEPTED);
    let invented = note(&zoe, 13, &video(&open), "<p>never said</p>");
    let forwarded =
        json!({ "type": "Create", "id": format!("{zoe}/statuses/13/activity"), "actor": zoe, "object": invented });
    let status = evil.send(&inbox, &eve, &forwarded).await;
    assert!(status == StatusCode::ACCEPTED || status.is_client_error(), "{status}");
    let texts: Vec<Value> =
        threads(&a, &open).await["data"].as_array().unwrap().iter().map(|c| c["text"].clone()).collect();
    assert!(texts.contains(&json!("as written")), "{texts:?}");
    assert!(!texts.iter().any(|t| t == "as forged" || t == "never said"), "{texts:?}");
    // A forwarded Delete of a comment its origin still has deletes nothing.
    let delete =
        json!({ "type": "Delete", "id": format!("{zoe}/statuses/12#delete"), "actor": zoe, "object": true_note["id"] });
    assert_eq!(evil.send(&inbox, &eve, &delete).await, StatusCode::ACCEPTED);
    assert_eq!(stored().await, 3);
    // Zoe's account is closed on her server: her comments go, and the counts everyone reads
    // (kept with the comments) follow.
    assert_eq!(threads(&a, &open).await["totalNotDeletedComments"], 3);
    let gone = json!({ "type": "Delete", "id": format!("{zoe}#delete"), "actor": zoe, "object": zoe });
    assert_eq!(send(&zoe, gone).await, StatusCode::ACCEPTED);
    let after = threads(&a, &open).await;
    assert_eq!(after["totalNotDeletedComments"], 0, "{after}");
    assert_eq!(after["total"], 0);
    a.stop().await;
}

/// How many activities of this id `t`'s inbox took.
async fn seen(t: &TestInstance, activity_id: &str) -> i64 {
    let db = &t.instance.app.db;
    flotilla_db::run!(db, |x| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM inbox_seen WHERE activity_id = $1")
        .bind(activity_id)
        .fetch_one(x)
        .await)
    .unwrap()
}

/// A video whose comments wait for approval: comments from other servers are held at its origin
/// and reach its followers only once approved, passed on as they came in; their authors' servers
/// hear PeerTube's `ApproveReply`, and a Flotilla author's server sends the comment again with
/// `replyApproval` (as PeerTube's do), which changes nothing twice. Only the video's server may
/// approve.
async fn held_comments_travel_once_approved(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    let c = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    c.follow_instance(&a).await;
    let ava = a.user("ava").await;
    let uuid = a.publish(&ava, "Moderated", &[("commentsPolicy", "3")]).await;
    settle(&[&a, &b, &c]).await;
    let video = format!("{}/videos/watch/{uuid}", a.api.base);

    // From B (Flotilla) and from a Mastodon-shaped server: both held at A, unseen at C.
    let bea = b.user("bea").await;
    let on_b = posted(&b, &bea, &uuid, None, "Held, then approved").await;
    let bea_note = format!("{}/videos/watch/{uuid}/comments/{on_b}", b.api.base);
    let masto = FakeServer::start().await;
    let zoe = masto.actor("Person", "zoe", json!({}));
    let zoes = mastodon_note(&masto, &zoe, 1, &video, "<p>Zoe waits too</p>", json!([]));
    masto.serve("/users/zoe/statuses/1", zoes.clone());
    assert_eq!(masto.send(&format!("{}/inbox", a.api.base), &zoe, &create_of(&zoes)).await, StatusCode::ACCEPTED);
    settle(&[&a, &b, &c]).await;
    settle(&[&a, &b, &c]).await;
    assert_eq!(threads(&a, &uuid).await["total"], 0, "held at A");
    assert_eq!(threads(&c, &uuid).await["total"], 0, "nothing passed on while held");
    let (status, mine) =
        a.api.get(&format!("/api/v1/users/me/videos/comments?isHeldForReview=true&videoId={uuid}"), Some(&ava)).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(mine["total"], 2, "{mine}");

    // Ava approves both.
    for held in mine["data"].as_array().unwrap() {
        let id = held["id"].as_i64().unwrap();
        let (status, body) =
            a.api.post(&format!("/api/v1/videos/{uuid}/comments/{id}/approve"), Some(&ava), json!({})).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    settle(&[&a, &b, &c]).await;
    settle(&[&a, &b, &c]).await;
    settle(&[&a, &b, &c]).await;
    let at_a = threads(&a, &uuid).await;
    assert_eq!(at_a["total"], 2, "{at_a}");
    let at_c = threads(&c, &uuid).await;
    assert_eq!(at_c["total"], 2, "C got both, once each: {at_c}");
    let mut urls: Vec<&str> = at_c["data"].as_array().unwrap().iter().filter_map(|t| t["url"].as_str()).collect();
    urls.sort();
    let mut want = vec![bea_note.as_str(), zoes["id"].as_str().unwrap()];
    want.sort();
    assert_eq!(urls, want);

    // Zoe's server was told, in PeerTube's shape, by the video's account.
    let got = masto.received.lock().unwrap().clone();
    let approve = got.iter().find(|v| v["type"] == "ApproveReply").unwrap_or_else(|| panic!("{got:?}")).clone();
    assert_eq!(approve["actor"], format!("{}/accounts/ava", a.api.base));
    assert_eq!(approve["object"], zoes["id"]);
    assert_eq!(approve["inReplyTo"], video.as_str());
    assert!(approve["id"].as_str().unwrap().starts_with(&format!("{video}/comments/")), "{approve}");
    // Its shape is PeerTube's (the keys and context of shared/reference/peertube-samples/
    // ap-comment-approve-reply.json), and its id answers it.
    let mut keys: Vec<&String> = approve.as_object().unwrap().keys().filter(|k| *k != "signature").collect();
    keys.sort();
    assert_eq!(keys, ["@context", "actor", "id", "inReplyTo", "object", "type"]);
    assert_eq!(
        approve["@context"],
        json!(["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1",
               { "RsaSignature2017": "https://w3id.org/security#RsaSignature2017" },
               { "pt": "https://joinpeertube.org/ns#", "sc": "http://schema.org/", "ApproveReply": "pt:ApproveReply" }])
    );
    let (status, served) = ap_get(&a, approve["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{served}");
    assert_eq!(served["object"], approve["object"]);
    assert_eq!(served["type"], "ApproveReply");
    // B sent Bea's comment again with the approval; A took it once, and nothing doubled.
    assert_eq!(seen(&a, &format!("{bea_note}/activity/approved")).await, 1);
    assert_eq!(threads(&a, &uuid).await["total"], 2);

    // Someone other than the video's server cannot approve Bea's comment (nor make B send it).
    let forged = json!({ "type": "ApproveReply", "id": format!("{}/approvals/1", masto.base), "actor": zoe,
                         "inReplyTo": video, "object": bea_note });
    assert_eq!(masto.send(&format!("{}/inbox", b.api.base), &zoe, &forged).await, StatusCode::FORBIDDEN);
    let elsewhere = json!({ "type": "ApproveReply", "id": "https://elsewhere.example/approvals/1", "actor": zoe,
                            "inReplyTo": video, "object": bea_note });
    assert_eq!(masto.send(&format!("{}/inbox", b.api.base), &zoe, &elsewhere).await, StatusCode::FORBIDDEN);
    let oversized = json!({ "type": "ApproveReply", "id": format!("{}/approvals/{}", masto.base, "x".repeat(3000)),
                            "actor": zoe, "inReplyTo": video, "object": bea_note });
    assert_eq!(masto.send(&format!("{}/inbox", b.api.base), &zoe, &oversized).await, StatusCode::BAD_REQUEST);
    settle(&[&a, &b, &c]).await;
    assert_eq!(seen(&a, &format!("{bea_note}/activity/approved")).await, 1);
    assert_eq!(threads(&c, &uuid).await["total"], 2);
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

async fn rate(t: &TestInstance, token: &str, uuid: &str, rating: &str) {
    let (status, body) =
        t.api.put(&format!("/api/v1/videos/{uuid}/rate"), Some(token), json!({ "rating": rating })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn likes(t: &TestInstance, uuid: &str) -> Value {
    let (status, v) = t.api.get(&format!("/api/v1/videos/{uuid}"), None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["likes"].clone()
}

async fn delete_user(t: &TestInstance, token: &str) {
    let (_, me) = t.api.get("/api/v1/users/me", Some(token)).await;
    let admin = t.admin_token().await;
    let (status, body) = t.api.delete(&format!("/api/v1/users/{}", me["id"]), Some(&admin)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

/// A user deleted on B: the servers that know its account hear the account's own `Delete`
/// (signed with its retired key, its actor document being gone), and forget it with what it left
/// there: its comment under A's video, its like (A's count goes back). A user deleted on A takes
/// their like off A's count too.
async fn a_deleted_user_is_forgotten_where_it_spoke(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let b = TestInstance::start(backend).await;
    b.follow_instance(&a).await;
    let ava = a.user("ava").await;
    let uuid = a.publish(&ava, "Liked and discussed", &[]).await;
    settle(&[&a, &b]).await;
    let bea = b.user("bea").await;
    posted(&b, &bea, &uuid, None, "Soon gone").await;
    rate(&b, &bea, &uuid, "like").await;
    let cal = a.user("cal").await;
    rate(&a, &cal, &uuid, "like").await;
    // Under load a delivery may be retried (10 s later): wait for both to be counted, a while.
    for _ in 0..40 {
        settle(&[&a, &b]).await;
        if likes(&a, &uuid).await == 2 && threads(&a, &uuid).await["total"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(threads(&a, &uuid).await["total"], 1);
    assert_eq!(likes(&a, &uuid).await, 2, "Bea's like and Cal's");
    let bea_handle = format!("/api/v1/accounts/bea@{}", b.instance.addr);
    assert_eq!(a.api.get(&bea_handle, None).await.0, StatusCode::OK);

    // Cal is deleted on A: Cal's like goes with Cal.
    delete_user(&a, &cal).await;
    assert_eq!(likes(&a, &uuid).await, 1, "Cal's like taken off");

    // Bea is deleted on B: A forgets Bea, Bea's comment and Bea's like.
    delete_user(&b, &bea).await;
    for _ in 0..40 {
        settle(&[&a, &b]).await;
        if a.api.get(&bea_handle, None).await.0 == StatusCode::NOT_FOUND {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let (status, gone) = b.api.get("/api/v1/accounts/bea", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");
    assert_eq!(a.api.get(&bea_handle, None).await.0, StatusCode::NOT_FOUND, "A forgot Bea");
    assert_eq!(threads(&a, &uuid).await["total"], 0, "Bea's comment went with Bea");
    assert_eq!(likes(&a, &uuid).await, 0, "and Bea's like");
    a.stop().await;
    b.stop().await;
}
