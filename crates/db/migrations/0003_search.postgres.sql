-- Full-text search over videos (PostgreSQL: a text column indexed as a tsvector). The column is
-- written by the application with the video (db::videos::index_search).
ALTER TABLE videos ADD COLUMN search_text TEXT;
CREATE INDEX videos_search ON videos USING GIN (to_tsvector('simple', COALESCE(search_text, '')));
CREATE INDEX videos_channel_published ON videos (channel_id, state, privacy, published_at);
CREATE INDEX videos_views ON videos (state, privacy, views);
