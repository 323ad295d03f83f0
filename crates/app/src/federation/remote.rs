//! Actors of other servers: fetched through the guarded client, checked, stored, refreshed when
//! older than two days. Their keys verify the signatures of what they send us.

use flotilla_db::actors::{self, NewRemote, RemoteActor};
use flotilla_domain::time::now_ms;
use flotilla_federation::fetch::FetchError;
use serde_json::Value;

use crate::{App, Error, Result};

/// Remote actors older than this are fetched again on use.
pub const REFRESH_MS: i64 = 2 * 24 * 3600 * 1000;

pub fn fetch_error(e: FetchError) -> Error {
    match e {
        FetchError::Refused(..) => Error::bad_request("remote_refused", e.to_string()),
        FetchError::Network(..) | FetchError::Status(..) => Error::bad_request("remote_unreachable", e.to_string()),
        FetchError::NotActivityPub(..) | FetchError::TooLarge(..) => {
            Error::bad_request("remote_invalid", e.to_string())
        }
    }
}

fn host_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(match u.port() {
        Some(p) => format!("{}:{p}", u.host_str()?),
        None => u.host_str()?.to_string(),
    })
}

/// The host part (`host[:port]`) of a URL, lower-cased; `None` for something that is not a URL.
pub fn host(url: &str) -> Option<String> {
    host_of(url).map(|h| h.to_ascii_lowercase())
}

/// The URL from an AP `id`-or-object field.
pub fn id_of(v: &Value) -> Option<&str> {
    v.as_str().or_else(|| v.get("id").and_then(Value::as_str))
}

/// Fetches and stores the actor at `url`; the document must be an actor whose key belongs to it.
pub async fn fetch_actor(app: &App, url: &str) -> Result<RemoteActor> {
    let doc = fetch_actor_document(app, url).await?;
    store_actor(app, &doc).await
}

/// Fetches the actor document at `url` and checks it ([`check_actor`]) without storing anything:
/// the inbox stores a signer only once its signature verified with this key.
pub async fn fetch_actor_document(app: &App, url: &str) -> Result<Value> {
    let signer = super::instance_signer(app).await?;
    let doc = app.fetcher.get_ap(url, Some(&signer)).await.map_err(fetch_error)?;
    check_actor(app, &doc)?;
    Ok(doc)
}

/// What a checked actor document says.
pub struct CheckedActor<'a> {
    pub kind: &'a str,
    pub id: &'a str,
    pub host: String,
    pub name: &'a str,
    pub inbox: &'a str,
    pub shared_inbox: Option<&'a str>,
    pub display: Option<String>,
    pub public_key_pem: &'a str,
}

/// Checks an actor document: an actor type, on another server, its key its own, its inboxes on its
/// own server, its fields within our limits.
pub fn check_actor<'a>(app: &App, doc: &'a Value) -> Result<CheckedActor<'a>> {
    let invalid = |m: &str| Error::bad_request("remote_invalid", format!("invalid actor: {m}"));
    let id = doc.get("id").and_then(Value::as_str).ok_or_else(|| invalid("no id"))?;
    let kind = doc.get("type").and_then(Value::as_str).ok_or_else(|| invalid("no type"))?;
    if !matches!(kind, "Person" | "Group" | "Application" | "Service" | "Organization") {
        return Err(invalid(&format!("'{kind}' is not an actor type")));
    }
    let host = host(id).ok_or_else(|| invalid("its id is not a URL"))?;
    if host == app.public.host {
        return Err(invalid("it claims to be one of ours"));
    }
    let inbox = doc.get("inbox").and_then(Value::as_str).ok_or_else(|| invalid("no inbox"))?;
    let key = doc.get("publicKey").ok_or_else(|| invalid("no publicKey"))?;
    let owner = key.get("owner").and_then(Value::as_str).unwrap_or_default();
    if owner != id {
        return Err(invalid("its publicKey.owner is another actor"));
    }
    let pem = key.get("publicKeyPem").and_then(Value::as_str).ok_or_else(|| invalid("no publicKeyPem"))?;
    flotilla_federation::keys::public_from_pem(pem).map_err(|e| invalid(&e.to_string()))?;
    // Delivery addresses must be on the actor's own server.
    let shared = doc.pointer("/endpoints/sharedInbox").and_then(Value::as_str);
    for u in std::iter::once(inbox).chain(shared) {
        if self::host(u).as_deref() != Some(host.as_str()) {
            return Err(invalid("its inbox is on another server"));
        }
    }
    let name = doc.get("preferredUsername").and_then(Value::as_str).unwrap_or(id);
    // Federated fields get the limits our own have (Mastodon CVE-2026-23963).
    if name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(invalid("preferredUsername is too long or has control characters"));
    }
    if id.len() > 2048 || inbox.len() > 2048 || shared.is_some_and(|s| s.len() > 2048) {
        return Err(invalid("its URLs are too long"));
    }
    let display =
        doc.get("name").and_then(Value::as_str).map(|n| n.chars().filter(|c| !invisible(*c)).take(120).collect());
    Ok(CheckedActor { kind, id, host, name, inbox, shared_inbox: shared, display, public_key_pem: pem })
}

