#!/usr/bin/env python3
"""Soak test (benchmark 9): clients, crashes and a full disk against one instance; prints one JSON
object on stdout. Python's standard library only. Run by scripts/bench-lib/soak.sh, which mounts
the tmpfs and prepares the database; see bench/README.md.

  soak.py --db sqlite|postgres --bin FLOTILLA --data DIR --log FILE --clip CLIP --pidfile FILE
          [--database-url URL] [--fill-dir DIR] [--no-fill-reason TEXT]

For --seconds (SOAK_SECONDS, 600): --clients (20) threads each register and log in, then loop:
a resumable upload of the clip in 3-6 chunks (about 1 in 5 cancelled halfway) at most every
--upload-every seconds, a watch (list, details, master and media playlists, one segment's byte
range) and plain API reads. Meanwhile the fault injector `kill -9`s the server every --kill-every
seconds (SOAK_KILL_EVERY, 90) and starts it again on the same port, data directory and database,
and once fills the disk holding the data directory (--fill-dir, a tmpfs) for --fill-seconds (20).
A client whose request fails because the server is down waits until it is back; an upload then
asks where to resume (`PUT` with `Content-Range: bytes */total`) and carries on.

Afterwards: the clients finish the upload in hand, the queue settles (GET /api/v1/jobs/active and
/waiting until both are empty, at most --settle seconds), RSS and file descriptors are read, the
server is stopped with SIGTERM, and the database and files are checked: every upload a client saw
finish (200 with a uuid) is one video, published or failed with a reason; videos no client saw
finish ("orphans") are listed with what their client saw; jobs still queued or running are stuck.

Only the server processes this script starts are signalled, by PID; each is recorded in --pidfile
("PID STARTTIME" lines, as scripts/bench-lib/common.sh does) while it runs, so the bench's clean-up
stops it if this script dies.
"""
import argparse
import http.client
import json
import math
import os
import posixpath
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse

ADMIN_PASSWORD = "bench-password"
USER_PASSWORD = "soak-password-1"
NAME_PREFIX = "soak-"


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- Processes ---------------------------------------------------------------------------------

def proc_start(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return None if fields[0] == "Z" else fields[19]


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


class Server:
    """`flotilla serve`, started and killed by this script only (by PID)."""

    def __init__(self, a, t0):
        self.a = a
        self.t0 = t0
        self.proc = None
        self.lock = threading.Lock()
        self.up = threading.Event()  # set while the server answers; cleared just before a kill
        self.lifetimes = []  # one dict per process
        self.killed_by_us = False
        self.last_down = 0.0  # time.time() of the last planned stop
        self.env = dict(os.environ)
        self.env.update({
            "FLOTILLA_DATA_DIR": a.data, "FLOTILLA_LISTEN": f"127.0.0.1:{a.port}",
            "FLOTILLA_PUBLIC_URL": f"http://127.0.0.1:{a.port}", "FLOTILLA_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "FLOTILLA_SIGNUP": "open", "FLOTILLA_LOG_LEVEL": "warn",
            "FLOTILLA_TRANSCODING_RESOLUTIONS": a.resolutions, "FLOTILLA_JOBS_LEASE_SECS": str(a.lease),
            # A small media cache is full within the warm-up: its filling (64 MiB by default) would
            # otherwise pass for growth in the RSS comparison; evictions are exercised as well.
            "FLOTILLA_HTTP_MEDIA_CACHE_BYTES": str(a.media_cache_bytes),
            # Twenty clients share 127.0.0.1: per-address rate limits would answer them 429.
            "FLOTILLA_RATE_LIMITS_ENABLED": "false",
        })
        if a.database_url:
            self.env["FLOTILLA_DATABASE_URL"] = a.database_url

    def t(self):
        return round(time.time() - self.t0, 1)

    def _track(self, pid):
        with open(self.a.pidfile, "a") as f:
            f.write(f"{pid} {proc_start(pid)}\n")

    def _untrack(self, pid):
        try:
            with open(self.a.pidfile) as f:
                lines = f.readlines()
            with open(self.a.pidfile, "w") as f:
                f.writelines(l for l in lines if l.split()[:1] != [str(pid)])
        except OSError:
            pass

    def start(self):
        n = len(self.lifetimes) + 1
        with open(self.a.log, "a") as f:
            f.write(f"==== soak: server start #{n} at t={self.t()} s\n")
        logf = open(self.a.log, "a")
        started = time.time()
        self.proc = subprocess.Popen([self.a.bin, "serve"], env=self.env, stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        self._track(self.proc.pid)
        self.killed_by_us = False
        life = {"n": n, "pid": self.proc.pid, "started_t": self.t(), "samples": []}
        self.lifetimes.append(life)
        deadline = started + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"flotilla exited with status {self.proc.returncode} at start (see {self.a.log})")
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.a.port, timeout=2)
                c.request("GET", "/api/v1/config")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    life["ready_seconds"] = round(time.time() - started, 2)
                    self.up.set()
                    return life
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"flotilla did not answer within 90 s (see {self.a.log})")

    def kill9(self):
        """kill -9 of our server process; returns the RSS and descriptors it had just before."""
        with self.lock:
            p = self.proc
            life = self.lifetimes[-1]
            life["before_end"] = {"t": self.t(), "rss_kib": rss_kib(p.pid), "fds": fd_count(p.pid)}
            self.up.clear()
            self.last_down = time.time()
            self.killed_by_us = True
            if proc_start(p.pid) is not None:
                os.kill(p.pid, signal.SIGKILL)
            p.wait()
            self._untrack(p.pid)
            life["ended_t"] = self.t()
            life["end"] = "kill -9"
        with open(self.a.log, "a") as f:
            f.write(f"==== soak: kill -9 of server #{life['n']} (pid {p.pid}) at t={life['ended_t']} s\n")

    def crashed(self):
        """The process ended without us: records it, returns True."""
        p = self.proc
        if p is None or self.killed_by_us or p.poll() is None:
            return False
        self.up.clear()
        self.last_down = time.time()
        life = self.lifetimes[-1]
        life["ended_t"] = self.t()
        life["end"] = f"exited by itself with status {p.returncode}"
        self._untrack(p.pid)
        return True

    def stop(self):
        """SIGTERM (graceful), SIGKILL after 30 s. Returns how it ended."""
        p = self.proc
        life = self.lifetimes[-1]
        self.up.clear()
        if p.poll() is not None:
            return f"already exited ({p.returncode})"
        t = time.time()
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
            how = f"SIGTERM: exited with status {p.returncode} in {time.time() - t:.1f} s"
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            how = "SIGTERM: still running after 30 s, SIGKILL"
        self._untrack(p.pid)
        life["ended_t"] = self.t()
        life["end"] = how
        return how


