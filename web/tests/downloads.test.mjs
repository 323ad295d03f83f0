// Downloads and the player's web-video mode. A clip with two resolutions (360p, 240p) and web
// videos: the watch page's Download dialog lists both with their sizes; the video file it saves
// is byte for byte what `fileUrl` serves, for the resolution chosen; the torrent is that file's
// (bencoded, `d8:announce…`); the magnet link shows and is copied. A video whose owner turned
// downloads off has no Download button for another user (and the server refuses them), while its
// owner still downloads it; a private video's link carries a file token and works. At 360 px the
// dialog fits the screen. Without web videos (the API answer intercepted in the browser) the
// dialog offers the HLS stream's files, and with no file at all there is no button. Without the
// HLS playlist (intercepted too, as an instance without HLS would answer) the player plays the MP4
// itself, not above 720p and not above what the player shows, and its quality menu switches files
// where the viewer was.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, get, registerUser, token, uploadAndWait } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot } from './support/browser.mjs';
import { login, playUntil } from './support/flows.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
const OWNER = 'delia';
const OWNER_PASSWORD = 'delia-password-1';
const VIEWER = 'oscar';
const VIEWER_PASSWORD = 'oscar-password-1';
const OPEN = 'Harbour lights at dusk';
const CLOSED = 'Private rehearsal tape';

let instance;
let browser;
let workDir;
let ownerToken;
/** The video anyone may download, and the one whose owner turned downloads off. */
let open;
let closed;

