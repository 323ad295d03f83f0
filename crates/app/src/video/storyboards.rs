//! Storyboards (PeerTube's `/videos/{id}/storyboards`): one sprite sheet per video, drawn by
//! ffmpeg from one of our own renditions (never from the upload) when the video's files are
//! completed (`video::files::complete`), in PeerTube 6.3's geometry (`media::storyboard`). Served
//! at `/lazy-static/storyboards/<file>` to whoever may see the video; federated as the `Video`'s
//! `preview` (`rel: ["storyboard"]`). A remote video's is fetched from its origin on first request
//! and re-encoded here (only the pixels pass).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use flotilla_db::storyboards::{self, Storyboard};
use flotilla_db::videos;
use flotilla_domain::time::now_ms;
use flotilla_media::storyboard::{MAX_EDGE, SPRITE_MAX_SIZE};
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::jobs::Failure;
use crate::{App, Error, Result};

/// Bytes of a remote sheet we fetch (ours are tens of kilobytes).
const MAX_REMOTE_BYTES: usize = 8 * 1024 * 1024;

pub fn dir(app: &App, uuid: &str) -> PathBuf {
    app.data_path("storyboards").join(uuid)
}

fn url_path(s: &Storyboard) -> String {
    format!("/lazy-static/storyboards/{}", s.filename)
}

fn retry(e: impl std::fmt::Display) -> Failure {
    Failure::Retry(e.to_string())
}

/// Draws a local video's storyboard if it has none (and is long enough, and has a picture);
/// whether it drew one.
pub async fn make(app: &Arc<App>, v: &videos::Video, staging: &Path) -> std::result::Result<bool, Failure> {
    if storyboards::of_video(&app.db, v.id).await.map_err(retry)?.is_some() {
        return Ok(false);
    }
    let mut hls = videos::files(&app.db, v.id).await.map_err(retry)?;
    hls.retain(|f| f.resolution > 0);
    hls.sort_by_key(|f| f.resolution);
    let Some(largest) = hls.last() else { return Ok(false) };
    let Some(plan) = flotilla_media::storyboard::plan(v.duration as f64, largest.width as u32, largest.height as u32)
    else {
        return Ok(false);
    };
    // The smallest rendition that is at least as large as a sprite: the least to decode.
    let source = hls.iter().find(|f| f.height as u32 >= plan.sprite_height && f.width as u32 >= plan.sprite_width);
    let source = source.unwrap_or(largest);
    let input = std::fs::canonicalize(crate::video::hls_dir(app, &v.uuid).join(&source.filename)).map_err(retry)?;
    let name = format!("{}.jpg", uuid::Uuid::new_v4());
    let args = flotilla_media::storyboard::ffmpeg_args(&input.to_string_lossy(), &plan, &name);
    let limit = Duration::from_secs(v.duration.max(1) as u64 + 300);
    flotilla_media::hls::run_ffmpeg(staging, &args, limit, |_| {}).await.map_err(|e| retry(e.to_string()))?;
    let dir = dir(app, &v.uuid);
    tokio::fs::create_dir_all(&dir).await.map_err(retry)?;
    tokio::fs::rename(staging.join(&name), dir.join(&name)).await.map_err(retry)?;
    let row = Storyboard {
        video_id: v.id,
        filename: name,
        remote_url: None,
        total_width: i64::from(plan.total_width()),
        total_height: i64::from(plan.total_height()),
        sprite_width: i64::from(plan.sprite_width),
        sprite_height: i64::from(plan.sprite_height),
        sprite_duration: i64::from(plan.sprite_duration),
        created_at: now_ms(),
    };
    storyboards::upsert(&app.db, &row).await.map_err(retry)?;
    Ok(true)
}

/// `GET /api/v1/videos/{id}/storyboards`
pub async fn list(
    app: &App,
    who: Option<&AuthUser>,
    key: &str,
    attempt: &crate::video::passwords::Attempt,
) -> Result<Value> {
    let v = crate::video::open(app, who, key, attempt).await?;
    let list: Vec<Value> = storyboards::of_video(&app.db, v.id)
        .await?
        .iter()
        .map(|s| {
            json!({
                "storyboardPath": url_path(s),
                "totalHeight": s.total_height,
                "totalWidth": s.total_width,
                "spriteHeight": s.sprite_height,
                "spriteWidth": s.sprite_width,
                "spriteDuration": s.sprite_duration,
            })
        })
        .collect();
    Ok(json!({ "storyboards": list }))
}

/// The `preview` of a local video's `Video` object (PeerTube's shape).
pub async fn ap_preview(app: &App, video_id: i64) -> Result<Value> {
    let Some(s) = storyboards::of_video(&app.db, video_id).await? else { return Ok(json!([])) };
    Ok(json!([{
        "type": "Image",
        "rel": ["storyboard"],
        "url": [{
            "mediaType": "image/jpeg",
            "href": crate::uris::absolute(app, &url_path(&s)),
            "width": s.total_width,
            "height": s.total_height,
            "tileWidth": s.sprite_width,
            "tileHeight": s.sprite_height,
            "tileDuration": format!("PT{}S", s.sprite_duration),
        }],
    }]))
}

