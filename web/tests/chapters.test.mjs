// Chapters and the storyboard preview. An 8 s clip whose description has "0:00 Opening" and
// "0:04 Second half" gets two chapters and a storyboard from the server; the watch page's progress
// bar marks the second chapter at half its length, the page lists both, and choosing "Second half"
// seeks the video there and names it beside the time. Hovering the bar at about 75 % shows the
// storyboard's sprite for that time (cut from the sheet the API names), the time and "Second half";
// at 25 % another sprite and "Opening". At 360 px a finger dragging the bar shows the preview inside
// the player. A 2 s clip without chapters has no marks, no list and a preview with the time only;
// chapters set by hand with markup in a title show that markup as text.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, get, registerUser, token, until, uploadVideo, waitPublished } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot } from './support/browser.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
const OWNER = 'ines';
const PASSWORD = 'ines-password-1';
const DESCRIPTION = 'Two parts of a test picture.\n\n0:00 Opening\n0:04 Second half\n';

let instance;
let browser;
let workDir;
let video;
let plain;
let board;

/** Waits until the player has the video's length (its metadata loaded) and returns it. */
const mediaDuration = async (page) => {
  await page.waitForFunction(() => (document.querySelector('video')?.readyState ?? 0) >= 1);
  return page.evaluate(() => document.querySelector('video').duration);
};

/** A time in the middle of a sprite near `fraction` of `duration`, away from a sprite's edges. */
function midSprite(fraction, duration) {
  const index = Math.floor((fraction * duration) / board.spriteDuration);
  return (index + 0.5) * board.spriteDuration;
}

/** The sprite the preview's background shows: read back from its CSS, in sheet coordinates. */
async function shownSprite(page) {
  const css = await page.getByTestId('seek-preview-image').evaluate((el) => {
    const s = getComputedStyle(el);
    return { image: s.backgroundImage, size: s.backgroundSize, position: s.backgroundPosition, width: el.clientWidth, height: el.clientHeight };
  });
  const [sheetWidth] = css.size.split(' ').map(Number.parseFloat);
  const scale = sheetWidth / board.totalWidth;
  const [x, y] = css.position.split(' ').map(Number.parseFloat);
  const columns = Math.floor(board.totalWidth / board.spriteWidth);
  const column = Math.round(-x / (board.spriteWidth * scale));
  const row = Math.round(-y / (board.spriteHeight * scale));
  return { ...css, scale, index: row * columns + column, exact: Math.abs(-x - column * board.spriteWidth * scale) < 0.5 && Math.abs(-y - row * board.spriteHeight * scale) < 0.5 };
}

/** Moves the mouse over the progress bar at the place of `seconds`. */
async function hoverAt(page, seconds, duration) {
  const track = await page.getByTestId('seek-track').boundingBox();
  await page.mouse.move(track.x + (seconds / duration) * track.width, track.y + track.height / 2);
  await page.getByTestId('seek-preview').waitFor();
}

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-chapters-'));
  instance = await startInstance();
  browser = await launch();
  await registerUser(instance.url, OWNER, PASSWORD);
  const ownerToken = await token(instance.url, OWNER, PASSWORD);
  const uploaded = await uploadVideo(instance.url, ownerToken, makeClip(workDir, 8), { name: 'Chapters', description: DESCRIPTION, waitTranscoding: 'true' });
  const short = await uploadVideo(instance.url, ownerToken, makeClip(workDir, 2, '640x360', { name: 'short.mp4' }), { name: 'No chapters', waitTranscoding: 'true' });
  video = await waitPublished(instance.url, ownerToken, uploaded.uuid);
  plain = await waitPublished(instance.url, ownerToken, short.uuid);
  board = await until('a storyboard', async () => (await get(instance.url, null, `/videos/${video.uuid}/storyboards`)).storyboards[0], 60_000);
  instance.ownerToken = ownerToken;
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('the API', () => {
  test('lists the description\'s two chapters and one storyboard sheet', STEP, async () => {
    const { chapters } = await get(instance.url, null, `/videos/${video.uuid}/chapters`);
    assert.deepEqual(chapters, [{ timecode: 0, title: 'Opening' }, { timecode: 4, title: 'Second half' }]);
    assert.match(board.storyboardPath, /^\/lazy-static\/storyboards\/[^/]+\.jpg$/);
    assert.ok(board.spriteDuration > 0 && board.spriteWidth > 0 && board.totalWidth >= board.spriteWidth, JSON.stringify(board));
    const sheet = await fetch(new URL(board.storyboardPath, instance.url));
    assert.equal(sheet.status, 200);
    assert.match(sheet.headers.get('content-type'), /^image\/jpeg/);
  });
});

