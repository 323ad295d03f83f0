#!/usr/bin/env python3
"""Federation benchmarks against a stand-in fediverse on 127.0.0.1. Prints one JSON object.

  fanout.py fanout BASE_URL ROOT_TOKEN CLIP ROUNDS CACHE_DIR WORK_DIR
      200 Mastodon-shaped `Person` actors on 20 hosts (20 ports of 127.0.0.1, 10 actors each, every
      actor with its own RSA-2048 key and inbox, no sharedInbox) follow the channel of a new user
      `bench`; then, ROUNDS times: a 2 s clip is uploaded as private, transcoded, and made public
      (`PUT /api/v1/videos/:id {"privacy":1}`), its first appearance, which sends `Create` to the 200
      inboxes. Reports the time from the PUT's answer until all 200 `Create`s arrived.

  fanout.py comments BASE_URL ROOT_TOKEN CLIP ROUNDS CACHE_DIR WORK_DIR
      The same 200 followers of `bench`'s channel; a 2 s clip is uploaded as public (its Creates
      and Announces arrive first), then a user `commenter` of the instance comments on it through
      the API, ROUNDS times (a new thread, then replies to the previous comment). Reports the time
      from the POST's answer until all 200 `Create`s of that `Note` arrived.

  fanout.py inbox BASE_URL N CACHE_DIR WORK_DIR
      One PeerTube-shaped remote server (a `Person` account and its `Group` channel) POSTs N signed
      `Create`s, each of a new PeerTube-shaped `Video`, to Flotilla's `/inbox`, one at a time, then N
      more from 4 concurrent senders. Reports the latency of the POSTs (p50/p95/p99).

  fanout.py blocked BASE_URL ROOT_TOKEN N CACHE_DIR
      The instance blocks a PeerTube-shaped stand-in server (`POST /api/v1/server/blocklist/servers`);
      the stand-in then POSTs N signed `Create(Video)`s (signed beforehand) to `/inbox`, one at a
      time, alternating with N malformed requests (the same body, no `Signature` header), the
      reference.
      Reports both latencies (p50/p95/p99), the statuses (403 and 401 expected), how often the
      stand-in was fetched (0 expected) and the remote videos listed before and after (equal).

The stand-in's inboxes verify each delivery as Mastodon does: draft-cavage HTTP signature
(`rsa-sha256` over `(request-target) host date digest`), `Digest: SHA-256=` against the body, the
date within the window, the signer's key fetched from the `keyId` (Flotilla's actor) and cached,
and the activity's `actor` being the key's owner. A delivery that fails any check is answered 401,
counted, and reported (there must be none). Only 127.0.0.1 is used; every loop is bounded in time.

The actors' keys are cached in CACHE_DIR (generating 200 RSA-2048 keys takes a while); WORK_DIR
holds a thumbnail generated for the PeerTube-shaped videos. Needs the `cryptography` package.
"""
import base64
import email.utils
import hashlib
import http.client
import http.server
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid as uuidlib

sys.dont_write_bytecode = True  # no __pycache__ in scripts/bench-lib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpu  # noqa: E402

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

HOSTS = 20
ACTORS_PER_HOST = 10
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
AP = "application/activity+json"
MAX_SKEW, MAX_AGE = 3600, 12 * 3600  # Mastodon's window for the signature's date
KEYS = HOSTS * ACTORS_PER_HOST + 2  # the followers, then the inbox benchmark's account and channel
STEADY_SKIP = 5  # requests left out at the start of each inbox phase (the first fetches actors)


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- Keys and signatures ----------------------------------------------------------------------------

def load_keys(cache_dir, count):
    """`count` RSA-2048 private keys, generated once and kept in CACHE_DIR (test keys only)."""
    path = os.path.join(cache_dir, "federation-keys.pem")
    keys = []
    if os.path.exists(path):
        blocks = re.findall(r"-----BEGIN PRIVATE KEY-----.*?-----END PRIVATE KEY-----", open(path).read(), re.S)
        keys = [serialization.load_pem_private_key(b.encode(), None) for b in blocks]
    if len(keys) < count:
        log(f"generating {count - len(keys)} RSA-2048 keys for the stand-in actors (cached in {cache_dir})")
        keys += [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(count - len(keys))]
        os.makedirs(cache_dir, exist_ok=True)
        with open(path + ".part", "w") as f:
            for k in keys:
                f.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode())
        os.replace(path + ".part", path)
    return keys[:count]


