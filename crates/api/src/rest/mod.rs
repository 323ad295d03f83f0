//! The REST API under `/api/v1`, in PeerTube's shapes: one module per resource.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart};
use axum::routing::{get, post};
use flotilla_app::App;
use serde::Deserialize;

use crate::error::{ApiError, rejection};

pub mod abuses;
pub mod accounts;
pub mod archives;
pub mod blocklist;
pub mod channels;
pub mod comments;
pub mod config;
pub mod form;
pub mod imports;
pub mod jobs;
pub mod lives;
pub mod moderation;
pub mod notifications;
pub mod oauth;
pub mod playlists;
pub mod runners;
pub mod server;
pub mod subscriptions;
pub mod users;
pub mod video_blocks;
pub mod videos;

/// PeerTube's list parameters.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    pub start: Option<i64>,
    pub count: Option<i64>,
    pub sort: Option<String>,
}

/// Reads one file field of a multipart form; other fields are skipped.
pub async fn read_image(mut form: Multipart, field: &str) -> Result<Vec<u8>, ApiError> {
    while let Some(f) = form.next_field().await.map_err(|e| rejection(e.status(), e.body_text()))? {
        if f.name() == Some(field) {
            let bytes = f.bytes().await.map_err(|e| rejection(e.status(), e.body_text()))?;
            if bytes.is_empty() {
                return Err(ApiError::invalid(field, "the file is empty"));
            }
            return Ok(bytes.to_vec());
        }
    }
    Err(ApiError::invalid(field, format!("the multipart field '{field}' with the image file is missing")))
}

