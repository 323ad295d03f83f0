//! Comments under videos, as PeerTube's API has them: threads, replies, the tree of a thread,
//! deletion (a tombstone keeps a deleted comment's place among its replies), comments held for
//! the owner's approval (`commentsPolicy` 3), and the owner's view of the comments on their
//! videos. Each change records what happened (`CommentCreated`, `CommentDeleted`) in its
//! transaction; federation sends what it means to other servers.

use std::collections::HashMap;

use serde_json::value::RawValue;

use flotilla_db::comments::{self, Comment, Held, NewComment};
use flotilla_db::{accounts, videos};
use flotilla_domain::Role;
use flotilla_domain::time::{iso8601, now_ms};
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::events::{self, Event};
use crate::{App, Error, Result, convert, uris};

/// The longest comment, in characters (PeerTube's limit).
pub const MAX_TEXT_CHARS: usize = 10_000;

/// The most comments of one thread an answer holds: a thread of ten thousand replies is answered
/// with its first thousand (and its true total).
pub const MAX_TREE: i64 = 1_000;

/// The most mentions of one comment that are resolved and told.
pub const MAX_MENTIONS: usize = 20;

/// The URL (ActivityPub id) of a comment: its origin's for a remote one, ours under the video's
/// URL for a local one (PeerTube's shape).
pub fn url(app: &App, v: &videos::Video, c: &Comment) -> String {
    c.url.clone().unwrap_or_else(|| format!("{}/comments/{}", uris::video(app, &v.uuid), c.id))
}

/// The handles a text mentions (`@name` or `@name@host`), each once, at most [`MAX_MENTIONS`].
pub fn mentions(text: &str) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    let bytes = text.as_bytes();
    let handle_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':');
    let mut i = 0;
    while i < bytes.len() && out.len() < MAX_MENTIONS {
        let starts = bytes[i] == b'@' && (i == 0 || !handle_char(text[..i].chars().next_back().unwrap_or(' ')));
        if !starts {
            i += 1;
            continue;
        }
        let rest = &text[i + 1..];
        let end = rest.find(|c: char| !(handle_char(c) || c == '@')).unwrap_or(rest.len());
        let handle = rest[..end].trim_end_matches(['.', ':', '-']);
        i += 1 + end.max(1);
        let (name, host) = match handle.split_once('@') {
            Some((n, h)) if !h.is_empty() && !h.contains('@') => (n, Some(h.to_ascii_lowercase())),
            Some(_) => continue,
            None => (handle, None),
        };
        if name.is_empty() || name.len() > 100 || name.contains(':') {
            continue;
        }
        let m = (name.to_string(), host);
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// Checks a comment's text: not blank, not over [`MAX_TEXT_CHARS`], no control characters but
/// line breaks and tabs. A tab becomes a space: the Linked-Data signature of the `Note` has to verify
/// on PeerTube and on Mastodon, whose canonical forms write a tab differently (raw; `\t`).
pub fn check_text(text: &str) -> Result<String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(Error::invalid("text", "a comment cannot be empty"));
    }
    if t.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::invalid("text", format!("a comment is at most {MAX_TEXT_CHARS} characters")));
    }
    if t.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(Error::invalid("text", "a comment cannot hold control characters"));
    }
    Ok(t.replace("\r\n", "\n").replace('\t', " "))
}

fn is_moderator(who: Option<&AuthUser>) -> bool {
    who.is_some_and(|w| matches!(w.role(), flotilla_domain::Role::Admin | flotilla_domain::Role::Moderator))
}

/// A video the caller may open (a password-protected one with its password), by any of its ids.
async fn opened_video(
    app: &App,
    who: Option<&AuthUser>,
    key: &str,
    attempt: &crate::video::passwords::Attempt,
) -> Result<videos::Video> {
    crate::video::open(app, who, key, attempt).await
}

/// A video the caller may see, by any of its ids.
async fn visible_video(app: &App, who: Option<&AuthUser>, key: &str) -> Result<videos::Video> {
    let v = videos::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("video"))?;
    if !crate::video::can_see(app, who, &v).await? {
        return Err(Error::not_found("video"));
    }
    Ok(v)
}

/// Whether `who` manages the comments of `v`: its owner or a moderator.
async fn manages(app: &App, who: Option<&AuthUser>, v: &videos::Video) -> Result<bool> {
    if is_moderator(who) {
        return Ok(true);
    }
    Ok(match who {
        Some(w) => crate::video::owner_user(app, v).await? == Some(w.user.id),
        None => false,
    })
}