def public_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def digest(body):
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def signed_headers(key, key_id, path, host, body):
    """The headers of a signed POST, as Mastodon sends them."""
    date = email.utils.formatdate(usegmt=True)
    d = digest(body)
    signing = f"(request-target): post {path}\nhost: {host}\ndate: {date}\ndigest: {d}"
    sig = base64.b64encode(key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()
    return {
        "Host": host, "Date": date, "Digest": d, "Content-Type": AP, "Accept": AP,
        "Signature": f'keyId="{key_id}",algorithm="rsa-sha256",headers="(request-target) host date digest",'
                     f'signature="{sig}"',
    }


class BadSignature(Exception):
    pass


# --- The stand-in server ----------------------------------------------------------------------------

class Standin:
    """Serves actor documents and verifying inboxes on several ports of 127.0.0.1."""

    def __init__(self, ports):
        self.docs = {}  # (port, path) -> (content type, bytes)
        self.inboxes = {}  # (port, path) -> the actor URL owning the inbox
        self.arrivals = []  # {"inbox", "type", "object", "t"}
        self.failures = []  # {"inbox", "reason", ...}
        self.gets = {}  # path -> count
        self.keys = {}  # keyId -> (owner, public key) of the senders (Flotilla's actors)
        self.key_fetches = 0
        self.cond = threading.Condition()
        self.servers = []
        handler = self.handler()
        for _ in range(ports):
            s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            s.daemon_threads = True
            self.servers.append(s)
        self.ports = [s.server_address[1] for s in self.servers]
        self.threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
                        for s in self.servers]
        for t in self.threads:
            t.start()

    def close(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()

    def serve(self, port, path, doc, ctype=AP):
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        self.docs[(port, path)] = (ctype, body)

    def add_inbox(self, port, path, owner):
        self.inboxes[(port, path)] = owner

    def handler(self):
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Flotilla's client pools connections
            timeout = 30  # an idle kept-alive connection ends its thread

            def log_message(self, *args):
                pass

            def answer(self, status, ctype=None, body=b""):
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                port = self.server.server_address[1]
                path = urllib.parse.urlsplit(self.path).path
                with standin.cond:
                    standin.gets[path] = standin.gets.get(path, 0) + 1
                found = standin.docs.get((port, path))
                if found:
                    self.answer(200, found[0], found[1])
                else:
                    self.answer(404, "text/plain", b"no such document")

            def do_POST(self):
                port = self.server.server_address[1]
                length = int(self.headers.get("Content-Length") or 0)
                if length > 1024 * 1024:
                    self.close_connection = True
                    return self.answer(413)
                body = self.rfile.read(length)
                t = time.monotonic()
                inbox = f"http://127.0.0.1:{port}{self.path}"
                if (port, self.path) not in standin.inboxes:
                    return self.answer(404, "text/plain", b"no such inbox")
                try:
                    activity = standin.verify(self, port, body)
                except BadSignature as e:
                    with standin.cond:
                        standin.failures.append({"inbox": inbox, "reason": str(e),
                                                 "signature": self.headers.get("Signature", "")[:200]})
                        standin.cond.notify_all()
                    return self.answer(401, "text/plain", str(e).encode())
                obj = activity.get("object")
                obj_id = obj.get("id") if isinstance(obj, dict) else obj
                obj_type = obj.get("type") if isinstance(obj, dict) else None
                with standin.cond:
                    standin.arrivals.append({"inbox": inbox, "type": activity.get("type"), "object": obj_id,
                                             "object_type": obj_type, "actor": activity.get("actor"), "t": t})
                    standin.cond.notify_all()
                self.answer(202)

        return Handler

    def sender_key(self, key_id):
        """The public key (and its owner) a Flotilla keyId names: fetched once, then cached."""
        with self.cond:
            if key_id in self.keys:
                return self.keys[key_id]
        actor_url = key_id.split("#", 1)[0]
        u = urllib.parse.urlsplit(actor_url)
        if u.scheme != "http" or u.hostname != "127.0.0.1":
            raise BadSignature(f"keyId {key_id} is not on 127.0.0.1")
        try:
            req = urllib.request.Request(actor_url, headers={"Accept": AP})
            with urllib.request.urlopen(req, timeout=10) as r:
                doc = json.load(r)
        except Exception as e:  # noqa: BLE001 — any failure to get the key fails the check
            raise BadSignature(f"cannot fetch the signer's key {key_id}: {e}")
        pk = doc.get("publicKey") or {}
        if doc.get("id") != actor_url or pk.get("id") != key_id or pk.get("owner") != actor_url:
            raise BadSignature(f"the document at {actor_url} does not own the key {key_id}")
        key = serialization.load_pem_public_key(pk["publicKeyPem"].encode())
        with self.cond:
            self.keys[key_id] = (actor_url, key)
            self.key_fetches += 1
        return actor_url, key

    def verify(self, req, port, body):
        """Checks a delivery as Mastodon does; returns the activity."""
        h = req.headers
        sig = h.get("Signature")
        if not sig:
            raise BadSignature("no Signature header")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', sig))
        if fields.get("algorithm", "rsa-sha256").lower() not in ("rsa-sha256", "hs2019"):
            raise BadSignature(f"algorithm {fields.get('algorithm')}")
        names = fields.get("headers", "date").lower().split()
        for need in ("(request-target)", "host", "date", "digest"):
            if need not in names:
                raise BadSignature(f"{need} is not signed")
        if h.get("Host") != f"127.0.0.1:{port}":
            raise BadSignature(f"Host header {h.get('Host')!r}, expected 127.0.0.1:{port}")
        if h.get("Digest") != digest(body):
            raise BadSignature(f"Digest {h.get('Digest')!r} does not match the body")
        try:
            when = email.utils.parsedate_to_datetime(h.get("Date")).timestamp()
        except (TypeError, ValueError):
            raise BadSignature(f"Date {h.get('Date')!r} is not an HTTP date")
        if not (time.time() - MAX_AGE <= when <= time.time() + MAX_SKEW):
            raise BadSignature(f"Date {h.get('Date')} outside the window")
        lines = []
        for name in names:
            if name == "(request-target)":
                lines.append(f"(request-target): {req.command.lower()} {req.path}")
            elif h.get(name) is None:
                raise BadSignature(f"signed header {name} is missing")
            else:
                lines.append(f"{name}: {h.get(name)}")
        try:
            raw = base64.b64decode(fields.get("signature", ""), validate=True)
        except ValueError:
            raise BadSignature("the signature is not base64")
        owner, key = self.sender_key(fields.get("keyId", ""))
        try:
            key.verify(raw, "\n".join(lines).encode(), padding.PKCS1v15(), hashes.SHA256())
        except Exception:  # noqa: BLE001 — cryptography's InvalidSignature, or a key of another kind
            raise BadSignature(f"the signature does not verify with {fields.get('keyId')}")
        try:
            activity = json.loads(body)
        except ValueError:
            raise BadSignature("the body is not JSON")
        actor = activity.get("actor")
        actor = actor.get("id") if isinstance(actor, dict) else actor
        if actor != owner:
            raise BadSignature(f"the activity's actor {actor} is not the signer {owner}")
        return activity

    def wait_for(self, pred, limit):
        """Waits until pred() (called under the lock) is true, at most `limit` seconds."""
        end = time.monotonic() + limit
        with self.cond:
            while not pred():
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.5))
            return True


