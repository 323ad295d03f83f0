//! Our rows to PeerTube's REST JSON shapes (`*_to_api`). Field names and nulls follow PeerTube 6.3
//! (see shared/reference/peertube-samples), so PeerTube clients read them unchanged.

use flotilla_db::accounts::Account;
use flotilla_db::channels::Channel;
use flotilla_db::images::Image;
use flotilla_db::registrations::Registration;
use flotilla_db::users::User;
use flotilla_domain::Role;
use flotilla_domain::time::iso8601;
use serde_json::{Value, json};

use crate::{App, uris};

fn host(app: &App, row_host: &str) -> String {
    if row_host.is_empty() { app.public.host.clone() } else { row_host.to_string() }
}

/// `avatars` / `banners` arrays of one actor.
pub fn images_to_api(app: &App, actor_id: i64, kind: &str, images: &[Image]) -> Value {
    Value::Array(
        images
            .iter()
            .filter(|i| i.actor_id == actor_id && i.kind == kind)
            .map(|i| {
                let path = uris::image_path(kind, &i.filename);
                json!({
                    "width": i.width,
                    "height": i.height,
                    "path": path,
                    "fileUrl": uris::absolute(app, &path),
                    "createdAt": iso8601(i.created_at),
                    "updatedAt": iso8601(i.created_at),
                })
            })
            .collect(),
    )
}

pub fn account_to_api(app: &App, a: &Account, images: &[Image]) -> Value {
    json!({
        "url": a.url.clone().unwrap_or_else(|| uris::account(app, &a.name)),
        "name": a.name,
        "host": host(app, &a.host),
        "avatars": images_to_api(app, a.actor_id, "avatar", images),
        "id": a.id,
        "hostRedundancyAllowed": false,
        "followingCount": 0,
        "followersCount": 0,
        "createdAt": iso8601(a.created_at),
        "displayName": a.display_name,
        "description": a.description,
        "updatedAt": iso8601(a.updated_at),
        "userId": a.user_id,
    })
}

pub fn channel_to_api(app: &App, c: &Channel, images: &[Image], owner: Value) -> Value {
    json!({
        "url": c.url.clone().unwrap_or_else(|| uris::channel(app, &c.name)),
        "name": c.name,
        "host": host(app, &c.host),
        "avatars": images_to_api(app, c.actor_id, "avatar", images),
        "id": c.id,
        "hostRedundancyAllowed": false,
        "followingCount": 0,
        "followersCount": 0,
        "createdAt": iso8601(c.created_at),
        "banners": images_to_api(app, c.actor_id, "banner", images),
        "displayName": c.display_name,
        "description": c.description,
        "support": c.support,
        "isLocal": c.host.is_empty(),
        "updatedAt": iso8601(c.updated_at),
        "ownerAccount": owner,
    })
}

pub fn role_to_api(role: i64) -> Value {
    let label = Role::try_from(role).map(Role::label).unwrap_or("User");
    json!({ "id": role, "label": label })
}

/// A user as `GET /users/me` and the admin list show it.
pub fn user_to_api(u: &User, account: Value, channels: Vec<Value>) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "email": u.email,
        "pendingEmail": null,
        "emailVerified": u.email_verified,
        "emailPublic": false,
        "nsfwPolicy": u.nsfw_policy,
        "adminFlags": 0,
        "autoPlayNextVideo": true,
        "autoPlayNextVideoPlaylist": true,
        "autoPlayVideo": u.auto_play_video,
        "p2pEnabled": u.p2p_enabled,
        "videosHistoryEnabled": u.videos_history_enabled,
        "twoFactorEnabled": u.two_factor_enabled,
        "pendingEmail": u.pending_email,
        "videoLanguages": null,
        "language": null,
        "role": role_to_api(u.role),
        "theme": "instance-default",
        "videoQuota": u.video_quota,
        "videoQuotaDaily": u.video_quota_daily,
        "noInstanceConfigWarningModal": true,
        "noWelcomeModal": true,
        "noAccountSetupWarningModal": true,
        "blocked": u.blocked,
        "blockedReason": u.blocked_reason,
        "createdAt": iso8601(u.created_at),
        "lastLoginDate": u.last_login_at.map(iso8601),
        "pluginAuth": null,
        "account": account,
        "videoChannels": channels,
    })
}

