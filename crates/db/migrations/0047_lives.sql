-- Lives (PeerTube's video lives): a video made to be streamed (`videos.is_live`), its stream key
-- and settings here, one row per streaming session below. `latency_mode`: PeerTube's 1 default,
-- 2 high latency, 3 small latency. `replay_privacy`: the replay's privacy (NULL: no replay).
ALTER TABLE videos ADD COLUMN is_live BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE video_lives (
    video_id BIGINT PRIMARY KEY REFERENCES videos (id) ON DELETE CASCADE,
    stream_key TEXT NOT NULL UNIQUE,
    save_replay BOOLEAN NOT NULL,
    replay_privacy BIGINT,
    permanent BOOLEAN NOT NULL,
    latency_mode BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- A session: from the stream's start to its end (`ended_at` NULL: streaming now, or cut by a
-- crash: the next start ends it). `error`: PeerTube's LiveVideoError (1 bad socket health,
-- 2 duration exceeded, 3 quota exceeded, 4 ffmpeg error, 5 blacklisted, 6 runner job error,
-- 7 runner job cancel); ours beside them: 101 bitrate exceeded. The replay settings are the
-- live's at the session's start.
CREATE TABLE video_live_sessions (
    id $ID$,
    video_id BIGINT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    error BIGINT,
    save_replay BOOLEAN NOT NULL,
    replay_privacy BIGINT,
    replay_video_id BIGINT REFERENCES videos (id) ON DELETE SET NULL,
    ending_processed BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX video_live_sessions_video ON video_live_sessions (video_id, started_at);
CREATE INDEX video_live_sessions_open ON video_live_sessions (ended_at);
