//! Abuse reports (PeerTube's `/api/v1/abuses`): a user reports a video (with the moment it shows
//! it), a comment or an account, with a reason and PeerTube's predefined reasons; moderators list,
//! answer (state, moderation comment) and delete reports; the reporter and the moderators exchange
//! messages. What each step causes is an event (`AbuseCreated`, `AbuseStateChanged`,
//! `AbuseMessaged`): notifications, and for a report about another server's content the `Flag` to
//! that server (`federation::flags`, which also receives theirs).
//!
//! Reports are bounded: a reason of 2 to 3,000 characters, at most 8 known predefined reasons,
//! `[rate_limits] reports` per reporting account (and per server for `Flag`s).

use flotilla_db::abuses::{self, Abuse, AbuseFilter, NewAbuse};
use flotilla_db::{accounts, comments, videos};
use flotilla_domain::time::{iso8601, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::events::{self, Event};
use crate::{App, Error, Result};

pub const PENDING: i64 = 1;
pub const REJECTED: i64 = 2;
pub const ACCEPTED: i64 = 3;

/// PeerTube's predefined reasons (`abusePredefinedReasonsMap`).
pub const REASONS: &[&str] = &[
    "violentOrRepulsive",
    "hatefulOrAbusive",
    "spamOrMisleading",
    "privacy",
    "rights",
    "serverRules",
    "thumbnails",
    "captions",
];

pub const MAX_REASON_CHARS: usize = 3000;

/// The body of `POST /api/v1/abuses`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewReport {
    pub reason: Option<String>,
    #[serde(default)]
    pub predefined_reasons: Vec<String>,
    pub video: Option<VideoRef>,
    pub comment: Option<IdRef>,
    pub account: Option<IdRef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoRef {
    /// A number, a UUID or a short UUID.
    pub id: Value,
    pub start_at: Option<i64>,
    pub end_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct IdRef {
    pub id: i64,
}

fn label(state: i64) -> &'static str {
    match state {
        REJECTED => "Rejected",
        ACCEPTED => "Accepted",
        _ => "Pending",
    }
}

/// A reason as written (trimmed, 2 to 3,000 characters).
pub fn check_reason(reason: &str, field: &str) -> Result<String> {
    let r = reason.trim();
    let n = r.chars().count();
    if !(2..=MAX_REASON_CHARS).contains(&n) {
        return Err(Error::invalid(field, format!("between 2 and {MAX_REASON_CHARS} characters")));
    }
    if r.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(Error::invalid(field, "control characters are not allowed"));
    }
    Ok(r.to_string())
}

/// Known predefined reasons, each once.
pub fn check_reasons(list: &[String]) -> Result<Vec<&'static str>> {
    if list.len() > REASONS.len() {
        return Err(Error::invalid("predefinedReasons", "at most 8 reasons"));
    }
    let mut out: Vec<&'static str> = Vec::new();
    for r in list {
        let known = REASONS.iter().find(|k| **k == r.as_str()).ok_or_else(|| {
            Error::invalid("predefinedReasons", format!("unknown reason; one of {}", REASONS.join(", ")))
        })?;
        if !out.contains(known) {
            out.push(known);
        }
    }
    Ok(out)
}

/// What a report is about, resolved.
pub struct Target {
    pub kind: &'static str,
    pub flagged: accounts::Account,
    pub video: Option<videos::Video>,
    pub comment: Option<comments::Comment>,
}

