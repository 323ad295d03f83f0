//! What happened: a use-case records an [`Event`] in the same transaction as its change
//! ([`record`]), as a job of kind `event`; the parts that react to it (today: federation, in
//! `federation::on_event`, and notifications, in `notification::on_event`) run from that job. A change and what it causes are committed together
//! or not at all: a crash right after the commit still delivers the `Create`, a crash before it
//! leaves nothing half done.
//!
//! ```text
//!  use-case: BEGIN ─ change ─ events::record(tx, Event) ─ COMMIT
//!  worker:   job "event" ──> federation::on_event (deliveries, each its own job)
//! ```
//!
//! Events carry what their subscribers need that the change removes: a deleted video's URL, who
//! spoke for it and who heard of it, taken inside the transaction that deletes it.
//!
//! Reads change nothing, so what they cause has no transaction to join: a use-case that reads a
//! copy of a remote object tells [`seen`], and federation decides whether to refresh it (a job).

use flotilla_db::{Exec, Tx, accounts, channels, follows, videos};
use serde::{Deserialize, Serialize};

use crate::jobs::{self, Job};
use crate::{App, Error, Result, ap, uris};

/// Something that happened that others react to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// A local video was published for the first time.
    VideoPublished { video_id: i64 },
    /// A local video changed (its metadata, its privacy, or its files: a new rendition, a new
    /// master playlist); `was_federated`: its followers knew it before the change.
    VideoUpdated { video_id: i64, was_federated: bool },
    /// A local live aired (its session's first segments are out): followers get the `Update`,
    /// subscribers a notification, once per session.
    LiveStarted { video_id: i64, session_id: i64, was_federated: bool },
    /// Someone here watches another server's video (first, or again before it forgets them):
    /// its server is told (`viewer`: our key for the viewer, see `video::views::viewer_key`).
    RemoteViewer { video_id: i64, viewer: String },
    /// A local video its followers knew was deleted.
    VideoDeleted(VideoGone),
    /// A local actor's profile changed (names, description, avatar, banner).
    ActorUpdated { actor_id: i64 },
    /// A local user rated a video (`like`, `dislike`; `None` for no rating): `old` is the rating
    /// replaced, with when it was given (its activity's id is made from it).
    VideoRated { user_id: i64, video_id: i64, old: Option<(String, i64)>, new: Option<(String, i64)> },
    /// A comment was posted here or received (held ones too).
    CommentCreated { comment_id: i64 },
    /// A held comment was approved by the video's owner.
    CommentApproved { comment_id: i64 },
    /// A video of another server reached us for the first time through its server's activity.
    RemoteVideoPublished { video_id: i64 },
    /// Someone (local or remote) follows one of our channels or accounts (accepted).
    ActorFollowed { follow_id: i64 },
    /// A comment was deleted (its row is a tombstone now): `url` is its ActivityPub id, `actor_id`
    /// the local actor that removed it (its author, the video's owner or a moderator).
    CommentDeleted { comment_id: i64, url: String, actor_id: i64 },
    /// The server of a remote video approved one of our comments under it (PeerTube's
    /// `ApproveReply`; `approval` is its id).
    CommentReplyApproved { comment_id: i64, approval: String },
    /// A local actor (a user's account or channel) was deleted with its user.
    ActorDeleted(ActorGone),
    /// Moderators blocked a video (`at`, ms); `was_federated`: its followers knew it before.
    VideoBlocked { video_id: i64, was_federated: bool, at: i64 },
    /// A video's block was lifted; `was_unfederated`: it had been withdrawn from (or never sent
    /// to) its followers; `auto`: it was a new upload held for review.
    VideoUnblocked { video_id: i64, was_unfederated: bool, auto: bool, at: i64 },
    /// An abuse report was made here or received (`Flag`).
    AbuseCreated { abuse_id: i64 },
    /// A report's state changed: by our moderators, or (`remote`) by the server of what it is
    /// about, answering our `Flag`.
    AbuseStateChanged { abuse_id: i64, state: i64, remote: bool },
    /// A message was added to a report.
    AbuseMessaged { message_id: i64 },
    /// A local playlist was made or changed (its metadata or its videos); `was_federated`: its
    /// followers knew it before the change.
    PlaylistChanged { playlist_id: i64, was_federated: bool },
    /// A local playlist its followers knew was deleted (what they must be told, read before).
    PlaylistDeleted { url: String, actor_id: i64, actor_url: String, inboxes: Vec<String> },
}

