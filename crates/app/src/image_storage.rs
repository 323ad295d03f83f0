//! Images in the object store: avatars and banners (`images/`), videos' and playlists' thumbnails
//! (`thumbnails/`) and previews (`previews/`) kept in the images bucket
//! (`[object_storage] images_bucket_name`) instead of the disk.
//!
//! Every image is written to the disk first, by whichever use-case makes it; the `store-images`
//! job ([`store_all`], queued by the jobs role's loop while there is something to move) copies
//! those that have settled to the bucket, records them in `stored_images`, then removes the disk's
//! copy. Their URLs stay ours (`/lazy-static/…`: the API's `path`s are PeerTube's and clients put
//! our host in front of them): a request for an image no longer on the disk is redirected to the
//! bucket ([`redirect`]). Killed anywhere, an image is on the disk, or recorded and in the bucket,
//! or both (the next run removes the disk copy).
//!
//! An image's removal (a new avatar, a deleted video) deletes the disk file, then [`forget`]s the
//! stored copy: its row goes and a `remove-objects` job is queued in one transaction. A sweep that
//! stored an image while it was being removed finds its disk copy gone and forgets it itself; the
//! job's key keeps sweeps one at a time, so that nothing else removes disk copies meanwhile.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use flotilla_db::images;
use flotilla_db::videos::STORAGE_OBJECT;

use crate::jobs::Failure;
use crate::storage::{Kind, ObjectStorage};
use crate::{App, Error, Result};

/// The data directories whose files go to the images bucket.
pub const DIRS: [&str; 3] = ["images", "thumbnails", "previews"];

/// How long a file stays on the disk before it may move: it may still be being written, or the
/// transaction naming it not yet committed (a failed one removes it).
pub const SETTLE: Duration = Duration::from_secs(30);

/// The store, when it has an images bucket.
fn store(app: &App) -> Option<&ObjectStorage> {
    app.object_storage.as_ref().filter(|s| s.has_images())
}

/// Whether new images move to the bucket (`enabled` and an images bucket).
pub fn wants(app: &App) -> bool {
    app.config.object_storage.enabled && store(app).is_some()
}

/// Names we generate (`<uuid>.jpg`, `<uuid>-<w>x<h>.jpg`): nothing else on the disk is moved or
/// looked up.
fn generated(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".jpg") else { return false };
    !stem.is_empty() && stem.len() <= 100 && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Files of `dir` that have settled for `settle` (name, path), at most `limit`.
async fn settled(app: &App, dir: &str, settle: Duration, limit: usize) -> Vec<(String, PathBuf)> {
    let path = app.data_path(dir);
    let mut out = Vec::new();
    let Ok(mut entries) = tokio::fs::read_dir(&path).await else { return out };
    let now = SystemTime::now();
    while let Ok(Some(e)) = entries.next_entry().await {
        let name = e.file_name().to_string_lossy().into_owned();
        if !generated(&name) {
            continue;
        }
        let Ok(meta) = e.metadata().await else { continue };
        let old_enough = meta.modified().ok().and_then(|m| now.duration_since(m).ok()).is_some_and(|age| age >= settle);
        if meta.is_file() && old_enough {
            out.push((name, e.path()));
            if out.len() >= limit {
                break;
            }
        }
    }
    out
}

/// Whether some image waits for the `store-images` job (the loop's cheap check before queueing it).
pub async fn any_waiting(app: &App) -> bool {
    if !wants(app) {
        return false;
    }
    for dir in DIRS {
        if !settled(app, dir, SETTLE, 1).await.is_empty() {
            return true;
        }
    }
    false
}

/// The `store-images` job: every image on the disk that has settled for `settle` copied to the
/// bucket (its size checked), recorded, then removed from the disk. How many moved. A store that
/// fails ends the run (the next one goes on where it stopped).
pub async fn store_all(app: &App, settle: Duration) -> std::result::Result<usize, Failure> {
    let retry = |e: Error| Failure::Retry(e.to_string());
    let Some(store) = store(app).filter(|_| app.config.object_storage.enabled) else {
        return Ok(0); // configured away since it was queued
    };
    let mut moved = 0;
    for dir in DIRS {
        loop {
            let batch = settled(app, dir, settle, 500).await;
            if batch.is_empty() {
                break;
            }
            for (name, path) in batch {
                match store.upload(STORAGE_OBJECT, Kind::Image, dir, &name, &path).await {
                    Ok(()) => {}
                    // Removed since it was listed: nothing to move.
                    Err(_) if !path.exists() => continue,
                    Err(e) => return Err(retry(e)),
                }
                images::mark_stored(&app.db, dir, &name).await.map_err(|e| retry(e.into()))?;
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => moved += 1,
                    // Removed while it was copied (its avatar replaced, its video deleted): whoever
                    // removed it may have looked for the record before it existed.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => forget(app, dir, &[name]).await,
                    Err(e) => return Err(Failure::Retry(format!("cannot remove {}: {e}", path.display()))),
                }
            }
        }
    }
    if moved > 0 {
        tracing::info!(count = moved, "images moved to the object store");
    }
    Ok(moved)
}