# --- Statistics --------------------------------------------------------------------------------

class Stats:
    def __init__(self, server):
        self.lock = threading.Lock()
        self.server = server
        self.phase = "run"  # run, fill (the disk is full), drain (after the soak time), check
        self.by_status = {}  # status -> n
        self.by_route = {}  # label -> {status: n}
        self.by_phase = {}  # phase -> {status: n}
        self.down = {}  # kind -> n  (connection errors)
        self.down_expected = 0  # while the server was down on purpose (or within 3 s of it)
        self.down_unexpected = 0
        self.down_examples = []
        self.anomalies = {}  # key -> {"count": n, "examples": [...]}

    def response(self, label, status):
        with self.lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1
            r = self.by_route.setdefault(label, {})
            r[status] = r.get(status, 0) + 1
            p = self.by_phase.setdefault(self.phase, {})
            p[status] = p.get(status, 0) + 1

    def failed(self, label, kind, err):
        s = self.server
        expected = (not s.up.is_set()) or (time.time() - s.last_down < 3)
        with self.lock:
            key = f"{kind} ({self.phase})"
            self.down[key] = self.down.get(key, 0) + 1
            if expected:
                self.down_expected += 1
            else:
                self.down_unexpected += 1
                if len(self.down_examples) < 12:
                    self.down_examples.append(f"t={s.t()} s {label}: {kind}: {err}")

    def anomaly(self, key, example):
        with self.lock:
            a = self.anomalies.setdefault(key, {"count": 0, "examples": []})
            a["count"] += 1
            if len(a["examples"]) < 5:
                a["examples"].append(f"t={self.server.t()} s: {example}"[:600])


class Down(Exception):
    pass


