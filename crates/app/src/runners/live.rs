//! Lives transcoded by remote runners (`[live] remote_runners`; PeerTube's
//! `live-rtmp-hls-transcoding` job).
//!
//! ```text
//!  publisher ──RTMP──> ingest (live role) ──relay──> the runner plays rtmp://…/live/<secret key>
//!                                                     its ffmpeg makes the live ladder
//!  runner ──update (add-chunk: segment, its playlist, the master; remove-chunk)──> the video's
//!     HLS directory (checked names, parsed playlists, bounded sizes) <── the session's watcher
//!     keeps the segment hashes, the replay and the publication as for a local ffmpeg
//!  the job errored, stalled or cancelled ──> the session ends with that error (the ingest looks
//!     at its job every second); the session ends ──> a job still pending is cancelled
//! ```

use std::net::IpAddr;
use std::path::Path;

use flotilla_db::{runners as db, videos};
use flotilla_domain::time::now_ms;
use flotilla_media::live::{self as media, Source};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{held, runner};
use crate::{App, Error, Result};

/// The job type (PeerTube's name).
pub const KIND_LIVE: &str = "live-rtmp-hls-transcoding";
/// The largest segment a runner may upload (a 4 s segment of the highest rendition is a few MB).
pub const MAX_CHUNK_BYTES: u64 = 64 * 1024 * 1024;
/// The largest playlist (a media playlist of 15 segments is under 2 KB).
pub const MAX_PLAYLIST_BYTES: usize = 64 * 1024;

/// What we keep of a live job (PeerTube's `RunnerJobLiveRTMPHLSTranscodingPrivatePayload`, and
/// the relay's key).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LivePrivate {
    #[serde(rename = "videoUUID")]
    pub video_uuid: String,
    pub master_playlist_name: String,
    pub session_id: i64,
    pub relay_key: String,
}

/// Creates the runner job of a session that starts (its relay opened under `relay_key`).
pub async fn create(
    app: &App,
    v: &videos::Video,
    session_id: i64,
    source: &Source,
    latency_mode: i64,
    relay_key: &str,
) -> Result<i64> {
    let base = crate::live::rtmp_url(app).ok_or_else(|| Error::Internal("the RTMP server is not listening".into()))?;
    let rtmp_url = format!("{}/{relay_key}", base.trim_end_matches('/'));
    let ladder = media::ladder(source, &app.config.live.resolutions);
    let to_transcode: Vec<_> = ladder.iter().map(|r| json!({ "resolution": r, "fps": media::MAX_FPS })).collect();
    let payload = json!({
        // `hasAudio`, `width`, `height` are ours (what the publisher said), for our runner's
        // ffmpeg to build the same ladder as the server's would.
        "input": { "rtmpUrl": rtmp_url, "hasAudio": source.has_audio, "width": source.width, "height": source.height },
        "output": {
            "toTranscode": to_transcode,
            "segmentDuration": crate::live::segment_seconds(latency_mode),
            "segmentListSize": crate::live::PLAYLIST_SEGMENTS,
        },
    });
    let private = LivePrivate {
        video_uuid: v.uuid.clone(),
        master_playlist_name: media::MASTER_PLAYLIST.to_string(),
        session_id,
        relay_key: relay_key.to_string(),
    };
    let private = serde_json::to_string(&private).map_err(|e| Error::Internal(e.to_string()))?;
    let uuid = uuid::Uuid::new_v4().to_string();
    let new = db::NewJob {
        uuid: &uuid,
        kind: KIND_LIVE,
        video_id: v.id,
        payload: &payload.to_string(),
        private_payload: &private,
        // Before every VOD job: viewers are waiting.
        priority: 0,
    };
    let id = db::insert_job(&app.db, &new, now_ms()).await?;
    tracing::info!(video = %v.uuid, job = %uuid, "live session handed to remote runners");
    Ok(id)
}

/// Whether the session's job ended badly (errored, stalled, cancelled): the session's error.
pub async fn failed(app: &App, job_id: i64) -> Option<i64> {
    match db::job_by_id(&app.db, job_id).await {
        Ok(Some(j)) if j.state == db::ERRORED => Some(crate::live::ERROR_RUNNER_JOB),
        Ok(Some(j)) if j.state == db::CANCELLED => Some(crate::live::ERROR_RUNNER_CANCELLED),
        // Deleted by an admin.
        Ok(None) => Some(crate::live::ERROR_RUNNER_CANCELLED),
        _ => None,
    }
}

/// Whether a runner holds the session's job (it may still send segments).
pub async fn processing(app: &App, job_id: i64) -> bool {
    matches!(db::job_by_id(&app.db, job_id).await, Ok(Some(j)) if j.state == db::PROCESSING)
}

