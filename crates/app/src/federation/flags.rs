//! Reports across servers. A report made here about another server's video, comment or account
//! goes to that server as PeerTube's `Flag` (ap-sent-flag.json: the reporter's account as actor,
//! or the instance actor with `[federation] anonymous_reports`; unicast to the flagged account's
//! shared inbox). A `Flag` received about our content (PeerTube's: one object; Mastodon's: the
//! account and some of its posts) becomes one report per object of ours, listed with the server
//! it came from; objects not ours are ignored.
//!
//! Flotilla's extension: when our moderators accept or reject a report that came as a `Flag`, the
//! reporting actor hears an `Accept` or `Reject` of it, and a Flotilla that sent it gives its own
//! copy that state (its reporter is notified). Others ignore an `Accept` of something unknown.

use flotilla_db::actors::RemoteActor;
use flotilla_db::{abuses, accounts, comments, videos};
use flotilla_domain::time::now_ms;
use serde_json::{Value, json};

use crate::abuse::{self, Target};
use crate::federation::{delivery, remote};
use crate::{App, Error, Result, ap, uris};

/// The most objects of one `Flag` looked at.
pub const MAX_FLAG_OBJECTS: usize = 20;

/// The context of a `Flag`: ActivityStreams, and `Hashtag` for the predefined reasons.
fn context() -> Value {
    json!(["https://www.w3.org/ns/activitystreams", { "Hashtag": "as:Hashtag" }])
}

/// A report was made (event): about another server's content, it goes there as a `Flag`.
pub async fn created(app: &App, abuse_id: i64) -> Result<()> {
    let Some(a) = abuses::get(&app.db, abuse_id).await? else { return Ok(()) };
    if !a.reporter_host.is_empty() {
        return Ok(());
    }
    let Some(flagged) = a.flagged_account_id else { return Ok(()) };
    let Some(account) = accounts::get(&app.db, flotilla_domain::AccountId(flagged)).await? else { return Ok(()) };
    if account.host.is_empty() {
        return Ok(());
    }
    let Some(target) = flotilla_db::actors::get(&app.db, account.actor_id).await? else { return Ok(()) };
    let object = match a.kind.as_str() {
        "video" => match a.video_id {
            Some(id) => videos::get(&app.db, id).await?.and_then(|v| v.remote_url),
            None => None,
        },
        "comment" => match a.comment_id {
            Some(id) => comments::get(&app.db, id).await?.and_then(|c| c.url),
            None => None,
        },
        _ => Some(target.url.clone()),
    };
    let Some(object) = object else { return Ok(()) };
    let (actor_id, actor_url) = if app.config.federation.anonymous_reports {
        let id = ap::ensure_instance_actor(app).await?;
        (id, uris::account(app, ap::INSTANCE_ACTOR))
    } else {
        let Some(reporter) = a.reporter_account_id else { return Ok(()) };
        let Some(r) = accounts::get(&app.db, flotilla_domain::AccountId(reporter)).await? else { return Ok(()) };
        (r.actor_id, uris::account(app, &r.name))
    };
    let tags: Vec<Value> = a
        .predefined_reasons
        .split(',')
        .filter(|r| !r.is_empty())
        .map(|r| json!({ "type": "Hashtag", "name": r }))
        .collect();
    let mut flag = json!({
        "@context": context(),
        "to": [target.url],
        "cc": [],
        "id": a.url.clone().unwrap_or_else(|| format!("{}/admin/abuses/{}", app.public.base(), a.id)),
        "actor": actor_url,
        "type": "Flag",
        "content": a.reason,
        "mediaType": "text/markdown",
        "object": object,
        "tag": tags,
    });
    if a.kind == "video" {
        flag["startAt"] = json!(a.start_at);
        flag["endAt"] = json!(a.end_at);
    }
    let inbox = target.shared_inbox.clone().unwrap_or(target.inbox.clone());
    let mut tx = app.db.begin().await?;
    delivery::enqueue(&mut tx, actor_id, &flag, &[inbox]).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// Our moderators accepted or rejected a report: the server whose `Flag` it was hears it.
pub async fn state_changed(app: &App, abuse_id: i64, state: i64) -> Result<()> {
    let Some(a) = abuses::get(&app.db, abuse_id).await? else { return Ok(()) };
    let (Some(url), Some(actor)) = (a.url.as_deref(), a.reporter_actor_id) else { return Ok(()) };
    if a.reporter_host.is_empty() || !matches!(state, abuse::ACCEPTED | abuse::REJECTED) {
        return Ok(());
    }
    let Some(to) = flotilla_db::actors::get(&app.db, actor).await? else { return Ok(()) };
    let instance = ap::ensure_instance_actor(app).await?;
    let kind = if state == abuse::ACCEPTED { "Accept" } else { "Reject" };
    let me = uris::account(app, ap::INSTANCE_ACTOR);
    let activity = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": kind,
        "id": format!("{}/admin/abuses/{}/{}/{}", app.public.base(), a.id, kind.to_lowercase(), now_ms()),
        "actor": me,
        "to": [to.url],
        "object": { "type": "Flag", "id": url },
    });
    let inbox = to.shared_inbox.clone().unwrap_or(to.inbox.clone());
    let mut tx = app.db.begin().await?;
    delivery::enqueue(&mut tx, instance, &activity, &[inbox]).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// What a URL of ours names, as a report's target.
