-- Watched words and automatic tags (PeerTube 6.2): lists of words an account (for comments on
-- its videos) or the instance (`account_id` NULL, for every comment) watches; a comment whose
-- text has words of a list gets the list's name as a tag of that account (or of the instance),
-- besides the core tag `external-link`; an account's policy names the tags that hold a comment
-- on its videos for review.
CREATE TABLE watched_word_lists (
    id $ID$,
    account_id BIGINT REFERENCES accounts (id) ON DELETE CASCADE,
    list_name TEXT NOT NULL,
    words TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX watched_word_lists_of_account ON watched_word_lists (account_id, list_name) WHERE account_id IS NOT NULL;
CREATE UNIQUE INDEX watched_word_lists_of_instance ON watched_word_lists (list_name) WHERE account_id IS NULL;

CREATE TABLE comment_auto_tags (
    comment_id BIGINT NOT NULL REFERENCES video_comments (id) ON DELETE CASCADE,
    account_id BIGINT REFERENCES accounts (id) ON DELETE CASCADE,
    tag TEXT NOT NULL
);
CREATE INDEX comment_auto_tags_comment ON comment_auto_tags (comment_id);
CREATE INDEX comment_auto_tags_tag ON comment_auto_tags (tag);

CREATE TABLE auto_tag_policies (
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (account_id, tag)
);