pub fn registration_to_api(r: &Registration) -> Value {
    let label = match r.state {
        flotilla_db::registrations::PENDING => "Pending",
        flotilla_db::registrations::REJECTED => "Rejected",
        _ => "Accepted",
    };
    json!({
        "id": r.id,
        "state": { "id": r.state, "label": label },
        "registrationReason": r.reason,
        "moderationResponse": r.moderation_response,
        "username": r.username,
        "email": r.email,
        "emailVerified": false,
        "accountDisplayName": r.display_name.as_deref().unwrap_or(&r.username),
        "channelHandle": r.channel_name,
        "channelDisplayName": r.channel_display_name,
        "createdAt": iso8601(r.created_at),
        "updatedAt": iso8601(r.updated_at),
        "user": r.user_id.map(|id| json!({ "id": id })),
    })
}

/// A video in PeerTube's `Video` shape (what lists show), written straight to JSON text. Its
/// fields are declared in the byte order of their names, the order a `serde_json::Map` writes
/// them, so the text is the one a `Value` of the same fields gives (asserted by the test
/// `history_records_positions_and_can_be_paused_and_cleared`):
/// a page of 25 no longer builds, writes and frees a tree of 2,000 map entries (half a list's
/// CPU time at 100,000 videos; issue 19's profile in bench/results). `O` is how the account and
/// channel come: a `Value`, or text written once for the page's videos that share them.
#[derive(serde::Serialize)]
pub struct VideoItem<'a, O: serde::Serialize + ?Sized = Value> {
    account: &'a O,
    #[serde(rename = "aspectRatio")]
    aspect_ratio: Option<f64>,
    blacklisted: bool,
    #[serde(rename = "blacklistedReason")]
    blacklisted_reason: Option<&'a str>,
    category: IdLabel<'a>,
    channel: &'a O,
    #[serde(rename = "createdAt")]
    created_at: String,
    description: Option<&'a str>,
    dislikes: i64,
    duration: i64,
    #[serde(rename = "embedPath")]
    embed_path: String,
    id: i64,
    #[serde(rename = "isLive")]
    is_live: bool,
    #[serde(rename = "isLocal")]
    is_local: bool,
    language: IdLabel<'a, &'a str>,
    licence: IdLabel<'a>,
    likes: i64,
    name: &'a str,
    nsfw: bool,
    #[serde(rename = "nsfwFlags")]
    nsfw_flags: i64,
    #[serde(rename = "nsfwSummary")]
    nsfw_summary: Option<&'a str>,
    #[serde(rename = "originallyPublishedAt")]
    originally_published_at: Option<String>,
    #[serde(rename = "previewPath")]
    preview_path: Option<String>,
    privacy: IdLabel<'a>,
    #[serde(rename = "publishedAt")]
    published_at: String,
    #[serde(rename = "shortUUID")]
    short_uuid: &'a str,
    state: IdLabel<'a>,
    #[serde(rename = "thumbnailPath")]
    thumbnail_path: Option<String>,
    #[serde(rename = "truncatedDescription")]
    truncated_description: Option<&'a str>,
    #[serde(rename = "updatedAt")]
    updated_at: String,
    url: String,
    /// The caller's position in it (`history::annotate`'s), when logged in and watched.
    #[serde(rename = "userHistory", skip_serializing_if = "Option::is_none")]
    pub user_history: Option<UserHistory>,
    uuid: &'a str,
    viewers: u64,
    views: i64,
}

