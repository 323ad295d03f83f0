//! Search by address: a video URL or a channel handle (`name@host`, or its URL) found on its
//! server, stored here and returned, as PeerTube does for logged-in users (and for visitors when
//! `federation.remote_search_anonymous` is set).

use serde_json::{Value, json};

use crate::auth::AuthUser;
use crate::federation::{remote, videos};
use crate::{App, Error, Result};

/// Whether a search text is an address rather than words.
pub fn is_address(s: &str) -> bool {
    let s = s.trim();
    s.starts_with("https://") || s.starts_with("http://") || (s.contains('@') && !s.contains(' ') && s.len() > 3)
}

fn require_login(app: &App, who: Option<&AuthUser>) -> Result<()> {
    if who.is_none() && !app.config.federation.remote_search_anonymous {
        return Err(Error::Unauthorized {
            code: "missing_token",
            msg: "searching other servers by address needs a logged-in user".into(),
        });
    }
    Ok(())
}

/// `GET /api/v1/search/videos?search=<video URL>`.
pub async fn video_by_url(app: &App, who: Option<&AuthUser>, url: &str) -> Result<Value> {
    let url = url.trim();
    let empty = json!({ "total": 0, "data": [] });
    // One of ours: by the UUID in its watch URL.
    if remote::host(url).as_deref() == Some(app.public.host.as_str()) {
        let uuid = url.rsplit('/').next().unwrap_or_default();
        return match crate::video::get(app, who, uuid, &crate::video::passwords::Attempt::none()).await {
            Ok(v) => Ok(json!({ "total": 1, "data": [v] })),
            Err(_) => Ok(empty),
        };
    }
    require_login(app, who)?;
    let Some(id) = video_id_by_url(app, url, false).await? else { return Ok(empty) };
    let v = flotilla_db::videos::get(&app.db, id).await?.ok_or_else(|| Error::not_found("video"))?;
    Ok(json!({ "total": 1, "data": [crate::video::view(app, &v, false, false).await?] }))
}

/// The id of the video at `url`: one of ours (by the UUID of its watch URL), or fetched from its
/// origin (signed by the instance actor, through the fetcher's guard) unless `known_first` and we
/// hold a copy already. `None`: not found, or not a video.
pub async fn video_id_by_url(app: &App, url: &str, known_first: bool) -> Result<Option<i64>> {
    let url = url.trim();
    if remote::host(url).as_deref() == Some(app.public.host.as_str()) {
        let uuid = url.rsplit('/').next().unwrap_or_default();
        return Ok(flotilla_db::videos::get_by_any_id(&app.db, uuid).await?.filter(|v| v.is_local()).map(|v| v.id));
    }
    if known_first && let Some(v) = flotilla_db::videos::get_by_remote_url(&app.db, url).await? {
        return Ok(Some(v.id));
    }
    let signer = super::instance_signer(app).await?;
    let doc = match app.fetcher.get_ap(url, Some(&signer)).await {
        Ok(d) => d,
        Err(e) => {
            tracing::info!(url, error = %e, "remote video not found by its URL");
            return Ok(None);
        }
    };
    if doc["type"] != "Video" {
        return Ok(None);
    }
    Ok(Some(videos::receive_fetched(app, &doc, false).await?))
}

/// `GET /api/v1/search/video-channels?search=` — a handle or URL finds a remote channel; words
/// search local channels by name.
pub async fn channels(app: &App, who: Option<&AuthUser>, search: &str, page: flotilla_db::Page) -> Result<Value> {
    let s = search.trim();
    if is_address(s) {
        let handle = s.trim_start_matches('@');
        let local = match handle.split_once('@') {
            Some((name, host)) if host.eq_ignore_ascii_case(&app.public.host) => Some(name.to_string()),
            None if !s.starts_with("http") => Some(handle.to_string()),
            _ => None,
        };
        if let Some(name) = local {
            return match crate::channel::get_by_handle(app, &name).await {
                Ok(c) => Ok(json!({ "total": 1, "data": [crate::channel::view(app, &c).await?] })),
                Err(_) => Ok(json!({ "total": 0, "data": [] })),
            };
        }
        require_login(app, who)?;
        let actor = if s.starts_with("http") {
            remote::actor(app, s).await
        } else {
            let (name, host) = handle.split_once('@').unwrap_or((handle, ""));
            remote::actor_by_handle(app, name, host).await
        };
        let Ok(actor) = actor else { return Ok(json!({ "total": 0, "data": [] })) };
        if actor.kind != "Group" {
            return Ok(json!({ "total": 0, "data": [] }));
        }
        let id = videos::remote_channel(app, &actor.url).await?;
        let c = flotilla_db::channels::get(&app.db, flotilla_domain::ChannelId(id))
            .await?
            .ok_or_else(|| Error::not_found("channel"))?;
        return Ok(json!({ "total": 1, "data": [crate::channel::view(app, &c).await?] }));
    }
    let (rows, total) = flotilla_db::channels::search(&app.db, s, page.start, page.count).await?;
    let mut data = Vec::new();
    for c in &rows {
        data.push(crate::channel::view(app, c).await?);
    }
    Ok(json!({ "total": total, "data": data }))
}
