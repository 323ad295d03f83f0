-- Where the stored avatar or banner of a remote actor was copied from: a new URL in its document
-- means a new image to fetch; the same URL, nothing to do.
CREATE TABLE remote_image_sources (
    actor_id BIGINT NOT NULL REFERENCES actors (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (actor_id, kind)
);
