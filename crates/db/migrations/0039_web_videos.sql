-- Web videos and torrents. A row of `video_files` is now one file of a video, of a kind:
-- 'hls' (a fragmented MP4 with its media playlist, as before) or 'web' (a plain faststart MP4
-- for downloads and the player's web-video mode; `playlist` is empty). Both kinds share one id
-- space, as PeerTube's files do (`/download/videos/generate/:id?videoFileIds=` takes either).
-- `torrent` names its .torrent under `torrents/`, `info_hash` is that torrent's (hex, v1).
-- SQLite cannot change a table's UNIQUE constraint in place: the table is rebuilt.
CREATE TABLE video_files_new (
    id $ID$,
    video_id BIGINT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    kind TEXT NOT NULL DEFAULT 'hls',
    resolution BIGINT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    fps DOUBLE PRECISION NOT NULL,
    size BIGINT NOT NULL,
    bandwidth BIGINT NOT NULL,
    codecs TEXT NOT NULL,
    filename TEXT NOT NULL,
    playlist TEXT NOT NULL,
    torrent TEXT,
    info_hash TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (video_id, kind, resolution)
);
INSERT INTO video_files_new (id, video_id, kind, resolution, width, height, fps, size, bandwidth, codecs, filename,
                             playlist, created_at)
    SELECT id, video_id, 'hls', resolution, width, height, fps, size, bandwidth, codecs, filename, playlist, created_at
    FROM video_files;
DROP TABLE video_files;
ALTER TABLE video_files_new RENAME TO video_files;
CREATE INDEX video_files_filename ON video_files (filename);
CREATE INDEX video_files_torrent ON video_files (torrent);
