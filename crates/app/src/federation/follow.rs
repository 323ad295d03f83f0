//! Follows between instances (PeerTube's `/api/v1/server/following` and `/followers`): our
//! instance actor follows another instance's, and answers the follows of others.

use flotilla_db::{actors, follows};
use flotilla_domain::time::{iso8601, now_ms};
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::federation::{delivery, remote};
use crate::{App, Error, Result, ap, uris};

fn clean_host(h: &str) -> Result<String> {
    let h = h.trim().trim_end_matches('/').to_ascii_lowercase();
    let h = h.strip_prefix("https://").or_else(|| h.strip_prefix("http://")).unwrap_or(&h).to_string();
    if h.is_empty() || h.contains(['/', '@', ' ', '?', '#']) {
        return Err(Error::invalid("hosts", format!("'{h}' is not a host name")));
    }
    Ok(h)
}

/// A `name@host` handle (a leading `@` allowed), split and checked.
fn split_handle(h: &str) -> Result<(String, String)> {
    let h = h.trim().trim_start_matches('@');
    let bad = || Error::invalid("handles", format!("'{h}' is not a handle like channel_name@video.example.org"));
    let (name, host) = h.split_once('@').ok_or_else(bad)?;
    if name.is_empty() || name.contains(['/', ' ', '?', '#']) {
        return Err(bad());
    }
    Ok((name.to_string(), clean_host(host).map_err(|_| bad())?))
}

/// `POST /api/v1/server/following {hosts, handles}`: our instance actor follows each instance's
/// actor, and each channel or account named by handle (its videos then come to this instance
/// without following the whole instance).
pub async fn follow_hosts(app: &App, who: &AuthUser, hosts: &[String], handles: &[String]) -> Result<()> {
    who.require_admin()?;
    if hosts.is_empty() && handles.is_empty() {
        return Err(Error::invalid("hosts", "give at least one host or handle to follow"));
    }
    // Every entry is checked before anything is followed: a typo does not leave half a list done.
    let handles = handles.iter().map(|h| split_handle(h)).collect::<Result<Vec<_>>>()?;
    for (name, host) in &handles {
        if *host == app.public.host {
            return Err(Error::invalid("handles", format!("{name}@{host} is on this instance")));
        }
    }
    for (name, host) in &handles {
        let target = remote::actor_by_handle(app, name, host).await?;
        if !matches!(target.kind.as_str(), "Group" | "Person") {
            return Err(Error::invalid("handles", format!("{name}@{host} is not a channel or an account")));
        }
        follow_actor(app, &target).await?;
        tracing::info!(handle = %format!("{name}@{host}"), by = %who.user.username, "following a channel or account");
    }
    for h in hosts {
        let host = clean_host(h)?;
        if host == app.public.host {
            return Err(Error::invalid("hosts", "an instance cannot follow itself"));
        }
        let target = remote::actor_by_handle(app, ap::INSTANCE_ACTOR, &host).await?;
        follow_actor(app, &target).await?;
        tracing::info!(host = %host, by = %who.user.username, "following an instance");
    }
    Ok(())
}

/// Our instance actor follows `target` (a no-op when it already does).
pub async fn follow_actor(app: &App, target: &flotilla_db::actors::RemoteActor) -> Result<()> {
    let me = ap::ensure_instance_actor(app).await?;
    if follows::get_pair(&app.db, me, target.id).await?.is_some_and(|f| f.state == "accepted") {
        return Ok(());
    }
    let me_url = uris::instance_actor(app);
    let activity_id = format!("{me_url}/follows/{}", uuid::Uuid::new_v4());
    let activity = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": "Follow",
        "id": activity_id,
        "actor": me_url,
        "object": target.url,
    });
    let mut tx = app.db.begin().await?;
    follows::upsert(&mut tx, me, target.id, "pending", Some(&activity_id), now_ms()).await?;
    delivery::enqueue(&mut tx, me, &activity, std::slice::from_ref(&target.inbox)).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `POST /api/v1/server/followers/:handle/accept` (`accept`) or `/reject`: decides a follow
