//! The instance's public configuration (`GET /api/v1/config`, `/config/about`) and the part admins
//! change at run time (`/config/custom`), saved in the database over the values of the file.

use flotilla_db::settings;
use flotilla_domain::{NsfwPolicy, SignupMode, time::now_ms};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::config::KNOWN_RESOLUTIONS;
use crate::{App, Config, Error, Result};

const KEY: &str = "custom_config";

/// `instance.name`: 1 to this many characters (PeerTube's display-name limit).
pub const MAX_NAME: usize = 120;
/// `instance.shortDescription`: at most this many characters (PeerTube's admin form limit).
pub const MAX_SHORT_DESCRIPTION: usize = 250;
/// `instance.description` and `instance.terms`: at most this many characters (as a video's
/// description).
pub const MAX_LONG_TEXT: usize = 10_000;

/// What an admin can change without editing the file. Saved as JSON under `custom_config`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    pub name: String,
    pub short_description: String,
    pub description: String,
    pub terms: String,
    pub is_nsfw: bool,
    pub default_nsfw_policy: String,
    pub signup: SignupMode,
    pub video_quota: i64,
    pub video_quota_daily: i64,
    pub resolutions: Vec<u32>,
    /// New videos of users who are not moderators wait for a moderator (PeerTube's
    /// `autoBlacklist.videos.ofUsers.enabled`).
    #[serde(default)]
    pub auto_block_videos: bool,
}

impl Settings {
    fn from_config(c: &Config) -> Settings {
        Settings {
            name: c.instance.name.clone(),
            short_description: c.instance.short_description.clone(),
            description: c.instance.description.clone(),
            terms: c.instance.terms.clone(),
            is_nsfw: false,
            default_nsfw_policy: c.instance.default_nsfw_policy.clone(),
            signup: c.signup,
            video_quota: c.user.video_quota,
            video_quota_daily: c.user.video_quota_daily,
            resolutions: c.transcoding.resolutions.clone(),
            auto_block_videos: false,
        }
    }
}

/// The effective settings: the saved custom config when there is one, the file's values otherwise.
pub async fn load(db: &flotilla_db::Db, c: &Config) -> Result<Settings> {
    match settings::get(db, KEY).await? {
        Some(json) => match serde_json::from_str(&json) {
            Ok(s) => Ok(s),
            Err(e) => {
                tracing::error!(error = %e, "the saved custom config cannot be read; using the configuration file");
                Ok(Settings::from_config(c))
            }
        },
        None => Ok(Settings::from_config(c)),
    }
}

fn file_extensions_images() -> Value {
    json!([".png", ".jpeg", ".jpg", ".gif", ".webp"])
}

/// `ServerConfig.live`: PeerTube's shape (`maxDuration` in milliseconds, -1 for no limit); on
/// while the RTMP server listens.
fn live_config(app: &App) -> Value {
    let l = &app.config.live;
    let limit = |n: u64| if n == 0 { -1 } else { n as i64 };
    json!({
        "enabled": l.enabled && app.lives.rtmp_addr().is_some(),
        "allowReplay": l.allow_replay,
        "latencySetting": { "enabled": true },
        "maxDuration": if l.max_duration_secs == 0 { -1 } else { (l.max_duration_secs * 1000) as i64 },
        "maxInstanceLives": limit(u64::from(l.max_instance_lives)),
        "maxUserLives": limit(u64::from(l.max_user_lives)),
        "transcoding": { "enabled": true, "remoteRunners": { "enabled": l.remote_runners }, "enabledResolutions": l.resolutions,
                         "profile": "default", "availableProfiles": ["default"] },
        "rtmp": { "port": app.lives.rtmp_addr().map_or(1935, |a| a.port()) },
    })
}

