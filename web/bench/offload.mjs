// Benchmark (never part of the tests): how much segment traffic P2P takes off the origin. For 3 and
// 5 viewers (separate Chromium browsers, joining 4 s apart, one 30 s 240p video), P2P on and then
// off (the instance's `FLOTILLA_P2P_ENABLED=false`), it prints per viewer the segment bytes from HTTP
// and from peers, and the segment bytes the origin itself counted serving (`/metrics`). Target: the later viewers get ≥ 60 % from peers.
//
// Must run in a loopback-only network namespace, as root:
//   unshare -n sh -c 'ip link set lo up && FLOTILLA_BIN=… node bench/offload.mjs'
// Prints one JSON line per run, then a summary line; exits non-zero if a run could not finish.

import { mkdtempSync, rmSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { adminToken, uploadAndWait } from '../tests/support/api.mjs';
import { CHROMIUM, makeClip, startInstance } from '../tests/support/instance.mjs';

const SECONDS = 30;
const STAGGER_MS = 4_000;
const sizes = (process.env.OFFLOAD_VIEWERS ?? '3,5').split(',').map(Number);

if (Object.keys(networkInterfaces()).some((n) => n !== 'lo')) {
  console.error('offload: run inside a loopback-only network namespace (unshare -n), as root');
  process.exit(2);
}

async function viewer(base, uuid) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required'],
  });
  const context = await browser.newContext({ baseURL: base, viewport: { width: 640, height: 360 } });
  await context.grantPermissions(['camera', 'microphone'], { origin: base });
  await context.addInitScript(() => {
    try {
      localStorage.setItem('flotilla.muted', '1');
    } catch {
      // about:blank has no storage
    }
  });
  const page = await context.newPage();
  await page.goto(`/videos/embed/${uuid}?autoplay=1`);
  return { browser, page };
}

const state = (page) =>
  page.evaluate(() => {
    const v = document.querySelector('video');
    const s = window.__flotillaP2P ?? {};
    return { t: v?.currentTime ?? 0, ended: v?.ended ?? false, http: s.segmentBytesHttp ?? 0, p2p: s.segmentBytesP2P ?? 0 };
  });

async function run(n, p2p) {
  const work = mkdtempSync(join(tmpdir(), 'flotilla-offload-'));
  const instance = await startInstance({ FLOTILLA_TRANSCODING_RESOLUTIONS: '240', FLOTILLA_P2P_ENABLED: String(p2p) });
  const viewers = [];
  try {
    const token = await adminToken(instance.url);
    const video = await uploadAndWait(instance.url, token, makeClip(work, SECONDS, '426x240'), 'Offload', 1);
    for (let i = 0; i < n; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, STAGGER_MS));
      viewers.push(await viewer(instance.url, video.uuid));
    }
    const deadline = Date.now() + (SECONDS + 90) * 1000;
    let states;
    for (;;) {
      states = await Promise.all(viewers.map((v) => state(v.page)));
      if (states.every((s) => s.ended || s.t >= SECONDS - 3)) break;
      if (Date.now() > deadline) throw new Error(`viewers did not finish: ${JSON.stringify(states)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const share = (s) => s.p2p / Math.max(1, s.p2p + s.http);
    // The origin's own count of the segment bytes it answered (after the viewers are gone).
    for (const v of viewers) await v.browser.close().catch(() => undefined);
    const metrics = await (await fetch(`${instance.url}/metrics`)).text();
    const served = Number(metrics.match(/^flotilla_hls_served_bytes_total\{kind="segment"\} (\d+)/m)?.[1] ?? NaN);
    if (!Number.isFinite(served)) throw new Error('/metrics has no flotilla_hls_served_bytes_total{kind="segment"}');
    const result = {
      viewers: n,
      p2p,
      http_bytes: states.map((s) => s.http),
      p2p_bytes: states.map((s) => s.p2p),
      share_from_peers: states.map((s) => Number(share(s).toFixed(3))),
      players_http_bytes: states.reduce((a, s) => a + s.http, 0),
      origin_segment_bytes: served,
    };
    console.log(JSON.stringify(result));
    return result;
  } finally {
    for (const v of viewers) await v.browser.close().catch(() => undefined);
    await instance.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

const results = [];
for (const n of sizes) {
  for (const p2p of [true, false]) results.push(await run(n, p2p));
}
for (const n of sizes) {
  const on = results.find((r) => r.viewers === n && r.p2p);
  const off = results.find((r) => r.viewers === n && !r.p2p);
  const later = on.share_from_peers.slice(1);
  const laterAvg = later.reduce((a, b) => a + b, 0) / Math.max(1, later.length);
  console.log(JSON.stringify({
    summary: true,
    viewers: n,
    origin_bytes_p2p_on: on.origin_segment_bytes,
    origin_bytes_p2p_off: off.origin_segment_bytes,
    origin_ratio: Number((on.origin_segment_bytes / Math.max(1, off.origin_segment_bytes)).toFixed(3)),
    later_viewers_share_from_peers: Number(laterAvg.toFixed(3)),
    limit: Number(((n - 1) / n).toFixed(3)),
    target_met: laterAvg >= 0.6,
  }));
}
