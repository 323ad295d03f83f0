// What a person does with their own things: an upload with its speed and time left and every field
// of the form, a cancelled upload, a new channel with its avatar and banner, the settings (profile,
// avatar, sensitive videos, P2P, password), and a session whose access token expired meanwhile.
// Each outcome is checked through the API afterwards.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { get, registerUser, token } from './support/api.mjs';
import { DESKTOP, launch, networkQuiet, newPerson, shot } from './support/browser.mjs';
import { login } from './support/flows.mjs';
import { makeClip, makeImage, startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
const USER = 'lena';
let password = 'lena-password-1';

let instance;
let browser;
let workDir;
let clip;
let person;
/** A fresh token of the user, for checking the server's state. */
const userToken = () => token(instance.url, USER, password);

/** Throttles the page's uploads to `bytesPerSecond` (-1: no limit). */
async function throttle(page, bytesPerSecond) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond });
}

/** The colour of the middle pixel of the image at `src`, drawn in the page. */
function middlePixel(page, src) {
  return page.evaluate(async (url) => {
    const img = new Image();
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    return [...ctx.getImageData(img.naturalWidth >> 1, img.naturalHeight >> 1, 1, 1).data.slice(0, 3)];
  }, src);
}

const near = (rgb, want) => rgb.every((c, i) => Math.abs(c - want[i]) < 40);