/// `GET /api/v1/config`, PeerTube's `ServerConfig` for the features we have.
pub fn server_config(app: &App) -> Value {
    let s = app.settings();
    let max_image = app.config.http.max_image_bytes;
    json!({
        "client": {
            "videos": {
                "miniature": { "displayAuthorAvatar": false, "preferAuthorDisplayName": false },
                "resumableUpload": { "maxChunkSize": 0 }
            },
            "menu": { "login": { "redirectOnSingleExternalAuth": false } }
        },
        "defaults": {
            "publish": { "downloadEnabled": true, "commentsPolicy": 1, "commentsEnabled": true, "privacy": 1, "licence": null },
            "p2p": { "webapp": { "enabled": app.config.p2p.enabled }, "embed": { "enabled": app.config.p2p.enabled } }
        },
        "webadmin": { "configuration": { "edition": { "allowed": true } } },
        "instance": {
            "name": s.name,
            "shortDescription": s.short_description,
            "isNSFW": s.is_nsfw,
            "defaultNSFWPolicy": s.default_nsfw_policy,
            "defaultClientRoute": "/videos/trending",
            "customizations": { "javascript": "", "css": "" },
            "avatars": [],
            "banners": []
        },
        "search": {
            "remoteUri": { "users": true, "anonymous": app.config.federation.remote_search_anonymous },
            "searchIndex": { "enabled": false, "url": "", "disableLocalSearch": false, "isDefaultSearch": false }
        },
        "plugin": { "registered": [], "registeredExternalAuths": [], "registeredIdAndPassAuths": [] },
        "theme": { "registered": [], "default": "default" },
        "email": { "enabled": crate::mail::enabled(app) },
        "contactForm": { "enabled": false },
        // The PeerTube API level we answer to; our own version is beside it.
        "serverVersion": "6.3.0",
        "serverCommit": "",
        "software": { "name": "flotilla", "version": env!("CARGO_PKG_VERSION") },
        "transcoding": {
            "remoteRunners": { "enabled": app.config.transcoding.remote_runners },
            "hls": { "enabled": true },
            "web_videos": { "enabled": app.config.transcoding.web_videos },
            "enabledResolutions": s.resolutions,
            "profile": "default",
            "availableProfiles": ["default"]
        },
        "live": live_config(app),
        "videoStudio": { "enabled": false, "remoteRunners": { "enabled": false } },
        "videoFile": { "update": { "enabled": app.config.upload.replace_enabled } },
        "videoTranscription": { "enabled": false, "remoteRunners": { "enabled": false } },
        "import": { "videos": { "http": { "enabled": app.config.import.http_enabled }, "torrent": { "enabled": false } },
                    "videoChannelSynchronization": { "enabled": false },
                    "users": { "enabled": app.config.archives.import_enabled } },
        "export": { "users": { "enabled": app.config.archives.export_enabled,
                               "exportExpiration": app.config.archives.export_expiration_secs * 1000,
                               "maxUserVideoQuota": app.config.archives.export_max_video_bytes } },
        "autoBlacklist": { "videos": { "ofUsers": { "enabled": s.auto_block_videos } } },
        "avatar": { "file": { "size": { "max": max_image }, "extensions": file_extensions_images() } },
        "banner": { "file": { "size": { "max": max_image }, "extensions": file_extensions_images() } },
        "video": {
            "image": { "extensions": [".png", ".jpg", ".jpeg", ".webp"], "size": { "max": max_image } },
            "file": { "extensions": [".mp4", ".webm", ".ogv", ".mkv", ".mov"] }
        },
        "videoCaption": { "file": { "size": { "max": 20971520 }, "extensions": [".vtt", ".srt"] } },
        "user": { "videoQuota": s.video_quota, "videoQuotaDaily": s.video_quota_daily },
        "videoChannels": { "maxPerUser": app.config.user.max_channels },
        "trending": { "videos": { "intervalDays": 7, "algorithms": { "enabled": ["most-viewed"], "default": "most-viewed" } } },
        "tracker": { "enabled": app.config.p2p.enabled },
        "webrtc": { "stunServers": app.config.p2p.stun_servers },
        "followings": { "instance": { "autoFollowIndex": { "indexUrl": "" } } },
        "broadcastMessage": { "enabled": false, "message": "", "level": "info", "dismissable": false },
        "homepage": { "enabled": false },
        "openTelemetry": { "metrics": { "enabled": false, "playbackStatsInterval": 15000 } },
        "views": { "videos": { "watchingInterval": { "anonymous": 5000, "users": 5000 } } },
        "storyboards": { "enabled": false },
        "signup": {
            "allowed": s.signup != SignupMode::Closed,
            "allowedForCurrentIP": s.signup != SignupMode::Closed,
            "minimumAge": 16,
            "requiresApproval": s.signup == SignupMode::Approval,
            "requiresEmailVerification": app.config.signup_requires_email_verification
        }
    })
}