class Client:
    def __init__(self, a, i, stats, server, stop, uploads, ulock):
        self.a = a
        self.i = i
        self.stats = stats
        self.server = server
        self.stop = stop
        self.uploads = uploads
        self.ulock = ulock
        self.rng = random.Random(a.seed * 1000 + i)
        self.token = None
        self.channel = None
        self.username = f"soak{i:02d}"
        self.n_uploads = 0
        self.relogins = 0
        self.error = None

    # One request on a fresh connection. Raises Down when no HTTP answer came. A body given as a
    # (bytes, rate) pair is sent at `rate` bytes/s, like a slow uplink.
    def req(self, method, path, body=None, headers=None, label=None, timeout=30, auth=True):
        h = dict(headers or {})
        if auth and self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if isinstance(body, tuple):
            data, rate = body
            h["Content-Length"] = str(len(data))
            body = throttled(data, rate)
        label = label or f"{method} {path}"
        c = http.client.HTTPConnection("127.0.0.1", self.a.port, timeout=timeout)
        try:
            try:
                c.request(method, path, body=body, headers=h)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may have answered before reading the whole body: read its answer
            r = c.getresponse()
            data = r.read()
        except socket.timeout as e:
            self.stats.failed(label, "timeout", e)
            raise Down(label)
        except ConnectionRefusedError as e:
            self.stats.failed(label, "connection refused", e)
            raise Down(label)
        except (OSError, http.client.HTTPException) as e:
            self.stats.failed(label, "connection reset or closed", repr(e))
            raise Down(label)
        finally:
            c.close()
        self.stats.response(label, r.status)
        return r.status, r, data

    def wait_up(self):
        """After a failed connection: wait until the server is back (at most 120 s)."""
        if self.server.up.is_set():
            time.sleep(1)
        self.server.up.wait(120)

    # A request retried through restarts, 5xx and 429, until `limit` seconds have passed.
    def call(self, method, path, limit=180, ok=(200, 201, 204), **kw):
        end = time.time() + limit
        while True:
            try:
                st, r, data = self.req(method, path, **kw)
            except Down:
                if time.time() > end:
                    return None, None, b""
                self.wait_up()
                continue
            if st == 401 and kw.get("auth", True) and self.token:
                self.login()
                continue
            if st in ok or time.time() > end or not (st == 429 or st >= 500):
                return st, r, data
            time.sleep(float(r.getheader("Retry-After") or 1))

    def login(self):
        self.relogins += 1
        while True:
            st, _, data = self.call("GET", "/api/v1/oauth-clients/local", auth=False, label="GET /oauth-clients/local")
            if st != 200:
                raise RuntimeError(f"GET /oauth-clients/local: {st} {data[:200]!r}")
            cl = json.loads(data)
            form = urllib.parse.urlencode({"client_id": cl["client_id"], "client_secret": cl["client_secret"],
                                           "grant_type": "password", "username": self.username,
                                           "password": USER_PASSWORD})
            st, _, data = self.call("POST", "/api/v1/users/token", body=form, auth=False, label="POST /users/token",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
            if st == 200:
                self.token = json.loads(data)["access_token"]
                return
            raise RuntimeError(f"login of {self.username}: {st} {data[:200]!r}")

    def setup(self):
        body = json.dumps({"username": self.username, "password": USER_PASSWORD,
                           "email": f"{self.username}@example.org"})
        st, _, data = self.call("POST", "/api/v1/users/register", body=body, auth=False, label="POST /users/register",
                                headers={"Content-Type": "application/json"}, ok=(200, 204, 409))
        if st not in (204, 409):
            raise RuntimeError(f"register {self.username}: {st} {data[:200]!r}")
        self.login()
        self.relogins = 0
        st, _, data = self.call("GET", "/api/v1/users/me", label="GET /users/me")
        if st != 200:
            raise RuntimeError(f"GET /users/me: {st} {data[:200]!r}")
        self.channel = json.loads(data)["videoChannels"][0]["id"]

    def run(self):
        try:
            self.setup()
            next_upload = time.time() + self.rng.uniform(0, self.a.upload_every)
            while not self.stop.is_set():
                if time.time() >= next_upload:
                    next_upload = time.time() + self.a.upload_every * self.rng.uniform(0.7, 1.3)
                    self.upload()
                    continue
                try:
                    if self.rng.random() < 0.5:
                        self.watch()
                    else:
                        self.reads()
                except Down:
                    self.wait_up()
                except (ValueError, KeyError, TypeError, IndexError) as e:
                    self.stats.anomaly("an answer the client could not read", f"{type(e).__name__}: {e}")
                self.stop.wait(self.rng.uniform(0.5, 2.0))
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            self.error = f"{type(e).__name__}: {e}"
            log(f"client {self.i} stopped: {self.error}")

    # --- Watching and reading -------------------------------------------------------------------
    def get(self, path, label, headers=None):
        return self.req("GET", path, label=label, headers=headers, auth=False)

    def watch(self):
        st, _, data = self.get("/api/v1/videos?count=10&sort=-publishedAt", "GET /videos?count=10")
        if st != 200:
            return
        vids = json.loads(data).get("data") or []
        if not vids:
            return
        v = self.rng.choice(vids)
        st, _, data = self.get(f"/api/v1/videos/{v['uuid']}", "GET /videos/{uuid}")
        if st != 200:
            if st == 404:
                self.stats.anomaly("a listed video answered 404", v["uuid"])
            return
        d = json.loads(data)
        pls = d.get("streamingPlaylists") or []
        if d.get("state", {}).get("id") == 1 and not pls:
            self.stats.anomaly("a published video without a streaming playlist", v["uuid"])
            return
        if not pls:
            return
        master = urllib.parse.urlsplit(pls[0]["playlistUrl"]).path
        st, _, data = self.get(master, "GET master playlist")
        if st != 200:
            self.stats.anomaly(f"master playlist answered {st}", master)
            return
        media = [l.strip() for l in data.decode(errors="replace").splitlines() if l.strip() and not l.startswith("#")]
        if not media:
            self.stats.anomaly("master playlist without a media playlist", master)
            return
        mpath = posixpath.normpath(posixpath.join(posixpath.dirname(master), self.rng.choice(media)))
        st, _, data = self.get(mpath, "GET media playlist")
        if st != 200:
            self.stats.anomaly(f"media playlist answered {st}", mpath)
            return
        segs = []
        pos = 0
        pending = None
        for line in data.decode(errors="replace").splitlines():
            line = line.strip()
            if line.startswith("#EXT-X-BYTERANGE:"):
                spec = line.split(":", 1)[1]
                length, _, off = spec.partition("@")
                start = int(off) if off else pos
                pending = (start, int(length))
                pos = start + int(length)
            elif line and not line.startswith("#") and pending:
                segs.append((line, *pending))
                pending = None
        if not segs:
            self.stats.anomaly("media playlist without byte-range segments", mpath)
            return
        fname, start, length = self.rng.choice(segs)
        fpath = posixpath.normpath(posixpath.join(posixpath.dirname(mpath), fname))
        st, r, data = self.get(fpath, "GET segment (byte range)", headers={"Range": f"bytes={start}-{start + length - 1}"})
        if st != 206 or len(data) != length:
            self.stats.anomaly("segment range answered wrong", f"{fpath} bytes={start}-{start + length - 1}: {st}, "
                               f"{len(data)} bytes")

    def reads(self):
        for path, label in (("/api/v1/videos", "GET /videos"), ("/api/v1/config", "GET /config"),
                            ("/api/v1/video-channels", "GET /video-channels")):
            self.get(path, label)

    # --- The resumable upload ------------------------------------------------------------------
    def upload(self):
        self.n_uploads += 1
        clip = self.a.clip_bytes
        total = len(clip)
        rec = {"name": f"{NAME_PREFIX}c{self.i:02d}-u{self.n_uploads:04d}", "client": self.i, "user": self.username,
               "status": "started", "cancel": self.rng.random() < self.a.cancel_share, "interrupted": 0,
               "errors": 0, "resumed": 0, "t": self.server.t(), "notes": []}
        with self.ulock:
            self.uploads.append(rec)
        deadline = time.time() + self.a.upload_limit
        meta = json.dumps({"channelId": self.channel, "name": rec["name"], "privacy": 1})
        st, r, data = self.call("POST", "/api/v1/videos/upload-resumable", body=meta, label="POST upload-resumable (init)",
                                headers={"Content-Type": "application/json", "X-Upload-Content-Length": str(total),
                                         "X-Upload-Content-Type": "video/mp4"}, ok=(201,), limit=self.a.upload_limit)
        if st != 201:
            rec["status"] = "init refused" if st else "init: no answer"
            rec["notes"].append(f"init: {st} {data[:200]!r}")
            return
        loc = r.getheader("Location") or ""
        upload_id = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query).get("upload_id", [""])[0]
        if not upload_id:
            rec["status"] = "init without upload_id"
            rec["notes"].append(f"Location: {loc!r}")
            return
        url = f"/api/v1/videos/upload-resumable?upload_id={upload_id}"
        rec["upload_id"] = upload_id
        chunk = math.ceil(total / self.rng.randint(3, 6))
        cancel_at = total // 2 if rec["cancel"] else None
        offset = 0
        ask = False  # ask the server where to resume before sending more
        final_answer = None  # what the server answered to the last chunk: a status, or "none"
        while True:
            if time.time() > deadline:
                rec["status"] = "abandoned"
                rec["notes"].append(f"gave up after {self.a.upload_limit} s at byte {offset}")
                return
            if ask:
                try:
                    st, r, data = self.req("PUT", url, body=b"", label="PUT upload (where to resume?)",
                                           headers={"Content-Range": f"bytes */{total}"})
                except Down:
                    self.wait_up()
                    continue
                if st == 308:
                    offset = range_end(r.getheader("Range"))
                    rec["resumed"] += 1
                    ask = False
                    if offset >= total:
                        # Every byte is stored but no answer said the upload became a video: the
                        # protocol has no chunk left to send. Try the last chunk again for the record.
                        rec["status"] = "unfinalisable"
                        try:
                            st2, _, d2 = self.req("PUT", url, body=clip[total - chunk:], label="PUT upload (last chunk again)",
                                                  headers={"Content-Range": f"bytes {total - chunk}-{total - 1}/{total}",
                                                           "Content-Type": "application/octet-stream"}, timeout=60)
                            rec["notes"].append(f"all {total} bytes stored, no 200 received; the last chunk sent "
                                                f"again: {st2} {d2[:200]!r}")
                        except Down:
                            rec["notes"].append("all bytes stored, no 200 received; resending: no answer")
                        return
                    continue
                if st == 404:
                    if final_answer == "none":
                        rec["status"] = "answer lost"  # the last chunk went out, its answer never came
                    elif final_answer is not None:
                        rec["status"] = f"refused ({final_answer})"
                    else:
                        rec["status"] = "session lost"
                    rec["notes"].append(f"where to resume: 404 {data[:200]!r} (last chunk answered: {final_answer})")
                    return
                if st == 429 or st >= 500:
                    time.sleep(1)
                    continue
                rec["status"] = f"where to resume: {st}"
                rec["notes"].append(f"where to resume: {st} {data[:200]!r}")
                return
            if cancel_at is not None and offset >= cancel_at:
                try:
                    st, _, data = self.req("DELETE", url, label="DELETE upload (cancel)")
                except Down:
                    rec["interrupted"] += 1
                    self.wait_up()
                    continue
                if st == 204 or (st == 404 and rec["interrupted"]):
                    rec["status"] = "cancelled"
                    return
                if st == 429 or st >= 500:
                    rec["errors"] += 1
                    time.sleep(1)
                    continue
                rec["status"] = f"cancel answered {st}"
                rec["notes"].append(f"cancel: {st} {data[:200]!r}")
                return
            end = min(offset + chunk, total) - 1
            last = end == total - 1
            try:
                st, r, data = self.req("PUT", url, body=(clip[offset:end + 1], self.a.uplink), timeout=60,
                                       label="PUT upload (last chunk)" if last else "PUT upload (chunk)",
                                       headers={"Content-Range": f"bytes {offset}-{end}/{total}",
                                                "Content-Type": "application/octet-stream"})
            except Down:
                if last:
                    final_answer = "none"
                rec["interrupted"] += 1
                self.wait_up()
                ask = True
                continue
            if last:
                final_answer = st
            if st == 200:
                try:
                    v = json.loads(data)["video"]
                    rec.update(status="finished", uuid=v["uuid"], id=v["id"], finished_t=self.server.t())
                except (ValueError, KeyError, TypeError):
                    rec["status"] = "200 without a video"
                    rec["notes"].append(f"last chunk: 200 {data[:200]!r}")
                return
            if st == 308:
                new = range_end(r.getheader("Range"))
                if new != end + 1:
                    self.stats.anomaly("a chunk's 308 names another offset", f"{rec['name']}: sent {offset}-{end}, "
                                       f"Range {r.getheader('Range')}")
                offset = new
                continue
            if st == 429:
                rec["errors"] += 1
                time.sleep(float(r.getheader("Retry-After") or 1))
                ask = True
                continue
            if st == 409 or st >= 500:
                rec["errors"] += 1
                rec["notes"].append(f"{'last chunk' if last else 'chunk'} {offset}-{end}: {st} {data[:160]!r}")
                time.sleep(1)
                ask = True
                continue
            rec["status"] = f"refused ({st})"
            rec["notes"].append(f"{'last chunk' if last else 'chunk'} {offset}-{end}: {st} {data[:200]!r}")
            return


