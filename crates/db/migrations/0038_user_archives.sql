-- User archives (PeerTube 6.1's export and import). An export is a zip built by a job under
-- <data>/user-exports/, downloaded through a link that carries its random name, removed when it
-- expires. An import is an archive uploaded with the resumable protocol (`upload_sessions` of
-- kind 'user-import'), read by a job that records what it brought in `summary`.
-- `state`: 1 pending, 2 processing, 3 completed, 4 errored (PeerTube's numbers).
CREATE TABLE user_exports (
    id $ID$,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state BIGINT NOT NULL,
    with_video_files BOOLEAN NOT NULL,
    filename TEXT NOT NULL UNIQUE,
    size BIGINT,
    error TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE INDEX user_exports_user ON user_exports (user_id);
CREATE TABLE user_imports (
    id $ID$,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state BIGINT NOT NULL,
    path TEXT NOT NULL,
    error TEXT,
    summary TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX user_imports_user ON user_imports (user_id);
ALTER TABLE upload_sessions ADD COLUMN kind TEXT NOT NULL DEFAULT 'video';
ALTER TABLE upload_sessions ADD COLUMN import_id BIGINT;
