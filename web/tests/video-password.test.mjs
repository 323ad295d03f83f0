// Password-protected videos (PeerTube 6.0's privacy 5). The owner uploads one from the upload page
// (a password too short is refused at the field before anything is sent, the server's refusal
// brings the person back to the list; the password goes with the upload's first request) and
// publishes it; the owner's own watch page shows it without a
// prompt, marked "Password protected" there and on "My videos"; the API lists it nowhere. A
// visitor gets "This video is password protected" in the player's place; a wrong password says
// "Incorrect password"; the right one plays it (the <video> advances) with its subtitles and
// comments, and every API call of the page about the video carries the password header; a reload
// does not ask again (sessionStorage, never localStorage). A signed-in user who is not the owner
// is asked too, then likes and comments with it. The embed asks (an emoji is "Incorrect password"
// without a request) and plays. Too many wrong
// passwords (a 429, answered by the test) show the server's message and when to try again, with
// Watch held; at 360 px the prompt fits. On the edit page the owner's list shows the password;
// adding, a duplicate and a character browsers cannot send said at their fields, the server's
// refusal at the list, then replacing the password: the old one is refused, and the visitor who
// had it is asked again.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, get, registerUser, token } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login, playUntil } from './support/flows.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 120_000 };
const OWNER = 'odile';
const OWNER_PASSWORD = 'odile-password-1';
const VIEWER = 'victor';
const VIEWER_PASSWORD = 'victor-password-1';
const TITLE = 'The lighthouse keeper’s diary';
/** The video's password, then the one that replaces it on the edit page. */
const SECRET = 'harbour-night-42';
const NEW_SECRET = 'tide-and-lantern';
const HEADER = 'x-peertube-video-password';
const OWNER_COMMENT = 'Thanks for coming, this one is for friends only.';
const SRT = '1\n00:00:00,000 --> 00:00:06,000\nLa lanterne est allumée.\n';

let instance;
let browser;
let workDir;
let clip;
let ownerToken;
/** `{ id, uuid, shortUUID }` once published. */
let video;
let owner;
/** The anonymous visitor, kept across steps (their tab's session holds the password). */
let visitor;
/** The step that failed: the later ones say so at once instead of timing out. */
let failed = null;

function step(name, fn) {
  return [name, STEP, async (t) => {
    if (failed) throw new Error(`not run: the step "${failed}" failed before`);
    try {
      await fn(t);
    } catch (e) {
      failed = name;
      await showPages(e);
      throw e;
    }
  }];
}

/** `GET /api/v1/videos/:id` as a visitor, with a password or none: the status and the problem's code. */
async function visit(id, password) {
  const res = await fetch(`${instance.url}/api/v1/videos/${id}`, { headers: password === undefined ? {} : { [HEADER]: password } });
  const body = await res.json().catch(() => ({}));
  return { status: res.status, code: body.code ?? null };
}

/** The names the client may call the video by, in `/api/v1/videos/<name>…`. */
const aboutVideo = (url) => {
  const m = /^\/api\/v1\/videos\/([^/?]+)(\/[^?]*)?/.exec(new URL(url).pathname);
  if (!m || ![String(video.id), video.uuid, video.shortUUID].includes(m[1])) return null;
  return m[2] ?? '';
};

/** Records the page's API calls about the video: `METHOD /rest` and the password header they carried. */
function recordCalls(page) {
  const calls = [];
  page.on('request', (r) => {
    const rest = aboutVideo(r.url());
    if (rest !== null) calls.push({ what: `${r.method()} ${rest}`, password: r.headers()[HEADER] ?? null });
  });
  return calls;
}

const prompt = (page) => page.getByRole('region', { name: 'This video is password protected' });

