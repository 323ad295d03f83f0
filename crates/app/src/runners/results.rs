//! A runner's result: checked before it is kept (a runner is another machine: its files are
//! remote input like any upload), then stored by the `runner-results` job the way a rendition
//! made here is (`video::transcode::store`, the segment hashes computed again by us).
//!
//! A result is kept in `tmp/runner-results/<job uuid>/` as `result.mp4`, `result.m3u8` (its
//! playlist, naming `result.mp4`) and `result.json` (the size read by ffprobe) before the job is
//! marked completed; the job stores it and marks it stored. Killed anywhere, a result is either
//! stored, or still in its directory (stored at the next run), or lost with its directory before
//! it was stored: then the job is done again by a runner (`runners::redo`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use flotilla_db::{runners as db, videos};
use flotilla_domain::time::now_ms;
use flotilla_media::hls;
use serde::{Deserialize, Serialize};

use super::Private;
use crate::jobs::{self, Failure, Job};
use crate::{App, Error, Result};

/// Largest media playlist a runner may send (a 10-hour video at 4 s segments is about 1 MB).
pub const MAX_PLAYLIST_BYTES: usize = 2 * 1024 * 1024;
const FRAGMENT: &str = "result.mp4";
const PLAYLIST: &str = "result.m3u8";
const META: &str = "result.json";

/// The directory of a job's result.
pub fn dir(app: &App, job_uuid: &str) -> PathBuf {
    app.data_path("tmp/runner-results").join(job_uuid)
}

/// Where a runner's upload is written while it arrives (the same disk as the results).
pub fn upload_dir(app: &App) -> PathBuf {
    app.data_path("tmp/runner-uploads")
}

/// Largest rendition a runner may send: twice the largest upload this instance accepts.
pub fn max_video_bytes(app: &App) -> u64 {
    app.config.upload.max_file_size.saturating_mul(2).max(64 * 1024 * 1024)
}

#[derive(Serialize, Deserialize)]
struct Meta {
    width: u32,
    height: u32,
}

fn refused(msg: impl Into<String>) -> Error {
    Error::BadRequest { code: "invalid_runner_result", msg: msg.into() }
}

/// A file name a playlist may use: plain, no path, no scheme.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Tags a VOD media playlist of ours has; anything else (keys, other playlists, other files) is
/// refused.
const TAGS: &[&str] = &[
    "#EXTM3U",
    "#EXT-X-VERSION:",
    "#EXT-X-TARGETDURATION:",
    "#EXT-X-MEDIA-SEQUENCE:",
    "#EXT-X-PLAYLIST-TYPE:VOD",
    "#EXT-X-INDEPENDENT-SEGMENTS",
    "#EXT-X-MAP:",
    "#EXTINF:",
    "#EXT-X-BYTERANGE:",
    "#EXT-X-ENDLIST",
];

