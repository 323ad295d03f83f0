//! Moving house with one's followers (ActivityPub `Move`, as Mastodon does; PeerTube has none).
//! The new account or channel (here or anywhere) first names the old one among its
//! `alsoKnownAs`; then the old one moves: it records `movedTo` and sends
//! `Move { actor: old, object: old, target: new }` to its followers. A server that receives it
//! reads the target from its origin, checks that it names the mover in `alsoKnownAs` (so nobody
//! can steal another's followers), and moves each of its own follows of the old actor to the new
//! one: a `Follow` of the new, an `Undo` of the old, one transaction per move.

use flotilla_db::actors::{self, RemoteActor};
use flotilla_db::follows;
use flotilla_domain::time::now_ms;
use serde_json::{Value, json};

use crate::federation::{delivery, remote};
use crate::{App, Error, Result};

/// Other addresses one actor may name at most.
const MAX_ALIASES: usize = 5;

fn invalid(msg: impl Into<String>) -> Error {
    Error::invalid("target", msg)
}

/// A remote actor named by URL or `name@host`, read from its origin now.
async fn fresh(app: &App, handle: &str) -> Result<(Value, RemoteActor)> {
    let url = if handle.starts_with("https://") || handle.starts_with("http://") {
        handle.to_string()
    } else {
        let (name, host) = handle
            .trim_start_matches('@')
            .split_once('@')
            .ok_or_else(|| invalid(format!("'{handle}' is neither an address name@host nor a URL")))?;
        remote::actor_by_handle(app, name, host).await?.url
    };
    if remote::host(&url).as_deref() == Some(app.public.host.as_str()) {
        return Err(invalid("that address is on this instance: moving within one instance is not supported"));
    }
    let doc = remote::fetch_actor_document(app, &url).await?;
    let actor = remote::store_actor(app, &doc).await?;
    Ok((doc, actor))
}

fn names(doc: &Value, url: &str) -> bool {
    match &doc["alsoKnownAs"] {
        Value::Array(a) => a.iter().any(|v| remote::id_of(v) == Some(url)),
        Value::String(s) => s == url,
        _ => false,
    }
}

/// Sets the other addresses of local actor `actor_id` (`kind`: `Person` or `Group`): where it
/// moves from. Answers `{ aliases: [urls] }`.
pub async fn set_aliases(app: &App, actor_id: i64, kind: &str, handles: &[String]) -> Result<Value> {
    if handles.len() > MAX_ALIASES {
        return Err(Error::invalid("aliases", format!("at most {MAX_ALIASES} other addresses")));
    }
    let mut urls = Vec::new();
    for h in handles {
        let (_, a) = fresh(app, h.trim()).await.map_err(|e| match e {
            Error::Validation(_) => e,
            other => Error::invalid("aliases", format!("{h}: {other}")),
        })?;
        if a.kind != kind {
            return Err(Error::invalid("aliases", format!("{h} is a {}, not a {kind}", a.kind)));
        }
        if !urls.contains(&a.url) {
            urls.push(a.url);
        }
    }
    actors::set_aliases(&app.db, actor_id, &urls).await?;
    Ok(json!({ "aliases": urls }))
}

pub async fn aliases(app: &App, actor_id: i64) -> Result<Value> {
    Ok(json!({ "aliases": actors::move_info(&app.db, actor_id).await?.0 }))
}

/// Moves local actor `actor_id` (at `url`) to `target`, which must name it in `alsoKnownAs`: its
/// followers are sent `Move`.
pub async fn move_to(app: &App, actor_id: i64, kind: &str, url: &str, target: &str) -> Result<Value> {
    if actors::move_info(&app.db, actor_id).await?.1.is_some() {
        return Err(Error::Conflict("this account or channel has moved already".into()));
    }
    let (doc, to) = fresh(app, target.trim()).await?;
    if to.kind != kind {
        return Err(invalid(format!("{target} is a {}, not a {kind}", to.kind)));
    }
    if !names(&doc, url) {
        return Err(Error::bad_request(
            "move_not_aliased",
            format!("{} must first name {url} among its other addresses (alsoKnownAs)", to.url),
        ));
    }
    let inboxes = follows::follower_inboxes(&app.db, &[actor_id]).await?;
    let activity = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "type": "Move",
        "id": format!("{url}/moves/{}", now_ms()),
        "actor": url,
        "object": url,
        "target": to.url,
        "to": [format!("{url}/followers")],
    });
    let mut tx = app.db.begin().await?;
    actors::set_moved_to(&mut tx, actor_id, &to.url).await?;
    if !inboxes.is_empty() {
        delivery::enqueue(&mut tx, actor_id, &activity, &inboxes).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(from = url, to = %to.url, followers = inboxes.len(), "moved");
    Ok(json!({ "movedTo": to.url }))
}

/// A `Move` received: our follows of the mover go to its new address, if that address agrees.
pub async fn received(app: &App, signer: &RemoteActor, activity: &Value) -> Result<()> {
    if remote::id_of(&activity["object"]) != Some(signer.url.as_str()) {
        return Err(Error::Forbidden("an actor moves itself only".into()));
    }
    let target = activity["target"].as_str().ok_or_else(|| Error::invalid("target", "a Move needs a target"))?;
    if target == signer.url {
        return Err(Error::invalid("target", "a Move to itself"));
    }
    let doc = remote::fetch_actor_document(app, target).await?;
    if !names(&doc, &signer.url) {
        return Err(Error::Forbidden(format!("{target} does not name {} among its other addresses", signer.url)));
    }
    let to = remote::store_actor(app, &doc).await?;
    if to.kind != signer.kind {
        return Err(Error::Forbidden("a Move to an actor of another kind".into()));
    }
    if to.kind == "Group" {
        super::videos::remote_channel(app, &to.url).await?;
    }
    let old = follows::local_followers(&app.db, signer.id).await?;
    let mut tx = app.db.begin().await?;
    actors::set_moved_to(&mut tx, signer.id, &to.url).await?;
    for f in &old {
        let me_url = super::local_actor_url(app, f.follower_id).await?;
        let activity_id = format!("{me_url}/follows/{}", uuid::Uuid::new_v4());
        let follow = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "type": "Follow",
            "id": activity_id,
            "actor": me_url,
            "object": to.url,
        });
        follows::upsert(&mut tx, f.follower_id, to.id, "pending", Some(&activity_id), now_ms()).await?;
        delivery::enqueue(&mut tx, f.follower_id, &follow, std::slice::from_ref(&to.inbox)).await?;
        follows::delete_pair(&mut tx, f.follower_id, signer.id).await?;
        let undo = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "type": "Undo",
            "id": format!("{me_url}/follows/{}/undo", f.id),
            "actor": me_url,
            "object": { "type": "Follow", "id": f.activity_id, "actor": me_url, "object": signer.url },
        });
        delivery::enqueue(&mut tx, f.follower_id, &undo, std::slice::from_ref(&signer.inbox)).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(from = %signer.url, to = %to.url, follows = old.len(), "followed a move");
    Ok(())
}

/// `alsoKnownAs` and `movedTo` of a local actor's document.
pub async fn annotate(app: &App, actor_id: i64, doc: &mut Value) -> Result<()> {
    let (aka, moved) = actors::move_info(&app.db, actor_id).await?;
    if !aka.is_empty() {
        doc["alsoKnownAs"] = json!(aka);
    }
    if let Some(m) = moved {
        doc["movedTo"] = json!(m);
    }
    Ok(())
}
