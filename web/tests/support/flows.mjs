// The flows a new person goes through, as one sequence of tests per device: register, log in,
// upload a clip (watching the progress bar move) until it is published, watch it play, change its
// title, find it by search, subscribe to a channel, embed it, delete it. Every page met on the way
// is saved as a screenshot.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { launch, newPerson, shot } from './browser.mjs';
import { ADMIN_PASSWORD, makeClip, startInstance } from './instance.mjs';

const STEP = { timeout: 90_000 };

/**
 * The steps build on each other: once one fails, the next ones fail at once (saying so) instead of
 * each waiting for its own time-out.
 */
function step(name, fn) {
  return [name, STEP, async (t) => {
    if (step.failed) throw new Error(`not run: the step "${step.failed}" failed before`);
    try {
      await fn(t);
    } catch (e) {
      step.failed = name;
      throw e;
    }
  }];
}

/**
 * Starts the player with its Play button and waits until it has played past `seconds`. The user's
 * autoplay setting may start it on its own at any moment, so a click that landed as a pause is
 * followed by another: the loop converges on "playing" either way, and fails after 30 s.
 */
export async function playUntil(page, seconds = 1) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const s = await page.evaluate(() => {
      const v = document.querySelector('video');
      return v ? { paused: v.paused, t: v.currentTime } : null;
    });
    if (s && !s.paused && s.t > seconds) return;
    if (s && s.paused) {
      const play = page.getByRole('button', { name: 'Play (k)' }).first();
      if (await play.isVisible()) await play.click({ timeout: 2_000 }).catch(() => {});
    }
    await page.waitForTimeout(500);
  }
  throw new Error(`the video did not play past ${seconds} s within 30 s`);
}

export async function login(page, username, password) {
  await page.goto('/login');
  await page.getByLabel('Username or email').fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('button', { name: /^Account menu for / }).waitFor();
}

