-- When a remote video was last fetched or received from its origin: copies older than two days
-- are fetched again when someone looks at them.
ALTER TABLE videos ADD COLUMN fetched_at BIGINT;
