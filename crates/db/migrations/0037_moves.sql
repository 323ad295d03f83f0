-- Moving house: the other addresses a local actor answers to (`alsoKnownAs`, a JSON array of
-- actor URLs: where it moves from), and the address an actor moved to (ours after a `Move` we
-- sent, another server's after one we received).
ALTER TABLE actors ADD COLUMN also_known_as TEXT;
ALTER TABLE actors ADD COLUMN moved_to TEXT;