/** The bytes a URL answers (with headers, for a private file). */
async function bytesOf(url, headers = {}) {
  const res = await fetch(url, { headers });
  assert.equal(res.status, 200, `GET ${url} answered ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/** The size as the page shows it: the interface's rule (1000-based, one decimal under 10), in English. */
function humanSize(bytes) {
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'];
  let value = bytes;
  let i = 0;
  while (value >= 1000 && i < units.length - 1) {
    value /= 1000;
    i += 1;
  }
  return new Intl.NumberFormat('en', {
    style: 'unit',
    unit: units[i],
    unitDisplay: i === 0 ? 'long' : 'short',
    maximumFractionDigits: value < 10 && i > 0 ? 1 : 0,
  }).format(value);
}

/** Clicks `link` and returns the download it starts: its suggested name and its bytes. */
async function downloadFrom(page, link) {
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const failure = await download.failure();
  assert.equal(failure, null, `the download failed: ${failure}`);
  return { name: download.suggestedFilename(), bytes: readFileSync(await download.path()) };
}

async function openDialog(page, video) {
  await page.goto(`/w/${video.shortUUID}`);
  await page.getByRole('heading', { name: video.name }).waitFor();
  await page.getByRole('button', { name: 'Download', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Download' });
  await dialog.waitFor();
  return dialog;
}

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-downloads-'));
  instance = await startInstance({ FLOTILLA_TRANSCODING_WEB_VIDEOS: 'true', FLOTILLA_TRANSCODING_RESOLUTIONS: '240,360' });
  browser = await launch();
  await registerUser(instance.url, OWNER, OWNER_PASSWORD);
  await registerUser(instance.url, VIEWER, VIEWER_PASSWORD);
  ownerToken = await token(instance.url, OWNER, OWNER_PASSWORD);
  const clip = makeClip(workDir, 8, '640x360');
  open = await uploadAndWait(instance.url, ownerToken, clip, OPEN, 2);
  const c = await uploadAndWait(instance.url, ownerToken, clip, CLOSED, 2);
  await call(instance.url, ownerToken, 'PUT', `/videos/${c.uuid}`, { downloadEnabled: false });
  closed = await get(instance.url, ownerToken, `/videos/${c.uuid}`);
  assert.deepEqual(open.files.map((f) => f.resolution.label), ['360p', '240p'], 'the server made no web videos of 360p and 240p');
  assert.equal(closed.downloadEnabled, false);
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('the Download dialog', () => {
  let visitor;

  before(async () => {
    visitor = await newPerson(browser, DESKTOP, instance.url);
    await visitor.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: instance.url });
  });

  after(async () => {
    assert.deepEqual(visitor?.problems ?? [], []);
    await visitor?.context.close();
  });

  test('it lists each resolution with its size, and saves the chosen one: the bytes its fileUrl serves', STEP, async () => {
    const { page } = visitor;
    const dialog = await openDialog(page, open);
    // With a playlist, the player is still hls.js's (a MediaSource, not a file).
    await page.waitForFunction(() => document.querySelector('video')?.currentSrc.startsWith('blob:'));

    const rows = dialog.getByRole('radio', { name: /^\d+p / });
    assert.deepEqual(
      await rows.evaluateAll((inputs) => inputs.map((i) => i.closest('label').textContent.replace(/\s+/g, ' ').trim())),
      open.files.map((f) => `${f.resolution.label} ${humanSize(f.size)}`),
    );
    assert.ok(await dialog.getByRole('radio', { name: '360p', exact: false }).first().isChecked(), 'the highest resolution is not chosen first');
    assert.ok(await dialog.getByRole('radio', { name: 'Video file' }).isChecked());
    await shot(page, DESKTOP, 'download-dialog');

    const low = open.files.find((f) => f.resolution.id === 240);
    await dialog.getByRole('radio', { name: /^240p / }).check();
    const saved = await downloadFrom(page, dialog.getByRole('link', { name: 'Download the video file' }));
    assert.equal(saved.name, `${OPEN}-240p.mp4`);
    const served = await bytesOf(low.fileUrl);
    assert.equal(saved.bytes.length, low.size);
    assert.ok(saved.bytes.equals(served), 'the saved file differs from what fileUrl serves');
  });

  test('the torrent link saves the chosen resolution\'s .torrent', STEP, async () => {
    const { page } = visitor;
    const dialog = page.getByRole('dialog', { name: 'Download' });
    await dialog.getByRole('radio', { name: 'Torrent' }).check();
    const low = open.files.find((f) => f.resolution.id === 240);
    const saved = await downloadFrom(page, dialog.getByRole('link', { name: 'Download the torrent' }));
    assert.ok(saved.bytes.subarray(0, 11).toString('latin1') === 'd8:announce', `not a torrent: ${saved.bytes.subarray(0, 20)}`);
    assert.ok(saved.bytes.equals(await bytesOf(low.torrentUrl)), 'the torrent is not the 240p file\'s');
    assert.ok(saved.name.endsWith('.torrent'), saved.name);
  });

  test('the magnet link shows the chosen file\'s magnet and Copy puts it in the clipboard', STEP, async () => {
    const { page } = visitor;
    const dialog = page.getByRole('dialog', { name: 'Download' });
    await dialog.getByRole('radio', { name: 'Magnet link' }).check();
    await dialog.getByRole('radio', { name: /^360p / }).check();
    const high = open.files.find((f) => f.resolution.id === 360);
    const field = dialog.getByLabel('Magnet link of the 360p file');
    assert.equal(await field.inputValue(), high.magnetUri);
    assert.ok(high.magnetUri.startsWith('magnet:?'), high.magnetUri);
    assert.equal(await dialog.getByRole('link', { name: /^Download the/ }).count(), 0);
    await dialog.getByRole('button', { name: 'Copy' }).click();
    await dialog.getByRole('status').getByText('Magnet link copied.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), high.magnetUri);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
  });
});

describe('who may download', () => {
  test('a video whose downloads are off shows no Download button to another user, whom the server refuses', STEP, async () => {
    const person = await newPerson(browser, DESKTOP, instance.url);
    const { page } = person;
    await login(page, VIEWER, VIEWER_PASSWORD);
    // The same user sees the button where downloads are on.
    await page.goto(`/w/${open.shortUUID}`);
    await page.getByRole('button', { name: 'Download', exact: true }).waitFor();
    await page.goto(`/w/${closed.shortUUID}`);
    await page.getByRole('heading', { name: CLOSED }).waitFor();
    await page.getByRole('button', { name: 'Report' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Download', exact: true }).count(), 0);
    const viewerToken = await token(instance.url, VIEWER, VIEWER_PASSWORD);
    const refused = await fetch(closed.files[0].fileDownloadUrl, { headers: { Authorization: `Bearer ${viewerToken}` } });
    assert.equal(refused.status, 403);
    assert.deepEqual(person.problems, []);
    await person.context.close();
  });

  test('its owner still downloads it, with a note that others cannot', STEP, async () => {
    const person = await newPerson(browser, DESKTOP, instance.url);
    const { page } = person;
    await login(page, OWNER, OWNER_PASSWORD);
    const dialog = await openDialog(page, closed);
    await dialog.getByText('Downloads of this video are turned off for viewers').waitFor();
    const high = closed.files[0];
    const saved = await downloadFrom(page, dialog.getByRole('link', { name: 'Download the video file' }));
    assert.equal(saved.name, `${CLOSED}-360p.mp4`);
    assert.ok(saved.bytes.equals(await bytesOf(high.fileUrl)), 'the owner\'s download differs from the file');
    assert.deepEqual(person.problems, []);
    await person.context.close();
  });

  test('a private video\'s download link carries a file token and saves the file', STEP, async () => {
    await call(instance.url, ownerToken, 'PUT', `/videos/${closed.uuid}`, { privacy: 3, downloadEnabled: true });
    const high = closed.files[0];
    assert.equal((await fetch(high.fileDownloadUrl)).status, 404, 'a private file is served without a token');
    const person = await newPerson(browser, DESKTOP, instance.url);
    const { page } = person;
    await login(page, OWNER, OWNER_PASSWORD);
    const dialog = await openDialog(page, closed);
    const link = dialog.getByRole('link', { name: 'Download the video file' });
    const href = new URL(await link.getAttribute('href'));
    assert.ok(href.searchParams.get('videoFileToken'), `no file token in ${href}`);
    const saved = await downloadFrom(page, link);
    assert.ok(saved.bytes.equals(await bytesOf(high.fileUrl, { Authorization: `Bearer ${ownerToken}` })));
    assert.deepEqual(person.problems, []);
    await person.context.close();
  });

  test('at 360 px the dialog fits the screen, magnet link included', STEP, async () => {
    const person = await newPerson(browser, PHONE, instance.url);
    const { page } = person;
    const dialog = await openDialog(page, open);
    const fits = async () => {
      const box = await dialog.boundingBox();
      const sizes = await dialog.evaluate((d) => ({ scroll: d.scrollWidth, client: d.clientWidth, page: document.documentElement.scrollWidth }));
      assert.ok(box.x >= 0 && box.x + box.width <= PHONE.viewport.width, `the dialog is off screen: ${JSON.stringify(box)}`);
      assert.ok(box.y >= 0 && box.y + box.height <= PHONE.viewport.height, `the dialog is taller than the screen: ${JSON.stringify(box)}`);
      assert.ok(sizes.scroll <= sizes.client, `the dialog scrolls sideways: ${JSON.stringify(sizes)}`);
      assert.ok(sizes.page <= PHONE.viewport.width, `the page scrolls sideways: ${JSON.stringify(sizes)}`);
    };
    await fits();
    await shot(page, PHONE, 'download-dialog');
    await dialog.getByRole('radio', { name: 'Magnet link' }).check();
    await dialog.getByRole('button', { name: 'Copy' }).waitFor();
    await fits();
    const copy = await dialog.getByRole('button', { name: 'Copy' }).boundingBox();
    assert.ok(copy.x + copy.width <= PHONE.viewport.width, 'the Copy button is off screen');
    await shot(page, PHONE, 'download-dialog-magnet');
    assert.deepEqual(person.problems, []);
    await person.context.close();
  });
});

describe('without web videos', () => {
  /** Serves this video's API answer through `change` (as an instance without web videos would send it). */
  async function answerWith(page, video, change) {
    await page.route(new RegExp(`/api/v1/videos/(${video.uuid}|${video.shortUUID})$`), async (route) => {
      const res = await route.fetch();
      const v = await res.json();
      change(v);
      await route.fulfill({ response: res, json: v });
    });
  }

  test('the dialog offers the HLS stream\'s files; with no file at all there is no Download button', STEP, async () => {
    const person = await newPerson(browser, DESKTOP, instance.url);
    const { page } = person;
    await answerWith(page, open, (v) => {
      v.files = [];
    });
    const hlsFiles = open.streamingPlaylists[0].files;
    const dialog = await openDialog(page, open);
    assert.deepEqual(
      await dialog.getByRole('radio', { name: /^\d+p / }).evaluateAll((inputs) => inputs.map((i) => i.closest('label').textContent.replace(/\s+/g, ' ').trim())),
      hlsFiles.map((f) => `${f.resolution.label} ${humanSize(f.size)}`),
    );
    const link = dialog.getByRole('link', { name: 'Download the video file' });
    assert.equal(await link.getAttribute('href'), hlsFiles[0].fileDownloadUrl);
    const saved = await downloadFrom(page, link);
    assert.ok(saved.bytes.equals(await bytesOf(hlsFiles[0].fileUrl)), 'the saved file is not the HLS stream\'s file');

    await page.unrouteAll();
    await answerWith(page, open, (v) => {
      v.files = [];
      v.streamingPlaylists[0].files = [];
    });
    await page.goto(`/w/${open.shortUUID}`);
    await page.getByRole('heading', { name: OPEN }).waitFor();
    await page.getByRole('link', { name: 'Save' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Download', exact: true }).count(), 0, 'a Download button with nothing to download');
    assert.deepEqual(person.problems, []);
    await person.context.close();
  });
});

describe('web-video mode', () => {
  /**
   * Serves this video's API answer without HLS (as an instance without HLS would), with an extra
   * 1080p entry (the 360p file under another name: the player must not start above 720p), and
   * records any HLS or tracker request the page makes.
   */
  async function withoutHls(person, video) {
    const hlsRequests = [];
    person.page.on('request', (r) => {
      if (/\.m3u8|streaming-playlists|\/tracker\//.test(r.url())) hlsRequests.push(r.url());
    });
    const answer = new RegExp(`/api/v1/videos/(${video.uuid}|${video.shortUUID})$`);
    await person.page.route(answer, async (route) => {
      const res = await route.fetch();
      const v = await res.json();
      v.streamingPlaylists = [];
      const high = v.files[0];
      v.files = [{ ...high, id: 99999, resolution: { id: 1080, label: '1080p' }, width: 1920, height: 1080, fileUrl: `${high.fileUrl}?fake=1080` }, ...v.files];
      await route.fulfill({ response: res, json: v });
    });
    return hlsRequests;
  }

  const state = (page) =>
    page.evaluate(() => {
      const v = document.querySelector('video');
      return { src: v.currentSrc, t: v.currentTime, paused: v.paused, height: v.videoHeight };
    });

  test('without a playlist the player plays the MP4 (≤ 720p) and its menu switches files where the viewer was', STEP, async () => {
    const person = await newPerson(browser, DESKTOP, instance.url);
    const { page } = person;
    const hlsRequests = await withoutHls(person, open);
    const [high, low] = open.files;
    await page.goto(`/w/${open.shortUUID}`);
    await playUntil(page, 1.5);
    let s = await state(page);
    // The desktop player (about 1066×600) wants more than 360p has: the highest file up to 720p.
    assert.equal(s.src, high.fileUrl);
    assert.equal(s.height, 360);

    const settings = page.getByRole('button', { name: 'Settings', exact: true });
    await settings.click();
    const menu = page.locator('#player-settings');
    assert.deepEqual(await menu.getByRole('group', { name: 'Quality' }).getByRole('radio').evaluateAll((rs) => rs.map((r) => r.parentElement.textContent.trim())), [
      '1080p',
      '360p',
      '240p',
    ]);
    assert.ok(await menu.getByRole('radio', { name: '360p' }).isChecked());
    assert.equal(await menu.getByRole('radio', { name: /^Auto/ }).count(), 0, 'web-video mode offers Auto');
    const before = (await state(page)).t;
    await menu.getByRole('radio', { name: '240p' }).click();
    // Once the 240p file has loaded and any seek is over, it is where the 360p one was.
    await page.waitForFunction((url) => {
      const v = document.querySelector('video');
      return v?.currentSrc === url && v.videoHeight === 240 && v.readyState >= 2 && !v.seeking;
    }, low.fileUrl);
    s = await state(page);
    assert.ok(s.t >= before - 0.3 && s.t < before + 3, `the 240p file did not go on from ${before} s: it is at ${s.t} s`);
    // And it plays on by itself.
    await page.waitForFunction((t) => {
      const v = document.querySelector('video');
      return !v.paused && v.currentTime > t + 0.5;
    }, s.t);
    await settings.click();
    assert.ok(await menu.getByRole('radio', { name: '240p' }).isChecked());
    await shot(page, DESKTOP, 'player-web-video');
    assert.deepEqual(hlsRequests, [], 'the player fetched HLS or the tracker in web-video mode');
    assert.deepEqual(person.problems, []);
    await person.context.close();
  });

  test('a small player starts with the smallest file that fills it', STEP, async () => {
    const small = { name: 'small', viewport: { width: 400, height: 300 } };
    const person = await newPerson(browser, small, instance.url);
    const { page } = person;
    await withoutHls(person, open);
    await page.goto(`/w/${open.shortUUID}`);
    await playUntil(page, 0.5);
    const box = await page.getByRole('region', { name: 'Video player' }).boundingBox();
    const s = await state(page);
    // About 320×180 CSS pixels at a device pixel ratio of 1: 240p is enough.
    assert.ok(box.height <= 240, `the player is ${box.height}px high: this test needs one under 240`);
    assert.equal(s.src, open.files[1].fileUrl);
    assert.equal(s.height, 240);
    assert.deepEqual(person.problems, []);
    await person.context.close();
  });
});
