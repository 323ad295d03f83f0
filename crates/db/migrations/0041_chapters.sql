-- Chapters of videos (PeerTube 6.0): a title from a timecode on, to the next chapter or the end.
-- Read from the description's timestamps too, as PeerTube does, while they match what the old
-- description said (app::video::chapters).
CREATE TABLE video_chapters (
    id $ID$,
    video_id BIGINT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    timecode BIGINT NOT NULL,
    title TEXT NOT NULL,
    UNIQUE (video_id, timecode)
);
