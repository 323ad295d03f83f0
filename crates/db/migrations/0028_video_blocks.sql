-- Video blocks (PeerTube's "blacklist"): a video moderators hold back, with why. `kind` 1 by a
-- moderator, 2 automatically (a new video of a user the instance does not trust yet, held until a
-- moderator lets it through). `unfederated`: followers were told to delete it (a local video), or
-- it was never sent (held). `videos.blocked` repeats it where every list and file request reads:
-- 0 not blocked, 1 blocked here only, 2 blocked and not federated.
ALTER TABLE videos ADD COLUMN blocked BIGINT NOT NULL DEFAULT 0;
CREATE TABLE video_blocks (
    video_id BIGINT PRIMARY KEY REFERENCES videos (id) ON DELETE CASCADE,
    reason TEXT,
    unfederated BOOLEAN NOT NULL,
    kind BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX video_blocks_kind ON video_blocks (kind, created_at);
