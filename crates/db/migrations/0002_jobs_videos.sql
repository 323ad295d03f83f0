-- The persistent job queue, and videos with their HLS renditions.

-- One table for every kind of background work. Workers claim a job under a lease (locked_by,
-- heartbeat_at); a job whose heartbeat stops (a crashed process) goes back to the queue.
CREATE TABLE jobs (
    id $ID$,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    locked_by TEXT,
    heartbeat_at BIGINT,
    progress BIGINT,
    last_error TEXT,
    unique_key TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX jobs_claim ON jobs (state, kind, run_at);

-- States and privacies use PeerTube's numbers (VideoState, VideoPrivacy).
CREATE TABLE videos (
    id $ID$,
    uuid TEXT NOT NULL UNIQUE,
    short_uuid TEXT NOT NULL UNIQUE,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT,
    support TEXT,
    privacy BIGINT NOT NULL,
    state BIGINT NOT NULL,
    category BIGINT,
    licence BIGINT,
    language TEXT,
    nsfw BOOLEAN NOT NULL DEFAULT FALSE,
    comments_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    download_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    wait_transcoding BOOLEAN NOT NULL DEFAULT FALSE,
    duration BIGINT NOT NULL DEFAULT 0,
    width BIGINT NOT NULL DEFAULT 0,
    height BIGINT NOT NULL DEFAULT 0,
    fps DOUBLE PRECISION NOT NULL DEFAULT 0,
    has_audio BOOLEAN NOT NULL DEFAULT FALSE,
    has_video BOOLEAN NOT NULL DEFAULT FALSE,
    input_size BIGINT NOT NULL,
    input_path TEXT,
    probe TEXT,
    transcode_progress BIGINT,
    error TEXT,
    master_playlist TEXT,
    segments_sha256 TEXT,
    thumbnail TEXT,
    preview TEXT,
    views BIGINT NOT NULL DEFAULT 0,
    likes BIGINT NOT NULL DEFAULT 0,
    dislikes BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    published_at BIGINT,
    originally_published_at BIGINT
);
CREATE INDEX videos_channel ON videos (channel_id, created_at);
CREATE INDEX videos_published ON videos (state, privacy, published_at);

CREATE TABLE video_tags (
    video_id BIGINT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (video_id, tag)
);
CREATE INDEX video_tags_tag ON video_tags (tag);

-- One HLS rendition: a fragmented MP4 (segments are byte ranges of it) and its media playlist.
CREATE TABLE video_files (
    id $ID$,
    video_id BIGINT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    resolution BIGINT NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    fps DOUBLE PRECISION NOT NULL,
    size BIGINT NOT NULL,
    bandwidth BIGINT NOT NULL,
    codecs TEXT NOT NULL,
    filename TEXT NOT NULL,
    playlist TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (video_id, resolution)
);

-- Resumable uploads in progress (PeerTube's uploadx protocol): the bytes are in `path`, this row
-- says whose they are and what video they become. Survives restarts; stale rows are swept after a day.
CREATE TABLE upload_sessions (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    meta TEXT NOT NULL,
    total_size BIGINT NOT NULL,
    mime TEXT NOT NULL,
    path TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
