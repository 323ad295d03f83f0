// A video's source file (PeerTube 6's "Video file" on the edit page), on an instance that keeps
// originals (`FLOTILLA_TRANSCODING_KEEP_ORIGINAL`) and makes web videos. The owner uploads a 4 s
// clip on the upload page; the edit page's "Video file" section names the file they uploaded and
// "Download original" gives its bytes back. A text file named .mp4 as replacement is refused with
// the server's own invalid_media message, and the video is unchanged. A 7 s clip replaces the
// file (confirmed; the upload pauses and resumes): the section follows the transcoding to its
// end, the video keeps its id and comment, and the watch page plays 7 s. The administrator's
// "Files (administrator)" section removes the web videos (then "Remove HLS files" is disabled
// and says why) and makes them again, removes the HLS files (the watch page then plays the web
// video, a plain MP4) and transcodes HLS again (asking for web videos meanwhile shows the
// server's 409), and "Delete the original file" removes the kept original. At 360 px both
// sections fit the width.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, get, registerUser, token } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot } from './support/browser.mjs';
import { login, playUntil } from './support/flows.mjs';
import { ADMIN_PASSWORD, makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 180_000 };
const OWNER = 'oriane';
const PASSWORD = 'oriane-password-1';
const FIRST = 'harbour-first-cut.mp4';
const SECOND = 'harbour-second-cut.mp4';
const NOT_VIDEO = 'meeting-notes.mp4';
const CHUNK = 32 * 1024;
const COMMENT = 'Lovely light on the water.';

let instance;
let browser;
let workDir;
let clips;
let ownerToken;
let owner;
let admin;
/** The video as the API gave it after the first upload. */
let video;

/** The edit page's "Video file" section, loaded. */
async function sourceSection(page) {
  await page.goto(`/videos/update/${video.shortUUID}`);
  const section = page.getByRole('region', { name: 'Video file' });
  await section.getByTestId('source-filename').waitFor();
  return section;
}

/** The edit page's "Files (administrator)" section. */
async function filesSection(page) {
  await page.goto(`/videos/update/${video.shortUUID}`);
  const section = page.getByRole('region', { name: 'Files (administrator)' });
  await section.waitFor();
  return section;
}

/** Plays the watch page's player a little and returns what it plays: its duration and source. */
async function played(page) {
  await page.goto(`/w/${video.shortUUID}`);
  await playUntil(page, 0.5);
  return page.evaluate(() => {
    const v = document.querySelector('video');
    return { duration: v.duration, src: v.currentSrc };
  });
}

const videoNow = () => get(instance.url, ownerToken, `/videos/${video.uuid}`);
const sourceNow = () => get(instance.url, ownerToken, `/videos/${video.uuid}/source`);
const hls = (v) => v.streamingPlaylists[0]?.files ?? [];

/** Replaces the video's file through the API in one chunk: the last answer's status and body. */
async function replaceByApi(path) {
  const bytes = readFileSync(path);
  const auth = { Authorization: `Bearer ${ownerToken}` };
  const init = await fetch(`${instance.url}/api/v1/videos/${video.uuid}/source/replace-resumable`, {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json', 'X-Upload-Content-Length': String(bytes.length), 'X-Upload-Content-Type': 'video/mp4' },
    body: JSON.stringify({ filename: basename(path) }),
  });
  if (init.status !== 201) return { status: init.status, body: await init.json() };
  const put = await fetch(new URL(init.headers.get('location'), instance.url), {
    method: 'PUT',
    headers: { ...auth, 'Content-Range': `bytes 0-${bytes.length - 1}/${bytes.length}`, 'Content-Type': 'application/octet-stream' },
    body: bytes,
  });
  const text = await put.text();
  return { status: put.status, body: text ? JSON.parse(text) : null };
}

