//! Receiving activities (`POST /inbox` and the actors' inboxes): parse → verify → apply, in that
//! order and in separate steps (STYLE: verify, then apply). Verification: the HTTP signature
//! (digest, date window, covered headers) with the key of the actor the `keyId` names, fetched
//! and cached, fetched again once if it no longer verifies (key rotation); the activity's `actor`
//! must be the signer; an activity id is applied once.

use flotilla_db::{actors::RemoteActor, follows};
use flotilla_domain::time::now_ms;
use flotilla_federation::signature::{self, SigError};
use serde_json::{Value, json};

use crate::federation::{delivery, local_actor_by_url, local_actor_url, remote};
use crate::{App, Error, Result};

/// The largest activity accepted (Mastodon's limit).
pub const MAX_ACTIVITY_BYTES: usize = 1024 * 1024;

/// How long an applied activity's id is remembered (`inbox_seen`), so that a sender's retry of it
/// is not applied twice. Senders retry a delivery for a day or two (we do for a day and a half);
/// a week covers them, and an old request cannot be replayed past it: signatures expire in hours.
pub const SEEN_WINDOW_MS: i64 = 7 * 24 * 3600 * 1000;

/// Forgets the activity ids seen more than [`SEEN_WINDOW_MS`] before `now`, so the table holds a
/// week of activities rather than every one ever received. Run by the hourly housekeeping.
pub async fn prune_seen(app: &App, now: i64) -> Result<u64> {
    Ok(follows::prune_seen(&app.db, now - SEEN_WINDOW_MS).await?)
}

/// An incoming request as the inbox sees it.
pub struct Incoming<'a> {
    /// The client's address: with the host a signature claims, what the inbox limits by.
    pub ip: std::net::IpAddr,
    pub method: &'a str,
    pub path: &'a str,
    pub header: &'a (dyn Fn(&str) -> Option<String> + Sync),
    pub body: &'a [u8],
}

fn unsigned(msg: impl Into<String>) -> Error {
    Error::Unauthorized { code: "invalid_signature", msg: msg.into() }
}

fn blocked() -> Error {
    Error::Forbidden("this server or account is blocked by this instance: its activities are refused".into())
}

fn sig_error(e: SigError) -> Error {
    unsigned(e.to_string())
}

