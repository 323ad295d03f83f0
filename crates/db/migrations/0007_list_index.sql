-- The default video list (published, public, NSFW hidden, newest first) and its count, answered
-- from one index: at 100,000 videos the count otherwise reads every row.
CREATE INDEX videos_list ON videos (state, privacy, nsfw, published_at, id);
