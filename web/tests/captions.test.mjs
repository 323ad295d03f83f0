// Subtitles. The owner of a clip (uploaded through the API) adds French subtitles from an SRT file
// on the edit page and sees them listed, replaces them (the form says it replaces), and a file
// that is not subtitles shows the server's own invalid_caption message and changes nothing. The
// watch page's player lists "French" under "Subtitles/CC" (from the keyboard too); choosing it
// shows the track and its cues load with the SRT's text; the choice is remembered for the session,
// not by a new one; `?subtitle=fr` selects it at start (on the embed too); web-video mode has it
// as well, also after switching files; a private video's track carries a file token; at 360 px the
// menu fits the player. Deleted on the edit page (confirmed), French leaves the player's menu.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, get, registerUser, token, uploadAndWait } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot } from './support/browser.mjs';
import { login, playUntil } from './support/flows.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
const OWNER = 'camille';
const PASSWORD = 'camille-password-1';
const TITLE = 'Le port au petit matin';
/** The first cue of the subtitles the video keeps (the second upload, which replaces the first). */
const FIRST_CUE = 'Bonjour, les sous-titres !';
const SRT_FIRST = '1\n00:00:00,000 --> 00:00:04,000\nPremier essai\n';
const SRT = `1\n00:00:00,000 --> 00:00:04,000\n${FIRST_CUE}\n\n2\n00:00:04,000 --> 00:00:08,000\nAu revoir.\n`;

let instance;
let browser;
let workDir;
let ownerToken;
let video;
let owner;

/** Our subtitle tracks as the <video> has them: language, label, mode, the cues' text once loaded, src, readyState. */
const tracks = (page) =>
  page.evaluate(() =>
    Array.from(document.querySelectorAll('video track')).map((el) => ({
      language: el.srclang,
      label: el.label,
      mode: el.track.mode,
      cues: el.track.cues ? Array.from(el.track.cues).map((c) => c.text) : null,
      src: el.src,
      readyState: el.readyState,
    })),
  );

/** Waits until the French track shows and has loaded (or failed to: HTMLTrackElement.ERROR), and returns it. */
async function frenchShowing(page) {
  await page.waitForFunction(() => {
    const el = document.querySelector('video track[srclang="fr"]');
    return el?.track.mode === 'showing' && (el.readyState === 3 || (el.track.cues?.length ?? 0) > 0);
  });
  const fr = (await tracks(page)).find((t) => t.language === 'fr');
  assert.notEqual(fr.readyState, 3, `the French track failed to load from ${fr.src}`);
  return fr;
}

/** The player's settings menu, opened, and its "Subtitles/CC" group. */
async function subtitlesMenu(page) {
  const settings = page.getByRole('button', { name: 'Settings', exact: true });
  if ((await settings.getAttribute('aria-expanded')) !== 'true') await settings.click();
  const menu = page.locator('#player-settings');
  await menu.waitFor();
  return { settings, menu, group: menu.getByRole('group', { name: 'Subtitles/CC' }) };
}

/** The radios' names of a group, in order. */
const choices = (group) => group.getByRole('radio').evaluateAll((rs) => rs.map((r) => r.parentElement.textContent.trim()));

/** The edit page's "Subtitles" section. */
async function captionsSection(page) {
  await page.goto(`/videos/update/${video.uuid}`);
  const section = page.getByRole('region', { name: 'Subtitles' });
  await section.waitFor();
  return section;
}

