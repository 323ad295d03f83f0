-- Nothing to change on SQLite: its search reads the FTS5 table `videos_fts`, which keeps its own
-- index and rank (0053 gives PostgreSQL a stored tsvector).
SELECT 1;