def mastodon_person(base, name, key):
    url = f"{base}/users/{name}"
    return {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1",
                     {"manuallyApprovesFollowers": "as:manuallyApprovesFollowers", "toot": "http://joinmastodon.org/ns#",
                      "discoverable": "toot:discoverable", "featured": {"@id": "toot:featured", "@type": "@id"}}],
        "id": url, "type": "Person",
        "following": f"{url}/following", "followers": f"{url}/followers",
        "inbox": f"{url}/inbox", "outbox": f"{url}/outbox", "featured": f"{url}/collections/featured",
        "preferredUsername": name, "name": f"Follower {name}", "summary": "<p>Benchmark follower</p>",
        "url": f"{base}/@{name}", "manuallyApprovesFollowers": False, "discoverable": True,
        "published": "2024-01-01T00:00:00Z",
        "publicKey": {"id": f"{url}#main-key", "owner": url, "publicKeyPem": public_pem(key)},
        # No endpoints.sharedInbox: each follower is its own delivery.
    }


# --- Talking to Flotilla ----------------------------------------------------------------------------

class Client:
    """One kept-alive HTTP connection to Flotilla."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host = u.netloc
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)

    def request(self, method, path, body=None, headers=None):
        for attempt in (1, 2):  # a kept-alive connection the server closed is opened again, once
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                if attempt == 2:
                    raise

    def api(self, method, path, token=None, data=None, form=None):
        headers = {}
        body = None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if data is not None:
            body = json.dumps(data).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        status, raw = self.request(method, path, body, headers)
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")


def check(status, body, what, ok=(200, 204)):
    if status not in ok:
        raise SystemExit(f"{what}: HTTP {status}: {json.dumps(body)[:800] if not isinstance(body, str) else body[:800]}")
    return body


def login(c, user, password):
    client = check(*c.api("GET", "/api/v1/oauth-clients/local"), "GET /api/v1/oauth-clients/local")
    tok = check(*c.api("POST", "/api/v1/users/token", form={
        "client_id": client["client_id"], "client_secret": client["client_secret"], "grant_type": "password",
        "username": user, "password": password}), f"login as {user}")
    return tok["access_token"]


def other_cpu(mark):
    """cpu.py's `other`: the share of the machine others used since `mark`."""
    b = cpu.mark()
    hz = os.sysconf("SC_CLK_TCK")
    capacity = (b["t"] - mark["t"]) * hz * (os.cpu_count() or 1)
    other = (b["busy"] - mark["busy"]) - (b["ours"] - mark["ours"])
    return round(max(0.0, 100.0 * other / capacity), 1) if capacity > 0 else 0.0


def wait_quiet():
    """common.sh's wait_quiet: at most $BENCH_QUIET_WAIT s until others use under 10 % of the CPU."""
    limit = int(os.environ.get("BENCH_QUIET_WAIT", "60"))
    o = 0.0
    for _ in range(limit):
        m = cpu.mark()
        time.sleep(1)
        o = other_cpu(m)
        if o < 10:
            return
    log(f"the machine stayed busy (other programs use {o}% of the CPU): measuring anyway")