/// Checks the signature and returns the actor who signed. Nothing is written before the
/// signature verifies: an unknown signer's document is fetched and its key tried first, and stored
/// only when it verifies (an unsigned or forged POST leaves no actor, no job behind).
pub async fn verify(app: &App, req: &Incoming<'_>) -> Result<RemoteActor> {
    let header = (req.header)("signature")
        .or_else(|| (req.header)("authorization").filter(|a| a.starts_with("Signature ")))
        .ok_or_else(|| sig_error(SigError::Missing))?;
    let sig = signature::parse_header(&header).map_err(sig_error)?;
    // A blocked server (or account) costs no more than this refusal: no digest, no key fetched,
    // nothing written.
    if crate::blocklist::refuses(app, sig.key_id.split('#').next().unwrap_or_default()) {
        return Err(blocked());
    }
    let sreq = signature::Request { method: req.method, path: req.path, header: req.header, body: req.body };
    let signing_string = signature::check(&sreq, &sig, now_ms() / 1000).map_err(sig_error)?;
    // `check` made sure `host` is signed. It must name us: a request signed for another server
    // and replayed here with the Host header it was signed with verifies, but was never sent to us.
    let host = (req.header)("host").unwrap_or_default();
    if !names_us(&app.public, &host) {
        return Err(unsigned(format!(
            "the signature is for host '{host}', not this server ({}): requests signed for another server are refused",
            app.public.host
        )));
    }
    let actor_url = sig.key_id.split('#').next().unwrap_or_default().to_string();
    let Some(signer_host) = remote::host(&actor_url) else {
        return Err(unsigned("keyId is not a URL"));
    };
    if signer_host == app.public.host {
        return Err(unsigned("keyId names one of our own actors"));
    }
    // Work per remote server is limited before any fetch or RSA verification: by the host the
    // signature claims and the address it comes from (a forger claiming a server's name uses up
    // only its own share, not that server's).
    let bucket = format!("{signer_host} {}", crate::limits::address_key(req.ip));
    app.limits.check(crate::limits::Kind::Inbox, &bucket)?;
    let verifies = |pem: &str| -> bool {
        flotilla_federation::keys::public_from_pem(pem)
            .ok()
            .is_some_and(|k| signature::verify(&signing_string, &sig, &k).is_ok())
    };
    if let Some(known) = flotilla_db::actors::get_by_url(&app.db, &actor_url).await? {
        if known.public_key_pem.as_deref().is_some_and(verifies) {
            remote::refresh_if_stale(app, &known).await;
            return Ok(known);
        }
        // Its key may have changed since we stored it: fetch it again — but not again and again,
        // or badly signed requests would make us hammer the actor's server.
        if !app.key_refetches.allow(&actor_url) {
            return Err(sig_error(SigError::BadSignature));
        }
    }
    // Unknown (or refetched): its document is fetched, its key tried, and only then stored.
    let doc = match remote::fetch_actor_document(app, &actor_url).await {
        Ok(doc) => doc,
        // A keyId without a fragment may name a key document rather than its actor (GoToSocial's
        // `…/main-key`, `Key` objects); one with a fragment is the actor's own.
        Err(e) if sig.key_id.contains('#') => return Err(unsigned(format!("cannot get the signer's key: {e}"))),
        Err(e) => match key_owner(app, &sig.key_id).await {
            Some(owner) if owner != actor_url => remote::fetch_actor_document(app, &owner)
                .await
                .map_err(|e| unsigned(format!("cannot get the signer's key: {e}")))?,
            _ => return Err(unsigned(format!("cannot get the signer's key: {e}"))),
        },
    };
    let checked = remote::check_actor(app, &doc)?;
    if !verifies(checked.public_key_pem) {
        return Err(sig_error(SigError::BadSignature));
    }
    remote::store_actor(app, &doc).await
}

/// Whether a Host header names this server: its public host, written as browsers and servers may
/// (any case, the scheme's default port or none).
fn names_us(public: &crate::PublicUrl, host: &str) -> bool {
    crate::PublicUrl::parse(&format!("{}://{}", public.scheme, host.trim())).is_ok_and(|u| u.host == public.host)
}

/// The owner a key document names: a `Key` object's `owner`, or the `publicKey.owner` of the actor
/// served at the key's URL. Only on the key's own server.
async fn key_owner(app: &App, key_id: &str) -> Option<String> {
    let signer = super::instance_signer(app).await.ok()?;
    let doc = app.fetcher.get_key_document(key_id, Some(&signer)).await.ok()?;
    let owner = doc
        .get("owner")
        .and_then(Value::as_str)
        .or_else(|| doc.pointer("/publicKey/owner").and_then(Value::as_str))?
        .to_string();
    (remote::host(&owner) == remote::host(key_id)).then_some(owner)
}