/// After images' disk files were deleted (their rows gone): those in the bucket are forgotten and
/// their removal queued, in one transaction. Failures are logged (the objects stay, unused).
pub async fn forget(app: &App, dir: &str, names: &[String]) {
    if store(app).is_none() || names.is_empty() {
        return;
    }
    let done: Result<bool> = async {
        let mut tx = app.db.begin().await?;
        let mut files = Vec::new();
        for name in names {
            if images::unmark_stored(&mut tx, dir, name).await? {
                files.push(("image".to_string(), name.clone()));
            }
        }
        let any = !files.is_empty();
        if any {
            let job = crate::jobs::Job::RemoveObjects { uuid: dir.to_string(), storage: STORAGE_OBJECT, files };
            crate::jobs::enqueue(&mut tx, &job).await?;
        }
        tx.commit().await?;
        Ok(any)
    }
    .await;
    match done {
        Ok(true) => app.wake_jobs(),
        Ok(false) => {}
        Err(e) => tracing::warn!(dir, error = %e, "stored images not forgotten (they stay in the bucket)"),
    }
}

/// Where a request for an image that is not on the disk goes: its URL in the bucket, if it is
/// stored there.
pub async fn redirect(app: &App, dir: &str, name: &str) -> Result<Option<String>> {
    let Some(store) = store(app) else { return Ok(None) };
    if !generated(name) || !images::is_stored(&app.db, dir, name).await? {
        return Ok(None);
    }
    Ok(store.image_url(dir, name))
}

/// A readable copy of an image (for a user's archive): the disk's, or the bucket's downloaded
/// into `staging`; `None` when it is in neither.
pub async fn local_copy(app: &App, dir: &str, name: &str, staging: &Path) -> Result<Option<PathBuf>> {
    let path = app.data_path(dir).join(name);
    if !generated(name) {
        return Ok(None);
    }
    if tokio::fs::try_exists(&path).await.unwrap_or(false) {
        return Ok(Some(path));
    }
    let Some(store) = store(app) else { return Ok(None) };
    if !images::is_stored(&app.db, dir, name).await? {
        return Ok(None);
    }
    tokio::fs::create_dir_all(staging).await.map_err(|e| Error::Internal(format!("{}: {e}", staging.display())))?;
    let dest = staging.join(format!("{dir}-{name}"));
    store.download(STORAGE_OBJECT, Kind::Image, dir, name, &dest).await?;
    Ok(Some(dest))
}

/// The `images-to-file-system` job: every stored image downloaded back to its directory (written
/// beside it, then renamed), its record dropped, then its object removed. Killed anywhere, an
/// image is on the disk, in the bucket, or both. How many came back.
pub async fn to_file_system(app: &App) -> std::result::Result<usize, Failure> {
    let retry = |e: Error| Failure::Retry(e.to_string());
    let Some(store) = store(app) else {
        return Err(Failure::Fail("the object store has no images bucket".into()));
    };
    let mut back = 0;
    let mut after = (String::new(), String::new());
    loop {
        let page = images::stored_after(&app.db, (&after.0, &after.1), 200).await.map_err(|e| retry(e.into()))?;
        let Some(last) = page.last().cloned() else { break };
        for (dir, name) in page {
            if !DIRS.contains(&dir.as_str()) || !generated(&name) {
                continue;
            }
            let dest = app.data_path(&dir).join(&name);
            if !dest.exists() {
                match store.download(STORAGE_OBJECT, Kind::Image, &dir, &name, &dest).await {
                    Ok(()) => {}
                    Err(Error::NotFound(_)) => {
                        tracing::warn!(dir, name, "a stored image is missing from the bucket: forgotten");
                    }
                    Err(e) => return Err(retry(e)),
                }
            }
            images::unmark_stored(&app.db, &dir, &name).await.map_err(|e| retry(e.into()))?;
            store.delete(STORAGE_OBJECT, Kind::Image, &dir, &name).await.map_err(retry)?;
            back += 1;
        }
        after = last;
    }
    if back > 0 {
        tracing::info!(count = back, "images brought back from the object store");
    }
    Ok(back)
}

#[cfg(test)]
mod tests {
    use super::generated;

    #[test]
    fn only_generated_names_move_or_are_looked_up() {
        for ok in ["4fbbe031-8b81-41f7-b378-f50407b01481.jpg", "4fbbe031-48x48.jpg", "playlist-4fbbe031.jpg"] {
            assert!(generated(ok), "{ok}");
        }
        for bad in ["../x.jpg", ".jpg", "x.jpg.part", "x.png", "a/b.jpg", "a%2Fb.jpg", ".hidden.jpg", "x y.jpg"] {
            assert!(!generated(bad), "{bad}");
        }
        assert!(!generated(&format!("{}.jpg", "a".repeat(101))));
    }
}