def pct(values, p):
    """Nearest-rank percentile."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))]


def r3(x):
    return None if x is None else round(x, 3)


# --- Fan-out ----------------------------------------------------------------------------------------

class Followed:
    """The fan-out set-up shared by benchmarks 5a and 11: the stand-in's 200 actors on 20 hosts, a
    user `bench` created by root, and the actors following its channel (all Accepts received).
    `close()` stops the stand-in."""

    def __init__(self, base, root_token, cache_dir, deadline):
        self.base = base
        self.c = c = Client(base)
        fhost = urllib.parse.urlsplit(base).netloc
        t = time.monotonic()
        keys = load_keys(cache_dir, KEYS)
        self.keygen = time.monotonic() - t
        self.standin = standin = Standin(HOSTS)
        try:
            self.actors = actors = []  # (actor URL, key, inbox URL)
            for hi, port in enumerate(standin.ports):
                hbase = f"http://127.0.0.1:{port}"
                for ai in range(ACTORS_PER_HOST):
                    key = keys[hi * ACTORS_PER_HOST + ai]
                    name = f"u{ai}"
                    doc = mastodon_person(hbase, name, key)
                    standin.serve(port, f"/users/{name}", doc)
                    standin.add_inbox(port, f"/users/{name}/inbox", doc["id"])
                    actors.append((doc["id"], key, doc["inbox"]))
            log(f"fanout: {len(actors)} stand-in actors on {HOSTS} hosts (127.0.0.1:{min(standin.ports)}…)")

            # The user whose channel they follow.
            check(*c.api("POST", "/api/v1/users", root_token, {
                "username": "bench", "password": "bench-password", "email": "bench@example.org", "role": 2,
                "videoQuota": -1, "videoQuotaDaily": -1}), "POST /api/v1/users")
            self.token = token = login(c, "bench", "bench-password")
            me = check(*c.api("GET", "/api/v1/users/me", token), "GET /api/v1/users/me")
            self.channel = channel = me["videoChannels"][0]
            channel_url = f"{base}/video-channels/{channel['name']}"

            # 200 Follows to Flotilla's shared inbox (4 senders), then their 200 Accepts.
            follow_ms, bad, lock = [], [], threading.Lock()
            queue = list(actors)

            def follower():
                fc = Client(base)
                while True:
                    with lock:
                        if not queue or time.monotonic() > deadline:
                            return
                        actor, key, _ = queue.pop()
                    a_host = urllib.parse.urlsplit(actor).netloc
                    follow = {"@context": "https://www.w3.org/ns/activitystreams",
                              "id": f"http://{a_host}/{uuidlib.uuid4()}", "type": "Follow",
                              "actor": actor, "object": channel_url}
                    body = json.dumps(follow).encode()
                    headers = signed_headers(key, f"{actor}#main-key", "/inbox", fhost, body)
                    s = time.monotonic()
                    status, raw = fc.request("POST", "/inbox", body, headers)
                    with lock:
                        follow_ms.append((time.monotonic() - s) * 1000)
                        if status != 202:
                            bad.append(f"POST /inbox Follow from {actor}: HTTP {status} {raw[:300].decode(errors='replace')}")

            t_follow = time.monotonic()
            threads = [threading.Thread(target=follower) for _ in range(4)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(max(1, deadline - time.monotonic()))
            self.follows_sent = time.monotonic() - t_follow
            if bad:
                raise SystemExit(f"{len(bad)} Follows were not accepted; the first: {bad[0]}")
            self.inboxes = inboxes = {a[2] for a in actors}

            def accepted():
                return {a["inbox"] for a in standin.arrivals if a["type"] == "Accept"} >= inboxes
            if not standin.wait_for(accepted, 120):
                got = len({a["inbox"] for a in standin.arrivals if a["type"] == "Accept"})
                raise SystemExit(f"only {got} of {len(inboxes)} Accepts arrived within 120 s after the Follows "
                                 f"(signature failures: {standin.failures[:3]})")
            self.accepts_s = time.monotonic() - t_follow
            self.follow_ms = follow_ms
            self.ch = check(*c.api("GET", f"/api/v1/video-channels/{channel['name']}"), "GET the channel")
            log(f"fanout: {len(actors)} follows sent in {self.follows_sent:.1f} s, all accepted after "
                f"{self.accepts_s:.1f} s (followersCount {self.ch.get('followersCount')})")
        except BaseException:
            standin.close()
            raise

    def close(self):
        self.standin.close()

    def upload(self, clip, name, privacy):
        """Uploads `clip` to the channel and waits until it is transcoded (state 1); returns the
        upload's `video` ({id, uuid, shortUUID}) and the seconds the transcode took."""
        up = subprocess.run(["curl", "-sS", "--fail-with-body", "--max-time", "120",
                             "-H", f"Authorization: Bearer {self.token}", "-F", f"channelId={self.channel['id']}",
                             "-F", f"name={name}", "-F", f"privacy={privacy}", "-F", f"videofile=@{clip}",
                             f"{self.base}/api/v1/videos/upload"], capture_output=True, timeout=180)
        if up.returncode != 0:
            raise SystemExit(f"upload failed: {up.stdout.decode(errors='replace')} {up.stderr.decode(errors='replace')}")
        vid = json.loads(up.stdout)["video"]
        t_up = time.monotonic()
        v = None
        while time.monotonic() - t_up < 300:
            v = check(*self.c.api("GET", f"/api/v1/videos/{vid['uuid']}", self.token), "GET the video")
            state = (v.get("state") or {}).get("id")
            if state == 1:
                break
            if state not in (2, 3):
                raise SystemExit(f"transcoding did not succeed: {json.dumps(v.get('state'))} {v.get('stateError')}")
            time.sleep(0.1)
        else:
            raise SystemExit(f"the clip was not transcoded within 300 s: {json.dumps(v)[:500]}")
        return vid, time.monotonic() - t_up

    def setup_summary(self):
        """The set-up's figures (and every signature failure so far), for the JSON output."""
        with self.standin.cond:
            failures = list(self.standin.failures)
        return {
            "actors": len(self.actors), "hosts": HOSTS, "keygen_seconds": r3(self.keygen),
            "follows_sent_seconds": r3(self.follows_sent), "accepts_seconds": r3(self.accepts_s),
            "follow_p50_ms": r3(pct(self.follow_ms, 50)), "follow_p99_ms": r3(pct(self.follow_ms, 99)),
            "followers_count": self.ch.get("followersCount"), "key_fetches": self.standin.key_fetches,
            "sig_failures": len(failures), "failure_examples": failures[:3],
        }


def spread(got, t0):
    """How the arrivals `got` ({inbox: monotonic time}) spread after t0: the last, p50, p95, the
    first, how many came before t0, and per host when its 1st, 2nd, … arrived (the median over the
    hosts), which shows how the deliveries to one host follow each other."""
    rel = sorted(t - t0 for t in got.values())
    per_host = {}
    for inbox_url, t in got.items():
        per_host.setdefault(urllib.parse.urlsplit(inbox_url).netloc, []).append(t - t0)
    ranks = [r3(pct([sorted(v)[k] for v in per_host.values() if len(v) > k], 50))
             for k in range(max((len(v) for v in per_host.values()), default=0))]
    return {"last": rel[-1] if rel else None, "p50_seconds": r3(pct(rel, 50)), "p95_seconds": r3(pct(rel, 95)),
            "first_seconds": r3(rel[0]) if rel else None, "before_answer": sum(1 for x in rel if x < 0),
            "per_host_rank_seconds": ranks}


