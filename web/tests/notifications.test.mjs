// Notifications at desktop and phone width. The owner of a video watches the site while another
// user acts through the API: a comment raises the bell's count without a reload (also after the
// connection to the server was cut: the stream comes back); the bell's list says who commented
// and leads to the thread; reading lowers the count, "Mark all as read" clears it; markup in a
// display name is text; the notifications page pages, filters unread ones, marks read and takes new
// ones live; switching off "someone comments on my video" (web bit only, the e-mail bit kept)
// stops those notifications while a new follower still shows; past 99 the badge reads 99+; a
// renewed access token opens the stream again with it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, get, registerUser, token, until, uploadVideo, waitPublished } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login } from './support/flows.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
// Would run a script if it became markup; `x` is a name no real image has.
const MARKUP = '<img src=x onerror="window.__pwned=1">';
const PAGE_SIZE = 20;

let instance;
let browser;
let workDir;
let tone;

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-notifications-'));
  // Sound only: the cheapest videos to publish.
  tone = makeClip(workDir, 1, '', { name: 'tone.mp4', audioOnly: true });
  // Behind the test proxy, so that a test can cut the browser's connections.
  instance = await startInstance({}, { proxy: true });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const badge = (page) => page.getByTestId('notification-count');
const bell = (page) => page.getByRole('button', { name: /^Notifications/ });
const panel = (page) => page.locator('header').getByRole('region', { name: 'Notifications' });

/** Waits until the bell shows `n` (nothing for 0, 99+ above 99). */
async function countIs(page, n) {
  if (n === 0) {
    await badge(page).waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Notifications', exact: true }).waitFor();
    return;
  }
  const shown = n > 99 ? '99\\+' : String(n);
  await page.locator('[data-testid="notification-count"]', { hasText: new RegExp(`^${shown}$`) }).waitFor();
  await page.getByRole('button', { name: `Notifications, ${n} unread`, exact: true }).waitFor();
}

