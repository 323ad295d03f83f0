// User archives (PeerTube 6.1's export and import), on the settings page's "Your data": a user
// requests an archive without video files; the list shows it being prepared and turns it into a
// Download link by itself (polling); the link downloads a zip holding peertube/account.json without
// any token. The same zip is imported back through the file picker, in several chunks of the
// resumable protocol, and the latest import shows "Completed" with its summary table. A file that
// is not a zip archive is refused with the server's own message after its last chunk, and so is an
// import overtaken by another one (a 409 that is not a range mismatch: not a resend). The archive
// is deleted (confirmed) and its link stops working. At phone size the section fits the screen,
// and an instance that turns archives off shows none of it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { get, registerUser, token } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login } from './support/flows.mjs';
import { startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
const USER = 'iris';
const PASSWORD = 'iris-password-1';
/** The admin's maxChunkSize, small so that even a few-kilobyte archive travels in several requests. */
const CHUNK = 1024;

let instance;
let browser;
let workDir;
let me;
let userToken;

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-archives-'));
  instance = await startInstance();
  browser = await launch();
  await registerUser(instance.url, USER, PASSWORD);
  userToken = await token(instance.url, USER, PASSWORD);
  me = await get(instance.url, userToken, '/users/me');
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** Serves `/api/v1/config` through `change(config)`, for the pages this context loads from now on. */
async function editConfig(context, change) {
  await context.route('**/api/v1/config', async (route) => {
    const res = await route.fetch();
    const config = await res.json();
    change(config);
    await route.fulfill({ response: res, json: config });
  });
}

describe('user archives', () => {
  let person;
  let failed = null;
  /** The downloaded archive, saved for the import. */
  let archivePath;
  let downloadUrl;

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
    person = await newPerson(browser, DESKTOP, instance.url);
    await editConfig(person.context, (c) => {
      c.client.videos.resumableUpload.maxChunkSize = CHUNK;
    });
    await login(person.page, USER, PASSWORD);
  });

  after(async () => {
    await person?.context.close();
  });

  step('an archive without video files is requested, and its Download link appears by itself', async () => {
    const { page } = person;
    // The first list that holds the export shows it still being built, whatever the job's speed:
    // the page has to ask again by itself to turn it into a link.
    let held = 0;
    await page.route(/\/api\/v1\/users\/\d+\/exports$/, async (route) => {
      if (route.request().method() !== 'GET') return route.fallback();
      const res = await route.fetch();
      const list = await res.json();
      if (held === 0 && list.data.length > 0) {
        held += 1;
        for (const e of list.data) Object.assign(e, { state: { id: 2, label: 'Processing' }, privateDownloadUrl: null, fileUrl: null });
      }
      return route.fulfill({ response: res, json: list });
    });

    await page.goto('/my-account/settings');
    const section = page.getByRole('region', { name: 'Your data' });
    await section.getByText('No archive yet.').waitFor();
    await section.getByText('followers do not come with it', { exact: false }).waitFor();
    const files = section.getByLabel('Include the files of my videos');
    assert.equal(await files.isChecked(), false);

    const requested = page.waitForRequest((r) => r.url().endsWith(`/api/v1/users/${me.id}/exports/request`));
    await section.getByRole('button', { name: 'Request an archive' }).click();
    assert.deepEqual((await requested).postDataJSON(), { withVideoFiles: false });
    await section.getByRole('status').getByText('Your archive is being prepared', { exact: false }).waitFor();
    await section.getByText('Being prepared; this page updates by itself.').waitFor();
    await section.getByText('Processing', { exact: true }).waitFor();
    assert.ok(await section.getByRole('button', { name: 'Request an archive' }).isDisabled(), 'a second request is offered while one is built');

    const link = section.getByRole('link', { name: 'Download' });
    await link.waitFor({ timeout: 60_000 });
    assert.equal(held, 1);
    await section.getByText('Completed', { exact: true }).waitFor();
    await section.getByText(/^Size: \d/).waitFor();
    await section.getByText(/^Available until /).waitFor();
    await shot(page, DESKTOP, 'archives-export');
    await page.unroute(/\/api\/v1\/users\/\d+\/exports$/);

    // The link works without a token: its random name is the secret.
    downloadUrl = await link.getAttribute('href');
    assert.ok(downloadUrl.startsWith(instance.url), downloadUrl);
    const res = await fetch(downloadUrl);
    assert.equal(res.status, 200);
    const zip = Buffer.from(await res.arrayBuffer());
    assert.equal(zip.subarray(0, 2).toString('latin1'), 'PK', 'the archive is a zip file');
    assert.ok(zip.includes(Buffer.from('peertube/account.json')), 'the archive holds peertube/account.json');
    archivePath = join(workDir, 'my-archive.zip');
    writeFileSync(archivePath, zip);
    assert.ok(zip.length > CHUNK * 2, `the archive (${zip.length} bytes) travels in several chunks`);
    assert.deepEqual(person.problems, []);
  });

  step('the archive is imported back through the file picker, and its summary shows', async () => {
    const { page } = person;
    const section = page.getByRole('region', { name: 'Your data' });
    const chunks = [];
    page.on('request', (r) => {
      if (r.method() === 'PUT' && r.url().includes(`/api/v1/users/${me.id}/imports/import-resumable?upload_id=`)) chunks.push(r.headers()['content-range']);
    });
    // A slow uplink, so that the progress bar is seen moving.
    const cdp = await person.context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 2 * 1024 });
    await page.evaluate(() => {
      window.__archiveProgress = [];
      window.__archiveTimer = setInterval(() => {
        const bar = document.querySelector('progress[aria-label="Archive upload progress"]');
        if (bar) window.__archiveProgress.push(Number(bar.getAttribute('value')));
      }, 40);
    });
    const opened = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith(`/api/v1/users/${me.id}/imports/import-resumable`));
    await section.getByLabel('Choose an archive (.zip)').setInputFiles(archivePath);
    const init = await opened;
    assert.deepEqual(init.postDataJSON(), { filename: 'my-archive.zip' });
    assert.equal((await init.allHeaders())['x-upload-content-type'], 'application/zip');
    await section.getByRole('progressbar', { name: 'Archive upload progress' }).waitFor();
    await section.getByText('Sending my-archive.zip').waitFor();

    await section.getByRole('status').getByText('The archive was sent: its import has started.').waitFor({ timeout: 30_000 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    const seen = await page.evaluate(() => {
      clearInterval(window.__archiveTimer);
      return window.__archiveProgress;
    });
    const between = [...new Set(seen.filter((v) => v > 0 && v < 100))];
    assert.ok(between.length >= 2, `the progress bar should move through several values, saw ${JSON.stringify([...new Set(seen)])}`);
    const latest = section.getByTestId('latest-import');
    await latest.getByText('Completed', { exact: true }).waitFor({ timeout: 60_000 });
    const table = latest.getByRole('table', { name: 'What was imported' });
    await table.waitFor();
    const channels = table.getByRole('row', { name: /^Channels/ });
    await channels.waitFor();
    // The channel was there already (it is the same account's): counted as a duplicate, no error.
    const cells = await channels.getByRole('cell').allInnerTexts();
    assert.equal(cells.length, 3);
    assert.equal(Number(cells[0]) + Number(cells[1]), 1, `channels row: ${cells}`);
    assert.equal(cells[2], '0');
    await shot(page, DESKTOP, 'archives-imported');

    assert.ok(chunks.length >= 3, `the archive was sent in ${chunks.length} chunk(s): ${chunks}`);
    assert.match(chunks[0], new RegExp(`^bytes 0-${CHUNK - 1}/\\d+$`));
    const server = await get(instance.url, userToken, `/users/${me.id}/imports/latest`);
    assert.equal(server.state.id, 3);
    assert.ok(server.resultSummary.stats.channels);
    assert.deepEqual(person.problems, []);
  });

  step('a file that is not a zip archive is refused with the server\'s message', async () => {
    const { page } = person;
    const section = page.getByRole('region', { name: 'Your data' });
    const notZip = join(workDir, 'holiday-notes.zip');
    writeFileSync(notZip, 'These are notes, not a zip archive.\n'.repeat(80));
    const refused = page.waitForResponse((r) => r.request().method() === 'PUT' && r.url().includes('/imports/import-resumable?') && r.status() === 400);
    await section.getByLabel('Choose an archive (.zip)').setInputFiles(notZip);
    const problem = await (await refused).json();
    assert.equal(problem.code, 'invalid_archive');
    const alert = section.getByRole('alert').filter({ hasText: problem.detail });
    await alert.waitFor();
    assert.equal((await alert.innerText()).trim(), problem.detail);
    // The upload is over: the picker is back for another file, the last import is still shown.
    await section.getByLabel('Choose an archive (.zip)').waitFor({ state: 'attached' });
    assert.equal(await section.getByRole('progressbar').count(), 0);
    await section.getByTestId('latest-import').getByText('Completed', { exact: true }).waitFor();
    await shot(page, DESKTOP, 'archives-refused');
    assert.deepEqual(person.problems, []);
  });

  step('an import that another one overtook (409 after the last chunk) shows the refusal, not a resend', async () => {
    const { page } = person;
    const section = page.getByRole('region', { name: 'Your data' });
    // Another tab's import starting between this one's first and last chunk: the server answers
    // the last chunk 409 (code `conflict`, no Range) and drops the session. The answer is made
    // here, as the race cannot be timed; the first chunks reach the server.
    const detail = 'an import of this user is already in progress: wait for it to finish';
    const puts = [];
    await page.route(/\/imports\/import-resumable\?upload_id=/, async (route) => {
      const req = route.request();
      if (req.method() !== 'PUT') return route.fallback();
      const range = req.headers()['content-range'];
      puts.push(range);
      const [, last, total] = /bytes \d+-(\d+)\/(\d+)/.exec(range) ?? [];
      if (last && Number(last) === Number(total) - 1) {
        return route.fulfill({ status: 409, contentType: 'application/problem+json', json: { code: 'conflict', detail, status: 409 } });
      }
      return route.fallback();
    });
    await section.getByLabel('Choose an archive (.zip)').setInputFiles(archivePath);
    await section.getByRole('alert').filter({ hasText: detail }).waitFor();
    await section.getByLabel('Choose an archive (.zip)').waitFor({ state: 'attached' });
    await page.unroute(/\/imports\/import-resumable\?upload_id=/);
    const lastSent = puts.filter((r) => /^bytes 0-/.test(r));
    assert.equal(lastSent.length, 1, `the upload started over after the 409: ${puts}`);
    assert.deepEqual(person.problems, []);
  });

  step('at phone size the section fits the screen', async () => {
    const phone = await newPerson(browser, PHONE, instance.url);
    try {
      const { page } = phone;
      await login(page, USER, PASSWORD);
      await page.goto('/my-account/settings');
      const section = page.getByRole('region', { name: 'Your data' });
      await section.getByRole('link', { name: 'Download' }).waitFor();
      await section.getByRole('table', { name: 'What was imported' }).getByRole('row', { name: /^Channels/ }).waitFor();
      await section.getByRole('heading', { name: 'Download an archive' }).scrollIntoViewIfNeeded();
      await shot(page, PHONE, 'archives');
      const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
      assert.equal(wide, false, 'the settings page does not scroll sideways at 360 px');
      // The summary's four columns fit too, without scrolling inside their box.
      const table = section.getByRole('table', { name: 'What was imported' });
      await table.scrollIntoViewIfNeeded();
      await shot(page, PHONE, 'archives-summary');
      const fits = await table.evaluate((t) => t.scrollWidth <= t.parentElement.clientWidth);
      assert.equal(fits, true, 'the summary table is wider than the screen');
      assert.deepEqual(phone.problems, []);
    } finally {
      await phone.context.close();
    }
  });

  step('the archive is deleted, confirmed, and its link stops working', async () => {
    const { page } = person;
    const section = page.getByRole('region', { name: 'Your data' });
    await section.getByRole('button', { name: 'Delete', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this archive?' });
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await section.getByRole('status').getByText('The archive was deleted.').waitFor();
    await section.getByText('No archive yet.').waitFor();
    assert.equal((await get(instance.url, userToken, `/users/${me.id}/exports`)).total, 0);
    assert.equal((await fetch(downloadUrl)).status, 404);
    assert.deepEqual(person.problems, []);
  });

  step('an instance that turns archives off shows no "Your data" section', async () => {
    const other = await newPerson(browser, DESKTOP, instance.url);
    try {
      await editConfig(other.context, (c) => {
        c.export.users.enabled = false;
        c.import.users.enabled = false;
      });
      const { page } = other;
      await login(page, USER, PASSWORD);
      await page.goto('/my-account/settings');
      await page.getByRole('region', { name: 'Move to another server' }).waitFor();
      assert.equal(await page.getByRole('region', { name: 'Your data' }).count(), 0);

      // Import alone: the export part is hidden, the import part shows.
      await other.context.unroute('**/api/v1/config');
      await editConfig(other.context, (c) => {
        c.export.users.enabled = false;
      });
      await page.reload();
      const section = page.getByRole('region', { name: 'Your data' });
      await section.getByRole('heading', { name: 'Import an archive' }).waitFor();
      assert.equal(await section.getByRole('button', { name: 'Request an archive' }).count(), 0);
      assert.deepEqual(other.problems, []);
    } finally {
      await other.context.close();
    }
  });
});