/// `POST /api/v1/abuses`: `{"abuse": {"id"}}`.
pub async fn report(app: &App, who: &AuthUser, body: NewReport) -> Result<Value> {
    let reason = check_reason(body.reason.as_deref().unwrap_or_default(), "reason")?;
    let reasons = check_reasons(&body.predefined_reasons)?;
    let targets = [body.video.is_some(), body.comment.is_some(), body.account.is_some()];
    if targets.iter().filter(|t| **t).count() != 1 {
        return Err(Error::invalid("video", "a report is about one video, one comment or one account"));
    }
    let reporter = accounts::get_by_user(&app.db, who.id()).await?.ok_or_else(|| Error::not_found("account"))?;
    let (target, start_at, end_at) = if let Some(v) = &body.video {
        let key = match &v.id {
            Value::Number(n) => n.to_string(),
            Value::String(s) if s.len() <= 64 => s.clone(),
            _ => return Err(Error::invalid("video.id", "a video id, UUID or short UUID")),
        };
        let video = videos::get_by_any_id(&app.db, &key).await?.ok_or_else(|| Error::not_found("video"))?;
        if !crate::video::can_see(app, Some(who), &video).await? {
            return Err(Error::not_found("video"));
        }
        for (name, t) in [("video.startAt", v.start_at), ("video.endAt", v.end_at)] {
            if t.is_some_and(|t| !(0..=1_000_000_000).contains(&t)) {
                return Err(Error::invalid(name, "seconds from the start of the video"));
            }
        }
        if let (Some(s), Some(e)) = (v.start_at, v.end_at)
            && e < s
        {
            return Err(Error::invalid("video.endAt", "the end comes after the start"));
        }
        (video_target(app, video).await?, v.start_at, v.end_at)
    } else if let Some(c) = &body.comment {
        let comment = comments::get(&app.db, c.id)
            .await?
            .filter(|c| c.deleted_at.is_none() && !c.held)
            .ok_or_else(|| Error::not_found("comment"))?;
        let video = videos::get(&app.db, comment.video_id).await?.ok_or_else(|| Error::not_found("comment"))?;
        if !crate::video::can_see(app, Some(who), &video).await? {
            return Err(Error::not_found("comment"));
        }
        (comment_target(app, comment, video).await?, None, None)
    } else {
        let id = body.account.as_ref().map(|a| a.id).unwrap_or_default();
        let flagged =
            accounts::get(&app.db, flotilla_domain::AccountId(id)).await?.ok_or_else(|| Error::not_found("account"))?;
        (Target { kind: "account", flagged, video: None, comment: None }, None, None)
    };
    if target.flagged.id == reporter.id {
        return Err(Error::bad_request("cannot_report_self", "you cannot report yourself or what you posted"));
    }
    app.limits.check(crate::limits::Kind::Report, &format!("account {}", reporter.id))?;
    let id = create(app, &target, Some(&reporter), "", None, &reason, &reasons, start_at, end_at, None).await?;
    Ok(json!({ "abuse": { "id": id } }))
}

/// The target of a report about `video`: its channel's account.
pub async fn video_target(app: &App, video: videos::Video) -> Result<Target> {
    let c = flotilla_db::channels::get(&app.db, flotilla_domain::ChannelId(video.channel_id))
        .await?
        .ok_or_else(|| Error::not_found("video"))?;
    let flagged = accounts::get(&app.db, c.owner()).await?.ok_or_else(|| Error::not_found("video"))?;
    Ok(Target { kind: "video", flagged, video: Some(video), comment: None })
}

/// The target of a report about `comment` (under `video`): its author.
pub async fn comment_target(app: &App, comment: comments::Comment, video: videos::Video) -> Result<Target> {
    let author = comment.account_id.ok_or_else(|| Error::not_found("comment"))?;
    let flagged =
        accounts::get(&app.db, flotilla_domain::AccountId(author)).await?.ok_or_else(|| Error::not_found("comment"))?;
    Ok(Target { kind: "comment", flagged, video: Some(video), comment: Some(comment) })
}

/// Stores a report and what it causes, in one transaction; `url` is a received `Flag`'s id (ours
/// is made from the new row). `None` when that `Flag` was stored before.
#[allow(clippy::too_many_arguments)]
pub async fn create(
    app: &App,
    t: &Target,
    reporter: Option<&accounts::Account>,
    reporter_host: &str,
    reporter_actor: Option<i64>,
    reason: &str,
    reasons: &[&str],
    start_at: Option<i64>,
    end_at: Option<i64>,
    url: Option<&str>,
) -> Result<Option<i64>> {
    let reasons = reasons.join(",");
    let mut tx = app.db.begin().await?;
    let row = NewAbuse {
        reporter_account_id: reporter.map(|r| r.id),
        reporter_host,
        reporter_actor_id: reporter_actor,
        flagged_account_id: Some(t.flagged.id),
        video_id: t.video.as_ref().map(|v| v.id),
        comment_id: t.comment.as_ref().map(|c| c.id),
        kind: t.kind,
        video_name: t.video.as_ref().map(|v| v.name.as_str()),
        video_uuid: t.video.as_ref().map(|v| v.uuid.as_str()),
        comment_text: t.comment.as_ref().map(|c| c.text.as_str()),
        start_at: if t.kind == "video" { start_at } else { None },
        end_at: if t.kind == "video" { end_at } else { None },
        reason,
        predefined_reasons: &reasons,
        url,
        now: now_ms(),
    };
    let Some(id) = abuses::insert(&mut tx, &row).await? else { return Ok(None) };
    if url.is_none() {
        abuses::set_url(&mut tx, id, &format!("{}/admin/abuses/{id}", app.public.base())).await?;
    }
    events::record(&mut tx, Event::AbuseCreated { abuse_id: id }).await?;
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(abuse = id, kind = t.kind, from = reporter_host, "abuse reported");
    Ok(Some(id))
}

