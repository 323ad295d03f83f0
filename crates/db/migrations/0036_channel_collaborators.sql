-- Shared channels: local accounts the channel's owner invited as editors (`state` 1 invited,
-- 2 accepted). Editors upload to the channel and manage its videos and playlists; only the
-- owner deletes the channel, changes its settings or its editors.
CREATE TABLE channel_collaborators (
    id $ID$,
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    state BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (channel_id, account_id)
);
CREATE INDEX channel_collaborators_account ON channel_collaborators (account_id, state);
