// The federated edge cache in a real browser: B follows A; a viewer on B plays A's video and
// every byte of it comes from B (A sends B one copy, nothing to the viewer); when B cannot get a
// piece from A (A refuses B's server, not browsers), B answers an error and the player takes that
// piece from A itself, and the video plays on.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { adminToken, call, get, registerUser, token, until, uploadAndWait } from './support/api.mjs';
import { DESKTOP, launch, newPerson } from './support/browser.mjs';
import { playUntil } from './support/flows.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 120_000 };

let a;
let b;
let browser;
let workDir;
let creator;

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
      .filter((u) => /\.(m3u8|mp4)$/.test(u.pathname))
      .map((u) => `${u.host} ${u.pathname.split('/').pop()}`),
  );

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-edge-'));
  // A behind a proxy the test can make refuse B's requests.
  a = await startInstance({ FLOTILLA_TRANSCODING_RESOLUTIONS: '240' }, { proxy: true });
  b = await startInstance();
  browser = await launch();
  await registerUser(a.url, 'oona', 'oona-password-1');
  creator = await token(a.url, 'oona', 'oona-password-1');
  await call(b.url, await adminToken(b.url), 'POST', '/server/following', { hosts: [new URL(a.url).host] });
});

after(async () => {
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