/// The session ended: a job no runner took is cancelled; one a runner holds ends when its
/// runner sees the stream end (`success`), or stalls.
pub async fn session_ended(app: &App, job_id: i64) {
    if let Ok(Some(j)) = db::job_by_id(&app.db, job_id).await
        && j.state == db::PENDING
    {
        let _ = db::cancel(&app.db, job_id, now_ms()).await;
    }
}

/// What a live job's `update` carries (PeerTube's `LiveRTMPHLSTranscodingUpdatePayload`).
#[derive(Debug, Default)]
pub struct Chunk {
    /// `add-chunk` or `remove-chunk`.
    pub kind: String,
    pub chunk_name: String,
    /// The segment's bytes, uploaded into a file beside the HLS directory (`add-chunk`).
    pub chunk_file: Option<std::path::PathBuf>,
    pub playlist_name: Option<String>,
    pub playlist: Option<Vec<u8>>,
    pub master: Option<Vec<u8>>,
}

fn invalid(field: &str, why: &str) -> Error {
    Error::bad_request("invalid_runner_result", format!("{field}: {why}"))
}

/// A variant playlist's name as our ladder names them (`0.m3u8`).
fn is_variant_playlist(name: &str) -> bool {
    name != media::MASTER_PLAYLIST && name.ends_with(".m3u8") && media::is_live_file(name) && !name.ends_with(".tmp")
}

/// A live media playlist: only the tags a live HLS muxer writes, every URI a segment name.
fn check_media_playlist(text: &str) -> std::result::Result<(), String> {
    const TAGS: &[&str] = &[
        "#EXT-X-VERSION:",
        "#EXT-X-TARGETDURATION:",
        "#EXT-X-MEDIA-SEQUENCE:",
        "#EXT-X-DISCONTINUITY-SEQUENCE:",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-PROGRAM-DATE-TIME:",
        "#EXTINF:",
        "#EXT-X-DISCONTINUITY",
        "#EXT-X-ENDLIST",
    ];
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some("#EXTM3U") {
        return Err("not an HLS playlist".into());
    }
    for l in lines {
        if l.starts_with('#') {
            if !TAGS.iter().any(|t| l.starts_with(t)) {
                return Err(format!("unexpected tag {}", l.chars().take(40).collect::<String>()));
            }
        } else if !media::is_segment_name(l) {
            return Err(format!("names {:?}, not a segment of this live", l.chars().take(40).collect::<String>()));
        }
    }
    Ok(())
}

/// The master playlist: variants and their attributes, every URI a variant playlist.
fn check_master_playlist(text: &str) -> std::result::Result<(), String> {
    const TAGS: &[&str] = &["#EXT-X-VERSION:", "#EXT-X-INDEPENDENT-SEGMENTS", "#EXT-X-STREAM-INF:", "#EXT-X-MEDIA:"];
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some("#EXTM3U") {
        return Err("not an HLS playlist".into());
    }
    let mut variants = 0;
    for l in lines {
        if l.starts_with('#') {
            if !TAGS.iter().any(|t| l.starts_with(t)) || l.contains("URI=") {
                return Err(format!("unexpected tag {}", l.chars().take(40).collect::<String>()));
            }
        } else if is_variant_playlist(l) {
            variants += 1;
        } else {
            return Err(format!("names {:?}, not a variant of this live", l.chars().take(40).collect::<String>()));
        }
    }
    if variants == 0 {
        return Err("no variant".into());
    }
    Ok(())
}

/// Writes `bytes` as `dir/name` through a temporary name (readers see the old or the new).
async fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let io = |e: std::io::Error| Error::Internal(format!("cannot write {name}: {e}"));
    tokio::fs::write(&tmp, bytes).await.map_err(io)?;
    tokio::fs::rename(&tmp, dir.join(name)).await.map_err(io)
}

