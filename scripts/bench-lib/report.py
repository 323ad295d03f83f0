#!/usr/bin/env python3
"""Turns a run's results ($BENCH_WORK/results.jsonl) and machine description (machine.json) into
the table of figures and ratios: printed, and written as Markdown to bench/results/.

  report.py RESULTS_JSONL MACHINE_JSON OUT_DIR MODE [ONLY]

ONLY (BENCH_ONLY, e.g. "federation") names the parts that ran; the file name then says so, and a
partial run never replaces a full table. Prints the path of the written file on its last line."""
import datetime
import json
import math
import os
import re
import sys

NOISY = 10.0  # % of the machine's CPU that other programs used during a measurement


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def num(x):
    return f"{x:,.0f}"


def rate(b):
    for unit, div in (("GB/s", 1024**3), ("MB/s", 1024**2), ("KB/s", 1024)):
        if b >= div:
            return f"{b / div:.2f} {unit}"
    return f"{b:.0f} B/s"


def ms(x):
    return f"{x:.2f} ms" if isinstance(x, (int, float)) else "?"


def verdict(ok):
    return "met" if ok else "**MISSED**"


def slug(text, limit=40):
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:limit].strip("-")


def short_machine(m):
    cpu = m.get("cpu", "cpu")
    for noise in ("(R)", "(TM)", "(tm)", "CPU", "Processor", "processor"):
        cpu = cpu.replace(noise, " ")
    cpu = re.sub(r"@.*$", "", cpu)
    cpu = re.sub(r"\b\d+-Core\b", "", cpu)
    return slug(f"{cpu} {m.get('cores', '?')}c {round(m.get('ram_kib', 0) / 1024 / 1024)}g")


def seconds(x):
    return f"{x:.2f} s" if isinstance(x, (int, float)) else "?"


def federation(rows, info, table, notes, details, busy_note):
    """5. Fan-out of a new video to 200 follower inboxes, and the inbox's latency."""
    for r in rows:
        if r.get("kind") == "federation_error":
            notes.append(f"federation benchmark, {r.get('step')}: FAILED: {r.get('message')}")
    setup = next((r for r in rows if r.get("kind") == "fanout_setup"), None)
    fan = [r for r in rows if r.get("kind") == "fanout"]
    if setup:
        details.append(f"- fan-out set-up: {setup['actors']} follower actors on {setup['hosts']} stand-in hosts "
                       f"(keys ready in {setup.get('keygen_seconds', '?')} s); {setup['actors']} signed Follows "
                       f"sent to `/inbox` by 4 senders in {seconds(setup.get('follows_sent_seconds'))} (POST p50 "
                       f"{ms(setup.get('follow_p50_ms'))}, p99 {ms(setup.get('follow_p99_ms'))}), all Accepts "
                       f"received {seconds(setup.get('accepts_seconds'))} after the first Follow; the channel's "
                       f"followersCount: {setup.get('followers_count')}; Flotilla's keys fetched by the stand-in: "
                       f"{setup.get('key_fetches')}")
        if setup.get("sig_failures"):
            notes.append(f"fan-out: {setup['sig_failures']} deliveries failed the stand-in's signature check, e.g. "
                         f"{json.dumps(setup.get('failure_examples', [])[:1])}")
    if fan:
        # The slower round counts: every round must meet the target.
        worst = max(fan, key=lambda r: r["seconds"] if isinstance(r.get("seconds"), (int, float)) else float("inf"))
        n = worst.get("inboxes", 200)
        sig = setup["sig_failures"] if setup else sum(r.get("sig_failures", 0) for r in fan)
        complete = all(r.get("delivered") == r.get("inboxes") for r in fan)
        t = worst.get("seconds")
        if isinstance(t, (int, float)):
            fig = f"{t:.2f} s (p50 {worst['p50_seconds']:.2f} s, p95 {worst['p95_seconds']:.2f} s)"
            ratio = f"{t / 5:.2f} of target"
        else:
            fig = f"{worst.get('delivered')} of {n} delivered in {worst.get('waited_seconds')} s"
            ratio = "—"
        label = (f"5a. fan-out: a new video's `Create` to {n} follower inboxes on {setup['hosts'] if setup else 20} "
                 f"hosts (loopback, signatures verified), until the last arrived" +
                 (f" (slower of {len(fan)} rounds)" if len(fan) > 1 else ""))
        table.append((label, fig + (f", {sig} bad signatures" if sig else ""), "—", ratio, "< 5 s",
                      verdict(complete and sig == 0 and isinstance(t, (int, float)) and t < 5)))
        for r in fan:
            busy_note(r, f"fan-out round {r['round']}")
            if r.get("delivered") != r.get("inboxes"):
                notes.append(f"fan-out round {r['round']}: only {r.get('delivered')} of {r.get('inboxes')} Creates "
                             f"arrived within {r.get('waited_seconds')} s")
            details.append(
                f"- fan-out round {r['round']}: {r.get('delivered')}/{r.get('inboxes')} Creates, the last "
                f"{seconds(r.get('seconds'))} after the PUT's answer ({seconds(r.get('from_request_seconds'))} after "
                f"its request; the PUT took {r.get('put_ms')} ms, {r.get('before_answer', 0)} arrived before its "
                f"answer), first {seconds(r.get('first_seconds'))}, p50 {seconds(r.get('p50_seconds'))}, p95 "
                f"{seconds(r.get('p95_seconds'))}; the channel's Announces ({r.get('announces')}) all in "
                f"{seconds(r.get('announces_seconds'))}; duplicates {r.get('duplicates', 0)}; bad signatures "
                f"{r.get('sig_failures', 0)}; the clip was "
                f"transcoded in {seconds(r.get('transcode_seconds'))}; others' CPU {r.get('other_cpu', '?')}%")
            if r.get("per_host_rank_seconds"):
                details.append(f"- fan-out round {r['round']}, per host: the 1st, 2nd, … Create to a host arrived after "
                               f"{', '.join(f'{x:.2f}' for x in r['per_host_rank_seconds'])} s (medians over the hosts)")
    phases = [r for r in rows if r.get("kind") == "inbox"]
    summary = next((r for r in rows if r.get("kind") == "inbox_summary"), None)
    skip = summary.get("skip", 5) if summary else 5
    for r in phases:
        busy_note(r, f"inbox, {r['phase']}")
        p99 = r.get("p99_ms")
        bad = r.get("non202", 0)
        who = "1 sender" if r["senders"] == 1 else f"{r['senders']} concurrent senders"
        label = (f"5{'b' if r['senders'] == 1 else 'c'}. inbox: `POST /inbox` of a signed PeerTube-shaped "
                 f"`Create(Video)`, {who}, p99 (steady state: first {skip} left out)")
        if isinstance(p99, (int, float)):
            fig = f"p99 {p99:.1f} ms (p50 {r['p50_ms']:.1f} ms, {r['rps']:.0f} req/s)" + (f", {bad} not 202" if bad else "")
            table.append((label, fig, "—", f"{p99 / 100:.2f} of target", "p99 < 100 ms", verdict(p99 < 100 and not bad)))
        else:
            table.append((label, "no answer", "—", "—", "p99 < 100 ms", verdict(False)))
        if bad:
            notes.append(f"inbox, {r['phase']}: {bad} of {r['requests']} POSTs were not answered 202")
        details.append(f"- inbox, {r['phase']} ({who}): {r['requests']} Creates, p50 {ms(r.get('p50_ms'))}, p95 "
                       f"{ms(r.get('p95_ms'))}, p99 {ms(p99)}, max {ms(r.get('max_ms'))}, {r.get('rps')} req/s; "
                       f"the first {skip} (left out): {', '.join(f'{x} ms' for x in r.get('first5_ms', []))}; "
                       f"others' CPU {r.get('other_cpu', '?')}%; its thumbnails were all fetched "
                       f"{seconds(r.get('thumbnails_drain_seconds'))} after its end"
                       f"{'' if r.get('thumbnails_drained', True) else ' (NOT all: gave up waiting)'}")
    if summary:
        expected = summary.get("sent")
        details.append(f"- inbox: {summary.get('create_bytes')} B per Create; remote videos listed afterwards: "
                       f"{summary.get('stored')} of {expected} sent; the stand-in's account and channel were fetched "
                       f"{summary.get('actor_fetches')} times, its thumbnail {summary.get('thumbnail_fetches')} times "
                       f"(fetch-thumbnail jobs, one at a time, run beside each phase)")
        if summary.get("stored") != expected:
            notes.append(f"inbox: {expected} videos were sent but {summary.get('stored')} remote videos are listed")
        for e in summary.get("error_examples", []):
            notes.append(f"inbox: a Create was answered {e.get('status')}: {e.get('answer')!r}; request body "
                         f"(start): `{e.get('request', '')[:600]}`")
    rss = next((r for r in rows if r.get("kind") == "federation_rss"), None)
    if rss:
        details.append(f"- RSS of the federation instance at the end: {mib(rss['rss_kib'])} (peak {mib(rss['hwm_kib'])})")