def fanout(base, root_token, clip, rounds, cache_dir, work_dir):
    deadline = time.monotonic() + 600 + rounds * 900  # the driver's timeout is a little longer
    f = Followed(base, root_token, cache_dir, deadline)
    standin, inboxes, c, token = f.standin, f.inboxes, f.c, f.token
    try:
        out_rounds = []
        for rnd in range(1, rounds + 1):
            # Upload as private (no federation yet), wait for the transcode.
            vid, transcode_s = f.upload(clip, f"Fan-out {rnd}", 3)
            video_url = f"{base}/videos/watch/{vid['uuid']}"
            with standin.cond:
                before, fail_before = len(standin.arrivals), len(standin.failures)
            wait_quiet()
            mark = cpu.mark()
            # Its first appearance: Create to the 200 inboxes (and the channel's Announce).
            t_put = time.monotonic()
            status, body = c.api("PUT", f"/api/v1/videos/{vid['id']}", token, {"privacy": 1})
            t0 = time.monotonic()
            check(status, body, f"PUT /api/v1/videos/{vid['id']} privacy 1")

            def creates():
                return {a["inbox"]: a["t"] for a in standin.arrivals
                        if a["type"] == "Create" and a["object"] == video_url}

            all_in = standin.wait_for(lambda: len(creates()) >= len(inboxes), 120)
            t_all = time.monotonic()
            with standin.cond:
                got = creates()
            others = other_cpu(mark)
            ann_ok = standin.wait_for(lambda: len({a["inbox"] for a in standin.arrivals
                                                    if a["type"] == "Announce" and a["object"] == video_url})
                                      >= len(inboxes), 30)
            with standin.cond:
                announces = [a["t"] for a in standin.arrivals if a["type"] == "Announce" and a["object"] == video_url]
                failures = list(standin.failures)
            sp = spread(got, t0)
            last = sp.pop("last")
            with open(os.path.join(work_dir, f"fanout-round-{rnd}.json"), "w") as fh:
                json.dump([{**a, "t": r3(a["t"] - t0)} for a in standin.arrivals[before:]], fh)
            res = {
                "round": rnd, "uuid": vid["uuid"], "inboxes": len(inboxes), "delivered": len(got),
                "seconds": r3(last) if all_in and got else None, **sp,
                "put_ms": round((t0 - t_put) * 1000, 1),
                "from_request_seconds": r3(last + (t0 - t_put)) if all_in and got else None,
                "announces": len(announces), "announces_seconds": r3(max(announces) - t0) if ann_ok else None,
                "waited_seconds": r3(t_all - t0), "transcode_seconds": r3(transcode_s),
                "other_cpu": others, "sig_failures": len(failures) - fail_before,
                "duplicates": sum(1 for a in standin.arrivals[before:]
                                  if a["type"] == "Create" and a["object"] == video_url) - len(got),
            }
            log(f"fanout round {rnd}: {len(got)}/{len(inboxes)} Creates, all after "
                f"{res['seconds']} s (p50 {res['p50_seconds']} s, p95 {res['p95_seconds']} s); "
                f"signature failures {len(failures) - fail_before}")
            out_rounds.append(res)
            if not all_in:
                break  # the figure is already a miss; the report says how many arrived
        print(json.dumps({**f.setup_summary(), "rounds": out_rounds}))
    finally:
        f.close()


def comment_fanout(base, root_token, clip, rounds, cache_dir, work_dir):
    """Benchmark 11: a comment on a video whose channel the 200 stand-in actors follow, posted
    through the API by another user of the instance, reaches them as `Create(Note)`. Round 1 starts
    a thread, the next rounds reply to the previous round's comment."""
    deadline = time.monotonic() + 600 + rounds * 300
    f = Followed(base, root_token, cache_dir, deadline)
    standin, inboxes, c = f.standin, f.inboxes, f.c
    try:
        # The video, public from its upload: its Create and Announce go out first, and the
        # measurement waits until they have all arrived.
        vid, transcode_s = f.upload(clip, "Comment fan-out", 1)
        video_url = f"{base}/videos/watch/{vid['uuid']}"
        t = time.monotonic()
        video_in = standin.wait_for(lambda: len({(a["inbox"], a["type"]) for a in standin.arrivals
                                                 if a["object"] == video_url and a["type"] in ("Create", "Announce")})
                                    >= 2 * len(inboxes), 120)
        video_s = time.monotonic() - t
        if not video_in:
            raise SystemExit("the video's Creates and Announces did not all arrive within 120 s of its transcode")
        # The commenter: another user of the instance, with no followers of their own. Reading
        # their actor document once makes their key pair (made on first need), so that its
        # generation is not counted in the first round.
        check(*c.api("POST", "/api/v1/users", root_token, {
            "username": "commenter", "password": "bench-password", "email": "commenter@example.org", "role": 2,
            "videoQuota": -1, "videoQuotaDaily": -1}), "POST /api/v1/users (commenter)")
        token = login(c, "commenter", "bench-password")
        t = time.monotonic()
        status, raw = c.request("GET", "/accounts/commenter", headers={"Accept": AP})
        if status != 200:
            raise SystemExit(f"GET /accounts/commenter: HTTP {status}")
        actor_doc_ms = (time.monotonic() - t) * 1000
        out_rounds = []
        parent = None
        for rnd in range(1, rounds + 1):
            with standin.cond:
                before, fail_before = len(standin.arrivals), len(standin.failures)
            wait_quiet()
            mark = cpu.mark()
            text = (f"Round {rnd} of the comment benchmark: does this reach all {len(inboxes)} followers "
                    f"of the channel in time?")
            path = (f"/api/v1/videos/{vid['uuid']}/comment-threads" if parent is None
                    else f"/api/v1/videos/{vid['uuid']}/comments/{parent}")
            t_post = time.monotonic()
            status, body = c.api("POST", path, token, {"text": text})
            t0 = time.monotonic()
            comment = check(status, body, f"POST {path}")["comment"]
            note_url = comment["url"]

            def notes():
                return {a["inbox"]: a["t"] for a in standin.arrivals[before:]
                        if a["type"] == "Create" and a.get("object_type") == "Note" and a["object"] == note_url}

            all_in = standin.wait_for(lambda: len(notes()) >= len(inboxes), 120)
            t_all = time.monotonic()
            others = other_cpu(mark)
            time.sleep(1)  # late duplicates or other activities, if any
            with standin.cond:
                got = notes()
                arrivals = standin.arrivals[before:]
                failures = standin.failures[fail_before:]
            sp = spread(got, t0)
            last = sp.pop("last")
            with open(os.path.join(work_dir, f"comment-fanout-round-{rnd}.json"), "w") as fh:
                json.dump([{**a, "t": r3(a["t"] - t0)} for a in arrivals], fh)
            kinds = {}
            for a in arrivals:
                k = f"{a['type']}({a.get('object_type') or 'id'})"
                kinds[k] = kinds.get(k, 0) + 1
            res = {
                "round": rnd, "what": "thread" if parent is None else "reply", "comment_url": note_url,
                "inboxes": len(inboxes), "delivered": len(got),
                "seconds": r3(last) if all_in and got else None, **sp,
                "post_ms": round((t0 - t_post) * 1000, 1),
                "from_request_seconds": r3(last + (t0 - t_post)) if all_in and got else None,
                "waited_seconds": r3(t_all - t0), "other_cpu": others, "sig_failures": len(failures),
                "duplicates": sum(1 for a in arrivals if a["type"] == "Create" and a["object"] == note_url) - len(got),
                "arrivals_by_kind": kinds,
            }
            log(f"comment fan-out round {rnd} ({res['what']}): {len(got)}/{len(inboxes)} Create(Note)s, all after "
                f"{res['seconds']} s (p50 {res['p50_seconds']} s, p95 {res['p95_seconds']} s); "
                f"signature failures {len(failures)}")
            out_rounds.append(res)
            parent = comment["id"]
            if not all_in:
                break  # the figure is already a miss; the report says how many arrived
        print(json.dumps({**f.setup_summary(), "rounds": out_rounds, "video_uuid": vid["uuid"],
                          "transcode_seconds": r3(transcode_s), "video_deliveries_seconds": r3(video_s),
                          "actor_document_ms": round(actor_doc_ms, 1)}))
    finally:
        f.close()