/** The bytes "Download original" saves. */
async function downloadOriginal(page, section) {
  const [download] = await Promise.all([page.waitForEvent('download'), section.getByRole('link', { name: 'Download original' }).click()]);
  const path = await download.path();
  return readFileSync(path);
}

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-source-'));
  clips = {
    first: makeClip(workDir, 4, '320x240', { name: FIRST }),
    second: makeClip(workDir, 7, '320x240', { name: SECOND }),
    notVideo: join(workDir, NOT_VIDEO),
  };
  writeFileSync(clips.notVideo, 'Meeting notes: this is text, not a video.\n'.repeat(200));
  instance = await startInstance({
    FLOTILLA_TRANSCODING_WEB_VIDEOS: 'true',
    FLOTILLA_TRANSCODING_RESOLUTIONS: '240',
    FLOTILLA_TRANSCODING_KEEP_ORIGINAL: 'true',
  });
  const config = await get(instance.url, null, '/config');
  assert.equal(config.videoFile?.update?.enabled, true, 'replacing a video file is off on this instance');
  browser = await launch();
  await registerUser(instance.url, OWNER, PASSWORD);
  ownerToken = await token(instance.url, OWNER, PASSWORD);
  owner = await newPerson(browser, DESKTOP, instance.url);
  // Small chunks, so the files travel in several requests (the admin's maxChunkSize).
  await owner.page.route('**/api/v1/config', async (route) => {
    const res = await route.fetch();
    const body = await res.json();
    body.client.videos.resumableUpload.maxChunkSize = CHUNK;
    await route.fulfill({ response: res, json: body });
  });
  await login(owner.page, OWNER, PASSWORD);
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('the edit page\'s Video file section', () => {
  test('after uploading, the owner sees the name of the file they uploaded and downloads it back', STEP, async () => {
    const { page } = owner;
    await page.goto('/videos/upload');
    await page.getByTestId('file-input').setInputFiles(clips.first);
    await page.getByText('Upload complete.').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByTestId('upload-published').waitFor({ timeout: 120_000 });
    const href = await page.getByRole('link', { name: 'Watch it' }).getAttribute('href');
    video = await get(instance.url, ownerToken, `/videos/${href.split('/').pop()}`);
    assert.ok(hls(video).length > 0 && video.files.length > 0, 'the upload has no HLS or no web video');

    const section = await sourceSection(page);
    assert.equal((await section.getByTestId('source-filename').textContent()).trim(), FIRST);
    const source = await sourceNow();
    assert.equal(source.inputFilename, FIRST);
    const facts = await section.getByTestId('video-source').textContent();
    assert.match(facts, /240p, 320×240/);
    assert.match(facts, /25 fps/);
    // Kept after transcoding (keep_original): its bytes, downloaded from the link.
    assert.ok(source.fileDownloadUrl, 'the original was not kept');
    assert.deepEqual(await downloadOriginal(page, section), readFileSync(clips.first));
    await section.getByText('This instance keeps the original file after transcoding.').waitFor();
    // Only moderators delete an original.
    assert.equal(await section.getByRole('button', { name: 'Delete the original file' }).count(), 0);
    await shot(page, DESKTOP, 'video-source');

    const { duration } = await played(page);
    assert.ok(Math.abs(duration - 4) < 0.6, `the first clip plays ${duration} s, not 4`);
  });

  test('a file that is not a video shows the server\'s invalid_media refusal, and the video is unchanged', STEP, async () => {
    const { page } = owner;
    // What the server says of this file, asked directly (it changes nothing either).
    const refused = await replaceByApi(clips.notVideo);
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'invalid_media');
    const before = await videoNow();
    const sourceBefore = await sourceNow();

    const section = await sourceSection(page);
    await section.getByLabel('Choose the new file').setInputFiles(clips.notVideo);
    const dialog = page.getByRole('dialog', { name: 'Replace the video file?' });
    await dialog.getByText(`“${NOT_VIDEO}” will replace the video file.`, { exact: false }).waitFor();
    await dialog.getByRole('button', { name: 'Replace the file' }).click();
    const alert = section.getByRole('alert');
    await alert.waitFor({ timeout: 60_000 });
    assert.equal((await alert.textContent()).trim(), refused.body.detail);
    // Back to the picker, with nothing changed.
    await section.getByLabel('Choose the new file').waitFor({ state: 'attached' });
    const after = await videoNow();
    assert.equal(after.duration, before.duration);
    assert.deepEqual(after.files.map((f) => f.id), before.files.map((f) => f.id));
    assert.deepEqual(hls(after).map((f) => f.id), hls(before).map((f) => f.id));
    assert.deepEqual(await sourceNow(), sourceBefore);
    assert.equal((await section.getByTestId('source-filename').textContent()).trim(), FIRST);
  });

  test('the owner replaces the file with a longer clip; the section follows the transcoding; the watch page plays the new clip', STEP, async () => {
    const { page, context } = owner;
    await call(instance.url, ownerToken, 'POST', `/videos/${video.id}/comment-threads`, { text: COMMENT });
    const section = await sourceSection(page);
    // Slow the upload down so that it can be paused.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 48 * 1024 });
    await page.evaluate(() => {
      window.__seen = { progress: [], transcoding: false };
      window.__seenTimer = setInterval(() => {
        const bar = document.querySelector('progress[aria-label="Upload progress of the new file"]');
        if (bar) window.__seen.progress.push(Number(bar.getAttribute('value')));
        // The server's progress (a bar with a value), not only the wait for its first answer.
        if (document.querySelector('[data-testid="source-transcoding"] progress[value]')) window.__seen.transcoding = true;
      }, 40);
    });
    await section.getByLabel('Choose the new file').setInputFiles(clips.second);
    const dialog = page.getByRole('dialog', { name: 'Replace the video file?' });
    await dialog.getByText('The video will be transcoded again; it stays on its page with its comments and views.', { exact: false }).waitFor();
    await dialog.getByRole('button', { name: 'Replace the file' }).click();

    await section.getByRole('progressbar', { name: 'Upload progress of the new file' }).waitFor();
    await section.getByText(`Uploading ${SECOND}`).waitFor();
    await page.waitForFunction(() => window.__seen.progress.some((v) => v >= 10));
    await section.getByRole('button', { name: 'Pause' }).click();
    await section.getByText('Paused').waitFor();
    await shot(page, DESKTOP, 'video-source-replacing');
    const paused = await section.getByRole('progressbar', { name: 'Upload progress of the new file' }).getAttribute('value');
    await page.waitForTimeout(1500);
    assert.equal(await section.getByRole('progressbar', { name: 'Upload progress of the new file' }).getAttribute('value'), paused, 'the paused upload moved');
    await section.getByRole('button', { name: 'Resume' }).click();
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

    // The last chunk's 204, then the transcoding, followed to its end.
    await section.getByTestId('source-transcoded').getByText('The video is transcoded from its new file, and its page plays it.').waitFor({ timeout: 150_000 });
    const seen = await page.evaluate(() => {
      clearInterval(window.__seenTimer);
      return window.__seen;
    });
    assert.ok(seen.transcoding, 'the section never showed the transcoding\'s progress');
    assert.ok(new Set(seen.progress.filter((v) => v > 0 && v < 100)).size >= 2, `the bar did not move: ${JSON.stringify([...new Set(seen.progress)])}`);
    await section.getByTestId('source-filename').getByText(SECOND).waitFor();

    // The same video, with its comment, the new file's length and files again.
    const after = await videoNow();
    assert.equal(after.id, video.id);
    assert.equal(after.uuid, video.uuid);
    assert.equal(after.duration, 7);
    assert.equal(after.state.id, 1);
    assert.ok(hls(after).length > 0, 'no HLS renditions after the replacement');
    const comments = await get(instance.url, null, `/videos/${video.uuid}/comment-threads`);
    assert.deepEqual(comments.data.map((c) => c.text), [COMMENT]);
    const source = await sourceNow();
    assert.equal(source.inputFilename, SECOND);
    // The new original is the one kept.
    assert.deepEqual(await downloadOriginal(page, section), readFileSync(clips.second));

    const { duration } = await played(page);
    assert.ok(Math.abs(duration - 7) < 0.6, `the watch page plays ${duration} s, not the new clip's 7`);
    assert.deepEqual(owner.problems, []);
  });
});

