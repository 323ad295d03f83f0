//! Comments under videos through PeerTube's API: threads, replies and the tree of a thread,
//! deletion that leaves a tombstone among the replies, who may delete, the comments policy
//! (disabled, held for approval), the owner's view, and a thread too long to answer whole.

use flotilla_testkit::reqwest::StatusCode;
use flotilla_testkit::serde_json::{Value, json};
use flotilla_testkit::{Backend, TestInstance, db_tests};

db_tests!(
    threads_replies_trees_and_tombstones,
    disabled_comments_are_refused_and_held_ones_wait_for_the_owner,
    a_thread_of_ten_thousand_replies_is_answered_in_part,
);

async fn publish(a: &TestInstance, token: &str, name: &str, extra: &[(&str, &str)]) -> String {
    let uuid = a.publish(token, name, extra).await;
    a.run_jobs().await;
    uuid
}

async fn comment(a: &TestInstance, token: &str, uuid: &str, parent: Option<i64>, text: &str) -> (StatusCode, Value) {
    let path = match parent {
        None => format!("/api/v1/videos/{uuid}/comment-threads"),
        Some(p) => format!("/api/v1/videos/{uuid}/comments/{p}"),
    };
    a.api.post(&path, Some(token), json!({ "text": text })).await
}

async fn posted(a: &TestInstance, token: &str, uuid: &str, parent: Option<i64>, text: &str) -> i64 {
    let (status, body) = comment(a, token, uuid, parent, text).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["comment"]["id"].as_i64().unwrap()
}