def kib(x):
    return f"{x:.1f} KiB" if isinstance(x, (int, float)) else "?"


def tracker(rows, info, table, notes, details, busy_note):
    """6. The P2P tracker under load, Flotilla vs bittorrent-tracker: messages/s handled (the best
    round of each), memory per idle connection (the larger of the rounds), server CPU per message."""
    for r in rows:
        if r.get("kind") == "tracker_error":
            notes.append(f"tracker benchmark, {r.get('who')} at {r.get('peers')} peers, round {r.get('round')}: "
                         f"FAILED: {r.get('message')}")
    runs = [r for r in rows if r.get("kind") == "tracker"]
    if not runs:
        return
    ref_name = "bittorrent-tracker"
    for n in sorted({r["peers"] for r in runs}):
        at = [r for r in runs if r["peers"] == n]
        best, worst_mem = {}, {}
        for r in at:
            w = r["who"]
            if w not in best or r["messages_per_s"] > best[w]["messages_per_s"]:
                best[w] = r
            m = r.get("idle_kib_per_connection")
            if isinstance(m, (int, float)) and (w not in worst_mem or m > worst_mem[w]["idle_kib_per_connection"]):
                worst_mem[w] = r
        f, b = best.get("flotilla"), best.get(ref_name)
        swarms = at[0].get("swarms", "?")

        def fig(r):
            return (f"{num(r['messages_per_s'])} msg/s (announce RTT p50 {ms(r.get('announce_rtt_p50_ms'))}, "
                    f"p99 {ms(r.get('announce_rtt_p99_ms'))})")
        if f and b:
            ratio = f["messages_per_s"] / b["messages_per_s"] if b["messages_per_s"] else 0.0
            # Refused or closed connections, misrouted answers, lost announces: the figure does not count.
            clean = not any(r.get(k) for r in at if r["who"] == "flotilla" for k in (
                "failures", "ended_by_server_during_load", "answers_misrouted", "connect_errors", "response_timeouts",
                "events"))
            table.append((f"6a. tracker, {num(n)} WebSocket peers in {swarms} swarms: frames handled per second "
                          "(announces and answers in, responses, offers and answers out)",
                          fig(f), f"{ref_name} {fig(b)}", f"{ratio:.2f}×", "≥ 4×", verdict(ratio >= 4 and clean)))
        fm, bm = worst_mem.get("flotilla"), worst_mem.get(ref_name)
        if fm:
            fk = fm["idle_kib_per_connection"]
            ref = f"{ref_name} {kib(bm['idle_kib_per_connection'])}" if bm else "—"
            ratio = (f"{fk / bm['idle_kib_per_connection']:.2f}×" if bm and bm["idle_kib_per_connection"] > 0
                     else "—")
            table.append((f"6b. tracker, {num(n)} idle WebSocket connections: server RSS per connection "
                          "(with them open minus before them)", kib(fk), ref, ratio, "≤ 16 KiB", verdict(fk <= 16)))
        if f and b and f.get("server_cpu_us_per_message") and b.get("server_cpu_us_per_message"):
            fc, bc = f["server_cpu_us_per_message"], b["server_cpu_us_per_message"]
            table.append((f"6c. tracker, {num(n)} peers: the server's CPU time per frame handled (user + system)",
                          f"{fc:.1f} µs", f"{ref_name} {bc:.1f} µs", f"{fc / bc:.2f}×", "≤ 0.25×",
                          verdict(fc / bc <= 0.25)))
        for r in sorted(at, key=lambda r: (r["round"], r["who"])):
            what = f"tracker, {r['who']} at {num(n)} peers, round {r['round']}"
            busy_note(r, what)
            window = r.get("window_seconds") or 1
            ccpu = r.get("client_cpu_seconds")
            if isinstance(ccpu, (int, float)) and ccpu / window > 0.9:
                notes.append(f"{what}: the load client used {100 * ccpu / window:.0f}% of a core: the figure may be "
                             "the client's limit rather than the tracker's")
            events = r.get("events") or {}
            if r.get("connect_errors") or events:
                notes.append(f"{what}: {r.get('connect_errors', 0)} connections failed, "
                             f"{r.get('open_idle')} of {r.get('peers')} open when idle, "
                             f"{r.get('open_after_load')} at the end; events: "
                             + "; ".join(f"{k} ×{v}" for k, v in list(events.items())[:6]))
            for key, what_bad in (("failures", "failure frames"), ("answers_misrouted", "answers delivered to the "
                                  "wrong peer"), ("response_timeouts", "announces left unanswered for 30 s")):
                if r.get(key):
                    notes.append(f"{what}: {r[key]} {what_bad} during the measured window")
            scpu = r.get("server_cpu_seconds")
            details.append(
                f"- {what}: {r.get('connected')}/{r['peers']} connected in {seconds(r.get('connect_seconds'))} from "
                f"{r.get('source_addresses')} addresses; RSS {mib(r['rss_before_kib'] or 0)} before, "
                f"{mib(r['rss_idle_kib'] or 0)} with {r.get('open_idle')} idle connections "
                f"({kib(r.get('idle_kib_per_connection'))} each), {mib(r.get('rss_after_load_kib') or 0)} with "
                f"{r.get('open_after_load')} quiet peers in their swarms after the load (peak "
                f"{mib(r.get('hwm_kib') or 0)}); in {r.get('window_seconds')} s: {num(r['messages_per_s'])} frames/s "
                f"({r.get('frames_to_tracker')} in, {r.get('frames_from_tracker')} out; "
                f"{num(r.get('announces_per_s', 0))} announces/s, {r.get('offers_delivered')} offers and "
                f"{r.get('answers_delivered')} answers delivered, {r.get('mib_per_s')} MiB/s), announce RTT p50 "
                f"{ms(r.get('announce_rtt_p50_ms'))}, p99 {ms(r.get('announce_rtt_p99_ms'))}; server CPU "
                f"{scpu} s ({100 * scpu / window if isinstance(scpu, (int, float)) else 0:.0f}% of a core), "
                f"the client's {ccpu} s; others' CPU {r.get('other_cpu', '?')}%")
    if "tracker_versions" in info:
        details.append(f"- tracker reference: {info['tracker_versions']}; {info.get('tracker_settings', '')}")


def web(rows, table, notes):
    """7. The web client: Lighthouse (mobile emulation, simulated throttling) scores of the home and
    watch pages, and the home page's first-load JavaScript, gzipped."""
    for r in rows:
        if r.get("kind") == "lighthouse_error":
            notes.append("web benchmark (7) failed: see the log of scripts/bench-lib/lighthouse.sh")
        if r.get("kind") != "lighthouse":
            continue
        for page in ("home", "watch"):
            for cat in ("performance", "accessibility"):
                score = r.get(f"{page}_{cat}", 0)
                table.append((f"7. Lighthouse {cat}, {page} page", str(score), "—", f"{score / 90:.2f} of target",
                              "≥ 90", verdict(score >= 90)))
        js = r.get("first_load_js_gzip", 0)
        table.append(("7. home page first-load JavaScript, gzipped", f"{js / 1024:.1f} KiB", "—",
                      f"{js / (150 * 1024):.2f} of budget", "< 150 KB", verdict(0 < js < 150 * 1024)))


def offload(rows, table, notes):
    """8. P2P offload: the later viewers' share of segment bytes from peers, and the origin's segment
    bytes with P2P on over with it off."""
    for r in rows:
        if r.get("kind") == "offload_error":
            notes.append("P2P offload benchmark (8) failed: see scripts/bench-lib/offload.sh's output")
        if r.get("kind") != "offload":
            continue
        n = r["viewers"]
        share = r["later_viewers_share_from_peers"]
        table.append((f"8. P2P offload, {n} viewers: later viewers' segment bytes from peers (limit {r['limit'] * 100:.0f} %)",
                      f"{share * 100:.1f} %", "—", f"{share / 0.6:.2f} of target", "≥ 60 %", verdict(share >= 0.6)))
        table.append((f"8. P2P offload, {n} viewers: origin segment bytes, P2P on / off",
                      f"{r['origin_bytes_p2p_on'] / 1e6:.1f} MB", f"P2P off {r['origin_bytes_p2p_off'] / 1e6:.1f} MB",
                      f"{r['origin_ratio']:.2f}×", "(figure)", "figure"))


