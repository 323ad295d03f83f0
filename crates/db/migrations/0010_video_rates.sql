-- Likes and dislikes of local users (PeerTube's rates); videos.likes/dislikes hold the counts.
CREATE TABLE video_rates (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    video_id BIGINT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    rating TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, video_id)
);
CREATE INDEX video_rates_video ON video_rates (video_id);