def throttled(data, rate):
    """Yields `data` in 16 KiB pieces at about `rate` bytes/s."""
    piece = 16 * 1024
    t = time.time()
    for i in range(0, len(data), piece):
        yield data[i:i + piece]
        t += min(piece, len(data) - i) / rate
        time.sleep(max(0.0, t - time.time()))


def range_end(h):
    """`Range: bytes=0-N` → N + 1 (the bytes stored); none → 0."""
    m = re.match(r"\s*bytes=0-(\d+)", h or "")
    return int(m.group(1)) + 1 if m else 0


# --- The database and the data directory ----------------------------------------------------------

def db_rows(a, sql):
    if a.db == "sqlite":
        con = sqlite3.connect(f"file:{os.path.join(a.data, 'flotilla.db')}?mode=ro", uri=True, timeout=30)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute(sql)]
        finally:
            con.close()
    q = f"SELECT coalesce(json_agg(t), '[]'::json) FROM ({sql}) t"
    out = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", a.database_url, "-c", q],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    return json.loads(out)


def api(a, method, path, token=None, body=None, headers=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=60)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def login_root(a):
    cl = json.loads(api(a, "GET", "/api/v1/oauth-clients/local")[1])
    form = urllib.parse.urlencode({"client_id": cl["client_id"], "client_secret": cl["client_secret"],
                                   "grant_type": "password", "username": "root", "password": ADMIN_PASSWORD})
    st, data = api(a, "POST", "/api/v1/users/token", body=form,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})
    if st != 200:
        raise RuntimeError(f"root login: {st} {data[:200]!r}")
    return json.loads(data)["access_token"]