pub fn router(app: &App) -> Router<Arc<App>> {
    // Image uploads get a larger body limit than the rest of the API (multipart framing included).
    let image_limit = DefaultBodyLimit::max(app.config.http.max_image_bytes + 64 * 1024);
    Router::new()
        .route("/oauth-clients/local", get(oauth::get_local_client))
        .route("/users/token", post(oauth::create_token))
        .route("/users/revoke-token", post(oauth::revoke_token))
        .route("/users/register", post(users::register_user))
        .route("/users/registrations/request", post(users::request_registration))
        .route("/users/registrations", get(users::list_registrations))
        .route("/users/registrations/{id}", axum::routing::delete(users::delete_registration))
        .route("/users/registrations/{id}/accept", post(users::accept_registration))
        .route("/users/registrations/{id}/reject", post(users::reject_registration))
        .route("/users/me", get(users::get_me).put(users::update_me))
        .route("/users/me/video-quota-used", get(users::get_my_quota_used))
        .route("/users/me/avatar/pick", post(users::pick_my_avatar).layer(image_limit))
        .route("/users/me/avatar", axum::routing::delete(users::delete_my_avatar))
        .route("/users", get(users::list_users).post(users::add_user))
        .route("/users/{id}", get(users::get_user).put(users::update_user).delete(users::delete_user))
        .route("/users/{id}/block", post(users::block_user))
        .route("/users/ask-reset-password", post(users::ask_reset_password))
        .route("/users/{id}/reset-password", post(users::reset_password))
        .route("/users/ask-send-verify-email", post(users::ask_send_verify_email))
        .route("/users/{id}/verify-email", post(users::verify_email))
        .route("/users/{id}/two-factor/request", post(users::two_factor_request))
        .route("/users/{id}/two-factor/confirm-request", post(users::two_factor_confirm))
        .route("/users/{id}/two-factor/disable", post(users::two_factor_disable))
        .route("/users/{id}/unblock", post(users::unblock_user))
        .route("/users/{id}/exports/request", post(archives::request_export))
        .route("/users/{id}/exports", get(archives::list_exports))
        .route("/users/{id}/exports/{export}", axum::routing::delete(archives::delete_export))
        .route(
            "/users/{id}/imports/import-resumable",
            post(archives::init_import)
                .put(archives::put_import)
                .delete(archives::cancel_import)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/users/{id}/imports/latest", get(archives::latest_import))
        .route("/accounts/{name}", get(accounts::get_account))
        .route("/accounts/{name}/video-channels", get(accounts::list_account_channels))
        .route("/video-channels", get(channels::list_channels).post(channels::create_channel))
        .route(
            "/video-channels/{handle}",
            get(channels::get_channel).put(channels::update_channel).delete(channels::delete_channel),
        )
        .route("/video-channels/{handle}/collaborators", get(channels::list_collaborators))
        .route("/video-channels/{handle}/collaborators/invite", post(channels::invite_collaborator))
        .route("/video-channels/{handle}/collaborators/{id}/accept", post(channels::accept_collaboration))
        .route("/video-channels/{handle}/collaborators/{id}/reject", post(channels::reject_collaboration))
        .route("/video-channels/{handle}/collaborators/{id}", axum::routing::delete(channels::remove_collaborator))
        .route("/users/me/video-channels/collaborations", get(channels::my_collaborations))
        .route("/users/me/video-channels/invitations", get(channels::my_invitations))
        .route("/video-channels/{handle}/avatar/pick", post(channels::pick_channel_avatar).layer(image_limit))
        .route("/video-channels/{handle}/banner/pick", post(channels::pick_channel_banner).layer(image_limit))
        .route("/video-channels/{handle}/avatar", axum::routing::delete(channels::delete_channel_avatar))
        .route("/video-channels/{handle}/banner", axum::routing::delete(channels::delete_channel_banner))
        .route("/videos/upload", post(videos::upload_video).layer(DefaultBodyLimit::disable()))
        .route(
            "/videos/upload-resumable",
            post(videos::init_resumable_upload)
                .put(videos::put_resumable_upload)
                .delete(videos::cancel_resumable_upload)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/videos/imports",
            post(imports::create).layer(DefaultBodyLimit::max(app.config.http.max_image_bytes * 2 + 1024 * 1024)),
        )
        .route(
            "/videos/live",
            post(lives::create).layer(DefaultBodyLimit::max(app.config.http.max_image_bytes * 2 + 1024 * 1024)),
        )
        .route("/videos/live/{id}", get(lives::get).put(lives::update))
        .route("/videos/live/{id}/sessions", get(lives::sessions))
        .route("/videos/{id}/live-session", get(lives::live_session))
        .route("/videos/imports/{id}", axum::routing::delete(imports::delete))
        .route("/videos/imports/{id}/cancel", post(imports::cancel))
        .route("/videos/imports/{id}/retry", post(imports::retry))
        .route("/users/me/videos/imports", get(imports::list_mine))
        .route("/videos", get(videos::list_videos))
        .route("/search/videos", get(videos::search_videos))
        .route("/search/video-channels", get(videos::search_channels))
        .route("/video-channels/{handle}/videos", get(videos::list_channel_videos))
        .route("/accounts/{name}/videos", get(videos::list_account_videos))
        .route("/users/me/videos", get(videos::list_my_videos))
        .route("/users/me/subscriptions", get(subscriptions::list_subscriptions).post(subscriptions::subscribe))
        .route("/users/me/subscriptions/videos", get(subscriptions::list_subscription_videos))
        .route("/users/me/subscriptions/exist", get(subscriptions::subscriptions_exist))
        .route("/users/me/subscriptions/{handle}", axum::routing::delete(subscriptions::unsubscribe))
        .route("/videos/categories", get(videos::list_categories))
        .route("/videos/licences", get(videos::list_licences))
        .route("/videos/privacies", get(videos::list_privacies))
        .route("/videos/languages", get(videos::list_languages))
        .route("/videos/blacklist", get(video_blocks::list_blocks))
        .route(
            "/videos/{id}/blacklist",
            post(video_blocks::block_video).put(video_blocks::update_block).delete(video_blocks::unblock_video),
        )
        .route(
            "/videos/{id}",
            get(videos::get_video).put(videos::update_video).delete(videos::delete_video).layer(image_limit),
        )
        .route("/videos/{id}/token", post(videos::create_video_file_token))
        .route("/videos/{id}/source", get(videos::get_source))
        .route("/videos/{id}/source/file", axum::routing::delete(videos::delete_source_file))
        .route(
            "/videos/{id}/source/replace-resumable",
            post(videos::init_replace)
                .put(videos::put_replace)
                .delete(videos::cancel_replace)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/videos/{id}/hls", axum::routing::delete(videos::delete_hls))
        .route("/videos/{id}/web-videos", axum::routing::delete(videos::delete_web_videos))
        .route("/videos/{id}/transcoding", post(videos::create_transcoding))
        .route("/videos/{id}/passwords", get(videos::list_passwords).put(videos::replace_passwords))
        .route("/videos/{id}/passwords/{password}", axum::routing::delete(videos::delete_password))
        .route("/videos/{id}/metadata/{file_id}", get(crate::downloads::get_metadata))
        .route("/videos/{id}/captions", get(crate::downloads::list_captions))
        .route("/videos/{id}/storyboards", get(crate::downloads::list_storyboards))
        .route("/videos/{id}/chapters", get(crate::downloads::get_chapters).put(crate::downloads::put_chapters))
        .route(
            "/videos/{id}/captions/{lang}",
            axum::routing::put(crate::downloads::put_caption)
                .delete(crate::downloads::delete_caption)
                .layer(DefaultBodyLimit::max(flotilla_app::video::captions::MAX_BYTES + 64 * 1024)),
        )
        .route("/videos/{id}/views", post(videos::add_view))
        .route("/videos/{id}/rate", axum::routing::put(videos::rate_video))
        .route("/videos/{id}/comment-threads", get(comments::list_threads).post(comments::create_thread))
        .route("/videos/{id}/comment-threads/{thread}", get(comments::get_thread))
        .route("/videos/{id}/comments/{comment}", post(comments::reply).delete(comments::delete))
        .route("/videos/{id}/comments/{comment}/approve", post(comments::approve))
        .route("/users/me/videos/comments", get(comments::on_my_videos))
        .route("/users/me/notifications", get(notifications::list))
        .route("/users/me/notifications/read", post(notifications::read))
        .route("/users/me/notifications/read-all", post(notifications::read_all))
        .route("/users/me/notifications/stream", get(notifications::stream))
        .route("/users/me/notification-settings", axum::routing::put(notifications::update_settings))
        .route("/metrics/playback", post(crate::metrics::post_playback))
        .route("/users/me/videos/{id}/rating", get(videos::get_my_rating))
        .route("/server/following", get(server::list_following).post(server::follow_instances))
        .route("/server/following/{host}", axum::routing::delete(server::unfollow_instance))
        .route("/server/redundancy/videos", get(server::list_redundancies).post(server::add_redundancy))
        .route("/server/redundancy/videos/{id}", axum::routing::delete(server::remove_redundancy))
        .route("/server/redundancy/{host}", axum::routing::put(server::allow_redundancy))
        .route("/server/edge-cache", get(server::edge_cache))
        .route("/server/followers", get(server::list_followers))
        .route("/server/followers/{handle}/accept", post(server::accept_follower))
        .route("/server/followers/{handle}/reject", post(server::reject_follower))
        .route("/users/me/blocklist/accounts", get(blocklist::my_accounts).post(blocklist::mute_account))
        .route("/users/me/blocklist/accounts/{name}", axum::routing::delete(blocklist::unmute_account))
        .route("/users/me/blocklist/servers", get(blocklist::my_servers).post(blocklist::mute_server))
        .route("/users/me/blocklist/servers/{host}", axum::routing::delete(blocklist::unmute_server))
        .route("/server/blocklist/accounts", get(blocklist::server_accounts).post(blocklist::block_account))
        .route("/server/blocklist/accounts/{name}", axum::routing::delete(blocklist::unblock_account))
        .route("/server/blocklist/servers", get(blocklist::server_servers).post(blocklist::block_server))
        .route("/server/blocklist/servers/export", get(blocklist::export_servers))
        .route(
            "/server/blocklist/servers/import",
            post(blocklist::import_servers).layer(DefaultBodyLimit::max(1024 * 1024)),
        )
        .route("/server/blocklist/servers/{host}", axum::routing::delete(blocklist::unblock_server))
        .route("/blocklist/status", get(blocklist::status))
        .route("/runners/registration-tokens", get(runners::list_registration_tokens))
        .route("/runners/registration-tokens/generate", post(runners::generate_registration_token))
        .route("/runners/registration-tokens/{id}", axum::routing::delete(runners::delete_registration_token))
        .route("/runners/register", post(runners::register))
        .route("/runners/unregister", post(runners::unregister))
        .route("/runners", get(runners::list_runners))
        .route("/runners/{id}", axum::routing::delete(runners::delete_runner))
        .route("/runners/jobs", get(runners::list_jobs))
        .route("/runners/jobs/request", post(runners::request))
        .route("/runners/jobs/{uuid}", axum::routing::delete(runners::delete_job))
        .route("/runners/jobs/{uuid}/accept", post(runners::accept))
        .route("/runners/jobs/{uuid}/abort", post(runners::abort))
        .route("/runners/jobs/{uuid}/error", post(runners::error))
        .route("/runners/jobs/{uuid}/cancel", post(runners::cancel_job))
        .route("/runners/jobs/{uuid}/update", post(runners::update).layer(DefaultBodyLimit::max(16 * 1024 * 1024)))
        .route("/runners/jobs/{uuid}/success", post(runners::success).layer(DefaultBodyLimit::disable()))
        .route("/runners/jobs/{uuid}/files/videos/{video}/max-quality", post(runners::input_file))
        .route("/abuses", get(abuses::list).post(abuses::report))
        .route("/abuses/{id}", axum::routing::put(abuses::update).delete(abuses::delete))
        .route("/abuses/{id}/messages", get(abuses::messages).post(abuses::add_message))
        .route("/abuses/{id}/messages/{message}", axum::routing::delete(abuses::delete_message))
        .route("/users/me/abuses", get(abuses::list_mine))
        .route("/videos/comments", get(moderation::all_comments))
        .route("/bulk/remove-comments-of", post(moderation::remove_comments_of))
        .route(
            "/watched-words/accounts/{name}/lists",
            get(moderation::account_lists).post(moderation::create_account_list),
        )
        .route(
            "/watched-words/accounts/{name}/lists/{id}",
            axum::routing::put(moderation::update_account_list).delete(moderation::delete_account_list),
        )
        .route("/watched-words/server/lists", get(moderation::server_lists).post(moderation::create_server_list))
        .route(
            "/watched-words/server/lists/{id}",
            axum::routing::put(moderation::update_server_list).delete(moderation::delete_server_list),
        )
        .route(
            "/automatic-tags/policies/accounts/{name}/comments",
            get(moderation::policies).put(moderation::set_policies),
        )
        .route("/automatic-tags/accounts/{name}/available", get(moderation::account_available))
        .route("/automatic-tags/server/available", get(moderation::server_available))
        .route("/video-playlists", get(playlists::list).post(playlists::create).layer(image_limit))
        .route("/video-playlists/privacies", get(playlists::privacies))
        .route(
            "/video-playlists/{id}",
            get(playlists::get).put(playlists::update).delete(playlists::delete).layer(image_limit),
        )
        .route("/video-playlists/{id}/videos", get(playlists::elements).post(playlists::add))
        .route("/video-playlists/{id}/videos/reorder", post(playlists::reorder))
        .route(
            "/video-playlists/{id}/videos/{element}",
            axum::routing::put(playlists::update_element).delete(playlists::remove),
        )
        .route("/accounts/{name}/video-playlists", get(playlists::list_of_account))
        .route("/video-channels/{handle}/video-playlists", get(playlists::list_of_channel))
        .route("/users/me/video-playlists/videos-exist", get(playlists::videos_exist))
        .route("/users/me/aliases", get(users::get_my_aliases).put(users::set_my_aliases))
        .route("/users/me/move", post(users::move_me))
        .route("/video-channels/{handle}/aliases", get(users::get_channel_aliases).put(users::set_channel_aliases))
        .route("/video-channels/{handle}/move", post(users::move_channel))
        .route("/users/me/feed-token", get(users::get_feed_token).post(users::renew_feed_token))
        .route("/users/me/history/videos", get(playlists::history))
        .route("/users/me/history/videos/remove", post(playlists::clear))
        .route("/users/me/history/videos/{video}", axum::routing::delete(playlists::forget))
        .route("/jobs/{state}", get(jobs::list_jobs))
        .route("/jobs/{id}/retry", post(jobs::retry_job))
        .route("/config", get(config::get_config))
        .route("/config/about", get(config::get_about))
        .route(
            "/config/custom",
            get(config::get_custom_config).put(config::update_custom_config).delete(config::delete_custom_config),
        )
}
