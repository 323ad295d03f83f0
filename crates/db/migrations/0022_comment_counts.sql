-- Counts kept with the comments, in the transaction that changes them, so a page of threads does
-- not count a video's comments on every request (benchmark 10): per video, its comments and its
-- threads that are neither deleted nor held; per thread (on its first comment), its replies that
-- are neither deleted nor held. The indexes serve a video's threads in either order.
ALTER TABLE videos ADD COLUMN comments_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE videos ADD COLUMN comment_threads BIGINT NOT NULL DEFAULT 0;
ALTER TABLE video_comments ADD COLUMN total_replies BIGINT NOT NULL DEFAULT 0;
UPDATE videos SET comments_count = (SELECT COUNT(*) FROM video_comments c WHERE c.video_id = videos.id
    AND c.deleted_at IS NULL AND c.held = FALSE);
UPDATE videos SET comment_threads = (SELECT COUNT(*) FROM video_comments c WHERE c.video_id = videos.id
    AND c.thread_id IS NULL AND c.held = FALSE);
UPDATE video_comments SET total_replies = (SELECT COUNT(*) FROM video_comments r
    WHERE r.thread_id = video_comments.id AND r.deleted_at IS NULL AND r.held = FALSE)
    WHERE thread_id IS NULL;
CREATE INDEX video_comments_threads ON video_comments (video_id, created_at, id) WHERE thread_id IS NULL;
CREATE INDEX video_comments_threads_replies ON video_comments (video_id, total_replies, id) WHERE thread_id IS NULL;