/// `POST /inbox`: verifies, then applies. Unknown types are accepted and ignored.
pub async fn receive(app: &App, req: Incoming<'_>) -> Result<()> {
    if req.body.len() > MAX_ACTIVITY_BYTES {
        return Err(Error::TooLarge { code: "payload_too_large", msg: "activities are limited to 1 MB".into() });
    }
    let signer = verify(app, &req).await?;
    let activity: Value = serde_json::from_slice(req.body)
        .map_err(|e| Error::bad_request("malformed_request", format!("not JSON: {e}")))?;
    let kind = activity.get("type").and_then(Value::as_str).unwrap_or_default().to_string();
    let id =
        activity.get("id").and_then(Value::as_str).ok_or_else(|| Error::invalid("id", "an activity needs an id"))?;
    // The signer speaks for itself only (FEP-fe34): the activity's actor and id are on its server.
    let actor = activity.get("actor").and_then(remote::id_of).unwrap_or_default();
    // A comment's activity passed on by another server (PeerTube forwards those on its videos):
    // not taken on the forwarder's word; the comment is looked up at its origin.
    let forwarded = actor != signer.url && is_forwarded_comment(&kind, &activity);
    if crate::blocklist::refuses(app, &signer.url) || crate::blocklist::refuses(app, actor) {
        return Err(blocked());
    }
    // Another server's viewer passed on by a video's origin (PeerTube forwards them): its count
    // reaches us in the origin's own total; accepted, not applied.
    if actor != signer.url && kind == "View" && activity.get("expires").is_some() {
        return Ok(());
    }
    if actor != signer.url && !forwarded {
        return Err(Error::Forbidden(format!("the activity's actor {actor} is not the signer {}", signer.url)));
    }
    let id_host = if forwarded { remote::host(actor) } else { Some(signer.host.clone()) };
    if remote::host(id) != id_host {
        return Err(Error::Forbidden("the activity's id is not on its actor's server".into()));
    }
    // It talks to us: deliveries to it are worth trying again.
    flotilla_db::hosts::revived(&app.db, &signer.host, now_ms()).await?;
    // A viewer `View` comes again under the same id to extend its viewer (PeerTube's): applied
    // every time, and not remembered (the same id would fill the table once per minute).
    let viewer = kind == "View" && activity.get("expires").is_some();
    if !viewer && !follows::first_time_seen(&app.db, id, now_ms()).await? {
        tracing::debug!(id, "duplicate activity ignored");
        return Ok(());
    }
    let object = activity.get("object").cloned().unwrap_or(Value::Null);
    let applied = if forwarded {
        super::comments::check_at_origin(app, &kind, &activity).await
    } else {
        apply(app, &signer, &kind, &activity, &object).await
    };
    if applied.is_err() && !viewer {
        // Not applied (a refusal, or a failure the sender will retry): the same id may come again
        // and must then be looked at again, not ignored as a duplicate.
        follows::forget_seen(&app.db, id).await?;
    }
    applied
}

async fn apply(app: &App, signer: &RemoteActor, kind: &str, activity: &Value, object: &Value) -> Result<()> {
    match kind {
        "Follow" => on_follow(app, signer, activity, object).await,
        "Accept" => on_accept(app, signer, object).await,
        "Reject" => on_reject(app, signer, object).await,
        "Undo" => on_undo(app, signer, object).await,
        "Create" | "Update" | "Announce" if is_video(object) => super::videos::receive(app, signer, object).await,
        "Create" | "Update" if super::comments::is_note(object) => {
            super::comments::receive(app, signer, kind, object, Some(activity)).await
        }
        "Create" | "Update" if super::playlists::is_playlist(object) => {
            super::playlists::receive(app, signer, object).await
        }
        "Create" | "Update" if crate::redundancy::is_cache_file(object) => {
            crate::redundancy::receive(app, signer, object).await
        }
        "Update" if is_actor(object) => on_actor_update(app, signer, object).await,
        "Like" | "Dislike" => on_rate(app, signer, kind, activity, object).await,
        "ApproveReply" => super::comments::on_approve_reply(app, signer, activity).await,
        "Flag" => super::flags::received(app, signer, activity).await,
        "Move" => super::moves::received(app, signer, activity).await,
        "View" => super::views::received(app, &signer.host, activity, object).await,
        // An actor deleting itself (an account closed on its server).
        "Delete" if remote::id_of(object) == Some(signer.url.as_str()) => remote::forget_actor(app, signer).await,
        "Delete" => match remote::id_of(object) {
            Some(url) if super::comments::delete(app, signer, url, Some(activity)).await? => Ok(()),
            Some(url) if super::playlists::delete(app, signer, url).await? => Ok(()),
            _ => super::videos::delete(app, signer, object).await,
        },
        other => {
            tracing::debug!(kind = other, from = %signer.url, "activity type not handled; ignored");
            Ok(())
        }
    }
}