for (const device of [DESKTOP, PHONE]) {
  describe(`notifications at ${device.name} size (${device.viewport.width}×${device.viewport.height})`, () => {
    const USERS = {
      owner: { name: `ada${device.name}`, displayName: 'Ada Owner' },
      bruno: { name: `bruno${device.name}`, displayName: 'Bruno Commenter' },
      mal: { name: `mal${device.name}`, displayName: MARKUP },
    };
    const password = (user) => `${user.name}-password-1`;
    const TITLE = `Evening tide for ${device.name}`;
    const tokens = {};
    let video;
    let ada;
    let failed = null;
    /** The streams the page opened: how many, and the Authorization header of each. */
    let streams = 0;
    const streamTokens = [];

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

    const unreadOnServer = async () => (await get(instance.url, tokens.owner, '/users/me/notifications?unread=true&count=1')).total;
    const listOnServer = (query = '') => get(instance.url, tokens.owner, `/users/me/notifications?count=100${query}`);
    const comment = async (who, text) => (await call(instance.url, tokens[who], 'POST', `/videos/${video.id}/comment-threads`, { text })).comment;

    before(async () => {
      for (const [key, user] of Object.entries(USERS)) {
        await registerUser(instance.url, user.name, password(user));
        tokens[key] = await token(instance.url, user.name, password(user));
        await call(instance.url, tokens[key], 'PUT', '/users/me', { displayName: user.displayName });
      }
      // Comments on my video by web and e-mail: switching the web bit off must keep the e-mail one.
      await call(instance.url, tokens.owner, 'PUT', '/users/me/notification-settings', { newCommentOnMyVideo: 3 });
      const uploaded = await uploadVideo(instance.url, tokens.owner, tone, { name: TITLE });
      video = await waitPublished(instance.url, tokens.owner, uploaded.uuid);
      // "Your video … is published" is the owner's first notification.
      await until('the published notification', async () => (await unreadOnServer()) === 1);
      ada = await newPerson(browser, device, instance.url);
      ada.page.on('request', async (r) => {
        if (!r.url().endsWith('/api/v1/users/me/notifications/stream')) return;
        streams += 1;
        streamTokens.push(await r.headerValue('authorization'));
      });
      await login(ada.page, USERS.owner.name, password(USERS.owner));
    });

    after(async () => {
      await ada?.context.close();
    });

    step('the bell shows the unread count, and a comment raises it without a reload', async () => {
      const { page } = ada;
      await page.goto('/');
      await page.locator('[data-live="true"]').waitFor();
      const before = await unreadOnServer();
      await countIs(page, before);
      // At phone width the bell fits in the header, and nothing scrolls sideways.
      const box = await bell(page).boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= device.viewport.width, `the bell is off screen: ${JSON.stringify(box)}`);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(wide <= 0, `the page scrolls ${wide}px sideways`);
      await page.evaluate(() => {
        window.__sameDocument = true;
      });
      await comment('bruno', 'What a lovely tide');
      await countIs(page, before + 1);
      assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
      await shot(page, device, 'notifications-bell');
    });

    step('when the connection drops, the stream comes back and the count moves again', async () => {
      const { page } = ada;
      const opened = streams;
      const before = await unreadOnServer();
      instance.proxy.dropConnections();
      // The page opens a new stream (after a second or two of backoff) …
      await until('a new stream', () => streams > opened, 20_000);
      await page.locator('[data-live="true"]').waitFor();
      // … which tells what happens next, still without a reload.
      await comment('bruno', 'Still here after the cut');
      await countIs(page, before + 1);
      assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
    });

    step('the bell\'s list says who commented and leads to the thread; following it reads it', async () => {
      const { page } = ada;
      const before = await unreadOnServer();
      const [latest] = (await listOnServer()).data;
      assert.equal(latest.type, 2);
      await bell(page).click();
      const list = panel(page);
      await list.waitFor();
      const sentence = `${USERS.bruno.displayName} commented on your video ${TITLE}`;
      const link = list.getByRole('link', { name: sentence, exact: true }).first();
      await link.waitFor();
      assert.equal(await link.getAttribute('href'), `/w/${video.shortUUID}?threadId=${latest.comment.threadId}`);
      assert.equal(await link.locator('strong').first().innerText(), USERS.bruno.displayName);
      await list.getByRole('link', { name: `Your video ${TITLE} is published`, exact: true }).waitFor();
      await list.getByRole('link', { name: 'See all notifications' }).waitFor();
      const row = list.getByTestId('notification').first();
      assert.equal(await row.getAttribute('data-unread'), 'true');
      // The panel stays on the screen at phone width.
      const box = await list.boundingBox();
      assert.ok(box.x >= 0 && box.x + box.width <= device.viewport.width, `the panel is off screen: ${JSON.stringify(box)}`);
      await shot(page, device, 'notifications-panel');

      // The read's answer is held until the stream has told the new count, as a busy server may
      // order them: the read must lower the count once, not once per message.
      const READ = '**/api/v1/users/me/notifications/read';
      let answered;
      const readAnswered = new Promise((resolve) => { answered = resolve; });
      let streamDidNotTell = null;
      await page.route(READ, async (route) => {
        const response = await route.fetch();
        // Answered whatever happens: a failure here must fail the step, not leave the page waiting.
        try {
          await countIs(page, before - 1);
        } catch (e) {
          streamDidNotTell = e;
        }
        await route.fulfill({ response });
        answered();
      });
      await link.click();
      await page.waitForURL((u) => u.pathname === `/w/${video.shortUUID}` && u.searchParams.get('threadId') === String(latest.comment.threadId));
      await page.getByTestId('linked-thread').getByText('Still here after the cut').waitFor();
      await readAnswered;
      await page.unroute(READ);
      if (streamDidNotTell) throw streamDidNotTell;
      // The answer is in; what the page does with it happens in the next few milliseconds.
      await page.waitForTimeout(500);
      await countIs(page, before - 1);
      await until('the notification read on the server', async () => (await listOnServer()).data.find((n) => n.id === latest.id)?.read === true);
      await shot(page, device, 'notifications-thread');
    });

    step('"Mark all as read" clears the count', async () => {
      const { page } = ada;
      await bell(page).click();
      const list = panel(page);
      await list.getByTestId('notification').first().waitFor();
      await list.getByRole('button', { name: 'Mark all as read' }).click();
      await countIs(page, 0);
      assert.equal(await list.locator('[data-unread]').count(), 0, 'an item still shows as unread');
      assert.equal(await unreadOnServer(), 0);
      assert.ok(await list.getByRole('button', { name: 'Mark all as read' }).isDisabled());
      await page.keyboard.press('Escape');
      await list.waitFor({ state: 'detached' });
    });

    step('markup in a display name shows as written and runs nothing', async () => {
      const { page } = ada;
      await comment('mal', 'Nice');
      await countIs(page, 1);
      await bell(page).click();
      const link = panel(page).getByRole('link', { name: `${MARKUP} commented on your video ${TITLE}`, exact: true });
      await link.waitFor();
      assert.equal(await link.locator('strong').first().innerText(), MARKUP);
      assert.equal(await page.locator('img[src="x"]').count(), 0, 'the name became an element');
      assert.equal(await page.evaluate(() => window.__pwned), undefined, 'the name ran a script');
      await shot(page, device, 'notifications-markup');
      await page.keyboard.press('Escape');
    });

    step('the notifications page pages, highlights and filters unread ones, and marks them read', async () => {
      const { page } = ada;
      // Enough for a second page, each arriving live; the unread ones (these and the markup
      // one) still fit on one.
      for (let i = 1; i <= PAGE_SIZE - 2; i += 1) await comment('bruno', `Comment number ${i}`);
      let unread = PAGE_SIZE - 1;
      await countIs(page, unread);
      const all = await listOnServer();
      assert.ok(all.total > PAGE_SIZE, `only ${all.total} notifications`);
      const firstPage = all.data.slice(0, PAGE_SIZE);

      // Reached from the account menu.
      await page.getByRole('button', { name: /^Account menu for / }).click();
      await page.locator('#account-menu').getByRole('link', { name: 'Notifications' }).click();
      await page.waitForURL((u) => u.pathname === '/my-account/notifications');
      await page.getByRole('heading', { name: 'Notifications', level: 2 }).waitFor();
      const items = page.getByRole('list', { name: 'Notifications' }).getByTestId('notification');
      await items.nth(PAGE_SIZE - 1).waitFor();
      const ids = async () => items.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-notification-id'))));
      assert.deepEqual(await ids(), firstPage.map((n) => n.id));
      assert.equal(await items.first().getByRole('link').innerText(), `${USERS.bruno.displayName} commented on your video ${TITLE}`);
      // Unread ones stand out.
      const unreadRows = page.locator('[data-testid="notification"][data-unread]');
      assert.equal(await unreadRows.count(), firstPage.filter((n) => !n.read).length);
      assert.ok(firstPage.some((n) => n.read), 'the first page has no read notification to compare with');
      const readRow = page.locator('[data-testid="notification"]:not([data-unread])').first();
      const bg = (l) => l.evaluate((e) => getComputedStyle(e).backgroundColor);
      assert.notEqual(await bg(unreadRows.first()), await bg(readRow), 'unread and read rows look the same');
      await shot(page, device, 'notifications-page');

      await page.getByText(`Page 1 of ${Math.ceil(all.total / PAGE_SIZE)}`).waitFor();
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByText(`Page 2 of ${Math.ceil(all.total / PAGE_SIZE)}`).waitFor();
      await until('the second page', async () => JSON.stringify(await ids()) === JSON.stringify(all.data.slice(PAGE_SIZE, 2 * PAGE_SIZE).map((n) => n.id)), 15_000);
      await page.getByRole('button', { name: 'Previous' }).click();
      await page.getByText('Page 1 of').waitFor();

      // Unread only: every unread one, and nothing else.
      await page.getByLabel('Unread only').check();
      await until('the unread list', async () => (await items.count()) === unread && (await unreadRows.count()) === unread, 15_000);
      assert.equal(await page.getByRole('button', { name: 'Next' }).count(), 0);

      // "Mark as read" on one, and following another's link, each read one.
      const first = items.first();
      const firstId = Number(await first.getAttribute('data-notification-id'));
      await first.getByRole('button', { name: 'Mark as read' }).click();
      await page.locator(`[data-notification-id="${firstId}"]:not([data-unread])`).waitFor();
      unread -= 1;
      await countIs(page, unread);
      const second = items.nth(1);
      const secondId = Number(await second.getAttribute('data-notification-id'));
      await second.getByRole('link').click();
      await page.waitForURL((u) => u.pathname === `/w/${video.shortUUID}`);
      unread -= 1;
      await countIs(page, unread);
      const read = (await listOnServer()).data.filter((n) => n.id === firstId || n.id === secondId).map((n) => n.read);
      assert.deepEqual(read, [true, true]);
      assert.equal(await unreadOnServer(), unread);

      await page.goBack();
      await page.getByRole('heading', { name: 'Notifications', level: 2 }).waitFor();
      assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page was reloaded');
      await page.getByLabel('Unread only').check();
      await items.first().waitFor();
      await page.getByRole('button', { name: 'Mark all as read' }).click();
      await countIs(page, 0);
      assert.equal(await unreadRows.count(), 0);
      await page.reload();
      await page.locator('[data-live="true"]').waitFor();
      await page.getByLabel('Unread only').check();
      await page.getByText('No unread notifications.').waitFor();

      // A new one comes to the top of the list as it happens.
      await comment('bruno', 'One more, seen live');
      await unreadRows.first().waitFor();
      assert.equal(await items.count(), 1);
      await countIs(page, 1);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(wide <= 0, `the page scrolls ${wide}px sideways`);
      await shot(page, device, 'notifications-unread');
    });

    step('without "someone comments on my video", a comment tells nothing; a new follower still does', async () => {
      const { page } = ada;
      await page.goto('/my-account/settings');
      const section = page.locator('section', { has: page.getByRole('heading', { name: 'Notifications', exact: true }) });
      const box = section.getByLabel('someone comments on my video');
      assert.ok(await box.isChecked());
      await section.getByText('This server does not send notifications by e-mail yet.').waitFor();
      await box.uncheck();
      await section.getByRole('button', { name: 'Save' }).click();
      await section.getByRole('status').getByText('Saved.').waitFor();
      const settings = (await get(instance.url, tokens.owner, '/users/me')).notificationSettings;
      // Web off, e-mail kept; the others untouched.
      assert.deepEqual(
        [settings.newCommentOnMyVideo, settings.newVideoFromSubscription, settings.commentMention, settings.myVideoPublished, settings.newFollow],
        [2, 1, 1, 1, 1],
      );
      await page.reload();
      await section.getByLabel('someone comments on my video').waitFor();
      assert.equal(await section.getByLabel('someone comments on my video').isChecked(), false);
      assert.ok(await section.getByLabel('someone follows my channel or my account').isChecked());
      await shot(page, device, 'notifications-settings');

      await page.locator('[data-live="true"]').waitFor();
      const before = await unreadOnServer();
      await countIs(page, before);
      const quiet = await comment('bruno', 'Nobody is told of this one');
      // Then something that does tell: once it shows, the comment before it would have too.
      await call(instance.url, tokens.bruno, 'POST', '/users/me/subscriptions', { uri: `${USERS.owner.name}_channel` });
      await countIs(page, before + 1);
      const list = await listOnServer();
      assert.equal(list.data.filter((n) => n.comment?.id === quiet.id).length, 0, 'the comment was notified');
      assert.equal(list.data[0].type, 10);
      assert.equal(await unreadOnServer(), before + 1);

      await bell(page).click();
      const follow = panel(page).getByRole('link', { name: `${USERS.bruno.displayName} is following your channel Main ${USERS.owner.name} channel`, exact: true });
      await follow.waitFor();
      assert.equal(await follow.getAttribute('href'), `/a/${USERS.bruno.name}`);
      await follow.click();
      await page.waitForURL((u) => u.pathname === `/a/${USERS.bruno.name}`);
      await page.getByRole('heading', { name: USERS.bruno.displayName }).waitFor();
      await countIs(page, before);
    });

    step('switched on again, comments tell again; past 99 unread the badge reads 99+', async () => {
      const { page } = ada;
      await page.goto('/my-account/settings');
      const section = page.locator('section', { has: page.getByRole('heading', { name: 'Notifications', exact: true }) });
      await section.getByLabel('someone comments on my video').check();
      await section.getByRole('button', { name: 'Save' }).click();
      await section.getByRole('status').getByText('Saved.').waitFor();
      assert.equal((await get(instance.url, tokens.owner, '/users/me')).notificationSettings.newCommentOnMyVideo, 3);
      const before = await unreadOnServer();
      for (let i = before; i < 100; i += 1) await comment('bruno', `Flood ${i}`);
      await countIs(page, 100);
      assert.equal(await badge(page).innerText(), '99+');
      const box = await bell(page).boundingBox();
      assert.ok(box.x + box.width <= device.viewport.width, `the bell is off screen: ${JSON.stringify(box)}`);
      await shot(page, device, 'notifications-99');
    });

    step('when the access token is renewed, the stream opens again with the new one', async () => {
      const { page } = ada;
      await page.locator('[data-live="true"]').waitFor();
      const opened = streams;
      const old = streamTokens.at(-1);
      assert.match(old ?? '', /^Bearer \S+$/);
      // Every access token ends now, as after its lifetime; refresh tokens stay valid.
      const db = join(instance.dir, 'data', 'flotilla.db');
      const r = spawnSync('sqlite3', ['-cmd', '.timeout 5000', db, 'UPDATE oauth_tokens SET access_expires_at = 0;'], { encoding: 'utf8' });
      assert.equal(r.status, 0, `sqlite3 (apt-get install sqlite3): ${r.stderr ?? r.error}`);
      for (const [key, user] of Object.entries(USERS)) tokens[key] = await token(instance.url, user.name, password(user));
      // The page's next call meets a 401 and renews its token from the refresh cookie.
      await bell(page).click();
      await panel(page).getByTestId('notification').first().waitFor();
      await page.keyboard.press('Escape');
      await until('a stream with the new token', () => streams > opened && streamTokens.length === streams && streamTokens.at(-1) !== old, 20_000);
      await page.locator('[data-live="true"]').waitFor();
      const before = await unreadOnServer();
      await comment('bruno', 'Told through the new stream');
      await countIs(page, before + 1);
    });

    step('no page error and no Content-Security-Policy violation happened', async () => {
      assert.deepEqual(ada.problems, []);
    });
  });
}
