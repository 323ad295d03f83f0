// Administration across three instances on 127.0.0.1: A is administered through the browser, B
// approves its followers by hand (and sits behind a proxy that can make its inbox refuse
// deliveries), C is another instance that asks to follow B. Covers a user's role and quota, the
// instance settings with sign-up closed, following and accepting or rejecting followers, the home
// page's Local tab and paging with a remote video among more than one page of local ones, and a
// failed delivery retried from the jobs page once B answers again.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { adminToken, call, get, registerUser, until, uploadVideo, waitPublished } from './support/api.mjs';
import { DESKTOP, launch, newPerson, shot } from './support/browser.mjs';
import { login } from './support/flows.mjs';
import { ADMIN_PASSWORD, makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
/** One more than the home page's 24 videos per page. */
const LOCAL_VIDEOS = 25;
const REMOTE_TITLE = 'Seen from the other harbour';

let a;
let b;
let c;
let browser;
let workDir;
let adminA;
let adminB;
let localUploads;
const hostOf = (instance) => new URL(instance.url).host;

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-admin-'));
  [a, b, c] = await Promise.all([
    startInstance({ FLOTILLA_TRANSCODING_RESOLUTIONS: '144' }),
    startInstance({ FLOTILLA_TRANSCODING_RESOLUTIONS: '144', FLOTILLA_FEDERATION_MANUAL_APPROVAL: 'true' }, { proxy: true }),
    startInstance(),
  ]);
  browser = await launch();
  await registerUser(a.url, 'mira', 'mira-password-1');
  // Sound only: the cheapest videos to publish. They are transcoded while the first tests run.
  const tone = makeClip(workDir, 1, '', { name: 'tone.mp4', audioOnly: true });
  const token = await adminToken(a.url);
  localUploads = (async () => {
    const videos = [];
    for (let i = 1; i <= LOCAL_VIDEOS; i += 1) videos.push(await uploadVideo(a.url, token, tone, { name: `Harbour bell ${i}` }));
    for (const v of videos) await waitPublished(a.url, token, v.uuid);
  })();
  localUploads.catch(() => undefined);
  adminA = await newPerson(browser, DESKTOP, a.url);
  adminB = await newPerson(browser, DESKTOP, b.url);
  await login(adminA.page, 'root', ADMIN_PASSWORD);
  await login(adminB.page, 'root', ADMIN_PASSWORD);
});

