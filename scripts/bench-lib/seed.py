#!/usr/bin/env python3
"""Seeds published public videos straight into a stopped instance's SQLite database, in one
transaction, until the channel `root_channel` has TOTAL videos. Prints {"first_id", "last_id",
"count"} of the seeded ids as JSON.

  seed.py DB_FILE TOTAL

Columns follow crates/db/migrations/*.sql (times in milliseconds; state 1 = published, privacy 1 =
public). The rows look like real uploads: a unique uuid and short uuid, a name with two words of
a 400-word vocabulary (so a search for one word finds about 0.5 % of the videos), a description,
two tags of a 200-tag vocabulary (a tag is on about 1 % of the videos), views, likes, a duration,
a size, distinct publication times, the search index's row, and for one video in five, views on
each of the last three days (the "trending" sort's figures). seed-postgres.sql seeds the same.
"""
import json
import random
import sqlite3
import sys
import time
import uuid

SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"][:20]
# Same-length words, so no word is a prefix of another (searches match word prefixes).
WORDS = [a + b for a in SYLLABLES for b in SYLLABLES]  # 400
TAGS = ["t" + a + b for a in SYLLABLES for b in SYLLABLES[:10]]  # 200
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def short_uuid(u):
    n, out = u.int, []
    while n:
        n, r = divmod(n, 58)
        out.append(B58[r])
    return "".join(reversed(out)).rjust(22, "1")


def main():
    db, total = sys.argv[1], int(sys.argv[2])
    con = sqlite3.connect(db, timeout=30)
    con.execute("PRAGMA foreign_keys = ON")
    (channel,) = con.execute(
        "SELECT c.id FROM channels c JOIN actors a ON a.id = c.actor_id WHERE a.name = 'root_channel' AND a.host = ''"
    ).fetchone()
    (have,) = con.execute("SELECT COUNT(*) FROM videos WHERE channel_id = ?", (channel,)).fetchone()
    rng = random.Random(42 + have)  # reproducible content
    now = int(time.time() * 1000)
    today = now // 86_400_000
    rows, extras = [], []
    for i in range(have, total):
        u = uuid.UUID(int=rng.getrandbits(128), version=4)
        published = now - (total - i) * 60_000  # one a minute, newest last
        name = f"Benchmark video {i + 1}: {WORDS[i % 400]} {WORDS[(i * 7 + 3) % 400]}"
        description = f"Seeded by scripts/bench for the API benchmark, row {i + 1}."
        tags = sorted({TAGS[i % 200], TAGS[(i * 13 + 5) % 200]})
        daily = [(today - d, rng.randint(1, 500)) for d in range(3)] if i % 5 == 0 else []
        rows.append((str(u), short_uuid(u), channel, name, description, 1, 1,
                     rng.randint(30, 3600), 1920, 1080, 30.0, 1, 1, rng.randint(1_000_000, 500_000_000),
                     published, published, published, rng.randint(0, 100_000), rng.randint(0, 5_000)))
        extras.append((str(u), name, description, tags, daily))
    with con:  # one transaction
        con.executemany(
            "INSERT INTO videos (uuid, short_uuid, channel_id, name, description, privacy, state, duration, width, "
            "height, fps, has_audio, has_video, input_size, created_at, updated_at, published_at, views, likes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        ids = dict(con.execute("SELECT uuid, id FROM videos WHERE channel_id = ?", (channel,)))
        con.executemany("INSERT INTO video_tags (video_id, tag) VALUES (?, ?)",
                        [(ids[u], t) for u, _, _, tags, _ in extras for t in tags])
        con.executemany("INSERT INTO videos_fts (rowid, name, description, tags) VALUES (?, ?, ?, ?)",
                        [(ids[u], n, d, " ".join(tags)) for u, n, d, tags, _ in extras])
        con.executemany("INSERT INTO video_views_daily (video_id, day, views) VALUES (?, ?, ?)",
                        [(ids[u], day, n) for u, _, _, _, daily in extras for day, n in daily])
    (first, last) = con.execute("SELECT MIN(id), MAX(id) FROM videos WHERE channel_id = ?", (channel,)).fetchone()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    print(json.dumps({"first_id": first, "last_id": last, "count": total, "added": len(rows)}))


if __name__ == "__main__":
    main()