/// The account that owns a local video (whose watched words and policy apply to its comments);
/// `None` for another server's.
pub async fn video_owner_account(app: &App, v: &videos::Video) -> Result<Option<i64>> {
    if !v.is_local() {
        return Ok(None);
    }
    Ok(flotilla_db::channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id)).await?.map(|c| c.account_id))
}

/// The caller's account (every user has one).
async fn account_of(app: &App, who: &AuthUser) -> Result<accounts::Account> {
    accounts::get_by_user(&app.db, who.id()).await?.ok_or_else(|| Error::not_found("account"))
}

/// Which held comments `who` sees under `v`.
async fn held_for(app: &App, who: Option<&AuthUser>, v: &videos::Video) -> Result<Held> {
    if manages(app, who, v).await? {
        return Ok(Held::Shown);
    }
    Ok(match who {
        Some(w) => match accounts::get_by_user(&app.db, w.id()).await? {
            Some(a) => Held::OfAuthor(a.id),
            None => Held::Hidden,
        },
        None => Held::Hidden,
    })
}

/// One comment as PeerTube's API shows it. Serialized straight to the answer (a page of threads is
/// the hot path of a watch page): no `Value` tree per comment, each author's JSON made once.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct CommentView<'a> {
    id: i64,
    url: String,
    text: &'a str,
    thread_id: i64,
    in_reply_to_comment_id: Option<i64>,
    video_id: i64,
    created_at: String,
    updated_at: String,
    deleted_at: Option<String>,
    held_for_review: bool,
    is_deleted: bool,
    total_replies_from_video_author: i64,
    total_replies: i64,
    account: Option<&'a RawValue>,
}

/// The authors of `list`, each rendered once (PeerTube's account shape, with avatars).
async fn authors(app: &App, list: &[Comment]) -> Result<HashMap<i64, Box<RawValue>>> {
    let ids: Vec<i64> = list.iter().filter_map(|c| c.account_id).collect();
    let (accs, imgs) = accounts::get_many_with_images(&app.db, &ids).await?;
    accs.iter()
        .map(|a| {
            let mine: Vec<_> = imgs.iter().filter(|i| i.actor_id == a.actor_id).cloned().collect();
            let raw = serde_json::value::to_raw_value(&convert::account_to_api(app, a, &mine))
                .map_err(|e| Error::Internal(e.to_string()))?;
            Ok((a.id, raw))
        })
        .collect()
}

/// The reply counts of the threads among `list`, by thread (none when not `counts`).
async fn counted(
    app: &App,
    v: &videos::Video,
    list: &[Comment],
    counts: bool,
    held: Held,
) -> Result<HashMap<i64, (i64, i64)>> {
    if !counts {
        return Ok(HashMap::new());
    }
    let threads: Vec<i64> = list.iter().filter(|c| c.thread_id.is_none()).map(|c| c.id).collect();
    Ok(comments::reply_counts(&app.db, &threads, v.channel_id, held, &[])
        .await?
        .into_iter()
        .map(|(t, n, by_author)| (t, (n, by_author)))
        .collect())
}

fn view<'a>(
    app: &App,
    v: &videos::Video,
    c: &'a Comment,
    replies: &HashMap<i64, (i64, i64)>,
    authors: &'a HashMap<i64, Box<RawValue>>,
) -> CommentView<'a> {
    let (total, by_author) = replies.get(&c.id).copied().unwrap_or((0, 0));
    CommentView {
        id: c.id,
        url: url(app, v, c),
        text: &c.text,
        thread_id: c.thread(),
        in_reply_to_comment_id: c.in_reply_to,
        video_id: v.id,
        created_at: iso8601(c.created_at),
        updated_at: iso8601(c.updated_at),
        deleted_at: c.deleted_at.map(iso8601),
        held_for_review: c.held,
        is_deleted: c.deleted_at.is_some(),
        total_replies_from_video_author: by_author,
        total_replies: total,
        account: c.account_id.and_then(|a| authors.get(&a)).map(|r| &**r),
    }
}