async function unlock(page, password) {
  const region = prompt(page);
  await region.getByLabel('Password', { exact: true }).fill(password);
  await region.getByRole('button', { name: 'Watch' }).click();
}

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-password-'));
  clip = makeClip(workDir, 6, '640x360', { name: 'lighthouse.mp4' });
  instance = await startInstance({ FLOTILLA_TRANSCODING_RESOLUTIONS: '240' });
  browser = await launch();
  await registerUser(instance.url, OWNER, OWNER_PASSWORD);
  await registerUser(instance.url, VIEWER, VIEWER_PASSWORD);
  ownerToken = await token(instance.url, OWNER, OWNER_PASSWORD);
  owner = await newPerson(browser, DESKTOP, instance.url);
  await login(owner.page, OWNER, OWNER_PASSWORD);
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('the owner', () => {
  test(...step('uploads a password-protected video from the upload page and publishes it', async () => {
    const { page } = owner;
    await page.goto('/videos/upload');
    await page.getByLabel('Privacy').selectOption({ label: 'Password protected' });
    const pick = page.getByRole('group', { name: 'Passwords' });
    await pick.waitFor();
    // Too short: said at the field, and nothing is uploaded.
    await pick.getByLabel('Password 1', { exact: true }).fill('x');
    await page.locator('[data-testid="file-input"]').setInputFiles(clip);
    await pick.getByText('A password has at least 2 characters.').waitFor();
    await pick.getByRole('alert').getByText('Correct the passwords marked above.').waitFor();
    assert.equal(await page.getByRole('progressbar', { name: 'Upload progress' }).count(), 0, 'the upload started');
    await shot(page, DESKTOP, 'password-upload-refused');

    // The server's refusal as the upload starts brings the person back to the list, said there.
    // Every rule is checked here first: the browser's request gets the answer the server gives
    // the same request with a refused password (a control character) through the API.
    const me = await get(instance.url, ownerToken, '/users/me');
    const refused = await fetch(`${instance.url}/api/v1/videos/upload-resumable`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ownerToken}`, 'Content-Type': 'application/json', 'X-Upload-Content-Length': '1000', 'X-Upload-Content-Type': 'video/mp4' },
      body: JSON.stringify({ filename: 'lighthouse.mp4', name: 'lighthouse', channelId: me.videoChannels[0].id, privacy: 5, videoPasswords: ['lamp\tlight'] }),
    });
    assert.equal(refused.status, 400);
    const body = await refused.text();
    const message = JSON.parse(body)['invalid-params']?.videoPasswords?.msg;
    assert.ok(message, `no videoPasswords message in ${body}`);
    const initPath = '**/api/v1/videos/upload-resumable';
    await page.route(initPath, (route) => route.fulfill({ status: 400, contentType: 'application/problem+json', body }));
    await pick.getByLabel('Password 1', { exact: true }).fill(SECRET);
    await page.locator('[data-testid="file-input"]').setInputFiles(clip);
    await page.getByRole('group', { name: 'Passwords' }).getByRole('alert').getByText(message, { exact: true }).waitFor();
    assert.equal(await page.getByRole('progressbar', { name: 'Upload progress' }).count(), 0, 'the refused upload is still shown');
    await page.unroute(initPath);

    // The passwords travel with the upload's first request.
    const init = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/api/v1/videos/upload-resumable'));
    await pick.getByLabel('Password 1', { exact: true }).fill(SECRET);
    await page.locator('[data-testid="file-input"]').setInputFiles(clip);
    const meta = JSON.parse((await init).postData());
    assert.equal(meta.privacy, 5);
    assert.deepEqual(meta.videoPasswords, [SECRET]);
    await page.getByText('Upload complete.').waitFor({ timeout: 60_000 });

    // The details keep the privacy and the password.
    const details = page.locator('form.details');
    assert.equal(await details.getByLabel('Privacy').inputValue(), '5');
    assert.equal(await details.getByRole('group', { name: 'Passwords' }).getByLabel('Password 1', { exact: true }).inputValue(), SECRET);
    await details.getByLabel('Title', { exact: true }).fill(TITLE);
    await details.getByLabel('Description', { exact: true }).fill('0:00 Dusk\n0:03 The lamp');
    await shot(page, DESKTOP, 'password-upload-details');
    await details.getByRole('button', { name: 'Publish' }).click();
    await page.getByTestId('upload-published').waitFor({ timeout: 90_000 });
    const href = await page.getByRole('link', { name: 'Watch it' }).getAttribute('href');
    const short = href.split('/').pop();
    video = await get(instance.url, ownerToken, `/videos/${short}`);
    assert.equal(video.privacy.id, 5);
    assert.equal(video.privacy.label, 'Password protected');
    const passwords = await get(instance.url, ownerToken, `/videos/${video.id}/passwords`);
    assert.deepEqual(passwords.data.map((p) => p.password), [SECRET]);

    // Subtitles and a comment, for the visitors to load with the password.
    const form = new FormData();
    form.set('captionfile', new Blob([SRT]), 'lanterne.srt');
    const res = await fetch(`${instance.url}/api/v1/videos/${video.uuid}/captions/fr`, { method: 'PUT', headers: { Authorization: `Bearer ${ownerToken}` }, body: form });
    assert.equal(res.status, 204, await res.text());
    await call(instance.url, ownerToken, 'POST', `/videos/${video.id}/comment-threads`, { text: OWNER_COMMENT });
  }));

  test(...step('sees it without a prompt, marked "Password protected" on the watch page and on My videos; the API lists it nowhere', async () => {
    const { page } = owner;
    await page.goto(`/w/${video.shortUUID}`);
    await page.getByRole('heading', { name: TITLE }).waitFor();
    await page.locator('.owner').getByText('Password protected', { exact: true }).waitFor();
    assert.equal(await prompt(page).count(), 0, 'the owner was asked the password');
    await page.locator('video').waitFor();
    await page.goto('/my-library/videos');
    await page.getByTestId('my-video').filter({ hasText: TITLE }).getByText('Password protected', { exact: true }).waitFor();

    const listed = await get(instance.url, null, '/videos?count=100');
    assert.ok(!listed.data.some((v) => v.uuid === video.uuid), 'listed among the videos');
    const found = await get(instance.url, null, `/search/videos?search=${encodeURIComponent('lighthouse keeper')}`);
    assert.ok(!found.data.some((v) => v.uuid === video.uuid), 'found by search');
  }));
});

describe('a visitor', () => {
  test(...step('is asked the password; a wrong one is "Incorrect password"', async () => {
    assert.deepEqual(await visit(video.uuid), { status: 403, code: 'video_requires_password' });
    assert.deepEqual(await visit(video.uuid, 'not-the-password'), { status: 403, code: 'incorrect_video_password' });
    const captions = await fetch(`${instance.url}/api/v1/videos/${video.uuid}/captions`);
    assert.equal(captions.status, 403, 'the captions are given without the password');

    visitor = await newPerson(browser, DESKTOP, instance.url);
    const { page } = visitor;
    await page.goto(`/w/${video.shortUUID}`);
    await prompt(page).waitFor();
    assert.equal(await page.locator('video').count(), 0);
    assert.equal(await prompt(page).getByRole('alert').count(), 0, 'an error before any password');
    await shot(page, DESKTOP, 'password-prompt');
    await unlock(page, 'not-the-password');
    await prompt(page).getByRole('alert').getByText('Incorrect password').waitFor();
    assert.equal(await prompt(page).getByLabel('Password', { exact: true }).getAttribute('aria-invalid'), 'true');
    await shot(page, DESKTOP, 'password-incorrect');
  }));

  test(...step('gives the right one: the video plays with its subtitles and comments, every call about it with the password', async () => {
    const { page, problems } = visitor;
    const calls = recordCalls(page);
    const views = page.waitForRequest((r) => r.method() === 'POST' && aboutVideo(r.url()) === '/views', { timeout: 30_000 });
    await unlock(page, SECRET);
    await page.getByRole('heading', { name: TITLE }).waitFor();
    await playUntil(page, 3.5);
    await views;
    await page.getByText(OWNER_COMMENT).waitFor();

    // Its subtitles: the menu lists French, and the track loads (with a file token).
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    await page.locator('#player-settings').getByRole('group', { name: 'Subtitles/CC' }).getByRole('radio', { name: 'French' }).click();
    await page.waitForFunction(() => (document.querySelector('video track[srclang="fr"]')?.track.cues?.length ?? 0) > 0);
    const src = await page.locator('video track[srclang="fr"]').getAttribute('src');
    assert.ok(new URL(src, instance.url).searchParams.get('videoFileToken'), `the track has no file token: ${src}`);

    const kinds = new Set(calls.map((c) => c.what));
    for (const kind of ['GET ', 'POST /token', 'GET /captions', 'GET /chapters', 'GET /storyboards', 'GET /comment-threads', 'POST /views']) {
      assert.ok(kinds.has(kind), `no "${kind}" call about the video (${[...kinds].join(', ')})`);
    }
    const bare = calls.filter((c) => c.password !== SECRET);
    assert.deepEqual(bare, [], 'calls about the video without its password');
    assert.deepEqual(problems, []);
    await shot(page, DESKTOP, 'password-unlocked');
  }));

  test(...step('a reload does not ask again; the password is in sessionStorage, not localStorage', async () => {
    const { page } = visitor;
    await page.reload();
    await page.getByRole('heading', { name: TITLE }).waitFor();
    assert.equal(await prompt(page).count(), 0, 'asked again after a reload');
    await playUntil(page, 1);
    const stored = await page.evaluate(() => ({ local: JSON.stringify({ ...localStorage }), session: JSON.stringify({ ...sessionStorage }) }));
    assert.ok(!stored.local.includes(SECRET), 'the password is in localStorage');
    assert.ok(stored.session.includes(SECRET), 'the password is not in sessionStorage');
  }));

  test(...step('too many wrong passwords: the server\'s message and when to try again, Watch held', async () => {
    // The instance's limit is off in the browser suite: the 429 is the test's, in the server's shape.
    const { page } = await newPerson(browser, DESKTOP, instance.url);
    await page.route(`**/api/v1/videos/${video.shortUUID}`, (route) => {
      if (!route.request().headers()[HEADER]) return route.fallback();
      return route.fulfill({
        status: 429,
        headers: { 'Retry-After': '30' },
        contentType: 'application/problem+json',
        body: JSON.stringify({ status: 429, title: 'Too Many Requests', detail: 'Too many requests: slow down.', code: 'too_many_requests' }),
      });
    });
    await page.goto(`/w/${video.shortUUID}`);
    await unlock(page, SECRET);
    const alert = prompt(page).getByRole('alert');
    await alert.getByText('Too many requests: slow down.').waitFor();
    assert.match(await alert.textContent(), /Try again in 30\s?s/);
    assert.ok(await prompt(page).getByRole('button', { name: 'Watch' }).isDisabled(), 'Watch is not held');
    await page.context().close();
  }));

  test(...step('at 360 px the prompt fits the page', async () => {
    const { page, context } = await newPerson(browser, PHONE, instance.url);
    await page.goto(`/w/${video.shortUUID}`);
    await prompt(page).waitFor();
    const watch = await prompt(page).getByRole('button', { name: 'Watch' }).boundingBox();
    assert.ok(watch.x >= 0 && watch.x + watch.width <= 360, `Watch is off the screen: ${JSON.stringify(watch)}`);
    assert.ok(!(await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth)), 'the page scrolls sideways');
    await shot(page, PHONE, 'password-prompt');
    await context.close();
  }));
});

describe('a signed-in user who is not the owner', () => {
  test(...step('is asked too, then likes and comments with the password', async () => {
    const { page, context, problems } = await newPerson(browser, DESKTOP, instance.url);
    await login(page, VIEWER, VIEWER_PASSWORD);
    await page.goto(`/w/${video.shortUUID}`);
    await prompt(page).waitFor();
    const calls = recordCalls(page);
    await unlock(page, SECRET);
    await page.getByRole('heading', { name: TITLE }).waitFor();
    await page.getByRole('button', { name: 'I like this' }).click();
    await page.getByRole('button', { name: 'I like this', pressed: true }).waitFor();
    await page.getByRole('textbox', { name: 'Add a comment' }).fill('Beautiful light.');
    await page.getByRole('button', { name: 'Post comment' }).click();
    await page.getByTestId('comment').getByText('Beautiful light.').waitFor();
    const kinds = new Set(calls.map((c) => c.what));
    assert.ok(kinds.has('PUT /rate') && kinds.has('POST /comment-threads'), `no rating or comment call: ${[...kinds].join(', ')}`);
    assert.deepEqual(calls.filter((c) => c.password !== SECRET), [], 'calls about the video without its password');
    assert.equal((await get(instance.url, ownerToken, `/videos/${video.uuid}`)).likes, 1);
    assert.deepEqual(problems, []);
    await context.close();
  }));
});

describe('the embed', () => {
  test(...step('asks the password (one with an emoji is incorrect), then plays', async () => {
    const { page, context, problems } = await newPerson(browser, DESKTOP, instance.url);
    await page.goto(`/videos/embed/${video.uuid}`);
    await prompt(page).waitFor();
    // A character no header can carry: wrong, said without a request (fetch() would throw).
    await unlock(page, 'phare 🔒');
    await prompt(page).getByRole('alert').getByText('Incorrect password').waitFor();
    await unlock(page, SECRET);
    await playUntil(page, 1);
    assert.deepEqual(problems, []);
    await context.close();
  }));
});

describe('the edit page', () => {
  test(...step('the owner edits the passwords: a duplicate, a tab and the server\'s refusal said, then the password replaced', async () => {
    const { page } = owner;
    await page.goto(`/videos/update/${video.shortUUID}`);
    const list = page.getByRole('group', { name: 'Passwords' });
    await list.waitFor();
    assert.equal(await list.getByLabel('Password 1', { exact: true }).inputValue(), SECRET);
    assert.equal(await list.getByLabel('Password 1', { exact: true }).getAttribute('type'), 'text');

    // A second one, then a third that repeats it.
    await list.getByRole('button', { name: 'Add a password' }).click();
    assert.ok(await list.getByLabel('Password 2', { exact: true }).evaluate((el) => el === document.activeElement), 'the new field is not focused');
    await list.getByLabel('Password 2', { exact: true }).fill(NEW_SECRET);
    await list.getByRole('button', { name: 'Add a password' }).click();
    await list.getByLabel('Password 3', { exact: true }).fill(NEW_SECRET);
    await list.getByLabel('Password 3', { exact: true }).blur();
    await list.getByText('This password is already in the list.').waitFor();
    await shot(page, DESKTOP, 'password-edit-duplicate');
    await list.getByRole('button', { name: 'Remove password 3' }).click();
    assert.equal(await list.getByLabel('Password 3', { exact: true }).count(), 0);

    // Characters a browser cannot send in the header are refused here.
    await list.getByLabel('Password 2', { exact: true }).fill('lamp\tlight');
    await list.getByLabel('Password 2', { exact: true }).blur();
    await list.getByText('Use unaccented letters, digits, spaces and ASCII symbols only: browsers cannot send other characters in a password.').waitFor();

    // The server's refusal shows under the list as it says it. Every rule of the server is checked
    // here first, so the browser's request gets the answer the server gave the same refused list
    // (a control character) through the API.
    const form = new FormData();
    form.append('privacy', '5');
    form.append('videoPasswords', 'lamp\tlight');
    const refused = await fetch(`${instance.url}/api/v1/videos/${video.id}`, { method: 'PUT', headers: { Authorization: `Bearer ${ownerToken}` }, body: form });
    assert.equal(refused.status, 400);
    const body = await refused.text();
    const message = JSON.parse(body)['invalid-params']?.videoPasswords?.msg;
    assert.ok(message, `no videoPasswords message in ${body}`);
    const putVideo = `**/api/v1/videos/${video.id}`;
    await page.route(putVideo, (route) =>
      route.request().method() === 'PUT' ? route.fulfill({ status: 400, contentType: 'application/problem+json', body }) : route.fallback(),
    );
    await list.getByLabel('Password 2', { exact: true }).fill(NEW_SECRET);
    await page.getByRole('button', { name: 'Save' }).click();
    await list.getByRole('alert').getByText(message, { exact: true }).waitFor();
    await shot(page, DESKTOP, 'password-edit-refused');
    await page.unroute(putVideo);
    assert.deepEqual((await get(instance.url, ownerToken, `/videos/${video.id}/passwords`)).data.map((p) => p.password), [SECRET]);

    // The new password replaces the old.
    await list.getByRole('button', { name: 'Remove password 1' }).click();
    assert.equal(await list.getByLabel('Password 1', { exact: true }).inputValue(), NEW_SECRET);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(new RegExp(`/w/${video.shortUUID}$`));
    assert.deepEqual((await get(instance.url, ownerToken, `/videos/${video.id}/passwords`)).data.map((p) => p.password), [NEW_SECRET]);
    assert.deepEqual(await visit(video.uuid, SECRET), { status: 403, code: 'incorrect_video_password' });
    assert.equal((await visit(video.uuid, NEW_SECRET)).status, 200);
  }));

  test(...step('the visitor who had the old password is asked again (not told it is wrong), and the new one plays', async () => {
    const { page } = visitor;
    await page.reload();
    await prompt(page).waitFor();
    assert.equal(await prompt(page).getByRole('alert').count(), 0, 'the forgotten password is called incorrect');
    const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage }));
    assert.ok(!stored.includes(SECRET), 'the refused password is still stored');
    await unlock(page, NEW_SECRET);
    await playUntil(page, 1);
  }));
});
