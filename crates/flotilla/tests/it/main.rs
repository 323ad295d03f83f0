//! Flotilla's integration tests, one test binary: each file here was its own binary once, and
//! fifty-odd binaries of ~160 MB each, every one linked against the whole server, cost CI
//! gigabytes of disk and minutes of linking. nextest still runs every test in its own process,
//! so a test's globals (failpoints, environment) stay its own.
//!
//! Run one file's tests with `cargo nextest run -p flotilla -E 'test(/^api_users::/)'`.

// `json!` literals of archive manifests nest deeply.
#![recursion_limit = "256"]

mod api_archives;
mod api_auth;
mod api_captions;
mod api_channels;
mod api_chapters;
mod api_collaborators;
mod api_comment_moderation;
mod api_comments;
mod api_downloads;
mod api_email;
mod api_errors;
mod api_feeds;
mod api_hostile_uploads;
mod api_imports;
mod api_live;
mod api_notifications;
mod api_nsfw;
mod api_playlists;
mod api_rate_limits;
mod api_storyboards;
mod api_two_factor;
mod api_upload_reliability;
mod api_users;
mod api_video_files;
mod api_video_passwords;
mod api_video_source;
mod api_videos;
mod bounded_memory;
mod db_jobs;
mod db_pool;
mod federation_abuses;
mod federation_backfill;
mod federation_blocklist;
mod federation_comments;
mod federation_delivery;
mod federation_discovery;
mod federation_edge;
mod federation_follow;
mod federation_interop;
mod federation_moves;
mod federation_playlists;
mod federation_rates;
mod federation_redundancy;
mod federation_video_blocks;
mod federation_videos;
mod federation_views;
mod jobs_disk_full;
mod jobs_fencing;
mod object_storage;
mod process_crash_federation;
mod process_lifecycle;
mod process_open_files;
mod process_several;
mod process_transcode;
mod runners;
mod server_limits;
mod tracker_socket;
mod web_pages;