/// PeerTube's `{ "id", "label" }` pairs (category, licence, language, privacy, state).
#[derive(serde::Serialize)]
struct IdLabel<'a, T = i64> {
    id: Option<T>,
    label: &'a str,
}

/// `userHistory` of a listed video.
#[derive(serde::Serialize)]
pub struct UserHistory {
    #[serde(rename = "currentTime")]
    pub current_time: i64,
}

fn id_label(id: Option<i64>, label: Option<&str>) -> IdLabel<'_> {
    match (id, label) {
        (Some(id), Some(l)) => IdLabel { id: Some(id), label: l },
        _ => IdLabel { id: None, label: "Unknown" },
    }
}

/// The fields every video shows; `details` puts the description in (lists show none).
pub fn video_item<'a, O: serde::Serialize + ?Sized>(
    app: &App,
    v: &'a flotilla_db::videos::Video,
    account: &'a O,
    channel: &'a O,
    details: bool,
) -> VideoItem<'a, O> {
    use crate::video::{labels, privacy_label, state_label};
    let description = v.description.as_deref().unwrap_or_default();
    let aspect =
        (v.width > 0 && v.height > 0).then(|| ((v.width as f64 / v.height as f64) * 100000.0).round() / 100000.0);
    VideoItem {
        account,
        aspect_ratio: aspect,
        blacklisted: v.blocked != 0,
        blacklisted_reason: None,
        category: id_label(v.category, v.category.and_then(labels::category)),
        channel,
        created_at: iso8601(v.created_at),
        description: if details { v.description.as_deref() } else { None },
        dislikes: v.dislikes,
        duration: v.duration,
        embed_path: format!("/videos/embed/{}", v.uuid),
        id: v.id,
        is_live: v.is_live,
        is_local: v.is_local(),
        language: match &v.language {
            Some(l) => IdLabel { id: Some(l.as_str()), label: labels::language(l).unwrap_or(l) },
            None => IdLabel { id: None, label: "Unknown" },
        },
        licence: id_label(v.licence, v.licence.and_then(labels::licence)),
        likes: v.likes,
        name: &v.name,
        nsfw: v.nsfw,
        nsfw_flags: v.nsfw_flags,
        nsfw_summary: v.nsfw_summary.as_deref(),
        originally_published_at: v.originally_published_at.map(iso8601),
        preview_path: v.preview.as_ref().map(|p| format!("/lazy-static/previews/{p}")),
        privacy: IdLabel { id: Some(v.privacy), label: privacy_label(v.privacy) },
        // PeerTube always has one: the upload's time until the video is published.
        published_at: iso8601(v.published_at.unwrap_or(v.created_at)),
        short_uuid: &v.short_uuid,
        state: IdLabel { id: Some(v.state), label: state_label(v.state) },
        thumbnail_path: v.thumbnail.as_ref().map(|t| format!("/lazy-static/thumbnails/{t}")),
        // The first 250 characters, borrowed.
        truncated_description: (!description.is_empty())
            .then(|| description.char_indices().nth(250).map_or(description, |(end, _)| &description[..end])),
        updated_at: iso8601(v.updated_at),
        url: v.remote_url.clone().unwrap_or_else(|| uris::video(app, &v.uuid)),
        user_history: None,
        uuid: &v.uuid,
        viewers: crate::video::views::viewers(app, v),
        views: v.views,
    }
}