/// Renders comments as PeerTube's API does, with their authors and reply counts (`held`: which
/// held replies the viewer sees, and counts), as values to build on.
async fn views(app: &App, v: &videos::Video, list: &[Comment], counts: bool, held: Held) -> Result<Vec<Value>> {
    let authors = authors(app, list).await?;
    let replies = counted(app, v, list, counts, held).await?;
    list.iter()
        .map(|c| serde_json::to_value(view(app, v, c, &replies, &authors)).map_err(|e| Error::Internal(e.to_string())))
        .collect()
}

fn page(pairs: &[(String, String)]) -> Result<(i64, i64)> {
    let num = |k: &str, d: i64| -> Result<i64> {
        match pairs.iter().rev().find(|(n, _)| n == k) {
            Some((_, v)) => {
                v.trim().parse::<i64>().map_err(|_| Error::invalid(k, format!("{k} must be a whole number")))
            }
            None => Ok(d),
        }
    };
    Ok((num("start", 0)?.max(0), num("count", 15)?.clamp(1, 100)))
}

/// `GET /api/v1/videos/{id}/comment-threads`: a page of threads (`start`, `count`, `sort`
/// `-createdAt` (default), `createdAt`, `-totalReplies`, `totalReplies`).
pub async fn list_threads(
    app: &App,
    who: Option<&AuthUser>,
    key: &str,
    pairs: &[(String, String)],
    attempt: &crate::video::passwords::Attempt,
) -> Result<Box<RawValue>> {
    let v = opened_video(app, who, key, attempt).await?;
    if !v.comments_enabled {
        return serde_json::value::to_raw_value(&json!({ "total": 0, "totalNotDeletedComments": 0, "data": [] }))
            .map_err(|e| Error::Internal(e.to_string()));
    }
    let (start, count) = page(pairs)?;
    let sort = pairs.iter().rev().find(|(n, _)| n == "sort").map(|(_, s)| s.as_str()).filter(|s| !s.is_empty());
    // As PeerTube: a sort it does not know is a 400, not the default order.
    if let Some(s) = sort
        && !comments::THREAD_ORDERS.iter().any(|(k, _)| *k == s.strip_prefix('-').unwrap_or(s))
    {
        return Err(Error::invalid("sort", "sort must be createdAt or totalReplies, with - for descending"));
    }
    let order = flotilla_db::order_by(sort, comments::THREAD_ORDERS, "c.created_at DESC");
    let held = held_for(app, who, &v).await?;
    // Comments of accounts the instance blocks, the viewer mutes or the video's owner mutes are left out.
    let hide = crate::blocklist::hidden_under(app, who.map(|w| w.user.id), &v).await?;
    let page = comments::threads(&app.db, v.id, v.channel_id, held, &hide, &order, start, count).await?;
    let replies: HashMap<i64, (i64, i64)> = page.iter().map(|(c, n, a)| (c.id, (*n, *a))).collect();
    let list: Vec<Comment> = page.into_iter().map(|(c, _, _)| c).collect();
    let authors = authors(app, &list).await?;
    let (total, not_deleted) = match held {
        Held::Hidden if hide.is_empty() => (v.comment_threads, v.comments_count),
        _ => comments::count_seen(&app.db, v.id, held, &hide).await?,
    };
    crate::events::seen(app, crate::events::Seen::Video(&v)).await;
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Page<'a> {
        total: i64,
        total_not_deleted_comments: i64,
        data: Vec<CommentView<'a>>,
    }
    let data = list.iter().map(|c| view(app, &v, c, &replies, &authors)).collect();
    serde_json::value::to_raw_value(&Page { total, total_not_deleted_comments: not_deleted, data })
        .map_err(|e| Error::Internal(e.to_string()))
}

