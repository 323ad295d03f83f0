//! Notifications: what concerns a user, in PeerTube's shapes and type numbers. A subscriber of
//! the events (`on_event`, run by the event's job beside federation's part): a new video of a
//! channel one follows (1), a comment on one's video (2, held ones too), a reply to one's comment
//! or a mention (11), a new follower of one's channel or account (10), one's video published (6),
//! a new abuse report for moderators (3), a change of state of one's report (15), a message about
//! a report (16: to its reporter from the moderators, to the moderators from its reporter).
//! Each is stored once per user, type and subject (an event's job that runs twice tells once),
//! when the user's setting for its type has the web bit, and announced on `App::notifications`
//! for the live stream; with the e-mail bit (and `[smtp]`), an e-mail is queued in the same
//! transaction as the row (once per row; with e-mail alone, once per event's run).

use flotilla_db::notifications::{self, Notification};
use flotilla_db::{accounts, channels, comments, follows, videos};
use flotilla_domain::time::{iso8601, now_ms};
use serde_json::{Map, Value, json};

use crate::auth::AuthUser;
use crate::events::Event;
use crate::{App, Error, Result};

pub const NEW_VIDEO_FROM_SUBSCRIPTION: i64 = 1;
pub const NEW_COMMENT_ON_MY_VIDEO: i64 = 2;
pub const NEW_ABUSE_FOR_MODERATORS: i64 = 3;
pub const BLACKLIST_ON_MY_VIDEO: i64 = 4;
pub const UNBLACKLIST_ON_MY_VIDEO: i64 = 5;
pub const MY_VIDEO_PUBLISHED: i64 = 6;
pub const NEW_FOLLOW: i64 = 10;
pub const COMMENT_MENTION: i64 = 11;
pub const VIDEO_AUTO_BLACKLIST_FOR_MODERATORS: i64 = 12;
pub const ABUSE_STATE_CHANGE: i64 = 15;
pub const ABUSE_NEW_MESSAGE: i64 = 16;

/// PeerTube's settings, with its defaults (1 web, 2 e-mail, 3 both), and the type each governs
/// (`None`: a type this instance never produces yet, kept so clients can set it).
const SETTINGS: &[(&str, i64, Option<i64>)] = &[
    ("newVideoFromSubscription", 1, Some(NEW_VIDEO_FROM_SUBSCRIPTION)),
    ("newCommentOnMyVideo", 1, Some(NEW_COMMENT_ON_MY_VIDEO)),
    ("abuseAsModerator", 3, Some(NEW_ABUSE_FOR_MODERATORS)),
    ("videoAutoBlacklistAsModerator", 3, Some(VIDEO_AUTO_BLACKLIST_FOR_MODERATORS)),
    ("blacklistOnMyVideo", 3, Some(BLACKLIST_ON_MY_VIDEO)),
    ("myVideoPublished", 1, Some(MY_VIDEO_PUBLISHED)),
    ("myVideoImportFinished", 1, None),
    ("newUserRegistration", 1, None),
    ("commentMention", 1, Some(COMMENT_MENTION)),
    ("newFollow", 1, Some(NEW_FOLLOW)),
    ("newInstanceFollower", 1, None),
    ("autoInstanceFollowing", 1, None),
    ("abuseNewMessage", 3, Some(ABUSE_NEW_MESSAGE)),
    ("abuseStateChange", 3, Some(ABUSE_STATE_CHANGE)),
    ("newPeerTubeVersion", 3, None),
    ("myVideoStudioEditionFinished", 1, None),
    ("myVideoTranscriptionGenerated", 1, None),
    ("newPluginVersion", 1, None),
];

