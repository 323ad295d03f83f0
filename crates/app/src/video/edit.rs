//! Changing a video: `PUT /api/v1/videos/:id` (metadata, and a custom thumbnail or preview).

use flotilla_db::videos;
use flotilla_domain::{FieldError, Validation, time::now_ms};
use serde::Deserialize;

use crate::auth::AuthUser;
use crate::video::{labels, upload::check_channel};
use crate::{App, Error, Result};

/// What may change; absent fields stay as they are. `Some(None)` clears an optional text.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoUpdate {
    pub channel_id: Option<i64>,
    pub name: Option<String>,
    pub privacy: Option<i64>,
    #[serde(default, deserialize_with = "crate::nullable")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::nullable")]
    pub support: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::nullable")]
    pub category: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::nullable")]
    pub licence: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::nullable")]
    pub language: Option<Option<String>>,
    pub nsfw: Option<bool>,
    pub nsfw_flags: Option<i64>,
    #[serde(default, deserialize_with = "crate::nullable")]
    pub nsfw_summary: Option<Option<String>>,
    pub comments_enabled: Option<bool>,
    /// PeerTube's `commentsPolicy`: 1 enabled, 2 disabled, 3 held for the owner's approval.
    pub comments_policy: Option<i64>,
    pub download_enabled: Option<bool>,
    pub wait_transcoding: Option<bool>,
    pub tags: Option<Vec<String>>,
    /// The passwords of a password-protected video (privacy 5); absent: kept as they are.
    pub video_passwords: Option<Vec<String>>,
}

impl VideoUpdate {
    /// One multipart text field (PeerTube's clients send the update as a form).
    pub fn set(&mut self, field: &str, value: String) -> std::result::Result<(), FieldError> {
        let bad = |msg: &str| FieldError { field: field.to_string(), msg: msg.to_string() };
        let int = |v: &str| v.trim().parse::<i64>().map_err(|_| bad("must be a whole number"));
        let boolean = |v: &str| match v.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(bad("must be true or false")),
        };
        let opt_int = |v: &str| if v.trim().is_empty() || v.trim() == "null" { Ok(None) } else { int(v).map(Some) };
        let opt_text = |v: String| if v.is_empty() { None } else { Some(v) };
        match field {
            "channelId" => self.channel_id = Some(int(&value)?),
            "name" => self.name = Some(value),
            "privacy" => self.privacy = Some(int(&value)?),
            "description" => self.description = Some(opt_text(value)),
            "support" => self.support = Some(opt_text(value)),
            "category" => self.category = Some(opt_int(&value)?),
            "licence" => self.licence = Some(opt_int(&value)?),
            "language" => self.language = Some(opt_text(value)),
            "nsfw" => self.nsfw = Some(boolean(&value)?),
            "nsfwFlags" => self.nsfw_flags = Some(int(&value)?),
            "nsfwSummary" => self.nsfw_summary = Some(opt_text(value)),
            "commentsEnabled" => self.comments_enabled = Some(boolean(&value)?),
            "commentsPolicy" => self.comments_policy = Some(int(&value)?),
            "downloadEnabled" => self.download_enabled = Some(boolean(&value)?),
            "waitTranscoding" => self.wait_transcoding = Some(boolean(&value)?),
            // Counted as they arrive: a form cannot make us hold thousands of them.
            f if f == "tags" || f.starts_with("tags[") => {
                let tags = self.tags.get_or_insert_with(Vec::new);
                if tags.len() >= 5 {
                    return Err(FieldError { field: "tags".into(), msg: "at most 5 tags".into() });
                }
                tags.push(value)
            }
            f if crate::video::passwords::is_field(f) => {
                crate::video::passwords::push_field(self.video_passwords.get_or_insert_with(Vec::new), value)?
            }
            _ => {}
        }
        Ok(())
    }

    /// Every rule at once; `current` is the video's privacy now and whether it has passwords.
    fn validate(&self, current: (i64, bool)) -> Result<()> {
        let mut v = Validation::new();
        if let Some(n) = &self.name
            && !(3..=120).contains(&n.trim().chars().count())
        {
            v.fail("name", "name must be between 3 and 120 characters long");
        }
        if let Some(p) = self.privacy
            && !(1..=5).contains(&p)
        {
            v.fail("privacy", crate::video::upload::PRIVACY_RULE);
        }
        let (privacy, has_passwords) = current;
        crate::video::passwords::check(
            &mut v,
            Some(self.privacy.unwrap_or(privacy)),
            self.video_passwords.as_deref(),
            privacy == crate::video::PRIVACY_PASSWORD && has_passwords,
        );
        if let Some(Some(d)) = &self.description
            && d.chars().count() > 10_000
        {
            v.fail("description", "description must be at most 10000 characters long");
        }
        if let Some(Some(s)) = &self.support
            && s.chars().count() > 1000
        {
            v.fail("support", "support must be at most 1000 characters long");
        }
        crate::video::upload::nsfw_rules(&mut v, self.nsfw_flags, self.nsfw_summary.clone().flatten().as_deref());
        if let Some(Some(c)) = self.category
            && labels::category(c).is_none()
        {
            v.fail("category", "unknown category");
        }
        if let Some(Some(l)) = self.licence
            && labels::licence(l).is_none()
        {
            v.fail("licence", "unknown licence");
        }
        if let Some(Some(l)) = &self.language
            && labels::language(l).is_none()
        {
            v.fail("language", "unknown language: use a code such as en or fr (GET /api/v1/videos/languages)");
        }
        if let Some(tags) = &self.tags {
            if tags.len() > 5 {
                v.fail("tags", "at most 5 tags");
            }
            if tags.iter().any(|t| !(2..=30).contains(&t.trim().chars().count())) {
                v.fail("tags", "each tag must be between 2 and 30 characters long");
            }
        }
        Ok(v.finish()?)
    }
}

