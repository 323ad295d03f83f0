-- Remote actors (host <> '') keep what we need to talk to them; follows between any two actors;
-- the ids of activities already processed (each is applied once).
ALTER TABLE actors ADD COLUMN url TEXT;
ALTER TABLE actors ADD COLUMN inbox TEXT;
ALTER TABLE actors ADD COLUMN shared_inbox TEXT;
ALTER TABLE actors ADD COLUMN followers_url TEXT;
ALTER TABLE actors ADD COLUMN display_name TEXT;
ALTER TABLE actors ADD COLUMN fetched_at BIGINT;
CREATE UNIQUE INDEX actors_url ON actors (url);

CREATE TABLE follows (
    id $ID$,
    follower_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    target_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    activity_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (follower_id, target_id)
);
CREATE INDEX follows_target ON follows (target_id, state);

CREATE TABLE inbox_seen (
    activity_id TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
);
