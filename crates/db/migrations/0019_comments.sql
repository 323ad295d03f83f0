-- Comments under videos, local and remote, as PeerTube keeps them: a thread is a comment with no
-- parent (`thread_id` NULL), a reply names its thread and the comment it answers. A deleted
-- comment stays as a tombstone (`deleted_at`, no author, empty text) so its replies keep their
-- place; its author's account going away takes its comments (and their replies) with it, as in
-- PeerTube. `url` is the ActivityPub id of a comment from another server (NULL for ours).
CREATE TABLE video_comments (
    id $ID$,
    video_id BIGINT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    thread_id BIGINT REFERENCES video_comments (id) ON DELETE CASCADE,
    in_reply_to BIGINT REFERENCES video_comments (id) ON DELETE CASCADE,
    account_id BIGINT REFERENCES accounts (id) ON DELETE CASCADE,
    url TEXT UNIQUE,
    text TEXT NOT NULL,
    held BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX video_comments_video ON video_comments (video_id, thread_id, created_at);
CREATE INDEX video_comments_thread ON video_comments (thread_id, created_at);
CREATE INDEX video_comments_reply ON video_comments (in_reply_to);
CREATE INDEX video_comments_account ON video_comments (account_id);

-- PeerTube's commentsPolicy 3: comments by others wait for the owner's approval.
ALTER TABLE videos ADD COLUMN comments_held BOOLEAN NOT NULL DEFAULT FALSE;
