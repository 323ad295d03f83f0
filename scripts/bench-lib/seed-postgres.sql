-- Seeds root's channel with published public videos up to :total (psql -v total=N): the API
-- benchmarks' PostgreSQL data (scripts/bench-lib/api.sh, processes.sh); seed.py does SQLite's.
BEGIN;
WITH ch AS (
  SELECT c.id FROM channels c JOIN actors a ON a.id = c.actor_id WHERE a.name = 'root_channel' AND a.host = ''
), have AS (
  SELECT COUNT(*) AS n FROM videos WHERE channel_id = (SELECT id FROM ch)
)
INSERT INTO videos (uuid, short_uuid, channel_id, name, description, privacy, state, duration, width, height, fps,
                    has_audio, has_video, input_size, created_at, updated_at, published_at)
SELECT gen_random_uuid()::text, substr(md5('bench-' || g), 1, 22), (SELECT id FROM ch),
       'Benchmark video ' || g, 'Seeded by scripts/bench for the API benchmark, row ' || g || '.', 1, 1,
       30 + (g * 7919) % 3570, 1920, 1080, 30.0, TRUE, TRUE, 1000000 + (g * 104729) % 499000000,
       t, t, t
FROM generate_series((SELECT n FROM have) + 1, :total) AS g,
     LATERAL (SELECT (extract(epoch FROM now()) * 1000)::bigint - (:total - g + 1) * 60000 AS t) AS tt;
COMMIT;
ANALYZE videos;