def soak(rows, info, table, notes, details):
    """9. Soak: clients uploading (resumable, some cancelled), watching and reading while the server is
    kill -9'd every SOAK_KILL_EVERY s and the disk fills once; then the checks."""
    for r in rows:
        if r.get("kind") == "soak_error":
            notes.append(f"soak test on {r.get('db')}: FAILED: {r.get('message')}")
    if "soak_settings" in info:
        details.append(f"- soak settings: {info['soak_settings']}")
    for r in (r for r in rows if r.get("kind") == "soak"):
        db = "SQLite" if r["db"] == "sqlite" else "PostgreSQL"
        req, up, chk, jobs = r["requests"], r["uploads"], r["check"], r["jobs"]
        kills = sum(1 for x in r.get("restarts", []) if x.get("kind") == "kill -9")
        fill = r.get("disk_fill", {})
        fill_txt = (f"disk full {fill.get('seconds', '?'):.0f} s" if "filler_bytes" in fill
                    else f"no disk fill ({fill.get('skipped') or fill.get('error', '?')})")
        what = (f"{r['seconds']:.0f} s, {r['clients']} clients, {kills}× kill -9 (every {r['kill_every']:.0f} s), "
                f"{fill_txt}")
        errs = ", ".join(f"{k}×{v}" for k, v in req["errors_by_status"].items()) or "none"
        table.append((f"9. soak, {db} ({what}): requests answered 2xx/3xx; HTTP errors by status; connections that "
                      "failed (while restarting / while up)",
                      f"{num(req['served'])} served; errors: {errs}; {num(req['failed_connections'])} failed connections "
                      f"({req['failed_while_restarting']} / {req['failed_while_up']})", "—", "—", "(figure)", "figure"))
        bad = chk["lost"] + chk["doubled"] + chk["wrong_uuid"] + chk["not_published"] + chk["failed_without_reason"]
        outcomes = up["by_outcome"]
        other = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()) if k not in ("finished", "cancelled"))
        table.append((f"9. soak, {db}: uploads finished of started; every finished one is one video, published or "
                      "failed with a reason; videos no client saw finish (orphans)",
                      f"{chk['finished']} of {up['started']} ({outcomes.get('cancelled', 0)} cancelled"
                      f"{', ' + other if other else ''}); {chk['published']} published, {chk['failed_with_reason']} "
                      f"failed with a reason; lost {chk['lost']}, doubled {chk['doubled']}, not published "
                      f"{chk['not_published'] + chk['failed_without_reason']}, orphans {chk['orphans']}",
                      "—", "—", "0 lost, 0 doubled, 0 orphans", verdict(bad == 0 and chk["orphans"] == 0)))
        stuck_up = sum(v for k, v in outcomes.items() if k in ("unfinalisable", "session lost", "abandoned")
                       or k.startswith("where to resume"))
        table.append((f"9. soak, {db}: uploads cut by a kill -9 that resumed after the restart and finished; "
                      "uploads that could not finish (every byte stored but never finalised, session lost, given up)",
                      f"{up['interrupted_finished']} of {up['interrupted']} cut finished"
                      f"{' (' + str(up['interrupted_cancelled']) + ' cancelled as planned)' if up['interrupted_cancelled'] else ''}; "
                      f"{up['with_errors_finished']} of {up['with_errors']} hit by HTTP errors finished; "
                      f"{outcomes.get('unfinalisable', 0)} unfinalisable, {outcomes.get('session lost', 0)} session "
                      f"lost, {outcomes.get('abandoned', 0)} given up, {outcomes.get('answer lost', 0)} answer lost",
                      "—", "—", "0 that cannot finish", verdict(stuck_up == 0)))
        if not up["interrupted"]:
            notes.append(f"soak {db}: no upload was cut by a kill -9: the resume after a restart was not exercised")
        st = r.get("settle", {})
        table.append((f"9. soak, {db}: jobs stuck (running or queued) after settling",
                      f"{jobs['stuck']} ({jobs['stuck_running']} running, {jobs['stuck_queued_due']} queued, "
                      f"{jobs['stuck_queued_later']} waiting for a retry); {jobs['failed']} failed, {jobs['retried']} "
                      f"retried; settled in {st.get('seconds', '?')} s" + ("" if st.get("settled") else
                                                                          f" (NOT settled within {st.get('limit')} s)"),
                      "—", "—", "0", verdict(jobs["stuck"] == 0)))
        lives = r.get("lifetimes", [])
        last = lives[-1] if lives else {}
        warm, end = last.get("warm"), r.get("end", {})
        if warm and end.get("rss_kib"):
            ratio = end["rss_kib"] / warm["rss_kib"]
            table.append((f"9. soak, {db}: RSS of the last server process, after warm-up (t={warm['t']:.0f} s, under "
                          "load) → after settling", f"{mib(warm['rss_kib'])} → {mib(end['rss_kib'])}", "—",
                          f"{ratio:.2f}×", "≤ 1.20×", verdict(ratio <= 1.2)))
            if warm.get("fds") and end.get("fds") is not None:
                fr = end["fds"] / warm["fds"]
                table.append((f"9. soak, {db}: open file descriptors of the last server process, after warm-up → after "
                              "settling", f"{warm['fds']} → {end['fds']}", "—", f"{fr:.2f}×", "≤ 1.20×",
                              verdict(fr <= 1.2)))
        # Warnings: what the server did that it should not have.
        if end.get("rss_kib"):
            for lf in lives:
                if lf.get("peak_rss_kib") and lf["peak_rss_kib"] > 2 * end["rss_kib"]:
                    notes.append(f"soak {db}: server process {lf['n']} (t={lf['started_t']}–{lf.get('ended_t')} s) "
                                 f"reached {mib(lf['peak_rss_kib'])} RSS, against {mib(end['rss_kib'])} for the last "
                                 "one after settling")
        for c in r.get("crashes", []):
            notes.append(f"soak {db}: the server {c['how']} at t={c['t']} s (lifetime {c['lifetime']})")
        for k in ("client_errors",):
            for e in r.get(k, []):
                notes.append(f"soak {db}: {e}")
        if r.get("clients_still_running"):
            notes.append(f"soak {db}: {r['clients_still_running']} clients were still busy when the checks began")
        if req["failed_while_up"]:
            notes.append(f"soak {db}: {req['failed_while_up']} connections failed while the server was up, e.g. "
                         + "; ".join(req.get("failed_while_up_examples", [])[:3]))
        for k, a in r.get("anomalies", {}).items():
            notes.append(f"soak {db}: {k} ×{a['count']}, e.g. {'; '.join(a['examples'][:2])}")
        for e in chk.get("examples", [])[:12]:
            notes.append(f"soak {db}: {e}")
        for e in jobs.get("stuck_examples", [])[:5]:
            notes.append(f"soak {db}: stuck: {e}")
        if r["log"].get("panics"):
            notes.append(f"soak {db}: {r['log']['panics']} panics in the server's log")
        lo = r.get("leftovers", {})
        if lo.get("upload_sessions") or lo.get("quarantine_files_unreferenced") or lo.get("hls_dirs_without_video"):
            notes.append(f"soak {db}: left over: {lo.get('upload_sessions')} upload sessions "
                         f"({lo.get('upload_sessions_complete')} with every byte stored), "
                         f"{lo.get('quarantine_files_unreferenced')} quarantined files no session or video refers to, "
                         f"{lo.get('hls_dirs_without_video')} HLS directories without a video")
        if r.get("videos_to_transcode_at_end"):
            notes.append(f"soak {db}: {r['videos_to_transcode_at_end']} videos still 'to transcode' at the end")
        # Details.
        details.append(f"- soak {db}: {req['answers']} answers ({num(req['answers'] / max(r['seconds'], 1))}/s); by "
                       f"status {json.dumps(req['by_status'])}; by phase {json.dumps(req['by_phase'])}; failed "
                       f"connections {json.dumps(req['failed_connections_by_kind'])}")
        details.append(f"- soak {db}: requests by route {json.dumps(req['by_route'])}")
        if req["errors_by_route"]:
            details.append(f"- soak {db}: HTTP errors by route {json.dumps(req['errors_by_route'])}")
        details.append(f"- soak {db}: uploads by outcome {json.dumps(up['by_outcome'])}; {up['cancel_planned']} meant "
                       f"to be cancelled halfway; {up['interrupted']} cut by a restart ({up['interrupted_finished']} of them "
                       f"finished), {up['with_errors']} hit by HTTP errors ({up['with_errors_finished']} finished), "
                       f"{up['resumed']} asked where to resume; "
                       f"{chk['videos_in_db']} soak videos in the database; each owner's /users/me/videos totals "
                       f"{r.get('api_my_videos_total')}; orphans by what their client saw "
                       f"{json.dumps(chk.get('orphans_by_client_outcome', {}))}; re-logins {r.get('relogins')}")
        for e in up.get("examples", [])[:10]:
            details.append(f"  - upload {e}")
        details.append(f"- soak {db}: jobs by kind/state {json.dumps(jobs['by_kind_state'])}; settling: "
                       f"{json.dumps(r.get('settle', {}))}")
        for e in jobs.get("failed_examples", [])[:5]:
            details.append(f"  - failed {e}")
        rs = r.get("restarts", [])
        if rs:
            dt = sorted(x["downtime_seconds"] for x in rs)
            details.append(f"- soak {db}: {len(rs)} restarts, down for {dt[len(dt) // 2]:.2f} s (median), "
                           f"{dt[-1]:.2f} s at most; drain {r.get('drain_seconds')} s; stop at the end: "
                           f"{r.get('server_stop')}")
        for lf in lives:
            w, b, u = lf.get("warm") or {}, lf.get("before_end") or {}, lf.get("last_under_load") or {}
            details.append(f"  - server process {lf['n']} (t={lf['started_t']}–{lf.get('ended_t')} s, answering after "
                           f"{lf.get('ready_seconds')} s, ended by {lf.get('end')}): RSS after warm-up "
                           f"{mib(w['rss_kib']) if w else '?'} ({w.get('fds', '?')} fds), last under load "
                           f"{mib(u['rss_kib']) if u else '?'} ({u.get('fds', '?')} fds), before its kill "
                           f"{mib(b['rss_kib']) if b.get('rss_kib') else '—'} ({b.get('fds', '—')} fds), peak "
                           f"{mib(lf['peak_rss_kib']) if lf.get('peak_rss_kib') else '?'}, {lf.get('peak_fds')} fds at most")
        tl = last.get("timeline") or []
        if tl:
            details.append(f"  - server process {last.get('n')}, RSS every ~20 s: "
                           + ", ".join(f"t={x[0]:.0f} s {x[1] / 1024:.1f} MiB" for x in tl))
        if end:
            details.append(f"  - after settling (t={end.get('t')} s): RSS {mib(end['rss_kib']) if end.get('rss_kib') else '?'}, "
                           f"{end.get('fds')} fds")
        details.append(f"- soak {db}: disk fill {json.dumps(fill)}")
        details.append(f"- soak {db}: left over {json.dumps(lo)}")
        details.append(f"- soak {db}: server log: {r['log']['errors']} ERROR, {r['log']['warnings']} WARN, "
                       f"{r['log']['panics']} panics; most frequent:")
        for e in r["log"].get("top", [])[:10]:
            details.append(f"  - {e}")