/// `GET /api/v1/videos/{id}/comment-threads/{threadId}`: the thread as a tree.
pub async fn thread(
    app: &App,
    who: Option<&AuthUser>,
    key: &str,
    thread_id: i64,
    attempt: &crate::video::passwords::Attempt,
) -> Result<Value> {
    let v = opened_video(app, who, key, attempt).await?;
    let root = comments::get(&app.db, thread_id)
        .await?
        .filter(|c| c.video_id == v.id && c.thread_id.is_none() && v.comments_enabled)
        .ok_or_else(|| Error::not_found("comment thread"))?;
    let held = held_for(app, who, &v).await?;
    let visible = |c: &Comment| match held {
        Held::Shown => true,
        Held::OfAuthor(a) => !c.held || c.account_id == Some(a),
        Held::Hidden => !c.held,
    };
    let hide = crate::blocklist::hidden_under(app, who.map(|w| w.user.id), &v).await?;
    if !visible(&root) || root.account_id.is_some_and(|a| hide.binary_search(&a).is_ok()) {
        return Err(Error::not_found("comment thread"));
    }
    let (replies, _) = comments::replies(&app.db, root.id, held, &hide, MAX_TREE).await?;
    let mut all = vec![root.clone()];
    all.extend(replies);
    let rendered = views(app, &v, &all, true, held).await?;
    // Replies of replies: each comment's children, in the order they came.
    let mut children: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, c) in all.iter().enumerate().skip(1) {
        children.entry(c.in_reply_to.unwrap_or(root.id)).or_default().push(i);
    }
    fn tree(i: usize, all: &[Comment], rendered: &[Value], children: &HashMap<i64, Vec<usize>>, depth: u32) -> Value {
        let kids = if depth > 200 { Vec::new() } else { children.get(&all[i].id).cloned().unwrap_or_default() };
        json!({
            "comment": rendered[i],
            "children": kids.into_iter().map(|k| tree(k, all, rendered, children, depth + 1)).collect::<Vec<_>>(),
        })
    }
    // The root's `totalReplies` is the true count (`views` counts it), past the replies shown.
    Ok(tree(0, &all, &rendered, &children, 0))
}

/// `POST /api/v1/videos/{id}/comment-threads` (`parent` `None`) and
/// `POST /api/v1/videos/{id}/comments/{commentId}` (a reply).
pub async fn create(
    app: &App,
    who: &AuthUser,
    key: &str,
    parent: Option<i64>,
    text: &str,
    attempt: &crate::video::passwords::Attempt,
) -> Result<Value> {
    let v = opened_video(app, Some(who), key, attempt).await?;
    let text = check_text(text)?;
    if !v.comments_enabled {
        return Err(Error::Conflict("comments are disabled for this video".into()));
    }
    let parent = match parent {
        Some(id) => Some(
            comments::get(&app.db, id)
                .await?
                .filter(|c| c.video_id == v.id && !c.held)
                .ok_or_else(|| Error::not_found("comment"))?,
        ),
        None => None,
    };
    if parent.as_ref().is_some_and(|p| p.deleted_at.is_some()) {
        return Err(Error::Conflict("this comment was deleted: it cannot be answered".into()));
    }
    let author = account_of(app, who).await?;
    let manager = manages(app, Some(who), &v).await?;
    // Watched words tag it; the owner's policy may hold it for review.
    let tagging = crate::auto_tags::tag(app, &text, video_owner_account(app, &v).await?).await?;
    // Held for the owner's approval when the video asks it or its tags do, unless the owner or a
    // moderator speaks.
    let held = v.is_local() && (v.comments_held || tagging.review) && !manager;
    let now = now_ms();
    let mut tx = app.db.begin().await?;
    let id = comments::insert(
        &mut tx,
        &NewComment {
            video_id: v.id,
            thread_id: parent.as_ref().map(Comment::thread),
            in_reply_to: parent.as_ref().map(|p| p.id),
            account_id: author.id,
            url: None,
            text: &text,
            held,
            created_at: now,
            now,
        },
    )
    .await?;
    crate::auto_tags::record(&mut tx, id, &tagging).await?;
    events::record(&mut tx, Event::CommentCreated { comment_id: id }).await?;
    tx.commit().await?;
    app.wake_jobs();
    let c = comments::get(&app.db, id).await?.ok_or_else(|| Error::not_found("comment"))?;
    let view = views(app, &v, std::slice::from_ref(&c), true, Held::Shown).await?.pop().unwrap_or_default();
    Ok(json!({ "comment": view }))
}

