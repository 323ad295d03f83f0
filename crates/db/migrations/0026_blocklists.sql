-- Blocklists (PeerTube's account and server blocklists): what a user mutes for themselves
-- (`user_id` set) and what the instance blocks for everyone (`user_id` NULL, set by moderators).
-- A blocked account is an actor (a local or remote account); a blocked server is a domain as
-- written (lower-cased, perhaps not known here yet), which covers its subdomains.
CREATE TABLE account_blocks (
    id $ID$,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    target_actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX account_blocks_by_user ON account_blocks (user_id, target_actor_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX account_blocks_by_instance ON account_blocks (target_actor_id) WHERE user_id IS NULL;

CREATE TABLE server_blocks (
    id $ID$,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    host TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX server_blocks_by_user ON server_blocks (user_id, host) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX server_blocks_by_instance ON server_blocks (host) WHERE user_id IS NULL;