def comments(rows, info, table, notes, details, busy_note):
    """10. A video's comment threads under load (SQLite and PostgreSQL); 11. a new comment's
    `Create(Note)` to the 200 follower inboxes of the video's channel."""
    api = [r for r in rows if r.get("kind") == "comments_api"]
    for db in ("sqlite", "postgres"):
        dbname = "SQLite" if db == "sqlite" else "PostgreSQL"
        for r in (r for r in api if r["db"] == db):
            sort = r["endpoint"] == "threads_by_replies"
            what = f"comment threads{' by replies' if sort else ''} on {db}"
            busy_note(r, what)
            bad = r.get("non2xx") or r.get("socket_errors")
            if bad:
                notes.append(f"{what}: {r.get('non2xx', 0)} non-2xx answers, {r.get('socket_errors', 0)} socket errors.")
            p99 = r.get("p99_ms")
            fl = f"{num(r['rps'])} req/s, p99 {p99:.1f} ms" if isinstance(p99, (int, float)) else "no answer"
            if r.get("requests") and isinstance(r.get("server_cpu_s"), (int, float)):
                # The CPU time per request hardly moves with the machine's load, unlike the latency.
                cpu_ms = 1000 * (r["server_cpu_s"] + (r.get("db_cpu_s") or 0)) / r["requests"]
                fl += f" ({cpu_ms:.1f} ms CPU a request{' with PostgreSQL' if 'db_cpu_s' in r else ''})"
            if not sort:
                limit = 20  # ms, the target for a page of threads
                label = (f"10. `GET /api/v1/videos/:id/comment-threads?count=20`, {dbname}, a video with "
                         f"{num(r['comments'])} comments ({num(r['threads'])} threads)")
                if isinstance(p99, (int, float)):
                    table.append((label, fl, "—", f"p99 {p99 / limit:.2f} of target", f"p99 < {limit} ms",
                                  verdict(p99 < limit and not bad)))
                else:
                    table.append((label, fl, "—", "—", f"p99 < {limit} ms", verdict(False)))
            cpu = ""
            if r.get("requests") and isinstance(r.get("server_cpu_s"), (int, float)):
                cpu = f"; CPU per request: Flotilla {1000 * r['server_cpu_s'] / r['requests']:.2f} ms"
                if isinstance(r.get("db_cpu_s"), (int, float)):
                    cpu += f", PostgreSQL {1000 * r['db_cpu_s'] / r['requests']:.2f} ms"
            details.append(f"- {'`&sort=-totalReplies`' if sort else 'comment threads'} on {db} "
                           f"({num(r['comments'])} comments, {r.get('page_bytes', '?')} B a page): "
                           f"{num(r['rps'])} req/s; one request alone {r.get('single_ms', 0):.1f} ms; under load p50 "
                           f"{ms(r.get('p50_ms'))}, p99 {ms(p99)}, {r.get('requests', 0)} requests{cpu}; "
                           f"others' CPU {r.get('other_cpu', '?')}%")
    for r in rows:
        if r.get("kind") == "comments_rss":
            details.append(f"- RSS after the {r['db']} comment runs: {mib(r['rss_kib'])} (peak {mib(r['hwm_kib'])}); "
                           f"seeding took {r.get('seed_seconds', '?')} s; {r.get('authors', '?')} authors")
    setup = next((r for r in rows if r.get("kind") == "comment_fanout_setup"), None)
    fan = [r for r in rows if r.get("kind") == "comment_fanout"]
    failed = [r for r in rows if r.get("kind") == "federation_error" and r.get("step") == "comments"]
    label = "11. comment fan-out: a comment posted through the API, its `Create(Note)` to the {n} follower " \
            "inboxes of the video's channel on {h} hosts (loopback, signatures verified), until the last arrived"
    if setup:
        details.append(f"- comment fan-out set-up: {setup['actors']} follower actors of the channel on "
                       f"{setup['hosts']} stand-in hosts; Follows sent in {seconds(setup.get('follows_sent_seconds'))} "
                       f"(POST p50 {ms(setup.get('follow_p50_ms'))}, p99 {ms(setup.get('follow_p99_ms'))}), all "
                       f"Accepts after {seconds(setup.get('accepts_seconds'))}; followersCount "
                       f"{setup.get('followers_count')}; the video transcoded in "
                       f"{seconds(setup.get('transcode_seconds'))}, its Creates and Announces all arrived "
                       f"{seconds(setup.get('video_deliveries_seconds'))} after; the commenter's actor document "
                       f"(its key pair made) answered in {setup.get('actor_document_ms')} ms; Flotilla's keys "
                       f"fetched by the stand-in: {setup.get('key_fetches')}")
        if setup.get("sig_failures"):
            notes.append(f"comment fan-out: {setup['sig_failures']} deliveries failed the stand-in's signature "
                         f"check, e.g. {json.dumps(setup.get('failure_examples', [])[:1])}")
    if fan:
        worst = max(fan, key=lambda r: r["seconds"] if isinstance(r.get("seconds"), (int, float)) else float("inf"))
        n = worst.get("inboxes", 200)
        sig = setup["sig_failures"] if setup else sum(r.get("sig_failures", 0) for r in fan)
        complete = all(r.get("delivered") == r.get("inboxes") for r in fan)
        t = worst.get("seconds")
        if isinstance(t, (int, float)):
            fig = f"{t:.2f} s (p50 {worst['p50_seconds']:.2f} s, p95 {worst['p95_seconds']:.2f} s)"
            ratio = f"{t / 5:.2f} of target"
        else:
            fig = f"{worst.get('delivered')} of {n} delivered in {worst.get('waited_seconds')} s"
            ratio = "—"
        table.append((label.format(n=n, h=setup["hosts"] if setup else 20) +
                      (f" (slower of {len(fan)} rounds)" if len(fan) > 1 else ""),
                      fig + (f", {sig} bad signatures" if sig else ""), "—", ratio, "< 5 s",
                      verdict(complete and sig == 0 and isinstance(t, (int, float)) and t < 5)))
        for r in fan:
            busy_note(r, f"comment fan-out round {r['round']}")
            if r.get("delivered") != r.get("inboxes"):
                notes.append(f"comment fan-out round {r['round']}: only {r.get('delivered')} of {r.get('inboxes')} "
                             f"Create(Note)s arrived within {r.get('waited_seconds')} s")
            if r.get("duplicates"):
                notes.append(f"comment fan-out round {r['round']}: {r['duplicates']} inboxes got the Create(Note) "
                             "more than once")
            details.append(
                f"- comment fan-out round {r['round']} (a {r.get('what')}): {r.get('delivered')}/{r.get('inboxes')} "
                f"Create(Note)s, the last {seconds(r.get('seconds'))} after the POST's answer "
                f"({seconds(r.get('from_request_seconds'))} after its request; the POST took {r.get('post_ms')} ms, "
                f"{r.get('before_answer', 0)} arrived before its answer), first {seconds(r.get('first_seconds'))}, "
                f"p50 {seconds(r.get('p50_seconds'))}, p95 {seconds(r.get('p95_seconds'))}; duplicates "
                f"{r.get('duplicates', 0)}; bad signatures {r.get('sig_failures', 0)}; everything the inboxes got "
                f"{json.dumps(r.get('arrivals_by_kind', {}))}; others' CPU {r.get('other_cpu', '?')}%")
            if r.get("per_host_rank_seconds"):
                details.append(f"- comment fan-out round {r['round']}, per host: the 1st, 2nd, … Create(Note) to a "
                               f"host arrived after {', '.join(f'{x:.2f}' for x in r['per_host_rank_seconds'])} s "
                               "(medians over the hosts)")
    elif failed:
        table.append((label.format(n=200, h=20), "failed (see Warnings)", "—", "—", "< 5 s", verdict(False)))
    rss = next((r for r in rows if r.get("kind") == "comment_fanout_rss"), None)
    if rss:
        details.append(f"- RSS of the comment fan-out instance at the end: {mib(rss['rss_kib'])} "
                       f"(peak {mib(rss['hwm_kib'])})")


