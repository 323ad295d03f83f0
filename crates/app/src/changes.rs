//! Changes that every process's caches must see at once. With several `flotilla serve` processes on
//! one PostgreSQL (`roles`), a video made private on one must be refused by the others at once,
//! though each remembers for 10 s that a video's files are public (`media_cache`); the same for a
//! video's deletion, the custom settings and the blocklists. [`tell`] applies a change here and
//! sends it with PostgreSQL's `NOTIFY`; [`listen`] (one task per process) applies what others
//! send. A broken listening connection may have missed some: the caches are dropped whole before
//! it listens again. On SQLite there is one process: [`tell`] applies locally only.

use std::sync::Arc;
use std::time::Duration;

use crate::App;

/// A change whose caches every process drops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A video's privacy, moderation, files or existence: its access decision and cached bytes.
    Video(String),
    /// The custom configuration (`PUT /config/custom`).
    Settings,
    /// The instance's blocklists and mutes.
    Blocks,
    /// One user's own blocklist.
    UserBlocks(i64),
    /// A live's session ends (its video deleted or blocked) in whichever process runs its RTMP
    /// connection, with this `error` (0: none).
    StopLive { video_id: i64, error: i64 },
}

impl Change {
    fn payload(&self) -> String {
        match self {
            Change::Video(uuid) => format!("video:{uuid}"),
            Change::Settings => "settings".into(),
            Change::Blocks => "blocks".into(),
            Change::UserBlocks(id) => format!("user-blocks:{id}"),
            Change::StopLive { video_id, error } => format!("stop-live:{video_id}:{error}"),
        }
    }

    /// A payload read from the channel; `None` for anything else (another program's, or a newer
    /// version's).
    fn parse(payload: &str) -> Option<Change> {
        match payload.split_once(':') {
            Some(("video", uuid)) if uuid.len() == 36 => Some(Change::Video(uuid.to_string())),
            Some(("user-blocks", id)) => id.parse().ok().map(Change::UserBlocks),
            Some(("stop-live", rest)) => {
                let (id, error) = rest.split_once(':')?;
                Some(Change::StopLive { video_id: id.parse().ok()?, error: error.parse().ok()? })
            }
            None if payload == "settings" => Some(Change::Settings),
            None if payload == "blocks" => Some(Change::Blocks),
            _ => None,
        }
    }
}

/// Applies `change` to this process's caches and tells the other processes. A failed `NOTIFY` is
/// logged: the others' caches then expire by themselves (10 s for video access).
pub async fn tell(app: &App, change: Change) {
    apply(app, &change).await;
    if let Err(e) = flotilla_db::notify::notify(&app.db, &change.payload()).await {
        tracing::warn!(?change, error = %e, "cannot tell the other processes of a change");
    }
}

async fn apply(app: &App, change: &Change) {
    let result = match change {
        Change::Video(uuid) => {
            crate::video::forget_files_here(app, uuid);
            Ok(())
        }
        Change::Settings => crate::instance::reload(app).await,
        Change::Blocks => crate::blocklist::reload(app).await,
        Change::UserBlocks(user) => crate::blocklist::user_changed(app, *user).await,
        Change::StopLive { video_id, error } => {
            app.lives.stop(*video_id, Some(*error).filter(|e| *e != 0));
            Ok(())
        }
    };
    if let Err(e) = result {
        tracing::warn!(?change, error = %e, "cannot apply a change to this process's caches");
    }
}

/// Listens for other processes' changes for as long as the process runs (PostgreSQL only).
pub async fn listen(app: Arc<App>) {
    loop {
        let mut listener = match flotilla_db::notify::Listener::connect(&app.db).await {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other processes' changes; trying again");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        // What was missed while not listening is unknown: nothing cached is trusted.
        app.media_cache.invalidate_all_access();
        apply(&app, &Change::Settings).await;
        apply(&app, &Change::Blocks).await;
        loop {
            match listener.recv().await {
                Ok(payload) => {
                    if let Some(change) = Change::parse(&payload) {
                        apply(&app, &change).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the connection listening for changes broke; listening again");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_read_back_and_others_are_ignored() {
        for c in [
            Change::Video("4fbbe031-8b81-41f7-b378-f50407b01481".into()),
            Change::Settings,
            Change::Blocks,
            Change::UserBlocks(42),
            Change::StopLive { video_id: 7, error: 3 },
        ] {
            assert_eq!(Change::parse(&c.payload()), Some(c));
        }
        for bad in ["", "video:../x", "user-blocks:x", "settings:1", "other", "stop-live:1", "stop-live:x:1"] {
            assert_eq!(Change::parse(bad), None, "{bad}");
        }
    }
}