describe('the watch page', () => {
  test('the progress bar marks the second chapter at half its length, and the page lists both', STEP, async () => {
    const viewer = await newPerson(browser, DESKTOP, instance.url);
    const { page } = viewer;
    await page.goto(`/w/${video.shortUUID}`);
    const list = page.getByRole('region', { name: 'Chapters' });
    await list.waitFor();
    assert.deepEqual(await list.getByRole('button').allTextContents().then((ts) => ts.map((t) => t.replace(/\s+/g, ' ').trim())), ['0:00 Opening', '0:04 Second half']);
    await page.getByTestId('chapter-mark').first().waitFor({ state: 'attached' });
    assert.equal(await page.getByTestId('chapter-mark').count(), 1, 'the chapter at 0:00 is marked too, or the one at 0:04 is not');
    const track = await page.getByTestId('seek-track').boundingBox();
    const mark = await page.getByTestId('chapter-mark').boundingBox();
    const at = ((mark.x + mark.width / 2 - track.x) / track.width) * 100;
    assert.ok(Math.abs(at - 50) <= 5, `the mark is at ${at.toFixed(1)} % of the bar, not 50 %`);
    assert.equal((await page.getByTestId('player-chapter').textContent()).trim(), 'Opening');
    await shot(page, DESKTOP, 'watch-chapters');
    assert.deepEqual(viewer.problems, []);
    await viewer.context.close();
  });

  test('choosing "Second half" in the list seeks the video to 0:04 and names that chapter by the time', STEP, async () => {
    const viewer = await newPerson(browser, DESKTOP, instance.url);
    const { page } = viewer;
    await page.goto(`/w/${video.shortUUID}`);
    await mediaDuration(page);
    assert.ok(await page.evaluate(() => document.querySelector('video').currentTime < 1), 'the video did not start at the beginning');
    await page.getByRole('button', { name: '0:04 Second half', exact: true }).click();
    await page.waitForFunction(() => document.querySelector('video').currentTime >= 4, null, { timeout: 10_000 });
    await page.getByTestId('player-chapter').filter({ hasText: 'Second half' }).waitFor();
    assert.match(await page.getByTestId('player-time').textContent(), /^0:0[4-8] \//);
    await page.getByRole('button', { name: '0:00 Opening', exact: true }).click();
    await page.waitForFunction(() => document.querySelector('video').currentTime < 1);
    await page.getByTestId('player-chapter').filter({ hasText: 'Opening' }).waitFor();
    assert.deepEqual(viewer.problems, []);
    await viewer.context.close();
  });

  test('hovering the bar shows the storyboard sprite for that time, the time and the chapter', STEP, async () => {
    const viewer = await newPerson(browser, DESKTOP, instance.url);
    const { page } = viewer;
    await page.goto(`/w/${video.shortUUID}`);
    const duration = await mediaDuration(page);
    await page.getByRole('region', { name: 'Chapters' }).waitFor();

    const late = midSprite(0.75, duration);
    await hoverAt(page, late, duration);
    await page.getByTestId('seek-preview-image').waitFor();
    const sprite = await shownSprite(page);
    assert.ok(sprite.image.includes(board.storyboardPath), `the preview's background is ${sprite.image}`);
    assert.equal(sprite.index, Math.floor(late / board.spriteDuration), `at ${late.toFixed(2)} s the preview shows sprite ${sprite.index}`);
    assert.ok(sprite.exact, `the background position ${sprite.position} is not on a sprite's corner`);
    assert.equal(Math.round(sprite.width), Math.round(board.spriteWidth * sprite.scale), 'the preview is not one sprite wide');
    assert.equal(Math.round(sprite.height), Math.round(board.spriteHeight * sprite.scale), 'the preview is not one sprite high');
    assert.equal((await page.getByTestId('seek-preview-chapter').textContent()).trim(), 'Second half');
    assert.equal((await page.getByTestId('seek-preview-time').textContent()).trim(), `0:0${Math.floor(late)}`);
    // Above the bar, inside the player.
    const preview = await page.getByTestId('seek-preview').boundingBox();
    const track = await page.getByTestId('seek-track').boundingBox();
    const player = await page.getByRole('region', { name: 'Video player' }).boundingBox();
    assert.ok(preview.y + preview.height <= track.y && preview.y >= player.y, `the preview ${JSON.stringify(preview)} is not above the bar in the player`);
    await shot(page, DESKTOP, 'player-storyboard-preview');

    const early = midSprite(0.25, duration);
    await hoverAt(page, early, duration);
    await page.getByTestId('seek-preview-chapter').filter({ hasText: 'Opening' }).waitFor();
    const second = await shownSprite(page);
    assert.equal(second.index, Math.floor(early / board.spriteDuration), `at ${early.toFixed(2)} s the preview shows sprite ${second.index}`);

    await page.mouse.move(player.x + player.width / 2, player.y + 10);
    await page.getByTestId('seek-preview').waitFor({ state: 'detached' });
    assert.deepEqual(viewer.problems, []);
    await viewer.context.close();
  });

  test('at 360 px a finger dragging the bar shows the preview inside the player', STEP, async () => {
    const viewer = await newPerson(browser, PHONE, instance.url);
    const { page } = viewer;
    await page.goto(`/w/${video.shortUUID}`);
    const duration = await mediaDuration(page);
    await page.getByRole('region', { name: 'Chapters' }).waitFor();
    const track = await page.getByTestId('seek-track').boundingBox();
    const y = track.y + track.height / 2;
    const late = midSprite(0.75, duration);
    const cdp = await page.context().newCDPSession(page);
    const touch = (type, x) => cdp.send('Input.dispatchTouchEvent', { type, touchPoints: type === 'touchEnd' ? [] : [{ x, y }] });
    await touch('touchStart', track.x + track.width * 0.3);
    for (const f of [0.4, 0.5, 0.6, late / duration]) await touch('touchMove', track.x + track.width * f);
    await page.getByTestId('seek-preview-chapter').filter({ hasText: 'Second half' }).waitFor();
    assert.equal((await shownSprite(page)).index, Math.floor(late / board.spriteDuration));
    const preview = await page.getByTestId('seek-preview').boundingBox();
    const player = await page.getByRole('region', { name: 'Video player' }).boundingBox();
    assert.ok(
      preview.x >= player.x && preview.x + preview.width <= player.x + player.width && preview.y >= player.y,
      `the preview ${JSON.stringify(preview)} leaves the player ${JSON.stringify(player)}`,
    );
    await shot(page, PHONE, 'player-storyboard-preview');
    await touch('touchEnd');
    await page.getByTestId('seek-preview').waitFor({ state: 'detached' });
    await page.getByRole('region', { name: 'Chapters' }).scrollIntoViewIfNeeded();
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 360), 'the page scrolls sideways');
    await shot(page, PHONE, 'watch-chapters');
    assert.deepEqual(viewer.problems, []);
    await viewer.context.close();
  });

  test('a video without chapters has no marks and no list, and its preview says only the time', STEP, async () => {
    assert.deepEqual((await get(instance.url, null, `/videos/${plain.uuid}/chapters`)).chapters, []);
    assert.deepEqual((await get(instance.url, null, `/videos/${plain.uuid}/storyboards`)).storyboards, []);
    const viewer = await newPerson(browser, DESKTOP, instance.url);
    const { page } = viewer;
    const answered = page.waitForResponse((r) => r.url().endsWith(`/api/v1/videos/${plain.uuid}/chapters`));
    await page.goto(`/w/${plain.shortUUID}`);
    await answered;
    const duration = await mediaDuration(page);
    await hoverAt(page, duration / 2, duration);
    assert.equal((await page.getByTestId('seek-preview-time').textContent()).trim(), '0:01');
    assert.equal(await page.getByTestId('seek-preview-image').count(), 0, 'a preview image without a storyboard');
    assert.equal(await page.getByTestId('seek-preview-chapter').count(), 0, 'a chapter in the preview');
    assert.equal(await page.getByTestId('chapter-mark').count(), 0, 'the bar has chapter marks');
    assert.equal(await page.getByTestId('player-chapter').count(), 0, 'a chapter by the time');
    assert.equal(await page.getByRole('region', { name: 'Chapters' }).count(), 0, 'the page lists chapters');
    assert.deepEqual(viewer.problems, []);
    await viewer.context.close();
  });

  test('a chapter title with markup shows as text and runs nothing', STEP, async () => {
    const markup = '<img src=x onerror="window.__chapterRan=1"><b>Bold</b>';
    await call(instance.url, instance.ownerToken, 'PUT', `/videos/${plain.uuid}/chapters`, { chapters: [{ timecode: 0, title: markup }, { timecode: 1, title: 'End' }] });
    const viewer = await newPerson(browser, DESKTOP, instance.url);
    const { page } = viewer;
    await page.goto(`/w/${plain.shortUUID}`);
    const list = page.getByRole('region', { name: 'Chapters' });
    await list.waitFor();
    assert.equal((await list.getByRole('button').first().textContent()).replace(/\s+/g, ' ').trim(), `0:00 ${markup}`);
    assert.equal((await page.getByTestId('player-chapter').textContent()).trim(), markup);
    assert.equal(await page.locator('[data-testid="chapters"] img, [data-testid="chapters"] b, [data-testid="player"] b').count(), 0, 'the title was made into elements');
    assert.equal(await page.evaluate(() => window.__chapterRan), undefined);
    assert.deepEqual(viewer.problems, []);
    await viewer.context.close();
  });
});
