// The federated edge cache in a real browser: B follows A; a viewer on B plays A's video and
// every byte of it comes from B (A sends B one copy, nothing to the viewer); when B cannot get a
// piece from A (A refuses B's server, not browsers), B answers an error and the player takes that
// piece from A itself, and the video plays on. A live on A plays on B from B too (every playlist
// and segment), and its audience counts B's viewer: A's count, then B's page from A's total.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { adminToken, call, get, registerUser, token, until, uploadAndWait } from './support/api.mjs';
import { DESKTOP, launch, newPerson } from './support/browser.mjs';
import { startEncoder } from './support/encoder.mjs';
import { playUntil } from './support/flows.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 120_000 };

let a;
let b;
let browser;
let workDir;
let creator;
/** ffmpeg, A's creator's encoder, while it runs. */
let encoder = null;

/** A counter of an instance's `/metrics` (the whole name with labels). */
async function metric(instance, name) {
  const text = await (await fetch(`${instance.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `no ${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}

/** Publishes a clip on A and waits until B lists it; B's answer for it. */
async function publishOnA(name) {
  const v = await uploadAndWait(a.url, creator, makeClip(workDir, 12, '426x240', { name: `${name}.mp4` }), name, 1);
  return until(`B lists ${name}`, async () => {
    const remote = await get(b.url, null, `/videos/${v.uuid}`).catch(() => null);
    return remote?.streamingPlaylists?.[0]?.playlistUrl ? remote : false;
  });
}

/** The media files (playlists, segments) the page fetched, by host. */
const mediaHosts = (page) =>
  page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .map((e) => new URL(e.name))
      .filter((u) => /\.(m3u8|mp4|ts)$/.test(u.pathname))
      .map((u) => `${u.host} ${u.pathname.split('/').pop()}`),
  );

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-edge-'));
  // A behind a proxy the test can make refuse B's requests.
  // Its lives in one rendition; its followers told of each live's audience every 2 s.
  a = await startInstance(
    { FLOTILLA_TRANSCODING_RESOLUTIONS: '240', FLOTILLA_LIVE_RESOLUTIONS: '240', FLOTILLA_FEDERATION_VIEWERS_INTERVAL_SECS: '2' },
    { proxy: true },
  );
  b = await startInstance();
  browser = await launch();
  await registerUser(a.url, 'oona', 'oona-password-1');
  creator = await token(a.url, 'oona', 'oona-password-1');
  await call(b.url, await adminToken(b.url), 'POST', '/server/following', { hosts: [new URL(a.url).host] });
});

