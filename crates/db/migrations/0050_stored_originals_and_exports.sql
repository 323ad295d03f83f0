-- Kept originals and user exports in the object store's private bucket (`app::storage`) rather
-- than under original-video-files/ and user-exports/ on the disk: a kept original
-- (`original_file`) is moved there by the `store-original` job; an export is uploaded by its job
-- before it is marked completed.
ALTER TABLE videos ADD COLUMN original_stored BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE user_exports ADD COLUMN stored BOOLEAN NOT NULL DEFAULT FALSE;
