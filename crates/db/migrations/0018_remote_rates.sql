-- Likes and dislikes that other servers' actors gave our videos (received `Like`/`Dislike`), by
-- the activity's id so that an `Undo` naming it finds it; counted in videos.likes/dislikes with
-- the local ones.
CREATE TABLE remote_rates (
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    video_id BIGINT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    rating TEXT NOT NULL,
    url TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (actor_id, video_id)
);
CREATE INDEX remote_rates_video ON remote_rates (video_id);
