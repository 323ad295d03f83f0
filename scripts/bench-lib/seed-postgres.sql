-- Seeds root's channel with published public videos up to :total (psql -v total=N): the API
-- benchmarks' PostgreSQL data (scripts/bench-lib/api.sh, processes.sh); seed.py does SQLite's, with
-- the same shapes: two words of a 400-word vocabulary in the name, two tags of 200, views, likes,
-- the search text, and daily views of the last three days for one video in five.
BEGIN;
CREATE TEMP TABLE syl AS SELECT ARRAY['ba','be','bi','bo','bu','da','de','di','do','du','fa','fe','fi','fo','fu','ga','ge','gi','go','gu']::text[] AS s;
CREATE TEMP TABLE seeded AS
WITH ch AS (
  SELECT c.id FROM channels c JOIN actors a ON a.id = c.actor_id WHERE a.name = 'root_channel' AND a.host = ''
), have AS (
  SELECT COUNT(*) AS n FROM videos WHERE channel_id = (SELECT id FROM ch)
)
SELECT g, (SELECT id FROM ch) AS channel_id,
       'Benchmark video ' || g || ': ' || w1 || ' ' || w2 AS name,
       'Seeded by scripts/bench for the API benchmark, row ' || g || '.' AS description,
       t1, t2, t
FROM generate_series((SELECT n FROM have) + 1, :total) AS g,
     LATERAL (SELECT (extract(epoch FROM now()) * 1000)::bigint - (:total - g + 1) * 60000 AS t) AS tt,
     LATERAL (SELECT s[((g - 1) % 400) / 20 + 1] || s[(g - 1) % 20 + 1] AS w1,
                     s[(((g - 1) * 7 + 3) % 400) / 20 + 1] || s[((g - 1) * 7 + 3) % 20 + 1] AS w2,
                     't' || s[((g - 1) % 200) / 10 + 1] || s[(g - 1) % 10 + 1] AS t1,
                     't' || s[(((g - 1) * 13 + 5) % 200) / 10 + 1] || s[((g - 1) * 13 + 5) % 10 + 1] AS t2
              FROM syl) AS words;
INSERT INTO videos (uuid, short_uuid, channel_id, name, description, privacy, state, duration, width, height, fps,
                    has_audio, has_video, input_size, created_at, updated_at, published_at, views, likes, search_text)
SELECT gen_random_uuid()::text, substr(md5('bench-' || g), 1, 22), channel_id, name, description, 1, 1,
       30 + (g * 7919) % 3570, 1920, 1080, 30.0, TRUE, TRUE, 1000000 + (g * 104729) % 499000000,
       t, t, t, (g * 48271) % 100001, (g * 16807) % 5001,
       name || ' ' || description || ' ' || t1 || CASE WHEN t2 <> t1 THEN ' ' || t2 ELSE '' END
FROM seeded ORDER BY g;
INSERT INTO video_tags (video_id, tag)
SELECT v.id, x.tag FROM seeded s JOIN videos v ON v.short_uuid = substr(md5('bench-' || s.g), 1, 22)
CROSS JOIN LATERAL (SELECT DISTINCT unnest(ARRAY[s.t1, s.t2]) AS tag) x;
INSERT INTO video_views_daily (video_id, day, views)
SELECT v.id, (extract(epoch FROM now()) * 1000)::bigint / 86400000 - d, 1 + (s.g * 31 + d * 17) % 500
FROM seeded s JOIN videos v ON v.short_uuid = substr(md5('bench-' || s.g), 1, 22)
CROSS JOIN generate_series(0, 2) AS d
WHERE (s.g - 1) % 5 = 0;
COMMIT;
-- Then, in a session of its own (scripts/bench-lib/vacuum-postgres.sql: a VACUUM in this session,
-- which made the temporary tables, left the visibility map unset), what autovacuum does on a
-- running instance within a minute of such a load.
