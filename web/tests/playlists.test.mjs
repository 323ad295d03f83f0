// Playlists and Watch later: a user creates a playlist from the library, saves videos to it from
// the watch page's "Save" dialog and from the cards' ⋯ menus (and makes a second playlist in the
// dialog itself), reorders it by dragging a handle, with the buttons and with the keyboard (the
// order survives a reload and is the server's), sets where a video starts, adds to and removes
// from Watch later, plays the playlist (the panel marks the video playing, the next one starts
// when one ends, at its start time; looping goes back to the first), edits and deletes
// playlists; at phone size the pages fit the screen.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { get, registerUser, token, uploadVideo, waitPublished } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login, playUntil } from './support/flows.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
const USER = 'pat';
const PASSWORD = 'pat-password-1';
const NAMES = ['Gulls at dawn', 'Tide coming in', 'Nets on the quay'];
const MIX = 'Harbour mix';
const QUICK = 'Quick picks';

let instance;
let browser;
let workDir;
let tok;
let me;
/** By name: the uploaded videos. */
const videos = {};
let mix;

/** The titles of the playlist page's rows, in the order shown. */
const rowTitles = (page) => page.getByTestId('playlist-element-title').allTextContents();
/** The playlist's videos in the server's order. */
const serverOrder = async (id) => (await get(instance.url, tok, `/video-playlists/${id}/videos`)).data.map((e) => e.video?.name);
const myPlaylists = async () => (await get(instance.url, tok, `/accounts/${USER}/video-playlists?count=100`)).data;

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-playlists-'));
  instance = await startInstance({ FLOTILLA_TRANSCODING_RESOLUTIONS: '144' });
  browser = await launch();
  await registerUser(instance.url, USER, PASSWORD);
  tok = await token(instance.url, USER, PASSWORD);
  me = await get(instance.url, tok, '/users/me');
  // Very short clips, so that playing through a playlist takes seconds.
  const clip = makeClip(workDir, 2, '256x144', { name: 'short.mp4' });
  const uploaded = [];
  for (const name of NAMES) uploaded.push(await uploadVideo(instance.url, tok, clip, { name, waitTranscoding: true }));
  for (const [i, v] of uploaded.entries()) videos[NAMES[i]] = await waitPublished(instance.url, tok, v.uuid);
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('playlists and watch later', () => {
  let pat;
  let failed = null;

  /** Steps build on each other: after one fails, the next fail at once saying so. */
  const step = (name, fn) => test(name, STEP, async () => {
    if (failed) throw new Error(`not run: the step "${failed}" failed before`);
    try {
      await fn();
    } catch (e) {
      failed = name;
      await showPages(e);
      throw e;
    }
  });

  before(async () => {
    pat = await newPerson(browser, DESKTOP, instance.url);
    await login(pat.page, USER, PASSWORD);
  });

  after(async () => {
    await pat?.context.close();
  });

  step('a playlist is created from the library', async () => {
    const { page } = pat;
    await page.goto('/my-library/videos');
    await page.getByRole('navigation', { name: 'My library' }).getByRole('link', { name: 'Playlists' }).click();
    await page.waitForURL((u) => u.pathname === '/my-library/video-playlists');
    // Every user has a Watch later playlist from the start.
    await page.getByTestId('my-playlist').filter({ hasText: 'Watch later' }).waitFor();
    await shot(page, DESKTOP, 'playlists-empty');
    await page.getByRole('link', { name: 'Create a playlist' }).click();
    await page.getByRole('heading', { name: 'Create a playlist' }).waitFor();
    // A name is needed.
    await page.getByRole('button', { name: 'Create a playlist' }).click();
    await page.getByText('Give the playlist a name.').waitFor();
    await page.getByLabel('Name', { exact: true }).fill(MIX);
    await page.getByLabel('Description', { exact: true }).fill('Sounds of the harbour, in order.');
    await page.getByLabel('Privacy', { exact: true }).selectOption({ label: 'Public' });
    assert.equal(await page.getByLabel('Channel', { exact: true }).inputValue(), String(me.videoChannels[0].id));
    await shot(page, DESKTOP, 'playlist-create');
    await page.getByRole('button', { name: 'Create a playlist' }).click();
    await page.waitForURL(/\/my-library\/video-playlists\/[^/]+$/);
    await page.getByTestId('playlist-name').getByText(MIX).waitFor();
    await page.getByText('This playlist has no videos yet.').waitFor();

    mix = (await myPlaylists()).find((p) => p.displayName === MIX);
    assert.ok(mix, 'the playlist exists');
    assert.equal(mix.privacy.id, 1);
    assert.equal(mix.videoChannel?.id, me.videoChannels[0].id);
    assert.equal(mix.description, 'Sounds of the harbour, in order.');
    assert.equal(new URL(page.url()).pathname, `/my-library/video-playlists/${mix.shortUUID}`);
  });

  step('videos are saved from the watch page’s Save dialog and from the cards’ menus', async () => {
    const { page } = pat;
    const [a, b, c] = NAMES;
    await page.goto(`/w/${videos[a].shortUUID}`);
    await page.getByRole('heading', { name: a }).waitFor();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Save to…' });
    await dialog.getByRole('checkbox', { name: /^Watch later/ }).waitFor();
    // Watch later comes first.
    assert.match((await dialog.getByRole('checkbox').first().evaluate((el) => el.closest('label').textContent)).trim(), /^Watch later/);
    assert.equal(await dialog.getByRole('checkbox', { name: new RegExp(`^${MIX}`) }).isChecked(), false);
    await dialog.getByRole('checkbox', { name: new RegExp(`^${MIX}`) }).check();
    await dialog.getByText(`Added to ${MIX}.`).waitFor();
    await dialog.getByRole('checkbox', { name: /^Watch later/ }).check();
    await dialog.getByText('Added to Watch later.').waitFor();
    await shot(page, DESKTOP, 'playlist-save-dialog');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'hidden' });
    // Opened again, the dialog knows (videos-exist).
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('dialog', { name: 'Save to…' }).getByRole('checkbox', { name: new RegExp(`^${MIX}`) }).waitFor();
    assert.equal(await page.getByRole('dialog', { name: 'Save to…' }).getByRole('checkbox', { name: new RegExp(`^${MIX}`) }).isChecked(), true);
    await page.keyboard.press('Escape');

    // The cards' ⋯ menu on the home page: "Save to playlist…" opens the same dialog.
    for (const name of [b, c]) {
      await page.goto('/');
      await page.getByRole('link', { name }).first().waitFor();
      await page.getByRole('button', { name: `Video menu: ${name}` }).click();
      const menu = page.getByRole('menu', { name: `Video menu: ${name}` });
      await menu.getByRole('menuitem', { name: 'Save to Watch later' }).waitFor();
      if (name === b) await shot(page, DESKTOP, 'video-card-menu');
      await menu.getByRole('menuitem', { name: 'Save to playlist…' }).click();
      const d = page.getByRole('dialog', { name: 'Save to…' });
      await d.getByRole('checkbox', { name: new RegExp(`^${MIX}`) }).check();
      await d.getByText(`Added to ${MIX}.`).waitFor();
      await d.getByRole('button', { name: 'Close' }).click();
    }

    // A new playlist made in the dialog holds the video at once.
    await page.goto(`/w/${videos[c].shortUUID}`);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const d = page.getByRole('dialog', { name: 'Save to…' });
    await d.getByRole('button', { name: 'New playlist' }).click();
    await d.getByLabel('Name').fill(QUICK);
    await d.getByRole('button', { name: 'Create a playlist' }).click();
    await d.getByText(`Playlist “${QUICK}” created with this video.`).waitFor();
    assert.equal(await d.getByRole('checkbox', { name: new RegExp(`^${QUICK}`) }).isChecked(), true);
    await d.getByRole('button', { name: 'Close' }).click();

    assert.deepEqual(await serverOrder(mix.id), [a, b, c]);
    const quick = (await myPlaylists()).find((p) => p.displayName === QUICK);
    assert.equal(quick?.privacy.id, 3, 'made private by default');
    assert.deepEqual(await serverOrder(quick.id), [c]);
    const exist = await get(instance.url, tok, `/users/me/video-playlists/videos-exist?videoIds=${videos[a].id}&videoIds=${videos[c].id}`);
    assert.equal(exist[String(videos[a].id)].length, 2, 'a: the mix and Watch later');
    assert.equal(exist[String(videos[c].id)].length, 2, 'c: the mix and Quick picks');
  });

  step('the playlist is reordered by dragging, with the buttons and with the keyboard; the order persists', async () => {
    const { page } = pat;
    const [a, b, c] = NAMES;
    await page.goto(`/my-library/video-playlists/${mix.shortUUID}`);
    await page.getByTestId('playlist-element').nth(2).waitFor();
    assert.deepEqual(await rowTitles(page), [a, b, c]);
    await shot(page, DESKTOP, 'playlist-page');

    // Drag the third row's handle above the first.
    const handle = page.getByRole('button', { name: `Move “${c}” (drag, or press the up and down arrow keys)` });
    const from = await handle.boundingBox();
    const top = await page.getByTestId('playlist-element').first().boundingBox();
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(from.x + from.width / 2, top.y + 4, { steps: 12 });
    await page.mouse.up();
    await page.waitForFunction((want) => [...document.querySelectorAll('[data-testid="playlist-element-title"]')].map((e) => e.textContent).join('|') === want, [c, a, b].join('|'));
    await assertServerOrder([c, a, b]);

    // The button: a goes down.
    await page.getByRole('button', { name: `Move “${a}” down` }).click();
    await page.waitForFunction((want) => [...document.querySelectorAll('[data-testid="playlist-element-title"]')].map((e) => e.textContent).join('|') === want, [c, b, a].join('|'));
    await assertServerOrder([c, b, a]);
    await page.reload();
    await page.getByTestId('playlist-element').nth(2).waitFor();
    assert.deepEqual(await rowTitles(page), [c, b, a], 'the order after a reload');

    // The keyboard: the arrow keys on a handle.
    await page.getByRole('button', { name: `Move “${a}” (drag, or press the up and down arrow keys)` }).focus();
    await page.keyboard.press('ArrowUp');
    await page.waitForFunction((want) => [...document.querySelectorAll('[data-testid="playlist-element-title"]')].map((e) => e.textContent).join('|') === want, [c, a, b].join('|'));
    // The handle keeps the focus, so the key can be pressed again.
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), `Move “${a}” (drag, or press the up and down arrow keys)`);
    await assertServerOrder([c, a, b]);
    await page.reload();
    await page.getByTestId('playlist-element').nth(2).waitFor();
    assert.deepEqual(await rowTitles(page), [c, a, b]);
    // The first cannot go up, the last cannot go down.
    assert.equal(await page.getByRole('button', { name: `Move “${c}” up` }).isDisabled(), true);
    assert.equal(await page.getByRole('button', { name: `Move “${b}” down` }).isDisabled(), true);
  });

  step('a video’s start time is set in the playlist', async () => {
    const { page } = pat;
    const b = NAMES[1];
    const row = page.getByTestId('playlist-element').filter({ hasText: b });
    await row.getByRole('button', { name: `Set where “${b}” starts and stops` }).click();
    await row.getByRole('textbox', { name: 'Start' }).fill('9');
    await row.getByRole('button', { name: 'Save' }).click();
    await row.getByText('The video is only 0:02 long.').waitFor();
    await row.getByRole('textbox', { name: 'Start' }).fill('0:01');
    await row.getByRole('button', { name: 'Save' }).click();
    await row.getByTestId('playlist-element-part').getByText('Plays 0:01 to 0:02').waitFor();
    const element = (await get(instance.url, tok, `/video-playlists/${mix.id}/videos`)).data.find((e) => e.video?.name === b);
    assert.equal(element.startTimestamp, 1);
    assert.equal(element.stopTimestamp, null);
  });

  step('Watch later: saved from a card’s menu, listed, and removed', async () => {
    const { page } = pat;
    const [a, b] = NAMES;
    await page.goto('/');
    await page.getByRole('button', { name: `Video menu: ${b}` }).click();
    await page.getByRole('menu', { name: `Video menu: ${b}` }).getByRole('menuitem', { name: 'Save to Watch later' }).click();
    await page.getByRole('menu').waitFor({ state: 'detached' });

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Watch later' }).click();
    await page.waitForURL((u) => u.pathname === '/my-library/watch-later');
    await page.getByTestId('playlist-name').getByText('Watch later').waitFor();
    await page.getByTestId('playlist-element').nth(1).waitFor();
    assert.deepEqual(await rowTitles(page), [a, b]);
    // Watch later is neither renamed nor deleted.
    assert.equal(await page.getByRole('button', { name: 'Delete' }).count(), 0);
    await shot(page, DESKTOP, 'watch-later');

    await page.getByRole('button', { name: `Remove “${a}” from the playlist` }).click();
    await page.getByRole('dialog', { name: 'Remove this video from the playlist?' }).getByRole('button', { name: 'Remove' }).click();
    await page.getByTestId('playlist-element').filter({ hasText: a }).waitFor({ state: 'detached' });
    assert.deepEqual(await rowTitles(page), [b]);

    // The card's menu now offers to take b out again.
    await page.goto('/');
    await page.getByRole('button', { name: `Video menu: ${b}` }).click();
    await page.getByRole('menu', { name: `Video menu: ${b}` }).getByRole('menuitem', { name: 'Remove from Watch later' }).click();
    await page.getByRole('menu').waitFor({ state: 'detached' });
    const later = (await get(instance.url, tok, `/accounts/${USER}/video-playlists?playlistType=2`)).data;
    assert.equal(later.length, 1);
    assert.equal(later[0].type.id, 2);
    assert.equal((await get(instance.url, tok, `/video-playlists/${later[0].id}/videos`)).total, 0);
    await page.goto('/my-library/watch-later');
    await page.getByText('Nothing to watch later yet.', { exact: false }).waitFor();
  });

  step('playing the playlist: the panel marks the video, the next starts at the end (at its start time), loop goes back to the first', async () => {
    const { page } = pat;
    const [a, b, c] = NAMES;
    await page.goto(`/my-library/video-playlists/${mix.shortUUID}`);
    await page.getByRole('link', { name: 'Play all' }).click();
    await page.waitForURL((u) => u.pathname === `/w/p/${mix.shortUUID}`);
    await page.getByRole('heading', { name: c, level: 1 }).waitFor();
    const panel = page.getByTestId('playlist-panel');
    await panel.getByRole('heading', { name: MIX }).waitFor();
    const current = () => panel.locator('[aria-current="true"]').textContent();
    assert.match(await current(), new RegExp(c));
    await panel.getByText('1 / 3').waitFor();
    await shot(page, DESKTOP, 'playlist-watch');

    // Let c play to its end: a follows on its own.
    await playUntil(page, 0.2);
    await page.waitForURL((u) => u.searchParams.get('playlistPosition') === '2', { timeout: 20_000 });
    await page.getByRole('heading', { name: a, level: 1 }).waitFor();
    assert.match(await current(), new RegExp(a));
    await panel.getByText('2 / 3').waitFor();
    // Started by the end of the previous one: it plays without a click.
    await page.waitForFunction(() => {
      const v = document.querySelector('video');
      return v && !v.paused && v.currentTime > 0.2;
    }, null, { timeout: 20_000 });

    // Then b, from its start time (1 s in).
    await page.waitForURL((u) => u.searchParams.get('playlistPosition') === '3', { timeout: 20_000 });
    await page.getByRole('heading', { name: b, level: 1 }).waitFor();
    await page.waitForFunction(() => {
      const v = document.querySelector('video');
      return v && v.readyState >= 1 && v.currentTime > 0;
    }, null, { timeout: 20_000 });
    const startedAt = await page.evaluate(() => document.querySelector('video').currentTime);
    assert.ok(startedAt >= 0.9, `b starts at its start time, 1 s (it was at ${startedAt})`);

    // The last one: without loop, the playlist stops there.
    await page.waitForFunction(() => document.querySelector('video')?.ended, null, { timeout: 20_000 });
    await page.waitForTimeout(800);
    assert.equal(new URL(page.url()).searchParams.get('playlistPosition'), '3');

    // Loop: after the last, the first again.
    await panel.getByRole('button', { name: 'Loop the playlist' }).click();
    assert.equal(await panel.getByRole('button', { name: 'Loop the playlist' }).getAttribute('aria-pressed'), 'true');
    await page.getByRole('button', { name: 'Play (k)' }).first().click();
    await page.waitForURL((u) => u.searchParams.get('playlistPosition') === '1', { timeout: 20_000 });
    await page.getByRole('heading', { name: c, level: 1 }).waitFor();
    assert.match(await current(), new RegExp(c));
    // Autoplay off: the end of a video stays there.
    await panel.getByRole('switch', { name: 'Autoplay' }).uncheck();
    await page.waitForFunction(() => document.querySelector('video')?.ended, null, { timeout: 20_000 });
    await page.waitForTimeout(800);
    assert.equal(new URL(page.url()).searchParams.get('playlistPosition'), '1');
    // Shuffle can be switched on and off.
    await panel.getByRole('button', { name: 'Shuffle' }).click();
    assert.equal(await panel.getByRole('button', { name: 'Shuffle' }).getAttribute('aria-pressed'), 'true');
  });

  step('a playlist is edited, and one is deleted', async () => {
    const { page } = pat;
    await page.goto(`/my-library/video-playlists/${mix.shortUUID}`);
    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit the playlist' }).waitFor();
    assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), MIX);
    await page.getByLabel('Name', { exact: true }).fill(`${MIX} (unlisted)`);
    await page.getByLabel('Privacy', { exact: true }).selectOption({ label: 'Unlisted' });
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('The playlist was saved.').waitFor();
    await page.getByTestId('playlist-name').getByText(`${MIX} (unlisted)`).waitFor();
    const edited = await get(instance.url, tok, `/video-playlists/${mix.id}`);
    assert.equal(edited.displayName, `${MIX} (unlisted)`);
    assert.equal(edited.privacy.id, 2);

    const quick = (await myPlaylists()).find((p) => p.displayName === QUICK);
    await page.goto(`/my-library/video-playlists/${quick.shortUUID}`);
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog', { name: 'Delete this playlist?' }).getByRole('button', { name: 'Delete' }).click();
    await page.waitForURL((u) => u.pathname === '/my-library/video-playlists');
    await page.getByTestId('my-playlist').filter({ hasText: `${MIX} (unlisted)` }).waitFor();
    assert.equal(await page.getByTestId('my-playlist').filter({ hasText: QUICK }).count(), 0);
    await shot(page, DESKTOP, 'playlists');
    const res = await fetch(`${instance.url}/api/v1/video-playlists/${quick.id}`);
    assert.equal(res.status, 404);
  });

  step('at phone size the playlist pages and the playing panel fit the screen', async () => {
    const phone = await newPerson(browser, PHONE, instance.url);
    try {
      const { page } = phone;
      await login(page, USER, PASSWORD);
      for (const path of ['/my-library/video-playlists', `/my-library/video-playlists/${mix.shortUUID}`, `/w/p/${mix.shortUUID}?playlistPosition=2`]) {
        await page.goto(path);
        await page.getByTestId(path.startsWith('/w/') ? 'playlist-panel' : path.endsWith('playlists') ? 'my-playlist' : 'playlist-element').first().waitFor();
        const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
        assert.ok(scroll <= inner, `${path} scrolls sideways (${scroll} > ${inner})`);
      }
      await shot(page, PHONE, 'playlist-watch');
      // The Save dialog fits too.
      await page.getByRole('button', { name: 'Save', exact: true }).click();
      const box = await page.getByRole('dialog', { name: 'Save to…' }).boundingBox();
      assert.ok(box.x >= 0 && box.x + box.width <= 360, `the dialog is on screen (${JSON.stringify(box)})`);
      await shot(page, PHONE, 'playlist-save-dialog');
      assert.deepEqual(phone.problems, []);
    } finally {
      await phone.context.close();
    }
    assert.deepEqual(pat.problems, []);
  });
});

async function assertServerOrder(want) {
  // The reorder request may still be on its way when the page shows the new order.
  const deadline = Date.now() + 5_000;
  let got;
  while (Date.now() < deadline) {
    got = await serverOrder(mix.id);
    if (JSON.stringify(got) === JSON.stringify(want)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(got, want, 'the server’s order');
}
