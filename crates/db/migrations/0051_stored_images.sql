-- Images (avatars and banners under images/, videos' and playlists' thumbnails, previews) kept in
-- the object store's images bucket rather than on the disk (`app::image_storage`): a row per file
-- there, by its directory and generated name. A file on the disk is served first; one with a row
-- and no disk copy is answered by a redirect to the bucket.
CREATE TABLE stored_images (
    dir TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (dir, name)
);