/// Someone follows one of our actors: recorded as accepted, and answered with an Accept.
async fn on_follow(app: &App, signer: &RemoteActor, activity: &Value, object: &Value) -> Result<()> {
    let target_url = remote::id_of(object).ok_or_else(|| Error::invalid("object", "Follow needs an object"))?;
    let Some(target) = local_actor_by_url(app, target_url).await? else {
        return Err(Error::not_found("followed actor"));
    };
    let target_url = local_actor_url(app, target).await?;
    let follow_id = activity.get("id").and_then(Value::as_str);
    let instance = crate::ap::ensure_instance_actor(app).await?;
    let cfg = &app.config.federation;
    if target == instance && cfg.manual_approval {
        // Waits for an admin (POST /api/v1/server/followers/:handle/accept).
        follows::upsert(&app.db, signer.id, target, "pending", follow_id, now_ms()).await?;
        tracing::info!(follower = %signer.url, "follow waiting for approval");
        return Ok(());
    }
    if target == instance
        && cfg.auto_follow_back
        && signer.kind == "Application"
        && let Err(e) = super::follow::follow_actor(app, signer).await
    {
        tracing::warn!(host = %signer.host, error = %e, "cannot follow back");
    }
    let mut tx = app.db.begin().await?;
    let before = follows::get_pair(&mut tx, signer.id, target).await?;
    let row = follows::upsert(&mut tx, signer.id, target, "accepted", follow_id, now_ms()).await?;
    if before.is_none_or(|f| f.state != "accepted") {
        crate::events::record(&mut tx, crate::events::Event::ActorFollowed { follow_id: row }).await?;
    }
    let accept = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": "Accept",
        "id": format!("{target_url}/accepts/follows/{row}"),
        "actor": target_url,
        "object": { "type": "Follow", "id": follow_id, "actor": signer.url, "object": target_url },
    });
    delivery::enqueue(&mut tx, target, &accept, std::slice::from_ref(&signer.inbox)).await?;
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(follower = %signer.url, target = %target_url, "new follower");
    Ok(())
}

/// The follow an Accept, Reject or Undo is about: by the embedded Follow's actor and object, or
/// by its id.
async fn our_follow(
    app: &App,
    follower_side: Option<i64>,
    target_side: Option<i64>,
    object: &Value,
) -> Result<Option<follows::Follow>> {
    if let Some(f) = object.get("id").and_then(Value::as_str).or(object.as_str())
        && let Some(row) = follows::get_by_activity(&app.db, f).await?
    {
        return Ok(Some(row));
    }
    if let (Some(a), Some(b)) = (follower_side, target_side) {
        return Ok(follows::get_pair(&app.db, a, b).await?);
    }
    Ok(None)
}

async fn on_accept(app: &App, signer: &RemoteActor, object: &Value) -> Result<()> {
    if super::flags::answered(app, signer, "Accept", object).await? {
        return Ok(());
    }
    let follower = match object.get("actor").and_then(Value::as_str) {
        Some(u) => local_actor_by_url(app, u).await?,
        None => None,
    };
    let Some(f) = our_follow(app, follower, Some(signer.id), object).await? else {
        return Ok(());
    };
    // Only the followed actor may accept.
    if f.target_id != signer.id {
        return Err(Error::Forbidden("only the followed actor can accept a follow".into()));
    }
    if f.state == "accepted" {
        return Ok(());
    }
    // Accepted: its past comes too (its outbox, crawled in the background).
    let mut tx = app.db.begin().await?;
    follows::set_state(&mut tx, f.id, "accepted", now_ms()).await?;
    super::backfill::queue(&mut tx, signer.id).await?;
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(target = %signer.url, "follow accepted");
    Ok(())
}

