//! Comments between servers, in PeerTube's shapes. Sending: a comment by one of our accounts is a
//! `Create(Note)` (`inReplyTo` the video or the comment it answers, mentions tagged) from its
//! account, to the video's origin (a remote video) or its followers (ours), the authors of the
//! comments it answers and the actors it mentions; a deletion is a `Delete` of its URL.
//! Receiving: a `Note` answering a video we have or a comment under one — from PeerTube, Mastodon,
//! Misskey, Lemmy — is stored as a comment (HTML made plain text); `Update(Note)` edits it (its
//! author only), `Delete` leaves a tombstone (its author, or the video's server). A comment on one
//! of our videos is forwarded to the video's followers as received (PeerTube does the same; its
//! servers verify the author's own signature in it). Such a forwarded activity (signed by a server
//! that is not its author's) is never trusted as it is: the `Note` is fetched from its origin.

use flotilla_db::actors::RemoteActor;
use flotilla_db::comments::{self, Comment, NewComment};
use flotilla_db::{accounts, actors, channels, follows, videos};
use flotilla_domain::time::{iso8601, now_ms};
use serde_json::{Value, json};

use crate::comment::{MAX_MENTIONS, mentions};
use crate::federation::{delivery, remote};
use crate::{App, Error, Result, ap, uris};

/// The longest `content` read (HTML is longer than the text it holds).
const MAX_CONTENT_BYTES: usize = 64 * 1024;

/// How many comments up a thread the authors told of a reply are looked for.
const MAX_ANCESTORS: usize = 50;

/// The `@context` PeerTube gives its comments.
fn note_context() -> Value {
    json!([
        "https://www.w3.org/ns/activitystreams",
        "https://w3id.org/security/v1",
        { "RsaSignature2017": "https://w3id.org/security#RsaSignature2017" },
        { "pt": "https://joinpeertube.org/ns#", "sc": "http://schema.org/", "replyApproval": "pt:replyApproval" }
    ])
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::bad_request("remote_invalid", msg)
}

/// An actor a comment mentions: its URL, the handle written, and where to deliver (remote ones).
struct Mention {
    url: String,
    name: String,
    inbox: Option<String>,
}

/// The actors a local comment's text mentions. `fetch`: unknown remote ones are looked up by
/// WebFinger (within the job's fetch budget); otherwise only those we know are named.
async fn resolve_mentions(app: &App, text: &str, fetch: bool) -> Vec<Mention> {
    let mut out = Vec::new();
    for (name, host) in mentions(text).into_iter().take(MAX_MENTIONS) {
        let local = match host.as_deref() {
            None => true,
            Some(h) => h == app.public.host,
        };
        if local {
            if let Ok(Some(a)) = accounts::get_local_by_name(&app.db, &name).await {
                out.push(Mention {
                    url: uris::account(app, &a.name),
                    name: format!("@{}@{}", a.name, app.public.host),
                    inbox: None,
                });
            }
            continue;
        }
        let host = host.unwrap_or_default();
        let known = actors::list_by_host(&app.db, &host)
            .await
            .ok()
            .and_then(|list| list.into_iter().find(|a| a.name == name && a.kind == "Person"));
        let found = match known {
            Some(a) => Some(a),
            None if fetch => remote::actor_by_handle(app, &name, &host).await.ok(),
            None => None,
        };
        if let Some(a) = found {
            out.push(Mention {
                url: a.url.clone(),
                name: format!("@{}@{}", a.name, a.host),
                inbox: Some(a.shared_inbox.clone().unwrap_or(a.inbox.clone())),
            });
        }
    }
    out
}

/// What `inReplyTo` of a comment is: the video's URL, or the URL of the comment it answers.
async fn in_reply_to(app: &App, v: &videos::Video, c: &Comment) -> Result<String> {
    Ok(match c.in_reply_to {
        Some(p) => {
            let parent = comments::get(&app.db, p).await?.ok_or_else(|| Error::not_found("comment"))?;
            crate::comment::url(app, v, &parent)
        }
        None => v.remote_url.clone().unwrap_or_else(|| uris::video(app, &v.uuid)),
    })
}