/// `GET /api/v1/config/about`.
pub fn about(app: &App) -> Value {
    let s = app.settings();
    json!({
        "instance": {
            "name": s.name,
            "shortDescription": s.short_description,
            "description": s.description,
            "terms": s.terms,
            "codeOfConduct": "",
            "hardwareInformation": "",
            "creationReason": "",
            "moderationInformation": "",
            "administrator": "",
            "maintenanceLifetime": "",
            "businessModel": "",
            "languages": [],
            "categories": [],
            "isNSFW": s.is_nsfw,
            "avatars": [],
            "banners": []
        }
    })
}

fn resolutions_to_api(enabled: &[u32]) -> Value {
    let mut m = serde_json::Map::new();
    for r in KNOWN_RESOLUTIONS {
        m.insert(format!("{r}p"), Value::Bool(enabled.contains(r)));
    }
    Value::Object(m)
}

/// `GET /api/v1/config/custom` (admins): the editable settings in PeerTube's `CustomConfig` shape.
pub fn custom(app: &App, who: &AuthUser) -> Result<Value> {
    who.require_admin()?;
    let s = app.settings();
    Ok(json!({
        "instance": {
            "name": s.name,
            "shortDescription": s.short_description,
            "description": s.description,
            "terms": s.terms,
            "isNSFW": s.is_nsfw,
            "defaultNSFWPolicy": s.default_nsfw_policy
        },
        "signup": {
            "enabled": s.signup != SignupMode::Closed,
            "requiresApproval": s.signup == SignupMode::Approval,
            "requiresEmailVerification": app.config.signup_requires_email_verification,
            "limit": -1,
            "minimumAge": 16
        },
        "user": { "videoQuota": s.video_quota, "videoQuotaDaily": s.video_quota_daily },
        "autoBlacklist": { "videos": { "ofUsers": { "enabled": s.auto_block_videos } } },
        "transcoding": { "enabled": true, "hls": { "enabled": true }, "webVideos": { "enabled": app.config.transcoding.web_videos },
                         "resolutions": resolutions_to_api(&s.resolutions) }
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomInstance {
    pub name: Option<String>,
    pub short_description: Option<String>,
    pub description: Option<String>,
    pub terms: Option<String>,
    #[serde(rename = "isNSFW")]
    pub is_nsfw: Option<bool>,
    #[serde(rename = "defaultNSFWPolicy")]
    pub default_nsfw_policy: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomSignup {
    pub enabled: Option<bool>,
    pub requires_approval: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomUser {
    pub video_quota: Option<i64>,
    pub video_quota_daily: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CustomAutoBlacklist {
    #[serde(default)]
    pub videos: CustomAutoBlacklistVideos,
}

#[derive(Debug, Default, Deserialize)]
pub struct CustomAutoBlacklistVideos {
    #[serde(default, rename = "ofUsers")]
    pub of_users: CustomEnabled,
}

#[derive(Debug, Default, Deserialize)]
pub struct CustomEnabled {
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub struct CustomTranscoding {
    pub resolutions: Option<std::collections::BTreeMap<String, bool>>,
}

/// The body of `PUT /api/v1/config/custom`. PeerTube's admin UI sends every section; we apply the
/// ones we have and ignore the rest, and a section left out keeps its current values.
#[derive(Debug, Default, Deserialize)]
pub struct CustomConfig {
    #[serde(default)]
    pub instance: CustomInstance,
    #[serde(default)]
    pub signup: CustomSignup,
    #[serde(default)]
    pub user: CustomUser,
    #[serde(default)]
    pub transcoding: CustomTranscoding,
    #[serde(default, rename = "autoBlacklist")]
    pub auto_blacklist: CustomAutoBlacklist,
}

/// `PUT /api/v1/config/custom`: validates, saves, and applies at once.
pub async fn update_custom(app: &App, who: &AuthUser, c: CustomConfig) -> Result<Value> {
    who.require_admin()?;
    let mut s = (*app.settings()).clone();
    let mut v = flotilla_domain::Validation::new();
    if let Some(n) = c.instance.name {
        if n.trim().is_empty() || n.chars().count() > MAX_NAME {
            v.fail("instance.name", format!("must be 1 to {MAX_NAME} characters long"));
        }
        s.name = n;
    }
    // These texts had no limit: an admin token (or a stolen one) could store megabytes that every
    // `GET /api/v1/config` and `/config/about` then served to every visitor.
    if let Some(x) = c.instance.short_description {
        if x.chars().count() > MAX_SHORT_DESCRIPTION {
            v.fail("instance.shortDescription", format!("must be at most {MAX_SHORT_DESCRIPTION} characters long"));
        }
        s.short_description = x;
    }
    if let Some(x) = c.instance.description {
        if x.chars().count() > MAX_LONG_TEXT {
            v.fail("instance.description", format!("must be at most {MAX_LONG_TEXT} characters long"));
        }
        s.description = x;
    }
    if let Some(x) = c.instance.terms {
        if x.chars().count() > MAX_LONG_TEXT {
            v.fail("instance.terms", format!("must be at most {MAX_LONG_TEXT} characters long"));
        }
        s.terms = x;
    }
    if let Some(x) = c.instance.is_nsfw {
        s.is_nsfw = x;
    }
    if let Some(p) = c.instance.default_nsfw_policy {
        if NsfwPolicy::parse(&p).is_none() {
            v.fail("instance.defaultNSFWPolicy", "must be display, blur or do_not_list");
        }
        s.default_nsfw_policy = p;
    }
    let enabled = c.signup.enabled.unwrap_or(s.signup != SignupMode::Closed);
    let approval = c.signup.requires_approval.unwrap_or(s.signup == SignupMode::Approval);
    s.signup = match (enabled, approval) {
        (false, _) => SignupMode::Closed,
        (true, true) => SignupMode::Approval,
        (true, false) => SignupMode::Open,
    };
    if let Some(q) = c.user.video_quota {
        v.check("user.videoQuota", flotilla_domain::rules::quota(q));
        s.video_quota = q;
    }
    if let Some(q) = c.user.video_quota_daily {
        v.check("user.videoQuotaDaily", flotilla_domain::rules::quota(q));
        s.video_quota_daily = q;
    }
    if let Some(on) = c.auto_blacklist.videos.of_users.enabled {
        s.auto_block_videos = on;
    }
    if let Some(map) = c.transcoding.resolutions {
        let mut list = Vec::new();
        for (k, on) in map {
            match k.strip_suffix('p').and_then(|n| n.parse::<u32>().ok()) {
                Some(r) if KNOWN_RESOLUTIONS.contains(&r) => {
                    if on {
                        list.push(r);
                    }
                }
                // PeerTube's "0p" (audio only) is accepted and not a rendition of ours.
                Some(0) => {}
                _ => {
                    v.fail("transcoding.resolutions", format!("unknown resolution '{k}'"));
                }
            }
        }
        list.sort_unstable();
        if list.is_empty() {
            v.fail("transcoding.resolutions", "enable at least one resolution");
        }
        s.resolutions = list;
    }
    v.finish()?;
    let json = serde_json::to_string(&s).map_err(|e| Error::Internal(e.to_string()))?;
    settings::put(&app.db, KEY, &json, now_ms()).await?;
    app.set_settings(s);
    crate::changes::tell(app, crate::changes::Change::Settings).await;
    tracing::info!(by = %who.user.username, "custom config updated");
    custom(app, who)
}

/// `DELETE /api/v1/config/custom`: back to the configuration file's values.
pub async fn reset_custom(app: &App, who: &AuthUser) -> Result<()> {
    who.require_admin()?;
    settings::delete(&app.db, KEY).await?;
    app.set_settings(Settings::from_config(&app.config));
    crate::changes::tell(app, crate::changes::Change::Settings).await;
    Ok(())
}

/// Reads the custom settings again (another process changed them: `changes`).
pub async fn reload(app: &App) -> Result<()> {
    let s = load(&app.db, &app.config).await?;
    app.set_settings(s);
    Ok(())
}