async function captionsOnServer() {
  return (await get(instance.url, null, `/videos/${video.uuid}/captions`)).data;
}

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-captions-'));
  instance = await startInstance({ FLOTILLA_TRANSCODING_WEB_VIDEOS: 'true', FLOTILLA_TRANSCODING_RESOLUTIONS: '240,360' });
  browser = await launch();
  await registerUser(instance.url, OWNER, PASSWORD);
  ownerToken = await token(instance.url, OWNER, PASSWORD);
  video = await uploadAndWait(instance.url, ownerToken, makeClip(workDir, 8, '640x360'), TITLE, 2);
  assert.equal(video.files.length, 2, 'the server made no web videos');
  writeFileSync(join(workDir, 'first.srt'), SRT_FIRST);
  writeFileSync(join(workDir, 'sous-titres.srt'), SRT);
  writeFileSync(join(workDir, 'hello.srt'), 'hello');
  owner = await newPerson(browser, DESKTOP, instance.url);
  await login(owner.page, OWNER, PASSWORD);
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('the edit page\'s Subtitles section', () => {
  test('the owner adds French subtitles from an SRT file and sees them listed', STEP, async () => {
    const { page } = owner;
    const section = await captionsSection(page);
    await section.getByText('This video has no subtitles yet.').waitFor();
    await section.getByLabel('Language').selectOption({ label: 'French' });
    await section.getByLabel('Subtitle file').setInputFiles(join(workDir, 'first.srt'));
    assert.equal(await section.getByTestId('caption-replaces').count(), 0, 'a new language says it replaces');
    await section.getByRole('button', { name: 'Add subtitles' }).click();
    await section.getByRole('status').getByText('The French subtitles were added.').waitFor();
    const item = section.getByRole('listitem').filter({ hasText: 'French' });
    await item.waitFor();
    const onServer = await captionsOnServer();
    assert.deepEqual(onServer.map((c) => c.language), [{ id: 'fr', label: 'French' }]);
    // The link is the file the server serves, as WebVTT made from the SRT.
    const href = await item.getByRole('link', { name: /^View file/ }).getAttribute('href');
    assert.equal(href, onServer[0].captionPath);
    const file = await fetch(new URL(href, instance.url));
    assert.equal(file.status, 200);
    assert.match(file.headers.get('content-type'), /^text\/vtt/);
    assert.match(await file.text(), /^WEBVTT[\s\S]*00:00:00\.000 --> 00:00:04\.000\nPremier essai/);
  });

  test('choosing a language that has subtitles says the file replaces them, and it does', STEP, async () => {
    const { page } = owner;
    const section = await captionsSection(page);
    const before = (await captionsOnServer())[0].captionPath;
    await section.getByLabel('Language').selectOption({ label: 'German' });
    assert.equal(await section.getByTestId('caption-replaces').count(), 0, 'German says it replaces');
    await section.getByLabel('Language').selectOption({ label: 'French' });
    await section.getByTestId('caption-replaces').getByText('This video has French subtitles already: this file replaces them.').waitFor();
    await section.getByLabel('Subtitle file').setInputFiles(join(workDir, 'sous-titres.srt'));
    await section.getByRole('button', { name: 'Replace subtitles' }).click();
    await section.getByRole('status').getByText('The French subtitles were replaced.').waitFor();
    const after = await captionsOnServer();
    assert.equal(after.length, 1);
    assert.notEqual(after[0].captionPath, before, 'the server still has the first file');
    assert.match(await (await fetch(after[0].fileUrl)).text(), new RegExp(FIRST_CUE));
    await shot(page, DESKTOP, 'captions-edit');
  });

  test('a file that is not subtitles shows the server\'s invalid_caption message and changes nothing', STEP, async () => {
    const { page } = owner;
    // What the server says of this file, asked directly (for Spanish, which it does not keep either).
    const form = new FormData();
    form.set('captionfile', new Blob(['hello']), 'hello.srt');
    const res = await fetch(`${instance.url}/api/v1/videos/${video.uuid}/captions/es`, { method: 'PUT', headers: { Authorization: `Bearer ${ownerToken}` }, body: form });
    const problem = await res.json();
    assert.equal(res.status, 400);
    assert.equal(problem.code, 'invalid_caption');
    const kept = await captionsOnServer();

    const section = await captionsSection(page);
    await section.getByLabel('Language').selectOption({ label: 'French' });
    await section.getByLabel('Subtitle file').setInputFiles(join(workDir, 'hello.srt'));
    await section.getByRole('button', { name: 'Replace subtitles' }).click();
    const alert = section.getByRole('alert');
    await alert.waitFor();
    assert.equal((await alert.textContent()).trim(), problem.detail);
    assert.deepEqual(await captionsOnServer(), kept, 'the refused file changed the captions');
  });
});