/// Checks a media playlist: one fragmented MP4 named in its `#EXT-X-MAP` and every segment, byte
/// ranges within `size`, no other tag. Returns it naming [`FRAGMENT`], and its segments' total
/// duration.
fn check_playlist(bytes: &[u8], size: u64) -> Result<(String, f64)> {
    let text = std::str::from_utf8(bytes).map_err(|_| refused("the playlist is not UTF-8 text"))?;
    if !text.starts_with("#EXTM3U") {
        return Err(refused("the playlist does not start with #EXTM3U"));
    }
    if !text.lines().any(|l| l.trim() == "#EXT-X-ENDLIST") {
        return Err(refused("the playlist has no #EXT-X-ENDLIST: not a whole VOD playlist"));
    }
    let mut name: Option<String> = None;
    let mut same = |n: &str| -> Result<()> {
        if !plain_name(n) {
            return Err(refused(format!("the playlist names {n:?}: only a plain file name is accepted")));
        }
        match &name {
            Some(m) if m != n => Err(refused("the playlist names more than one file")),
            Some(_) => Ok(()),
            None => {
                name = Some(n.to_string());
                Ok(())
            }
        }
    };
    let mut total = 0.0;
    let mut out = String::with_capacity(text.len());
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with('#') {
            if !TAGS.iter().any(|t| line.starts_with(t)) {
                return Err(refused(format!("the playlist has a tag this instance does not accept: {:.60}", line)));
            }
            if let Some(attrs) = line.strip_prefix("#EXT-X-MAP:") {
                let uri = attrs
                    .split(',')
                    .find_map(|a| a.strip_prefix("URI=\"").and_then(|u| u.strip_suffix('"')))
                    .ok_or_else(|| refused("#EXT-X-MAP has no URI"))?;
                same(uri)?;
                out.push_str(&line.replace(&format!("URI=\"{uri}\""), &format!("URI=\"{FRAGMENT}\"")));
                out.push('\n');
                continue;
            }
            if let Some(d) = line.strip_prefix("#EXTINF:") {
                let secs: f64 = d
                    .split(',')
                    .next()
                    .and_then(|s| s.trim().parse().ok())
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s < 3600.0)
                    .ok_or_else(|| refused(format!("a segment's duration is not a number: {:.40}", line)))?;
                total += secs;
            }
            out.push_str(line);
        } else {
            same(line)?;
            out.push_str(FRAGMENT);
        }
        out.push('\n');
    }
    if name.is_none() {
        return Err(refused("the playlist names no file"));
    }
    let ranges = hls::segment_ranges(&out);
    if ranges.is_empty() {
        return Err(refused("the playlist has no segment with a byte range"));
    }
    if let Some((_, off, len)) = ranges.iter().find(|(_, off, len)| off + len > size) {
        return Err(refused(format!(
            "a segment's bytes {off}+{len} are past the end of the video file ({size} bytes)"
        )));
    }
    Ok((out, total))
}

/// Checks a runner's rendition against what was asked (`p`): the playlist as
/// [`check_playlist`], the file read by ffprobe within our limits: its streams, size and length.
/// Returns the playlist naming [`FRAGMENT`] and the picture's size.
pub async fn verify(app: &App, p: &Private, video: &Path, playlist: &[u8]) -> Result<(String, u32, u32)> {
    let size = tokio::fs::metadata(video).await.map_err(|e| Error::Internal(e.to_string()))?.len();
    if size == 0 {
        return Err(refused("the video file is empty"));
    }
    let (playlist, listed) = check_playlist(playlist, size)?;
    let tolerance = f64::from(hls::SEGMENT_SECONDS + 1).max(p.duration * 0.05);
    if (listed - p.duration).abs() > tolerance {
        return Err(refused(format!(
            "the playlist's segments last {listed:.1} s; the video lasts {:.1} s",
            p.duration
        )));
    }
    let (probe, _) = flotilla_media::probe::probe(video)
        .await
        .map_err(|e| refused(format!("the video file cannot be read as a video: {e}")))?;
    probe.check(&app.config.upload.limits()).map_err(|e| refused(e.to_string()))?;
    if p.has_audio && !probe.has_audio {
        return Err(refused("the video file has no sound; its source has"));
    }
    if p.resolution == 0 {
        if probe.has_video {
            return Err(refused("an audio-only rendition was asked; the file has a picture"));
        }
    } else {
        if !probe.has_video {
            return Err(refused("the video file has no picture"));
        }
        if probe.video_codec.as_deref() != Some("h264") {
            return Err(refused(format!(
                "the picture is {}, not H.264",
                probe.video_codec.as_deref().unwrap_or("of an unknown codec")
            )));
        }
        // The smaller side is the resolution asked; the other may differ by the rounding to
        // an even number another runner's scaler does.
        let landscape = p.width >= p.height;
        let ok = if landscape {
            probe.height == p.height && probe.width.abs_diff(p.width) <= 2
        } else {
            probe.width == p.width && probe.height.abs_diff(p.height) <= 2
        };
        if !ok {
            return Err(refused(format!(
                "the picture is {}×{}; {}×{} was asked",
                probe.width, probe.height, p.width, p.height
            )));
        }
    }
    if (probe.duration - p.duration).abs() > tolerance {
        return Err(refused(format!("the video file lasts {:.1} s; its source {:.1} s", probe.duration, p.duration)));
    }
    Ok((playlist, probe.width, probe.height))
}

