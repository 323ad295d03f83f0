-- Full-text search over videos (SQLite: FTS5). Rows are written by the application in the same
-- transaction as the video (db::videos::index_search), rowid = videos.id.
CREATE VIRTUAL TABLE videos_fts USING fts5(name, description, tags, tokenize = 'unicode61 remove_diacritics 2');
CREATE INDEX videos_channel_published ON videos (channel_id, state, privacy, published_at);
CREATE INDEX videos_views ON videos (state, privacy, views);