def jobs_now(a, token):
    """Totals of the admin API's job lists that mean "not finished"."""
    out = {}
    for state in ("active", "waiting"):
        st, data = api(a, "GET", f"/api/v1/jobs/{state}?count=100", token)
        if st != 200:
            raise RuntimeError(f"GET /api/v1/jobs/{state}: {st} {data[:200]!r}")
        j = json.loads(data)
        out[state] = j.get("total", len(j.get("data", [])))
    return out


def fill_disk(a, stats, server, result):
    """Fills the file system of --fill-dir until ENOSPC, holds it --fill-seconds, frees it."""
    path = os.path.join(a.fill_dir, "soak-disk-filler")
    info = {"at_t": server.t(), "seconds": a.fill_seconds}
    try:
        st = os.statvfs(a.fill_dir)
        info["free_before_bytes"] = st.f_bavail * st.f_frsize
        stats.phase = "fill"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        written = 0
        try:
            try:
                os.posix_fallocate(fd, 0, max(st.f_bavail * st.f_frsize - 4096, 4096))
            except OSError:
                pass
            written = os.fstat(fd).st_size
            block = b"\0" * (1 << 20)
            while True:  # top up what fallocate left, to the last byte
                try:
                    n = os.pwrite(fd, block, written)
                    if n <= 0:
                        break
                    written += n
                except OSError:
                    if len(block) == 1:
                        break
                    block = block[: len(block) // 16] or b"\0"
        finally:
            os.close(fd)
        st = os.statvfs(a.fill_dir)
        info["filler_bytes"] = written
        info["free_while_full_bytes"] = st.f_bavail * st.f_frsize
        log(f"disk full: {written / 2**20:.0f} MiB filler, {st.f_bavail * st.f_frsize} bytes free, "
            f"for {a.fill_seconds} s")
        time.sleep(a.fill_seconds)
    except OSError as e:
        info["error"] = str(e)
    finally:
        try:
            os.remove(path)
        except OSError:
            pass
        if stats.phase == "fill":
            stats.phase = "run"
        info["freed_t"] = server.t()
        log("disk filler removed")
    result["disk_fill"] = info


def sampler(a, server, stop):
    """RSS and descriptors of the current server process every 2 s."""
    while not stop.wait(2):
        life = server.lifetimes[-1] if server.lifetimes else None
        p = server.proc
        if life is None or p is None or p.poll() is not None or not server.up.is_set():
            continue
        r, f = rss_kib(p.pid), fd_count(p.pid)
        if r is not None:
            life["samples"].append((server.t(), r, f))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, choices=("sqlite", "postgres"))
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--clip", required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--database-url", default="")
    ap.add_argument("--fill-dir", default="")
    ap.add_argument("--no-fill-reason", default="")
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--kill-every", type=float, default=90)
    ap.add_argument("--kill-at", default="", help="diagnostics: kill at these seconds (comma list) instead")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--upload-every", type=float, default=20)
    ap.add_argument("--cancel-share", type=float, default=0.2)
    ap.add_argument("--upload-limit", type=float, default=240)
    ap.add_argument("--uplink", type=float, default=128 * 1024, help="each client's upload rate, bytes/s")
    ap.add_argument("--fill-seconds", type=float, default=20)
    ap.add_argument("--settle", type=float, default=300)
    ap.add_argument("--warmup", type=float, default=30)
    ap.add_argument("--lease", type=int, default=5)
    ap.add_argument("--resolutions", default="240")
    ap.add_argument("--media-cache-bytes", type=int, default=4 * 1024 * 1024)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    with open(a.clip, "rb") as f:
        a.clip_bytes = f.read()

    t0 = time.time()
    server = Server(a, t0)
    stats = Stats(server)
    result = {"uplink_bytes_per_s": a.uplink, "db": a.db, "seconds": a.seconds, "kill_every": a.kill_every, "clients": a.clients,
              "upload_every": a.upload_every, "clip_bytes": len(a.clip_bytes), "lease_secs": a.lease,
              "resolutions": a.resolutions, "media_cache_bytes": a.media_cache_bytes}
    server.start()
    root = login_root(a)
    stop_sampler = threading.Event()
    threading.Thread(target=sampler, args=(a, server, stop_sampler), daemon=True).start()

    stop = threading.Event()
    uploads, ulock = [], threading.Lock()
    clients = [Client(a, i + 1, stats, server, stop, uploads, ulock) for i in range(a.clients)]
    threads = [threading.Thread(target=c.run, daemon=True) for c in clients]
    for t in threads:
        t.start()

    # The fault injector: kills at K, 2K, … before the end; the disk filled once, mid-run, between kills.
    kills = [k * a.kill_every for k in range(1, int(a.seconds // a.kill_every) + 1) if k * a.kill_every < a.seconds - 1]
    if a.kill_at:
        kills = sorted(float(x) for x in a.kill_at.split(","))
    fill_at = None
    if a.fill_dir:
        base = (a.seconds / 2) // a.kill_every * a.kill_every
        fill_at = base + max(0.0, (a.kill_every - a.fill_seconds) / 2)
        if fill_at + a.fill_seconds > a.seconds:
            fill_at = max(0.0, a.seconds - a.fill_seconds - 5)
    else:
        result["disk_fill"] = {"skipped": a.no_fill_reason or "no --fill-dir"}
    restarts, crashes = [], []
    fill_thread = None
    next_report = 30
    while True:
        now = time.time() - t0
        if now >= a.seconds:
            break
        if server.crashed():
            life = server.lifetimes[-1]
            crashes.append({"t": life["ended_t"], "how": life["end"], "lifetime": life["n"]})
            log(f"the server {life['end']} at t={life['ended_t']} s: starting it again")
            t_down = time.time()
            life2 = server.start()
            restarts.append({"t": server.t(), "kind": "after crash", "downtime_seconds": round(time.time() - t_down, 2),
                             "ready_seconds": life2["ready_seconds"]})
        if kills and now >= kills[0]:
            kills.pop(0)
            t_kill = time.time()
            server.kill9()
            life = server.start()
            restarts.append({"t": server.t(), "kind": "kill -9", "downtime_seconds": round(time.time() - t_kill, 2),
                             "ready_seconds": life["ready_seconds"]})
            log(f"t={server.t():.0f} s: kill -9 and restart #{life['n']} (answering after {life['ready_seconds']} s)")
        if fill_at is not None and now >= fill_at and fill_thread is None:
            fill_thread = threading.Thread(target=fill_disk, args=(a, stats, server, result), daemon=True)
            fill_thread.start()
        if now >= next_report:
            next_report += 30
            with ulock:
                fin = sum(1 for u in uploads if u["status"] == "finished")
                n = len(uploads)
            log(f"t={now:.0f} s: {sum(stats.by_status.values())} answers, {sum(stats.down.values())} failed "
                f"connections, uploads {fin} finished of {n} started, {len(restarts)} restarts")
        time.sleep(0.1)

    # The end of the soak time: no more faults; clients finish the upload in hand.
    if fill_thread:
        fill_thread.join(a.fill_seconds + 30)
    stats.phase = "drain"
    stop.set()
    t_drain = time.time()
    for t in threads:
        t.join(max(1, a.upload_limit + 60 - (time.time() - t_drain)))
        if server.crashed():
            crashes.append({"t": server.t(), "how": server.lifetimes[-1]["end"], "lifetime": server.lifetimes[-1]["n"]})
            server.start()
    result["drain_seconds"] = round(time.time() - t_drain, 1)
    result["clients_still_running"] = sum(1 for t in threads if t.is_alive())
    result["client_errors"] = [f"client {c.i}: {c.error}" for c in clients if c.error]
    result["relogins"] = sum(c.relogins for c in clients)
    stats.phase = "check"

    # Settle: until no job is active or waiting (delayed ones included), at most --settle seconds.
    load_end_t = server.t()
    t_settle = time.time()
    quiet = 0
    history = []
    while True:
        if server.crashed():
            crashes.append({"t": server.t(), "how": server.lifetimes[-1]["end"], "lifetime": server.lifetimes[-1]["n"]})
            server.start()
        try:
            j = jobs_now(a, root)
        except (OSError, http.client.HTTPException, RuntimeError) as e:
            j = {"error": str(e)}
        history.append((round(time.time() - t_settle, 1), j))
        if j.get("active") == 0 and j.get("waiting") == 0:
            quiet += 1
            if quiet >= 2:
                break
        else:
            quiet = 0
        if time.time() - t_settle > a.settle:
            break
        time.sleep(2)
    settled = quiet >= 2
    result["settle"] = {"seconds": round(time.time() - t_settle, 1), "settled": settled, "limit": a.settle,
                        "last": history[-1][1], "first": history[0][1]}
    log(f"settle: {'done' if settled else 'NOT settled'} after {result['settle']['seconds']} s: {history[-1][1]}")
    time.sleep(2)
    p = server.proc
    end = {"t": server.t(), "rss_kib": rss_kib(p.pid), "fds": fd_count(p.pid)}
    stop_sampler.set()

    # RSS and descriptors of each process: after warm-up, before its end (kill or end of load), peak.
    lifetimes = []
    for life in server.lifetimes:
        s = life["samples"]
        load_until = min(life.get("ended_t") or load_end_t, load_end_t)
        warm_at = life["started_t"] + min(a.warmup, max(0.0, load_until - life["started_t"]) / 2)
        warm = next((x for x in s if x[0] >= warm_at), None)
        under_load = [x for x in s if x[0] <= load_end_t]
        out = {"n": life["n"], "pid": life["pid"], "started_t": life["started_t"], "ended_t": life.get("ended_t"),
               "end": life.get("end", "running"), "ready_seconds": life.get("ready_seconds"),
               "warm": {"t": warm[0], "rss_kib": warm[1], "fds": warm[2]} if warm else None,
               "last_under_load": ({"t": under_load[-1][0], "rss_kib": under_load[-1][1], "fds": under_load[-1][2]}
                                   if under_load else None),
               "before_end": life.get("before_end"),
               "peak_rss_kib": max((x[1] for x in s), default=None), "peak_fds": max((x[2] or 0 for x in s), default=None),
               # (t, RSS KiB, fds) about every 20 s, to see whether memory levels off
               "timeline": [list(x) for x in s[::10]] + ([list(s[-1])] if s and (len(s) - 1) % 10 else [])}
        lifetimes.append(out)
    result["lifetimes"] = lifetimes
    result["end"] = end
    result["restarts"] = restarts
    result["crashes"] = crashes

    # What the owners see through the API: each finished upload's video, by its uuid.
    tokens = {c.username: c.token for c in clients}
    api_seen = {}
    for u in uploads:
        if u["status"] == "finished":
            try:
                st, data = api(a, "GET", f"/api/v1/videos/{u['uuid']}", tokens.get(u["user"]))
                api_seen[u["uuid"]] = (st, json.loads(data).get("state", {}).get("id") if st == 200 else None)
            except (OSError, http.client.HTTPException, ValueError) as e:
                api_seen[u["uuid"]] = (None, str(e))
    mine_total = 0
    for c in clients:
        if c.token:
            try:
                st, data = api(a, "GET", "/api/v1/users/me/videos?count=1", c.token)
                if st == 200:
                    mine_total += json.loads(data).get("total", 0)
            except (OSError, http.client.HTTPException, ValueError):
                pass
    result["api_my_videos_total"] = mine_total
    result["server_stop"] = server.stop()

    # The database and the files.
    videos = db_rows(a, f"SELECT id, uuid, name, state, error, input_path FROM videos WHERE name LIKE '{NAME_PREFIX}%'")
    jobs = db_rows(a, "SELECT id, kind, state, attempts, max_attempts, run_at, last_error, payload FROM jobs")
    sessions = db_rows(a, "SELECT id, user_id, total_size, path, meta FROM upload_sessions")
    by_name = {}
    for v in videos:
        by_name.setdefault(v["name"], []).append(v)
    finished = [u for u in uploads if u["status"] == "finished"]
    names_finished = {u["name"] for u in finished}
    check = {"finished": len(finished), "found_once": 0, "published": 0, "failed_with_reason": 0,
             "failed_without_reason": 0, "not_published": 0, "lost": 0, "doubled": 0, "wrong_uuid": 0,
             "api_not_200": 0, "examples": []}
    for u in finished:
        vs = by_name.get(u["name"], [])
        if not vs:
            check["lost"] += 1
            check["examples"].append(f"lost: {u['name']} (uuid {u['uuid']}, finished at t={u.get('finished_t')} s)")
            continue
        if len(vs) > 1:
            check["doubled"] += 1
            check["examples"].append(f"doubled: {u['name']}: {len(vs)} videos {[v['uuid'] for v in vs]}")
        if not any(v["uuid"] == u["uuid"] for v in vs):
            check["wrong_uuid"] += 1
            check["examples"].append(f"no video with the uuid the client got: {u['name']} {u['uuid']}")
            continue
        if len(vs) == 1:
            check["found_once"] += 1
        v = next(v for v in vs if v["uuid"] == u["uuid"])
        if v["state"] == 1:
            check["published"] += 1
        elif v["state"] == 7:
            if v.get("error"):
                check["failed_with_reason"] += 1
            else:
                check["failed_without_reason"] += 1
            check["examples"].append(f"failed: {u['name']} {u['uuid']}: {v.get('error')!r}")
        else:
            check["not_published"] += 1
            check["examples"].append(f"not published: {u['name']} {u['uuid']} state {v['state']}")
        st = api_seen.get(u["uuid"], (None, None))
        if st[0] != 200:
            check["api_not_200"] += 1
            check["examples"].append(f"GET /api/v1/videos/{u['uuid']} as its owner: {st}")
    status_of = {u["name"]: u["status"] for u in uploads}
    orphans = [v for v in videos if v["name"] not in names_finished]
    check["orphans"] = len(orphans)
    classes = {}
    for v in orphans:
        k = status_of.get(v["name"], "no upload of that name")
        classes[k] = classes.get(k, 0) + 1
        if len(check["examples"]) < 40:
            check["examples"].append(f"orphan: {v['name']} {v['uuid']} state {v['state']} (its client saw: {k}; "
                                     f"error {v.get('error')!r})")
    check["orphans_by_client_outcome"] = classes
    check["videos_in_db"] = len(videos)
    result["check"] = check

    counts = {}
    for u in uploads:
        counts[u["status"]] = counts.get(u["status"], 0) + 1
    result["uploads"] = {
        "started": len(uploads), "by_outcome": counts, "finished": len(finished),
        "cancel_planned": sum(1 for u in uploads if u["cancel"]),
        "interrupted": sum(1 for u in uploads if u["interrupted"]),
        "interrupted_finished": sum(1 for u in finished if u["interrupted"]),
        "interrupted_cancelled": sum(1 for u in uploads if u["interrupted"] and u["status"] == "cancelled"),
        "with_errors": sum(1 for u in uploads if u["errors"]),
        "with_errors_finished": sum(1 for u in finished if u["errors"]),
        "resumed": sum(1 for u in uploads if u["resumed"]),
        "examples": [f"{u['name']} ({u['status']}, interrupted {u['interrupted']}×, {u['errors']} errors, resumed "
                     f"{u['resumed']}×): "
                     + "; ".join(u["notes"])[:500] for u in uploads if u["status"] not in ("finished", "cancelled")][:25],
    }

    now_ms = int(time.time() * 1000)
    by_state = {}
    for j in jobs:
        k = f"{j['kind']}/{j['state']}"
        by_state[k] = by_state.get(k, 0) + 1
    stuck = [j for j in jobs if j["state"] in ("running", "queued")]
    result["jobs"] = {
        "total": len(jobs), "by_kind_state": by_state, "stuck": len(stuck),
        "stuck_running": sum(1 for j in stuck if j["state"] == "running"),
        "stuck_queued_due": sum(1 for j in stuck if j["state"] == "queued" and j["run_at"] <= now_ms),
        "stuck_queued_later": sum(1 for j in stuck if j["state"] == "queued" and j["run_at"] > now_ms),
        "stuck_examples": [f"job {j['id']} {j['kind']} {j['state']} attempts {j['attempts']}/{j['max_attempts']} "
                           f"{j['payload']} last error {j['last_error']!r}" for j in stuck[:10]],
        "failed": sum(1 for j in jobs if j["state"] == "failed"),
        "failed_examples": [f"job {j['id']} {j['kind']} attempts {j['attempts']} {j['payload']}: {j['last_error']!r}"
                            for j in jobs if j["state"] == "failed"][:10],
        "retried": sum(1 for j in jobs if j["attempts"] > 1),
    }
    stuck_videos = [v for v in videos if v["state"] == 2]
    result["videos_to_transcode_at_end"] = len(stuck_videos)

    def count_files(sub, suffix=""):
        d = os.path.join(a.data, sub)
        try:
            return sum(1 for f in os.listdir(d) if f.endswith(suffix))
        except OSError:
            return 0
    hls = os.path.join(a.data, "streaming-playlists", "hls")
    all_uuids = {r["uuid"] for r in db_rows(a, "SELECT uuid FROM videos")}
    try:
        hls_dirs = os.listdir(hls)
    except OSError:
        hls_dirs = []
    session_paths = {s["path"] for s in sessions}
    inputs = {v["input_path"] for v in videos if v.get("input_path")}
    quarantine = [os.path.join(a.data, "tmp", "uploads", f) for f in os.listdir(os.path.join(a.data, "tmp", "uploads"))] \
        if os.path.isdir(os.path.join(a.data, "tmp", "uploads")) else []
    result["leftovers"] = {
        "upload_sessions": len(sessions),
        "upload_sessions_complete": sum(1 for s in sessions if os.path.exists(s["path"])
                                        and os.path.getsize(s["path"]) >= s["total_size"]),
        "quarantine_files": len(quarantine),
        "quarantine_files_unreferenced": sum(1 for q in quarantine if q not in session_paths and q not in inputs),
        "transcode_staging_dirs": count_files(os.path.join("tmp", "transcode")),
        "hls_dirs_without_video": sum(1 for d in hls_dirs if d not in all_uuids),
        "data_dir_bytes": sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(a.data) for f in fs
                              if os.path.isfile(os.path.join(dp, f))),
    }

    # Requests.
    served = sum(n for s, n in stats.by_status.items() if s < 400)
    result["requests"] = {
        "answers": sum(stats.by_status.values()), "served": served,
        "by_status": {str(k): v for k, v in sorted(stats.by_status.items())},
        "errors_by_status": {str(k): v for k, v in sorted(stats.by_status.items()) if k >= 400},
        "errors_by_route": {lbl: {str(k): v for k, v in sorted(st.items()) if k >= 400}
                            for lbl, st in sorted(stats.by_route.items()) if any(k >= 400 for k in st)},
        "by_phase": {ph: {str(k): v for k, v in sorted(st.items())} for ph, st in stats.by_phase.items()},
        "by_route": {lbl: sum(st.values()) for lbl, st in sorted(stats.by_route.items())},
        "failed_connections": sum(stats.down.values()), "failed_connections_by_kind": stats.down,
        "failed_while_restarting": stats.down_expected, "failed_while_up": stats.down_unexpected,
        "failed_while_up_examples": stats.down_examples,
    }
    result["anomalies"] = stats.anomalies

    # The server's log: errors, warnings, panics.
    lines = open(a.log, errors="replace").read().splitlines()
    def norm(l):
        l = re.sub(r"^\S+\s+", "", l)  # the timestamp
        l = re.sub(r"\b[0-9a-f]{8}-[0-9a-f-]{27}\b", "<uuid>", l)
        l = re.sub(r"\b\d+\b", "N", l)
        return l[:300]
    kinds = {}
    for l in lines:
        if l.startswith("==== soak"):
            continue
        lvl = "panic" if "panicked" in l else ("ERROR" if " ERROR " in l else ("WARN" if " WARN " in l else None))
        if lvl:
            k = f"{lvl} {norm(l)}"
            kinds[k] = kinds.get(k, 0) + 1
    result["log"] = {
        "errors": sum(n for k, n in kinds.items() if k.startswith("ERROR")),
        "warnings": sum(n for k, n in kinds.items() if k.startswith("WARN")),
        "panics": sum(n for k, n in kinds.items() if k.startswith("panic")),
        "top": [f"{n}× {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])[:15]],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - the bench records why the soak could not finish
        import traceback
        traceback.print_exc()
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)
