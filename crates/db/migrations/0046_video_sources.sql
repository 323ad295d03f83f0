-- What was uploaded (PeerTube's video source): its file name as the uploader had it, when it was
-- last replaced, and with [transcoding] keep_original the file itself, kept after transcoding
-- under original-video-files/ (NULL: not kept).
ALTER TABLE videos ADD COLUMN input_filename TEXT;
ALTER TABLE videos ADD COLUMN input_updated_at BIGINT;
ALTER TABLE videos ADD COLUMN original_file TEXT;
