-- Video playlists (PeerTube's video-playlists): ours and copies of other servers' public ones.
-- `kind` 1 regular, 2 the "Watch later" list every account has (one, made when first needed).
-- `privacy` 1 public, 2 unlisted, 3 private; a public playlist belongs to a channel. `url` is the
-- ActivityPub id of another server's playlist (NULL for ours); `thumbnail` a file under
-- `thumbnails/` (ours, uploaded), else the first video's thumbnail is shown.
CREATE TABLE playlists (
    id $ID$,
    uuid TEXT NOT NULL UNIQUE,
    short_uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    privacy BIGINT NOT NULL,
    kind BIGINT NOT NULL DEFAULT 1,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    channel_id BIGINT REFERENCES channels (id) ON DELETE CASCADE,
    url TEXT UNIQUE,
    thumbnail TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    fetched_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX playlists_account ON playlists (account_id, kind);
CREATE INDEX playlists_channel ON playlists (channel_id);
CREATE INDEX playlists_public ON playlists (privacy, updated_at);
CREATE UNIQUE INDEX playlists_watch_later ON playlists (account_id) WHERE kind = 2;

-- Its videos, in order: `position` 1..n without gaps (every change renumbers in its
-- transaction). A deleted video leaves its element (`video_id` NULL: PeerTube's "deleted" type).
-- `url`: the PlaylistElement's id on its server, for copies of remote playlists.
CREATE TABLE playlist_elements (
    id $ID$,
    playlist_id BIGINT NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    video_id BIGINT REFERENCES videos (id) ON DELETE SET NULL,
    position BIGINT NOT NULL,
    start_timestamp BIGINT,
    stop_timestamp BIGINT,
    url TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX playlist_elements_position ON playlist_elements (playlist_id, position);
CREATE INDEX playlist_elements_video ON playlist_elements (video_id);
