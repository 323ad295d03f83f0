-- A video's storyboard: one sprite sheet (PeerTube 6.3's geometry). A local one's file is ours
-- (`storyboards/<video uuid>/<filename>`); a remote one's `remote_url` is its origin's copy,
-- fetched on first request and kept under `filename`.
CREATE TABLE video_storyboards (
    video_id BIGINT PRIMARY KEY REFERENCES videos (id) ON DELETE CASCADE,
    filename TEXT NOT NULL UNIQUE,
    remote_url TEXT,
    total_width BIGINT NOT NULL,
    total_height BIGINT NOT NULL,
    sprite_width BIGINT NOT NULL,
    sprite_height BIGINT NOT NULL,
    sprite_duration BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
