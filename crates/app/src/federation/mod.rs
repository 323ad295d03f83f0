//! Federation's use-cases: remote actors (`remote`), the inbox (`inbox`), delivery of our
//! activities (`delivery`) and follows between instances (`follow`). Wire formats and signatures
//! are `flotilla_federation`'s; this module decides what they mean here.

use flotilla_db::accounts;
use flotilla_federation::fetch::Signer;

use crate::{App, Error, Result, ap, uris};

pub mod backfill;
pub mod comments;
pub mod delivery;
pub mod flags;
pub mod follow;
pub mod inbox;
pub mod moves;
pub mod playlists;
pub mod rates;
pub mod remote;
pub mod search;
pub mod subscriptions;
pub mod videos;
pub mod views;

#[cfg(test)]
mod props;

pub use flotilla_federation::fetch::with_budget as with_fetch_budget;

/// Federation's part in what happened (`events`): the activities each event sends, queued as
/// deliveries in one transaction.
pub async fn on_event(app: &App, event: &crate::events::Event) -> Result<()> {
    use crate::events::Event;
    match event {
        Event::VideoPublished { video_id } => videos::published(app, *video_id).await,
        Event::VideoUpdated { video_id, was_federated } | Event::LiveStarted { video_id, was_federated, .. } => {
            videos::changed(app, *video_id, *was_federated).await
        }
        Event::VideoDeleted(gone) => videos::send_delete(app, gone).await,
        Event::RemoteViewer { video_id, viewer } => views::send_viewer(app, *video_id, viewer).await,
        Event::ActorUpdated { actor_id } => delivery::actor_updated(app, *actor_id).await,
        Event::VideoRated { user_id, video_id, old, new } => {
            rates::rated(app, *user_id, *video_id, old.as_ref(), new.as_ref()).await
        }
        Event::CommentCreated { comment_id } => comments::created(app, *comment_id).await,
        Event::CommentApproved { comment_id } => comments::approved(app, *comment_id).await,
        Event::ActorDeleted(gone) => delivery::actor_deleted(app, gone).await,
        Event::CommentReplyApproved { comment_id, approval } => {
            comments::reply_approved(app, *comment_id, approval).await
        }
        Event::AbuseCreated { abuse_id } => flags::created(app, *abuse_id).await,
        // Withdrawn: followers are told to delete it (`changed` sees it no longer federates).
        Event::VideoBlocked { video_id, was_federated, .. } => {
            if *was_federated {
                videos::changed(app, *video_id, true).await
            } else {
                Ok(())
            }
        }
        // Back: sent as new to followers when it had been withdrawn or held.
        Event::VideoUnblocked { video_id, was_unfederated, .. } => {
            if *was_unfederated {
                videos::changed(app, *video_id, false).await
            } else {
                Ok(())
            }
        }
        Event::AbuseStateChanged { abuse_id, state, remote } => {
            if *remote {
                Ok(())
            } else {
                flags::state_changed(app, *abuse_id, *state).await
            }
        }
        Event::PlaylistChanged { playlist_id, was_federated } => {
            playlists::changed(app, *playlist_id, *was_federated).await
        }
        Event::PlaylistDeleted { url, actor_id, actor_url, inboxes } => {
            playlists::send_delete(app, url, *actor_id, actor_url, inboxes).await
        }
        Event::RemoteVideoPublished { .. } | Event::ActorFollowed { .. } | Event::AbuseMessaged { .. } => Ok(()),
        Event::CommentDeleted { comment_id, url, actor_id } => {
            comments::deleted(app, *comment_id, url, *actor_id).await
        }
    }
}

/// Federation's part when a remote copy is read (`events::seen`): refreshed from its origin when
/// it is older than two days.
pub async fn on_seen(app: &App, what: crate::events::Seen<'_>) {
    use crate::events::Seen;
    match what {
        Seen::Video(v) => videos::refresh_if_stale(app, v).await,
        Seen::Actor(a) => remote::refresh_if_stale(app, a).await,
    }
}

/// The URL of a local actor.
pub async fn local_actor_url(app: &App, actor_id: i64) -> Result<String> {
    let (kind, name) = accounts::local_actor(&app.db, actor_id).await?.ok_or_else(|| Error::not_found("actor"))?;
    Ok(match kind.as_str() {
        "Group" => uris::channel(app, &name),
        _ => uris::account(app, &name),
    })
}

/// The local actor a URL of ours names (`/accounts/x`, `/video-channels/x`), if any.
pub async fn local_actor_by_url(app: &App, url: &str) -> Result<Option<i64>> {
    let base = app.public.base();
    let Some(path) = url.strip_prefix(&base) else { return Ok(None) };
    let (kind, name) = if let Some(n) = path.strip_prefix("/accounts/") {
        (if n == ap::INSTANCE_ACTOR { "Application" } else { "Person" }, n)
    } else if let Some(n) = path.strip_prefix("/video-channels/") {
        ("Group", n)
    } else {
        return Ok(None);
    };
    if name.contains('/') {
        return Ok(None);
    }
    Ok(accounts::local_actor_id(&app.db, kind, name).await?)
}

/// The signer of a local actor: its `#main-key` and private key.
pub async fn signer(app: &App, actor_id: i64) -> Result<Signer> {
    // Looked up first: an actor that no longer exists is NotFound, not a key to make.
    let url = local_actor_url(app, actor_id).await?;
    let (private, _) = ap::actor_keys(app, actor_id).await?;
    let key = flotilla_federation::keys::private_from_pem(&private).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Signer { key_id: uris::key_id(&url), key })
}

/// The instance actor's signer (for signed fetches).
pub async fn instance_signer(app: &App) -> Result<Signer> {
    let id = ap::ensure_instance_actor(app).await?;
    signer(app, id).await
}