/// A user's settings: the defaults, with what they changed.
pub async fn settings(app: &App, user_id: i64) -> Result<Value> {
    let stored: Map<String, Value> = match notifications::settings(&app.db, user_id).await? {
        Some(s) => serde_json::from_str(&s).unwrap_or_default(),
        None => Map::new(),
    };
    let mut out = Map::new();
    for (key, default, _) in SETTINGS {
        let v = stored.get(*key).and_then(Value::as_i64).filter(|v| (0..=3).contains(v)).unwrap_or(*default);
        out.insert(key.to_string(), json!(v));
    }
    Ok(Value::Object(out))
}

/// `PUT /api/v1/users/me/notification-settings`: any of PeerTube's keys, each 0 to 3.
pub async fn update_settings(app: &App, who: &AuthUser, body: &Value) -> Result<()> {
    let Some(fields) = body.as_object() else {
        return Err(Error::invalid("body", "the settings are a JSON object"));
    };
    let mut now = match settings(app, who.user.id).await? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut errors = Vec::new();
    for (k, v) in fields {
        if !SETTINGS.iter().any(|(key, _, _)| key == k) {
            errors.push(flotilla_domain::FieldError { field: k.clone(), msg: "not a notification setting".into() });
            continue;
        }
        match v.as_i64().filter(|v| (0..=3).contains(v)) {
            Some(v) => {
                now.insert(k.clone(), json!(v));
            }
            None => errors.push(flotilla_domain::FieldError {
                field: k.clone(),
                msg: "must be 0 (none), 1 (web), 2 (e-mail) or 3 (both)".into(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    notifications::set_settings(&app.db, who.user.id, &Value::Object(now).to_string(), now_ms()).await?;
    Ok(())
}

/// How `user_id` wants notifications of `kind`: (on the web, by e-mail).
async fn wants(app: &App, user_id: i64, kind: i64) -> Result<(bool, bool)> {
    let s = settings(app, user_id).await?;
    // One setting governs both (PeerTube's `blacklistOnMyVideo`).
    let kind = if kind == UNBLACKLIST_ON_MY_VIDEO { BLACKLIST_ON_MY_VIDEO } else { kind };
    let key = SETTINGS.iter().find(|(_, _, t)| *t == Some(kind)).map(|(k, _, _)| *k);
    let v = key.and_then(|k| s[k].as_i64()).unwrap_or(0);
    Ok((v & 1 == 1, v & 2 == 2 && crate::mail::enabled(app)))
}

/// Tells `user_id` about `subject`, once.
async fn notify(app: &App, user_id: i64, kind: i64, subject: &str, payload: Value) -> Result<()> {
    let (web, email) = wants(app, user_id, kind).await?;
    if !web && !email {
        return Ok(());
    }
    let mut tx = app.db.begin().await?;
    let id = if web {
        notifications::insert(&mut tx, user_id, kind, subject, &payload.to_string(), now_ms()).await?
    } else {
        None
    };
    // Once with the row it goes with; without one (e-mail only), once per run of the event.
    if email
        && (id.is_some() || !web)
        && let Some(u) = flotilla_db::users::get(&mut tx, flotilla_domain::UserId(user_id)).await?
    {
        let (title, text) = email_text(app, kind, &payload).await?;
        crate::mail::queue(&mut tx, app, &u.email, &title, &text).await?;
    }
    tx.commit().await?;
    if email {
        app.wake_jobs();
    }
    if let Some(id) = id {
        // Nobody listening is fine: the stream only spares the web client a reload.
        let _ = app.notifications.send((user_id, id));
    }
    Ok(())
}

/// The subject and text of a notification's e-mail.
async fn email_text(app: &App, kind: i64, payload: &Value) -> Result<(String, String)> {
    let site = app.settings().name.clone();
    let base = app.public.base();
    let video =
        payload.pointer("/video/name").or_else(|| payload.pointer("/comment/video/name")).and_then(Value::as_str);
    let what = match kind {
        NEW_VIDEO_FROM_SUBSCRIPTION => "A channel you follow published a new video",
        NEW_COMMENT_ON_MY_VIDEO => "New comment on your video",
        NEW_ABUSE_FOR_MODERATORS => "New report to moderate",
        BLACKLIST_ON_MY_VIDEO => "Your video was blocked by the moderators",
        UNBLACKLIST_ON_MY_VIDEO => "Your video was unblocked",
        MY_VIDEO_PUBLISHED => "Your video is published",
        NEW_FOLLOW => "You have a new follower",
        COMMENT_MENTION => "Someone replied to you or mentioned you",
        VIDEO_AUTO_BLACKLIST_FOR_MODERATORS => "A new video waits for review",
        ABUSE_STATE_CHANGE => "Your report was answered",
        ABUSE_NEW_MESSAGE => "New message about a report",
        _ => "New notification",
    };
    let subject = match video {
        Some(v) => format!("{site}: {what}: {v}"),
        None => format!("{site}: {what}"),
    };
    let mut text = what.to_string();
    if let Some(v) = video {
        text += &format!(": {v}");
    }
    // What was said (the notification names the comment; its words are in the row).
    let said = match payload.pointer("/comment/id").and_then(Value::as_i64) {
        Some(id) => comments::get(&app.db, id).await?.filter(|c| c.deleted_at.is_none()).map(|c| c.text),
        None => payload.pointer("/abuse/message").and_then(Value::as_str).map(str::to_string),
    };
    if let Some(m) = said {
        text += &format!("\n\n{}", crate::text::html_to_text(&m).chars().take(2000).collect::<String>());
    }
    if let Some(uuid) = payload.pointer("/video/shortUUID").and_then(Value::as_str) {
        text += &format!("\n\n{base}/w/{uuid}");
    }
    text += &format!(
        "\n\nAll your notifications: {base}/my-account/notifications\nChoose which ones reach you by e-mail: {base}/my-account/settings\n"
    );
    Ok((subject, text))
}

/// A video as notifications show it.
async fn video_payload(app: &App, v: &videos::Video) -> Result<Value> {
    let c = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id)).await?;
    let channel = match c {
        Some(c) => {
            let host = if c.host.is_empty() { app.public.host.clone() } else { c.host.clone() };
            json!({ "id": c.id, "name": c.name, "displayName": c.display_name, "host": host, "avatars": [] })
        }
        None => Value::Null,
    };
    Ok(json!({ "id": v.id, "uuid": v.uuid, "shortUUID": v.short_uuid, "name": v.name, "channel": channel }))
}

fn account_payload(app: &App, a: &accounts::Account) -> Value {
    let host = if a.host.is_empty() { app.public.host.clone() } else { a.host.clone() };
    json!({ "id": a.id, "displayName": a.display_name, "name": a.name, "host": host, "avatars": [] })
}

/// The local users following actor `actor_id` (a channel's subscribers).
async fn local_followers(app: &App, actor_id: i64) -> Result<Vec<i64>> {
    Ok(follows::local_follower_users(&app.db, actor_id).await?)
}

/// The notifications' part in what happened.
pub async fn on_event(app: &App, event: &Event) -> Result<()> {
    match event {
        Event::VideoPublished { video_id } => {
            let Some(v) = videos::get(&app.db, *video_id).await? else { return Ok(()) };
            let payload = json!({ "video": video_payload(app, &v).await? });
            if let Some(owner) = crate::video::owner_user(app, &v).await? {
                notify(app, owner, MY_VIDEO_PUBLISHED, &format!("video:{}", v.id), payload.clone()).await?;
            }
            if v.blocked != 0 {
                // Held for review: the moderators hear of it; its subscribers once it is let through.
                let block = json!({ "videoBlacklist": { "id": v.id, "video": video_payload(app, &v).await? } });
                for user in flotilla_db::users::moderators(&app.db).await? {
                    let subject = format!("video-held:{}", v.id);
                    notify(app, user, VIDEO_AUTO_BLACKLIST_FOR_MODERATORS, &subject, block.clone()).await?;
                }
                return Ok(());
            }
            if v.privacy == crate::video::PRIVACY_PUBLIC {
                new_video_for_subscribers(app, &v, payload, &format!("video:{}", v.id)).await?;
            }
            Ok(())
        }
        Event::LiveStarted { video_id, session_id, .. } => {
            let Some(v) = videos::get(&app.db, *video_id).await? else { return Ok(()) };
            if v.blocked != 0 || v.privacy != crate::video::PRIVACY_PUBLIC {
                return Ok(());
            }
            let payload = json!({ "video": video_payload(app, &v).await? });
            new_video_for_subscribers(app, &v, payload, &format!("live:{}:{session_id}", v.id)).await
        }
        Event::RemoteVideoPublished { video_id } => {
            let Some(v) = videos::get(&app.db, *video_id).await? else { return Ok(()) };
            let payload = json!({ "video": video_payload(app, &v).await? });
            new_video_for_subscribers(app, &v, payload, &format!("video:{}", v.id)).await
        }
        Event::CommentCreated { comment_id } => comment_created(app, *comment_id, false).await,
        Event::CommentApproved { comment_id } => comment_created(app, *comment_id, true).await,
        Event::ActorFollowed { follow_id } => followed(app, *follow_id).await,
        Event::AbuseCreated { abuse_id } => abuse_created(app, *abuse_id).await,
        Event::VideoBlocked { video_id, at, .. } => block_changed(app, *video_id, true, false, *at).await,
        Event::VideoUnblocked { video_id, auto, at, .. } => block_changed(app, *video_id, false, *auto, *at).await,
        Event::AbuseStateChanged { abuse_id, .. } => abuse_changed(app, *abuse_id).await,
        Event::AbuseMessaged { message_id } => abuse_messaged(app, *message_id).await,
        Event::VideoUpdated { .. }
        | Event::VideoDeleted(_)
        | Event::ActorUpdated { .. }
        | Event::VideoRated { .. }
        | Event::CommentDeleted { .. }
        | Event::ActorDeleted(_)
        | Event::CommentReplyApproved { .. }
        | Event::PlaylistChanged { .. }
        | Event::PlaylistDeleted { .. }
        | Event::RemoteViewer { .. } => Ok(()),
    }
}

/// `subject`: what makes the notification one of a kind (a video; a live's session).
async fn new_video_for_subscribers(app: &App, v: &videos::Video, payload: Value, subject: &str) -> Result<()> {
    let Some(c) = channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id)).await? else { return Ok(()) };
    let owner = crate::video::owner_user(app, v).await?;
    for user in local_followers(app, c.actor_id).await? {
        if Some(user) != owner && !crate::blocklist::hides(app, Some(user), c.account_id).await? {
            notify(app, user, NEW_VIDEO_FROM_SUBSCRIPTION, subject, payload.clone()).await?;
        }
    }
    Ok(())
}

/// A comment appeared (`approved`: a held one was let through): its video's owner hears of it
/// (held ones too: they wait for them); the author of the comment it answers and the local
/// accounts it mentions hear of it once it is visible.
async fn comment_created(app: &App, comment_id: i64, approved: bool) -> Result<()> {
    let Some(c) = comments::get(&app.db, comment_id).await? else { return Ok(()) };
    if c.deleted_at.is_some() {
        return Ok(());
    }
    let Some(v) = videos::get(&app.db, c.video_id).await? else { return Ok(()) };
    let author = match c.account_id {
        Some(a) => accounts::get(&app.db, flotilla_domain::AccountId(a)).await?,
        None => None,
    };
    let Some(author) = author else { return Ok(()) };
    let mut video = video_payload(app, &v).await?;
    video.as_object_mut().map(|o| o.remove("channel"));
    let payload = json!({ "comment": {
        "id": c.id, "threadId": c.thread(), "account": account_payload(app, &author), "video": video,
        "heldForReview": c.held,
    }});
    let subject = format!("comment:{}", c.id);
    let owner = crate::video::owner_user(app, &v).await?;
    let mut told: Vec<i64> = author.user_id.into_iter().collect();
    // Nobody hears of what an account they mute (or the instance blocks) says.
    let hidden_from = |user: i64| crate::blocklist::hides(app, Some(user), author.id);
    if !approved
        && let Some(owner) = owner
        && !told.contains(&owner)
        && !hidden_from(owner).await?
    {
        notify(app, owner, NEW_COMMENT_ON_MY_VIDEO, &subject, payload.clone()).await?;
        told.push(owner);
    }
    if c.held {
        return Ok(());
    }
    let mut concerned = Vec::new();
    if let Some(parent) = c.in_reply_to
        && let Some(p) = comments::get(&app.db, parent).await?
        && let Some(a) = p.account_id
        && let Some(acc) = accounts::get(&app.db, flotilla_domain::AccountId(a)).await?
        && let Some(u) = acc.user_id
    {
        concerned.push(u);
    }
    for (name, host) in crate::comment::mentions(&c.text) {
        if host.as_deref().is_some_and(|h| h != app.public.host) {
            continue;
        }
        if let Some(acc) = accounts::get_local_by_name(&app.db, &name).await?
            && let Some(u) = acc.user_id
        {
            concerned.push(u);
        }
    }
    for user in concerned {
        if !told.contains(&user) && !hidden_from(user).await? {
            notify(app, user, COMMENT_MENTION, &subject, payload.clone()).await?;
            told.push(user);
        }
    }
    Ok(())
}

/// Someone follows one of our channels or accounts: its owner hears of it.
async fn followed(app: &App, follow_id: i64) -> Result<()> {
    let Some(f) = follows::get(&app.db, follow_id).await? else { return Ok(()) };
    let Some((kind, name)) = accounts::local_actor(&app.db, f.target_id).await? else { return Ok(()) };
    let (owner, following) = match kind.as_str() {
        "Group" => {
            let Some(c) = channels::get_by_actor(&app.db, f.target_id).await? else { return Ok(()) };
            let user = accounts::get(&app.db, c.owner()).await?.and_then(|a| a.user_id);
            (user, json!({ "type": "channel", "displayName": c.display_name, "name": name, "host": app.public.host }))
        }
        "Person" => {
            let Some(a) = accounts::get_by_actor(&app.db, f.target_id).await? else { return Ok(()) };
            (
                a.user_id,
                json!({ "type": "account", "displayName": a.display_name, "name": name, "host": app.public.host }),
            )
        }
        _ => return Ok(()),
    };
    let Some(owner) = owner else { return Ok(()) };
    let follower = match accounts::get_by_actor(&app.db, f.follower_id).await? {
        Some(a) => account_payload(app, &a),
        None => match flotilla_db::actors::get(&app.db, f.follower_id).await? {
            Some(r) => {
                json!({ "displayName": r.display_name.unwrap_or(r.name.clone()), "name": r.name, "host": r.host, "avatars": [] })
            }
            None => return Ok(()),
        },
    };
    if let Some(a) = accounts::get_by_actor(&app.db, f.follower_id).await?
        && (a.user_id == Some(owner) || crate::blocklist::hides(app, Some(owner), a.id).await?)
    {
        return Ok(());
    }
    let payload =
        json!({ "actorFollow": { "id": f.id, "state": f.state, "follower": follower, "following": following } });
    notify(app, owner, NEW_FOLLOW, &format!("follow:{}", f.id), payload).await
}

/// A report as notifications show it (api-notifications.json: its id, state and what it is about).
async fn abuse_payload(app: &App, a: &flotilla_db::abuses::Abuse) -> Result<Value> {
    let mut out = json!({ "id": a.id, "state": a.state });
    let video = match a.video_id {
        Some(id) => videos::get(&app.db, id).await?,
        None => None,
    };
    let video_json =
        video.as_ref().map(|v| json!({ "id": v.id, "uuid": v.uuid, "shortUUID": v.short_uuid, "name": v.name }));
    match a.kind.as_str() {
        "video" => out["video"] = json!(video_json),
        "comment" => {
            let c = match a.comment_id {
                Some(id) => comments::get(&app.db, id).await?,
                None => None,
            };
            let account = match c.as_ref().and_then(|c| c.account_id) {
                Some(acc) => {
                    accounts::get(&app.db, flotilla_domain::AccountId(acc)).await?.map(|a| account_payload(app, &a))
                }
                None => None,
            };
            out["comment"] = json!({
                "id": a.comment_id, "threadId": c.as_ref().map(|c| c.thread()), "account": account, "video": video_json,
            });
        }
        _ => {
            if let Some(id) = a.flagged_account_id
                && let Some(acc) = accounts::get(&app.db, flotilla_domain::AccountId(id)).await?
            {
                out["account"] = account_payload(app, &acc);
            }
        }
    }
    Ok(out)
}

/// The user behind a report's reporter, if local.
async fn reporter_user(app: &App, a: &flotilla_db::abuses::Abuse) -> Result<Option<i64>> {
    Ok(match a.reporter_account_id {
        Some(id) => accounts::get(&app.db, flotilla_domain::AccountId(id)).await?.and_then(|acc| acc.user_id),
        None => None,
    })
}

/// A video was blocked or unblocked: its owner hears of it (not of a held upload let through:
/// that is its publication, which its subscribers now hear of).
async fn block_changed(app: &App, video_id: i64, blocked: bool, auto: bool, at: i64) -> Result<()> {
    let Some(v) = videos::get(&app.db, video_id).await? else { return Ok(()) };
    let video = video_payload(app, &v).await?;
    if auto {
        if v.privacy == crate::video::PRIVACY_PUBLIC && v.state == crate::video::STATE_PUBLISHED {
            new_video_for_subscribers(app, &v, json!({ "video": video }), &format!("video:{}", v.id)).await?;
        }
        return Ok(());
    }
    let Some(owner) = crate::video::owner_user(app, &v).await? else { return Ok(()) };
    let (kind, subject) = if blocked {
        (BLACKLIST_ON_MY_VIDEO, format!("video-blocked:{}:{at}", v.id))
    } else {
        (UNBLACKLIST_ON_MY_VIDEO, format!("video-unblocked:{}:{at}", v.id))
    };
    notify(app, owner, kind, &subject, json!({ "videoBlacklist": { "id": v.id, "video": video } })).await
}

/// A new report: every moderator and administrator hears of it.
async fn abuse_created(app: &App, abuse_id: i64) -> Result<()> {
    let Some(a) = flotilla_db::abuses::get(&app.db, abuse_id).await? else { return Ok(()) };
    let payload = json!({ "abuse": abuse_payload(app, &a).await? });
    for user in flotilla_db::users::moderators(&app.db).await? {
        notify(app, user, NEW_ABUSE_FOR_MODERATORS, &format!("abuse:{}", a.id), payload.clone()).await?;
    }
    Ok(())
}

/// A report was accepted or rejected: its reporter, if ours, hears of it.
async fn abuse_changed(app: &App, abuse_id: i64) -> Result<()> {
    let Some(a) = flotilla_db::abuses::get(&app.db, abuse_id).await? else { return Ok(()) };
    let Some(user) = reporter_user(app, &a).await? else { return Ok(()) };
    let payload = json!({ "abuse": abuse_payload(app, &a).await? });
    notify(app, user, ABUSE_STATE_CHANGE, &format!("abuse-state:{}:{}", a.id, a.updated_at), payload).await
}

/// A message about a report: the reporter hears the moderators', the moderators the reporter's.
async fn abuse_messaged(app: &App, message_id: i64) -> Result<()> {
    let Some(m) = flotilla_db::abuses::get_message(&app.db, message_id).await? else { return Ok(()) };
    let Some(a) = flotilla_db::abuses::get(&app.db, m.abuse_id).await? else { return Ok(()) };
    let payload = json!({ "abuse": abuse_payload(app, &a).await? });
    let subject = format!("abuse-message:{}", m.id);
    let author = match m.account_id {
        Some(id) => accounts::get(&app.db, flotilla_domain::AccountId(id)).await?.and_then(|acc| acc.user_id),
        None => None,
    };
    let to: Vec<i64> = if m.by_moderator {
        reporter_user(app, &a).await?.into_iter().collect()
    } else {
        flotilla_db::users::moderators(&app.db).await?
    };
    for user in to {
        if Some(user) != author {
            notify(app, user, ABUSE_NEW_MESSAGE, &subject, payload.clone()).await?;
        }
    }
    Ok(())
}

/// A notification as PeerTube's API shows it.
pub fn view(n: &Notification) -> Value {
    let mut out = json!({
        "id": n.id,
        "type": n.kind,
        "read": n.is_read,
        "createdAt": iso8601(n.created_at),
        "updatedAt": iso8601(n.updated_at),
    });
    if let (Some(o), Ok(Value::Object(p))) = (out.as_object_mut(), serde_json::from_str::<Value>(&n.payload)) {
        for (k, v) in p {
            o.insert(k, v);
        }
    }
    out
}

/// `GET /api/v1/users/me/notifications` (`start`, `count`, `sort` `-createdAt`/`createdAt`,
/// `unread`).
pub async fn list(app: &App, who: &AuthUser, pairs: &[(String, String)]) -> Result<Value> {
    let get = |k: &str| pairs.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.trim());
    let num = |k: &str, d: i64| -> Result<i64> {
        match get(k) {
            Some(v) => v.parse::<i64>().map_err(|_| Error::invalid(k, format!("{k} must be a whole number"))),
            None => Ok(d),
        }
    };
    let (start, count) = (num("start", 0)?.max(0), num("count", 15)?.clamp(1, 100));
    let unread = matches!(get("unread"), Some("true" | "1"));
    let oldest_first = get("sort") == Some("createdAt");
    let (rows, total) = notifications::list(&app.db, who.user.id, unread, oldest_first, start, count).await?;
    Ok(json!({ "total": total, "data": rows.iter().map(view).collect::<Vec<_>>() }))
}

