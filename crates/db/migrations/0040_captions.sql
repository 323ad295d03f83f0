-- Captions (subtitles) of videos, one per language. A local caption's file is ours
-- (`captions/<video uuid>/<filename>`, WebVTT we wrote); a remote one's `remote_url` is its copy on
-- its origin, fetched on first request and kept under `filename` (NULL until then).
CREATE TABLE video_captions (
    id $ID$,
    video_id BIGINT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    language TEXT NOT NULL,
    filename TEXT,
    remote_url TEXT,
    automatically_generated BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (video_id, language)
);
CREATE INDEX video_captions_filename ON video_captions (filename);
