-- A kept original (`original_file`) in the object store's private bucket (`app::storage`,
-- `store-original` job) rather than under original-video-files/ on the disk.
ALTER TABLE videos ADD COLUMN original_stored BOOLEAN NOT NULL DEFAULT FALSE;
