-- A remote comment on one of our videos that waits for the owner's approval keeps the activity it
-- came in (its author's signature inside): approved, it is passed on to the video's followers as
-- received, and the column is emptied in that transaction.
ALTER TABLE video_comments ADD COLUMN held_activity TEXT;