/// The video behind `key`, if `who` may change it: its owner, or a moderator.
pub async fn editable(app: &App, who: &AuthUser, key: &str) -> Result<videos::Video> {
    let v = videos::get_by_any_id(&app.db, key).await?.ok_or_else(|| Error::not_found("video"))?;
    let is_owner = crate::video::manages(app, who.user.id, &v).await?;
    let is_mod = matches!(who.role(), flotilla_domain::Role::Admin | flotilla_domain::Role::Moderator);
    if is_owner || is_mod {
        return Ok(v);
    }
    if crate::video::can_see(app, Some(who), &v).await? {
        Err(Error::Forbidden("you cannot change a video that is not yours".into()))
    } else {
        Err(Error::not_found("video"))
    }
}

/// `PUT /api/v1/videos/:id`.
pub async fn update(
    app: &App,
    who: &AuthUser,
    key: &str,
    u: VideoUpdate,
    thumbnail: Option<Vec<u8>>,
    preview: Option<Vec<u8>>,
) -> Result<()> {
    let v = editable(app, who, key).await?;
    let has_passwords = flotilla_db::video_passwords::count(&app.db, v.id).await? > 0;
    u.validate((v.privacy, has_passwords))?;
    // Images are decoded before anything is written: a file that is no image leaves the video
    // as it was, metadata included.
    let images = encode_images(thumbnail, preview).await?;
    if let Some(c) = u.channel_id
        && c != v.channel_id
    {
        check_channel(app, who, c).await?;
    }
    let (comments_enabled, comments_held) = crate::video::comments_policy(u.comments_policy, u.comments_enabled)?;
    let patch = videos::VideoPatch {
        channel_id: u.channel_id,
        name: u.name.map(|n| n.trim().to_string()),
        privacy: u.privacy,
        description: u.description.clone(),
        support: u.support,
        category: u.category,
        licence: u.licence,
        language: u.language,
        nsfw: u.nsfw,
        comments_enabled,
        comments_held,
        download_enabled: u.download_enabled,
        wait_transcoding: u.wait_transcoding,
    };
    let was_federated = crate::ap::federates(app, &v);
    let mut tx = app.db.begin().await?;
    videos::update(&mut tx, v.id, &patch, now_ms()).await?;
    match (u.privacy.unwrap_or(v.privacy) == crate::video::PRIVACY_PASSWORD, &u.video_passwords) {
        (true, Some(list)) => flotilla_db::video_passwords::replace(&mut tx, v.id, list, now_ms()).await?,
        // No longer protected: its passwords would open nothing, and must not come back with it.
        (false, _) if v.privacy == crate::video::PRIVACY_PASSWORD => {
            flotilla_db::video_passwords::replace(&mut tx, v.id, &[], now_ms()).await?
        }
        _ => {}
    }
    if let Some(new) = &u.description {
        crate::video::chapters::follow_description(&mut tx, v.id, v.description.as_deref(), new.as_deref()).await?;
    }
    if u.nsfw.is_some() || u.nsfw_flags.is_some() || u.nsfw_summary.is_some() {
        let flags = u.nsfw_flags.unwrap_or(v.nsfw_flags);
        let summary = match &u.nsfw_summary {
            Some(s) => s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string),
            None => v.nsfw_summary.clone(),
        };
        videos::set_nsfw_details(&mut tx, v.id, flags, summary.as_deref()).await?;
    }
    if let Some(tags) = &u.tags {
        let tags: Vec<String> = tags.iter().map(|t| t.trim().to_string()).collect();
        videos::set_tags(&mut tx, v.id, &tags).await?;
    }
    videos::index_search(&mut tx, v.id).await?;
    crate::events::record(&mut tx, crate::events::Event::VideoUpdated { video_id: v.id, was_federated }).await?;
    // Files in the object store follow the privacy to the public or the private bucket.
    let now = videos::Video { privacy: u.privacy.unwrap_or(v.privacy), ..v.clone() };
    crate::storage::privacy_changed(&mut tx, &v, &now).await?;
    tx.commit().await?;
    app.wake_jobs();
    // A privacy change must reach the file server at once.
    crate::video::forget_files(app, &v.uuid).await;
    set_images(app, &v, images).await?;
    Ok(())
}

