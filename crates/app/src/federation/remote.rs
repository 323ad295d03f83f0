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
    let signer = super::instance_signer(app).await?;
    let doc = app.fetcher.get_ap(url, Some(&signer)).await.map_err(fetch_error)?;
    store_actor(app, &doc).await
}

/// Checks an actor document and stores it.
pub async fn store_actor(app: &App, doc: &Value) -> Result<RemoteActor> {
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
    if id.len() > 2048 || inbox.len() > 2048 {
        return Err(invalid("its URLs are too long"));
    }
    let display: Option<String> =
        doc.get("name").and_then(Value::as_str).map(|n| n.chars().filter(|c| !c.is_control()).take(120).collect());
    let now = now_ms();
    let row = NewRemote {
        kind,
        name,
        host: &host,
        url: id,
        inbox,
        shared_inbox: shared,
        followers_url: doc.get("followers").and_then(Value::as_str),
        display_name: display.as_deref(),
        public_key_pem: pem,
        now,
    };
    let actor_id = actors::upsert(&app.db, &row).await?;
    actors::get(&app.db, actor_id).await?.ok_or_else(|| Error::not_found("actor"))
}

/// A remote actor by URL: from the store while fresh, fetched otherwise.
pub async fn actor(app: &App, url: &str) -> Result<RemoteActor> {
    if let Some(a) = actors::get_by_url(&app.db, url).await? {
        if now_ms() - a.fetched_at < REFRESH_MS {
            return Ok(a);
        }
        // Stale: refresh, but an unreachable server does not make a known actor unknown.
        return match fetch_actor(app, url).await {
            Ok(fresh) => Ok(fresh),
            Err(e) => {
                tracing::warn!(actor = url, error = %e, "cannot refresh a remote actor; using what we have");
                Ok(a)
            }
        };
    }
    fetch_actor(app, url).await
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
