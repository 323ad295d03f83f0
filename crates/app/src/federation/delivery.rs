//! Sending our activities: one persisted job per destination inbox (shared inboxes, deduplicated),
//! signed by the sending actor when it runs, retried with backoff for about a day. At most
//! [`PER_HOST`] deliveries to one host run at once (a slow server cannot take every worker), and a
//! host that has failed every delivery for [`DEAD_AFTER_MS`] is dead: nothing more is queued for it,
//! and its queued deliveries are dropped, until it sends us a valid activity again.
//!
//! An activity written by the sending actor also carries its Linked-Data signature
//! (`RsaSignature2017`, made once per activity and kept in [`LdSignatures`] for the other inboxes of
//! its fan-out), so that a server it reaches can pass it on: PeerTube forwards a comment on its
//! video to its followers only with it. Activities we forward (written by others) go as received.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use flotilla_db::hosts;
use flotilla_domain::time::now_ms;
use flotilla_federation::fetch::Signer;
use serde_json::Value;

use crate::jobs::{self, Failure, Job};
use crate::{App, Result};

/// Deliveries to one host at once.
pub const PER_HOST: usize = 2;
/// A host failing without a success for this long is dead (the retries of one delivery last about
/// as long).
pub const DEAD_AFTER_MS: i64 = 24 * 3600 * 1000;

/// Counts of deliveries in flight, by host; `freed` wakes the workers that deferred a job when a
/// slot is given back (without it they would sleep until their next poll).
#[derive(Default)]
pub struct HostSlots(Mutex<HashMap<String, usize>>, pub tokio::sync::Notify);

/// Linked-Data signatures made lately, by (actor, activity id): a fan-out to many inboxes signs
/// once. Bounded; a signature that fell out is made again (with a new `created`).
pub struct LdSignatures(Mutex<lru::LruCache<(i64, String), Value>>);

/// Signatures kept.
const LD_SIGNATURES_KEPT: usize = 256;

impl Default for LdSignatures {
    fn default() -> Self {
        LdSignatures(Mutex::new(lru::LruCache::new(std::num::NonZeroUsize::new(LD_SIGNATURES_KEPT).expect("> 0"))))
    }
}

/// `activity` with its author's Linked-Data signature, when the signer is its author and it has
/// none yet; otherwise as it is (a forward keeps its author's signature, or goes without one).
async fn ld_signed(app: &App, actor_id: i64, signer: &Signer, activity: Value) -> Result<Value> {
    let actor = activity.get("actor").and_then(Value::as_str).unwrap_or_default();
    let id = activity.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    if activity.get("signature").is_some() || id.is_empty() || crate::uris::key_id(actor) != signer.key_id {
        return Ok(activity);
    }
    let key = (actor_id, id);
    let cached = app.ld_signatures.0.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
    let signature = match cached {
        Some(s) => s,
        None => {
            let (doc, creator, private) = (activity.clone(), signer.key_id.clone(), signer.key.clone());
            let created = time::OffsetDateTime::now_utc()
                .replace_millisecond(0)
                .ok()
                .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                .unwrap_or_default();
            // Canonicalization and RSA are CPU work: off the async threads.
            let signed = tokio::task::spawn_blocking(move || {
                flotilla_federation::ld_signature::sign(&doc, &creator, &created, &private)
            })
            .await
            .map_err(|e| crate::Error::Internal(e.to_string()))?;
            match signed {
                Ok(s) => {
                    app.ld_signatures.0.lock().unwrap_or_else(|p| p.into_inner()).put(key, s.clone());
                    s
                }
                // A document we cannot canonicalize (a context we do not hold, an IRI the JSON-LD
                // processor refuses) still goes, as it did before these signatures: only servers
                // that would pass it on miss it.
                Err(e) => {
                    tracing::warn!(activity = %key.1, error = %e, "no Linked-Data signature; sent without");
                    return Ok(activity);
                }
            }
        }
    };
    let mut activity = activity;
    activity["signature"] = signature;
    Ok(activity)
}

/// A taken slot, given back when dropped.
pub struct Slot<'a> {
    slots: &'a HostSlots,
    host: String,
}

impl HostSlots {
    fn take(&self, host: &str) -> Option<Slot<'_>> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(host.to_string()).or_default();
        if *n >= PER_HOST {
            return None;
        }
        *n += 1;
        Some(Slot { slots: self, host: host.to_string() })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        {
            let mut m = self.slots.0.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = m.get_mut(&self.host) {
                *n -= 1;
                if *n == 0 {
                    m.remove(&self.host);
                }
            }
        }
        self.slots.1.notify_waiters();
    }
}

/// Queues `activity` from local actor `actor_id` to each inbox, in the caller's transaction.
/// Inboxes of dead hosts are left out.
pub async fn enqueue(tx: &mut flotilla_db::Tx, actor_id: i64, activity: &Value, inboxes: &[String]) -> Result<()> {
    let dead = hosts::dead(&mut *tx, now_ms() - DEAD_AFTER_MS).await?;
    let mut seen = std::collections::HashSet::new();
    for inbox in inboxes {
        if super::remote::host(inbox).is_some_and(|h| dead.contains(&h)) {
            tracing::debug!(inbox, "not delivering to a dead host");
            continue;
        }
        if seen.insert(inbox.clone()) {
            jobs::enqueue(&mut *tx, &Job::Deliver { actor_id, inbox: inbox.clone(), activity: activity.clone() })
                .await?;
        }
    }
    Ok(())
}