fn is_moderator(who: &AuthUser) -> bool {
    who.require_moderator().is_ok()
}

/// A report `who` may read: their own, or any for moderators.
async fn readable(app: &App, who: &AuthUser, id: i64) -> Result<(Abuse, bool)> {
    let a = abuses::get(&app.db, id).await?.ok_or_else(|| Error::not_found("abuse"))?;
    if is_moderator(who) {
        return Ok((a, true));
    }
    let mine = accounts::get_by_user(&app.db, who.id()).await?.is_some_and(|acc| Some(acc.id) == a.reporter_account_id);
    if !mine {
        return Err(Error::not_found("abuse"));
    }
    Ok((a, false))
}

fn parse_list(pairs: &[(String, String)], mine: Option<i64>) -> Result<(AbuseFilter, String, i64, i64)> {
    let get = |k: &str| pairs.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let num = |k: &str| -> Result<Option<i64>> {
        get(k)
            .map(|v| v.trim().parse::<i64>().map_err(|_| Error::invalid(k, format!("{k} must be a whole number"))))
            .transpose()
    };
    let state = num("state")?;
    if state.is_some_and(|s| !(1..=3).contains(&s)) {
        return Err(Error::invalid("state", "1 (pending), 2 (rejected) or 3 (accepted)"));
    }
    let kind = match get("filter") {
        None | Some("") => None,
        Some(k @ ("video" | "comment" | "account")) => Some(k.to_string()),
        Some(_) => return Err(Error::invalid("filter", "video, comment or account")),
    };
    let predefined_reason = match get("predefinedReason") {
        None | Some("") => None,
        Some(r) => Some(check_reasons(&[r.to_string()])?[0].to_string()),
    };
    let search = get("search").map(|s| s.chars().take(100).collect::<String>());
    let order = match get("sort").unwrap_or("-createdAt") {
        "createdAt" => "created_at ASC",
        "-createdAt" => "created_at DESC",
        "state" => "state ASC",
        "-state" => "state DESC",
        _ => return Err(Error::invalid("sort", "createdAt or state, with - for descending")),
    };
    let start = num("start")?.unwrap_or(0).max(0);
    let count = num("count")?.unwrap_or(15).clamp(1, 100);
    let f = AbuseFilter { reporter: mine, id: num("id")?, state, kind, predefined_reason, search };
    Ok((f, order.to_string(), start, count))
}

/// `GET /api/v1/abuses` (moderators): `id`, `state`, `filter` (`video`, `comment`, `account`),
/// `predefinedReason`, `search`, `sort`, `start`, `count`.
pub async fn list(app: &App, who: &AuthUser, pairs: &[(String, String)]) -> Result<Value> {
    who.require_moderator()?;
    let (f, order, start, count) = parse_list(pairs, None)?;
    let (rows, total) = abuses::list(&app.db, &f, &order, start, count).await?;
    let mut data = Vec::new();
    for a in &rows {
        data.push(view(app, a, true).await?);
    }
    Ok(json!({ "total": total, "data": data }))
}

