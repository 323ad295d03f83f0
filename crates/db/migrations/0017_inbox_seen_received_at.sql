-- The inbox's memory of applied activity ids is pruned by age (flotilla_db::follows::prune_seen):
-- the index keeps the hourly DELETE from reading the whole table. Numbered 16: 15 is being
-- written on main (job leases), and versions are applied as a set, so the order of merging is free.
CREATE INDEX inbox_seen_received_at ON inbox_seen (received_at);