/// Runs one delivery job.
pub async fn run(app: &Arc<App>, actor_id: i64, inbox: &str, activity: &Value) -> std::result::Result<(), Failure> {
    let host = super::remote::host(inbox).unwrap_or_default();
    let host = host.as_str();
    // A server this instance blocks hears nothing from it (the fetcher would refuse it anyway):
    // done, not failed, so its followers' deliveries do not pile up as failures.
    if crate::blocklist::refuses_host(app, host) {
        tracing::debug!(inbox, "not delivered: the server is blocked");
        return Ok(());
    }
    let Some(_slot) = app.host_slots.take(host) else {
        return Err(Failure::Defer(std::time::Duration::from_millis(50)));
    };
    let known = hosts::get(&app.db, host).await.map_err(crate::Error::from)?;
    if let Some(since) = known.as_ref().and_then(|h| h.failing_since)
        && since < now_ms() - DEAD_AFTER_MS
    {
        return Err(Failure::Fail(format!("{host} has failed every delivery for over a day; dropped")));
    }
    // An actor's `Delete` of itself is signed with its retired key (the actor is gone; the servers
    // that know it still hold its public key). Any other activity of an actor deleted since (a
    // user removed with their videos) can no longer be signed by it: the instance actor, of the
    // same origin, speaks for it.
    let actor_url = activity.get("actor").and_then(Value::as_str).unwrap_or_default();
    let self_delete = activity.get("type").and_then(Value::as_str) == Some("Delete")
        && activity.get("object").and_then(Value::as_str) == Some(actor_url);
    let retired = match self_delete {
        true => {
            flotilla_db::accounts::retired_key(&app.db, actor_url).await.map_err(|e| Failure::Retry(e.to_string()))?
        }
        false => None,
    };
    let (signer, activity) = match retired {
        Some(pem) => {
            let key = flotilla_federation::keys::private_from_pem(&pem).map_err(|e| Failure::Fail(e.to_string()))?;
            (Signer { key_id: crate::uris::key_id(actor_url), key }, activity.clone())
        }
        None => match super::signer(app, actor_id).await {
            Ok(signer) => (signer, activity.clone()),
            Err(crate::Error::NotFound(_)) => {
                let signer = super::instance_signer(app).await.map_err(|e| Failure::Retry(e.to_string()))?;
                let mut activity = activity.clone();
                activity["actor"] = Value::String(crate::uris::instance_actor(app));
                (signer, activity)
            }
            Err(e) => return Err(Failure::Retry(e.to_string())),
        },
    };
    let activity = ld_signed(app, actor_id, &signer, activity).await.map_err(|e| Failure::Fail(e.to_string()))?;
    let body = serde_json::to_vec(&activity).map_err(|e| Failure::Fail(e.to_string()))?;
    match app.fetcher.post_signed(inbox, &body, &signer).await {
        Ok(()) => {
            hosts::succeeded(&app.db, host, now_ms()).await.map_err(crate::Error::from)?;
            Ok(())
        }
        Err(e) if e.is_temporary() => {
            hosts::failed(&app.db, host, &e.to_string(), now_ms()).await.map_err(crate::Error::from)?;
            Err(Failure::Retry(e.to_string()))
        }
        Err(e) => Err(Failure::Fail(e.to_string())),
    }
}

/// [`crate::events::Event::ActorDeleted`]: the actor's `Delete` of itself (as PeerTube and
/// Mastodon send it), signed with its retired key.
pub async fn actor_deleted(app: &App, gone: &crate::events::ActorGone) -> Result<()> {
    let activity = serde_json::json!({
        "@context": crate::ap::actor_context(),
        "type": "Delete",
        "id": format!("{}#delete", gone.actor_url),
        "actor": gone.actor_url,
        "to": [crate::ap::PUBLIC],
        "object": gone.actor_url,
    });
    let mut tx = app.db.begin().await?;
    enqueue(&mut tx, gone.actor_id, &activity, &gone.inboxes).await?;
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(actor = %gone.actor_url, inboxes = gone.inboxes.len(), "actor deletion federated");
    Ok(())
}

/// Forgets the keys of actors deleted more than three days ago (their `Delete`s are delivered or
/// given up by then); how many.
pub async fn prune_retired_keys(app: &App, now: i64) -> Result<u64> {
    Ok(flotilla_db::accounts::prune_retired_keys(&app.db, now - 3 * 24 * 3600 * 1000).await?)
}

/// Tells the followers of a local actor that its profile changed (`Update(Person|Group)`).
pub async fn actor_updated(app: &App, actor_id: i64) -> Result<()> {
    let inboxes = flotilla_db::follows::follower_inboxes(&app.db, &[actor_id]).await?;
    if inboxes.is_empty() {
        return Ok(());
    }
    let url = super::local_actor_url(app, actor_id).await?;
    let object = match flotilla_db::accounts::local_actor(&app.db, actor_id).await?.map(|k| k.0).as_deref() {
        Some("Group") => {
            let c = crate::channel::get_by_handle(app, url.rsplit('/').next().unwrap_or_default()).await?;
            crate::ap::channel_to_ap(app, &c).await?
        }
        _ => {
            let a = crate::account::get_local(app, url.rsplit('/').next().unwrap_or_default()).await?;
            crate::ap::account_to_ap(app, &a).await?
        }
    };
    let activity = serde_json::json!({
        "@context": crate::ap::actor_context(),
        "type": "Update",
        "id": format!("{url}/updates/{}", flotilla_domain::time::now_ms()),
        "actor": url,
        "to": [crate::ap::PUBLIC],
        "object": crate::ap::without_context(object),
    });
    let mut tx = app.db.begin().await?;
    enqueue(&mut tx, actor_id, &activity, &inboxes).await?;
    tx.commit().await?;
    app.wake_jobs();
    Ok(())
}