/// Who must hear that a local actor is gone, taken before it went. Its key is kept a few days
/// (`retired_keys`) to sign its own `Delete`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActorGone {
    /// Its id while it was (for the delivery jobs) and its URL.
    pub actor_id: i64,
    pub actor_url: String,
    /// Its followers, and the servers that may hold what it left (see [`actor_deleted`]).
    pub inboxes: Vec<String>,
}

/// What the followers of a deleted video must be told, taken before it went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VideoGone {
    /// The video's URL (its ActivityPub id).
    pub url: String,
    /// The local actor that speaks for it (its account, or the instance actor when the account
    /// is deleted with it), and that actor's URL.
    pub actor_id: i64,
    pub actor_url: String,
    pub public: bool,
    /// The inboxes of the followers of its account, channel and instance.
    pub inboxes: Vec<String>,
}

/// A copy of something remote that a use-case just read.
pub enum Seen<'a> {
    Video(&'a videos::Video),
    Actor(&'a flotilla_db::actors::RemoteActor),
}

/// Tells the subscribers that a remote copy was read (federation refreshes stale ones from their
/// origin in the background). Never fails the read.
pub async fn seen(app: &App, what: Seen<'_>) {
    crate::federation::on_seen(app, what).await
}

/// Records `event` in the caller's transaction.
pub async fn record(tx: &mut Tx, event: Event) -> Result<()> {
    jobs::enqueue(&mut *tx, &Job::Event { event }).await?;
    Ok(())
}

/// The [`Event::ActorDeleted`] of local actor `actor_id`, read in the deleting transaction `tx`
/// (before its rows go), its key retired there; `None` when no server ever heard of it (no key
/// was ever made, or nobody to tell). `also`: inboxes to tell besides its followers (for an
/// account, the servers following this instance and those of the videos its user rated or
/// commented on).
pub async fn actor_deleted(tx: &mut Tx, app: &App, actor_id: i64, also: &[String]) -> Result<Option<Event>> {
    let Some((private, _)) = accounts::keys(&mut *tx, actor_id).await? else { return Ok(None) };
    let Some((kind, name)) = accounts::local_actor(&mut *tx, actor_id).await? else { return Ok(None) };
    let actor_url = match kind.as_str() {
        "Group" => uris::channel(app, &name),
        _ => uris::account(app, &name),
    };
    let mut inboxes = follows::follower_inboxes(&mut *tx, &[actor_id]).await?;
    inboxes.extend(also.iter().cloned());
    inboxes.sort();
    inboxes.dedup();
    if inboxes.is_empty() {
        return Ok(None);
    }
    accounts::retire_key(&mut *tx, &actor_url, &private, flotilla_domain::time::now_ms()).await?;
    Ok(Some(Event::ActorDeleted(ActorGone { actor_id, actor_url, inboxes })))
}

/// The [`Event::VideoDeleted`] of `v`, read in the deleting transaction `e` (before the rows go),
/// or `None` when its followers never knew it. `by_instance`: the instance actor speaks, because
/// the account is deleted too and receivers could no longer fetch its key.
pub async fn video_deleted(
    e: impl Into<Exec<'_>>,
    app: &App,
    v: &videos::Video,
    by_instance: bool,
) -> Result<Option<Event>> {
    if !ap::federates(app, v) {
        return Ok(None);
    }
    let mut e = e.into();
    let c = channels::get(&mut e, flotilla_domain::ChannelId(v.channel_id))
        .await?
        .ok_or_else(|| Error::not_found("channel"))?;
    let a = accounts::get(&mut e, c.owner()).await?.ok_or_else(|| Error::not_found("account"))?;
    let instance = accounts::local_actor_id(&mut e, "Application", ap::INSTANCE_ACTOR)
        .await?
        .ok_or_else(|| Error::not_found("instance actor"))?;
    let inboxes = follows::follower_inboxes(&mut e, &[a.actor_id, c.actor_id, instance]).await?;
    let (actor_id, actor_url) =
        if by_instance { (instance, uris::instance_actor(app)) } else { (a.actor_id, uris::account(app, &a.name)) };
    Ok(Some(Event::VideoDeleted(VideoGone {
        url: uris::video(app, &v.uuid),
        actor_id,
        actor_url,
        public: v.privacy == crate::video::PRIVACY_PUBLIC,
        inboxes,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_stored_as_tagged_json_and_read_back() {
        let e = Event::VideoUpdated { video_id: 7, was_federated: true };
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(s, r#"{"type":"VideoUpdated","video_id":7,"was_federated":true}"#);
        assert_eq!(serde_json::from_str::<Event>(&s).unwrap(), e);
    }
}