/// that waits for approval, and tells the follower.
pub async fn decide(app: &App, who: &AuthUser, handle: &str, accept: bool) -> Result<()> {
    who.require_admin()?;
    let (name, host) = handle.split_once('@').ok_or_else(|| Error::invalid("handle", "expected name@host"))?;
    let follower = actors::list_by_host(&app.db, &host.to_ascii_lowercase())
        .await?
        .into_iter()
        .find(|a| a.name == name)
        .ok_or_else(|| Error::not_found("follower"))?;
    let me = ap::ensure_instance_actor(app).await?;
    let f = follows::get_pair(&app.db, follower.id, me).await?.ok_or_else(|| Error::not_found("follow"))?;
    let me_url = uris::instance_actor(app);
    let answer = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": if accept { "Accept" } else { "Reject" },
        "id": format!("{me_url}/{}/follows/{}", if accept { "accepts" } else { "rejects" }, f.id),
        "actor": me_url,
        "object": { "type": "Follow", "id": f.activity_id, "actor": follower.url, "object": me_url },
    });
    let mut tx = app.db.begin().await?;
    if accept {
        follows::set_state(&mut tx, f.id, "accepted", now_ms()).await?;
    } else {
        follows::delete_pair(&mut tx, follower.id, me).await?;
    }
    delivery::enqueue(&mut tx, me, &answer, std::slice::from_ref(&follower.inbox)).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `DELETE /api/v1/server/following/:hostOrHandle`: stop following an instance (or one of its
/// channels or accounts, by handle), telling the other side (Undo).
pub async fn unfollow_host(app: &App, who: &AuthUser, host_or_handle: &str) -> Result<()> {
    who.require_admin()?;
    let (only, host) = match host_or_handle.contains('@') {
        true => split_handle(host_or_handle).map(|(n, h)| (Some(n), h))?,
        false => (None, clean_host(host_or_handle)?),
    };
    let me = ap::ensure_instance_actor(app).await?;
    let me_url = uris::instance_actor(app);
    let mut found = false;
    let targets = actors::list_by_host(&app.db, &host).await?;
    for target in targets.into_iter().filter(|t| only.as_deref().is_none_or(|n| t.name == n)) {
        let Some(f) = follows::get_pair(&app.db, me, target.id).await? else { continue };
        found = true;
        let follow = json!({ "type": "Follow", "id": f.activity_id, "actor": me_url, "object": target.url });
        let undo = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "type": "Undo",
            "id": format!("{me_url}/follows/{}/undo", f.id),
            "actor": me_url,
            "object": follow,
        });
        let mut tx = app.db.begin().await?;
        follows::delete_pair(&mut tx, me, target.id).await?;
        delivery::enqueue(&mut tx, me, &undo, std::slice::from_ref(&target.inbox)).await?;
        tx.commit().await?;
        app.wake_jobs();
    }
    if !found {
        let what = match &only {
            Some(name) => format!("follow of {name}@{host}"),
            None => format!("follow of {host}"),
        };
        return Err(Error::not_found(&what));
    }
    if only.is_some() {
        // Another follow (the whole instance, a subscriber) may still bring this channel's videos.
        tracing::info!(handle = host_or_handle, "unfollowed a remote channel or account");
        return Ok(());
    }
    // Its videos came through this follow: they leave with it.
    let n = crate::federation::videos::forget_host(app, &host).await?;
    tracing::info!(host = %host, videos = n, "unfollowed an instance");
    Ok(())
}

fn actor_json(url: Option<&str>, name: &str, host: &str) -> Value {
    json!({ "url": url, "name": name, "host": host, "followersCount": 0, "followingCount": 0 })
}

/// `GET /api/v1/server/following` (`as_follower`) and `/api/v1/server/followers`, PeerTube's
/// `ActorFollow` shape.
pub async fn list(app: &App, as_follower: bool, state: Option<&str>, page: flotilla_db::Page) -> Result<Value> {
    if let Some(s) = state
        && !matches!(s, "pending" | "accepted")
    {
        return Err(Error::invalid("state", "state must be pending or accepted"));
    }
    let me = ap::ensure_instance_actor(app).await?;
    let (rows, total) = follows::list_for(&app.db, me, as_follower, state, page.start, page.count).await?;
    let mine = uris::instance_actor(app);
    // The remote side's delivery score (PeerTube's follow score), by host.
    let scores: std::collections::HashMap<String, i64> =
        flotilla_db::hosts::scores(&app.db).await?.into_iter().collect();
    // The servers whose videos we may mirror (PeerTube's `hostRedundancyAllowed`).
    let mirrorable: std::collections::HashSet<String> =
        flotilla_db::redundancies::allowed_hosts(&app.db).await?.into_iter().collect();
    let data: Vec<Value> = rows
        .iter()
        .map(|f| {
            let local = |url: &Option<String>, name: &str, host: &str| {
                if host.is_empty() {
                    actor_json(Some(&mine), name, &app.public.host)
                } else {
                    actor_json(url.as_deref(), name, host)
                }
            };
            let mut following = local(&f.target_url, &f.target_name, &f.target_host);
            if as_follower {
                following["hostRedundancyAllowed"] = json!(mirrorable.contains(&f.target_host));
            }
            json!({
                "id": f.id,
                "follower": local(&f.follower_url, &f.follower_name, &f.follower_host),
                "following": following,
                "score": scores.get(if f.follower_host.is_empty() { &f.target_host } else { &f.follower_host }).copied().unwrap_or(flotilla_db::hosts::BASE_SCORE),
                "state": f.state,
                "createdAt": iso8601(f.created_at),
                "updatedAt": iso8601(f.updated_at),
            })
        })
        .collect();
    Ok(json!({ "total": total, "data": data }))
}
