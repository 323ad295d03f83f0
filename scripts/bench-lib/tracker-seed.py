#!/usr/bin/env python3
"""Seeds COUNT published public videos, each with one P2P info hash, straight into a stopped
instance's SQLite database (after `flotilla migrate` and `flotilla admin create-user`), for the
tracker benchmark (6): Flotilla's tracker admits only the info hashes of `video_infohashes`.
Writes the info hashes to HASHES_OUT, one a line, and prints {"videos", "hashes", "channel"}.

  tracker-seed.py DB_FILE CHANNEL_NAME COUNT HASHES_OUT

Columns follow crates/db/migrations/*.sql (as seed.py). The info hashes have p2p-media-loader 2's
shape: base64 of 15 bytes of a SHA-1, 20 characters.
"""
import base64
import hashlib
import json
import os
import random
import sqlite3
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed import short_uuid  # noqa: E402  (seed.py beside this file)


def main():
    db, channel_name, count, hashes_out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    con = sqlite3.connect(db, timeout=30)
    con.execute("PRAGMA foreign_keys = ON")
    row = con.execute(
        "SELECT c.id FROM channels c JOIN actors a ON a.id = c.actor_id WHERE a.name = ? AND a.host = ''",
        (channel_name,)).fetchone()
    if not row:
        raise SystemExit(f"no local channel named {channel_name}")
    channel = row[0]
    rng = random.Random(6)
    now = int(time.time() * 1000)
    hashes = []
    with con:  # one transaction
        for i in range(count):
            u = uuid.UUID(int=rng.getrandbits(128), version=4)
            t = now - (count - i) * 60_000
            cur = con.execute(
                "INSERT INTO videos (uuid, short_uuid, channel_id, name, description, privacy, state, duration, "
                "width, height, fps, has_audio, has_video, input_size, created_at, updated_at, published_at) "
                "VALUES (?, ?, ?, ?, ?, 1, 1, ?, 1280, 720, 30.0, 1, 1, ?, ?, ?, ?)",
                (str(u), short_uuid(u), channel, f"Tracker benchmark video {i + 1}",
                 "Seeded by scripts/bench for the tracker benchmark.", rng.randint(30, 3600),
                 rng.randint(1_000_000, 500_000_000), t, t, t))
            ih = base64.b64encode(hashlib.sha1(f"v2-bench-{u}-main-720p".encode()).digest()[:15]).decode()
            con.execute("INSERT INTO video_infohashes (info_hash, video_id, position) VALUES (?, ?, 0)",
                        (ih, cur.lastrowid))
            hashes.append(ih)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    with open(hashes_out, "w") as f:
        f.write("".join(h + "\n" for h in hashes))
    print(json.dumps({"videos": count, "hashes": len(hashes), "channel": channel_name}))


if __name__ == "__main__":
    main()
