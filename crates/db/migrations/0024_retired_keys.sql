-- The keys of local actors deleted lately (a user removed with its channels), kept only to sign the
-- `Delete` of each actor to the servers that know it, while those deliveries may still be retried;
-- pruned after a few days. Keyed by the actor's URL, the `actor` of the activities signed.
CREATE TABLE retired_keys (
    actor_url TEXT PRIMARY KEY,
    private_key_pem TEXT NOT NULL,
    retired_at BIGINT NOT NULL
);
CREATE INDEX retired_keys_retired_at ON retired_keys (retired_at);
