-- An administrator removed a video's web videos (DELETE /videos/:id/web-videos): they are not
-- made again for it (by transcoding or the hourly completion) until asked for
-- (POST /videos/:id/transcoding with transcodingType web-video).
ALTER TABLE videos ADD COLUMN web_videos_off BOOLEAN NOT NULL DEFAULT FALSE;
