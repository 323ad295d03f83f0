-- Video lists at 100,000 videos (issue 19): every sort PeerTube clients ask for walks an index
-- instead of ranking every public video.
-- "trending" and "hot" rank by the views of the kept days (video_views_daily, pruned after a
-- week): their sum, kept beside the row (db::videos::add_views adds, prune_daily_views takes
-- off what it deletes), instead of a sum per video per request.
ALTER TABLE videos ADD COLUMN recent_views BIGINT NOT NULL DEFAULT 0;
UPDATE videos SET recent_views = COALESCE((SELECT SUM(d.views) FROM video_views_daily d WHERE d.video_id = videos.id), 0);
CREATE INDEX videos_trending ON videos (state, privacy, recent_views, id);
CREATE INDEX videos_likes ON videos (state, privacy, likes, id);
-- tagsOneOf matches tags case-insensitively.
CREATE INDEX video_tags_lower ON video_tags (lower(tag), video_id);
-- The default list with `blocked` in the index: a deep page (start=50000) skips its rows in the
-- index without reading them.
DROP INDEX videos_list;
CREATE INDEX videos_list ON videos (state, privacy, nsfw, blocked, published_at, id);