describe('the player\'s Subtitles/CC menu', () => {
  test('it lists French; choosing it shows the track and its cues load with the SRT\'s text', STEP, async () => {
    const visitor = await newPerson(browser, DESKTOP, instance.url);
    const { page } = visitor;
    await page.goto(`/w/${video.shortUUID}`);
    await playUntil(page, 0.5);
    const { group } = await subtitlesMenu(page);
    assert.deepEqual(await choices(group), ['Off', 'French']);
    // A new session starts with Off.
    assert.ok(await group.getByRole('radio', { name: 'Off' }).isChecked());
    assert.deepEqual((await tracks(page)).map((t) => [t.language, t.label, t.mode]), [['fr', 'French', 'disabled']]);
    await group.getByRole('radio', { name: 'French' }).click();
    const fr = await frenchShowing(page);
    assert.equal(fr.cues[0], FIRST_CUE);
    assert.equal(new URL(fr.src).origin, instance.url, 'the track is not same-origin');
    await page.evaluate(() => {
      const v = document.querySelector('video');
      v.pause();
      v.currentTime = 1;
    });
    // Paused, the controls show: the cues are moved up lines from the bottom, above them.
    const lifted = await page
      .waitForFunction(() => {
        const cue = document.querySelector('video track[srclang="fr"]').track.cues[0];
        return typeof cue.line === 'number' && cue.line < -1;
      }, null, { timeout: 5_000 })
      .then(() => true, () => false);
    assert.ok(lifted, 'with the controls shown, the cues were not moved above them');
    await shot(page, DESKTOP, 'player-subtitles');

    // Remembered for the session: a reload starts with French. (The player sets the modes as it
    // adds the tracks, so once the track is there its mode says what the player chose.)
    await page.reload();
    await page.waitForFunction(() => document.querySelector('video track[srclang="fr"]'));
    assert.equal((await tracks(page))[0].mode, 'showing', 'a reload in the same session did not start with French');
    assert.equal((await frenchShowing(page)).cues[0], FIRST_CUE);
    assert.deepEqual(visitor.problems, []);
    await visitor.context.close();
  });

  test('the keyboard opens the menu and moves between Off and French', STEP, async () => {
    const visitor = await newPerson(browser, DESKTOP, instance.url);
    const { page } = visitor;
    await page.goto(`/w/${video.shortUUID}`);
    await page.waitForFunction(() => document.querySelector('video track[srclang="fr"]'));
    const settings = page.getByRole('button', { name: 'Settings', exact: true });
    await settings.focus();
    await page.keyboard.press('Enter');
    await page.locator('#player-settings').waitFor();
    // Tab goes from group to group (each group's checked radio) until the subtitles' Off.
    for (let i = 0; i < 6; i += 1) {
      if (await page.evaluate(() => document.activeElement?.getAttribute('name') === 'subtitles')) break;
      await page.keyboard.press('Tab');
    }
    assert.equal(await page.evaluate(() => document.activeElement?.parentElement?.textContent.trim()), 'Off');
    await page.keyboard.press('ArrowDown');
    await frenchShowing(page);
    // The choice closes the menu and gives the focus back to Settings, as the other items do.
    await page.locator('#player-settings').waitFor({ state: 'detached' });
    assert.ok(await settings.evaluate((b) => b === document.activeElement), 'the focus did not return to Settings');
    await page.keyboard.press('Enter');
    await page.locator('#player-settings').waitFor();
    for (let i = 0; i < 6; i += 1) {
      if (await page.evaluate(() => document.activeElement?.getAttribute('name') === 'subtitles')) break;
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('ArrowUp');
    await page.waitForFunction(() => document.querySelector('video track[srclang="fr"]').track.mode === 'disabled');
    assert.deepEqual(visitor.problems, []);
    await visitor.context.close();
  });

  test('?subtitle=fr in the watch URL (and the embed\'s) selects French at start', STEP, async () => {
    const visitor = await newPerson(browser, DESKTOP, instance.url);
    const { page } = visitor;
    await page.goto(`/w/${video.shortUUID}?subtitle=fr`);
    await page.waitForFunction(() => document.querySelector('video track[srclang="fr"]'));
    assert.equal((await tracks(page))[0].mode, 'showing', '?subtitle=fr did not start with French');
    assert.equal((await frenchShowing(page)).cues[0], FIRST_CUE);
    const { group } = await subtitlesMenu(page);
    assert.ok(await group.getByRole('radio', { name: 'French' }).isChecked());
    // The parameter is not a choice: without it, this session still starts with Off.
    await page.goto(`/w/${video.shortUUID}`);
    await page.waitForFunction(() => document.querySelector('video track[srclang="fr"]'));
    assert.equal((await tracks(page))[0].mode, 'disabled');
    await page.goto(`/videos/embed/${video.uuid}?subtitle=fr`);
    assert.equal((await frenchShowing(page)).cues[0], FIRST_CUE);
    assert.deepEqual(visitor.problems, []);
    await visitor.context.close();
  });

  test('in web-video mode French shows too, and stays shown after switching files', STEP, async () => {
    const visitor = await newPerson(browser, DESKTOP, instance.url);
    const { page } = visitor;
    // The API answer without HLS, as an instance without HLS would send it.
    await page.route(new RegExp(`/api/v1/videos/(${video.uuid}|${video.shortUUID})$`), async (route) => {
      const res = await route.fetch();
      const v = await res.json();
      v.streamingPlaylists = [];
      await route.fulfill({ response: res, json: v });
    });
    const [high, low] = video.files;
    await page.goto(`/w/${video.shortUUID}`);
    await playUntil(page, 0.5);
    assert.equal(await page.evaluate(() => document.querySelector('video').currentSrc), high.fileUrl);
    const { group, menu } = await subtitlesMenu(page);
    await group.getByRole('radio', { name: 'French' }).click();
    assert.equal((await frenchShowing(page)).cues[0], FIRST_CUE);
    await subtitlesMenu(page);
    await menu.getByRole('group', { name: 'Quality' }).getByRole('radio', { name: low.resolution.label }).click();
    await page.waitForFunction((url) => document.querySelector('video').currentSrc === url, low.fileUrl);
    assert.equal((await frenchShowing(page)).cues[0], FIRST_CUE);
    assert.deepEqual(visitor.problems, []);
    await visitor.context.close();
  });

  test('at 360 px the menu fits the player and French shows', STEP, async () => {
    const visitor = await newPerson(browser, PHONE, instance.url);
    const { page } = visitor;
    await page.goto(`/w/${video.shortUUID}`);
    await playUntil(page, 0.5);
    await page.evaluate(() => document.querySelector('video').pause());
    const { group, menu } = await subtitlesMenu(page);
    await group.scrollIntoViewIfNeeded();
    const player = await page.getByRole('region', { name: 'Video player' }).boundingBox();
    const box = await menu.boundingBox();
    assert.ok(box.x >= player.x && box.x + box.width <= player.x + player.width, `the menu is wider than the player: ${JSON.stringify(box)}`);
    assert.ok(box.y >= player.y && box.y + box.height <= player.y + player.height, `the menu is taller than the player: ${JSON.stringify(box)}`);
    const french = await group.getByRole('radio', { name: 'French' }).boundingBox();
    assert.ok(french.y >= box.y && french.y + french.height <= box.y + box.height, 'French is outside the menu\'s visible part');
    await shot(page, PHONE, 'player-subtitles-menu');
    await group.getByRole('radio', { name: 'French' }).tap();
    await frenchShowing(page);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 360), 'the page scrolls sideways');
    await shot(page, PHONE, 'player-subtitles');
    assert.deepEqual(visitor.problems, []);
    await visitor.context.close();
  });

  test('a private video\'s track carries a file token, and its cues load', STEP, async () => {
    await call(instance.url, ownerToken, 'PUT', `/videos/${video.uuid}`, { privacy: 3 });
    try {
      const [caption] = (await get(instance.url, ownerToken, `/videos/${video.uuid}/captions`)).data;
      assert.notEqual((await fetch(new URL(caption.captionPath, instance.url))).status, 200, 'a private video\'s caption is served without a token');
      const { page } = owner;
      await page.goto(`/w/${video.shortUUID}`);
      const { group } = await subtitlesMenu(page);
      await group.getByRole('radio', { name: 'French' }).click();
      const fr = await frenchShowing(page);
      assert.ok(new URL(fr.src).searchParams.get('videoFileToken'), `no file token in ${fr.src}`);
      assert.equal(fr.cues[0], FIRST_CUE);
      // The edit page's link carries one too.
      const section = await captionsSection(page);
      const href = await section.getByRole('link', { name: /^View file/ }).getAttribute('href');
      assert.equal((await fetch(new URL(href, instance.url))).status, 200, `the edit page's link ${href} is refused`);
    } finally {
      await call(instance.url, ownerToken, 'PUT', `/videos/${video.uuid}`, { privacy: 1 });
    }
  });
});

describe('deleting subtitles', () => {
  test('Delete on the edit page (confirmed) takes French out of the watch page\'s menu', STEP, async () => {
    const { page } = owner;
    const section = await captionsSection(page);
    await section.getByRole('button', { name: 'Delete the French subtitles' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete the French subtitles?' });
    await dialog.waitFor();
    await shot(page, DESKTOP, 'captions-delete');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await section.getByRole('status').getByText('The French subtitles were deleted.').waitFor();
    await section.getByText('This video has no subtitles yet.').waitFor();
    assert.deepEqual(await captionsOnServer(), []);

    const visitor = await newPerson(browser, PHONE, instance.url);
    await visitor.page.goto(`/w/${video.shortUUID}?subtitle=fr`);
    await playUntil(visitor.page, 0.5);
    const { menu, group } = await subtitlesMenu(visitor.page);
    await menu.getByRole('group', { name: 'Speed' }).waitFor();
    assert.equal(await group.count(), 0, 'the menu still offers subtitles');
    assert.deepEqual(await tracks(visitor.page), []);
    assert.deepEqual(visitor.problems, []);
    await visitor.context.close();
    assert.deepEqual(owner.problems, []);
  });
});