# --- Inbox latency ----------------------------------------------------------------------------------

def peertube_context(extra=None):
    ctx = {"pt": "https://joinpeertube.org/ns#", "sc": "http://schema.org/"}
    ctx.update(extra or {})
    return ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1",
            {"RsaSignature2017": "https://w3id.org/security#RsaSignature2017"}, ctx]


def peertube_actor(base, kind, path, name, display, key, extra=None):
    """A PeerTube account (Person) or channel (Group), in PeerTube 6's shape."""
    url = f"{base}{path}"
    doc = {
        "@context": peertube_context({"playlists": {"@id": "pt:playlists", "@type": "@id"},
                                      "support": {"@type": "sc:Text", "@id": "pt:support"},
                                      "lemmy": "https://join-lemmy.org/ns#",
                                      "postingRestrictedToMods": "lemmy:postingRestrictedToMods", "icons": "as:icon"}),
        "type": kind, "id": url,
        "following": f"{url}/following", "followers": f"{url}/followers", "playlists": f"{url}/playlists",
        "inbox": f"{url}/inbox", "outbox": f"{url}/outbox", "preferredUsername": name, "url": url, "name": display,
        "endpoints": {"sharedInbox": f"{base}/inbox"},
        "publicKey": {"id": f"{url}#main-key", "owner": url, "publicKeyPem": public_pem(key)},
        "published": "2026-11-25T05:31:10.012Z", "summary": None,
    }
    doc.update(extra or {})
    return doc


VIDEO_CONTEXT = peertube_context({
    "Hashtag": "as:Hashtag", "category": "sc:category", "licence": "sc:license",
    "subtitleLanguage": "sc:subtitleLanguage", "sensitive": "as:sensitive", "language": "sc:inLanguage",
    "identifier": "sc:identifier", "isLiveBroadcast": "sc:isLiveBroadcast", "Infohash": "pt:Infohash",
    "aspectRatio": {"@type": "sc:Float", "@id": "pt:aspectRatio"},
    "uuid": {"@type": "sc:identifier", "@id": "pt:uuid"}, "originallyPublishedAt": "sc:datePublished",
    "views": {"@type": "sc:Number", "@id": "pt:views"}, "state": {"@type": "sc:Number", "@id": "pt:state"},
    "size": {"@type": "sc:Number", "@id": "pt:size"}, "fps": {"@type": "sc:Number", "@id": "pt:fps"},
    "commentsEnabled": {"@type": "sc:Boolean", "@id": "pt:commentsEnabled"},
    "downloadEnabled": {"@type": "sc:Boolean", "@id": "pt:downloadEnabled"},
    "waitTranscoding": {"@type": "sc:Boolean", "@id": "pt:waitTranscoding"},
    "support": {"@type": "sc:Text", "@id": "pt:support"},
    "likes": {"@id": "as:likes", "@type": "@id"}, "dislikes": {"@id": "as:dislikes", "@type": "@id"},
    "shares": {"@id": "as:shares", "@type": "@id"}, "comments": {"@id": "as:comments", "@type": "@id"},
})