/// A thumbnail and/or preview of the owner's, decoded and re-encoded as JPEG at PeerTube's sizes
/// (280×157 and 850×480), not stored yet.
#[derive(Default)]
pub struct VideoImages {
    pub thumbnail: Option<Vec<u8>>,
    pub preview: Option<Vec<u8>>,
}

/// Decodes and re-encodes the images a form carried. Refuses (`invalid_image`) anything that is
/// not a PNG, JPEG, GIF or WebP picture, so callers can check them before they write anything.
pub async fn encode_images(thumbnail: Option<Vec<u8>>, preview: Option<Vec<u8>>) -> Result<VideoImages> {
    let encode = |bytes: Option<Vec<u8>>, size: (u32, u32)| async move {
        let Some(bytes) = bytes else { return Ok(None) };
        let mut encoded = tokio::task::spawn_blocking(move || flotilla_media::image::resize_all(&bytes, &[size]))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
        Ok::<_, Error>(encoded.pop().map(|e| e.jpeg))
    };
    Ok(VideoImages { thumbnail: encode(thumbnail, (280, 157)).await?, preview: encode(preview, (850, 480)).await? })
}

/// Replaces the thumbnail and/or preview with the owner's own images (see [`encode_images`]).
pub async fn set_images(app: &App, v: &videos::Video, images: VideoImages) -> Result<()> {
    for (jpeg, dir) in [(images.thumbnail, "thumbnails"), (images.preview, "previews")] {
        let Some(jpeg) = jpeg else { continue };
        let name = format!("{}.jpg", uuid::Uuid::new_v4());
        tokio::fs::write(app.data_path(dir).join(&name), &jpeg).await.map_err(|e| Error::write("the image", e))?;
        let old = if dir == "thumbnails" {
            videos::replace_thumbnail(&app.db, v.id, &name).await?
        } else {
            videos::replace_preview(&app.db, v.id, &name).await?
        };
        if let Some(old) = old {
            let _ = tokio::fs::remove_file(app.data_path(dir).join(&old)).await;
            crate::image_storage::forget(app, dir, &[old]).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod props;
