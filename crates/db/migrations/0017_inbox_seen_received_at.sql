-- The inbox's memory of applied activity ids is pruned by age (flotilla_db::follows::prune_seen):
-- the index keeps the hourly DELETE from reading the whole table.
CREATE INDEX inbox_seen_received_at ON inbox_seen (received_at);
