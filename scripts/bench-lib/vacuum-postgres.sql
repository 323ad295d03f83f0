-- After seed-postgres.sql, in a new session: statistics, and the visibility map that lets
-- index-only scans skip the table (what autovacuum does on a running instance within a minute of
-- such a load). Run in the seed's own session, VACUUM left the map unset (heap fetches of every row).
VACUUM (ANALYZE) videos;
VACUUM (ANALYZE) video_tags;
VACUUM (ANALYZE) video_views_daily;
