//! Every URL and path the instance hands out, built in this one place so they stay consistent
//! between the REST API and (later) federation.

use crate::App;

pub fn account(app: &App, name: &str) -> String {
    format!("{}/accounts/{name}", app.public.base())
}

pub fn channel(app: &App, name: &str) -> String {
    format!("{}/video-channels/{name}", app.public.base())
}

/// Path under which an avatar or banner file is served (PeerTube's `/lazy-static/…`).
pub fn image_path(kind: &str, filename: &str) -> String {
    let dir = if kind == "banner" { "banners" } else { "avatars" };
    format!("/lazy-static/{dir}/{filename}")
}

pub fn absolute(app: &App, path: &str) -> String {
    format!("{}{path}", app.public.base())
}

/// The HTML page of a video, which is also its ActivityPub id.
pub fn video(app: &App, uuid: &str) -> String {
    format!("{}/videos/watch/{uuid}", app.public.base())
}

/// Path of a file of a video's HLS playlist.
pub fn hls_file_path(uuid: &str, file: &str) -> String {
    format!("/static/streaming-playlists/hls/{uuid}/{file}")
}

/// The instance actor (PeerTube's `/accounts/peertube`).
pub fn instance_actor(app: &App) -> String {
    account(app, crate::ap::INSTANCE_ACTOR)
}

pub fn shared_inbox(app: &App) -> String {
    format!("{}/inbox", app.public.base())
}

/// The `#main-key` of an actor, its signatures' `keyId`.
pub fn key_id(actor_url: &str) -> String {
    format!("{actor_url}#main-key")
}

/// The WebSocket URL of our tracker (`ws://` or `wss://` like the public URL's scheme).
pub fn tracker(app: &App) -> String {
    let base = app.public.base();
    match base.strip_prefix("https://") {
        Some(rest) => format!("wss://{rest}/tracker/socket"),
        None => format!("ws://{}/tracker/socket", base.trim_start_matches("http://")),
    }
}
