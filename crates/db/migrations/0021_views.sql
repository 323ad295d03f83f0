-- Views by day (days since the epoch, UTC), for the "trending" sort: views of the last days, not
-- of all time. Views of other servers' videos counted here and not yet told to their servers wait
-- in `pending_views` for the batch that sends them.
CREATE TABLE video_views_daily (
    video_id BIGINT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    day BIGINT NOT NULL,
    views BIGINT NOT NULL,
    PRIMARY KEY (video_id, day)
);
CREATE INDEX video_views_daily_day ON video_views_daily (day);

CREATE TABLE pending_views (
    video_id BIGINT PRIMARY KEY REFERENCES videos (id) ON DELETE CASCADE,
    views BIGINT NOT NULL
);