describe('the administrator\'s Files section', () => {
  before(async () => {
    admin = await newPerson(browser, DESKTOP, instance.url);
    await login(admin.page, 'root', ADMIN_PASSWORD);
  });

  test('the owner does not see it', STEP, async () => {
    const { page } = owner;
    await sourceSection(page);
    assert.equal(await page.getByRole('region', { name: 'Files (administrator)' }).count(), 0);
  });

  test('the administrator removes the web videos, then makes them again', STEP, async () => {
    const { page } = admin;
    const section = await filesSection(page);
    const web = section.getByRole('group', { name: 'Web videos' });
    const hlsGroup = section.getByRole('group', { name: 'HLS renditions' });
    await web.getByRole('listitem').first().waitFor();
    assert.match(await web.getByRole('listitem').first().textContent(), /^240p, 25 fps, /);
    await hlsGroup.getByRole('listitem').first().waitFor();
    await shot(page, DESKTOP, 'video-files-admin');

    await web.getByRole('button', { name: 'Remove web videos' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove the web videos?' });
    await dialog.getByRole('button', { name: 'Remove' }).click();
    await section.getByRole('status').getByText('The web videos were removed.').waitFor();
    await web.getByText('None.').waitFor();
    const without = await videoNow();
    assert.equal(without.files.length, 0);
    assert.ok(hls(without).length > 0);
    // The HLS files are the only ones left: not offered, and the page says why.
    const removeHls = hlsGroup.getByRole('button', { name: 'Remove HLS files' });
    assert.ok(await removeHls.isDisabled());
    assert.notEqual(await removeHls.getAttribute('aria-describedby'), null);
    await hlsGroup.getByText('The HLS renditions are this video’s only files: make web videos first.').waitFor();
    assert.ok(await web.getByRole('button', { name: 'Remove web videos' }).isDisabled());

    await web.getByRole('button', { name: 'Make web videos again' }).click();
    await section.getByRole('status').getByText('The web videos are made again.').waitFor({ timeout: 120_000 });
    await web.getByRole('listitem').first().waitFor();
    assert.ok((await videoNow()).files.length > 0, 'the API shows no web video');
    assert.ok(await removeHls.isEnabled());
  });

  test('the administrator removes the HLS files (the watch page plays the web video), then transcodes HLS again', STEP, async () => {
    const { page } = admin;
    let section = await filesSection(page);
    let hlsGroup = section.getByRole('group', { name: 'HLS renditions' });
    await hlsGroup.getByRole('listitem').first().waitFor();
    await hlsGroup.getByRole('button', { name: 'Remove HLS files' }).click();
    await page.getByRole('dialog', { name: 'Remove the HLS files?' }).getByRole('button', { name: 'Remove' }).click();
    await section.getByRole('status').getByText('The HLS files were removed.').waitFor();
    await hlsGroup.getByText('None.').waitFor();
    const webOnly = await videoNow();
    assert.equal(hls(webOnly).length, 0);
    assert.ok(webOnly.files.length > 0);

    // The player's web-video mode: a plain MP4 of the video.
    const visitor = await newPerson(browser, DESKTOP, instance.url);
    const { src, duration } = await played(visitor.page);
    assert.ok(webOnly.files.some((f) => f.fileUrl === src), `the player plays ${src}, not a web video`);
    assert.ok(Math.abs(duration - 7) < 0.6);
    assert.deepEqual(visitor.problems, []);
    await visitor.context.close();

    section = await filesSection(page);
    hlsGroup = section.getByRole('group', { name: 'HLS renditions' });
    await hlsGroup.getByRole('button', { name: 'Transcode again (HLS)' }).click();
    await section.getByTestId('files-running').getByText('The HLS renditions are being made again.').waitFor();
    // Asked for web videos while it is transcoded: the server refuses, and says why.
    await section.getByRole('group', { name: 'Web videos' }).getByRole('button', { name: 'Make web videos again' }).click();
    const alert = section.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.textContent(), /being transcoded/);
    await section.getByRole('status').getByText('The HLS renditions are made again.').waitFor({ timeout: 150_000 });
    await hlsGroup.getByRole('listitem').first().waitFor();
    const again = await videoNow();
    assert.ok(hls(again).length > 0, 'no HLS renditions after transcoding again');
    assert.equal(again.files.length, webOnly.files.length, 'the web videos changed with the HLS transcoding');
    assert.equal(again.state.id, 1);

    const player = await newPerson(browser, DESKTOP, instance.url);
    const hlsPlay = await played(player.page);
    assert.ok(hlsPlay.src.startsWith('blob:'), `the player does not play the HLS stream (${hlsPlay.src})`);
    await player.context.close();
  });

  test('a moderator deletes the kept original', STEP, async () => {
    const { page } = admin;
    const section = await sourceSection(page);
    await section.getByRole('button', { name: 'Delete the original file' }).click();
    await page.getByRole('dialog', { name: 'Delete the original file?' }).getByRole('button', { name: 'Delete the original file' }).click();
    await section.getByRole('status').getByText('The original file was deleted.').waitFor();
    assert.equal(await section.getByRole('link', { name: 'Download original' }).count(), 0);
    assert.equal((await sourceNow()).fileDownloadUrl, null);
    assert.deepEqual(admin.problems, []);
  });
});

describe('at 360 px', () => {
  test('both sections fit the width', STEP, async () => {
    const phone = await newPerson(browser, PHONE, instance.url);
    const { page } = phone;
    await login(page, 'root', ADMIN_PASSWORD);
    const section = await sourceSection(page);
    await page.getByRole('region', { name: 'Files (administrator)' }).getByRole('button', { name: 'Transcode again (HLS)' }).waitFor();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'the page scrolls sideways');
    for (const name of ['Video file', 'Files (administrator)']) {
      const box = await page.getByRole('region', { name }).boundingBox();
      assert.ok(box.x >= 0 && box.x + box.width <= 360, `${name} overflows: ${JSON.stringify(box)}`);
    }
    await section.scrollIntoViewIfNeeded();
    await shot(page, PHONE, 'video-source');
    assert.deepEqual(phone.problems, []);
  });
});
