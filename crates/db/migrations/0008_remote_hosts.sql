-- How well each remote host takes our deliveries: a score (PeerTube's actor-follow score: 1000 to
-- start, +10 per delivery, -10 per failure, 0 to 10000) and since when it has failed without a
-- success in between. A host failing for longer than a day is dead: nothing more is queued for it
-- until it talks to us again.
CREATE TABLE remote_hosts (
    host TEXT PRIMARY KEY,
    score BIGINT NOT NULL,
    failing_since BIGINT,
    last_error TEXT,
    updated_at BIGINT NOT NULL
);