before(async () => {
  if (spawnSync('sqlite3', ['-version']).status !== 0) throw new Error('sqlite3 is missing: install it with `apt-get install sqlite3`');
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-library-'));
  clip = makeClip(workDir, 4, '256x144');
  instance = await startInstance({ FLOTILLA_TRANSCODING_RESOLUTIONS: '144' });
  browser = await launch();
  await registerUser(instance.url, USER, password);
  person = await newPerson(browser, DESKTOP, instance.url);
  await login(person.page, USER, password);
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

test('an upload shows its speed and time left, and every field of the form reaches the server', STEP, async () => {
  const { page } = person;
  await page.goto('/videos/upload');
  await throttle(page, 16 * 1024);
  await page.getByTestId('file-input').setInputFiles(clip);
  const numbers = page.locator('.numbers');
  const speed = numbers.getByText(/^[\d.,]+ (bytes?|kB|MB)\/s$/);
  const left = numbers.getByText(/^(\d+h )?(\d+m )?\d+[hms] left$/);
  await speed.waitFor();
  await left.waitFor();
  const [value, unit] = (await speed.textContent()).replace('/s', '').split(' ');
  const perSecond = Number(value) * (unit === 'kB' ? 1000 : unit === 'MB' ? 1e6 : 1);
  assert.ok(perSecond > 4_000 && perSecond < 64_000, `the speed reads ${await speed.textContent()} with the upload throttled to 16 KiB/s`);
  const secondsLeft = (await left.textContent()).match(/\d+/g).map(Number).reduce((a, b) => a * 60 + b);
  assert.ok(secondsLeft >= 1 && secondsLeft <= Math.ceil(statSync(clip).size / 4_000), `the time left reads ${await left.textContent()}`);

  // The details are filled while the file travels.
  const labels = {
    categories: await get(instance.url, null, '/videos/categories'),
    licences: await get(instance.url, null, '/videos/licences'),
    languages: await get(instance.url, null, '/videos/languages'),
  };
  await page.getByLabel('Title', { exact: true }).fill('Ropes and knots');
  await page.getByLabel('Description', { exact: true }).fill('Six knots every sailor ties.');
  await page.getByLabel('Tags', { exact: true }).fill('knots, sailing');
  await page.getByLabel('Privacy').selectOption({ label: 'Unlisted' });
  await page.getByLabel('Category').selectOption({ label: 'Education' });
  await page.getByLabel('Licence').selectOption({ label: 'Attribution - Share Alike' });
  await page.getByLabel('Language').selectOption({ label: 'French' });
  await page.getByLabel('This video contains sensitive content').check();
  await page.getByLabel('Allow comments').uncheck();
  await page.getByLabel('Allow downloads').uncheck();
  await page.getByLabel('Thumbnail').setInputFiles(makeImage(workDir, 'thumb.png', '0xff00ff', '1280x720'));
  await page.getByText('Upload complete.').waitFor({ timeout: 60_000 });
  await throttle(page, -1);
  await page.getByRole('button', { name: 'Publish' }).click();
  await page.getByTestId('upload-published').waitFor({ timeout: 60_000 });
  const link = await page.getByRole('link', { name: 'Watch it' }).getAttribute('href');

  const v = await get(instance.url, await userToken(), `/videos/${link.split('/').pop()}`);
  const key = (map, label) => Object.entries(map).find(([, l]) => l === label)?.[0];
  assert.deepEqual(
    {
      name: v.name,
      description: v.description,
      tags: v.tags,
      privacy: v.privacy.id,
      category: String(v.category.id),
      licence: String(v.licence.id),
      language: v.language.id,
      nsfw: v.nsfw,
      commentsEnabled: v.commentsEnabled,
      downloadEnabled: v.downloadEnabled,
    },
    {
      name: 'Ropes and knots',
      description: 'Six knots every sailor ties.',
      tags: ['knots', 'sailing'],
      privacy: 2,
      category: key(labels.categories, 'Education'),
      licence: key(labels.licences, 'Attribution - Share Alike'),
      language: key(labels.languages, 'French'),
      nsfw: true,
      commentsEnabled: false,
      downloadEnabled: false,
    },
  );
  // The thumbnail is the magenta picture, not a frame of the clip.
  const rgb = await middlePixel(page, v.thumbnailPath);
  assert.ok(near(rgb, [255, 0, 255]), `the thumbnail's middle is ${rgb}, not magenta`);
});

test('a cancelled upload stops, and the server forgets it', STEP, async () => {
  const { page } = person;
  await page.goto('/videos/upload');
  await throttle(page, 8 * 1024);
  const created = page.waitForResponse((r) => r.url().includes('/upload-resumable') && r.request().method() === 'POST');
  await page.getByTestId('file-input').setInputFiles(clip);
  const location = (await created).headers().location;
  assert.ok(location, 'no upload address');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="upload-progress"]')?.getAttribute('value')) > 0);
  const deleted = page.waitForResponse((r) => r.url().includes('/upload-resumable') && r.request().method() === 'DELETE');
  await page.getByRole('button', { name: 'Cancel upload' }).click();
  assert.equal((await deleted).status(), 204);
  await page.getByText('The upload was cancelled.').waitFor();
  await page.getByRole('region', { name: 'Drag and drop a video file here' }).waitFor();
  await throttle(page, -1);

  // The upload address is gone, and no video was made of it.
  const res = await fetch(new URL(location, instance.url), {
    method: 'PUT',
    headers: { Authorization: `Bearer ${await userToken()}`, 'Content-Range': `bytes */${statSync(clip).size}` },
  });
  assert.equal(res.status, 404, `PUT on a cancelled upload answered ${res.status}`);
  const mine = await get(instance.url, await userToken(), '/users/me/videos');
  assert.deepEqual(mine.data.map((v) => v.name), ['Ropes and knots']);
});

test('a new channel is created, edited, and given an avatar and a banner', STEP, async () => {
  const { page } = person;
  await page.goto('/my-library/video-channels/create');
  await page.getByLabel('Name', { exact: true }).fill('lena_knots');
  await page.getByLabel('Display name').fill('Knots');
  await page.getByLabel('Description').fill('Knots, one a week.');
  await page.getByRole('button', { name: 'Create a channel' }).click();
  await page.getByText('The channel was created.').waitFor();
  await page.waitForURL(/\/my-library\/video-channels\/lena_knots/);

  await page.getByLabel('Display name').fill('Knots and splices');
  await page.getByLabel('Description').fill('Knots and splices, one a week.');
  await page.getByLabel('Support text').fill('Buy me some rope.');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await page.getByRole('status').getByText('Saved.').waitFor();
  await page.getByRole('heading', { name: 'Edit the channel Knots and splices' }).waitFor();

  await page.getByLabel('Change the avatar').setInputFiles(makeImage(workDir, 'avatar.png', '0x00ff00', '400x400'));
  await page.getByRole('button', { name: 'Remove the avatar' }).waitFor();
  await page.getByLabel('Change the banner').setInputFiles(makeImage(workDir, 'banner.png', '0x0000ff', '1920x320'));
  await page.getByRole('img', { name: 'Banner of Knots and splices' }).waitFor();
  await shot(page, DESKTOP, 'channel-images');

  const c = await get(instance.url, null, '/video-channels/lena_knots');
  assert.deepEqual([c.displayName, c.description, c.support], ['Knots and splices', 'Knots and splices, one a week.', 'Buy me some rope.']);
  assert.ok(c.avatars.length > 0 && c.banners.length > 0, `avatars ${JSON.stringify(c.avatars)}, banners ${JSON.stringify(c.banners)}`);
  assert.ok(near(await middlePixel(page, c.avatars[0].path), [0, 255, 0]), 'the avatar is not the green picture');
  assert.ok(near(await middlePixel(page, c.banners[0].path), [0, 0, 255]), 'the banner is not the blue picture');
  const mine = await get(instance.url, await userToken(), '/users/me');
  assert.ok(mine.videoChannels.some((x) => x.name === 'lena_knots'));
  // The account's page wears the banner of its first channel that has one.
  await page.goto(`/a/${USER}`);
  const src = await page.locator('.profile-banner img').getAttribute('src');
  assert.ok(c.banners.some((b) => src.endsWith(b.path)), `account banner ${src}`);
  await shot(page, DESKTOP, 'account-banner');
});

test('the settings change the profile, the avatar, the sensitive-video policy and P2P', STEP, async () => {
  const { page } = person;
  await page.goto('/my-account/settings');
  await page.getByLabel('Display name').fill('Lena Knotts');
  await page.getByLabel('About you').fill('I tie knots.');
  const profile = page.locator('section', { has: page.getByRole('heading', { name: 'Profile', exact: true }) });
  await profile.getByRole('button', { name: 'Save' }).click();
  await profile.getByRole('status').getByText('Saved.').waitFor();
  await page.getByRole('button', { name: 'Account menu for Lena Knotts' }).waitFor();

  await page.getByLabel('Change the avatar').setInputFiles(makeImage(workDir, 'me.png', '0xffff00', '300x300'));
  await page.getByRole('button', { name: 'Remove the avatar' }).waitFor();

  const prefs = page.locator('section', { has: page.getByRole('heading', { name: 'Videos', exact: true }) });
  await prefs.getByLabel('Blur their thumbnails').check();
  await prefs.getByLabel(/peer to peer/).uncheck();
  await prefs.getByRole('button', { name: 'Save' }).click();
  await prefs.getByRole('status').getByText('Saved.').waitFor();
  await shot(page, DESKTOP, 'settings-changed');

  const me = await get(instance.url, await userToken(), '/users/me');
  assert.deepEqual(
    [me.account.displayName, me.account.description, me.nsfwPolicy, me.p2pEnabled],
    ['Lena Knotts', 'I tie knots.', 'blur', false],
  );
  assert.ok(me.account.avatars.length > 0, 'no avatar');
  assert.ok(near(await middlePixel(page, me.account.avatars[0].path), [255, 255, 0]), 'the avatar is not the yellow picture');
});

test('an access token that expired is renewed from the refresh cookie without the person noticing', STEP, async () => {
  const { page } = person;
  await page.goto('/my-account/settings');
  await page.getByRole('heading', { name: 'Profile', exact: true }).waitFor();
  // The page's own loads done first: they must not be what meets the expired token.
  await networkQuiet(page);
  // Every access token of the instance ends now, as it would after its lifetime; refresh tokens stay valid.
  const db = join(instance.dir, 'data', 'flotilla.db');
  const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', db, 'UPDATE oauth_tokens SET access_expires_at = 0;'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const seen = [];
  page.on('response', (res) => {
    // The notification stream (re)opens on its own schedule (also with the renewed token).
    if (res.url().includes('/api/v1/users/') && !res.url().endsWith('/notifications/stream')) seen.push(`${res.request().method()} ${new URL(res.url()).pathname} ${res.status()}`);
  });
  await page.getByLabel('About you').fill('I tie knots, and splice ropes.');
  const profile = page.locator('section', { has: page.getByRole('heading', { name: 'Profile', exact: true }) });
  await profile.getByRole('button', { name: 'Save' }).click();
  await profile.getByRole('status').getByText('Saved.').waitFor();
  // The page's own reads (aliases, exports) may still be answered after the listener is set:
  // only the save and the renewal are in question.
  const writes = seen.filter((s) => !s.startsWith('GET '));
  assert.deepEqual(writes.slice(0, 3), ['PUT /api/v1/users/me 401', 'POST /api/v1/users/token 200', 'PUT /api/v1/users/me 204']);
  const me = await get(instance.url, await userToken(), '/users/me');
  assert.equal(me.account.description, 'I tie knots, and splice ropes.');
});

test('a new password replaces the old one', STEP, async () => {
  const { page } = person;
  await page.goto('/my-account/settings');
  const section = page.locator('section', { has: page.getByRole('heading', { name: 'Password', exact: true }) });
  await section.getByLabel('Current password').fill(password);
  await section.getByLabel('New password', { exact: true }).fill('lena-password-2');
  await section.getByLabel('New password again').fill('lena-password-3');
  await section.getByRole('button', { name: 'Change the password' }).click();
  await section.getByText('The two new passwords differ.').waitFor();
  await section.getByLabel('New password again').fill('lena-password-2');
  await section.getByRole('button', { name: 'Change the password' }).click();
  await section.getByText('Your password was changed.').waitFor();
  const old = password;
  password = 'lena-password-2';

  await page.getByRole('button', { name: /^Account menu for / }).click();
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('link', { name: 'Log in' }).first().waitFor();
  await login(page, USER, password);
  await assert.rejects(token(instance.url, USER, old), /400/);
  assert.deepEqual(person.problems, []);
});