after(async () => {
  await browser?.close();
  await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

test("an admin changes a user's role and video quota", STEP, async () => {
  const { page } = adminA;
  await page.goto('/admin/users');
  await page.getByRole('combobox', { name: 'Role of mira' }).selectOption({ label: 'Moderator' });
  await page.getByRole('status').getByText('The user mira was saved.').waitFor();
  await page.getByRole('combobox', { name: 'Video quota of mira' }).selectOption({ label: '5 GB' });
  await page.getByRole('status').getByText('The user mira was saved.').waitFor();
  const users = await get(a.url, await adminToken(a.url), '/users?search=mira');
  const mira = users.data.find((u) => u.username === 'mira');
  assert.deepEqual([mira.role.id, mira.videoQuota], [1, 5e9]);
  // The page shows what the server has after a reload.
  await page.reload();
  assert.equal(await page.getByRole('combobox', { name: 'Role of mira' }).inputValue(), '1');
  assert.equal(await page.getByRole('combobox', { name: 'Video quota of mira' }).inputValue(), String(5e9));
});

test('the instance settings are saved; with sign-up closed a visitor finds no form to fill', STEP, async () => {
  const { page } = adminA;
  await page.goto('/admin/config/edit-custom');
  await page.getByLabel('Name', { exact: true }).fill('Harbour Videos');
  await page.getByLabel('Short description').fill('Boats, tides and bells.');
  await page.getByLabel('Description', { exact: true }).fill('Videos filmed around the **harbour**.');
  await page.getByLabel('240p').check();
  await page.getByLabel('720p').check();
  await page.getByLabel('144p').uncheck();
  await page.getByLabel('Closed: only administrators create accounts').check();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('status').getByText('Saved.').waitFor();

  const custom = await get(a.url, await adminToken(a.url), '/config/custom');
  assert.deepEqual(
    [custom.instance.name, custom.instance.shortDescription, custom.instance.description, custom.signup.enabled],
    ['Harbour Videos', 'Boats, tides and bells.', 'Videos filmed around the **harbour**.', false],
  );
  const on = Object.entries(custom.transcoding.resolutions).filter(([, v]) => v).map(([k]) => k).sort();
  assert.deepEqual(on, ['240p', '720p']);
  const config = await get(a.url, null, '/config');
  assert.deepEqual([config.instance.name, config.signup.allowed], ['Harbour Videos', false]);

  const visitor = await newPerson(browser, DESKTOP, a.url);
  await visitor.page.goto('/signup');
  await visitor.page.getByText('This instance does not accept new accounts.').waitFor();
  for (const field of ['Username', 'Email', 'Password']) {
    assert.equal(await visitor.page.getByLabel(field, { exact: true }).count(), 0, `a sign-up form is shown (${field})`);
  }
  assert.equal(await visitor.page.getByRole('button', { name: /Create the account|Send the request/ }).count(), 0);
  assert.equal(await visitor.page.getByRole('link', { name: 'Create an account' }).count(), 0, 'the menu still offers to create an account');
  assert.equal(await visitor.page.title(), 'Create an account – Harbour Videos');
  await shot(visitor.page, DESKTOP, 'signup-closed');
  await visitor.page.goto('/login');
  await visitor.page.getByRole('button', { name: 'Log in' }).waitFor();
  assert.equal(await visitor.page.getByRole('link', { name: 'Create one' }).count(), 0);
  assert.deepEqual(visitor.problems, []);
  await visitor.context.close();
});

test('A follows B; on B, which approves followers by hand, the admin accepts A and rejects C', STEP, async () => {
  const { page } = adminA;
  await page.goto('/admin/follows/following-list');
  await page.getByLabel('Follow instances').fill(`http://${hostOf(b)}/`);
  await page.getByRole('button', { name: 'Follow', exact: true }).click();
  const row = page.getByRole('row').filter({ hasText: hostOf(b) });
  await row.getByText('Pending').waitFor();
  await call(c.url, await adminToken(c.url), 'POST', '/server/following', { hosts: [hostOf(b)] });

  await until('both follows reach B', async () => (await get(b.url, null, '/server/followers?state=pending')).total === 2);
  const other = adminB.page;
  await other.goto('/admin/follows/followers-list');
  const fromA = other.getByRole('row').filter({ hasText: hostOf(a) });
  const fromC = other.getByRole('row').filter({ hasText: hostOf(c) });
  await fromA.getByText('Pending').waitFor();
  await fromC.getByText('Pending').waitFor();
  await shot(other, DESKTOP, 'admin-followers-pending');
  await fromA.getByRole('button', { name: 'Accept' }).click();
  await fromA.getByText('Accepted').waitFor();
  await fromC.getByRole('button', { name: 'Reject' }).click();
  await fromC.waitFor({ state: 'detached' });

  const followers = await get(b.url, null, '/server/followers');
  assert.deepEqual(followers.data.map((f) => [f.follower.host, f.state]), [[hostOf(a), 'accepted']]);
  // Each follower hears the answer.
  await until('A learns it was accepted', async () => (await get(a.url, null, '/server/following?state=accepted')).total === 1);
  await until('C learns it was rejected', async () => (await get(c.url, null, '/server/following')).total === 0);
  await page.reload();
  await row.getByText('Accepted').waitFor();
});

test("A's admin lets B's videos be mirrored here, and sees the mirrors and the edge cache", STEP, async () => {
  const { page, problems } = adminA;
  await page.goto('/admin/follows/following-list');
  const row = page.getByRole('row').filter({ hasText: hostOf(b) });
  await row.getByRole('button', { name: 'Allow mirroring' }).click();
  await row.getByText('Its videos may be mirrored here').waitFor();
  const following = await get(a.url, null, '/server/following');
  assert.deepEqual(following.data.map((f) => [f.following.host, f.following.hostRedundancyAllowed]), [[hostOf(b), true]]);

  await page.getByRole('link', { name: 'Mirrors and cache' }).click();
  await page.waitForURL('**/admin/follows/video-redundancies-list');
  await page.getByRole('heading', { name: 'Edge cache' }).waitFor();
  const edge = await get(a.url, await adminToken(a.url), '/server/edge-cache');
  assert.equal(edge.enabled, true);
  await page.getByText('Disk used').waitFor();
  await page.getByRole('heading', { name: "Our mirrors of other servers' videos" }).waitFor();
  await page.getByRole('heading', { name: "Other servers' mirrors of our videos" }).waitFor();
  assert.equal(await page.getByText('None.').count(), 2, 'no mirror yet either way');
  await shot(page, DESKTOP, 'admin-mirrors');
  assert.deepEqual(problems, []);

  await page.goto('/admin/follows/following-list');
  await row.getByRole('button', { name: 'Stop mirroring' }).click();
  await row.getByRole('button', { name: 'Allow mirroring' }).waitFor();
  assert.equal((await get(a.url, null, '/server/following')).data[0].following.hostRedundancyAllowed, false);
});

test('the home page pages through more than 24 videos; the Local tab leaves out the remote one', STEP, async () => {
  // B publishes a video; A, which follows B, receives it.
  const tokenB = await adminToken(b.url);
  const remote = await uploadVideo(b.url, tokenB, makeClip(workDir, 2, '256x144', { name: 'remote.mp4' }), { name: REMOTE_TITLE });
  await waitPublished(b.url, tokenB, remote.uuid);
  await until('the video reaches A', async () => (await get(a.url, null, '/videos?isLocal=false')).data.some((v) => v.name === REMOTE_TITLE));
  await localUploads;

  const visitor = await newPerson(browser, { ...DESKTOP, viewport: { width: 1280, height: 600 } }, a.url);
  const { page } = visitor;
  const cards = page.locator('section ul.grid > li');
  await page.goto('/');
  await page.getByRole('link', { name: REMOTE_TITLE }).first().waitFor();
  assert.equal(await cards.count(), 24);
  // Reaching the end of the list loads the next page by itself.
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await page.waitForFunction((n) => document.querySelectorAll('section ul.grid > li').length === n, LOCAL_VIDEOS + 1);
  assert.equal(await page.getByRole('button', { name: 'Show more' }).count(), 0, 'a "Show more" button after the last page');

  await page.evaluate(() => window.scrollTo(0, 0));
  await page.getByRole('navigation', { name: 'Video lists' }).getByRole('link', { name: 'Local videos' }).click();
  await page.waitForURL('**/videos/local');
  await page.getByRole('link', { name: 'Harbour bell 25' }).first().waitFor();
  assert.equal(await cards.count(), 24);
  // The button loads the next page without scrolling (keyboards, no IntersectionObserver).
  await page.getByRole('button', { name: 'Show more' }).waitFor({ state: 'attached' });
  await page.getByRole('button', { name: 'Show more' }).dispatchEvent('click');
  await page.getByRole('link', { name: 'Harbour bell 1', exact: true }).waitFor();
  assert.equal(await cards.count(), LOCAL_VIDEOS);
  assert.equal(await page.getByRole('link', { name: REMOTE_TITLE }).count(), 0, 'the remote video is among the local ones');
  await shot(page, DESKTOP, 'home-local');
  assert.deepEqual(visitor.problems, []);
  await visitor.context.close();
});

test('a delivery B refused fails; once B answers again, the admin retries it from the jobs page', STEP, async () => {
  const token = await adminToken(a.url);
  b.proxy.refuse('POST', /inbox/, 400);
  const { page } = adminA;
  await page.goto('/admin/follows/following-list');
  await page.getByRole('row').filter({ hasText: hostOf(b) }).getByRole('button', { name: 'Unfollow' }).click();
  await page.getByText('This instance follows no other instance.').waitFor();
  const failed = await until('the Undo to B fails', async () => (await get(a.url, token, '/jobs/failed')).data[0]);
  assert.match(failed.error ?? '', /400/);

  await page.goto('/admin/system/jobs');
  const row = page.getByRole('row').filter({ has: page.getByRole('cell', { name: String(failed.id), exact: true }) });
  await row.getByText('Failed').waitFor();
  await shot(page, DESKTOP, 'admin-jobs-failed');
  b.proxy.heal();
  await row.getByRole('button', { name: 'Retry' }).click();
  await page.getByRole('status').getByText('The job is queued again.').waitFor();

  await until('the retried job completes', async () => (await get(a.url, token, '/jobs/completed?count=100')).data.some((j) => j.id === failed.id));
  assert.equal((await get(a.url, token, '/jobs/failed')).total, 0);
  await until('B drops A from its followers', async () => (await get(b.url, null, '/server/followers')).total === 0);
  assert.deepEqual([...adminA.problems, ...adminB.problems], []);
});
