-- Remote runners (PeerTube's runner protocol, `app::runners`): admins make registration tokens;
-- a runner registers with one and gets its own token (only its SHA-256 is kept); deleting a
-- registration token removes the runners registered with it.
CREATE TABLE runner_registration_tokens (
    id $ID$,
    token TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE runners (
    id $ID$,
    registration_token_id BIGINT NOT NULL REFERENCES runner_registration_tokens (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    ip TEXT NOT NULL,
    last_contact BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX runners_name ON runners (name);
-- Work handed to runners. `state`: PeerTube's RunnerJobState (1 pending, 2 processing,
-- 3 completed, 4 errored, 6 cancelled). `job_token_hash`: the SHA-256 of the token given at
-- acceptance; a new acceptance (after a stall or an abort) makes a new one, so a runner that lost
-- its job cannot post for it. `payload`: what the runner is told; `private_payload`: what we need
-- to check and store its result. `result_stored`: a completed job's files are in the video (the
-- `runner-results` job stored them).
CREATE TABLE runner_jobs (
    id $ID$,
    uuid TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state BIGINT NOT NULL,
    video_id BIGINT REFERENCES videos (id) ON DELETE CASCADE,
    payload TEXT NOT NULL,
    private_payload TEXT NOT NULL,
    runner_id BIGINT REFERENCES runners (id) ON DELETE SET NULL,
    job_token_hash TEXT,
    progress BIGINT,
    failures BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    priority BIGINT NOT NULL DEFAULT 0,
    result_stored BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT
);
CREATE INDEX runner_jobs_state ON runner_jobs (state, priority, id);
CREATE INDEX runner_jobs_video ON runner_jobs (video_id);
