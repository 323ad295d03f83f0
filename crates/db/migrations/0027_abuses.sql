-- Abuse reports (PeerTube's abuses): a report about a video (with the moment it shows it), a
-- comment or an account, by a local account or received from another server as a `Flag`
-- (`reporter_host` its server, `reporter_actor_id` the actor that signed it, which hears how it
-- ends; the reporter's account when that actor is one). The
-- flagged objects may go away; what moderators need to read is kept with the report. `url` is
-- the Flag's id: ours (`/admin/abuses/<id>`, sent to the flagged object's server) or theirs.
-- When the flagged object's server (a Flotilla) accepts or rejects our Flag, our copy takes that state.
CREATE TABLE abuses (
    id $ID$,
    reporter_account_id BIGINT REFERENCES accounts (id) ON DELETE SET NULL,
    reporter_host TEXT NOT NULL DEFAULT '',
    reporter_actor_id BIGINT REFERENCES actors (id) ON DELETE SET NULL,
    flagged_account_id BIGINT REFERENCES accounts (id) ON DELETE SET NULL,
    video_id BIGINT REFERENCES videos (id) ON DELETE SET NULL,
    comment_id BIGINT REFERENCES video_comments (id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    video_name TEXT,
    video_uuid TEXT,
    comment_text TEXT,
    start_at BIGINT,
    end_at BIGINT,
    reason TEXT NOT NULL,
    predefined_reasons TEXT NOT NULL DEFAULT '',
    state BIGINT NOT NULL DEFAULT 1,
    moderation_comment TEXT,
    url TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX abuses_reporter ON abuses (reporter_account_id, created_at);
CREATE INDEX abuses_flagged ON abuses (flagged_account_id);
CREATE INDEX abuses_video ON abuses (video_id);
CREATE INDEX abuses_state ON abuses (state, created_at);

CREATE TABLE abuse_messages (
    id $ID$,
    abuse_id BIGINT NOT NULL REFERENCES abuses (id) ON DELETE CASCADE,
    account_id BIGINT REFERENCES accounts (id) ON DELETE SET NULL,
    by_moderator BOOLEAN NOT NULL,
    message TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX abuse_messages_abuse ON abuse_messages (abuse_id, id);
