-- The video a resumable upload became, set in the transaction that inserts the video: a client
-- asking again after the answer was lost gets the same video instead of a second one.
ALTER TABLE upload_sessions ADD COLUMN video_id BIGINT;
CREATE INDEX upload_sessions_user ON upload_sessions (user_id);
