// The watch page and its player: what the owner sees while a video is processed, the folded
// description, the channel's other videos, every keyboard shortcut, the quality and speed menus,
// full screen and picture in picture, the remembered volume; then every page at phone width.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { get, registerUser, token, uploadVideo, waitPublished } from './support/api.mjs';
import { DESKTOP, PHONE, launch, networkQuiet, newPerson, shot } from './support/browser.mjs';
import { login, playUntil } from './support/flows.mjs';
import { ADMIN_PASSWORD, makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
const OWNER = 'wanda';
const PASSWORD = 'wanda-password-1';
const MAIN = 'Tide tables explained';
const QUEUED = 'Gulls at the breakwater';
// Long enough to be folded: the last paragraph is below the fold until "Show more".
const DESCRIPTION = [
  'How the tide tables of the harbour are read, step by step.',
  ...Array.from({ length: 14 }, (_, i) => `Paragraph ${i + 1}: high water, low water and the range between them.`),
  'The very last line of the description.',
].join('\n\n');

let instance;
let browser;
let workDir;
let ownerToken;
let main;
let queued;
let channel;

/** The player's <video> element, read in the page. */
const media = (page) =>
  page.evaluate(() => {
    const v = document.querySelector('video');
    return { paused: v.paused, t: v.currentTime, volume: v.volume, muted: v.muted, rate: v.playbackRate, height: v.videoHeight, duration: v.duration };
  });

/** Presses `key` on the focused player region. */
async function press(page, key) {
  await page.getByRole('region', { name: 'Video player' }).focus();
  await page.keyboard.press(key);
}

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-watch-'));
  // One configured resolution below the source's: two renditions (144p and the source's 240p).
  instance = await startInstance({ FLOTILLA_TRANSCODING_RESOLUTIONS: '144' });
  browser = await launch();
  await registerUser(instance.url, OWNER, PASSWORD);
  ownerToken = await token(instance.url, OWNER, PASSWORD);
  channel = (await get(instance.url, ownerToken, '/users/me')).videoChannels[0];
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('the watch page', () => {
  let owner;

  test('while a video waits to be processed its owner sees so, and it becomes playable without a reload', STEP, async () => {
    owner = await newPerson(browser, DESKTOP, instance.url);
    const { page } = owner;
    await login(page, OWNER, PASSWORD);
    // With one transcoding worker, the second video waits while the first (30 s, two renditions) is transcoded.
    main = await uploadVideo(instance.url, ownerToken, makeClip(workDir, 30, '426x240', { name: 'main.mp4' }), {
      name: MAIN,
      description: DESCRIPTION,
      waitTranscoding: true,
    });
    queued = await uploadVideo(instance.url, ownerToken, makeClip(workDir, 2, '256x144', { name: 'queued.mp4' }), { name: QUEUED, waitTranscoding: true });
    await page.goto(`/w/${queued.shortUUID}`);
    await page.getByRole('heading', { name: QUEUED }).waitFor();
    await page.getByText(/^This video (is waiting to be processed\.|is being processed: \d+%)/).waitFor();
    assert.equal(await page.getByTestId('video-state').textContent(), 'Processing');
    assert.equal(await page.getByRole('region', { name: 'Video player' }).count(), 0, 'a player is shown before the video is published');
    await shot(page, DESKTOP, 'watch-processing');
    // The page polls: the player and the new state arrive by themselves.
    await page.getByRole('region', { name: 'Video player' }).waitFor({ timeout: 60_000 });
    await page.getByTestId('video-state').getByText('Published').waitFor();
  });

  test('a long description is folded until "Show more"; the channel\'s other videos are listed', STEP, async () => {
    await waitPublished(instance.url, ownerToken, main.uuid, 2);
    const { page } = owner;
    await page.goto(`/w/${main.shortUUID}`);
    await page.getByRole('heading', { name: MAIN }).waitFor();
    const text = page.locator('.description .rich-text');
    // Where the last paragraph ends, against the bottom of the visible part of the description.
    const lastLine = () =>
      text.evaluate((box) => ({ end: [...box.querySelectorAll('p')].at(-1).getBoundingClientRect().bottom, bottom: box.getBoundingClientRect().bottom }));
    const folded = await text.evaluate((e) => e.clientHeight);
    const before = await lastLine();
    assert.ok(before.end > before.bottom, `the end of the description shows before it is unfolded: ${JSON.stringify(before)}`);
    const more = page.getByRole('button', { name: 'Show more' });
    assert.equal(await more.getAttribute('aria-expanded'), 'false');
    await more.click();
    const less = page.getByRole('button', { name: 'Show less' });
    assert.equal(await less.getAttribute('aria-expanded'), 'true');
    const unfolded = await text.evaluate((e) => e.clientHeight);
    assert.ok(unfolded > folded * 2, `the description did not unfold: ${folded}px → ${unfolded}px`);
    const now = await lastLine();
    assert.ok(now.end <= now.bottom + 1, `the last paragraph is still cut off: ${JSON.stringify(now)}`);
    await shot(page, DESKTOP, 'watch-description-expanded');
    await less.click();
    assert.equal(await text.evaluate((e) => e.clientHeight), folded);

    const related = page.getByRole('complementary', { name: `More from ${channel.displayName}` });
    await related.getByRole('link', { name: QUEUED }).first().waitFor();
    assert.equal(await related.getByRole('link', { name: MAIN }).count(), 0, 'the video itself is among "More from"');
  });
});

describe('the player', () => {
  let viewer;

  before(async () => {
    viewer = await newPerson(browser, DESKTOP, instance.url);
  });

  test('the quality menu switches to a fixed rendition and back to Auto', STEP, async () => {
    const { page } = viewer;
    await page.goto(`/w/${main.shortUUID}`);
    await playUntil(page, 0.5);
    const settings = page.getByRole('button', { name: 'Settings', exact: true });
    for (const height of [144, 240]) {
      await settings.click();
      await page.getByRole('radio', { name: `${height}p`, exact: true }).click();
      await page.waitForFunction((h) => document.querySelector('video')?.videoHeight === h, height, { timeout: 20_000 });
      await settings.click();
      assert.ok(await page.getByRole('radio', { name: `${height}p`, exact: true }).isChecked());
      await settings.click();
    }
    await settings.click();
    await page.getByRole('radio', { name: /^Auto/ }).click();
    await settings.click();
    // Auto names the rendition it plays.
    await page.getByRole('radio', { name: /^Auto \((144|240)p\)$/ }).waitFor();
    await settings.click();
  });

  test('the speed menu sets the playback rate', STEP, async () => {
    const { page } = viewer;
    const settings = page.getByRole('button', { name: 'Settings', exact: true });
    for (const [label, rate] of [['0.5×', 0.5], ['1.25×', 1.25], ['2×', 2], ['Normal', 1]]) {
      await settings.click();
      await page.getByRole('radio', { name: label, exact: true }).click();
      assert.equal((await media(page)).rate, rate, label);
    }
    // The rate is the one played: 2× covers about twice the media time of the wall-clock time.
    await settings.click();
    await page.getByRole('radio', { name: '2×', exact: true }).click();
    // From the start (a short clip must not run out), in up to three 1 s windows: a busy machine may
    // stall one, but at 1× no window ever covers 1.3 s of media.
    const ratios = [];
    for (let attempt = 0; attempt < 3 && !(ratios.at(-1) > 1.3); attempt += 1) {
      await page.evaluate(() => {
        const v = document.querySelector('video');
        v.currentTime = 0;
        return v.play();
      });
      const t0 = await page.evaluate(() => [document.querySelector('video').currentTime, performance.now()]);
      await page.waitForTimeout(1000);
      const t1 = await page.evaluate(() => [document.querySelector('video').currentTime, performance.now()]);
      ratios.push((t1[0] - t0[0]) / ((t1[1] - t0[1]) / 1000));
    }
    assert.ok(ratios.at(-1) > 1.3, `played at ${ratios.map((r) => r.toFixed(2)).join(', ')}× with the 2× speed`);
    await settings.click();
    await page.getByRole('radio', { name: 'Normal', exact: true }).click();
  });

  test('space and k pause and play; j, l and the side arrows seek', STEP, async () => {
    const { page } = viewer;
    await page.goto(`/w/${main.shortUUID}`);
    await playUntil(page, 0.5);
    await press(page, 'k');
    await page.waitForFunction(() => document.querySelector('video').paused);
    await press(page, ' ');
    await page.waitForFunction(() => !document.querySelector('video').paused);
    await press(page, ' ');
    await page.waitForFunction(() => document.querySelector('video').paused);
    // The page does not scroll on space: the player took the key.
    assert.equal(await page.evaluate(() => window.scrollY), 0);
    const start = (await media(page)).t;
    const moves = [['l', 10], ['j', 0], ['ArrowRight', 5], ['ArrowLeft', 0], ['l', 10], ['l', 20], ['j', 10]];
    for (const [key, offset] of moves) {
      await press(page, key);
      const t = (await media(page)).t;
      assert.ok(Math.abs(t - (start + offset)) < 0.3, `${key}: at ${t.toFixed(2)} s, expected ${(start + offset).toFixed(2)} s`);
    }
    assert.ok((await media(page)).paused, 'seeking started the video');
    await press(page, 'k');
    await page.waitForFunction(() => !document.querySelector('video').paused);
  });

  test('up and down change the volume, m mutes, and both are remembered after a reload', STEP, async () => {
    const { page } = viewer;
    assert.equal((await media(page)).volume, 1);
    for (const key of ['ArrowDown', 'ArrowDown', 'ArrowDown', 'ArrowUp']) await press(page, key);
    assert.equal((await media(page)).volume.toFixed(2), '0.80');
    await press(page, 'm');
    assert.equal((await media(page)).muted, true);
    await page.getByRole('button', { name: 'Unmute (m)' }).waitFor();
    await page.reload();
    await page.getByRole('region', { name: 'Video player' }).waitFor();
    await page.waitForFunction(() => document.querySelector('video')?.muted === true);
    assert.equal((await media(page)).volume.toFixed(2), '0.80');
    await press(page, 'm');
    assert.equal((await media(page)).muted, false);
    await page.reload();
    await page.getByRole('region', { name: 'Video player' }).waitFor();
    await page.waitForFunction(() => Math.abs(document.querySelector('video').volume - 0.8) < 0.001);
    assert.equal((await media(page)).muted, false);
  });

  test('f and the button enter and leave full screen; picture in picture opens', STEP, async () => {
    const { page } = viewer;
    await playUntil(page, 0.5);
    const inFullscreen = () => page.evaluate(() => document.fullscreenElement?.getAttribute('data-testid') ?? null);
    await press(page, 'f');
    await page.waitForFunction(() => document.fullscreenElement !== null);
    assert.equal(await inFullscreen(), 'player');
    await page.getByRole('button', { name: 'Exit full screen (f)' }).waitFor();
    await press(page, 'f');
    await page.waitForFunction(() => document.fullscreenElement === null);
    await page.getByRole('button', { name: 'Full screen (f)' }).click();
    await page.waitForFunction(() => document.fullscreenElement !== null);
    await page.getByRole('button', { name: 'Exit full screen (f)' }).click();
    await page.waitForFunction(() => document.fullscreenElement === null);

    await page.getByRole('button', { name: 'Picture in picture' }).click();
    await page.waitForFunction(() => document.pictureInPictureElement?.tagName === 'VIDEO');
    await page.getByRole('button', { name: 'Picture in picture' }).click();
    await page.waitForFunction(() => document.pictureInPictureElement === null);
    assert.deepEqual(viewer.problems, []);
  });
});

test('at 360 px wide no page scrolls sideways, and the users table keeps its controls on screen', STEP, async () => {
  const owner = await newPerson(browser, PHONE, instance.url);
  const admin = await newPerson(browser, PHONE, instance.url);
  await login(owner.page, OWNER, PASSWORD);
  await login(admin.page, 'root', ADMIN_PASSWORD);
  const pages = [
    [owner.page, '/', () => owner.page.getByRole('link', { name: MAIN }).first()],
    [owner.page, `/w/${main.shortUUID}`, () => owner.page.getByRole('region', { name: 'Video player' })],
    [owner.page, '/videos/upload', () => owner.page.getByRole('region', { name: 'Drag and drop a video file here' })],
    [owner.page, `/c/${channel.name}`, () => owner.page.getByRole('heading', { name: channel.displayName })],
    [owner.page, `/a/${OWNER}`, () => owner.page.getByRole('link', { name: MAIN }).first()],
    [owner.page, '/my-library/videos', () => owner.page.getByTestId('my-video').first()],
    [owner.page, '/my-library/video-channels', () => owner.page.getByRole('link', { name: 'Edit' }).first()],
    [owner.page, `/my-library/video-channels/${channel.name}`, () => owner.page.getByLabel('Display name')],
    [owner.page, '/my-library/subscriptions', () => owner.page.getByText('You do not follow any channel yet.')],
    [owner.page, '/my-account/settings', () => owner.page.getByRole('heading', { name: 'Profile' })],
    [admin.page, '/admin/users', () => admin.page.getByRole('link', { name: OWNER, exact: true })],
    [admin.page, '/admin/config/edit-custom', () => admin.page.getByLabel('Name', { exact: true })],
    [admin.page, '/admin/follows/following-list', () => admin.page.getByText('This instance follows no other instance.')],
    [admin.page, '/admin/system/jobs?state=completed', () => admin.page.getByRole('cell', { name: 'video-transcoding' }).first()],
    [admin.page, '/admin/moderation/registrations/list', () => admin.page.getByText('No registration request.')],
  ];
  const wide = [];
  for (const [page, path, ready] of pages) {
    await page.goto(path);
    await ready().waitFor();
    await networkQuiet(page);
    const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
    if (scroll > inner) wide.push(`${path}: ${scroll}px in ${inner}px`);
  }
  assert.deepEqual(wide, [], 'pages wider than the phone');

  const page = admin.page;
  await page.goto('/admin/users');
  const controls = [
    page.getByRole('combobox', { name: `Role of ${OWNER}` }),
    page.getByRole('combobox', { name: `Video quota of ${OWNER}` }),
    page.getByRole('row').filter({ has: page.getByRole('link', { name: OWNER, exact: true }) }).getByRole('button', { name: 'Block' }),
  ];
  for (const control of controls) {
    const box = await control.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 360, `${control} is off screen: ${JSON.stringify(box)}`);
  }
  await shot(page, PHONE, 'admin-users-stacked');
  await page.getByRole('combobox', { name: `Role of ${OWNER}` }).selectOption({ label: 'Moderator' });
  await page.getByRole('status').getByText(`The user ${OWNER} was saved.`).waitFor();
  const users = await get(instance.url, await token(instance.url, 'root', ADMIN_PASSWORD), `/users?search=${OWNER}`);
  assert.equal(users.data.find((u) => u.username === OWNER)?.role.id, 1);
  assert.deepEqual([...owner.problems, ...admin.problems], []);
});