/// The `Note` (or `Tombstone`) of a local comment, as PeerTube serves it.
async fn note(app: &App, v: &videos::Video, c: &Comment, mentioned: &[Mention]) -> Result<Value> {
    let id = crate::comment::url(app, v, c);
    let reply_to = in_reply_to(app, v, c).await?;
    if let Some(at) = c.deleted_at {
        return Ok(json!({
            "@context": note_context(),
            "id": id,
            "type": "Tombstone",
            "formerType": "Note",
            "inReplyTo": reply_to,
            "published": iso8601(c.created_at),
            "updated": iso8601(c.updated_at),
            "deleted": iso8601(at),
        }));
    }
    let author = match c.account_id {
        Some(a) => accounts::get(&app.db, flotilla_domain::AccountId(a)).await?,
        None => None,
    }
    .ok_or_else(|| Error::not_found("comment"))?;
    let author_url = uris::account(app, &author.name);
    let mut cc = vec![json!(format!("{author_url}/followers"))];
    cc.extend(mentioned.iter().map(|m| json!(m.url)));
    Ok(json!({
        "@context": note_context(),
        "to": [ap::PUBLIC],
        "cc": cc,
        "type": "Note",
        "id": id,
        "content": c.text,
        "mediaType": "text/markdown",
        "inReplyTo": reply_to,
        "updated": iso8601(c.updated_at),
        "published": iso8601(c.created_at),
        "url": id,
        "attributedTo": author_url,
        "replyApproval": null,
        "tag": mentioned.iter().map(|m| json!({ "type": "Mention", "href": m.url, "name": m.name })).collect::<Vec<_>>(),
    }))
}

/// The document a local comment's URL answers (`/videos/watch/{uuid}/comments/{id}`): its `Note`,
/// or a `Tombstone` once deleted. Held comments and comments under videos other servers do not
/// see are not found.
pub async fn note_document(app: &App, uuid: &str, id: i64) -> Result<Value> {
    let v = videos::get_by_uuid(&app.db, uuid).await?.ok_or_else(|| Error::not_found("comment"))?;
    let visible = if v.is_local() { ap::federates(app, &v) } else { v.privacy == crate::video::PRIVACY_PUBLIC };
    let c = comments::get(&app.db, id)
        .await?
        .filter(|c| visible && c.video_id == v.id && c.url.is_none() && !c.held)
        .ok_or_else(|| Error::not_found("comment"))?;
    let mentioned = resolve_mentions(app, &c.text, false).await;
    note(app, &v, &c, &mentioned).await
}

/// Who hears of a comment on `v`, beyond the actors it mentions: for our video, the followers of
/// its account, channel and the instance; for another server's, that video's account (its server
/// re-broadcasts); and the remote authors of the comments up its thread.
async fn audience(app: &App, v: &videos::Video, c: &Comment) -> Result<Vec<String>> {
    let mut inboxes = Vec::new();
    let channel = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id))
        .await?
        .ok_or_else(|| Error::not_found("channel"))?;
    let owner = accounts::get(&app.db, channel.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    if v.is_local() {
        let instance = ap::ensure_instance_actor(app).await?;
        inboxes.extend(follows::follower_inboxes(&app.db, &[owner.actor_id, channel.actor_id, instance]).await?);
    } else if let Some(a) = actors::get(&app.db, owner.actor_id).await? {
        inboxes.push(a.shared_inbox.unwrap_or(a.inbox));
    }
    if let Some(parent) = c.in_reply_to {
        for up in comments::ancestors(&app.db, parent, MAX_ANCESTORS).await? {
            let Some(acc) = up.account_id else { continue };
            let Some(acc) = accounts::get(&app.db, flotilla_domain::AccountId(acc)).await? else { continue };
            if acc.user_id.is_none()
                && let Some(a) = actors::get(&app.db, acc.actor_id).await?
            {
                inboxes.push(a.shared_inbox.unwrap_or(a.inbox));
            }
        }
    }
    Ok(inboxes)
}

/// [`crate::events::Event::CommentCreated`]: the `Create(Note)` of a local comment.
pub async fn created(app: &App, comment_id: i64) -> Result<()> {
    let Some(c) = comments::get(&app.db, comment_id).await? else { return Ok(()) };
    if c.deleted_at.is_some() || c.held || c.url.is_some() {
        return Ok(());
    }
    let Some(v) = videos::get(&app.db, c.video_id).await? else { return Ok(()) };
    send_create(app, &v, &c, None).await
}