async fn local_target(app: &App, url: &str) -> Result<Option<Target>> {
    let base = app.public.base();
    let Some(path) = url.strip_prefix(&base) else { return Ok(None) };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    if let Some(rest) = path.strip_prefix("/videos/watch/").or_else(|| path.strip_prefix("/w/")) {
        let mut parts = rest.split('/');
        let key = parts.next().unwrap_or_default();
        if key.is_empty() || key.len() > 64 {
            return Ok(None);
        }
        let Some(v) = videos::get_by_any_id(&app.db, key).await?.filter(|v| v.is_local()) else { return Ok(None) };
        return match (parts.next(), parts.next(), parts.next()) {
            (None, _, _) => Ok(Some(abuse::video_target(app, v).await?)),
            (Some("comments"), Some(id), None) => {
                let Ok(id) = id.parse::<i64>() else { return Ok(None) };
                match comments::get(&app.db, id).await?.filter(|c| c.video_id == v.id && c.url.is_none()) {
                    Some(c) if c.account_id.is_some() => Ok(Some(abuse::comment_target(app, c, v).await?)),
                    _ => Ok(None),
                }
            }
            _ => Ok(None),
        };
    }
    if let Some(name) = path.strip_prefix("/accounts/").filter(|n| !n.contains('/') && *n != ap::INSTANCE_ACTOR) {
        return Ok(accounts::get_local_by_name(&app.db, name).await?.map(|flagged| Target {
            kind: "account",
            flagged,
            video: None,
            comment: None,
        }));
    }
    if let Some(name) = path.strip_prefix("/video-channels/").filter(|n| !n.contains('/'))
        && let Some(c) = flotilla_db::channels::get_local_by_name(&app.db, name).await?
        && let Some(flagged) = accounts::get(&app.db, c.owner()).await?
    {
        return Ok(Some(Target { kind: "account", flagged, video: None, comment: None }));
    }
    Ok(None)
}