/// A video in PeerTube's `Video` (lists) or `VideoDetails` (`details`) shape.
pub fn video_to_api(
    app: &App,
    v: &flotilla_db::videos::Video,
    account: &Value,
    channel: &Value,
    files: &[flotilla_db::videos::VideoFile],
    tags: &[String],
    details: bool,
) -> Value {
    // Serializing these plain fields cannot fail.
    let mut out = serde_json::to_value(video_item(app, v, account, channel, details)).unwrap_or_default();
    if details {
        let base = app.public.base();
        let hls_files = files.iter().filter(|f| f.kind == flotilla_db::videos::KIND_HLS);
        let file_json: Vec<Value> = hls_files.map(|f| crate::video::files::api_json(app, v, f)).collect();
        let web_json: Vec<Value> = files
            .iter()
            .filter(|f| f.kind == flotilla_db::videos::KIND_WEB)
            .map(|f| crate::video::files::api_json(app, v, f))
            .collect();
        let remote: Option<Value> = v.remote_data.as_deref().and_then(|d| serde_json::from_str(d).ok());
        let playlists = match (&v.master_playlist, &v.segments_sha256) {
            _ if remote.is_some() => {
                let r = remote.clone().unwrap_or_default();
                match r["playlistUrl"].as_str() {
                    // Served here by the edge cache: the player fetches from us, and joins the
                    // origin's swarm (its master playlist's URL is the swarm's name). A live too
                    // (its files held for a moment each).
                    Some(url) => match crate::edge::urls(app, &v.uuid, &r) {
                        Some((playlist, sha)) => json!([{
                            "id": v.id,
                            "type": 1,
                            "playlistUrl": playlist,
                            "segmentsSha256Url": sha,
                            "originPlaylistUrl": url,
                            "redundancies": [],
                            "files": r["files"],
                        }]),
                        None => json!([{
                            "id": v.id,
                            "type": 1,
                            "playlistUrl": url,
                            "segmentsSha256Url": r["segmentsSha256Url"],
                            "redundancies": [],
                            "files": r["files"],
                        }]),
                    },
                    None => json!([]),
                }
            }
            // A live streaming now: its files change every second, none is listed (PeerTube's).
            (Some(master), Some(sha)) if v.is_live => json!([{
                "id": v.id,
                "type": 1,
                "playlistUrl": format!("{base}{}", uris::hls_file_path(&v.uuid, master)),
                "segmentsSha256Url": format!("{base}{}", uris::hls_file_path(&v.uuid, sha)),
                "redundancies": [],
                "files": [],
            }]),
            (Some(master), Some(sha)) if !file_json.is_empty() => {
                let url = crate::storage::file_url(app, v, crate::storage::Kind::Hls, master);
                let mut p = json!({
                    "id": v.id,
                    "type": 1,
                    "playlistUrl": url,
                    "segmentsSha256Url": crate::storage::file_url(app, v, crate::storage::Kind::Hls, sha),
                    "redundancies": [],
                    "files": file_json,
                });
                // Files in a public bucket: ours stays the fallback and names the P2P swarm
                // (the tracker admits the swarms of our URLs).
                let ours = format!("{base}{}", uris::hls_file_path(&v.uuid, master));
                if url != ours {
                    p["originPlaylistUrl"] = json!(ours);
                }
                json!([p])
            }
            _ => json!([]),
        };
        out["streamingPlaylists"] = playlists;
        out["files"] = match &remote {
            Some(r) if r["webFiles"].is_array() => r["webFiles"].clone(),
            _ => json!(web_json),
        };
        // Ours: the description rendered from Markdown and sanitized, ready to insert in a page.
        out["descriptionHtml"] = json!(v.description.as_deref().map(crate::text::markdown_to_html));
        out["support"] = json!(v.support);
        out["descriptionPath"] = json!(format!("/api/v1/videos/{}/description", v.uuid));
        out["tags"] = json!(tags);
        out["commentsEnabled"] = json!(v.comments_enabled);
        out["commentsPolicy"] = match crate::video::comments_policy_of(v) {
            1 => json!({ "id": 1, "label": "Enabled" }),
            2 => json!({ "id": 2, "label": "Disabled" }),
            _ => json!({ "id": 3, "label": "Requires approval" }),
        };
        out["downloadEnabled"] = json!(v.download_enabled);
        out["waitTranscoding"] = json!(v.wait_transcoding);
        out["inputFileUpdatedAt"] = Value::Null;
        out["trackerUrls"] = json!([]);
    }
    out
}
