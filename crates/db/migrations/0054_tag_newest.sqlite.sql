-- `tagsOneOf` with one tag, newest first, walks that tag's videos in publication order: each tag
-- row carries its video's `published_at`, kept by the triggers below for every writer (the
-- application, archive imports, the benchmark's seed). Before, the list walked every public video
-- newest first and looked each one up among the tag's rows until 25 matched (2,446 lookups for a
-- tag on 1 % of 100,000 videos).
ALTER TABLE video_tags ADD COLUMN published_at BIGINT;
UPDATE video_tags SET published_at = (SELECT published_at FROM videos WHERE videos.id = video_tags.video_id);
CREATE INDEX video_tags_newest ON video_tags (lower(tag), published_at, video_id);
CREATE TRIGGER video_tags_published_insert AFTER INSERT ON video_tags BEGIN
    UPDATE video_tags SET published_at = (SELECT published_at FROM videos WHERE id = NEW.video_id)
    WHERE video_id = NEW.video_id AND tag = NEW.tag;
END;
CREATE TRIGGER videos_published_tags AFTER UPDATE OF published_at ON videos
WHEN OLD.published_at IS NOT NEW.published_at BEGIN
    UPDATE video_tags SET published_at = NEW.published_at WHERE video_id = NEW.id;
END;
