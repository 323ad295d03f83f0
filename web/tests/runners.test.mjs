// Remote runners (PeerTube 6.3's runner admin) on /admin/system/runners, with the instance sending
// transcoding to runners (FLOTILLA_TRANSCODING_REMOTE_RUNNERS=true, so no job is transcoded here).
// The admin sees the three empty states (with the command that starts a runner), generates a
// registration token (shown, copied); a runner registered through the API with it shows after a
// reload, with the token's count. An upload's vod-hls-transcoding jobs are listed pending with the
// video's link; while one is pending the page asks again by itself (a second runner shows without a
// reload), and stops asking once left. One job is cancelled from the page ("Cancelled", also for the
// API) and found with the state filter. At 360 px the page does not scroll sideways. Deleting the
// token (confirmed, saying its runners go) removes both runners.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { adminToken, call, get, until, uploadVideo } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login } from './support/flows.mjs';
import { ADMIN_PASSWORD, makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
const PAGE = '/admin/system/runners';
const RUNNER = { name: 'gpu-box-1', description: 'The GPU box under the stairs' };
const SECOND_RUNNER = { name: 'laptop-2', description: 'A spare laptop' };

let instance;
let browser;
let workDir;
let rootToken;

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-runners-'));
  instance = await startInstance({ FLOTILLA_TRANSCODING_REMOTE_RUNNERS: 'true', FLOTILLA_TRANSCODING_RESOLUTIONS: '240,360' });
  browser = await launch();
  rootToken = await adminToken(instance.url);
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** Registers a runner as `flotilla runner` does (no OAuth token: the registration token only). */
async function registerRunner(registrationToken, runner) {
  const r = await call(instance.url, null, 'POST', '/runners/register', { registrationToken, ...runner });
  assert.equal(typeof r.runnerToken, 'string', `register answered ${JSON.stringify(r)}`);
  return r;
}

describe('remote runners', () => {
  let admin;
  let failed = null;
  let registrationToken;
  let video;
  let cancelled;

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
    admin = await newPerson(browser, DESKTOP, instance.url);
    await admin.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: instance.url });
    await login(admin.page, 'root', ADMIN_PASSWORD);
  });

  const tokenRows = () => admin.page.getByTestId('registration-token-row');
  const runnerRow = (name) => admin.page.getByTestId('runner').filter({ hasText: name });
  const jobRow = (uuid) => admin.page.locator(`[data-testid="runner-job"][data-uuid="${uuid}"]`);
  const section = (name) => admin.page.getByRole('region', { name, exact: true });

  step('the page is a tab beside Jobs and explains runners while it is empty', async () => {
    const { page } = admin;
    await page.goto('/admin/system/jobs');
    await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Runners', exact: true }).click();
    await page.waitForURL((u) => u.pathname === PAGE);
    const tabs = page.getByRole('navigation', { name: 'Administration' });
    assert.equal(await tabs.getByRole('link', { name: 'Runners', exact: true }).getAttribute('aria-current'), 'page');
    assert.equal(await tabs.getByRole('link', { name: 'Jobs', exact: true }).getAttribute('aria-current'), null);

    await page.getByTestId('no-registration-tokens').waitFor();
    const noRunners = page.getByTestId('no-runners');
    await noRunners.getByText('No runner is registered.').waitFor();
    // Without a token, the command has a placeholder for it and says to generate one.
    assert.equal(
      await noRunners.getByTestId('runner-command').textContent(),
      `flotilla runner --url ${instance.url} --registration-token <token> --name "$(hostname)"`,
    );
    await noRunners.getByText('Generate a registration token first').waitFor();
    await noRunners.getByText('remote_runners = true').waitFor();
    const noJobs = page.getByTestId('no-runner-jobs');
    await noJobs.waitFor();
    assert.match(await noJobs.textContent(), /remote_runners = true/);
    // The instance sends jobs to runners: /config says so, and the page gives no warning.
    const config = await get(instance.url, null, '/config');
    assert.equal(config.transcoding.remoteRunners?.enabled, true, 'GET /config transcoding.remoteRunners.enabled');
    assert.equal(await page.getByTestId('remote-runners-off').count(), 0);
    await shot(page, DESKTOP, 'admin-runners-empty');
  });

  step('a generated registration token is shown and copied', async () => {
    const { page } = admin;
    await section('Registration tokens').getByRole('button', { name: 'Generate a token' }).click();
    await section('Registration tokens').getByRole('status').getByText('A registration token was generated.').waitFor();
    await tokenRows().first().waitFor();
    assert.equal(await tokenRows().count(), 1);
    const listed = await get(instance.url, rootToken, '/runners/registration-tokens?start=0&count=10');
    assert.equal(listed.total, 1);
    registrationToken = listed.data[0].registrationToken;
    assert.ok(registrationToken, 'the API gives the token');
    assert.equal(await tokenRows().first().getByTestId('registration-token').textContent(), registrationToken);
    assert.equal(await tokenRows().first().getByTestId('registered-runners').textContent(), '0');

    await tokenRows().first().getByRole('button', { name: `Copy registration token ${listed.data[0].id}` }).click();
    await section('Registration tokens').getByRole('status').getByText('Copied.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), registrationToken);
    // The command to start a runner now carries it.
    assert.equal(
      await page.getByTestId('no-runners').getByTestId('runner-command').textContent(),
      `flotilla runner --url ${instance.url} --registration-token ${registrationToken} --name "$(hostname)"`,
    );
    await shot(page, DESKTOP, 'admin-runners-token');
  });

  step('a runner registered with the token is listed after a reload', async () => {
    const { page } = admin;
    await registerRunner(registrationToken, RUNNER);
    await page.reload();
    const row = runnerRow(RUNNER.name);
    await row.waitFor();
    await row.getByText(RUNNER.description).waitFor();
    await row.getByText('127.0.0.1').waitFor();
    // Its last contact was its registration, a moment ago.
    assert.match(await row.locator('td').nth(3).textContent(), /just now|second|minute/);
    assert.equal(await page.getByTestId('no-runners').count(), 0);
    assert.equal(await tokenRows().first().getByTestId('registered-runners').textContent(), '1');
  });

  step("an upload's transcoding jobs are listed pending, with the video's link", async () => {
    const { page } = admin;
    const clip = makeClip(workDir, 4, '640x360');
    video = await uploadVideo(instance.url, rootToken, clip, { name: 'Clip for the runners' });
    const forVideo = (jobs) => jobs.data.filter((j) => j.privatePayload?.videoUUID === video.uuid);
    const jobs = await until('pending vod-hls-transcoding jobs for the upload', async () => {
      const list = forVideo(await get(instance.url, rootToken, '/runners/jobs?start=0&count=100'));
      return list.some((j) => j.type === 'vod-hls-transcoding' && j.state.id === 1) ? list : false;
    });
    await page.reload();
    const pending = jobs.filter((j) => j.type === 'vod-hls-transcoding' && j.state.id === 1);
    for (const job of pending) {
      const row = jobRow(job.uuid);
      await row.waitFor();
      await row.getByText('vod-hls-transcoding', { exact: true }).waitFor();
      assert.equal(await row.getByTestId('runner-job-state').textContent(), 'Pending');
      // The link to the video, named after it once the page has read it (its uuid until then).
      const link = row.getByRole('link', { name: 'Clip for the runners', exact: true });
      await link.waitFor();
      assert.equal(await link.getAttribute('href'), `/w/${video.uuid}`);
      const resolution = job.payload?.output?.resolution;
      if (typeof resolution === 'number' && resolution > 0) await row.getByText(`${resolution}p`, { exact: true }).waitFor();
    }
    await shot(page, DESKTOP, 'admin-runners-jobs');
  });

  step('while a job is pending the page asks again by itself, and stops once left', async () => {
    const { page } = admin;
    const asked = [];
    const onRequest = (r) => {
      if (new URL(r.url()).pathname === '/api/v1/runners/jobs') asked.push(Date.now());
    };
    page.on('request', onRequest);
    try {
      // A runner that registers now appears without a reload.
      await registerRunner(registrationToken, SECOND_RUNNER);
      await runnerRow(SECOND_RUNNER.name).waitFor({ timeout: 10_000 });
      assert.ok(asked.length >= 1, 'the jobs were asked again');
      // Left within the app (the tab, no page load): only the page's own clean-up stops it.
      await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Jobs', exact: true }).click();
      await page.getByRole('navigation', { name: 'Jobs' }).waitFor();
      const before = asked.length;
      await page.waitForTimeout(7_000);
      assert.equal(asked.length, before, 'the runners page went on asking after it was left');
    } finally {
      page.off('request', onRequest);
    }
  });

  step('a pending job is cancelled from the page, and the state filter finds it', async () => {
    const { page } = admin;
    await page.goto(PAGE);
    const jobs = await get(instance.url, rootToken, '/runners/jobs?start=0&count=100');
    const target = jobs.data.find((j) => j.privatePayload?.videoUUID === video.uuid && j.type === 'vod-hls-transcoding' && j.state.id === 1);
    assert.ok(target, 'a pending job is left to cancel');
    cancelled = target.uuid;
    const row = jobRow(cancelled);
    await row.getByRole('button', { name: 'Cancel', exact: true }).click();
    await section('Runner jobs').getByRole('status').getByText('The job was cancelled.').waitFor();
    await row.getByTestId('runner-job-state').filter({ hasText: /^Cancelled$/ }).waitFor();
    assert.equal(await row.getByRole('button', { name: 'Cancel', exact: true }).count(), 0, 'a cancelled job offers no Cancel');
    const after = await get(instance.url, rootToken, '/runners/jobs?start=0&count=100');
    assert.equal(after.data.find((j) => j.uuid === cancelled)?.state.id, 6);

    await page.getByLabel('State', { exact: true }).selectOption({ label: 'Cancelled' });
    await jobRow(cancelled).waitFor();
    // The cancelled job is on the unfiltered list too, so its row shows before the filtered
    // answer: wait (bounded) for that answer; the assertion below says what was left if not.
    await page.waitForFunction(
      () => [...document.querySelectorAll('[data-testid="runner-job-state"]')].every((e) => e.textContent.trim() === 'Cancelled'),
      null,
      { timeout: 10_000 },
    ).catch(() => {});
    const states = await page.getByTestId('runner-job-state').allTextContents();
    assert.ok(states.length >= 1 && states.every((s) => s === 'Cancelled'), `the filter shows only cancelled jobs: ${states}`);
    await page.getByLabel('State', { exact: true }).selectOption({ label: 'Pending' });
    await jobRow(cancelled).waitFor({ state: 'detached' });
    await page.getByLabel('State', { exact: true }).selectOption({ label: 'All states' });
    await jobRow(cancelled).waitFor();
  });

  step('at 360 px the page does not scroll sideways', async () => {
    const phone = await newPerson(browser, PHONE, instance.url);
    try {
      const { page } = phone;
      await login(page, 'root', ADMIN_PASSWORD);
      await page.goto(PAGE);
      await page.getByTestId('runner').first().waitFor();
      await page.getByTestId('runner-job').first().waitFor();
      await shot(page, PHONE, 'admin-runners');
      const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
      assert.equal(wide, false, 'the runners page scrolls sideways at 360 px');
      for (const table of await page.locator('.table-wrap').all()) {
        assert.equal(await table.evaluate((t) => t.scrollWidth <= t.clientWidth), true, 'a table is wider than the screen');
      }
      assert.deepEqual(phone.problems, []);
    } finally {
      await phone.context.close();
    }
  });

  step('deleting the registration token, confirmed, removes its runners', async () => {
    const { page } = admin;
    await page.reload();
    await runnerRow(RUNNER.name).waitFor();
    assert.equal(await tokenRows().first().getByTestId('registered-runners').textContent(), '2');
    await tokenRows().first().getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this registration token?' });
    await dialog.getByText('The 2 runners registered with it are removed too').waitFor();
    await shot(page, DESKTOP, 'admin-runners-delete-token');
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await section('Registration tokens').getByRole('status').getByText('The registration token was deleted.').waitFor();
    await runnerRow(RUNNER.name).waitFor({ state: 'detached' });
    assert.equal(await runnerRow(SECOND_RUNNER.name).count(), 0);
    await page.getByTestId('no-runners').waitFor();
    await page.getByTestId('no-registration-tokens').waitFor();
    assert.equal((await get(instance.url, rootToken, '/runners')).total, 0);
    assert.equal((await get(instance.url, rootToken, '/runners/registration-tokens')).total, 0);
    // The token is spent: a runner can no longer register with it.
    const refused = await fetch(`${instance.url}/api/v1/runners/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ registrationToken, name: 'late-runner' }),
    });
    assert.ok(refused.status >= 400 && refused.status < 500, `registering with a deleted token answered ${refused.status}`);
  });

  test('no page error and no Content-Security-Policy violation happened', () => {
    assert.deepEqual(admin.problems, []);
  });
});
