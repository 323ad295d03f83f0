-- Imports by URL (PeerTube's video imports): the video is made at once (state 3, "to import"),
-- the download and its outcome are here. `state`: PeerTube's 1 pending, 2 success, 3 failed,
-- 5 cancelled, 6 processing. `video_id` goes NULL when the video is deleted (the import stays
-- listed, as PeerTube's).
CREATE TABLE video_imports (
    id $ID$,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    video_id BIGINT REFERENCES videos (id) ON DELETE SET NULL,
    target_url TEXT NOT NULL,
    state BIGINT NOT NULL,
    error TEXT,
    -- The video's name came from the user (else the page's title replaces the URL it starts with).
    name_given BOOLEAN NOT NULL,
    -- Downloaded so far and expected, in bytes, while processing (NULL: not known).
    downloaded_bytes BIGINT,
    total_bytes BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX video_imports_user ON video_imports (user_id, created_at);
CREATE INDEX video_imports_video ON video_imports (video_id);
