-- The secret in a user's private subscriptions feed URL (PeerTube's feed token), made when first
-- asked for and renewed on demand.
ALTER TABLE users ADD COLUMN feed_token TEXT;
CREATE UNIQUE INDEX users_feed_token ON users (feed_token);
