#!/usr/bin/env python3
"""Seeds published public videos straight into a stopped instance's SQLite database, in one
transaction, until the channel `root_channel` has TOTAL videos. Prints {"first_id", "last_id",
"count"} of the seeded ids as JSON.

  seed.py DB_FILE TOTAL

Columns follow crates/db/migrations/*.sql (times in milliseconds; state 1 = published, privacy 1 =
public). The rows look like real uploads: a unique uuid and short uuid, a name, a description,
a duration, a size, distinct publication times.
"""
import json
import random
import sqlite3
import sys
import time
import uuid

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
    rows = []
    for i in range(have, total):
        u = uuid.UUID(int=rng.getrandbits(128), version=4)
        published = now - (total - i) * 60_000  # one a minute, newest last
        rows.append((str(u), short_uuid(u), channel, f"Benchmark video {i + 1}",
                     f"Seeded by scripts/bench for the API benchmark, row {i + 1}.", 1, 1,
                     rng.randint(30, 3600), 1920, 1080, 30.0, 1, 1, rng.randint(1_000_000, 500_000_000),
                     published, published, published))
    with con:  # one transaction
        con.executemany(
            "INSERT INTO videos (uuid, short_uuid, channel_id, name, description, privacy, state, duration, width, "
            "height, fps, has_audio, has_video, input_size, created_at, updated_at, published_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    (first, last) = con.execute("SELECT MIN(id), MAX(id) FROM videos WHERE channel_id = ?", (channel,)).fetchone()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    print(json.dumps({"first_id": first, "last_id": last, "count": total, "added": len(rows)}))


if __name__ == "__main__":
    main()
