//! Accepting an upload: the metadata checked, the owner and quota checked, the file probed, then
//! one transaction writes the video and its transcoding job. The file arrives already stored in
//! quarantine (`<data>/tmp/uploads/`) under a generated name; a refused upload's file is deleted.

use std::path::{Path, PathBuf};

use flotilla_db::{accounts, channels, users, videos};
use flotilla_domain::{ChannelId, FieldError, UserId, Validation, time::now_ms};
use serde::Deserialize;

use crate::auth::AuthUser;
use crate::jobs::{self, Job};
use crate::video::{STATE_TO_TRANSCODE, labels, short_uuid};
use crate::{App, Error, Result};

/// The metadata of an upload, as PeerTube's clients send it (multipart fields or JSON).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadMeta {
    pub channel_id: Option<i64>,
    pub name: Option<String>,
    pub privacy: Option<i64>,
    pub description: Option<String>,
    pub support: Option<String>,
    pub category: Option<i64>,
    pub licence: Option<i64>,
    pub language: Option<String>,
    pub nsfw: Option<bool>,
    /// PeerTube 7's `nsfwFlags` (1 violence, 2 explicit sex) and `nsfwSummary`.
    pub nsfw_flags: Option<i64>,
    pub nsfw_summary: Option<String>,
    pub comments_enabled: Option<bool>,
    /// PeerTube's `commentsPolicy`: 1 enabled, 2 disabled, 3 held for the owner's approval.
    pub comments_policy: Option<i64>,
    pub download_enabled: Option<bool>,
    pub wait_transcoding: Option<bool>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The original file name (resumable uploads); only shown, never used as a path.
    pub filename: Option<String>,
    /// The passwords of a password-protected video (privacy 5).
    #[serde(default)]
    pub video_passwords: Vec<String>,
}

/// What `privacy` may be (PeerTube's numbers).
pub const PRIVACY_RULE: &str =
    "privacy must be 1 (public), 2 (unlisted), 3 (private), 4 (internal) or 5 (password protected)";

/// The most characters of an `nsfwSummary`.
pub const MAX_NSFW_SUMMARY: usize = 250;