/// Keeps a checked result in its directory (replacing any earlier attempt's).
pub async fn keep(app: &App, job_uuid: &str, video: &Path, playlist: &str, width: u32, height: u32) -> Result<()> {
    let d = dir(app, job_uuid);
    let io = |e: std::io::Error| Error::Internal(format!("cannot keep the runner's result: {e}"));
    let _ = tokio::fs::remove_dir_all(&d).await;
    tokio::fs::create_dir_all(&d).await.map_err(io)?;
    tokio::fs::rename(video, d.join(FRAGMENT)).await.map_err(io)?;
    tokio::fs::write(d.join(PLAYLIST), playlist).await.map_err(io)?;
    let meta = serde_json::to_vec(&Meta { width, height }).map_err(|e| Error::Internal(e.to_string()))?;
    // Written last: its presence says the directory is whole.
    tokio::fs::write(d.join(META), meta).await.map_err(io)?;
    Ok(())
}

/// Files nobody will use: result directories of jobs that are gone (their video deleted, an admin
/// deleted the job) or already stored, and uploads cut by a crash, once an hour old.
pub async fn sweep_files(app: &App) {
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let old = |m: &std::fs::Metadata| m.modified().is_ok_and(|t| t < hour_ago);
    if let Ok(mut dirs) = tokio::fs::read_dir(dir(app, "")).await {
        while let Ok(Some(entry)) = dirs.next_entry().await {
            let name = entry.file_name().to_string_lossy().to_string();
            let Ok(meta) = entry.metadata().await else { continue };
            if !old(&meta) {
                continue;
            }
            match db::job_by_uuid(&app.db, &name).await {
                // Still to be stored (its `runner-results` job is behind).
                Ok(Some(j)) if j.state == db::COMPLETED && !j.result_stored => {}
                Ok(_) => {
                    let _ = tokio::fs::remove_dir_all(entry.path()).await;
                }
                // The database is away: the next round decides.
                Err(_) => {}
            }
        }
    }
    if let Ok(mut files) = tokio::fs::read_dir(upload_dir(app)).await {
        while let Ok(Some(entry)) = files.next_entry().await {
            if entry.metadata().await.is_ok_and(|m| old(&m)) {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
    }
}

fn retry(e: impl std::fmt::Display) -> Failure {
    Failure::Retry(e.to_string())
}

/// Whether a job is not over for its video: pending, processing, or completed and not stored.
fn open(j: &db::Job) -> bool {
    j.state == db::PENDING || j.state == db::PROCESSING || (j.state == db::COMPLETED && !j.result_stored)
}

/// The `runner-results` job: stores a video's completed results, lowest rendition first, each
/// published as it comes (a new master playlist, an `Update`); after the last one, the
/// transcoding is over as a local one ends.
pub async fn store_all(app: &Arc<App>, video_id: i64) -> std::result::Result<(), Failure> {
    let Some(v) = videos::get(&app.db, video_id).await.map_err(retry)? else { return Ok(()) };
    let out_dir = crate::video::hls_dir(app, &v.uuid);
    tokio::fs::create_dir_all(&out_dir).await.map_err(retry)?;
    let mut hashes = crate::video::transcode::HashCache::new();
    loop {
        let all = db::of_video(&app.db, v.id).await.map_err(retry)?;
        let mut ready: Vec<(&db::Job, Private)> = all
            .iter()
            .filter(|j| j.state == db::COMPLETED && !j.result_stored)
            .filter_map(|j| serde_json::from_str::<Private>(&j.private_payload).ok().map(|p| (j, p)))
            .collect();
        if ready.is_empty() {
            break;
        }
        ready.sort_by_key(|(_, p)| p.resolution);
        for (i, (j, p)) in ready.iter().enumerate() {
            let d = dir(app, &j.uuid);
            let files = videos::files(&app.db, v.id).await.map_err(retry)?;
            if files.iter().any(|f| f.resolution == i64::from(p.resolution)) {
                // Stored by a run that died before it said so.
                db::mark_stored(&app.db, j.id, now_ms()).await.map_err(retry)?;
                let _ = tokio::fs::remove_dir_all(&d).await;
                continue;
            }
            let meta = tokio::fs::read(d.join(META)).await.ok().and_then(|b| serde_json::from_slice::<Meta>(&b).ok());
            let (Some(meta), true) = (meta, d.join(FRAGMENT).exists()) else {
                tracing::warn!(job = %j.uuid, "a runner's result was lost before it was stored; it is done again");
                db::redo(&app.db, j.id, now_ms()).await.map_err(retry)?;
                continue;
            };
            let (fragment, playlist) = hls::names(&uuid::Uuid::new_v4().to_string(), p.resolution);
            let text = tokio::fs::read_to_string(d.join(PLAYLIST)).await.map_err(retry)?;
            let renamed: String = text
                .lines()
                .map(|l| {
                    if l == FRAGMENT {
                        fragment.clone()
                    } else {
                        l.replace(&format!("URI=\"{FRAGMENT}\""), &format!("URI=\"{fragment}\""))
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n";
            tokio::fs::write(d.join(&playlist), renamed).await.map_err(retry)?;
            tokio::fs::rename(d.join(FRAGMENT), d.join(&fragment)).await.map_err(retry)?;
            let rendition = hls::Rendition {
                resolution: p.resolution,
                width: meta.width,
                height: meta.height,
                fps: p.fps,
                max_bitrate: 0,
            };
            // The last when no job is still out and this is the last of the batch (`all` was read
            // before the batch: its other completed jobs are stored by this loop, not open).
            let others_open =
                i + 1 < ready.len() || all.iter().any(|o| o.state == db::PENDING || o.state == db::PROCESSING);
            let last = !others_open;
            crate::video::transcode::store(app, &v, &d, &out_dir, &[(rendition, fragment, playlist)], p.duration)
                .await?;
            crate::video::files::complete(app, v.id, &d, last).await?;
            crate::video::transcode::write_playlists(app, v.id, &v.uuid, !v.wait_transcoding || last, &mut hashes)
                .await?;
            db::mark_stored(&app.db, j.id, now_ms()).await.map_err(retry)?;
            let _ = tokio::fs::remove_dir_all(&d).await;
            tracing::info!(video = %v.uuid, resolution = p.resolution, "runner's rendition stored");
        }
    }
    finish_if_done(app, video_id).await
}

/// After a video's last result: its transcoding is over, as a local one ends (the input cleared
/// and the move to the object store queued in one transaction, the upload kept or removed).
async fn finish_if_done(app: &Arc<App>, video_id: i64) -> std::result::Result<(), Failure> {
    let Some(v) = videos::get(&app.db, video_id).await.map_err(retry)? else { return Ok(()) };
    let Some(input) = v.input_path.clone() else { return Ok(()) };
    let all = db::of_video(&app.db, v.id).await.map_err(retry)?;
    if all.is_empty() || all.iter().any(open) {
        return Ok(());
    }
    // A rendition whose job errored or was cancelled has no file: the video is not whole (its
    // owner was told; a new transcoding makes new jobs).
    let files = videos::files(&app.db, v.id).await.map_err(retry)?;
    let missing = all.iter().filter(|j| j.state != db::COMPLETED).any(|j| {
        serde_json::from_str::<Private>(&j.private_payload)
            .is_ok_and(|p| !files.iter().any(|f| f.resolution == i64::from(p.resolution)))
    });
    if missing || files.is_empty() {
        return Ok(());
    }
    let mut tx = app.db.begin().await.map_err(retry)?;
    videos::clear_input(&mut tx, v.id).await.map_err(retry)?;
    crate::storage::queue_move(&mut tx, app, &v).await.map_err(retry)?;
    tx.commit().await.map_err(retry)?;
    app.wake_jobs();
    crate::video::source::after_transcoding(app, &v, Path::new(&input)).await;
    let _ = videos::set_progress(&app.db, v.id, 100).await;
    tracing::info!(video = %v.uuid, "video published (transcoded by remote runners)");
    Ok(())
}

/// Accepts a runner's success: the result checked, kept, the job completed and its storing
/// queued in one transaction. A result that fails the checks is refused and counted as the job's
/// failure (another runner gets it).
pub async fn success(
    app: &Arc<App>,
    runner_token: &str,
    job_token: &str,
    uuid: &str,
    video: &Path,
    playlist: &[u8],
    ip: std::net::IpAddr,
) -> Result<()> {
    let r = super::runner(app, runner_token, ip).await?;
    let job = super::held(app, &r, uuid, job_token).await?;
    let token_hash = super::hash(job_token);
    let p: Private =
        serde_json::from_str(&job.private_payload).map_err(|e| Error::Internal(format!("runner job payload: {e}")))?;
    let (text, width, height) = match verify(app, &p, video, playlist).await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(runner = %r.name, job = uuid, error = %e, "runner's result refused");
            super::count_failure(app, &job, &token_hash, &format!("runner {}: result refused: {e}", r.name)).await?;
            return Err(e);
        }
    };
    keep(app, uuid, video, &text, width, height).await?;
    let mut tx = app.db.begin().await?;
    if !db::complete(&mut tx, job.id, &token_hash, now_ms()).await? {
        drop(tx);
        let _ = tokio::fs::remove_dir_all(dir(app, uuid)).await;
        return Err(Error::Conflict("the runner job was taken back meanwhile".into()));
    }
    if let Some(video_id) = job.video_id {
        jobs::enqueue(&mut tx, &Job::RunnerResults { video_id }).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(runner = %r.name, job = uuid, resolution = p.resolution, "runner job completed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:0\n\
        #EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"a-480-fragmented.mp4\",BYTERANGE=\"800@0\"\n\
        #EXTINF:4.000000,\n#EXT-X-BYTERANGE:1000@800\na-480-fragmented.mp4\n\
        #EXTINF:2.000000,\n#EXT-X-BYTERANGE:500@1800\na-480-fragmented.mp4\n#EXT-X-ENDLIST\n";

    #[test]
    fn a_good_playlist_is_renamed_and_timed() {
        let (out, total) = check_playlist(GOOD.as_bytes(), 2300).unwrap();
        assert!((total - 6.0).abs() < 1e-9);
        assert!(out.contains("URI=\"result.mp4\""));
        assert_eq!(out.lines().filter(|l| *l == "result.mp4").count(), 2);
        assert!(!out.contains("a-480"));
    }

    #[test]
    fn hostile_playlists_are_refused() {
        for (why, text, size) in [
            ("range past the end", GOOD, 2299),
            ("a path", &*GOOD.replace("\na-480-fragmented.mp4\n#EXTINF:2", "\n../../etc/passwd\n#EXTINF:2"), 2300),
            ("two files", &*GOOD.replace("\na-480-fragmented.mp4\n#EXTINF:2", "\nb.mp4\n#EXTINF:2"), 2300),
            ("a URL", &*GOOD.replace("\na-480-fragmented.mp4\n#EXTINF:2", "\nhttp://x/a.mp4\n#EXTINF:2"), 2300),
            ("a key", &*GOOD.replace("#EXT-X-VERSION:7", "#EXT-X-KEY:METHOD=AES-128,URI=\"k\""), 2300),
            ("not a VOD", &*GOOD.replace("#EXT-X-ENDLIST\n", ""), 2300),
            (
                "no ranges",
                &*GOOD.replace("#EXT-X-BYTERANGE:1000@800\n", "").replace("#EXT-X-BYTERANGE:500@1800\n", ""),
                2300,
            ),
            ("not text", "\u{0}\u{ff}", 2300),
            ("a bad duration", &*GOOD.replace("#EXTINF:2.000000", "#EXTINF:NaN"), 2300),
        ] {
            assert!(check_playlist(text.as_bytes(), size).is_err(), "{why} was accepted");
        }
    }
}
