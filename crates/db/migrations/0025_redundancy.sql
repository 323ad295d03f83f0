-- Mirrors of videos (PeerTube's redundancy). A row is one server's copy of one video's HLS
-- playlist, announced as a `CacheFile`: the copies other servers made of our videos (and of
-- videos we know, as their origin passed the announcement on), listed to players, and the
-- copies we make of other servers' videos (`actor_id` our instance actor, with the strategy that
-- chose it, its size and whether the copy is complete). `url` is the CacheFile's id.
CREATE TABLE video_redundancies (
    id $ID$,
    video_id BIGINT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    url TEXT NOT NULL UNIQUE,
    base_url TEXT NOT NULL,
    strategy TEXT,
    size BIGINT NOT NULL DEFAULT 0,
    ready BOOLEAN NOT NULL DEFAULT TRUE,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (video_id, actor_id)
);
CREATE INDEX video_redundancies_expires_at ON video_redundancies (expires_at);
CREATE INDEX video_redundancies_actor ON video_redundancies (actor_id);

-- Followed servers whose videos this instance may mirror (PeerTube's `redundancyAllowed`, set by
-- `PUT /api/v1/server/redundancy/{host}`); a server not listed may not be mirrored.
CREATE TABLE redundancy_hosts (
    host TEXT PRIMARY KEY,
    allowed BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);