export function mainFlows(device, opts = {}) {
  const { extraPages = false } = opts;
  const username = `alice${device.name}`;
  const password = 'alice-password-1';
  const title = `Sunset over the harbour ${device.name}`;
  const newTitle = `Harbour lights at dusk ${device.name}`;
  let instance;
  let browser;
  let alice;
  let root;
  let workDir;
  let clip;
  let shortUUID;

  describe(`main flows at ${device.name} size (${device.viewport.width}×${device.viewport.height})`, () => {
    before(async () => {
      workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-clip-'));
      clip = makeClip(workDir);
      instance = await startInstance();
      browser = await launch();
      alice = await newPerson(browser, device, instance.url);
    });

    after(async () => {
      await browser?.close();
      await instance?.stop();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    test(...step('the home page lists videos and offers to log in', async () => {
      const { page } = alice;
      // Every script the first visit loads, gzipped, stays under the budget (the player's
      // hls.js loads only with the watch page).
      const scripts = [];
      const onResponse = (res) => {
        if (res.request().resourceType() === 'script') scripts.push(res.body().then((b) => gzipSync(b).length).catch(() => 0));
      };
      page.on('response', onResponse);
      await page.goto('/');
      await page.getByRole('navigation', { name: 'Video lists' }).waitFor();
      await page.waitForLoadState('networkidle');
      page.off('response', onResponse);
      const total = (await Promise.all(scripts)).reduce((a, b) => a + b, 0);
      assert.ok(scripts.length > 0 && total < 150 * 1024, `home page JS: ${scripts.length} scripts, ${total} bytes gzipped`);
      await page.getByText('No videos here yet.').waitFor();
      await shot(page, device, 'home-empty');
      assert.ok(await page.getByRole('link', { name: 'Log in' }).first().isVisible());
    }));

    test(...step('a visitor registers and is logged in', async () => {
      const { page } = alice;
      await page.goto('/signup');
      await shot(page, device, 'signup');
      await page.getByLabel('Username').fill(username);
      await page.getByLabel('Display name').fill('Alice');
      await page.getByLabel('Email').fill(`${username}@example.org`);
      await page.getByLabel('Password').fill('x');
      await page.getByRole('checkbox').check();
      await page.getByRole('button', { name: 'Create the account' }).click();
      // The server's validation message reaches the field.
      await page.getByText(/password must be between 6 and 255 characters/).waitFor();
      await shot(page, device, 'signup-error');
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Create the account' }).click();
      await page.getByRole('button', { name: 'Account menu for Alice' }).waitFor();
      // Navigation may finish after the menu shows: wait for it rather than read the URL at once.
      await page.waitForURL((u) => u.pathname === '/');
    }));

    test(...step('the person logs out and logs in again; a reload keeps the session', async () => {
      const { page } = alice;
      await page.getByRole('button', { name: 'Account menu for Alice' }).click();
      await shot(page, device, 'account-menu');
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByRole('link', { name: 'Log in' }).first().waitFor();
      await page.goto('/login');
      await page.getByLabel('Username or email').fill(username);
      await page.getByLabel('Password', { exact: true }).fill('wrong-password');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('alert').getByText('Wrong username or password.').waitFor();
      await shot(page, device, 'login-error');
      await page.getByLabel('Password', { exact: true }).fill(password);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('button', { name: 'Account menu for Alice' }).waitFor();
      // The access token lives in memory only; the httpOnly refresh cookie restores the session.
      await page.reload();
      await page.getByRole('button', { name: 'Account menu for Alice' }).waitFor();
      const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + document.cookie);
      assert.ok(!/[0-9a-f]{40,}/.test(stored), `a token is readable by script: ${stored}`);
    }));

    test(...step('a refresh lost on the network, or cut off by leaving the page, does not log out', async () => {
      const { page } = alice;
      const menu = page.getByRole('button', { name: 'Account menu for Alice' });
      const TOKEN = '**/api/v1/users/token';
      // The network fails during the page load's refresh: that page cannot restore the session,
      // but the refresh cookie is still good, so the next page load must try it again.
      await page.route(TOKEN, (route) => route.abort('internetdisconnected'));
      const lost = page.waitForEvent('requestfailed', (r) => r.url().endsWith('/api/v1/users/token'));
      await page.reload();
      await lost;
      await page.getByRole('link', { name: 'Log in' }).first().waitFor();
      await page.unroute(TOKEN);
      await page.reload();
      await menu.waitFor();

      // A page left while its refresh is still on its way (a quick click, a reload): the browser
      // cancels the request; the next page restores the session.
      let held = null;
      let heard;
      const asked = new Promise((resolve) => (heard = resolve));
      // Registered before the page load starts, so its refresh cannot slip past unheld.
      await page.route(TOKEN, (route) => {
        if (held) return route.continue();
        held = route;
        heard();
      });
      await page.goto('/videos/trending');
      await asked;
      await page.goto('/my-library/history');
      await held.continue().catch(() => undefined);
      await page.unroute(TOKEN);
      await menu.waitFor();
    }));

    test(...step('an upload shows its progress and ends published', async () => {
      const { page, context } = alice;
      await page.getByRole('link', { name: 'Upload' }).first().click();
      await page.getByRole('heading', { name: 'Upload a video' }).waitFor();
      await shot(page, device, 'upload-pick');
      // Slow the upload down so the bar has time to move, and record every value it shows.
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 40 * 1024 });
      await page.evaluate(() => {
        window.__progress = [];
        window.__progressTimer = setInterval(() => {
          const bar = document.querySelector('[data-testid="upload-progress"]');
          if (bar) window.__progress.push(Number(bar.getAttribute('value') ?? bar.value));
        }, 40);
      });
      await page.locator('[data-testid="file-input"]').setInputFiles(clip);
      await page.getByRole('progressbar', { name: 'Upload progress' }).waitFor();
      await page.waitForFunction(() => window.__progress.some((v) => v > 0 && v < 100));
      await shot(page, device, 'upload-progress');
      await page.getByText('Upload complete.').waitFor({ timeout: 60_000 });
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      const seen = await page.evaluate(() => {
        clearInterval(window.__progressTimer);
        return window.__progress;
      });
      const between = [...new Set(seen.filter((v) => v > 0 && v < 100))];
      assert.ok(between.length >= 2, `the progress bar should move through several values, saw ${JSON.stringify([...new Set(seen)])}`);
      assert.equal(seen.at(-1), 100);

      await page.getByLabel('Title', { exact: true }).fill(title);
      await page.getByLabel('Description', { exact: true }).fill('Filmed from the **old pier**.\n\n- calm water\n- warm light');
      await page.getByRole('button', { name: 'Preview' }).click();
      await page.getByTestId('description-preview').getByText('old pier').waitFor();
      await page.getByRole('button', { name: 'Write' }).click();
      await page.getByLabel('Tags', { exact: true }).fill('harbour, sunset');
      await shot(page, device, 'upload-details');
      await page.getByRole('button', { name: 'Publish' }).click();
      await page.getByTestId('upload-published').waitFor({ timeout: 60_000 });
      await shot(page, device, 'upload-published');
      await page.getByRole('link', { name: 'Watch it' }).click();
      await page.getByRole('heading', { name: title }).waitFor();
      await page.waitForURL(/\/w\/[^/]+$/);
      shortUUID = new URL(page.url()).pathname.split('/').pop();
      assert.ok(shortUUID);
    }));

    test(...step('the video plays on its watch page, with its quality menu and shortcuts', async () => {
      const { page } = alice;
      await playUntil(page, 1.5);
      assert.match(await page.getByTestId('player-time').textContent(), /^0:0[1-6] \/ 0:06$/);
      assert.ok(await page.locator('.rich-text').getByText('old pier').isVisible());
      await page.getByRole('link', { name: 'harbour' }).waitFor();

      // Quality (Auto and each rendition) and speed.
      await page.getByRole('button', { name: 'Settings', exact: true }).click();
      await page.getByRole('radio', { name: /^Auto/ }).waitFor();
      assert.ok(await page.getByRole('radio', { name: /^Auto/ }).isChecked());
      await shot(page, device, 'watch-settings');
      await page.getByRole('radio', { name: '240p', exact: true }).click();
      await page.getByRole('button', { name: 'Settings', exact: true }).click();
      assert.ok(await page.getByRole('radio', { name: '240p', exact: true }).isChecked());
      await page.getByRole('radio', { name: '1.5×' }).click();
      assert.equal(await page.evaluate(() => document.querySelector('video').playbackRate), 1.5);

      // Shortcuts on the focused player: k pauses, j goes back, arrows change the volume, m mutes.
      await page.getByRole('region', { name: 'Video player' }).focus();
      await page.keyboard.press('k');
      await page.waitForFunction(() => document.querySelector('video')?.paused === true);
      await page.keyboard.press('j');
      assert.ok((await page.evaluate(() => document.querySelector('video').currentTime)) < 0.5);
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('ArrowDown');
      await page.keyboard.press('m');
      assert.equal(await page.evaluate(() => document.querySelector('video').muted), true);
      await page.keyboard.press('m');
      await shot(page, device, 'watch');
      // The volume is remembered.
      await page.reload();
      await page.getByRole('heading', { name: title }).waitFor();
      await page.waitForFunction(() => Math.abs((document.querySelector('video')?.volume ?? 0) - 0.8) < 0.01);
    }));

    test(...step('its owner changes the title', async () => {
      const { page } = alice;
      await page.getByRole('link', { name: 'Edit' }).click();
      await page.getByLabel('Title', { exact: true }).waitFor();
      await shot(page, device, 'edit-video');
      await page.getByLabel('Title', { exact: true }).fill(newTitle);
      await page.getByRole('button', { name: 'Save' }).click();
      await page.getByRole('heading', { name: newTitle }).waitFor();
      await page.waitForURL((u) => u.pathname === `/w/${shortUUID}`);
    }));

    test(...step('search finds the video by a word of its new title', async () => {
      const { page } = alice;
      if (device.name === 'phone') {
        await page.getByRole('link', { name: 'Search' }).click();
        // The header's search box is hidden at this width; the search page has its own.
        await page.getByLabel('Search videos and channels').filter({ visible: true }).fill('lights');
        await page.getByRole('button', { name: 'Search' }).filter({ visible: true }).click();
      } else {
        await page.getByLabel('Search videos and channels').fill('lights');
        await page.getByLabel('Search videos and channels').press('Enter');
      }
      await page.getByRole('heading', { name: 'Results for “lights”' }).waitFor();
      await page.getByRole('link', { name: newTitle }).waitFor();
      await shot(page, device, 'search');
      await page.goto('/search?search=nothingmatchesthis');
      await page.getByText('Nothing matches “nothingmatchesthis”.').waitFor();
    }));

    test(...step('another person subscribes to the channel and sees the video in their feed', async () => {
      root = await newPerson(browser, device, instance.url);
      const { page } = root;
      await login(page, 'root', ADMIN_PASSWORD);
      await page.goto(`/w/${shortUUID}`);
      await page.getByRole('link', { name: /Main alice/ }).first().click();
      await page.getByRole('heading', { name: `Main ${username} channel` }).waitFor();
      await page.getByRole('button', { name: 'Subscribe' }).click();
      await page.getByRole('button', { name: 'Subscribed' }).waitFor();
      await page.getByTestId('subscribers').getByText('1 subscriber').waitFor();
      await shot(page, device, 'channel');
      await page.goto('/videos/subscriptions');
      await page.getByRole('link', { name: newTitle }).waitFor();
      await shot(page, device, 'home-subscriptions');
      await page.goto('/my-library/subscriptions');
      await page.getByTestId('subscription').getByText(`Main ${username} channel`).waitFor();
      await shot(page, device, 'my-subscriptions');
    }));

    test(...step('they like the video, change their mind, and the server keeps their rating', async () => {
      const { page } = root;
      await page.goto(`/w/${shortUUID}`);
      const like = page.getByRole('button', { name: 'I like this' });
      const dislike = page.getByRole('button', { name: 'I dislike this' });
      await like.click();
      await like.and(page.locator('[aria-pressed="true"]')).waitFor();
      assert.equal(await like.getByTestId('likes').textContent(), '1');
      await dislike.click();
      await dislike.and(page.locator('[aria-pressed="true"]')).waitFor();
      assert.equal(await like.getByTestId('likes').textContent(), '0');
      await page.reload();
      await page.getByRole('button', { name: 'I dislike this' }).and(page.locator('[aria-pressed="true"]')).waitFor();
      const api = await (await fetch(`${instance.url}/api/v1/videos/${shortUUID}`)).json();
      assert.deepEqual([api.likes, api.dislikes], [0, 1]);
      await shot(page, device, 'watch-rated');
    }));

    test(...step('the embed page plays the video alone', async () => {
      const { page } = root;
      await page.goto(`/videos/embed/${shortUUID}`);
      await page.getByRole('link', { name: newTitle }).waitFor();
      assert.equal(await page.locator('header').count(), 0, 'the embed shows no site header');
      await playUntil(page, 1);
      await shot(page, device, 'embed');
    }));

    if (extraPages) {
      test(...step('the other pages render (screenshots)', async () => {
        const { page } = alice;
        await page.goto(`/a/${username}`);
        await page.getByRole('heading', { name: 'Alice' }).waitFor();
        await shot(page, device, 'account');
        await page.goto('/my-library/video-channels');
        await page.getByRole('link', { name: 'Edit' }).first().waitFor();
        await shot(page, device, 'my-channels');
        await page.getByRole('link', { name: 'Edit' }).first().click();
        await page.getByLabel('Display name').waitFor();
        await shot(page, device, 'channel-edit');
        await page.goto('/my-library/video-channels/create');
        await shot(page, device, 'channel-create');
        await page.goto('/my-account/settings');
        await page.getByRole('heading', { name: 'Profile' }).waitFor();
        await shot(page, device, 'settings');
        await page.goto('/videos/trending');
        await page.getByRole('link', { name: newTitle }).waitFor();
        await shot(page, device, 'home-trending');
        await page.goto('/this/page/does-not-exist');
        await page.getByRole('heading', { name: 'Page not found' }).waitFor();
        await shot(page, device, 'not-found');

        const admin = root.page;
        await admin.goto('/admin/users');
        await admin.getByRole('link', { name: username, exact: true }).waitFor();
        await shot(admin, device, 'admin-users');
        await admin.goto('/admin/config/edit-custom');
        await admin.getByLabel('Name', { exact: true }).waitFor();
        await shot(admin, device, 'admin-config');
        await admin.goto('/admin/follows/following-list');
        await admin.getByText('This instance follows no other instance.').waitFor();
        await shot(admin, device, 'admin-follows');
        await admin.goto('/admin/system/jobs?state=completed');
        await admin.getByRole('cell', { name: 'video-transcoding' }).first().waitFor();
        await shot(admin, device, 'admin-jobs');
      }));
    }

    if (extraPages) {
      test(...step('an admin creates and blocks a user, and moves sign-up to requests that a moderator accepts', async () => {
        const admin = root.page;
        await admin.goto('/admin/users');
        await admin.getByRole('button', { name: 'Create a user' }).click();
        await admin.getByLabel('Username', { exact: true }).fill('dave');
        await admin.getByLabel('Email', { exact: true }).fill('dave@example.org');
        await admin.getByLabel('Password', { exact: true }).fill('dave-password-1');
        await shot(admin, device, 'admin-create-user');
        await admin.locator('#create-user').getByRole('button', { name: 'Create a user' }).click();
        await admin.getByText('The user dave was created.').waitFor();
        const row = admin.getByRole('row').filter({ has: admin.getByRole('link', { name: 'dave', exact: true }) });
        await row.getByRole('button', { name: 'Block' }).click();
        await row.getByText('Blocked').waitFor();

        await admin.goto('/admin/config/edit-custom');
        await admin.getByLabel('On request: a moderator accepts each account').check();
        await admin.getByRole('button', { name: 'Save' }).click();
        await admin.getByRole('status').getByText('Saved.').waitFor();

        const visitor = await newPerson(browser, device, instance.url);
        await visitor.page.goto('/signup');
        await visitor.page.getByLabel('Username').fill('erin');
        await visitor.page.getByLabel('Email').fill('erin@example.org');
        await visitor.page.getByLabel('Password').fill('erin-password-1');
        await visitor.page.getByLabel('Why do you want to join?').fill('I film boats.');
        await visitor.page.getByRole('checkbox').check();
        await visitor.page.getByRole('button', { name: 'Send the request' }).click();
        await visitor.page.getByText('Your request was sent.').waitFor();
        await shot(visitor.page, device, 'signup-requested');

        await admin.goto('/admin/moderation/registrations/list');
        await admin.getByText('I film boats.').waitFor();
        await shot(admin, device, 'admin-registrations');
        await admin.getByRole('button', { name: 'Accept' }).click();
        await admin.getByText('The account of erin was created.').waitFor();
        await login(visitor.page, 'erin', 'erin-password-1');
        await visitor.context.close();
      }));
    }

    test(...step('its owner deletes the video', async () => {
      const { page } = alice;
      await page.goto('/my-library/videos');
      const row = page.getByTestId('my-video').filter({ hasText: newTitle });
      await row.waitFor();
      await shot(page, device, 'my-videos');
      await row.getByRole('button', { name: 'Delete' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete this video?' });
      await dialog.waitFor();
      await shot(page, device, 'delete-confirm');
      await dialog.getByRole('button', { name: 'Delete' }).click();
      await page.getByRole('status').getByText(`“${newTitle}” was deleted.`).waitFor();
      await row.waitFor({ state: 'detached' }); // the list drops the row (fails after the timeout)
      const res = await fetch(`${instance.url}/api/v1/videos/${shortUUID}`);
      assert.equal(res.status, 404);
    }));

    test('no page error and no Content-Security-Policy violation happened', () => {
      assert.deepEqual([...alice.problems, ...(root?.problems ?? [])], []);
    });
  });
}