/// A remote `Video`'s storyboard as it describes it: `(url, total width, total height, sprite
/// width, sprite height, sprite seconds)`, only when it is on the video's server and its numbers
/// are a sheet PeerTube's rules could have drawn.
pub fn remote_preview(object: &Value, on_origin: impl Fn(&str) -> Option<String>) -> Option<[Value; 6]> {
    let previews = object["preview"].as_array()?;
    let p = previews.iter().find(|p| p["rel"].as_array().is_some_and(|r| r.iter().any(|x| x == "storyboard")))?;
    let u = p["url"].as_array()?.iter().find(|u| u["mediaType"] == "image/jpeg")?;
    let href = on_origin(u["href"].as_str()?)?;
    let num = |k: &str| u[k].as_i64().filter(|n| *n > 0);
    let (tw, th, sw, sh) = (num("width")?, num("height")?, num("tileWidth")?, num("tileHeight")?);
    let secs = u["tileDuration"].as_str()?.strip_prefix("PT")?.strip_suffix('S')?.parse::<i64>().ok()?;
    let max_side = i64::from(SPRITE_MAX_SIZE * MAX_EDGE);
    let fits = sw <= i64::from(SPRITE_MAX_SIZE) * 2
        && sh <= i64::from(SPRITE_MAX_SIZE) * 2
        && tw <= max_side * 2
        && th <= max_side * 2
        && tw % sw == 0
        && th % sh == 0
        && (1..=86_400).contains(&secs);
    fits.then(|| [json!(href), json!(tw), json!(th), json!(sw), json!(sh), json!(secs)])
}

/// Stores (or forgets) a remote video's storyboard as its object describes it.
pub async fn store_remote(
    tx: &mut flotilla_db::Tx,
    app: &App,
    video_id: i64,
    uuid: &str,
    described: Option<&[Value; 6]>,
) -> Result<()> {
    let have = storyboards::of_video(&mut *tx, video_id).await?;
    let Some(d) = described else {
        if let Some(h) = have {
            storyboards::delete(&mut *tx, video_id).await?;
            let _ = tokio::fs::remove_file(dir(app, uuid).join(h.filename)).await;
        }
        return Ok(());
    };
    let url = d[0].as_str().unwrap_or_default();
    if have.as_ref().is_some_and(|h| h.remote_url.as_deref() == Some(url)) {
        return Ok(());
    }
    let row = Storyboard {
        video_id,
        filename: format!("{}.jpg", uuid::Uuid::new_v4()),
        remote_url: Some(url.to_string()),
        total_width: d[1].as_i64().unwrap_or(0),
        total_height: d[2].as_i64().unwrap_or(0),
        sprite_width: d[3].as_i64().unwrap_or(0),
        sprite_height: d[4].as_i64().unwrap_or(0),
        sprite_duration: d[5].as_i64().unwrap_or(1),
        created_at: now_ms(),
    };
    storyboards::upsert(&mut *tx, &row).await?;
    if let Some(h) = have {
        let _ = tokio::fs::remove_file(dir(app, uuid).join(h.filename)).await;
    }
    Ok(())
}

/// The file behind `/lazy-static/storyboards/<name>` for whoever may see its video; a remote
/// video's sheet is fetched and re-encoded first if it is not here yet.
pub async fn file(app: &App, who: Option<&AuthUser>, name: &str, file_token: Option<&str>) -> Result<PathBuf> {
    let s = storyboards::by_filename(&app.db, name).await?.ok_or_else(|| Error::not_found("file"))?;
    let v = videos::get(&app.db, s.video_id).await?.ok_or_else(|| Error::not_found("file"))?;
    crate::video::get_for_files(app, who, &v.uuid, file_token).await?;
    let dir = dir(app, &v.uuid);
    let path = dir.join(name);
    if let Some(url) = s.remote_url.as_deref().filter(|_| !path.exists()) {
        let bytes = app.fetcher.get_image(url, MAX_REMOTE_BYTES).await.map_err(|e| Error::Upstream {
            code: "storyboard_origin_unavailable",
            msg: format!("the storyboard could not be fetched from the video's server: {e}"),
        })?;
        let size = (s.total_width as u32, s.total_height as u32);
        let encoded = tokio::task::spawn_blocking(move || flotilla_media::image::resize_all(&bytes, &[size]))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| Error::Upstream {
                code: "storyboard_origin_invalid",
                msg: format!("the video's server sent {e}"),
            })?;
        tokio::fs::create_dir_all(&dir).await.map_err(|e| Error::write("the storyboard", e))?;
        let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4()));
        tokio::fs::write(&tmp, &encoded[0].jpeg).await.map_err(|e| Error::write("the storyboard", e))?;
        tokio::fs::rename(&tmp, &path).await.map_err(|e| Error::write("the storyboard", e))?;
    }
    Ok(path)
}
