// Viewers share segments over WebRTC: three separate Chromium browsers watch the same video, joining
// a few seconds apart, and the later ones get most segment bytes from the earlier ones; the segment
// bytes the server itself answered stay far below what the three watched, and its /metrics agrees
// with what the players counted; a viewer that sends damaged data (the player's
// test-only `?p2pCorrupt=1` hook, compiled only into the test-hooks build this test serves:
// `npm run test:p2p` makes it) is caught by the others' SHA-256 check and they still play.
//
// Must run in a loopback-only network namespace (`npm run test:p2p` does `unshare -n`): WebRTC
// gathers candidates on every interface once media permission is granted, so only a namespace whose
// sole interface is `lo` keeps the traffic provably on 127.0.0.1 (see the P2P notes).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { adminToken, uploadAndWait } from './support/api.mjs';
import { SCREENSHOTS } from './support/browser.mjs';
import { TEST_HOOKS_BUILD_DIR, makeClip, startInstance } from './support/instance.mjs';
import { assertLoopbackOnly, launchViewer, pct, playbackMetrics as metricsOf, playerState, share } from './support/p2p.mjs';

const MAIN_SECONDS = 60;
const CORRUPT_SECONDS = 30;
const STAGGER_MS = 6_000;

let instance;
let workDir;
const browsers = [];

before(async () => {
  assertLoopbackOnly('tests/p2p.test.mjs');
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-p2p-'));
  // One rendition (240p from a 240p source) so every viewer is in the same swarm.
  instance = await startInstance({ FLOTILLA_TRANSCODING_RESOLUTIONS: '240' }, { webDir: TEST_HOOKS_BUILD_DIR });
});

