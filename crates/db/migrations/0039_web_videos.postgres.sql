-- Web videos and torrents: see 0039_web_videos.sql (PostgreSQL changes the constraint in place).
ALTER TABLE video_files ADD COLUMN kind TEXT NOT NULL DEFAULT 'hls';
ALTER TABLE video_files ADD COLUMN torrent TEXT;
ALTER TABLE video_files ADD COLUMN info_hash TEXT;
ALTER TABLE video_files DROP CONSTRAINT video_files_video_id_resolution_key;
ALTER TABLE video_files ADD CONSTRAINT video_files_video_id_kind_resolution_key UNIQUE (video_id, kind, resolution);
CREATE INDEX video_files_filename ON video_files (filename);
CREATE INDEX video_files_torrent ON video_files (torrent);