/// `jobs/{uuid}/update` of a live job: a segment added (then its playlist and the master, which
/// name it) or removed. Names and playlists are checked before anything is written.
pub async fn update(
    app: &App,
    runner_token: &str,
    job_token: &str,
    uuid: &str,
    chunk: Chunk,
    ip: IpAddr,
) -> Result<()> {
    let r = runner(app, runner_token, ip).await?;
    let job = held(app, &r, uuid, job_token).await?;
    if job.kind != KIND_LIVE {
        return Err(invalid("payload[type]", "this job is not a live's"));
    }
    let private: LivePrivate =
        serde_json::from_str(&job.private_payload).map_err(|e| Error::Internal(format!("live job {uuid}: {e}")))?;
    if !media::is_segment_name(&chunk.chunk_name) {
        return Err(invalid("payload[videoChunkFilename]", "not a segment name of this live (0-000001.ts)"));
    }
    let playlist = match (&chunk.playlist_name, &chunk.playlist) {
        (Some(name), Some(bytes)) => {
            if !is_variant_playlist(name) {
                return Err(invalid("payload[resolutionPlaylistFilename]", "not a variant playlist name (0.m3u8)"));
            }
            let text =
                std::str::from_utf8(bytes).map_err(|_| invalid("payload[resolutionPlaylistFile]", "not UTF-8 text"))?;
            check_media_playlist(text).map_err(|why| invalid("payload[resolutionPlaylistFile]", &why))?;
            Some((name.as_str(), bytes.as_slice()))
        }
        (None, None) => None,
        _ => return Err(invalid("payload[resolutionPlaylistFile]", "comes with its file name")),
    };
    if let Some(m) = &chunk.master {
        let text = std::str::from_utf8(m).map_err(|_| invalid("payload[masterPlaylistFile]", "not UTF-8 text"))?;
        check_master_playlist(text).map_err(|why| invalid("payload[masterPlaylistFile]", &why))?;
    }
    let dir = crate::video::hls_dir(app, &private.video_uuid);
    if !tokio::fs::try_exists(&dir).await.unwrap_or(false) {
        // The session ended and its files went: nothing to add to.
        db::set_progress(&app.db, job.id, &super::hash(job_token), None, now_ms()).await?;
        return Ok(());
    }
    match chunk.kind.as_str() {
        "add-chunk" => {
            let file = chunk.chunk_file.as_ref().ok_or_else(|| invalid("payload[videoChunkFile]", "required"))?;
            let dest = dir.join(&chunk.chunk_name);
            // The segment first: the playlists that name it come after it.
            if tokio::fs::rename(file, &dest).await.is_err() {
                tokio::fs::copy(file, &dest)
                    .await
                    .map_err(|e| Error::Internal(format!("cannot keep {}: {e}", chunk.chunk_name)))?;
            }
        }
        "remove-chunk" => {
            let _ = tokio::fs::remove_file(dir.join(&chunk.chunk_name)).await;
        }
        _ => return Err(invalid("payload[type]", "add-chunk or remove-chunk")),
    }
    if let Some((name, bytes)) = playlist {
        write_atomic(&dir, name, bytes).await?;
    }
    if let Some(m) = &chunk.master {
        write_atomic(&dir, &private.master_playlist_name, m).await?;
    }
    // A sign of life.
    db::set_progress(&app.db, job.id, &super::hash(job_token), None, now_ms()).await?;
    Ok(())
}

/// `success` of a live job: its runner saw the stream end. Nothing to store.
pub async fn success(app: &App, runner_token: &str, job_token: &str, uuid: &str, ip: IpAddr) -> Result<()> {
    let r = runner(app, runner_token, ip).await?;
    let job = held(app, &r, uuid, job_token).await?;
    if job.kind != KIND_LIVE {
        return Err(invalid("payload[videoFile]", "the rendition's file is required"));
    }
    let now = now_ms();
    if !db::complete(&app.db, job.id, &super::hash(job_token), now).await? {
        return Err(Error::Conflict("the runner job was taken back meanwhile".into()));
    }
    db::mark_stored(&app.db, job.id, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_playlists_name_only_this_lives_files() {
        let media_ok = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:3\n\
            #EXT-X-INDEPENDENT-SEGMENTS\n#EXTINF:4.000000,\n#EXT-X-PROGRAM-DATE-TIME:2026-12-05T10:00:00.000+0000\n0-000003.ts\n";
        assert!(check_media_playlist(media_ok).is_ok());
        for bad in [
            "#EXTM3U\n#EXTINF:4,\n../0-000003.ts\n",
            "#EXTM3U\n#EXTINF:4,\nhttp://169.254.169.254/x.ts\n",
            "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"file:///etc/passwd\"\n",
            "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n",
            "0-000003.ts\n",
        ] {
            assert!(check_media_playlist(bad).is_err(), "{bad}");
        }
        assert!(
            check_master_playlist("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000,RESOLUTION=640x360\n0.m3u8\n").is_ok()
        );
        for bad in [
            "#EXTM3U\n",
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nmaster.m3u8\n",
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttps://evil.example/0.m3u8\n",
            "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,URI=\"x.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=1\n0.m3u8\n",
        ] {
            assert!(check_master_playlist(bad).is_err(), "{bad}");
        }
        assert!(
            is_variant_playlist("0.m3u8") && !is_variant_playlist("master.m3u8") && !is_variant_playlist("../0.m3u8")
        );
    }
}
