-- Local objects that were deleted after other servers had them: their URLs answer 410 Gone with
-- a Tombstone, so a server that missed the Delete learns it when it looks again.
CREATE TABLE tombstones (
    url TEXT PRIMARY KEY,
    former_type TEXT NOT NULL,
    deleted_at BIGINT NOT NULL
);