/// Checks an actor document and stores it.
pub async fn store_actor(app: &App, doc: &Value) -> Result<RemoteActor> {
    let c = check_actor(app, doc)?;
    let now = now_ms();
    let row = NewRemote {
        kind: c.kind,
        name: c.name,
        host: &c.host,
        url: c.id,
        inbox: c.inbox,
        shared_inbox: c.shared_inbox,
        followers_url: doc.get("followers").and_then(Value::as_str).filter(|u| u.len() <= 2048),
        display_name: c.display.as_deref(),
        public_key_pem: c.public_key_pem,
        now,
    };
    let actor_id = actors::upsert(&app.db, &row).await?;
    for (kind, field) in [("avatar", "icon"), ("banner", "image")] {
        if let Some(url) = image_url(&doc[field]).filter(|u| self::host(u).is_some()) {
            copy_image_if_new(app, actor_id, kind, url).await;
        }
    }
    actors::get(&app.db, actor_id).await?.ok_or_else(|| Error::not_found("actor"))
}

/// The URL of an `icon`/`image`: one `Image`, or PeerTube's list of sizes (the largest is taken,
/// we make our own sizes), with `url` a string or a `Link`.
fn image_url(v: &Value) -> Option<&str> {
    let one = match v {
        Value::Array(list) => list.iter().max_by_key(|i| i["width"].as_i64().unwrap_or(0))?,
        other => other,
    };
    match &one["url"] {
        Value::String(s) => Some(s),
        Value::Object(link) => link.get("href").and_then(Value::as_str),
        Value::Array(links) => links.first().and_then(|l| l["href"].as_str().or(l.as_str())),
        _ => None,
    }
}

/// Queues a copy of a remote actor's avatar or banner when its URL is not the one we copied.
async fn copy_image_if_new(app: &App, actor_id: i64, kind: &str, url: &str) {
    let known = flotilla_db::images::source_of(&app.db, actor_id, kind).await.ok().flatten();
    if known.as_deref() == Some(url) || url.len() > 2048 {
        return;
    }
    let job = crate::jobs::Job::FetchActorImage { actor_id, kind: kind.to_string(), url: url.to_string() };
    match crate::jobs::enqueue(&app.db, &job).await {
        Ok(_) => app.wake_jobs(),
        Err(e) => tracing::warn!(actor = actor_id, error = %e, "cannot queue an avatar copy"),
    }
}

/// The job that copies a remote actor's avatar or banner here (decoded and re-encoded, as every
/// image we serve). An image that will never work is recorded as copied all the same, so the
/// actor's next refresh does not queue it again.
pub async fn fetch_image(
    app: &App,
    actor_id: i64,
    kind: &str,
    url: &str,
) -> std::result::Result<(), crate::jobs::Failure> {
    use crate::jobs::Failure;
    let which = if kind == "banner" { crate::image::Kind::Banner } else { crate::image::Kind::Avatar };
    let outcome = match app.fetcher.get_image(url, app.config.http.max_image_bytes).await {
        Ok(bytes) => {
            crate::image::set_remote(app, actor_id, which, bytes).await.map_err(|e| Failure::Fail(e.to_string()))
        }
        Err(e) if e.is_temporary() => return Err(Failure::Retry(e.to_string())),
        Err(e) => Err(Failure::Fail(e.to_string())),
    };
    flotilla_db::images::set_source(&app.db, actor_id, kind, url).await?;
    outcome
}