after(async () => {
  // Only the ffmpeg this test started, by its PID.
  if (encoder?.running()) process.kill(encoder.pid, 'SIGKILL');
  await browser?.close();
  await a?.stop();
  await b?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

test("a viewer on B plays A's video from B: A serves one copy, to B", STEP, async () => {
  const video = await publishOnA('Breakwater at noon');
  const playlist = video.streamingPlaylists[0];
  assert.ok(playlist.playlistUrl.startsWith(`${b.url}/static/edge/hls/`), playlist.playlistUrl);
  assert.ok(playlist.originPlaylistUrl.startsWith(`${a.url}/static/streaming-playlists/hls/`), playlist.originPlaylistUrl);
  const before = await metric(a, 'flotilla_hls_served_bytes_total{kind="segment"}');

  const viewer = await newPerson(browser, DESKTOP, b.url);
  await viewer.page.goto(`/w/${video.uuid}`);
  await playUntil(viewer.page, 5);
  const stats = await viewer.page.evaluate(() => window.__flotillaP2P);
  assert.ok(stats.httpBytes > 0, JSON.stringify(stats));
  const hosts = await mediaHosts(viewer.page);
  const bHost = new URL(b.url).host;
  assert.ok(hosts.some((h) => h.endsWith('.mp4')), `segments were fetched: ${hosts}`);
  assert.deepEqual(hosts.filter((h) => !h.startsWith(`${bHost} `)), [], 'every playlist and segment came from B');

  const servedByA = (await metric(a, 'flotilla_hls_served_bytes_total{kind="segment"}')) - before;
  const fetchedByB = await metric(b, 'flotilla_edge_origin_bytes_total');
  const servedByB = await metric(b, 'flotilla_edge_served_bytes_total');
  assert.ok(servedByB >= stats.segmentBytesHttp, `B served the player's ${stats.segmentBytesHttp} bytes (${servedByB})`);
  assert.ok(servedByA <= fetchedByB, `A served B only: ${servedByA} > ${fetchedByB}`);
  assert.deepEqual(viewer.problems, []);
  await viewer.context.close();
});

test('when B cannot get a piece from A, the player takes it from A and plays on', STEP, async () => {
  const video = await publishOnA('Gulls at the pier');
  // From now on A refuses its segments to servers (B's fetches), not to browsers.
  a.proxy.refuse('GET', /^\/static\/streaming-playlists\/hls\/.*\.mp4$/, 503, /Flotilla/);
  const errorsBefore = await metric(b, 'flotilla_edge_origin_errors_total');
  const viewer = await newPerson(browser, DESKTOP, b.url);
  await viewer.page.goto(`/w/${video.uuid}`);
  await playUntil(viewer.page, 3);
  a.proxy.heal();
  assert.ok((await metric(b, 'flotilla_edge_origin_errors_total')) > errorsBefore, 'B could not fetch from A');
  const hosts = await mediaHosts(viewer.page);
  const aHost = new URL(a.url).host;
  assert.ok(hosts.some((h) => h.startsWith(`${aHost} `) && h.endsWith('.mp4')), `segments came from A: ${hosts}`);
  const stats = await viewer.page.evaluate(() => window.__flotillaP2P);
  assert.equal(stats.errors, 0, JSON.stringify(stats));
  assert.deepEqual(viewer.problems, []);
  await viewer.context.close();
});

test("a viewer on B watches A's live from B, and counts in its audience on A and on B", STEP, async () => {
  const channelId = (await get(a.url, creator, '/users/me')).videoChannels[0].id;
  const { video } = await call(a.url, creator, 'POST', '/videos/live', { channelId, name: 'Lighthouse, live', privacy: 1 });
  const settings = await get(a.url, creator, `/videos/live/${video.uuid}`);
  encoder = startEncoder(`${settings.rtmpUrl}/${settings.streamKey}`, 60, '426x240');
  const remote = await until('B lists the live streaming', async () => {
    const v = await get(b.url, null, `/videos/${video.uuid}`).catch(() => null);
    return v?.state?.id === 1 && v.streamingPlaylists?.[0]?.playlistUrl ? v : false;
  }, 60_000);
  assert.ok(remote.streamingPlaylists[0].playlistUrl.startsWith(`${b.url}/static/edge/hls/`), remote.streamingPlaylists[0].playlistUrl);

  const viewer = await newPerson(browser, DESKTOP, b.url);
  await viewer.page.goto(`/w/${video.uuid}`);
  await viewer.page.getByTestId('live-badge').waitFor({ timeout: 30_000 });
  await playUntil(viewer.page, 4);
  const hosts = await mediaHosts(viewer.page);
  const bHost = new URL(b.url).host;
  assert.ok(hosts.some((h) => h.endsWith('.ts')), `live segments were fetched: ${hosts}`);
  assert.deepEqual(hosts.filter((h) => !h.startsWith(`${bHost} `)), [], 'every playlist and segment came from B');

  // The viewer reports watching to B, B tells A (PeerTube's viewer View), A counts it, and A's
  // total comes back to B, whose page shows it.
  await until("A counts B's viewer", async () => (await get(a.url, null, `/videos/${video.uuid}`)).viewers >= 1, 60_000);
  await viewer.page.getByTestId('live-viewers').getByText('1 watching now').waitFor({ timeout: 30_000 });
  const stats = await viewer.page.evaluate(() => window.__flotillaP2P);
  assert.equal(stats.errors, 0, JSON.stringify(stats));
  assert.deepEqual(viewer.problems, []);
  await viewer.context.close();
  process.kill(encoder.pid, 'SIGKILL');
});
