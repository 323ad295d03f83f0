// Muting ("blocklists"), as a user and as the instance: a user mutes a comment's author from the
// comment's ⋯ menu and the comment goes (their video leaves the lists too, the account page then
// offers "Unmute"), manages the muted accounts (a remote one by its handle) and servers pages; a
// moderator mutes an account for the instance from the same menu, then imports a Mastodon
// domain_blocks.csv on the admin's muted servers page (the summary: added, skipped, invalid) and
// exports the list as a download. On a phone, the menu and the lists fit the screen.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, get, adminToken, registerUser, token, uploadVideo, waitPublished } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login } from './support/flows.mjs';
import { ADMIN_PASSWORD, makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 60_000 };
const USERS = {
  olga: { name: 'olga', displayName: 'Olga Owner' },
  vic: { name: 'vic', displayName: 'Vic Vexing' },
  uma: { name: 'uma', displayName: 'Uma Muter' },
};
const password = (user) => `${user.name}-password-1`;
const OLGA_SAYS = 'Welcome to the harbour, everyone';
const VIC_SAYS = 'Buy cheap boats at my shop';
const CSV_HEADER = '#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate';

let instance;
let remote;
let browser;
let workDir;
const tokens = {};
let video;
let vicVideo;
let remoteHandle;

const commentWith = (page, text) => page.getByTestId('comment').filter({ hasText: text });
const threadTexts = async (tok) => (await get(instance.url, tok, `/videos/${video.id}/comment-threads?count=100`)).data.map((c) => c.text);

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-moderation-'));
  const tone = makeClip(workDir, 1, '', { name: 'tone.mp4', audioOnly: true });
  [instance, remote] = await Promise.all([startInstance(), startInstance()]);
  browser = await launch();
  for (const [key, user] of Object.entries(USERS)) {
    await registerUser(instance.url, user.name, password(user));
    tokens[key] = await token(instance.url, user.name, password(user));
    await call(instance.url, tokens[key], 'PUT', '/users/me', { displayName: user.displayName });
  }
  tokens.root = await adminToken(instance.url);
  const [v1, v2] = await Promise.all([
    uploadVideo(instance.url, tokens.olga, tone, { name: 'Harbour at noon' }),
    uploadVideo(instance.url, tokens.vic, tone, { name: 'Cheap boats advert' }),
  ]);
  [video, vicVideo] = await Promise.all([waitPublished(instance.url, tokens.olga, v1.uuid), waitPublished(instance.url, tokens.vic, v2.uuid)]);
  await call(instance.url, tokens.olga, 'POST', `/videos/${video.id}/comment-threads`, { text: OLGA_SAYS });
  await call(instance.url, tokens.vic, 'POST', `/videos/${video.id}/comment-threads`, { text: VIC_SAYS });
  // An account of the other instance, made known here (as a search by handle does).
  await registerUser(remote.url, 'faye', 'faye-password-1');
  remoteHandle = `faye@${new URL(remote.url).host}`;
  const found = await get(instance.url, tokens.uma, `/search/video-channels?search=${encodeURIComponent(`faye_channel@${new URL(remote.url).host}`)}`);
  assert.equal(found.total, 1, 'the remote channel is known here');
});