/// Characters a display name must not carry: control characters, and the bidirectional overrides
/// and isolates that make a name read as something else (U+202E before "gpj.exe").
fn invisible(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// A remote actor by URL: from the store (refreshed in the background when stale), fetched when
/// unknown.
pub async fn actor(app: &App, url: &str) -> Result<RemoteActor> {
    if let Some(a) = actors::get_by_url(&app.db, url).await? {
        refresh_if_stale(app, &a).await;
        return Ok(a);
    }
    fetch_actor(app, url).await
}

/// A remote actor older than [`REFRESH_MS`] was looked at: queue a refresh from its server. The
/// caller goes on with the stored copy (a slow or dead server never holds up a page).
pub async fn refresh_if_stale(app: &App, a: &RemoteActor) {
    if now_ms() - a.fetched_at < REFRESH_MS {
        return;
    }
    match crate::jobs::enqueue(&app.db, &crate::jobs::Job::RefreshActor { url: a.url.clone() }).await {
        Ok(_) => app.wake_jobs(),
        Err(e) => tracing::warn!(actor = %a.url, error = %e, "cannot queue an actor refresh"),
    }
}

/// The refresh job: the actor's current document replaces our copy, names included.
pub async fn refresh(app: &App, url: &str) -> std::result::Result<(), crate::jobs::Failure> {
    use crate::jobs::Failure;
    let signer = super::instance_signer(app).await?;
    match app.fetcher.get_ap(url, Some(&signer)).await {
        Ok(doc) => {
            store_profile(app, &doc).await?;
            tracing::info!(actor = url, "remote actor refreshed");
            Ok(())
        }
        Err(e) if e.is_temporary() => Err(Failure::Retry(e.to_string())),
        Err(e) => {
            // Not worth asking again for another two days; what we have stays in use.
            if let Some(a) = actors::get_by_url(&app.db, url).await? {
                actors::set_fetched_at(&app.db, a.id, now_ms()).await?;
            }
            Err(Failure::Fail(e.to_string()))
        }
    }
}

/// A remote actor deleted itself: what we keep of it goes, as Mastodon and PeerTube do — its
/// follows either way, its channels (an account's too) with their videos and cached files, its
/// images. Nothing of another actor is touched.
pub async fn forget_actor(app: &App, actor: &RemoteActor) -> Result<()> {
    use flotilla_db::{accounts, channels, images, videos};
    let mut owned = Vec::new();
    if let Some(c) = channels::get_by_actor(&app.db, actor.id).await? {
        owned.push(c);
    }
    if let Some(a) = accounts::get_by_actor(&app.db, actor.id).await? {
        owned.extend(channels::list_by_account(&app.db, a.account_id()).await?);
    }
    let channel_ids: Vec<i64> = owned.iter().map(|c| c.id).collect();
    let mut actor_ids: Vec<i64> = owned.iter().map(|c| c.actor_id).filter(|id| *id != actor.id).collect();
    actor_ids.push(actor.id);
    // Rows in one transaction, files after it: a failure leaves nothing half forgotten.
    let mut tx = app.db.begin().await?;
    let gone = videos::list_for_channels(&mut tx, &channel_ids).await?;
    let files = images::filenames_for(&mut tx, &actor_ids).await?;
    for v in &gone {
        videos::delete(&mut tx, v.id).await?;
    }
    for id in &actor_ids {
        accounts::delete_actor(&mut tx, *id).await?;
    }
    tx.commit().await?;
    for v in &gone {
        crate::video::remove_files(app, v).await;
    }
    crate::image::remove_files(app, &files).await;
    tracing::info!(actor = %actor.url, videos = gone.len(), "remote actor deleted itself; forgotten");
    Ok(())
}

/// Stores an actor document and carries its name to the account or channel it is.
pub async fn store_profile(app: &App, doc: &Value) -> Result<RemoteActor> {
    let stored = store_actor(app, doc).await?;
    if let Some(name) = stored.display_name.as_deref() {
        if let Some(a) = flotilla_db::accounts::get_by_actor(&app.db, stored.id).await? {
            flotilla_db::accounts::update(&app.db, a.account_id(), Some(name), None, now_ms()).await?;
        }
        if let Some(c) = flotilla_db::channels::get_by_actor(&app.db, stored.id).await? {
            let patch = flotilla_db::channels::ChannelPatch { display_name: Some(name), ..Default::default() };
            flotilla_db::channels::update(&app.db, c.channel_id(), &patch, now_ms()).await?;
        }
    }
    Ok(stored)
}

/// Finds the actor a WebFinger address names (`name@host`) and fetches it.
pub async fn actor_by_handle(app: &App, name: &str, host: &str) -> Result<RemoteActor> {
    let scheme = if app.config.federation.allow_private { "http" } else { "https" };
    let wf = format!("{scheme}://{host}/.well-known/webfinger?resource=acct:{name}@{host}");
    let jrd = app.fetcher.get_json(&wf).await.map_err(fetch_error)?;
    let href = jrd["links"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| {
            l["rel"] == "self"
                && l["type"].as_str().is_some_and(|t| t.contains("activity+json") || t.contains("ld+json"))
        })
        .and_then(|l| l["href"].as_str())
        .ok_or_else(|| Error::bad_request("remote_invalid", format!("{name}@{host} has no ActivityPub actor")))?
        .to_string();
    if self::host(&href).as_deref() != Some(&host.to_ascii_lowercase()) {
        return Err(Error::bad_request("remote_invalid", format!("{name}@{host} points to another server")));
    }
    actor(app, &href).await
}

#[cfg(test)]
mod props;
