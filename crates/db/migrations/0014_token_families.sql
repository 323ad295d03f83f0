-- Refresh-token reuse detection: the pairs issued by refreshing one login share a family; a pair
-- that was refreshed keeps its row (until its refresh token would have expired) with the time it
-- was rotated, so a second use after the grace period is recognised and ends the whole family.
ALTER TABLE oauth_tokens ADD COLUMN family TEXT;
ALTER TABLE oauth_tokens ADD COLUMN rotated_at BIGINT;
CREATE INDEX oauth_tokens_family ON oauth_tokens (family);
