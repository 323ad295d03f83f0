// Viewers share a live over WebRTC: ffmpeg pushes a stream over RTMP as a creator's encoder would,
// and three separate Chromium browsers watch it (the embed, at normal latency), joining a few
// seconds apart. Every one plays the live along its edge without errors; the later ones take part
// of the live's segments from the others, each one checked against the live's
// `segments-sha256.json` (no rejection); the segment bytes the server itself answered stay below
// what the three watched (at most two thirds).
//
// Must run in a loopback-only network namespace, as tests/p2p.test.mjs (`npm run test:p2p`).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { adminToken, call, get, until } from './support/api.mjs';
import { startEncoder } from './support/encoder.mjs';
import { TEST_HOOKS_BUILD_DIR, startInstance } from './support/instance.mjs';
import { assertLoopbackOnly, launchViewer, pct, playbackMetrics, playerState, share } from './support/p2p.mjs';

/** How long ffmpeg streams; the viewers watch most of it. */
const STREAM_SECONDS = 100;
const STAGGER_MS = 6_000;
/** How long the last viewer watches before the counters are read. */
const WATCH_MS = 50_000;

let instance;
let encoder = null;
const browsers = [];

before(async () => {
  assertLoopbackOnly('tests/p2p-live.test.mjs');
  // One live rendition, so that every viewer is in the same swarm.
  instance = await startInstance({ FLOTILLA_LIVE_RESOLUTIONS: '240', FLOTILLA_TRANSCODING_RESOLUTIONS: '240' }, { webDir: TEST_HOOKS_BUILD_DIR });
});

after(async () => {
  for (const b of browsers) await b.close().catch(() => undefined);
  // Only the ffmpeg this test started, by its PID.
  if (encoder?.running()) process.kill(encoder.pid, 'SIGKILL');
  await instance?.stop();
});

test('three viewers share a live over WebRTC on loopback', { timeout: 300_000 }, async (t) => {
  const token = await adminToken(instance.url);
  const channelId = (await get(instance.url, token, '/users/me')).videoChannels[0].id;
  const { video } = await call(instance.url, token, 'POST', '/videos/live', { channelId, name: 'Harbour, shared live', privacy: 1, latencyMode: 1 });
  const settings = await get(instance.url, token, `/videos/live/${video.uuid}`);

  encoder = startEncoder(`${settings.rtmpUrl}/${settings.streamKey}`, STREAM_SECONDS, '426x240');
  const streaming = await until('the live streams', async () => {
    const v = await get(instance.url, null, `/videos/${video.uuid}`);
    return v.state.id === 1 && v.streamingPlaylists.length > 0 ? v : false;
  }, 30_000);
  assert.equal(streaming.isLive, true);
  assert.ok(streaming.trackerUrls.length > 0, 'the live has no trackerUrls');
  assert.equal(streaming.streamingPlaylists[0].p2pMediaLoaderInfohashes.length, 1, 'one rendition, one swarm');
  const before = await playbackMetrics(instance.url);

  const viewers = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, STAGGER_MS));
    viewers.push(await launchViewer(instance.url, `/videos/embed/${video.uuid}`, browsers));
  }
  // Each plays the live: its time moves on.
  const started = await Promise.all(
    viewers.map((v, i) => until(`viewer ${i + 1} plays`, async () => {
      const s = await playerState(v.page);
      return !s.paused && s.t > 0 ? s : false;
    }, 45_000)),
  );
  await new Promise((r) => setTimeout(r, WATCH_MS));
  assert.ok(encoder.running(), 'the stream ended before the viewers were counted: make STREAM_SECONDS longer');
  const states = await Promise.all(viewers.map((v) => playerState(v.page)));

  const report = states.map((s, i) => `viewer ${i + 1}: played ${(s.t - started[i].t).toFixed(1)} s, ${pct(share(s.stats))} from peers (HTTP ${s.stats.segmentBytesHttp} B, P2P ${s.stats.segmentBytesP2P} B, sent ${s.stats.uploadedBytes} B, ${s.stats.peers} peers, ${s.frames} frames)`);
  t.diagnostic(report.join('; '));
  console.log(report.join('\n'));
  states.forEach((s, i) => {
    assert.ok(s.stats?.p2pEnabled, `P2P was not enabled in viewer ${i + 1}`);
    assert.equal(s.stats.p2pRejected, 0, `viewer ${i + 1} rejected a peer's segment`);
    assert.equal(s.stats.errors, 0, `viewer ${i + 1}'s player reported an error`);
    assert.ok(!s.paused, `viewer ${i + 1} stopped playing`);
    // Along the edge, in real time (a stall would hold the time back).
    assert.ok(s.t - started[i].t >= (WATCH_MS / 1000) * 0.8, `viewer ${i + 1} played only ${(s.t - started[i].t).toFixed(1)} s in ${WATCH_MS / 1000} s`);
  });
  const later = states.slice(1).reduce((n, s) => ({ p2p: n.p2p + s.stats.segmentBytesP2P, all: n.all + s.stats.segmentBytesP2P + s.stats.segmentBytesHttp }), { p2p: 0, all: 0 });
  assert.ok(later.p2p / later.all >= 0.4, `the later viewers took only ${pct(later.p2p / later.all)} of their live segments from peers`);
  assert.ok(states.every((s) => s.stats.uploadedBytes + s.stats.segmentBytesP2P > 0), 'a viewer neither sent nor received anything over P2P');

  // The origin's own count: far less than the three of them watched.
  const m = await playbackMetrics(instance.url);
  const served = m.servedSegments - before.servedSegments;
  const watched = states.reduce((n, s) => n + s.stats.segmentBytesHttp + s.stats.segmentBytesP2P, 0);
  console.log(`origin served ${served} B of live segments for ${watched} B watched`);
  assert.ok(served > 0, 'the server counted no live segment');
  assert.ok(served <= 0.67 * watched, `the origin served ${served} B, not less than the ${watched} B watched`);
  for (const v of viewers) assert.deepEqual(v.problems, []);
});