def edge(rows, table, notes, details, busy_note):
    """12. The edge cache: A's segment bytes in copies for N viewers on B, cache on and off; time
    to first segment of a cached remote video vs a local one; a hot segment from the edge cache vs
    the local file."""
    if any(r.get("kind") == "edge_error" for r in rows):
        notes.append("edge cache benchmark (12) failed: see scripts/bench-lib/edge.sh's output")
    off = {r["viewers"]: r for r in rows if r.get("kind") == "edge_offload" and r["cache"] == "off"}
    for r in sorted((r for r in rows if r.get("kind") == "edge_offload" and r["cache"] == "on"), key=lambda r: r["viewers"]):
        n = r["viewers"]
        o = off.get(n, {})
        # record() keeps JSON's true as the text "true".
        ok = r.get("errors") == 0 and str(r.get("identical")).lower() == "true"
        if not ok:
            notes.append(f"edge cache, {n} viewers: {r.get('errors')} viewer errors ({r.get('first_error')}), "
                         f"identical bytes: {r.get('identical')}")
        copies = r.get("copies")
        table.append((f"12a. edge cache, {n} viewer{'s' if n > 1 else ''} on B of A's video: segment bytes A served, in copies",
                      f"{copies:.2f} copies" if copies is not None else "—",
                      f"cache off {o['copies']:.2f} copies" if isinstance(o.get("copies"), (int, float)) else "—",
                      f"{copies / 1.1:.2f} of target" if copies is not None else "—", "≤ 1.1 copies",
                      verdict(copies is not None and copies <= 1.1 and ok)))
        details.append(f"- edge cache, {n} viewers: on: A served {num(r['origin_segment_bytes'])} B "
                       f"(one copy {num(r['one_copy_bytes'])} B), time to first segment p50 {r.get('ttfs_p50_ms')} ms, "
                       f"max {r.get('ttfs_max_ms')} ms, {r.get('wall_s')} s; off: A served "
                       f"{num(o.get('origin_segment_bytes', 0))} B, time to first segment p50 {o.get('ttfs_p50_ms')} ms, "
                       f"max {o.get('ttfs_max_ms')} ms; errors on/off {r.get('errors')}/{o.get('errors', '—')}")
    t = {r["video"]: r for r in rows if r.get("kind") == "edge_ttfs"}
    if "edge" in t and "local" in t and t["edge"].get("ttfs_p50_ms") and t["local"].get("ttfs_p50_ms"):
        e, loc = t["edge"]["ttfs_p50_ms"], t["local"]["ttfs_p50_ms"]
        table.append(("12b. time to first segment on B (master, rendition playlist, init, first segment; median of "
                      f"{t['edge']['n']}), a cached remote video", f"{e:.1f} ms", f"B's local video {loc:.1f} ms",
                      f"{e / loc:.2f}×", "≤ 1.2×", verdict(e / loc <= 1.2)))
    serve = [r for r in rows if r.get("kind") == "edge_serve"]
    best = {}
    for r in serve:
        busy_note(r, f"edge cache hot segment ({r['video']}, round {r['round']})")
        if r.get("rps", 0) > best.get(r["video"], {}).get("rps", 0):
            best[r["video"]] = r
        details.append(f"- hot segment on B, {r['video']} ({r.get('range')}), round {r['round']}: {num(r.get('rps', 0))} req/s, "
                       f"p99 {ms(r.get('p99_ms'))}, others' CPU {r.get('other_cpu', '?')}%")
    if "edge" in best and "local" in best:
        e, loc = best["edge"]["rps"], best["local"]["rps"]
        table.append((f"12c. a hot segment ({best['edge'].get('range')}) from B's edge cache, req/s", f"{num(e)} req/s",
                      f"B's local file {num(loc)} req/s", f"{e / loc:.2f}×", "≥ 0.9×", verdict(e / loc >= 0.9)))
    for r in rows:
        if r.get("kind") == "edge_rss":
            details.append(f"- B after the edge runs: RSS {mib(r['rss_kib'])} (peak {mib(r['hwm_kib'])}), "
                           f"{r.get('edge_files', '?')} files in its edge cache")


def storage(rows, table, notes, details, busy_note):
    """15. Object storage: a public segment from Garage's website endpoint vs Flotilla's local
    file; a private one streamed by Flotilla from the store vs from its disk. Figures."""
    if any(r.get("kind") == "storage_error" for r in rows):
        notes.append("object storage benchmark (15) failed: see scripts/bench-lib/storage.sh's output")
    best = {}
    for r in (r for r in rows if r.get("kind") == "storage_serve"):
        key = (r["file"], r["from"])
        busy_note(r, f"object storage, {r['file']} segment from {r['from']} (round {r['round']})")
        if r.get("rps", 0) > best.get(key, {}).get("rps", 0):
            best[key] = r
        details.append(f"- {r['file']} segment ({r.get('range')}) from {r['from']}, round {r['round']}: "
                       f"{num(r.get('rps', 0))} req/s, p99 {ms(r.get('p99_ms'))}, others' CPU {r.get('other_cpu', '?')}%")
    for file, label, ref in (("public", "15a. a public segment from Garage's website endpoint", "Flotilla's local file"),
                             ("private", "15b. a private segment streamed by Flotilla from Garage", "from its disk")):
        s, loc = best.get((file, "store")), best.get((file, "local"))
        if s and loc:
            table.append((f"{label}, req/s", f"{num(s['rps'])} req/s", f"{ref} {num(loc['rps'])} req/s",
                          f"{s['rps'] / loc['rps']:.2f}×", "(figure)", "figure"))


def processes(rows, table, notes, details, busy_note):
    """16. The video list through nginx, one web process vs two on one PostgreSQL. A figure: on
    2 cores the second process shares the cores, so it shows overhead rather than scaling."""
    if any(r.get("kind") == "processes_error" for r in rows):
        notes.append("several-processes benchmark (16) failed: see scripts/bench-lib/processes.sh's output")
    best = {}
    for r in (r for r in rows if r.get("kind") == "processes"):
        n = r["web_processes"]
        busy_note(r, f"{n} web process(es), round {r['round']}")
        if r.get("rps", 0) > best.get(n, {}).get("rps", 0):
            best[n] = r
        details.append(f"- {n} web process(es) behind nginx, round {r['round']}: {num(r.get('rps', 0))} req/s, "
                       f"p99 {ms(r.get('p99_ms'))}, the processes' CPU {r.get('server_cpu_s', '?')} s")
    if 1 in best and 2 in best:
        two, one = best[2], best[1]
        table.append(("16. GET /api/v1/videos?count=25 through nginx, two web processes on one PostgreSQL "
                      "(10,000 videos; 2 cores: overhead, not scaling), req/s",
                      f"{num(two['rps'])} req/s (p99 {ms(two.get('p99_ms'))})",
                      f"one process {num(one['rps'])} req/s (p99 {ms(one.get('p99_ms'))})",
                      f"{two['rps'] / one['rps']:.2f}×", "(figure)", "figure"))


def runners(rows, table, notes, details, busy_note):
    """17. The same videos transcoded by the server's workers, by 1 and by 2 remote runners on this
    machine. Figures: on 2 cores the runners share the cores with the server."""
    if any(r.get("kind") == "runners_error" for r in rows):
        notes.append("remote runners benchmark (17) failed: see scripts/bench-lib/runners.sh's output")
    by = {r["runners"]: r for r in rows if r.get("kind") == "runners"}
    for n, r in sorted(by.items()):
        busy_note(r, f"{n} runner(s)")
        details.append(f"- {n} runner(s): {r['videos']} videos of {r['renditions']} renditions in {r['seconds']} s")
    local = by.get(0)
    for n in (1, 2):
        r = by.get(n)
        if local and r:
            table.append((f"17. {r['videos']} videos ({r['renditions']} renditions each) transcoded by "
                          f"{n} remote runner{'s' if n > 1 else ''} on this machine "
                          "(2 cores: the protocol's cost, not scaling), seconds",
                          f"{r['seconds']} s", f"the server's own workers {local['seconds']} s",
                          f"{local['seconds'] / r['seconds']:.2f}× the throughput", "(figure)", "figure"))