def peertube_video(base, account, channel, n, thumbnail):
    """A new PeerTube 6-shaped Video on `base` (written by us in PeerTube's shape)."""
    u = str(uuidlib.uuid4())
    vid = f"{base}/videos/watch/{u}"
    hls = f"{base}/static/streaming-playlists/hls/{u}"
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())

    def infohash(i):
        return hashlib.sha1(f"2{hls}/master.m3u8+V{i}".encode()).hexdigest()

    def file_link(res, w, size, href):
        return {"type": "Link", "mediaType": "video/mp4", "href": href, "height": res, "width": w, "size": size,
                "fps": 25, "attachment": [
                    {"type": "PropertyValue", "name": "ffprobe_codec_type", "value": "audio"},
                    {"type": "PropertyValue", "name": "ffprobe_codec_type", "value": "video"},
                    {"type": "PropertyValue", "name": "peertube_format_flag", "value": "fragmented"}]}

    video = {
        "to": [PUBLIC], "cc": [f"{account}/followers"], "type": "Video", "id": vid,
        "name": f"Benchmark inbox video {n}", "duration": "PT6S", "uuid": u, "views": 0, "sensitive": False,
        "waitTranscoding": False, "state": 1, "commentsEnabled": True, "canReply": None, "commentsPolicy": 1,
        "downloadEnabled": True, "published": now, "originallyPublishedAt": None, "updated": now,
        "tag": [{"type": "Hashtag", "name": "benchmark"}], "mediaType": "text/markdown",
        "content": f"Video {n} sent by the **inbox benchmark**.", "support": None, "subtitleLanguage": [],
        "category": {"identifier": "15", "name": "Science & Technology"},
        "licence": {"identifier": "1", "name": "Attribution"}, "language": {"identifier": "en", "name": "English"},
        "icon": [{"type": "Image", "url": f"{base}{thumbnail}", "mediaType": "image/jpeg", "width": 280, "height": 157}]
        if thumbnail else [],
        "aspectRatio": 1.7778,
        "url": [
            {"type": "Link", "mediaType": "text/html", "href": vid},
            {"type": "Link", "mediaType": "application/x-mpegURL", "href": f"{hls}/master.m3u8", "tag": [
                {"type": "Infohash", "name": infohash(0)}, {"type": "Infohash", "name": infohash(1)},
                {"type": "Link", "name": "sha256", "mediaType": "application/json",
                 "href": f"{hls}/segments-sha256.json"},
                file_link(720, 1280, 1671838, f"{hls}/{u}-720-fragmented.mp4"),
                file_link(240, 426, 201234, f"{hls}/{u}-240-fragmented.mp4"),
            ]},
            {"type": "Link", "name": "tracker-http", "rel": ["tracker", "http"], "href": f"{base}/tracker/announce"},
            {"type": "Link", "name": "tracker-websocket", "rel": ["tracker", "websocket"],
             "href": f"ws://{urllib.parse.urlsplit(base).netloc}/tracker/socket"},
        ],
        "likes": f"{vid}/likes", "dislikes": f"{vid}/dislikes", "shares": f"{vid}/announces",
        "comments": f"{vid}/comments", "hasParts": f"{vid}/chapters",
        "attributedTo": [{"type": "Person", "id": account}, {"type": "Group", "id": channel}],
        "isLiveBroadcast": False, "liveSaveReplay": None, "permanentLive": None, "latencyMode": None,
    }
    return {"@context": VIDEO_CONTEXT, "to": video["to"], "cc": video["cc"], "type": "Create",
            "id": f"{vid}/activity", "actor": account, "object": video}


def make_thumbnail(work_dir):
    os.makedirs(work_dir, exist_ok=True)
    path = os.path.join(work_dir, "thumbnail.jpg")
    try:
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
                        "-i", "testsrc2=size=560x314", "-frames:v", "1", path],
                       check=True, capture_output=True, timeout=60)
        return open(path, "rb").read()
    except (OSError, subprocess.SubprocessError):
        return None