async fn threads_replies_trees_and_tombstones(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let owner = a.user("ana").await;
    let ben = a.user("ben").await;
    let cy = a.user("cy").await;
    let uuid = publish(&a, &owner, "Talked about", &[]).await;

    let first = posted(&a, &ben, &uuid, None, "  First! @ana nice  ").await;
    let (status, body) = comment(&a, &ben, &uuid, None, "Second thread").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let c = &body["comment"];
    assert_eq!(c["text"], "Second thread");
    assert_eq!(c["threadId"], c["id"]);
    assert_eq!(c["inReplyToCommentId"], Value::Null);
    assert_eq!(c["isDeleted"], false);
    assert_eq!(c["heldForReview"], false);
    assert_eq!(c["account"]["name"], "ben");
    assert_eq!(c["url"], format!("{}/videos/watch/{uuid}/comments/{}", a.api.base, c["id"]));
    let second = c["id"].as_i64().unwrap();
    // Replies, and a reply to a reply.
    let by_owner = posted(&a, &owner, &uuid, Some(first), "Thanks!").await;
    let deeper = posted(&a, &cy, &uuid, Some(by_owner), "Agreed").await;
    posted(&a, &cy, &uuid, Some(first), "Me too").await;

    // The list: threads newest first, reply counts, anyone may read it.
    let (status, list) = a.api.get(&format!("/api/v1/videos/{uuid}/comment-threads"), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 2);
    assert_eq!(list["totalNotDeletedComments"], 5);
    let data = list["data"].as_array().unwrap();
    assert_eq!(data[0]["id"], second);
    assert_eq!(data[1]["id"], first);
    assert_eq!(data[1]["text"], "First! @ana nice", "trimmed as stored");
    assert_eq!(data[1]["totalReplies"], 3);
    assert_eq!(data[1]["totalRepliesFromVideoAuthor"], 1);
    let (_, by_replies) =
        a.api.get(&format!("/api/v1/videos/{uuid}/comment-threads?sort=-totalReplies&count=1"), None).await;
    assert_eq!(by_replies["data"].as_array().unwrap().len(), 1);
    assert_eq!(by_replies["data"][0]["id"], first, "{by_replies}");
    assert_eq!(by_replies["total"], 2);
    // A sort PeerTube does not know is refused, as PeerTube does.
    let (status, bad) = a.api.get(&format!("/api/v1/videos/{uuid}/comment-threads?sort=-text"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert!(bad.to_string().contains("sort"), "{bad}");

    // The tree.
    let (status, tree) = a.api.get(&format!("/api/v1/videos/{uuid}/comment-threads/{first}"), None).await;
    assert_eq!(status, StatusCode::OK, "{tree}");
    assert_eq!(tree["comment"]["id"], first);
    let kids = tree["children"].as_array().unwrap();
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[0]["comment"]["id"], by_owner);
    assert_eq!(kids[0]["children"][0]["comment"]["id"], deeper);
    assert_eq!(kids[0]["children"][0]["comment"]["inReplyToCommentId"], by_owner);
    assert_eq!(kids[0]["children"][0]["comment"]["threadId"], first);
    assert_eq!(kids[1]["comment"]["text"], "Me too");
    // A thread id that is a reply, or a thread of another video: not found.
    let (status, _) = a.api.get(&format!("/api/v1/videos/{uuid}/comment-threads/{by_owner}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let other = publish(&a, &owner, "Other", &[]).await;
    let (status, _) = a.api.get(&format!("/api/v1/videos/{other}/comment-threads/{first}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = comment(&a, &ben, &other, Some(first), "cross-video reply").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Texts are checked; nothing is stored for a refused one.
    for bad in ["", "   ", &"x".repeat(10_001), "bell \u{7}"] {
        let (status, body) = comment(&a, &ben, &uuid, None, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (status, body) = a.api.post(&format!("/api/v1/videos/{uuid}/comment-threads"), Some(&ben), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) =
        a.api.post(&format!("/api/v1/videos/{uuid}/comment-threads"), None, json!({ "text": "anon" })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, list) = a.api.get(&format!("/api/v1/videos/{uuid}/comment-threads"), None).await;
    assert_eq!(list["totalNotDeletedComments"], 5);

    // Deleting: not someone else's; the author's own leaves a tombstone, its replies kept.
    let (status, _) = a.api.delete(&format!("/api/v1/videos/{uuid}/comments/{first}"), Some(&cy)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = a.api.delete(&format!("/api/v1/videos/{uuid}/comments/{first}"), Some(&ben)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, tree) = a.api.get(&format!("/api/v1/videos/{uuid}/comment-threads/{first}"), None).await;
    assert_eq!(tree["comment"]["isDeleted"], true, "{tree}");
    assert_eq!(tree["comment"]["text"], "");
    assert_eq!(tree["comment"]["account"], Value::Null);
    assert!(tree["comment"]["deletedAt"].is_string());
    assert_eq!(tree["children"].as_array().unwrap().len(), 2, "replies stay");
    let (status, _) = comment(&a, &cy, &uuid, Some(first), "to a deleted one").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = a.api.delete(&format!("/api/v1/videos/{uuid}/comments/{first}"), Some(&ben)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "deleted once");
    // The video's owner deletes another's comment on their video; a moderator could too.
    let (status, _) = a.api.delete(&format!("/api/v1/videos/{uuid}/comments/{deeper}"), Some(&owner)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = a.api.get(&format!("/api/v1/videos/{uuid}/comment-threads"), None).await;
    assert_eq!(list["total"], 2, "a deleted thread stays listed");
    assert_eq!(list["totalNotDeletedComments"], 3);

    // A private video's comments are nobody else's business.
    let (status, _) = a.api.put(&format!("/api/v1/videos/{other}"), Some(&owner), json!({ "privacy": 3 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = comment(&a, &ben, &other, None, "let me in").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = a.api.get(&format!("/api/v1/videos/{other}/comment-threads"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    posted(&a, &owner, &other, None, "note to self").await;
    a.stop().await;
}

async fn disabled_comments_are_refused_and_held_ones_wait_for_the_owner(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let owner = a.user("olga").await;
    let pat = a.user("pat").await;
    let closed = publish(&a, &owner, "Closed", &[("commentsPolicy", "2")]).await;
    let (_, v) = a.api.get(&format!("/api/v1/videos/{closed}"), None).await;
    assert_eq!(v["commentsPolicy"], json!({ "id": 2, "label": "Disabled" }));
    assert_eq!(v["commentsEnabled"], false);
    let (status, body) = comment(&a, &pat, &closed, None, "hello?").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, list) = a.api.get(&format!("/api/v1/videos/{closed}/comment-threads"), None).await;
    assert_eq!(list["total"], 0);
    let (status, _) =
        a.api.put(&format!("/api/v1/videos/{closed}"), Some(&owner), json!({ "commentsPolicy": 7 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Held for approval: the author and the owner see it, nobody else, until approved.
    let (status, _) =
        a.api.put(&format!("/api/v1/videos/{closed}"), Some(&owner), json!({ "commentsPolicy": 3 })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, v) = a.api.get(&format!("/api/v1/videos/{closed}"), None).await;
    assert_eq!(v["commentsPolicy"], json!({ "id": 3, "label": "Requires approval" }));
    let (status, body) = comment(&a, &pat, &closed, None, "Please let this through").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["comment"]["heldForReview"], true);
    let held = body["comment"]["id"].as_i64().unwrap();
    let mine = posted(&a, &owner, &closed, None, "The owner is not held").await;
    let path = format!("/api/v1/videos/{closed}/comment-threads");
    let ids =
        |list: &Value| list["data"].as_array().unwrap().iter().map(|c| c["id"].as_i64().unwrap()).collect::<Vec<_>>();
    let (_, anon) = a.api.get(&path, None).await;
    assert_eq!(ids(&anon), vec![mine]);
    let (_, other) = a.api.get(&path, Some(&a.user("quin").await)).await;
    assert_eq!(ids(&other), vec![mine]);
    let (_, author) = a.api.get(&path, Some(&pat)).await;
    assert_eq!(ids(&author), vec![mine, held]);
    let (_, by_owner) = a.api.get(&path, Some(&owner)).await;
    assert_eq!(ids(&by_owner), vec![mine, held]);
    assert_eq!(by_owner["totalNotDeletedComments"], 2, "the held one counts for the owner");
    assert_eq!(anon["totalNotDeletedComments"], 1);
    let (status, _) = a.api.get(&format!("{path}/{held}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a held thread is not shown");
    // Nobody replies to a held comment.
    let (status, _) = comment(&a, &owner, &closed, Some(held), "reply").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The owner's view lists it among the held ones.
    let (status, mine_list) = a.api.get("/api/v1/users/me/videos/comments?isHeldForReview=true", Some(&owner)).await;
    assert_eq!(status, StatusCode::OK, "{mine_list}");
    assert_eq!(mine_list["total"], 1);
    assert_eq!(mine_list["data"][0]["id"], held);
    assert_eq!(mine_list["data"][0]["video"]["uuid"], closed.as_str());
    let (_, all) = a.api.get("/api/v1/users/me/videos/comments", Some(&owner)).await;
    assert_eq!(all["total"], 2);
    let (_, none) = a.api.get("/api/v1/users/me/videos/comments", Some(&pat)).await;
    assert_eq!(none["total"], 0, "pat has no videos");
    // Only the owner (or a moderator) approves.
    let approve = format!("/api/v1/videos/{closed}/comments/{held}/approve");
    let (status, _) = a.api.post(&approve, Some(&pat), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = a.api.post(&approve, Some(&owner), json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, anon) = a.api.get(&path, None).await;
    assert_eq!(ids(&anon), vec![mine, held], "approved: shown to all");
    let (_, held_left) = a.api.get("/api/v1/users/me/videos/comments?isHeldForReview=true", Some(&owner)).await;
    assert_eq!(held_left["total"], 0);
    // A held reply counts for those who see it (the owner reaches it from the thread), not others.
    let (status, body) = comment(&a, &pat, &closed, Some(mine), "A reply to hold").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let replies_of_mine = |list: &Value| {
        list["data"].as_array().unwrap().iter().find(|c| c["id"] == mine).map(|c| c["totalReplies"].clone()).unwrap()
    };
    let (_, anon) = a.api.get(&path, None).await;
    assert_eq!(replies_of_mine(&anon), 0);
    assert_eq!(anon["totalNotDeletedComments"], 2);
    let (_, by_owner) = a.api.get(&path, Some(&owner)).await;
    assert_eq!(replies_of_mine(&by_owner), 1);
    assert_eq!(by_owner["totalNotDeletedComments"], 3);
    let (_, t) = a.api.get(&format!("{path}/{mine}"), Some(&owner)).await;
    assert_eq!(t["children"][0]["comment"]["heldForReview"], true, "{t}");
    a.stop().await;
}

async fn a_thread_of_ten_thousand_replies_is_answered_in_part(backend: Backend) {
    let a = TestInstance::start_with(backend, |c| c.transcoding.resolutions = vec![144]).await;
    let owner = a.user("tess").await;
    let uuid = publish(&a, &owner, "Busy", &[]).await;
    let root = posted(&a, &owner, &uuid, None, "Reply below").await;
    // Ten thousand replies, written straight to the database (the API would take minutes), in
    // transactions of 500: each reply moves its thread's and its video's counts, and PostgreSQL
    // walks every version of a row one transaction updated before it finds the newest — ten
    // thousand updates in one transaction took a minute there.
    let db = &a.instance.app.db;
    let v = flotilla_db::videos::get_by_uuid(db, &uuid).await.unwrap().unwrap();
    let account = flotilla_db::accounts::get_local_by_name(db, "tess").await.unwrap().unwrap();
    let mut tx = db.begin().await.unwrap();
    for n in 0..10_000i64 {
        if n > 0 && n % 500 == 0 {
            tx.commit().await.unwrap();
            tx = db.begin().await.unwrap();
        }
        let new = flotilla_db::comments::NewComment {
            video_id: v.id,
            thread_id: Some(root),
            in_reply_to: Some(root),
            account_id: account.id,
            url: None,
            text: &format!("reply {n}"),
            held: false,
            created_at: 1_700_000_000_000 + n,
            now: 1_700_000_000_000 + n,
        };
        flotilla_db::comments::insert(&mut tx, &new).await.unwrap();
    }
    tx.commit().await.unwrap();
    let (status, tree) = a.api.get(&format!("/api/v1/videos/{uuid}/comment-threads/{root}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let kids = tree["children"].as_array().unwrap();
    assert_eq!(kids.len(), 1000, "the first thousand");
    assert_eq!(kids[0]["comment"]["text"], "reply 0");
    assert_eq!(kids[999]["comment"]["text"], "reply 999");
    assert_eq!(tree["comment"]["totalReplies"], 10_000, "and the true total");
    let (_, list) = a.api.get(&format!("/api/v1/videos/{uuid}/comment-threads?count=1000"), None).await;
    assert_eq!(list["data"][0]["totalReplies"], 10_000);
    assert_eq!(list["totalNotDeletedComments"], 10_001);
    a.stop().await;
}