/// `POST /api/v1/users/me/notifications/read` (`{"ids": [...]}`).
pub async fn mark_read(app: &App, who: &AuthUser, ids: &[i64]) -> Result<()> {
    if ids.is_empty() || ids.len() > 500 {
        return Err(Error::invalid("ids", "give between 1 and 500 notification ids"));
    }
    if notifications::mark_read(&app.db, who.user.id, ids, now_ms()).await? > 0 {
        // Id 0 names no notification: the streams send the new unread count.
        let _ = app.notifications.send((who.user.id, 0));
    }
    Ok(())
}

/// `POST /api/v1/users/me/notifications/read-all`.
pub async fn mark_all_read(app: &App, who: &AuthUser) -> Result<()> {
    if notifications::mark_all_read(&app.db, who.user.id, now_ms()).await? > 0 {
        let _ = app.notifications.send((who.user.id, 0));
    }
    Ok(())
}

/// A notification for the live stream, if it is `user_id`'s.
pub async fn for_stream(app: &App, user_id: i64, id: i64) -> Result<Option<Value>> {
    Ok(notifications::get(&app.db, id).await?.filter(|n| n.user_id == user_id).map(|n| view(&n)))
}

/// How many unread notifications a user has (the bell's count).
pub async fn unread_count(app: &App, user_id: i64) -> Result<i64> {
    Ok(notifications::list(&app.db, user_id, true, false, 0, 1).await?.1)
}