after(async () => {
  for (const b of browsers) await b.close().catch(() => undefined);
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const viewer = (path, query = '') => launchViewer(instance.url, path, browsers, query);
const state = playerState;

/** Waits until every viewer has played to the end (or past `seconds - 5`). */
async function untilAllPlayed(viewers, seconds) {
  const deadline = Date.now() + (seconds + 60) * 1000;
  for (;;) {
    const states = await Promise.all(viewers.map((v) => state(v.page)));
    if (states.every((s) => s.ended || s.t >= seconds - 5)) return states;
    if (Date.now() > deadline) throw new Error(`not every viewer played to the end: ${JSON.stringify(states.map((s) => ({ t: s.t, ended: s.ended })))}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const playbackMetrics = () => metricsOf(instance.url);

test('three viewers share a video over WebRTC on loopback, and bad peer data is caught', { timeout: 300_000 }, async (t) => {
  const token = await adminToken(instance.url);
  const mainDir = join(workDir, 'main');
  const badDir = join(workDir, 'bad');
  mkdirSync(mainDir);
  mkdirSync(badDir);
  const [main, bad] = await Promise.all([
    uploadAndWait(instance.url, token, makeClip(mainDir, MAIN_SECONDS, '426x240'), 'P2P sharing', 1),
    uploadAndWait(instance.url, token, makeClip(badDir, CORRUPT_SECONDS, '426x240'), 'P2P corruption', 1),
  ]);
  for (const v of [main, bad]) {
    assert.equal(v.streamingPlaylists[0].files.length, 1, 'one rendition expected');
    assert.ok(v.trackerUrls.length > 0, 'the video has no trackerUrls');
  }
  const before = await playbackMetrics();

  await t.test('later viewers get most segment bytes from peers', async () => {
    const viewers = [];
    for (let i = 0; i < 3; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, STAGGER_MS));
      viewers.push(await viewer(`/videos/embed/${main.uuid}`));
    }
    // The stats panel of the last viewer, opened from the settings menu, while it plays.
    const last = viewers[2].page;
    await new Promise((r) => setTimeout(r, 8_000));
    await last.getByRole('button', { name: 'Settings' }).click();
    await last.getByTestId('stats-toggle').check();
    await last.getByRole('button', { name: 'Settings' }).click();
    await last.getByTestId('p2p-stats').waitFor();
    await last.screenshot({ path: `${SCREENSHOTS}p2p-stats.png` });
    assert.equal(await last.getByTestId('stats-p2p').textContent(), 'on');

    const states = await untilAllPlayed(viewers, MAIN_SECONDS);
    const report = states.map((s, i) => `viewer ${i + 1}: ${pct(share(s.stats))} from peers (HTTP ${s.stats.segmentBytesHttp} B, P2P ${s.stats.segmentBytesP2P} B, sent ${s.stats.uploadedBytes} B, ${s.frames} frames)`);
    t.diagnostic(report.join('; '));
    console.log(report.join('\n'));
    for (const s of states) {
      assert.ok(s.stats?.p2pEnabled, 'P2P was not enabled in a viewer');
      assert.equal(s.stats.p2pRejected, 0);
      assert.ok(s.frames >= (MAIN_SECONDS - 5) * 25 * 0.9, `too few frames decoded: ${s.frames}`);
    }
    // Only viewers who join others wait for them before their first HTTP segment.
    assert.deepEqual(states.map((s) => s.stats.httpDelayMs), [0, 1500, 1500], 'initial HTTP delay of each viewer');
    assert.ok(states.some((s) => s.stats.segmentBytesP2P > 0), 'no bytes went peer to peer');
    assert.ok(share(states[2].stats) >= 0.5, `viewer 3 got only ${pct(share(states[2].stats))} from peers`);

    // Leaving the page sends the last report (pagehide); then /metrics sums what the players counted.
    const totals = { p2p: 0, http: 0, uploaded: 0 };
    for (const v of viewers) {
      const s = (await state(v.page)).stats;
      totals.p2p += s.p2pBytes;
      totals.http += s.httpBytes;
      totals.uploaded += s.uploadedBytes;
      await v.page.goto('about:blank');
    }
    let m;
    const deadline = Date.now() + 10_000;
    do {
      await new Promise((r) => setTimeout(r, 500));
      m = await playbackMetrics();
    } while (Date.now() < deadline && m.p2p - before.p2p + m.http - before.http < totals.p2p + totals.http);
    const got = { p2p: m.p2p - before.p2p, http: m.http - before.http, uploaded: m.uploaded - before.uploaded };
    console.log(`players counted ${JSON.stringify(totals)}; /metrics grew by ${JSON.stringify(got)} in ${m.reports - before.reports} reports`);
    assert.deepEqual(got, totals);

    // The origin's own count: at least what players took over HTTP (it counts whole answers, a player
    // only what arrived), and far less than the three of them watched.
    const served = m.servedSegments - before.servedSegments;
    const http = states.reduce((n, s) => n + s.stats.segmentBytesHttp, 0);
    const watched = states.reduce((n, s) => n + s.stats.segmentBytesHttp + s.stats.segmentBytesP2P, 0);
    const size = main.streamingPlaylists[0].files[0].size;
    console.log(`origin served ${served} B of segments (${(served / size).toFixed(2)}× the file) for ${watched} B watched (${(watched / size).toFixed(2)}×)`);
    assert.ok(watched >= 2.5 * size, `the viewers watched only ${watched} B of a ${size} B file`);
    assert.ok(served >= http, `the origin counted ${served} B, less than the ${http} B players took over HTTP`);
    assert.ok(served <= 0.67 * watched, `the origin served ${served} B, not much less than the ${watched} B watched`);
    for (const v of viewers) assert.deepEqual(v.problems, []);
    for (const v of viewers) await v.browser.close();
  });

  await t.test('a viewer sending damaged segments is caught, and the others still play', async () => {
    const viewers = [await viewer(`/videos/embed/${bad.uuid}`, '&p2pCorrupt=1')];
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, STAGGER_MS));
      viewers.push(await viewer(`/videos/embed/${bad.uuid}`));
    }
    const states = await untilAllPlayed(viewers, CORRUPT_SECONDS);
    const report = states.map((s, i) => `viewer ${i + 1}${i === 0 ? ' (corrupting)' : ''}: ${pct(share(s.stats))} from peers, rejected ${s.stats.p2pRejected}, sent ${s.stats.uploadedBytes} B, ${s.frames} frames`);
    console.log(report.join('\n'));
    assert.ok(states[0].stats.uploadedBytes > 0, 'the corrupting viewer sent nothing, so nothing was tested');
    const rejected = states[1].stats.p2pRejected + states[2].stats.p2pRejected;
    assert.ok(rejected > 0, 'no damaged segment was rejected');
    for (const s of states) {
      assert.ok(s.frames >= (CORRUPT_SECONDS - 5) * 25 * 0.9, `too few frames decoded: ${s.frames}`);
      assert.equal(s.stats.errors, 0, 'a player reported an error');
    }
    for (const v of viewers) assert.deepEqual(v.problems, []);
  });
});
