-- What each user watched and where they stopped (PeerTube's user video history), while
-- `users.videos_history_enabled` is on.
CREATE TABLE video_history (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    video_id BIGINT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, video_id)
);
CREATE INDEX video_history_recent ON video_history (user_id, updated_at);
CREATE INDEX video_history_video ON video_history (video_id);
ALTER TABLE users ADD COLUMN videos_history_enabled BOOLEAN NOT NULL DEFAULT TRUE;