def startup(rows, table, notes, details, busy_note):
    """18. How soon `flotilla serve` answers after a start on an existing SQLite database."""
    for r in rows:
        if r.get("kind") == "startup_error":
            notes.append(f"start-up benchmark (18) failed: {r.get('message')}")
    r = next((r for r in rows if r.get("kind") == "startup"), None)
    if not r:
        return
    busy_note(r, "start-up")
    details.append(f"- start-up: each start to its first answer, ms: {r.get('runs')}; the first start (a new "
                   f"database: migrations, the admin's password hashed) {r.get('first_ms')} ms")
    table.append(("18. start-up: `flotilla serve` to its first answer on an existing SQLite database, median of "
                  f"{len(json.loads(r['runs'])) if isinstance(r.get('runs'), str) else '?'} starts",
                  f"{r['median_ms']:.0f} ms", f"min {r['min_ms']:.0f}, max {r['max_ms']:.0f} ms", "—", "≤ 100 ms",
                  verdict(r["median_ms"] <= 100)))


def moderation(rows, table, notes, details, busy_note):
    """13. The inbox refusing a blocked server's signed activities, vs malformed requests."""
    for r in rows:
        if r.get("kind") == "federation_error" and r.get("step") == "blocked":
            notes.append(f"moderation benchmark (13) failed: {r.get('message')}")
    ph = {r["phase"]: r for r in rows if r.get("kind") == "blocked"}
    summary = next((r for r in rows if r.get("kind") == "blocked_summary"), None)
    for r in ph.values():
        busy_note(r, f"inbox refusal, {r['phase']}")
        details.append(f"- inbox refusal, {r['phase']}: {r['requests']} requests, p50 {ms(r.get('p50_ms'))}, p95 "
                       f"{ms(r.get('p95_ms'))}, p99 {ms(r.get('p99_ms'))}, max {ms(r.get('max_ms'))}, {r.get('rps')} req/s, "
                       f"{r.get('unexpected')} not answered {r.get('expected')}; others' CPU {r.get('other_cpu', '?')}%")
        if r.get("unexpected"):
            notes.append(f"inbox refusal, {r['phase']}: {r['unexpected']} of {r['requests']} requests were not "
                         f"answered {r.get('expected')}")
    b, m = ph.get("blocked"), ph.get("malformed")
    if b and isinstance(b.get("p99_ms"), (int, float)):
        clean = not b.get("unexpected") and summary is not None and summary.get("fetches") == 0 \
            and summary.get("videos_before") == summary.get("videos_after")
        ref = m.get("p99_ms") if m else None
        ratio = b["p99_ms"] / ref if isinstance(ref, (int, float)) and ref > 0 else None
        table.append((f"13. inbox: refusing {b['requests']} signed `Create(Video)`s of a blocked server, p99",
                      f"{b['p99_ms']:.2f} ms", f"malformed request {ref:.2f} ms" if ref is not None else "—",
                      f"{ratio:.2f}×" if ratio is not None else "—", "p99 < 1 ms, ≤ 1.1× malformed",
                      verdict(clean and b["p99_ms"] < 1 and (ratio is None or ratio <= 1.1))))
    if summary:
        details.append(f"- inbox refusal: the blocked server was fetched {summary.get('fetches')} times; remote videos "
                       f"listed before {summary.get('videos_before')}, after {summary.get('videos_after')}")
        if summary.get("fetches"):
            notes.append(f"inbox refusal: the blocked server was fetched {summary['fetches']} times (0 expected)")


def live(rows, info, machine, table, notes, details, busy_note):
    """14. Lives: latency from a frame entering the RTMP push to its segment being listed, per
    latency mode; the CPU of a live ladder, Flotilla with its ffmpeg vs the same command bare."""
    for r in rows:
        if r.get("kind") == "live_error":
            notes.append(f"live benchmark (14), {r.get('step')}: FAILED: {r.get('message')}")
    if "live_settings" in info:
        details.append(f"- lives: {info['live_settings']}")

    def checks(r, what):
        busy_note(r, what)
        states = (r.get("state_before"), r.get("state_during"), r.get("state_after"))
        if states != (4, 1, 5):
            notes.append(f"{what}: the video's state was {states[0]} before the push, {states[1]} during it (the last "
                         f"seen: it is looked at until it is 1), {states[2]} after it (4, 1, 5 expected)")
        if r.get("args_identical") is False:
            notes.append(f"{what}: the server's live ffmpeg ran `{r.get('server_args')}`, live.py reproduces "
                         f"`{r.get('expected_args')}`: update live.py")
        elif r.get("args_identical") is None:
            notes.append(f"{what}: the server's live ffmpeg was not found among the children of `flotilla serve`")
        if r.get("server_ffmpeg_left"):
            notes.append(f"{what}: {r['server_ffmpeg_left']} ffmpeg children of `flotilla serve` were still running "
                         "after the session ended")
        if r.get("poll_errors"):
            notes.append(f"{what}: {r['poll_errors']} of {r.get('polls')} playlist requests failed")
        if r.get("gaps"):
            notes.append(f"{what}: {r['gaps']} gaps in the segment numbers seen (a segment left the window unseen)")

    names = {"default": ("default", 1), "small": ("small latency", 3), "high": ("high latency", 2)}
    lat = {r["mode"]: r for r in rows if r.get("kind") == "live_latency"}
    for mode in ("default", "small", "high"):
        r = lat.get(mode)
        if not r:
            continue
        what = f"live latency, {names[mode][0]} mode"
        checks(r, what)
        seg = r["segment_seconds"]
        target = 2 * seg + 1
        pdt = (r.get("pdt_p50"), r.get("pdt_p95"))
        push = (r.get("pusher_p50"), r.get("pusher_p95"))
        have = all(isinstance(x, (int, float)) for x in pdt + push)
        # The program date time is the server's ffmpeg's clock when it began the segment: it leaves out
        # the way from the push to it. When the two measures disagree by more than 1 s, the pusher's counts.
        disagree = have and (abs(pdt[0] - push[0]) > 1 or abs(pdt[1] - push[1]) > 1)
        used, (p50, p95) = ("pusher-side", push) if disagree else ("program date time", pdt)
        n = r.get("segments_measured", 0)
        label = (f"14a. live latency, {names[mode][0]} mode ({seg} s segments, {r['seconds']} s push): a frame entering "
                 f"the RTMP push → its segment listed in the 720p playlist, median and p95 of {n} segments "
                 f"(the first {r.get('skip', 2)} left out)")
        if have and n:
            fig = (f"p50 {p50:.2f} s, p95 {p95:.2f} s ({used}; PDT {pdt[0]:.2f}/{pdt[1]:.2f} s, pusher-side "
                   f"{push[0]:.2f}/{push[1]:.2f} s)")
            if mode == "high":
                table.append((label, fig, "—", "—", f"(figure; ≤ {target} s)", "figure"))
            else:
                table.append((label, fig, "—", f"p95 {p95 / target:.2f} of target", f"p95 ≤ {target} s",
                              verdict(p95 <= target)))
        else:
            table.append((label, "no segment measured", "—", "—", f"p95 ≤ {target} s",
                          "figure" if mode == "high" else verdict(False)))
        details.append(
            f"- {what}: {r.get('segments_seen')} segments seen in {r.get('polls')} polls of 0.m3u8 "
            f"({r.get('segments_after_end')} listed after the push ended, left out; the first {r.get('skip', 2)} left out), "
            f"durations {r.get('durations')}; the pusher's media time 0 went out {r.get('push_start_after_launch')} s "
            f"after its launch; the server's first segment began (its PDT) {r.get('server_start_after_push')} s after "
            f"that and was first listed {r.get('first_listed_after_push')} s after it; latency by the program date "
            f"time p50 {r.get('pdt_p50')} s, p95 {r.get('pdt_p95')} s, max {r.get('pdt_max')} s; pusher-side p50 "
            f"{r.get('pusher_p50')} s, p95 {r.get('pusher_p95')} s, max {r.get('pusher_max')} s; the row uses "
            f"{'the pusher-side measure (the two disagree by more than 1 s)' if disagree else 'the program date time (the two agree within 1 s)'}"
            f"; state {r.get('state_before')} → {r.get('state_during')} (published {r.get('aired_after_push')} s after "
            f"the push's start) → {r.get('state_after')} ({r.get('ended_seconds_after_push')} s after the push ended); "
            f"Flotilla's CPU "
            f"{r.get('cpu_per_live_second')} s per live second (with the polling); server ffmpeg arguments as "
            f"live.py's: {'yes' if r.get('args_identical') else 'NO'}; others' CPU {r.get('other_cpu', '?')}%")
        details.append(f"  - per segment [number, PDT latency s, pusher-side latency s, listed after the push ended]: "
                       f"{json.dumps(r.get('per_segment'))}")
    cost = {r["who"]: r for r in rows if r.get("kind") == "live_cost"}
    f, b = cost.get("flotilla"), cost.get("bare")
    if f:
        checks(f, "live cost, Flotilla")
    if b:
        busy_note(b, "live cost, bare ffmpeg")
    if f and b and b.get("cpu_per_live_second"):
        fc, bc = f["cpu_per_live_second"], b["cpu_per_live_second"]
        ratio = fc / bc
        table.append((f"14b. a live's CPU per live second, 720p30 → {info.get('live_ladder', '720/480/360')} "
                      f"({f['seconds']} s): `flotilla serve` with its live ffmpeg vs the same ffmpeg command bare",
                      f"{fc:.3f} s/s", f"bare ffmpeg {bc:.3f} s/s", f"{ratio:.3f}×", "≤ 1.10×",
                      verdict(ratio <= 1.10 and f.get("args_identical") is True)))
        cores = b.get("cores") or machine.get("cores") or 1
        table.append(("14c. lives this machine transcodes in real time: ⌊cores / bare CPU per live second⌋",
                      f"{math.floor(cores / bc)} (Flotilla's figure: {math.floor(cores / fc)})", "—", "—",
                      "(figure)", "figure"))
    for who, r in (("Flotilla", f), ("bare ffmpeg", b)):
        if not r:
            continue
        extra = ""
        if who == "bare ffmpeg":
            extra = (f"; fed {r.get('tags')} FLV tags ({r.get('media_seconds')} s of media, {r.get('width')}x"
                     f"{r.get('height')}) in {r.get('wall_seconds')} s; wrote {', '.join(r.get('playlists', []))}")
        else:
            extra = (f"; state {r.get('state_before')} → {r.get('state_during')} (published "
                     f"{r.get('aired_after_push')} s after the push's start) → {r.get('state_after')}; server "
                     f"ffmpeg arguments as live.py's: {'yes' if r.get('args_identical') else 'NO'}")
        details.append(f"- live cost, {who}: {r.get('cpu_seconds')} s CPU for {r.get('seconds')} s of live "
                       f"({r.get('cpu_per_live_second')} s per live second){extra}; others' CPU {r.get('other_cpu', '?')}%")
    if f and f.get("server_args"):
        details.append(f"- the server's live ffmpeg: `{f['server_args']}`")
    for r in rows:
        if r.get("kind") == "live_rss":
            details.append(f"- RSS of the live instance at the end: {mib(r['rss_kib'])} (peak {mib(r['hwm_kib'])})")