/// `GET /api/v1/users/me/abuses`: the caller's own reports (`id`, `state`, `search`, `sort`).
pub async fn list_mine(app: &App, who: &AuthUser, pairs: &[(String, String)]) -> Result<Value> {
    let me = accounts::get_by_user(&app.db, who.id()).await?.ok_or_else(|| Error::not_found("account"))?;
    let (f, order, start, count) = parse_list(pairs, Some(me.id))?;
    let (rows, total) = abuses::list(&app.db, &f, &order, start, count).await?;
    let mut data = Vec::new();
    for a in &rows {
        data.push(view(app, a, false).await?);
    }
    Ok(json!({ "total": total, "data": data }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportUpdate {
    pub state: Option<i64>,
    #[serde(default, deserialize_with = "crate::nullable")]
    pub moderation_comment: Option<Option<String>>,
}

/// `PUT /api/v1/abuses/:id` (moderators): the state and the moderators' comment.
pub async fn update(app: &App, who: &AuthUser, id: i64, body: ReportUpdate) -> Result<()> {
    who.require_moderator()?;
    if body.state.is_some_and(|s| !(1..=3).contains(&s)) {
        return Err(Error::invalid("state", "1 (pending), 2 (rejected) or 3 (accepted)"));
    }
    let comment = match &body.moderation_comment {
        Some(Some(c)) => Some(Some(check_reason(c, "moderationComment")?)),
        Some(None) => Some(None),
        None => None,
    };
    let mut tx = app.db.begin().await?;
    let a = abuses::get(&mut tx, id).await?.ok_or_else(|| Error::not_found("abuse"))?;
    abuses::update(&mut tx, id, body.state, comment.as_ref().map(|c| c.as_deref()), now_ms()).await?;
    if let Some(s) = body.state.filter(|s| *s != a.state) {
        events::record(&mut tx, Event::AbuseStateChanged { abuse_id: id, state: s, remote: false }).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `DELETE /api/v1/abuses/:id` (moderators).
pub async fn delete(app: &App, who: &AuthUser, id: i64) -> Result<()> {
    who.require_moderator()?;
    if !abuses::delete(&app.db, id).await? {
        return Err(Error::not_found("abuse"));
    }
    Ok(())
}

/// `GET /api/v1/abuses/:id/messages`: the reporter's or a moderator's.
pub async fn messages(app: &App, who: &AuthUser, id: i64) -> Result<Value> {
    let (a, _) = readable(app, who, id).await?;
    let list = abuses::messages(&app.db, a.id).await?;
    let mut data = Vec::new();
    for m in &list {
        let account = match m.account_id {
            Some(acc) => match accounts::get(&app.db, flotilla_domain::AccountId(acc)).await? {
                Some(acc) => crate::account::view(app, &acc).await?,
                None => Value::Null,
            },
            None => Value::Null,
        };
        data.push(json!({
            "id": m.id, "message": m.message, "byModerator": m.by_moderator,
            "createdAt": iso8601(m.created_at), "account": account,
        }));
    }
    Ok(json!({ "total": data.len(), "data": data }))
}

/// `POST /api/v1/abuses/:id/messages` (`{"message"}`, 2 to 3,000 characters): `{"abuseMessage": {"id"}}`.
pub async fn add_message(app: &App, who: &AuthUser, id: i64, text: &str) -> Result<Value> {
    let (a, moderator) = readable(app, who, id).await?;
    let text = check_reason(text, "message")?;
    let me = accounts::get_by_user(&app.db, who.id()).await?.ok_or_else(|| Error::not_found("account"))?;
    // A moderator writing about their own report writes as its reporter.
    let by_moderator = moderator && a.reporter_account_id != Some(me.id);
    let mut tx = app.db.begin().await?;
    if abuses::count_messages(&mut tx, a.id).await? >= 1000 {
        return Err(Error::Conflict("this report has 1,000 messages: no more can be added".into()));
    }
    let mid = abuses::add_message(&mut tx, a.id, me.id, by_moderator, &text, now_ms()).await?;
    events::record(&mut tx, Event::AbuseMessaged { message_id: mid }).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(json!({ "abuseMessage": { "id": mid } }))
}

/// `DELETE /api/v1/abuses/:id/messages/:messageId`: its author or a moderator.
pub async fn delete_message(app: &App, who: &AuthUser, id: i64, message: i64) -> Result<()> {
    let (a, moderator) = readable(app, who, id).await?;
    let m = abuses::get_message(&app.db, message)
        .await?
        .filter(|m| m.abuse_id == a.id)
        .ok_or_else(|| Error::not_found("abuse message"))?;
    let me = accounts::get_by_user(&app.db, who.id()).await?.map(|acc| acc.id);
    if !moderator && m.account_id != me {
        return Err(Error::Forbidden("only its author or a moderator may delete a message".into()));
    }
    abuses::delete_message(&app.db, m.id).await?;
    Ok(())
}

async fn account_json(app: &App, id: Option<i64>) -> Result<Value> {
    let Some(id) = id else { return Ok(Value::Null) };
    Ok(match accounts::get(&app.db, flotilla_domain::AccountId(id)).await? {
        Some(a) => crate::account::view(app, &a).await?,
        None => Value::Null,
    })
}

/// A report as PeerTube's API shows it: to moderators (`admin`, api-abuses.json) or to its
/// reporter (api-user-abuses.json: no moderation comment, no reporter, no counts).
pub async fn view(app: &App, a: &Abuse, admin: bool) -> Result<Value> {
    let reasons: Vec<&str> = a.predefined_reasons.split(',').filter(|r| !r.is_empty()).collect();
    let video = match (a.kind.as_str(), a.video_uuid.as_deref()) {
        ("video", Some(uuid)) => {
            let live = match a.video_id {
                Some(id) => videos::get(&app.db, id).await?,
                None => None,
            };
            let channel = match &live {
                Some(v) => match flotilla_db::channels::get(&app.db, flotilla_domain::ChannelId(v.channel_id)).await? {
                    Some(c) => {
                        let imgs = flotilla_db::images::list_for(&app.db, &[c.actor_id]).await?;
                        let mut ch = crate::convert::channel_to_api(app, &c, &imgs, Value::Null);
                        if let Some(o) = ch.as_object_mut() {
                            o.remove("ownerAccount");
                        }
                        ch
                    }
                    None => Value::Null,
                },
                None => Value::Null,
            };
            let mut out = json!({
                "id": a.video_id, "uuid": uuid, "name": a.video_name, "nsfw": live.as_ref().is_some_and(|v| v.nsfw),
                "startAt": a.start_at, "endAt": a.end_at, "deleted": live.is_none(),
                "blacklisted": live.as_ref().is_some_and(|v| v.blocked != 0),
                "thumbnailPath": live.as_ref().and_then(|v| v.thumbnail.as_ref()).map(|t| format!("/lazy-static/thumbnails/{t}")),
                "channel": channel,
            });
            if admin && let Some(vid) = a.video_id {
                let (n, nth) = abuses::video_rank(&app.db, vid, a.id).await?;
                out["countReports"] = json!(n);
                out["nthReport"] = json!(nth);
            }
            out
        }
        _ => Value::Null,
    };
    let comment = if a.kind == "comment" {
        let live = match a.comment_id {
            Some(id) => comments::get(&app.db, id).await?,
            None => None,
        };
        json!({
            "id": a.comment_id,
            "threadId": live.as_ref().map(|c| c.thread()),
            "text": live.as_ref().map(|c| c.text.clone()).or(a.comment_text.clone()),
            "deleted": live.as_ref().is_none_or(|c| c.deleted_at.is_some()),
            "video": { "id": a.video_id, "name": a.video_name, "uuid": a.video_uuid },
        })
    } else {
        Value::Null
    };
    let mut out = json!({
        "id": a.id,
        "reason": a.reason,
        "predefinedReasons": reasons,
        "flaggedAccount": account_json(app, a.flagged_account_id).await?,
        "state": { "id": a.state, "label": label(a.state) },
        "countMessages": abuses::count_messages(&app.db, a.id).await?,
        "createdAt": iso8601(a.created_at),
        "updatedAt": iso8601(a.updated_at),
        "video": video,
        "comment": comment,
    });
    if admin {
        let reporter = match a.reporter_account_id {
            Some(_) => account_json(app, a.reporter_account_id).await?,
            // A Flag signed by a server's own actor (Mastodon's): the server reports.
            None if !a.reporter_host.is_empty() => {
                let actor = match a.reporter_actor_id {
                    Some(id) => flotilla_db::actors::get(&app.db, id).await?,
                    None => None,
                };
                json!({
                    "url": actor.as_ref().map(|r| r.url.clone()),
                    "name": actor.as_ref().map(|r| r.name.clone()),
                    "host": a.reporter_host,
                    "avatars": [],
                    "displayName": actor.as_ref().and_then(|r| r.display_name.clone()).unwrap_or(a.reporter_host.clone()),
                })
            }
            None => Value::Null,
        };
        let (for_reporter, for_reportee) = abuses::counts_for_accounts(
            &app.db,
            a.reporter_account_id.unwrap_or(-1),
            a.flagged_account_id.unwrap_or(-1),
        )
        .await?;
        let o = out.as_object_mut().expect("an object");
        o.insert("moderationComment".into(), json!(a.moderation_comment));
        o.insert("reporterAccount".into(), reporter);
        o.insert("countReportsForReporter".into(), json!(for_reporter));
        o.insert("countReportsForReportee".into(), json!(for_reportee));
        // Ours: the server a report came from (`Flag`), empty for reports made here.
        o.insert("reporterHost".into(), json!(if a.reporter_host.is_empty() { None } else { Some(&a.reporter_host) }));
    }
    Ok(out)
}
