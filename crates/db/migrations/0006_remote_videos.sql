-- Videos of other instances: `remote_url` is their ActivityPub id (NULL for ours), `remote_data`
-- what we show of them (playlist, files, thumbnail URLs), as JSON.
ALTER TABLE videos ADD COLUMN remote_url TEXT;
ALTER TABLE videos ADD COLUMN remote_data TEXT;
CREATE UNIQUE INDEX videos_remote_url ON videos (remote_url);