/// PeerTube 7's rules for `nsfwFlags` (the bits 1 violence, 2 explicit sex) and `nsfwSummary`.
pub fn nsfw_rules(v: &mut Validation, flags: Option<i64>, summary: Option<&str>) {
    if flags.is_some_and(|f| !(0..=3).contains(&f)) {
        v.fail("nsfwFlags", "nsfwFlags is 0, or 1 (violence), 2 (explicit sex), 3 (both)");
    }
    if summary
        .is_some_and(|s| s.trim().chars().count() > MAX_NSFW_SUMMARY || s.chars().any(|c| c.is_control() && c != '\n'))
    {
        v.fail("nsfwSummary", format!("nsfwSummary must be at most {MAX_NSFW_SUMMARY} characters long"));
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

impl UploadMeta {
    /// Sets one multipart text field. Unknown fields are ignored, as PeerTube does.
    pub fn set(&mut self, field: &str, value: String) -> std::result::Result<(), FieldError> {
        let bad = |msg: &str| FieldError { field: field.to_string(), msg: msg.to_string() };
        let int = |v: &str| v.trim().parse::<i64>().map_err(|_| bad("must be a whole number"));
        let boolean = |v: &str| parse_bool(v.trim()).ok_or_else(|| bad("must be true or false"));
        match field {
            "channelId" => self.channel_id = Some(int(&value)?),
            "name" => self.name = Some(value),
            "privacy" => self.privacy = Some(int(&value)?),
            "description" => self.description = Some(value),
            "support" => self.support = Some(value),
            "category" => self.category = Some(int(&value)?),
            "licence" => self.licence = Some(int(&value)?),
            "language" => self.language = Some(value),
            "nsfw" => self.nsfw = Some(boolean(&value)?),
            "nsfwFlags" => self.nsfw_flags = Some(int(&value)?),
            "nsfwSummary" => self.nsfw_summary = Some(value),
            "commentsEnabled" => self.comments_enabled = Some(boolean(&value)?),
            "commentsPolicy" => self.comments_policy = Some(int(&value)?),
            "downloadEnabled" => self.download_enabled = Some(boolean(&value)?),
            "waitTranscoding" => self.wait_transcoding = Some(boolean(&value)?),
            // Counted as they arrive: a form cannot make us hold thousands of them.
            f if f == "tags" || f.starts_with("tags[") => {
                if self.tags.len() >= 5 {
                    return Err(FieldError { field: "tags".into(), msg: "at most 5 tags".into() });
                }
                self.tags.push(value)
            }
            f if crate::video::passwords::is_field(f) => {
                crate::video::passwords::push_field(&mut self.video_passwords, value)?
            }
            _ => {}
        }
        Ok(())
    }

    /// Every rule at once (PeerTube's limits), so the uploader sees all mistakes together.
    pub fn validate(&self) -> Result<()> {
        let mut v = Validation::new();
        if self.channel_id.is_none() {
            v.fail("channelId", "channelId is required");
        }
        match self.name.as_deref().map(|n| n.trim().chars().count()) {
            None => {
                v.fail("name", "name is required");
            }
            Some(n) if !(3..=120).contains(&n) => {
                v.fail("name", "name must be between 3 and 120 characters long");
            }
            _ => {}
        }
        if let Some(p) = self.privacy
            && !(1..=5).contains(&p)
        {
            v.fail("privacy", PRIVACY_RULE);
        }
        crate::video::passwords::check(&mut v, self.privacy, Some(&self.video_passwords), false);
        if self.description.as_deref().is_some_and(|d| d.chars().count() > 10_000) {
            v.fail("description", "description must be at most 10000 characters long");
        }
        if self.support.as_deref().is_some_and(|d| d.chars().count() > 1000) {
            v.fail("support", "support must be at most 1000 characters long");
        }
        nsfw_rules(&mut v, self.nsfw_flags, self.nsfw_summary.as_deref());
        if self.category.is_some_and(|c| labels::category(c).is_none()) {
            v.fail("category", "unknown category");
        }
        if self.licence.is_some_and(|c| labels::licence(c).is_none()) {
            v.fail("licence", "unknown licence");
        }
        if self.language.as_deref().is_some_and(|l| labels::language(l).is_none()) {
            v.fail("language", "unknown language: use a code such as en or fr (GET /api/v1/videos/languages)");
        }
        if self.tags.len() > 5 {
            v.fail("tags", "at most 5 tags");
        }
        if self.tags.iter().any(|t| !(2..=30).contains(&t.trim().chars().count())) {
            v.fail("tags", "each tag must be between 2 and 30 characters long");
        }
        Ok(v.finish()?)
    }
}

/// The ids PeerTube answers an upload with.
#[derive(Debug, Clone)]
pub struct Created {
    pub id: i64,
    pub uuid: String,
    pub short_uuid: String,
}

/// Bytes `who` may still upload now: the smaller of the total and daily remainders (None: no
/// limit). Uploads in progress count with the size they announced (all but `except`, the one
/// asking), so parallel uploads cannot each claim the same room.
pub async fn quota_left(app: &App, who: &AuthUser) -> Result<Option<i64>> {
    quota_left_in(&app.db, who.id(), None).await
}

/// [`quota_left`] of a user, read through `e` (a transaction holding the user's row); `except`
/// is the resumable session being finalised, whose announced size is not counted twice.
pub async fn quota_left_of(
    e: impl Into<flotilla_db::Exec<'_>>,
    user: UserId,
    except: Option<&str>,
) -> Result<Option<i64>> {
    quota_left_in(e, user, except).await
}

async fn quota_left_in(e: impl Into<flotilla_db::Exec<'_>>, user: UserId, except: Option<&str>) -> Result<Option<i64>> {
    let mut e = e.into();
    let u = users::get(&mut e, user).await?.ok_or_else(|| Error::not_found("user"))?;
    let (total, daily) = videos::quota_used(&mut e, u.id, now_ms() - 24 * 3600 * 1000).await?;
    let (_, open) = flotilla_db::uploads::open_for_user(&mut e, u.id, except).await?;
    let left_total = (u.video_quota >= 0).then(|| u.video_quota - total - open);
    let left_daily = (u.video_quota_daily >= 0).then(|| u.video_quota_daily - daily - open);
    Ok(match (left_total, left_daily) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

fn over_quota(left: i64, size: u64) -> Error {
    Error::TooLarge {
        code: "quota_reached",
        msg: format!("this video would exceed your video quota: {} bytes left, the file has {size}", left.max(0)),
    }
}

/// Refuses `size` bytes that would go over the file size limit or the quota (413, as PeerTube);
/// `except` is the resumable upload asking, whose own announced size is not counted twice.
pub async fn check_size(app: &App, who: &AuthUser, size: u64, except: Option<&str>) -> Result<()> {
    let max = app.config.upload.max_file_size;
    if size > max {
        return Err(Error::TooLarge {
            code: "max_file_size_reached",
            msg: format!("the file is larger than this instance accepts ({max} bytes)"),
        });
    }
    if let Some(left) = quota_left_in(&app.db, who.id(), except).await?
        && size as i64 > left
    {
        return Err(over_quota(left, size));
    }
    Ok(())
}

/// [`check_size`] for a file that replaces one of `given_back` bytes: the old file's share of the
/// quota goes to the new one.
pub async fn check_replacement_size(app: &App, who: &AuthUser, size: u64, given_back: i64) -> Result<()> {
    let max = app.config.upload.max_file_size;
    if size > max {
        return Err(Error::TooLarge {
            code: "max_file_size_reached",
            msg: format!("the file is larger than this instance accepts ({max} bytes)"),
        });
    }
    if let Some(left) = quota_left_in(&app.db, who.id(), None).await?
        && size as i64 > left + given_back
    {
        return Err(over_quota(left + given_back, size));
    }
    Ok(())
}

/// The channel `who` may upload to.
pub async fn check_channel(app: &App, who: &AuthUser, channel_id: i64) -> Result<flotilla_db::channels::Channel> {
    let c = channels::get(&app.db, ChannelId(channel_id))
        .await?
        .ok_or_else(|| Error::invalid("channelId", "unknown channel"))?;
    let owner = accounts::get(&app.db, c.owner()).await?.and_then(|a| a.user_id);
    if owner != Some(who.user.id) && !flotilla_db::collaborators::edits(&app.db, who.user.id, c.id).await? {
        return Err(Error::Forbidden("you can only upload to your own channels and those you edit".into()));
    }
    Ok(c)
}

/// Probes an uploaded file and checks it against the upload limits: what it holds and ffprobe's
/// JSON, or `400 invalid_media` (a tool's failure is internal, worth another try).
pub async fn probe_upload(app: &App, file: &Path) -> Result<(flotilla_media::probe::Probe, String)> {
    let probed = flotilla_media::probe::probe(file)
        .await
        .and_then(|(p, json)| p.check(&app.config.upload.limits()).map(|()| (p, json)));
    match probed {
        Ok(p) => Ok(p),
        Err(flotilla_media::Error::Rejected(m)) => Err(Error::bad_request("invalid_media", m)),
        Err(e) => Err(Error::Internal(e.to_string())),
    }
}

/// A quarantine path for a new upload, under a generated name.
pub fn quarantine_path(app: &App) -> PathBuf {
    app.data_path("tmp/uploads").join(format!("{}.upload", uuid::Uuid::new_v4()))
}

/// Turns a stored upload into a video. On any refusal or failure the file is deleted.
pub async fn create(app: &App, who: &AuthUser, meta: UploadMeta, file: &Path) -> Result<Created> {
    let result = create_inner(app, who, meta, file, None).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(file).await;
    }
    result
}

/// Whether an error at finalisation is the server's passing trouble (the database busy or down,
/// ffprobe killed or timing out): the upload is kept to be finalised again, not refused.
pub fn is_transient(e: &Error) -> bool {
    matches!(e, Error::Internal(_) | Error::Db(flotilla_db::Error::Unavailable(_) | flotilla_db::Error::Other(_)))
}

/// [`create`] for the resumable upload `session`: the session records its video in the same
/// transaction, and a transient failure keeps the file (the client's next request tries again);
/// a refusal deletes it.
pub async fn create_for_session(
    app: &App,
    who: &AuthUser,
    meta: UploadMeta,
    file: &Path,
    session: &str,
) -> Result<Created> {
    let result = create_inner(app, who, meta, file, Some(session)).await;
    if let Err(e) = &result
        && !is_transient(e)
    {
        let _ = tokio::fs::remove_file(file).await;
    }
    result
}

async fn create_inner(
    app: &App,
    who: &AuthUser,
    meta: UploadMeta,
    file: &Path,
    session: Option<&str>,
) -> Result<Created> {
    app.failpoints.fail("upload.finalise").map_err(Error::Internal)?;
    meta.validate()?;
    let (comments_enabled, comments_held) = crate::video::comments_policy(meta.comments_policy, meta.comments_enabled)?;
    let channel = check_channel(app, who, meta.channel_id.unwrap_or_default()).await?;
    let size = tokio::fs::metadata(file).await.map_err(|e| Error::Internal(format!("upload vanished: {e}")))?.len();
    if size == 0 {
        return Err(Error::invalid("videofile", "the file is empty"));
    }
    check_size(app, who, size, session).await?;
    let (probe, probe_json) = probe_upload(app, file).await?;
    let uuid = uuid::Uuid::new_v4();
    let short = short_uuid(&uuid);
    let now = now_ms();
    let tags: Vec<String> = meta.tags.iter().map(|t| t.trim().to_string()).collect();
    let mut tx = app.db.begin().await?;
    // The quota again, now that this transaction holds the user: two uploads finishing at once
    // cannot both take the last of it.
    users::lock(&mut tx, who.id()).await?;
    if let Some(left) = quota_left_in(&mut tx, who.id(), session).await?
        && size as i64 > left
    {
        return Err(over_quota(left, size));
    }
    let id = videos::insert(
        &mut tx,
        &videos::NewVideo {
            uuid: &uuid.to_string(),
            short_uuid: &short,
            channel: channel.channel_id(),
            name: meta.name.as_deref().unwrap_or_default().trim(),
            description: meta.description.as_deref(),
            support: meta.support.as_deref(),
            privacy: meta.privacy.unwrap_or(crate::video::PRIVACY_PUBLIC),
            state: STATE_TO_TRANSCODE,
            category: meta.category,
            licence: meta.licence,
            language: meta.language.as_deref(),
            nsfw: meta.nsfw.unwrap_or(false),
            comments_enabled: comments_enabled.unwrap_or(true),
            comments_held: comments_held.unwrap_or(false),
            download_enabled: meta.download_enabled.unwrap_or(true),
            wait_transcoding: meta.wait_transcoding.unwrap_or(false),
            duration: probe.duration.round() as i64,
            width: i64::from(probe.width),
            height: i64::from(probe.height),
            fps: probe.fps,
            has_audio: probe.has_audio,
            has_video: probe.has_video,
            input_size: size as i64,
            input_path: Some(&file.display().to_string()),
            probe: &probe_json,
            now,
        },
    )
    .await?;
    videos::set_tags(&mut tx, id, &tags).await?;
    videos::index_search(&mut tx, id).await?;
    let filename =
        meta.filename.as_deref().map(|f| f.chars().filter(|c| !c.is_control()).take(255).collect::<String>());
    videos::set_input_filename(&mut tx, id, filename.as_deref(), now).await?;
    crate::video::block::hold_if_needed(app, &mut tx, who, id).await?;
    let summary = meta.nsfw_summary.as_deref().map(str::trim).filter(|s| !s.is_empty());
    videos::set_nsfw_details(&mut tx, id, meta.nsfw_flags.unwrap_or(0), summary).await?;
    crate::video::chapters::follow_description(&mut tx, id, None, meta.description.as_deref()).await?;
    if meta.privacy == Some(crate::video::PRIVACY_PASSWORD) {
        flotilla_db::video_passwords::replace(&mut tx, id, &meta.video_passwords, now).await?;
    }
    jobs::enqueue(&mut tx, &Job::Transcode { video_id: id }).await?;
    if let Some(session) = session {
        flotilla_db::uploads::finish(&mut tx, session, id).await?;
    }
    tx.commit().await?;
    app.wake_jobs();
    tracing::info!(video = %uuid, size, duration = probe.duration, "video uploaded");
    Ok(Created { id, uuid: uuid.to_string(), short_uuid: short })
}

#[cfg(test)]
mod props;