def main():
    results_path, machine_path, out_dir, mode = sys.argv[1:5]
    only = [p for p in re.split(r"[ ,]+", sys.argv[5] if len(sys.argv) > 5 else "") if p]
    rows = load(results_path)
    machine = json.load(open(machine_path))
    info = {r["key"]: r["value"] for r in rows if r.get("kind") == "info"}
    table = []  # (benchmark, flotilla, reference, ratio, target, result)
    notes = []
    details = []

    def busy_note(r, what):
        b = r.get("other_cpu")
        if isinstance(b, (int, float)) and b > NOISY:
            notes.append(f"{what}: other programs used {b:.0f}% of the machine's CPU during the run; "
                         "the figure is noisy.")

    # 1. Idle memory.
    mem = next((r for r in rows if r.get("kind") == "memory"), None)
    if mem:
        idle = mem["idle_kib"] / 1024
        table.append(("1. idle memory of `flotilla serve` (RSS 3 s after start, SQLite)", mib(mem["idle_kib"]), "—",
                      f"{idle / 30:.2f} of target", "< 30 MiB", verdict(idle < 30)))
        details.append(f"- RSS after 100 API requests: {mib(mem['after_kib'])}")
        if "idle_anon_kib" in mem:
            details.append(f"- idle: {mib(mem['idle_anon_kib'])} of it anonymous (the rest: the binary's mapped pages)")
    srss = next((r for r in rows if r.get("kind") == "serve_rss"), None)
    if srss:
        after = srss["rss_kib"] / 1024
        table.append(("1b. memory after the work (RSS after transcoding and the serving benchmark, SQLite)",
                      mib(srss["rss_kib"]), "—", f"{after / 30:.2f} of target", "≤ 30 MiB", verdict(after <= 30)))
        anon = f", {mib(srss['anon_kib'])} anonymous" if "anon_kib" in srss else ""
        details.append(f"- RSS of the instance after transcoding and the serving benchmark: {mib(srss['rss_kib'])} "
                       f"(peak {mib(srss['hwm_kib'])}{anon})")
    settled = next((r for r in rows if r.get("kind") == "settled_rss"), None)
    if settled:
        later = settled["rss_kib"] / 1024
        minutes = f"{int(settled['seconds']) / 60:g} min"
        table.append((f"1c. memory {minutes} after the work (RSS, idle)", mib(settled["rss_kib"]), "—",
                      f"{later / 30:.2f} of target", "≤ 30 MiB", verdict(later <= 30)))
        details.append(f"- RSS {minutes} after the work: {mib(settled['rss_kib'])}, {mib(settled['anon_kib'])} anonymous")

    # 2. Segment serving against nginx: the best round of each server.
    serve = [r for r in rows if r.get("kind") == "serve"]
    cases = [
        ("playlist", "2a. master playlist (.m3u8, {size} B), requests/s", "rps", 0.9),
        ("range200k", "2b. 200 KB byte range of the {res}p fragmented .mp4, requests/s", "rps", 0.8),
        ("range2m", "2c. 2 MB byte range of the {res}p fragmented .mp4, throughput", "bytes_per_s", 0.8),
    ]
    for case, label, metric, target in cases:
        best = {}
        for r in serve:
            if r["case"] != case:
                continue
            busy_note(r, f"{case} ({r['server']}, round {r['round']})")
            if r.get("non2xx") or r.get("socket_errors"):
                notes.append(f"{case} ({r['server']}, round {r['round']}): {r.get('non2xx', 0)} non-2xx answers, "
                             f"{r.get('socket_errors', 0)} socket errors.")
            if r["server"] not in best or r[metric] > best[r["server"]][metric]:
                best[r["server"]] = r
        if "flotilla" not in best or "nginx" not in best:
            continue
        f, n = best["flotilla"][metric], best["nginx"][metric]
        ratio = f / n if n else 0.0
        fmt = rate if metric == "bytes_per_s" else num
        label = label.format(size=info.get("playlist_bytes", "?"), res=info.get("segment_resolution", "?"))
        table.append((label, f"{fmt(f)} (p99 {best['flotilla']['p99_ms']:.1f} ms)",
                      f"nginx {fmt(n)} (p99 {best['nginx']['p99_ms']:.1f} ms)", f"{ratio:.2f}×", f"≥ {target}×",
                      verdict(ratio >= target)))
        for r in sorted((r for r in serve if r["case"] == case), key=lambda r: (r["round"], r["server"])):
            details.append(f"- {case}, round {r['round']}, {r['server']}: {num(r['rps'])} req/s, "
                           f"{rate(r['bytes_per_s'])}, p50 {ms(r['p50_ms'])}, p99 {ms(r['p99_ms'])}, "
                           f"others' CPU {r.get('other_cpu', '?')}%")

    # 3. Transcoding against bare ffmpeg: the best (shortest) run of each.
    runs = [r for r in rows if r.get("kind") == "transcode"]
    tr = {}
    for r in runs:
        if r["who"] not in tr or r["seconds"] < tr[r["who"]]["seconds"]:
            tr[r["who"]] = r
    if "bare" in tr and "flotilla" in tr:
        b, f = tr["bare"], tr["flotilla"]
        ratio = f["seconds"] / b["seconds"]
        clip = info.get("clip_seconds", "?")
        short = "" if str(clip) == "60" else f" (shortened clip: {clip} s instead of 60 s)"
        table.append((f"3. transcode a {clip} s 1080p30 clip to {info.get('renditions', '?')} + thumbnail{short}, "
                      "wall-clock", f"{f['seconds']:.1f} s", f"bare ffmpeg {b['seconds']:.1f} s", f"{ratio:.3f}",
                      "≤ 1.10", verdict(ratio <= 1.10)))
        if f.get("cpu_seconds") and b.get("cpu_seconds"):
            cratio = f["cpu_seconds"] / b["cpu_seconds"]
            table.append(("3b. the same, CPU time (user + system, Flotilla with its ffmpeg children)",
                          f"{f['cpu_seconds']:.1f} s", f"bare ffmpeg {b['cpu_seconds']:.1f} s", f"{cratio:.3f}",
                          "—", "figure"))
        for r in sorted(runs, key=lambda r: (r.get("round", 1), r["who"])):
            busy_note(r, f"transcode ({r['who']}, round {r.get('round', 1)})")
            extra = ""
            if r["who"] == "flotilla":
                extra = (f"; published (first rendition) {r.get('first_published_seconds', 0):.1f} s after the upload"
                         f", which itself took {r.get('upload_seconds', 0):.1f} s")
            details.append(f"- transcode, round {r.get('round', 1)}, {r['who']}: {r['seconds']:.1f} s, CPU "
                           f"{r.get('cpu_seconds', 0):.1f} s, others' CPU {r.get('other_cpu', '?')}%{extra}")
        details.append(f"- bare ffmpeg steps (last run): {info.get('bare_steps', '?')}")
        details.append(f"- rendition sizes Flotilla/bare identical: {info.get('renditions_identical', '?')} "
                       f"({info.get('rendition_sizes', '?')})")

    # 3c. The ladder in one ffmpeg vs the sequential pipeline before: the best run of each.
    ladder = [r for r in rows if r.get("kind") == "ladder"]
    for clip in ("720p", "1080p"):
        best = {}
        for r in ladder:
            if r["clip"] == clip and (r["mode"] not in best or r["seconds"] < best[r["mode"]]["seconds"]):
                best[r["mode"]] = r
        if "ladder" not in best or "sequential" not in best:
            continue
        n, o = best["ladder"], best["sequential"]
        ratio = n["seconds"] / o["seconds"] if o["seconds"] else 0.0
        length = "30 s 720p30" if clip == "720p" else f"{info.get('clip_seconds', '?')} s 1080p30"
        target, ok = ("≤ 0.60", ratio <= 0.60) if clip == "720p" else ("—", None)
        table.append((f"3c. full ladder of a {length} clip, one pass (bare ffmpeg), vs the sequential pipeline",
                      f"{n['seconds']:.1f} s", f"sequential {o['seconds']:.1f} s", f"{ratio:.2f}", target,
                      verdict(ok) if ok is not None else "figure"))
        table.append((f"3d. {clip}: first rendition ready, one pass vs sequential",
                      f"{n['first_rendition_seconds']:.1f} s", f"sequential {o['first_rendition_seconds']:.1f} s",
                      f"{n['first_rendition_seconds'] / max(o['first_rendition_seconds'], 0.001):.2f}", "≤ 1.00",
                      verdict(n["first_rendition_seconds"] <= o["first_rendition_seconds"] * 1.05)))
        for r in sorted((r for r in ladder if r["clip"] == clip), key=lambda r: (r["round"], r["mode"])):
            busy_note(r, f"ladder {clip} ({r['mode']}, round {r['round']})")
            details.append(f"- ladder {clip}, round {r['round']}, {r['mode']}: {r['seconds']:.1f} s, first rendition "
                           f"{r['first_rendition_seconds']:.1f} s, CPU {r.get('cpu_seconds', 0):.1f} s")

    # 4. API throughput.
    api = [r for r in rows if r.get("kind") == "api"]
    names = {"list": "GET /api/v1/videos?count=25", "views": "GET /api/v1/videos?count=25&sort=-views",
             "likes": "GET /api/v1/videos?count=25&sort=-likes", "trending": "GET /api/v1/videos?count=25&sort=-trending",
             "tag": "GET /api/v1/videos?count=25&tagsOneOf=<a tag of 1 %>",
             "search": "GET /api/v1/search/videos?search=<a word of 0.5 %>&count=25",
             "deep": "GET /api/v1/videos?count=25&start=50000", "get": "GET /api/v1/videos/<random id>"}
    for db in ("sqlite", "postgres"):
        for endpoint in names:
            for r in sorted((r for r in api if r["db"] == db and r["endpoint"] == endpoint), key=lambda r: r["videos"]):
                busy_note(r, f"{names[endpoint]} on {db} at {r['videos']} videos")
                bad = r.get("non2xx") or r.get("socket_errors")
                if bad:
                    notes.append(f"{names[endpoint]} on {db} at {r['videos']}: {r.get('non2xx', 0)} non-2xx answers, "
                                 f"{r.get('socket_errors', 0)} socket errors.")
                p99 = r.get("p99_ms")
                at_target = r["videos"] >= 100_000
                limit = 50 if endpoint == "deep" else 20
                fl = f"{num(r['rps'])} req/s, p99 {p99:.1f} ms" if isinstance(p99, (int, float)) else "no answer"
                dbname = "SQLite" if db == "sqlite" else "PostgreSQL"
                label = f"4. {names[endpoint]}, {dbname}, {r['videos'] // 1000}k videos"
                if at_target and isinstance(p99, (int, float)):
                    table.append((label, fl, "—", f"p99 {p99 / limit:.2f} of target", f"p99 < {limit} ms",
                                  verdict(p99 < limit and not bad)))
                else:
                    table.append((label, fl, "—", "—", "(at 100k)", "figure"))
                found = f" ({r['found']} found)" if "found" in r else ""
                details.append(f"- {names[endpoint]} on {db} at {r['videos']} videos{found}: one request alone "
                               f"{r.get('single_ms', 0):.1f} ms; under load p50 {ms(r.get('p50_ms'))}, "
                               f"p99 {ms(p99)}, {r.get('requests', 0)} requests, "
                               f"others' CPU {r.get('other_cpu', '?')}%")
    for r in rows:
        if r.get("kind") == "api_rss":
            details.append(f"- RSS after the {r['db']} API runs at {r['videos']} videos: {mib(r['rss_kib'])} "
                           f"(peak {mib(r['hwm_kib'])}); seeding took {r.get('seed_seconds', '?')} s")
    federation(rows, info, table, notes, details, busy_note)
    tracker(rows, info, table, notes, details, busy_note)
    web(rows, table, notes)
    offload(rows, table, notes)
    soak(rows, info, table, notes, details)
    comments(rows, info, table, notes, details, busy_note)
    edge(rows, table, notes, details, busy_note)
    storage(rows, table, notes, details, busy_note)
    processes(rows, table, notes, details, busy_note)
    runners(rows, table, notes, details, busy_note)
    startup(rows, table, notes, details, busy_note)
    moderation(rows, table, notes, details, busy_note)
    live(rows, info, machine, table, notes, details, busy_note)
    for key in ("skipped",):
        if key in info:
            notes.append(f"skipped: {info[key]}")

    # Output.
    now = datetime.datetime.now()
    header = ["benchmark", "Flotilla", "reference", "ratio", "target", "result"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in table]
    mdesc = [
        f"- CPU: {machine.get('cpu')} ({machine.get('cores')} cores)",
        f"- RAM: {machine.get('ram_kib', 0) / 1024 / 1024:.1f} GiB",
        f"- kernel: {machine.get('kernel')}; {machine.get('os')}",
        f"- flotilla: {machine.get('flotilla')}{' (' + machine['source'] + ')' if machine.get('source') else ''}",
        f"- nginx: {machine.get('nginx')}; wrk: {machine.get('wrk')}; ffmpeg: {machine.get('ffmpeg')}; "
        f"PostgreSQL: {info.get('postgres_version', machine.get('postgres', '—'))}",
        f"- load average at start: {' '.join(machine.get('loadavg', []))}; other programs' share of the CPU "
        f"at start: {info.get('other_cpu_at_start', '?')}%",
    ]
    settings = info.get("settings", "")
    part = f", {' and '.join(only)} only" if only else ""
    md = [f"# Flotilla benchmarks, {now:%Y-%m-%d %H:%M} ({mode} run{part})", "",
          "Produced by `make bench" + (" BENCH=quick" if mode == "quick" else "") + "` (scripts/bench); "
          "see bench/README.md for what each line measures.", "",
          "## Machine", "", *mdesc, "", f"Settings: {settings}", "", "## Results", "", *lines, ""]
    if notes:
        md += ["## Warnings", "", *[f"- {n}" for n in notes], ""]
    md += ["## Details", "", *details, ""]
    os.makedirs(out_dir, exist_ok=True)
    suffix = ("" if mode == "full" else f"-{mode}") + "".join(f"-{p}" for p in only)
    base = os.path.join(out_dir, f"{now:%Y-%m-%d}-{short_machine(machine)}{suffix}")
    # A second run of the same parts on the same day gets its own file: an earlier one may carry
    # what was written into it by hand after its run (profiles, findings).
    path, k = f"{base}.md", 1
    while os.path.exists(path):
        k += 1
        path = f"{base}-{k}.md"
    with open(path, "w") as f:
        f.write("\n".join(md))
    print("\n".join(["", *mdesc, "", *lines, ""]))
    if notes:
        print("Warnings:")
        print("\n".join(f"- {n}" for n in notes))
        print()
    print(f"written to {path}")


if __name__ == "__main__":
    main()
