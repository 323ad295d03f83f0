-- Where a local video's HLS files and web videos are (`app::storage`): 0 on the local disk, 1 in
-- the object store's public buckets, 2 in its private bucket. All of a video's files are in one
-- place; a move (`move-to-object-storage`, `move-to-file-system`) changes it in one update after
-- every file is copied.
ALTER TABLE videos ADD COLUMN storage BIGINT NOT NULL DEFAULT 0;
-- What ffprobe read in a file (`GET /videos/:id/metadata/:fileId`), kept when the file leaves the
-- disk so that the answer needs no download.
ALTER TABLE video_files ADD COLUMN metadata TEXT;