async fn on_reject(app: &App, signer: &RemoteActor, object: &Value) -> Result<()> {
    if super::flags::answered(app, signer, "Reject", object).await? {
        return Ok(());
    }
    let follower = match object.get("actor").and_then(Value::as_str) {
        Some(u) => local_actor_by_url(app, u).await?,
        None => None,
    };
    if let Some(f) = our_follow(app, follower, Some(signer.id), object).await? {
        if f.target_id != signer.id {
            return Err(Error::Forbidden("only the followed actor can reject a follow".into()));
        }
        follows::delete_pair(&app.db, f.follower_id, f.target_id).await?;
    }
    Ok(())
}

/// Our video a remote activity names: local, published and federated, or not found (a private
/// or unknown video is not there for other servers).
async fn our_video(app: &App, url: &str) -> Result<flotilla_db::videos::Video> {
    let prefix = crate::uris::video(app, "");
    let uuid = url.strip_prefix(&prefix).filter(|u| !u.is_empty() && !u.contains('/'));
    crate::video::get_federated(app, uuid.ok_or_else(|| Error::not_found("video"))?).await
}

/// Another server's actor likes or dislikes one of our videos (PeerTube's `Like` and `Dislike`):
/// one rating per actor and video, the latest wins, counted with the local ones. A private or
/// unknown video of ours is not found; a like of anything else is ignored.
async fn on_rate(app: &App, signer: &RemoteActor, kind: &str, activity: &Value, object: &Value) -> Result<()> {
    let url = remote::id_of(object).ok_or_else(|| Error::invalid("object", "a Like needs the video it likes"))?;
    if !url.starts_with(&crate::uris::video(app, "")) {
        // A like of something else (another server's video, an actor, a post): not ours to count.
        tracing::debug!(object = url, from = %signer.url, "rating of something not a video of ours; ignored");
        return Ok(());
    }
    let v = our_video(app, url).await?;
    let id = activity.get("id").and_then(Value::as_str).unwrap_or_default();
    let rating = if kind == "Like" { "like" } else { "dislike" };
    let mut tx = app.db.begin().await?;
    if flotilla_db::rates::set_remote(&mut tx, signer.id, v.id, Some((rating, id)), now_ms()).await? {
        super::rates::counts_changed(app, &mut tx, v.id).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

/// `Undo` of a `Like` or `Dislike`: the signer's own rating, named by its id (or, embedded, by the
/// video it rated), is removed; anyone else's is out of reach.
async fn on_undo_rate(app: &App, signer: &RemoteActor, object: &Value) -> Result<()> {
    // An embedded rating that is not the signer's (its actor, or its id on another server) names
    // someone else's: nothing of the signer's is undone by it.
    let actor = object.get("actor").and_then(remote::id_of);
    let id_host = remote::id_of(object).and_then(remote::host);
    if actor.is_some_and(|a| a != signer.url) || id_host.is_some_and(|h| h != signer.host) {
        return Err(Error::Forbidden("only who gave a rating can undo it".into()));
    }
    // By its id: that rating only, if it is still there (one the signer has replaced since, a
    // like that became a dislike whose `Undo` arrives after the dislike, is gone already, and the
    // newer one stays). Without an id: the signer's rating of the video named, if of that kind.
    let mut tx = app.db.begin().await?;
    let changed = match remote::id_of(object) {
        Some(id) => flotilla_db::rates::remove_remote_by_url(&mut tx, signer.id, id).await?,
        None => match object.get("object").and_then(remote::id_of) {
            Some(url) => match our_video(app, url).await.ok() {
                Some(v) => {
                    let kind =
                        if object.get("type").and_then(Value::as_str) == Some("Like") { "like" } else { "dislike" };
                    let current = flotilla_db::rates::remote_get(&mut tx, signer.id, v.id).await?;
                    if current.is_some_and(|r| r == kind)
                        && flotilla_db::rates::set_remote(&mut tx, signer.id, v.id, None, now_ms()).await?
                    {
                        Some(v.id)
                    } else {
                        None
                    }
                }
                None => None,
            },
            None => None,
        },
    };
    if let Some(video) = changed {
        super::rates::counts_changed(app, &mut tx, video).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}

async fn on_undo(app: &App, signer: &RemoteActor, object: &Value) -> Result<()> {
    if crate::redundancy::is_cache_file_undo(object) {
        return crate::redundancy::undo(app, signer, object).await;
    }
    match object.get("type").and_then(Value::as_str) {
        Some("Like" | "Dislike") => on_undo_rate(app, signer, object).await,
        Some("Follow") | None => {
            let target = match object.get("object").and_then(remote::id_of) {
                Some(u) => local_actor_by_url(app, u).await?,
                None => None,
            };
            if let Some(f) = our_follow(app, Some(signer.id), target, object).await? {
                // Only the follower may undo its follow.
                if f.follower_id != signer.id {
                    return Err(Error::Forbidden("only the follower can undo a follow".into()));
                }
                follows::delete_pair(&app.db, f.follower_id, f.target_id).await?;
                tracing::info!(follower = %signer.url, "follower left");
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether an activity signed by someone other than its actor may be a comment passed on by the
/// server of the video it is under: a `Create`/`Update` of a `Note`, or a `Delete`.
fn is_forwarded_comment(kind: &str, activity: &Value) -> bool {
    let object = activity.get("object").unwrap_or(&Value::Null);
    match kind {
        "Create" | "Update" => super::comments::is_note(object),
        "Delete" => remote::id_of(object).is_some(),
        _ => false,
    }
}

/// Whether an activity's object is (or points to) a video: embedded with its type, or a URL that
/// an Announce shares (PeerTube announces videos by URL).
fn is_video(object: &Value) -> bool {
    match object {
        Value::Object(_) => object["type"] == "Video",
        Value::String(s) => s.contains("/videos/watch/") || s.contains("/w/"),
        _ => false,
    }
}

fn is_actor(object: &Value) -> bool {
    matches!(object["type"].as_str(), Some("Person" | "Group" | "Application" | "Service" | "Organization"))
}

/// A remote actor's new profile: only the actor itself may send it (no rebinding to another id).
async fn on_actor_update(app: &App, signer: &RemoteActor, object: &Value) -> Result<()> {
    if object["id"].as_str() != Some(signer.url.as_str()) {
        return Err(Error::Forbidden("an actor may only update itself".into()));
    }
    // Its key must stay the one that signed: a changed key comes through a fetch of the actor.
    let pem = object.pointer("/publicKey/publicKeyPem").and_then(Value::as_str);
    if pem.map(str::trim) != signer.public_key_pem.as_deref().map(str::trim) {
        return Err(Error::Forbidden("a profile update cannot change the key".into()));
    }
    remote::store_profile(app, object).await?;
    Ok(())
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::names_us;
    use crate::PublicUrl;

    #[test]
    fn only_our_own_host_is_ours_however_it_is_written() {
        let us = PublicUrl::parse("https://video.example").unwrap();
        for ours in ["video.example", "VIDEO.example", "video.example:443", " video.example "] {
            assert!(names_us(&us, ours), "{ours}");
        }
        for other in
            ["other.example", "video.example:8443", "video.example.evil", "video.example/x", "", "evil@video.example"]
        {
            assert!(!names_us(&us, other), "{other}");
        }
        let local = PublicUrl::parse("http://127.0.0.1:9000").unwrap();
        assert!(names_us(&local, "127.0.0.1:9000"));
        assert!(
            !names_us(&local, "127.0.0.1")
                && !names_us(&local, "127.0.0.1:9001")
                && !names_us(&local, "localhost:9000")
        );
    }
}
