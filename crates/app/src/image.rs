//! Avatars and banners of accounts and channels: re-encoded by `media`, stored under generated
//! names in `<data_dir>/images`, one row per size.

use std::path::PathBuf;

use flotilla_db::images;
use flotilla_domain::time::now_ms;
use flotilla_media::image::{AVATAR_SIZES, BANNER_SIZES, resize_all};
use serde_json::Value;

use crate::{App, Error, Result, convert};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Avatar,
    Banner,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Avatar => "avatar",
            Kind::Banner => "banner",
        }
    }
}

/// Replaces the actor's avatar or banner with `bytes`; returns the new `avatars`/`banners` array.
/// A new face is a profile change: followers get `Update(Person|Group)` (an event recorded with
/// the new rows).
pub async fn set(app: &App, actor_id: i64, kind: Kind, bytes: Vec<u8>) -> Result<Value> {
    store(app, actor_id, kind, bytes, true).await
}

/// Stores a copy of a remote actor's avatar or banner (re-encoded like ours; nobody to tell).
pub async fn set_remote(app: &App, actor_id: i64, kind: Kind, bytes: Vec<u8>) -> Result<()> {
    store(app, actor_id, kind, bytes, false).await.map(|_| ())
}

async fn store(app: &App, actor_id: i64, kind: Kind, bytes: Vec<u8>, ours: bool) -> Result<Value> {
    let sizes = match kind {
        Kind::Avatar => AVATAR_SIZES,
        Kind::Banner => BANNER_SIZES,
    };
    let encoded = tokio::task::spawn_blocking(move || resize_all(&bytes, sizes))
        .await
        .map_err(|e| Error::Internal(format!("image worker failed: {e}")))??;

    let stem = uuid::Uuid::new_v4().to_string();
    let mut written = Vec::new();
    for e in &encoded {
        let name = format!("{stem}-{}x{}.jpg", e.width, e.height);
        let path = app.images_dir().join(&name);
        if let Err(err) = tokio::fs::write(&path, &e.jpeg).await {
            remove_files(app, &written).await;
            return Err(Error::Internal(format!("cannot write {}: {err}", path.display())));
        }
        written.push(name);
    }

    let now = now_ms();
    let result: Result<Vec<String>> = async {
        let mut tx = app.db.begin().await?;
        let old = images::delete_kind(&mut tx, actor_id, kind.as_str()).await?;
        for (e, name) in encoded.iter().zip(&written) {
            images::insert(&mut tx, actor_id, kind.as_str(), name, (e.width, e.height), now).await?;
        }
        if ours {
            crate::events::record(&mut tx, crate::events::Event::ActorUpdated { actor_id }).await?;
        }
        tx.commit().await?;
        app.wake_jobs();
        Ok(old)
    }
    .await;
    match result {
        Ok(old) => remove_files(app, &old).await,
        Err(e) => {
            remove_files(app, &written).await;
            return Err(e);
        }
    }
    let rows = images::list_for(&app.db, &[actor_id]).await?;
    Ok(convert::images_to_api(app, actor_id, kind.as_str(), &rows))
}

/// Removes the actor's avatar or banner (a profile change for its followers, too).
pub async fn delete(app: &App, actor_id: i64, kind: Kind) -> Result<()> {
    let mut tx = app.db.begin().await?;
    let old = images::delete_kind(&mut tx, actor_id, kind.as_str()).await?;
    crate::events::record(&mut tx, crate::events::Event::ActorUpdated { actor_id }).await?;
    tx.commit().await?;
    app.wake_jobs();
    remove_files(app, &old).await;
    Ok(())
}

/// Deletes image files, and their copies in the object store (`image_storage::forget`); a file
/// already gone is not an error, another failure is logged.
pub async fn remove_files(app: &App, names: &[String]) {
    for n in names {
        if let Some(path) = file_path(app, n)
            && let Err(e) = tokio::fs::remove_file(&path).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot remove image file");
        }
    }
    crate::image_storage::forget(app, "images", names).await;
}

/// The path of a stored image, only for names we generate (`<uuid>-<w>x<h>.jpg`): a request can
/// never reach outside the images directory.
pub fn file_path(app: &App, name: &str) -> Option<PathBuf> {
    let stem = name.strip_suffix(".jpg")?;
    let ok =
        !stem.is_empty() && stem.len() <= 64 && stem.chars().all(|c| c.is_ascii_hexdigit() || c == '-' || c == 'x');
    ok.then(|| app.images_dir().join(name))
}
