#!/usr/bin/env python3
"""Seeds the comments of benchmark 10 straight into a stopped instance's database: THREADS
threads of REPLIES + 1 comments each (a first comment and its replies) under one video, written
by the given local accounts in turn. The same rows for both databases:

  comments-seed.py sqlite DB_FILE VIDEO_ID THREADS REPLIES ACCOUNT_ID,...
      inserts them with Python's sqlite3, in one transaction; prints {"first_id", "last_id",
      "count"} as JSON
  comments-seed.py copy VIDEO_ID THREADS REPLIES ACCOUNT_ID,...
      prints them for PostgreSQL's `COPY video_comments (COLUMNS) FROM STDIN` (text format); the
      caller sets the id sequence after (`setval`) and runs ANALYZE

Columns follow crates/db/migrations/0019_comments.sql (times in milliseconds). The counts the server
keeps with the comments (0022_comment_counts.sql: `videos.comments_count`, `comment_threads`,
`video_comments.total_replies`) are set after from the rows, with RECOUNT (the same SQL for both
databases; `comments-seed.py recount-sql` prints it for the PostgreSQL caller, after its COPY). The ids are given
(the table must hold no comments yet), so that the replies can name their thread: thread t's first
comment is 10·t + 1 for 10 comments a thread, its replies the ids after it. A thread's first
comment has no `thread_id` and no `in_reply_to`; reply k answers the first comment when k is 1,
4, 7, … and the reply before it otherwise (a tree three levels deep at most, as people answer).
One thread a minute, the newest last; the replies over the hour after their thread. Texts of
40 to 400 characters. Nothing held, nothing deleted. No ANALYZE on SQLite: Flotilla never runs
it, so an instance's SQLite has no statistics either (PostgreSQL's autovacuum makes its own).
"""
import json
import random
import sqlite3
import sys
import time

COLUMNS = ("id", "video_id", "thread_id", "in_reply_to", "account_id", "url", "text", "held", "created_at",
           "updated_at", "deleted_at")
WORDS = ("the", "video", "great", "thanks", "sound", "at", "minute", "I", "think", "this", "part", "is", "really",
         "nice", "could", "you", "share", "settings", "agree", "with", "above", "not", "sure", "about", "that",
         "encoder", "bitrate", "peer", "tube", "federation", "works", "well", "here", "again", "later")


RECOUNT = """
UPDATE videos SET comments_count = (SELECT COUNT(*) FROM video_comments c WHERE c.video_id = videos.id
    AND c.deleted_at IS NULL AND c.held = FALSE),
  comment_threads = (SELECT COUNT(*) FROM video_comments c WHERE c.video_id = videos.id
    AND c.thread_id IS NULL AND c.held = FALSE);
UPDATE video_comments SET total_replies = (SELECT COUNT(*) FROM video_comments r
    WHERE r.thread_id = video_comments.id AND r.deleted_at IS NULL AND r.held = FALSE)
    WHERE thread_id IS NULL;
"""


def rows(video_id, threads, replies, accounts):
    """The comments, oldest thread first (a deterministic pseudo-random text per comment)."""
    rng = random.Random(10)
    per = replies + 1
    now = int(time.time() * 1000)
    for t in range(threads):
        first = per * t + 1
        at = now - (threads - t) * 60_000 - 3_600_000
        for k in range(per):
            cid = first + k
            thread_id = None if k == 0 else first
            reply_to = None if k == 0 else (first if k % 3 == 1 else cid - 1)
            author = accounts[(cid * 7919) % len(accounts)]
            n = rng.randint(6, 60)
            text = f"Benchmark comment {t + 1}.{k}: " + " ".join(rng.choice(WORDS) for _ in range(n))
            if k:
                at += rng.randint(20_000, 3_600_000 // per)
            yield (cid, video_id, thread_id, reply_to, author, None, text[:400], False, at, at, None)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "recount-sql":
        print(RECOUNT)
        return
    if mode == "sqlite" and len(sys.argv) == 7:
        db, video, threads, replies, accounts = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
    elif mode == "copy" and len(sys.argv) == 6:
        db, video, threads, replies, accounts = None, int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    else:
        raise SystemExit(__doc__)
    accounts = [int(a) for a in accounts.split(",") if a]
    if not accounts:
        raise SystemExit("no author accounts given")
    data = rows(video, threads, replies, accounts)
    if mode == "copy":
        out = sys.stdout
        for r in data:
            out.write("\t".join("\\N" if v is None else ("t" if v is True else "f" if v is False else str(v))
                                for v in r) + "\n")
        return
    con = sqlite3.connect(db, timeout=30)
    con.execute("PRAGMA foreign_keys = ON")
    (have,) = con.execute("SELECT COUNT(*) FROM video_comments").fetchone()
    if have:
        raise SystemExit(f"{db} already holds {have} comments")
    with con:  # one transaction
        con.executemany(f"INSERT INTO video_comments ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                        data)
        for statement in RECOUNT.split(";"):
            if statement.strip():
                con.execute(statement)
    (first, last, count) = con.execute("SELECT MIN(id), MAX(id), COUNT(*) FROM video_comments").fetchone()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    print(json.dumps({"first_id": first, "last_id": last, "count": count}))


if __name__ == "__main__":
    main()