/// The `Create(Note)` of local comment `c` on `v`, to the video's audience, the authors up its
/// thread, the actors it mentions and its author's followers. `approval`: the URL of the
/// `ApproveReply` of the video's server, sent again with it (PeerTube passes a held comment on to
/// its followers only then).
async fn send_create(app: &App, v: &videos::Video, c: &Comment, approval: Option<&str>) -> Result<()> {
    if v.is_local() && !ap::federates(app, v) {
        return Ok(());
    }
    let Some(author) = c.account_id else { return Ok(()) };
    let Some(author) = accounts::get(&app.db, flotilla_domain::AccountId(author)).await? else { return Ok(()) };
    let mentioned = resolve_mentions(app, &c.text, true).await;
    let mut object = note(app, v, c, &mentioned).await?;
    object.as_object_mut().map(|o| o.remove("@context"));
    let mut inboxes = audience(app, v, c).await?;
    inboxes.extend(mentioned.iter().filter_map(|m| m.inbox.clone()));
    inboxes.extend(follows::follower_inboxes(&app.db, &[author.actor_id]).await?);
    if inboxes.is_empty() {
        return Ok(());
    }
    let note_id = object["id"].as_str().unwrap_or_default().to_string();
    // Sent again after an approval: another activity (its receivers keep the first one's id as seen).
    let id = match approval {
        Some(_) => format!("{note_id}/activity/approved"),
        None => format!("{note_id}/activity"),
    };
    if let Some(approval) = approval {
        object["replyApproval"] = json!(approval);
    }
    let activity = json!({
        "@context": note_context(),
        "to": object["to"],
        "cc": object["cc"],
        "type": "Create",
        "id": id,
        "actor": object["attributedTo"],
        "object": object,
    });
    let mut tx = app.db.begin().await?;
    delivery::enqueue(&mut tx, author.actor_id, &activity, &inboxes).await?;
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(comment = c.id, inboxes = inboxes.len(), "comment federated");
    Ok(())
}

/// [`crate::events::Event::CommentApproved`]. A local comment goes out as a new one. A remote
/// comment on our video is passed on to the video's followers as it came in, and its author's
/// server is told with PeerTube's `ApproveReply` (from the video's account), in one transaction.
pub async fn approved(app: &App, comment_id: i64) -> Result<()> {
    let Some(c) = comments::get(&app.db, comment_id).await? else { return Ok(()) };
    if c.url.is_none() {
        return created(app, comment_id).await;
    }
    if c.deleted_at.is_some() || c.held {
        return Ok(());
    }
    let Some(v) = videos::get(&app.db, c.video_id).await? else { return Ok(()) };
    if !v.is_local() || !ap::federates(app, &v) {
        return Ok(());
    }
    let channel = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id))
        .await?
        .ok_or_else(|| Error::not_found("channel"))?;
    let owner = accounts::get(&app.db, channel.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    let owner_url = super::local_actor_url(app, owner.actor_id).await?;
    let author_inbox = match c.account_id {
        Some(a) => match accounts::get(&app.db, flotilla_domain::AccountId(a)).await? {
            Some(acc) if acc.user_id.is_none() => actors::get(&app.db, acc.actor_id).await?.map(|a| a.inbox),
            _ => None,
        },
        None => None,
    };
    let approve = approval(app, &v, &c, &owner_url).await?;
    let mut tx = app.db.begin().await?;
    if let Some(activity) = comments::take_held_activity(&mut tx, c.id).await? {
        match serde_json::from_str::<Value>(&activity) {
            Ok(activity) => forward_in(app, &mut tx, &v, &activity).await?,
            Err(e) => {
                tracing::warn!(comment = c.id, error = %e, "a held comment's activity is not JSON; not passed on")
            }
        }
    }
    if let Some(inbox) = author_inbox {
        delivery::enqueue(&mut tx, owner.actor_id, &approve, &[inbox]).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(comment = c.id, "remote comment approved and passed on");
    Ok(())
}

/// PeerTube's `ApproveReply` of comment `c` under our video `v`, from the video's account
/// (`owner_url`), as its sample has it.
async fn approval(app: &App, v: &videos::Video, c: &Comment, owner_url: &str) -> Result<Value> {
    let in_reply_to = match c.in_reply_to {
        Some(p) => match comments::get(&app.db, p).await? {
            Some(parent) => crate::comment::url(app, v, &parent),
            None => uris::video(app, &v.uuid),
        },
        None => uris::video(app, &v.uuid),
    };
    Ok(json!({
        "@context": [
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/v1",
            { "RsaSignature2017": "https://w3id.org/security#RsaSignature2017" },
            { "pt": "https://joinpeertube.org/ns#", "sc": "http://schema.org/", "ApproveReply": "pt:ApproveReply" }
        ],
        "type": "ApproveReply",
        "id": format!("{}/comments/{}/approve-reply", uris::video(app, &v.uuid), c.id),
        "actor": owner_url,
        "inReplyTo": in_reply_to,
        "object": crate::comment::url(app, v, c),
    }))
}

/// `GET /videos/watch/{uuid}/comments/{id}/approve-reply`: the approval of a comment under one of
/// our videos (what a `replyApproval` names), while the comment is visible.
pub async fn approval_document(app: &App, uuid: &str, id: i64) -> Result<Value> {
    let v = videos::get_by_uuid(&app.db, uuid).await?.ok_or_else(|| Error::not_found("approval"))?;
    let c = comments::get(&app.db, id)
        .await?
        .filter(|c| v.is_local() && ap::federates(app, &v) && c.video_id == v.id && !c.held && c.deleted_at.is_none())
        .ok_or_else(|| Error::not_found("approval"))?;
    let channel = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id))
        .await?
        .ok_or_else(|| Error::not_found("channel"))?;
    let owner = accounts::get(&app.db, channel.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    let owner_url = super::local_actor_url(app, owner.actor_id).await?;
    approval(app, &v, &c, &owner_url).await
}

