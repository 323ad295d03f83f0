-- The P2P info hashes of our videos' HLS renditions (p2p-media-loader 2's, see media::p2p): the
-- tracker admits only these swarms.
CREATE TABLE video_infohashes (
    info_hash TEXT PRIMARY KEY,
    video_id BIGINT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    position BIGINT NOT NULL
);
CREATE INDEX video_infohashes_video ON video_infohashes (video_id);
