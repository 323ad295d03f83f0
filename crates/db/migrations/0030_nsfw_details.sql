-- What a sensitive video shows (PeerTube 7's `nsfwFlags`: 1 violence, 2 explicit sex) and a few
-- words about it (`nsfwSummary`, federated as the `Video`'s `summary`, a content warning).
ALTER TABLE videos ADD COLUMN nsfw_flags BIGINT NOT NULL DEFAULT 0;
ALTER TABLE videos ADD COLUMN nsfw_summary TEXT;