def inbox(base, n, cache_dir, work_dir):
    deadline = time.monotonic() + 300 + n * 4
    fhost = urllib.parse.urlsplit(base).netloc
    keys = load_keys(cache_dir, KEYS)[-2:]
    standin = Standin(1)
    try:
        port = standin.ports[0]
        pbase = f"http://127.0.0.1:{port}"
        account = peertube_actor(pbase, "Person", "/accounts/alice", "alice", "Alice", keys[0])
        channel = peertube_actor(pbase, "Group", "/video-channels/alice_channel", "alice_channel",
                                 "Alice's videos", keys[1],
                                 {"support": None, "postingRestrictedToMods": True,
                                  "attributedTo": [{"type": "Person", "id": account["id"]}]})
        for doc in (account, channel):
            standin.serve(port, urllib.parse.urlsplit(doc["id"]).path, doc)
            standin.add_inbox(port, urllib.parse.urlsplit(doc["inbox"]).path, doc["id"])
        standin.add_inbox(port, "/inbox", None)
        jpeg = make_thumbnail(work_dir)
        thumb = "/lazy-static/thumbnails/bench.jpg" if jpeg else None
        if jpeg:
            standin.serve(port, thumb, jpeg, "image/jpeg")
        key, key_id = keys[0], account["publicKey"]["id"]
        counter = [0]
        lock = threading.Lock()
        errors = []

        def prepare(count):
            """Builds and signs `count` Creates before a phase, so that the sender threads only
            send while it is measured (their CPU would compete with Flotilla's)."""
            out = []
            for _ in range(count):
                counter[0] += 1
                body = json.dumps(peertube_video(pbase, account["id"], channel["id"], counter[0], thumb)).encode()
                out.append((body, signed_headers(key, key_id, "/inbox", fhost, body)))
            out.reverse()  # popped from the end: sent in order
            return out

        phases = []
        for phase, senders in (("sequential", 1), ("concurrent", 4)):
            todo = prepare(n)
            wait_quiet()
            mark = cpu.mark()
            lat, statuses = [], []

            def sender():
                client = Client(base)
                while time.monotonic() < deadline:
                    with lock:
                        if not todo:
                            return
                        body, headers = todo.pop()
                    s = time.monotonic()
                    status, raw = client.request("POST", "/inbox", body, headers)
                    ms = (time.monotonic() - s) * 1000
                    with lock:
                        lat.append(ms)
                        statuses.append(status)
                        if status != 202:
                            errors.append({"status": status, "answer": raw[:500].decode(errors="replace"),
                                           "request": body[:1500].decode(errors="replace")})

            t = time.monotonic()
            threads = [threading.Thread(target=sender) for _ in range(senders)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(max(1, deadline - time.monotonic()))
            wall = time.monotonic() - t
            steady = lat[STEADY_SKIP:]
            res = {"phase": phase, "senders": senders, "requests": len(lat),
                   "non202": sum(1 for s in statuses if s != 202),
                   "first_ms": round(lat[0], 2) if lat else None,
                   "first5_ms": [round(x, 1) for x in lat[:STEADY_SKIP]],
                   "p50_ms": r3(pct(steady, 50)), "p95_ms": r3(pct(steady, 95)), "p99_ms": r3(pct(steady, 99)),
                   "max_ms": r3(max(steady) if steady else None), "rps": round(len(lat) / wall, 1) if wall else 0,
                   "other_cpu": other_cpu(mark)}
            log(f"inbox {phase} ({senders} sender{'s' if senders > 1 else ''}): {len(lat)} Creates, "
                f"p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, non-202 {res['non202']}")
            phases.append(res)
            # The stored videos' thumbnails are fetched by jobs (one at a time) during the phase;
            # the next phase starts when they are done (bounded), so each phase has its own load.
            t = time.monotonic()
            res["thumbnails_drained"] = standin.wait_for(
                lambda: not thumb or standin.gets.get(thumb, 0) >= counter[0], 180)
            res["thumbnails_drain_seconds"] = r3(time.monotonic() - t)
        # Every video must have been stored.
        c = Client(base)
        status, listed = c.api("GET", "/api/v1/videos?isLocal=false&count=1")
        stored = listed.get("total") if status == 200 and isinstance(listed, dict) else None
        print(json.dumps({
            "phases": phases, "sent": counter[0], "stored": stored, "skip": STEADY_SKIP,
            "thumbnail_fetches": standin.gets.get(thumb, 0) if thumb else 0,
            "actor_fetches": standin.gets.get("/accounts/alice", 0) + standin.gets.get("/video-channels/alice_channel", 0),
            "create_bytes": len(json.dumps(peertube_video(pbase, account["id"], channel["id"], 0, thumb))),
            "errors": len(errors), "error_examples": errors[:2],
            "sig_failures": len(standin.failures),
        }))
    finally:
        standin.close()


def blocked(base, token, n, cache_dir):
    deadline = time.monotonic() + 120 + n * 0.05
    fhost = urllib.parse.urlsplit(base).netloc
    keys = load_keys(cache_dir, KEYS)[-2:]
    standin = Standin(1)
    try:
        port = standin.ports[0]
        pbase = f"http://127.0.0.1:{port}"
        account = peertube_actor(pbase, "Person", "/accounts/mallory", "mallory", "Mallory", keys[0])
        channel = peertube_actor(pbase, "Group", "/video-channels/mallory_channel", "mallory_channel",
                                 "Mallory's videos", keys[1],
                                 {"support": None, "attributedTo": [{"type": "Person", "id": account["id"]}]})
        for doc in (account, channel):
            standin.serve(port, urllib.parse.urlsplit(doc["id"]).path, doc)
        c = Client(base)
        check(*c.api("POST", "/api/v1/server/blocklist/servers", token, {"host": f"127.0.0.1:{port}"}), "block")
        status, listed = c.api("GET", "/api/v1/videos?isLocal=false&count=1")
        before = listed.get("total") if status == 200 and isinstance(listed, dict) else None
        key_id = account["publicKey"]["id"]
        signed, malformed = [], []
        for i in range(n):
            body = json.dumps(peertube_video(pbase, account["id"], channel["id"], i, None)).encode()
            signed.append((body, signed_headers(keys[0], key_id, "/inbox", fhost, body)))
            malformed.append((body, {"Host": fhost, "Content-Type": AP, "Date": email.utils.formatdate(usegmt=True),
                                     "Digest": digest(body)}))
        # The two kinds alternate on one connection, so both meet the same conditions (a phase
        # after the other would compare a warm server with a cold one).
        wait_quiet()
        mark = cpu.mark()
        lats = {"blocked": [], "malformed": []}
        stats = {"blocked": [], "malformed": []}
        client = Client(base)
        t = time.monotonic()
        for i in range(n):
            if time.monotonic() > deadline:
                break
            for phase, (body, headers) in (("blocked", signed[i]), ("malformed", malformed[i])):
                s = time.monotonic()
                status, _ = client.request("POST", "/inbox", body, headers)
                lats[phase].append((time.monotonic() - s) * 1000)
                stats[phase].append(status)
        wall = time.monotonic() - t
        busy = other_cpu(mark)
        phases = []
        for phase, expected in (("blocked", 403), ("malformed", 401)):
            lat, statuses = lats[phase], stats[phase]
            steady = lat[STEADY_SKIP:]
            res = {"phase": phase, "requests": len(lat), "expected": expected,
                   "unexpected": sum(1 for x in statuses if x != expected),
                   "p50_ms": r3(pct(steady, 50)), "p95_ms": r3(pct(steady, 95)), "p99_ms": r3(pct(steady, 99)),
                   "max_ms": r3(max(steady) if steady else None), "rps": round(len(lat) / wall, 1) if wall else 0,
                   "other_cpu": busy}
            log(f"inbox refusal, {phase}: {len(lat)} requests, p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, "
                f"not {expected}: {res['unexpected']}")
            phases.append(res)
        status, listed = c.api("GET", "/api/v1/videos?isLocal=false&count=1")
        after = listed.get("total") if status == 200 and isinstance(listed, dict) else None
        print(json.dumps({"phases": phases, "fetches": sum(standin.gets.values()), "videos_before": before,
                          "videos_after": after, "skip": STEADY_SKIP}))
    finally:
        standin.close()


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        if cmd == "fanout" and len(sys.argv) == 8:
            fanout(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6], sys.argv[7])
        elif cmd == "comments" and len(sys.argv) == 8:
            comment_fanout(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6], sys.argv[7])
        elif cmd == "blocked" and len(sys.argv) == 6:
            blocked(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        elif cmd == "inbox" and len(sys.argv) == 6:
            inbox(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
        else:
            raise SystemExit(__doc__)
    except SystemExit as e:
        # What went wrong goes into the output too, so the report can say it.
        if isinstance(e.code, str):
            log(f"ERROR: {e.code}")
            print(json.dumps({"error": e.code}))
            sys.exit(1)
        raise
    except Exception as e:  # noqa: BLE001 — reported, with the traceback on stderr
        import traceback
        traceback.print_exc()
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(1)


if __name__ == "__main__":
    main()