/// PeerTube's `ApproveReply`: the server of a video approved a comment of ours under it (held
/// there, the video asking for approval). The comment is sent again with `replyApproval`, as
/// PeerTube's own servers do, for the video's server to pass on to its followers. Only the
/// video's server may approve; anything else about our comments is refused.
pub async fn on_approve_reply(app: &App, signer: &RemoteActor, activity: &Value) -> Result<()> {
    let object =
        activity.get("object").and_then(remote::id_of).ok_or_else(|| invalid("ApproveReply needs an object"))?;
    let approval = activity.get("id").and_then(Value::as_str).ok_or_else(|| invalid("ApproveReply needs an id"))?;
    if approval.len() > 2048 {
        return Err(invalid("an approval's id is at most 2048 bytes"));
    }
    if remote::host(approval).as_deref() != Some(signer.host.as_str()) {
        return Err(Error::Forbidden("an approval's id must be on its sender's server".into()));
    }
    let (v, c) = match target(app, object).await {
        Ok(Some(Target::Comment(v, c))) => (v, c),
        Ok(_) | Err(Error::NotFound(_)) => {
            tracing::debug!(object, "an approval of a comment we do not have; ignored");
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let video_server = v.remote_url.as_deref().and_then(remote::host);
    if c.url.is_some() || video_server.as_deref() != Some(signer.host.as_str()) {
        return Err(Error::Forbidden("only the video's server approves a comment of ours".into()));
    }
    // Sent again by a job (its mentions may need WebFinger): the inbox answers at once.
    let mut tx = app.db.begin().await?;
    let event = crate::events::Event::CommentReplyApproved { comment_id: c.id, approval: approval.to_string() };
    crate::events::record(&mut tx, event).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// [`crate::events::Event::CommentReplyApproved`]: our comment, sent again with the approval.
pub async fn reply_approved(app: &App, comment_id: i64, approval: &str) -> Result<()> {
    let Some(c) = comments::get(&app.db, comment_id).await? else { return Ok(()) };
    if c.deleted_at.is_some() || c.url.is_some() {
        return Ok(());
    }
    let Some(v) = videos::get(&app.db, c.video_id).await? else { return Ok(()) };
    send_create(app, &v, &c, Some(approval)).await
}

/// [`crate::events::Event::CommentDeleted`]: the `Delete` of a comment's URL, from the local actor
/// that removed it, to those who heard of it.
pub async fn deleted(app: &App, comment_id: i64, url: &str, actor_id: i64) -> Result<()> {
    let Some(c) = comments::get(&app.db, comment_id).await? else { return Ok(()) };
    let Some(v) = videos::get(&app.db, c.video_id).await? else { return Ok(()) };
    if v.is_local() && !ap::federates(app, &v) {
        return Ok(());
    }
    let actor_url = super::local_actor_url(app, actor_id).await?;
    let inboxes = audience(app, &v, &c).await?;
    let mut inboxes = inboxes;
    inboxes.extend(follows::follower_inboxes(&app.db, &[actor_id]).await?);
    if inboxes.is_empty() {
        return Ok(());
    }
    let activity = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "to": [ap::PUBLIC],
        "cc": [format!("{actor_url}/followers")],
        "type": "Delete",
        "id": format!("{url}/delete"),
        "actor": actor_url,
        "object": url,
    });
    let mut tx = app.db.begin().await?;
    delivery::enqueue(&mut tx, actor_id, &activity, &inboxes).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// Whether an activity's object is a comment-like post (`Note`; Lemmy's comments are too).
pub fn is_note(object: &Value) -> bool {
    matches!(object.get("type").and_then(Value::as_str), Some("Note"))
}

/// What a received comment answers.
enum Target {
    Video(videos::Video),
    Comment(videos::Video, Comment),
}

/// The video or comment an `inReplyTo` names, if we have it. A URL of ours that names nothing
/// other servers may see is not found (a private or unknown video, a held comment).
async fn target(app: &App, url: &str) -> Result<Option<Target>> {
    let ours = uris::video(app, "");
    if let Some(rest) = url.strip_prefix(&ours) {
        let (uuid, comment) = match rest.split_once("/comments/") {
            Some((u, c)) => (u, Some(c.parse::<i64>().map_err(|_| Error::not_found("comment"))?)),
            None => (rest, None),
        };
        if uuid.is_empty() || uuid.contains('/') {
            return Err(Error::not_found("video"));
        }
        let v = videos::get_by_uuid(&app.db, uuid).await?.ok_or_else(|| Error::not_found("video"))?;
        let visible = if v.is_local() { ap::federates(app, &v) } else { v.privacy == crate::video::PRIVACY_PUBLIC };
        if !visible {
            return Err(Error::not_found("video"));
        }
        return Ok(Some(match comment {
            None if v.is_local() => Target::Video(v),
            None => return Ok(None),
            Some(id) => {
                let c = comments::get(&app.db, id)
                    .await?
                    .filter(|c| c.video_id == v.id && c.url.is_none() && !c.held)
                    .ok_or_else(|| Error::not_found("comment"))?;
                Target::Comment(v, c)
            }
        }));
    }
    if let Some(v) = videos::get_by_remote_url(&app.db, url).await? {
        return Ok(Some(Target::Video(v)));
    }
    if let Some(c) = comments::get_by_url(&app.db, url).await?.filter(|c| !c.held) {
        let v = videos::get(&app.db, c.video_id).await?.ok_or_else(|| Error::not_found("video"))?;
        return Ok(Some(Target::Comment(v, c)));
    }
    Ok(None)
}

/// A remote `Note`'s text: PeerTube's is Markdown source (`mediaType: text/markdown`) kept as it
/// is; anything else (Mastodon, Misskey, Lemmy) is HTML, made plain text here.
fn note_text(object: &Value) -> Result<String> {
    let content = object.get("content").and_then(Value::as_str).unwrap_or_default();
    if content.len() > MAX_CONTENT_BYTES {
        return Err(invalid("the comment's content is too long"));
    }
    let text = if object.get("mediaType").and_then(Value::as_str) == Some("text/markdown") {
        content.to_string()
    } else {
        crate::text::html_to_text(content)
    };
    crate::comment::check_text(&text)
        .map_err(|_| invalid("the comment's text is empty, too long or has control characters"))
}

/// The account row of a remote author (made on first comment, or first report).
pub(crate) async fn author_account(actor: &RemoteActor, tx: &mut flotilla_db::Tx) -> Result<i64> {
    if let Some(a) = accounts::get_by_actor(&mut *tx, actor.id).await? {
        return Ok(a.id);
    }
    let name = actor.display_name.as_deref().unwrap_or(&actor.name);
    Ok(accounts::insert(&mut *tx, actor.id, None, name, now_ms()).await?.0)
}

/// `Create` or `Update` of a `Note` by `signer`. `forward`: the activity as received, passed on to
/// the followers of our video when the comment is on one (only one sent by its own author).
pub async fn receive(
    app: &App,
    signer: &RemoteActor,
    kind: &str,
    object: &Value,
    forward: Option<&Value>,
) -> Result<()> {
    let id = object.get("id").and_then(Value::as_str).ok_or_else(|| invalid("the Note has no id"))?;
    if id.len() > 2048 || remote::host(id).as_deref() != Some(signer.host.as_str()) {
        return Err(Error::Forbidden("a comment's id must be on its author's server".into()));
    }
    let by = object.get("attributedTo").and_then(remote::id_of).unwrap_or_default();
    if by != signer.url {
        return Err(Error::Forbidden("a comment is sent by its author only".into()));
    }
    if let Some(existing) = comments::get_by_url(&app.db, id).await? {
        // Sent again (a retry, or a `Create` after we fetched it) or edited: its author only.
        let author = match existing.account_id {
            Some(a) => accounts::get(&app.db, flotilla_domain::AccountId(a)).await?.map(|a| a.actor_id),
            None => None,
        };
        if author != Some(signer.id) {
            return Err(Error::Forbidden("only its author can change a comment".into()));
        }
        if kind == "Update" {
            let text = note_text(object)?;
            // The edit and its forward to our video's followers, together.
            let mut tx = app.db.begin().await?;
            comments::set_text(&mut tx, existing.id, &text, now_ms()).await?;
            if !existing.held
                && let Some(activity) = forward
                && let Some(v) = videos::get(&mut tx, existing.video_id).await?
            {
                forward_in(app, &mut tx, &v, activity).await?;
            }
            tx.commit().await?;
            app.wake_jobs();
        }
        return Ok(());
    }
    let Some(reply_to) = object.get("inReplyTo").and_then(remote::id_of) else {
        // A post that answers nothing: not a comment.
        return Ok(());
    };
    let Some(target) = target(app, reply_to).await? else {
        tracing::debug!(note = id, reply_to, "a reply to something we do not have; ignored");
        return Ok(());
    };
    let text = note_text(object)?;
    let (v, parent) = match target {
        Target::Video(v) => (v, None),
        Target::Comment(v, c) => (v, Some(c)),
    };
    if !v.comments_enabled {
        return Err(Error::Forbidden("comments are disabled for this video".into()));
    }
    if parent.as_ref().is_some_and(|p| p.deleted_at.is_some()) && v.is_local() {
        return Err(Error::Forbidden("this comment was deleted: it cannot be answered".into()));
    }
    let published = object
        .get("published")
        .and_then(Value::as_str)
        .and_then(|s| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok())
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .filter(|t| *t > 0 && *t <= now_ms())
        .unwrap_or_else(now_ms);
    let tagging = crate::auto_tags::tag(app, &text, crate::comment::video_owner_account(app, &v).await?).await?;
    let held = v.is_local() && (v.comments_held || tagging.review);
    let mut tx = app.db.begin().await?;
    let account_id = author_account(signer, &mut tx).await?;
    let inserted = comments::insert(
        &mut tx,
        &NewComment {
            video_id: v.id,
            thread_id: parent.as_ref().map(Comment::thread),
            in_reply_to: parent.as_ref().map(|p| p.id),
            account_id,
            url: Some(id),
            text: &text,
            held,
            created_at: published,
            now: now_ms(),
        },
    )
    .await;
    let comment_id = match inserted {
        Ok(id) => id,
        // The same comment from two deliveries at once: the other one stored it.
        Err(flotilla_db::Error::Conflict(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    crate::auto_tags::record(&mut tx, comment_id, &tagging).await?;
    crate::events::record(&mut tx, crate::events::Event::CommentCreated { comment_id }).await?;
    if let Some(activity) = forward {
        if held {
            // Passed on when the owner approves it (`approved`).
            comments::set_held_activity(&mut tx, comment_id, &activity.to_string()).await?;
        } else {
            forward_in(app, &mut tx, &v, activity).await?;
        }
    }
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(comment = id, video = %v.uuid, held, "remote comment stored");
    Ok(())
}

/// Passes an activity about a comment on our video `v` to the video's followers, signed by the
/// instance actor, in the caller's transaction.
async fn forward_in(app: &App, tx: &mut flotilla_db::Tx, v: &videos::Video, activity: &Value) -> Result<()> {
    if !v.is_local() || !ap::federates(app, v) {
        return Ok(());
    }
    let channel = channels::get(&mut *tx, flotilla_domain::ChannelId(v.channel_id))
        .await?
        .ok_or_else(|| Error::not_found("channel"))?;
    let owner = accounts::get(&mut *tx, channel.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    // Read in the transaction: a second connection taken while this one holds SQLite's write lock
    // can wait on a pool that requests queued behind that lock have emptied.
    let instance = accounts::local_actor_id(&mut *tx, "Application", ap::INSTANCE_ACTOR)
        .await?
        .ok_or_else(|| Error::not_found("instance actor"))?;
    let sender = activity.get("actor").and_then(remote::id_of).and_then(remote::host);
    let inboxes: Vec<String> = follows::follower_inboxes(&mut *tx, &[owner.actor_id, channel.actor_id, instance])
        .await?
        .into_iter()
        .filter(|i| remote::host(i) != sender)
        .collect();
    delivery::enqueue(tx, instance, activity, &inboxes).await
}

/// `Delete` of a comment we have, by URL: by its author, or by the server of the video it is
/// under. `Ok(false)`: no comment of that URL (the caller looks for a video).
pub async fn delete(app: &App, signer: &RemoteActor, url: &str, forward: Option<&Value>) -> Result<bool> {
    let Some(c) = comments::get_by_url(&app.db, url).await? else { return Ok(false) };
    if c.deleted_at.is_some() {
        return Ok(true);
    }
    let v = videos::get(&app.db, c.video_id).await?.ok_or_else(|| Error::not_found("video"))?;
    let author = match c.account_id {
        Some(a) => accounts::get(&app.db, flotilla_domain::AccountId(a)).await?.map(|a| a.actor_id),
        None => None,
    };
    let video_server = v.remote_url.as_deref().and_then(remote::host);
    if author != Some(signer.id) && video_server.as_deref() != Some(signer.host.as_str()) {
        return Err(Error::Forbidden("only its author or the video's server can delete a comment".into()));
    }
    let mut tx = app.db.begin().await?;
    comments::mark_deleted(&mut tx, c.id, now_ms()).await?;
    if !c.held
        && let Some(activity) = forward
    {
        forward_in(app, &mut tx, &v, activity).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(comment = url, "remote comment deleted");
    Ok(true)
}

/// An activity about a comment sent by a server that is not its author's (PeerTube forwards the
/// comments on its videos this way): not trusted as sent; the comment is fetched from its
/// origin, and what the origin says is applied — its `Note` stored or updated, or, gone (404,
/// 410, a `Tombstone`), its deletion.
pub async fn check_at_origin(app: &App, kind: &str, activity: &Value) -> Result<()> {
    let object = activity.get("object").unwrap_or(&Value::Null);
    let url = remote::id_of(object).ok_or_else(|| invalid("the activity names no object"))?;
    let actor = activity.get("actor").and_then(remote::id_of).unwrap_or_default();
    if remote::host(url).is_none() || remote::host(url) != remote::host(actor) {
        return Err(Error::Forbidden("the comment is not on its author's server".into()));
    }
    let signer = super::instance_signer(app).await?;
    let fetched = app.fetcher.get_ap(url, Some(&signer)).await;
    let doc = match fetched {
        Ok(doc) => Some(doc),
        Err(flotilla_federation::fetch::FetchError::Status(_, 404 | 410)) => None,
        Err(e) => return Err(remote::fetch_error(e)),
    };
    let gone = doc.as_ref().is_none_or(|d| d["type"] == "Tombstone");
    if kind == "Delete" || gone {
        if !gone {
            return Ok(());
        }
        let Some(c) = comments::get_by_url(&app.db, url).await? else { return Ok(()) };
        let author = match c.account_id {
            Some(a) => accounts::get(&app.db, flotilla_domain::AccountId(a)).await?,
            None => None,
        };
        if let Some(author) = author.and_then(|a| a.url)
            && let Some(who) = actors::get_by_url(&app.db, &author).await?
        {
            delete(app, &who, url, None).await?;
        }
        return Ok(());
    }
    let doc = doc.unwrap_or_default();
    if doc.get("id").and_then(Value::as_str) != Some(url) || !is_note(&doc) {
        return Err(invalid("the origin does not answer this comment"));
    }
    let by = doc.get("attributedTo").and_then(remote::id_of).unwrap_or_default().to_string();
    if remote::host(&by) != remote::host(url) {
        return Err(Error::Forbidden("the comment's author is on another server".into()));
    }
    let author = remote::actor(app, &by).await?;
    receive(app, &author, if kind == "Update" { "Update" } else { "Create" }, &doc, None).await
}