/// A `Flag` received: a report per object of ours it names (at most [`MAX_FLAG_OBJECTS`]),
/// others ignored. Limited per sending server (`[rate_limits] reports`).
pub async fn received(app: &App, signer: &RemoteActor, activity: &Value) -> Result<()> {
    let id = activity.get("id").and_then(Value::as_str).unwrap_or_default();
    let objects: Vec<&str> = match activity.get("object") {
        Some(Value::Array(list)) => list.iter().filter_map(remote::id_of).take(MAX_FLAG_OBJECTS).collect(),
        Some(one) => remote::id_of(one).into_iter().collect(),
        None => Vec::new(),
    };
    let mut targets = Vec::new();
    for url in objects {
        if let Some(t) = local_target(app, url).await? {
            targets.push(t);
        }
    }
    if targets.is_empty() {
        tracing::debug!(from = %signer.url, "a Flag about nothing of ours; ignored");
        return Ok(());
    }
    app.limits.check(crate::limits::Kind::Report, &format!("server {}", signer.host))?;
    let content = activity.get("content").and_then(Value::as_str).unwrap_or_default();
    // Mastodon writes HTML, PeerTube Markdown: kept as text, bounded.
    let mut reason: String = crate::text::html_to_text(content).trim().chars().take(abuse::MAX_REASON_CHARS).collect();
    if reason.chars().count() < 2 {
        reason = format!("Reported by {}", signer.host);
    }
    let reasons: Vec<&'static str> = activity
        .get("tag")
        .and_then(Value::as_array)
        .map(|tags| {
            let mut out: Vec<&'static str> = Vec::new();
            for t in tags.iter().take(16) {
                if let Some(known) =
                    t.get("name").and_then(Value::as_str).and_then(|n| abuse::REASONS.iter().find(|r| **r == n))
                    && !out.contains(known)
                {
                    out.push(known);
                }
            }
            out
        })
        .unwrap_or_default();
    let seconds = |k: &str| activity.get(k).and_then(Value::as_i64).filter(|t| (0..=1_000_000_000).contains(t));
    // A person reports (PeerTube); a server's own actor (Mastodon's) has no account.
    let reporter = if signer.kind == "Person" {
        let mut tx = app.db.begin().await?;
        let id = super::comments::author_account(signer, &mut tx).await?;
        tx.commit().await?;
        accounts::get(&app.db, flotilla_domain::AccountId(id)).await?
    } else {
        None
    };
    let several = targets.len() > 1;
    for (n, t) in targets.iter().enumerate() {
        // One id per report: a Flag of several objects becomes several reports.
        let url = if several { format!("{id}#{n}") } else { id.to_string() };
        abuse::create(
            app,
            t,
            reporter.as_ref(),
            &signer.host,
            Some(signer.id),
            &reason,
            &reasons,
            seconds("startAt"),
            seconds("endAt"),
            Some(&url),
        )
        .await?;
    }
    Ok(())
}

/// An `Accept` or `Reject` whose object is one of our `Flag`s, from the server of what it reports:
/// our copy takes the state. `false`: not about one of our `Flag`s.
pub async fn answered(app: &App, signer: &RemoteActor, kind: &str, object: &Value) -> Result<bool> {
    let Some(url) = remote::id_of(object) else { return Ok(false) };
    if !url.starts_with(&format!("{}/admin/abuses/", app.public.base())) {
        return Ok(false);
    }
    let Some(a) = abuses::get_by_url(&app.db, url).await? else { return Ok(true) };
    let flagged_host = match a.flagged_account_id {
        Some(id) => accounts::get(&app.db, flotilla_domain::AccountId(id)).await?.map(|acc| acc.host),
        None => None,
    };
    if flagged_host.as_deref() != Some(signer.host.as_str()) || !a.reporter_host.is_empty() {
        return Err(Error::Forbidden("only the server of what a report is about may answer it".into()));
    }
    let state = if kind == "Accept" { abuse::ACCEPTED } else { abuse::REJECTED };
    if a.state == state {
        return Ok(true);
    }
    let mut tx = app.db.begin().await?;
    abuses::update(&mut tx, a.id, Some(state), None, now_ms()).await?;
    crate::events::record(&mut tx, crate::events::Event::AbuseStateChanged { abuse_id: a.id, state, remote: true })
        .await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(true)
}