/// `DELETE /api/v1/videos/{id}/comments/{commentId}`: by its author, the video's owner or a
/// moderator. The comment becomes a tombstone; its replies stay.
pub async fn delete(app: &App, who: &AuthUser, key: &str, comment_id: i64) -> Result<()> {
    let v = visible_video(app, Some(who), key).await?;
    let c = comments::get(&app.db, comment_id)
        .await?
        .filter(|c| c.video_id == v.id && c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("comment"))?;
    let me = account_of(app, who).await?;
    let manager = manages(app, Some(who), &v).await?;
    if c.account_id != Some(me.id) && !manager {
        return Err(Error::Forbidden("only its author, the video's owner or a moderator can delete a comment".into()));
    }
    // Another server's comment on another server's video is theirs to remove, not ours.
    if c.url.is_some() && !v.is_local() && !is_moderator(Some(who)) {
        return Err(Error::Forbidden("this comment belongs to another server".into()));
    }
    let mut tx = app.db.begin().await?;
    comments::mark_deleted(&mut tx, c.id, now_ms()).await?;
    if !c.held {
        // Who removed it tells: its author, or the video's owner or a moderator (as PeerTube does).
        events::record(
            &mut tx,
            Event::CommentDeleted { comment_id: c.id, url: url(app, &v, &c), actor_id: me.actor_id },
        )
        .await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `POST /api/v1/videos/{id}/comments/{commentId}/approve`: the owner (or a moderator) lets a
/// held comment show; it is sent to other servers then.
pub async fn approve(app: &App, who: &AuthUser, key: &str, comment_id: i64) -> Result<()> {
    let v = visible_video(app, Some(who), key).await?;
    if !manages(app, Some(who), &v).await? {
        return Err(Error::Forbidden("only the video's owner or a moderator can approve a comment".into()));
    }
    let c = comments::get(&app.db, comment_id)
        .await?
        .filter(|c| c.video_id == v.id && c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("comment"))?;
    let mut tx = app.db.begin().await?;
    if comments::approve(&mut tx, c.id, now_ms()).await? {
        events::record(&mut tx, Event::CommentApproved { comment_id: c.id }).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `GET /api/v1/users/me/videos/comments`: the comments on the caller's videos, newest first
/// (`isHeldForReview`, `videoId`, `start`, `count`), each with its video.
pub async fn on_my_videos(app: &App, who: &AuthUser, pairs: &[(String, String)]) -> Result<Value> {
    let me = account_of(app, who).await?;
    let (start, count) = page(pairs)?;
    let get = |k: &str| pairs.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.trim());
    let held_only = match get("isHeldForReview") {
        None | Some("false" | "0" | "") => false,
        Some("true" | "1") => true,
        Some(_) => return Err(Error::invalid("isHeldForReview", "isHeldForReview must be true or false")),
    };
    let video = match get("videoId").filter(|s| !s.is_empty()) {
        Some(k) => Some(videos::get_by_any_id(&app.db, k).await?.ok_or_else(|| Error::not_found("video"))?.id),
        None => None,
    };
    let (list, total) = comments::on_videos_of(&app.db, me.id, held_only, video, start, count).await?;
    Ok(json!({ "total": total, "data": for_admin_or_user(app, &list, Some(me.id)).await? }))
}

/// Comments as PeerTube's `VideoCommentForAdminOrUser`: each with its video and the automatic
/// tags of `scope` (an account's, or the instance's for `None`).
async fn for_admin_or_user(app: &App, list: &[Comment], scope: Option<i64>) -> Result<Vec<Value>> {
    let ids: Vec<i64> = list.iter().map(|c| c.id).collect();
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    for (c, t) in flotilla_db::auto_tags::tags_of(&app.db, &ids, scope).await? {
        tags.entry(c).or_default().push(t);
    }
    let mut data = Vec::with_capacity(list.len());
    for c in list {
        let Some(v) = videos::get(&app.db, c.video_id).await? else { continue };
        let mut view = views(app, &v, std::slice::from_ref(c), false, Held::Shown).await?.pop().unwrap_or_default();
        view["video"] = json!({ "id": v.id, "uuid": v.uuid, "name": v.name });
        view["automaticTags"] = json!(tags.remove(&c.id).unwrap_or_default());
        data.push(view);
    }
    Ok(data)
}

/// `GET /api/v1/videos/comments` (moderators): every comment of the instance that is not deleted,
/// newest first (`sort` `-createdAt`/`createdAt`), with `search`, `searchAccount`, `searchVideo`,
/// `isLocal`, `onLocalVideo`, `autoTagOneOf` (the instance's tags), `start`, `count`.
pub async fn admin_list(app: &App, who: &AuthUser, pairs: &[(String, String)]) -> Result<Value> {
    who.require_moderator()?;
    let (start, count) = page(pairs)?;
    let get = |k: &str| pairs.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.trim());
    let boolean = |k: &str| -> Result<Option<bool>> {
        match get(k) {
            None | Some("") => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(_) => Err(Error::invalid(k, format!("{k} must be true or false"))),
        }
    };
    let order = match get("sort").unwrap_or("-createdAt") {
        "-createdAt" => "c.created_at DESC",
        "createdAt" => "c.created_at ASC",
        _ => return Err(Error::invalid("sort", "createdAt, with - for descending")),
    };
    let tags: Vec<String> = pairs
        .iter()
        .filter(|(n, _)| n == "autoTagOneOf" || n == "autoTagOneOf[]")
        .map(|(_, v)| v.chars().take(100).collect())
        .take(20)
        .collect();
    let f = comments::AdminFilter {
        search: get("search").map(str::to_string),
        search_account: get("searchAccount").map(str::to_string),
        search_video: get("searchVideo").map(str::to_string),
        is_local: boolean("isLocal")?,
        on_local_video: boolean("onLocalVideo")?,
        auto_tag_one_of: tags,
        ..Default::default()
    };
    let (list, total) = comments::admin_list(&app.db, &f, order, start, count).await?;
    Ok(json!({ "total": total, "data": for_admin_or_user(app, &list, None).await? }))
}

/// At most this many comments are removed by one bulk removal.
pub const MAX_BULK: i64 = 10_000;

/// `POST /api/v1/bulk/remove-comments-of` (`{"accountName", "scope"}`): every comment of an
/// account under the caller's videos (`my-videos`), or anywhere (`instance`, moderators; not an
/// administrator's comments by a moderator). Each becomes a tombstone and other servers hear of
/// it, as one deletion would; the work is done in batches, each its own transaction.
pub async fn remove_comments_of(app: &App, who: &AuthUser, account_name: &str, scope: &str) -> Result<Value> {
    if account_name.is_empty() || account_name.len() > 300 {
        return Err(Error::invalid("accountName", "an account is named `name` or `name@host`"));
    }
    let target = crate::account::get_by_handle(app, account_name).await?;
    let me = account_of(app, who).await?;
    let video_owner = match scope {
        "my-videos" => Some(me.id),
        "instance" => {
            who.require_moderator()?;
            if who.role() != Role::Admin
                && let Some(u) = target.user_id
                && let Some(user) = flotilla_db::users::get(&app.db, flotilla_domain::UserId(u)).await?
                && user.role == Role::Admin as i64
            {
                return Err(Error::Forbidden("only an administrator may remove an administrator's comments".into()));
            }
            None
        }
        _ => return Err(Error::invalid("scope", "my-videos or instance")),
    };
    let f = comments::AdminFilter { account_id: Some(target.id), video_owner, ..Default::default() };
    let mut removed = 0;
    while removed < MAX_BULK {
        let (batch, _) = comments::admin_list(&app.db, &f, "c.created_at ASC", 0, 100).await?;
        if batch.is_empty() {
            break;
        }
        let mut tx = app.db.begin().await?;
        for c in &batch {
            let Some(v) = videos::get(&mut tx, c.video_id).await? else { continue };
            comments::mark_deleted(&mut tx, c.id, now_ms()).await?;
            if !c.held {
                events::record(
                    &mut tx,
                    Event::CommentDeleted { comment_id: c.id, url: url(app, &v, c), actor_id: me.actor_id },
                )
                .await?;
            }
        }
        tx.commit().await?;
        removed += batch.len() as i64;
    }
    app.wake_jobs();
    tracing::info!(by = %who.user.username, account = account_name, scope, removed, "comments removed in bulk");
    Ok(json!({ "removed": removed }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found_once_with_their_hosts() {
        let m = mentions("@root hi @bob@Example.org, and @root again; mail a@b.c @x@y@z @ alone @zoe.");
        assert_eq!(
            m,
            vec![
                ("root".to_string(), None),
                ("bob".to_string(), Some("example.org".to_string())),
                ("zoe".to_string(), None),
            ]
        );
        let many: String = (0..1000).map(|n| format!("@u{n} ")).collect();
        assert_eq!(mentions(&many).len(), MAX_MENTIONS);
    }

    #[test]
    fn texts_are_checked() {
        assert!(check_text("  ").is_err());
        assert!(check_text(&"x".repeat(MAX_TEXT_CHARS + 1)).is_err());
        assert!(check_text("bell \u{7}").is_err());
        assert_eq!(check_text(" a\r\nb ").unwrap(), "a\nb");
        assert_eq!(check_text("a\tb").unwrap(), "a b");
    }
}