after(async () => {
  await browser?.close();
  await Promise.all([instance?.stop(), remote?.stop()]);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('muting accounts and servers', () => {
  let uma;
  let root;
  let phone;
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
    uma = await newPerson(browser, DESKTOP, instance.url);
    root = await newPerson(browser, DESKTOP, instance.url);
    await login(uma.page, USERS.uma.name, password(USERS.uma));
    await login(root.page, 'root', ADMIN_PASSWORD);
  });

  after(async () => {
    await uma?.context.close();
    await root?.context.close();
    await phone?.context.close();
  });

  step('a user mutes a comment’s author from its menu: the comment and their video go, for that user only', async () => {
    const { page } = uma;
    await page.goto(`/w/${video.shortUUID}`);
    await commentWith(page, VIC_SAYS).waitFor();
    await commentWith(page, OLGA_SAYS).waitFor();
    await page.getByRole('heading', { name: '2 comments', exact: true }).waitFor();
    // No menu on one's own comment.
    await call(instance.url, tokens.uma, 'POST', `/videos/${video.id}/comment-threads`, { text: 'Uma was here' });
    await page.reload();
    await commentWith(page, 'Uma was here').waitFor();
    assert.equal(await commentWith(page, 'Uma was here').getByRole('button', { name: /^More actions for/ }).count(), 0);

    await commentWith(page, VIC_SAYS).getByRole('button', { name: 'More actions for Vic Vexing' }).click();
    const menu = page.getByRole('menu', { name: 'More actions for Vic Vexing' });
    await menu.waitFor();
    // A local account: no server to mute, and a user is no moderator (reporting: tests/reports.test.mjs).
    assert.deepEqual(await menu.getByRole('menuitem').allTextContents(), ['Mute this account', 'Report this comment']);
    await shot(page, DESKTOP, 'comment-moderation-menu');
    await menu.getByRole('menuitem', { name: 'Mute this account' }).click();
    await page.getByTestId('comments-notice').getByText('You muted Vic Vexing').waitFor();
    await commentWith(page, VIC_SAYS).waitFor({ state: 'detached' });
    await commentWith(page, OLGA_SAYS).waitFor();
    await page.getByRole('heading', { name: '2 comments', exact: true }).waitFor();

    const muted = await get(instance.url, tokens.uma, '/users/me/blocklist/accounts');
    assert.deepEqual(muted.data.map((b) => b.blockedAccount.name), ['vic']);
    assert.ok(!(await threadTexts(tokens.uma)).includes(VIC_SAYS));
    assert.ok((await threadTexts(null)).includes(VIC_SAYS), 'a user’s mute hid the comment from visitors too');

    // Their video leaves this user's lists.
    await page.goto('/videos/recently-added');
    await page.getByRole('link', { name: 'Harbour at noon' }).first().waitFor();
    assert.equal(await page.getByRole('link', { name: vicVideo.name }).count(), 0, 'the muted account’s video is listed');

    // Their account page knows: the menu offers to unmute.
    await page.goto('/a/vic');
    await page.getByRole('heading', { name: 'Vic Vexing' }).waitFor();
    await page.getByRole('button', { name: 'More actions for Vic Vexing' }).click();
    await page.getByRole('menuitem', { name: 'Unmute this account' }).waitFor();
    assert.equal(await page.getByRole('menuitem', { name: 'Mute this account', exact: true }).count(), 0);
    await page.keyboard.press('Escape');
    await page.getByRole('menu').waitFor({ state: 'detached' });
  });

  step('the muted accounts page lists them, mutes a remote account by its handle and unmutes', async () => {
    const { page } = uma;
    await page.goto('/my-account/settings');
    await page.getByRole('navigation', { name: 'My library' }).getByRole('link', { name: 'Moderation' }).click();
    await page.waitForURL((u) => u.pathname === '/my-account/blocklist/accounts');
    await page.getByRole('heading', { name: 'Muted accounts' }).waitFor();
    const table = page.getByTestId('blocklist');
    const rowOf = (text) => table.getByRole('row').filter({ hasText: text });
    await rowOf('@vic').waitFor();
    assert.equal(await table.getByRole('row').count(), 2, 'a header row and vic');

    // An unknown account: the server's answer shows at the field.
    await page.getByLabel('Mute an account').fill('nobody@nowhere.example');
    await page.getByRole('button', { name: 'Mute', exact: true }).click();
    await page.getByRole('alert').getByText('account not found').waitFor();

    await page.getByLabel('Mute an account').fill(`@${remoteHandle}`);
    await page.getByRole('button', { name: 'Mute', exact: true }).click();
    await rowOf(`@${remoteHandle}`).waitFor();
    await page.getByRole('status').getByText(`You muted ${remoteHandle}`).waitFor();
    assert.equal(await page.getByLabel('Mute an account').inputValue(), '');
    await shot(page, DESKTOP, 'my-muted-accounts');
    let names = (await get(instance.url, tokens.uma, '/users/me/blocklist/accounts')).data.map((b) => `${b.blockedAccount.name}@${b.blockedAccount.host}`);
    assert.ok(names.includes(remoteHandle), names.join());

    await rowOf(`@${remoteHandle}`).getByRole('button', { name: 'Unmute' }).click();
    await rowOf(`@${remoteHandle}`).waitFor({ state: 'detached' });
    names = (await get(instance.url, tokens.uma, '/users/me/blocklist/accounts')).data.map((b) => b.blockedAccount.name);
    assert.deepEqual(names, ['vic']);

    await rowOf('@vic').getByRole('button', { name: 'Unmute' }).click();
    await page.getByText('You have not muted any account.').waitFor();
    assert.equal((await get(instance.url, tokens.uma, '/users/me/blocklist/accounts')).total, 0);
    await page.goto(`/w/${video.shortUUID}`);
    await commentWith(page, VIC_SAYS).waitFor();
  });

  step('the muted servers page mutes a server by its host and unmutes it', async () => {
    const { page } = uma;
    await page.goto('/my-account/blocklist/accounts');
    await page.getByRole('navigation', { name: 'Moderation', exact: true }).getByRole('link', { name: 'Muted servers' }).click();
    await page.waitForURL((u) => u.pathname === '/my-account/blocklist/servers');
    await page.getByText('You have not muted any server.').waitFor();

    await page.getByLabel('Mute a server').fill('not a host');
    await page.getByRole('button', { name: 'Mute', exact: true }).click();
    await page.getByRole('alert').getByText('a server is named by its domain').waitFor();

    // A pasted address is cut down to its host.
    await page.getByLabel('Mute a server').fill('https://Spam.Example/about');
    await page.getByRole('button', { name: 'Mute', exact: true }).click();
    const row = page.getByTestId('blocklist').getByRole('row').filter({ hasText: 'spam.example' });
    await row.waitFor();
    await shot(page, DESKTOP, 'my-muted-servers');
    assert.deepEqual((await get(instance.url, tokens.uma, '/users/me/blocklist/servers')).data.map((s) => s.blockedServer.host), ['spam.example']);
    const status = await get(instance.url, tokens.uma, '/blocklist/status?hosts=spam.example');
    assert.deepEqual(status.hosts['spam.example'], { blockedByServer: false, blockedByUser: true });

    // The page says so once the list shows it: the list's reload is held, and until it comes the
    // server is still listed and nothing says it was unmuted (the notice came before the list loaded
    // again, which a reader — and the tests, under load — saw beside the stale list).
    let release = () => {};
    const held = new Promise((r) => (release = r));
    const isList = (u) => u.pathname === '/api/v1/users/me/blocklist/servers';
    const hold = async (route) => {
      await held;
      await route.fallback();
    };
    await page.route(isList, hold);
    const reloading = page.waitForRequest((r) => r.method() === 'GET' && isList(new URL(r.url())));
    await row.getByRole('button', { name: 'Unmute' }).click();
    await reloading;
    await page.waitForTimeout(300);
    const unmuted = page.getByRole('status').getByText('You unmuted spam.example.');
    assert.equal(await unmuted.count(), 0, 'no notice while the list still shows the server');
    assert.equal(await row.count(), 1);
    release();
    await unmuted.waitFor();
    assert.ok(await page.getByText('You have not muted any server.').isVisible(), 'the list shows the change with the notice');
    await page.unroute(isList, hold);
    assert.equal((await get(instance.url, tokens.uma, '/users/me/blocklist/servers')).total, 0);

    // More than a page (15): the pager; unmuting the only one of page 2 goes back to page 1.
    for (let i = 1; i <= 16; i += 1) {
      await call(instance.url, tokens.uma, 'POST', '/users/me/blocklist/servers', { host: `s${String(i).padStart(2, '0')}.example` });
    }
    await page.reload();
    const rows = page.getByTestId('blocklist').getByRole('row');
    const pager = page.getByRole('navigation', { name: 'Pages of the list' });
    await pager.getByText('Page 1 of 2').waitFor();
    assert.equal(await rows.count(), 16, 'a header row and 15 servers');
    await pager.getByRole('button', { name: 'Next' }).click();
    await pager.getByText('Page 2 of 2').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="blocklist"] tbody tr').length === 1);
    const last = await rows.nth(1).locator('strong').textContent();
    assert.match(last, /^s\d\d\.example$/);
    await rows.nth(1).getByRole('button', { name: 'Unmute' }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="blocklist"] tbody tr').length === 15);
    assert.equal(await pager.count(), 0, 'the pager stays with 15 servers');
    const left = (await get(instance.url, tokens.uma, '/users/me/blocklist/servers?count=100')).data.map((b) => b.blockedServer.host);
    assert.equal(left.length, 15);
    assert.ok(!left.includes(last), `${last} is still muted`);
    for (const host of left) await call(instance.url, tokens.uma, 'DELETE', `/users/me/blocklist/servers/${host}`);
  });

  step('a moderator mutes an account for the instance from a comment: gone for everyone until unmuted', async () => {
    const { page } = root;
    await page.goto(`/w/${video.shortUUID}`);
    await commentWith(page, VIC_SAYS).getByRole('button', { name: 'More actions for Vic Vexing' }).click();
    const menu = page.getByRole('menu', { name: 'More actions for Vic Vexing' });
    await menu.waitFor();
    assert.deepEqual(await menu.getByRole('menuitem').allTextContents(), ['Mute this account', 'Report this comment', 'Mute this account for the instance']);
    await menu.getByRole('menuitem', { name: 'Mute this account for the instance' }).click();
    await commentWith(page, VIC_SAYS).waitFor({ state: 'detached' });
    assert.ok(!(await threadTexts(null)).includes(VIC_SAYS), 'a visitor still sees the comment');
    assert.ok(!(await threadTexts(tokens.uma)).includes(VIC_SAYS), 'another user still sees the comment');

    await page.goto('/admin/users');
    await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Muted accounts' }).click();
    await page.waitForURL((u) => u.pathname === '/admin/moderation/blocklist/accounts');
    const row = page.getByTestId('blocklist').getByRole('row').filter({ hasText: '@vic' });
    await row.waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Muted accounts' }).getAttribute('aria-current'), 'page');
    await shot(page, DESKTOP, 'admin-muted-accounts');
    await row.getByRole('button', { name: 'Unmute' }).click();
    await page.getByText('This instance mutes no account.').waitFor();
    assert.ok((await threadTexts(null)).includes(VIC_SAYS));
  });

  step('the admin imports a domain_blocks.csv: the summary, then the list', async () => {
    const { page } = root;
    await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Muted servers' }).click();
    await page.waitForURL((u) => u.pathname === '/admin/moderation/blocklist/servers');
    await page.getByText('This instance mutes no server.').waitFor();

    // Over 1 MB: refused before it is sent.
    await page.getByLabel('Import CSV').setInputFiles({ name: 'huge.csv', mimeType: 'text/csv', buffer: Buffer.alloc(1024 * 1024 + 1, 'a') });
    await page.getByRole('alert').getByText('This file is larger than 1 MB.').waitFor();

    const csv = [
      CSV_HEADER,
      'spam-farm.example,suspend,false,false,Sends spam,false',
      'noisy.example,silence,false,false,,false',
      'not a domain!,suspend,false,false,,false',
      '',
    ].join('\n');
    const sent = page.waitForRequest((r) => r.url().endsWith('/api/v1/server/blocklist/servers/import') && r.method() === 'POST');
    await page.getByLabel('Import CSV').setInputFiles({ name: 'domain_blocks.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    const request = await sent;
    assert.equal(request.postData(), csv, 'the file is sent as it is');
    assert.match(request.headers()['content-type'], /^text\/csv/);

    const summary = page.getByTestId('import-summary');
    await summary.getByText('Import of domain_blocks.csv finished.').waitFor();
    assert.match(await summary.textContent(), /1 server muted, 0 already muted\./);
    assert.deepEqual(await page.getByTestId('import-skipped').getByRole('listitem').allTextContents(), ['noisy.example']);
    const invalid = await page.getByTestId('import-invalid').getByRole('listitem').allTextContents();
    assert.equal(invalid.length, 1);
    assert.match(invalid[0], /not a domain!/);

    const rows = page.getByTestId('blocklist').getByRole('row');
    await rows.filter({ hasText: 'spam-farm.example' }).waitFor();
    assert.equal(await rows.count(), 2, 'a header row and the one suspended domain');
    assert.equal(await rows.filter({ hasText: 'noisy.example' }).count(), 0);

    // Again: nothing new.
    await page.getByLabel('Import CSV').setInputFiles({ name: 'domain_blocks.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.waitForFunction(() => /0 servers muted, 1 already muted\./.test(document.querySelector('[data-testid="import-summary"]')?.textContent ?? ''));

    // One more by hand, then the list as the server has it.
    await page.getByLabel('Mute a server').fill('trolls.example');
    await page.getByRole('button', { name: 'Mute', exact: true }).click();
    await rows.filter({ hasText: 'trolls.example' }).waitFor();
    await shot(page, DESKTOP, 'admin-muted-servers');
    const listed = (await get(instance.url, tokens.root, '/server/blocklist/servers')).data.map((s) => s.blockedServer.host).sort();
    assert.deepEqual(listed, ['spam-farm.example', 'trolls.example']);
  });

  step('the admin exports the list as a CSV download', async () => {
    const { page } = root;
    const downloading = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    const download = await downloading;
    assert.equal(download.suggestedFilename(), 'domain_blocks.csv');
    const text = readFileSync(await download.path(), 'utf8');
    const lines = text.trim().split(/\r?\n/);
    assert.equal(lines[0], CSV_HEADER);
    const domains = lines.slice(1).map((l) => l.split(',')[0]).sort();
    assert.deepEqual(domains, ['spam-farm.example', 'trolls.example']);
    for (const line of lines.slice(1)) assert.match(line, /^[^,]+,suspend,/);
  });

  step('on a phone, the menu and the lists fit the screen', async () => {
    phone = await newPerson(browser, PHONE, instance.url);
    const { page } = phone;
    await login(page, USERS.uma.name, password(USERS.uma));
    const fits = () => page.evaluate(() => document.scrollingElement.scrollWidth <= window.innerWidth);
    await page.goto(`/w/${video.shortUUID}`);
    await commentWith(page, VIC_SAYS).getByRole('button', { name: 'More actions for Vic Vexing' }).click();
    const menu = page.getByRole('menu', { name: 'More actions for Vic Vexing' });
    await menu.waitFor();
    const box = await menu.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= PHONE.viewport.width, `the menu leaves the screen: ${JSON.stringify(box)}`);
    assert.ok(await fits(), 'the watch page scrolls sideways with the menu open');
    await shot(page, PHONE, 'comment-moderation-menu');

    await call(instance.url, tokens.uma, 'POST', '/users/me/blocklist/servers', { host: 'a-rather-long-server-name.videos.example.org' });
    await page.goto('/my-account/blocklist/servers');
    await page.getByTestId('blocklist').getByRole('row').filter({ hasText: 'a-rather-long-server-name' }).waitFor();
    assert.ok(await fits(), 'the muted servers page scrolls sideways');
    await shot(page, PHONE, 'my-muted-servers');
  });

  test('no page error and no Content-Security-Policy violation happened', () => {
    assert.deepEqual([...(uma?.problems ?? []), ...(root?.problems ?? []), ...(phone?.problems ?? [])], []);
  });
});
