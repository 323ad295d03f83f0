// Imports by URL (PeerTube's "Import with URL" tab of the upload page, and "My imports"). A local
// HTTP server on 127.0.0.1 plays the other site: a page with a <title>, OpenGraph tags and a
// <video> whose file it sends slowly (with its length), files that answer 404 until the test
// serves them, and a file without end (no Content-Length). The instance runs the repository's
// yt-dlp and allows private addresses (127.0.0.1) for imports.
//
// A user imports the page from the upload page's tab: the details form shows at once with a
// provisional title and Publish held, the progress bar moves with the bytes downloaded, then the
// title becomes the page's (a tag typed meanwhile is kept), Publish saves and the video is
// published with it. A private address (10.0.0.1) is refused at the URL field with the server's
// own words, and nothing is imported. A URL answering 404 fails with yt-dlp's reason shown; once
// the file is served, Retry brings it. A download without end is cancelled (the transfer stops).
// "My imports" lists them newest first with their states, the failed one's reason, the running
// one's progress refreshed by itself, links to the videos and to the sources (rel nofollow
// noopener noreferrer, cut to one line); Cancel, Retry and Delete (confirmed: a cancelled
// import's waiting video goes too, a successful one's stays). At 360 px neither page scrolls
// sideways.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { call, get, registerUser, token, until } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login } from './support/flows.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 150_000 };
const USER = 'noor';
const PASSWORD = 'noor-password-1';
/** The repository's yt-dlp, installed by scripts/ensure-deps. */
const YT_DLP = fileURLToPath(new URL('../../.tools/yt-dlp/bin/yt-dlp', import.meta.url));
const PAGE_TITLE = 'Film night at the harbour';
const PAGE_HTML = `<!doctype html><html><head><title>Film night</title>
<meta property="og:title" content="${PAGE_TITLE}">
<meta property="og:description" content="Boats and lights.">
</head><body><h1>Film night</h1><video src="/media/film.mp4" controls></video></body></html>`;
/** How long the page's film takes to send: long enough for the progress to be seen. */
const SLOW_MS = 10_000;

let instance;
let browser;
let workDir;
let site;
let userToken;
let channelId;
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

/**
 * The other site. `files`: path → { type, body, slowMs }; anything else answers 404, but
 * `/endless/…`, a video file sent without end and without Content-Length (64 KB every 50 ms, at
 * most 1 MB waiting in the socket), counting the bytes it sent.
 */
function startSite() {
  const files = new Map();
  const gets = [];
  let endlessSent = 0;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://site.invalid').pathname;
    gets.push(`${req.method} ${path}`);
    if (path.startsWith('/endless/')) {
      res.writeHead(200, { 'Content-Type': 'video/mp4' });
      if (req.method === 'HEAD') return res.end();
      const chunk = Buffer.alloc(64 * 1024, 7);
      const timer = setInterval(() => {
        if (res.writableLength > 1024 * 1024) return;
        res.write(chunk);
        endlessSent += chunk.length;
      }, 50);
      res.on('close', () => clearInterval(timer));
      return;
    }
    const file = files.get(path);
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      return res.end('not here');
    }
    res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.length });
    if (req.method === 'HEAD') return res.end();
    if (!file.slowMs) return res.end(file.body);
    // In 20 parts over slowMs.
    const parts = 20;
    const size = Math.ceil(file.body.length / parts);
    let i = 0;
    const timer = setInterval(() => {
      res.write(file.body.subarray(i * size, (i + 1) * size));
      i += 1;
      if (i >= parts) {
        clearInterval(timer);
        res.end();
      }
    }, file.slowMs / parts);
    res.on('close', () => clearInterval(timer));
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve({
        base: `http://127.0.0.1:${server.address().port}`,
        gets,
        serve(path, type, body, slowMs = 0) {
          files.set(path, { type, body, slowMs });
        },
        endlessSent: () => endlessSent,
        close: () => new Promise((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
      }),
    );
  });
}

before(async () => {
  if (!existsSync(YT_DLP)) throw new Error(`yt-dlp is missing at ${YT_DLP}: run scripts/ensure-deps test`);
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-import-'));
  const clip = readFileSync(makeClip(workDir, 4, '320x240'));
  site = await startSite();
  site.serve('/watch/film', 'text/html; charset=utf-8', Buffer.from(PAGE_HTML), 0);
  site.serve('/media/film.mp4', 'video/mp4', clip, SLOW_MS);
  site.clip = clip;
  instance = await startInstance({
    FLOTILLA_IMPORT_YT_DLP: YT_DLP,
    // 127.0.0.1 is the other site here (the suite's instances allow it already; said for this test).
    FLOTILLA_FEDERATION_ALLOW_PRIVATE: 'true',
    FLOTILLA_TRANSCODING_RESOLUTIONS: '240',
  });
  browser = await launch();
  await registerUser(instance.url, USER, PASSWORD);
  userToken = await token(instance.url, USER, PASSWORD);
  channelId = (await get(instance.url, userToken, '/users/me')).videoChannels[0].id;
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  await site?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** The user's imports, newest first, as the API lists them. */
async function myImports() {
  return (await get(instance.url, userToken, '/users/me/videos/imports?count=100')).data;
}

async function importOf(url) {
  return (await myImports()).find((i) => i.targetUrl === url);
}

/** Whether the page scrolls sideways. */
const scrollsSideways = (page) => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);

describe('imports by URL', () => {
  let person;
  const pageUrl = () => `${site.base}/watch/film`;
  const laterUrl = () => `${site.base}/later.mp4`;
  const endlessUrl = () => `${site.base}/endless/long.mp4`;

  before(async () => {
    person = await newPerson(browser, DESKTOP, instance.url);
    await login(person.page, USER, PASSWORD);
  });

  after(async () => {
    await person?.context.close();
  });

  test(...step('a page is imported from the upload page: progress, then the page\'s title, then published', async () => {
    const { page } = person;
    const config = await get(instance.url, null, '/config');
    assert.equal(config.import.videos.http.enabled, true);
    await page.goto('/videos/upload');
    const fileTab = page.getByRole('tab', { name: 'Upload a file' });
    const importTab = page.getByRole('tab', { name: 'Import with URL' });
    assert.equal(await fileTab.getAttribute('aria-selected'), 'true');
    await page.getByRole('region', { name: 'Drag and drop a video file here' }).waitFor();
    await importTab.click();
    assert.equal(await importTab.getAttribute('aria-selected'), 'true');
    await page.waitForURL((u) => u.hash === '#import-url');
    // The channel and privacy are the upload's.
    await page.getByLabel('Channel', { exact: true }).waitFor();
    await page.getByLabel('Privacy').selectOption({ label: 'Public' });
    await shot(page, DESKTOP, 'import-url');

    // Samples of the progress bar, as the page shows it.
    await page.evaluate(() => {
      window.__importProgress = [];
      setInterval(() => {
        const bar = document.querySelector('[data-testid="import-progress"] progress');
        const text = document.querySelector('[data-testid="import-progress"] .numbers');
        if (bar) window.__importProgress.push({ value: bar.getAttribute('value'), text: text?.textContent ?? '' });
      }, 100);
    });
    const posted = page.waitForRequest((r) => r.url().endsWith('/api/v1/videos/imports') && r.method() === 'POST');
    await page.getByLabel('URL', { exact: true }).fill(pageUrl());
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    assert.deepEqual((await posted).postDataJSON(), { targetUrl: pageUrl(), channelId, privacy: 1 });

    // The details form at once, with the provisional name; Publish waits for the download.
    const status = page.getByTestId('import-status');
    await status.getByRole('link', { name: pageUrl() }).waitFor();
    const title = page.getByLabel('Title', { exact: true });
    assert.equal(await title.inputValue(), '127.0.0.1 film');
    const publish = page.getByRole('button', { name: 'Publish' });
    assert.ok(await publish.isDisabled(), 'Publish is offered before the download ends');
    await page.getByText('The details can be saved once the video is downloaded.').waitFor();
    await page.getByLabel('Tags').fill('harbour, boats');

    await status.getByText('Downloading the video…').waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => window.__importProgress.some((s) => Number(s.value) > 0 && Number(s.value) < 100), null, { timeout: 30_000 });
    await shot(page, DESKTOP, 'import-progress');
    await status.getByText('Downloaded. The video is being processed.').waitFor({ timeout: 60_000 });
    const samples = await page.evaluate(() => window.__importProgress);
    const partial = samples.find((s) => Number(s.value) > 0 && Number(s.value) < 100);
    assert.match(partial.text, / of .* \(\d+%\)$/, `the bytes are said with the bar: ${JSON.stringify(partial)}`);
    assert.equal(await status.getByRole('button', { name: 'Cancel import' }).count(), 0);

    // The page's title replaces the provisional one; the tags typed meanwhile stay.
    const imp = await importOf(pageUrl());
    assert.equal(imp.state.id, 2, JSON.stringify(imp));
    const named = await get(instance.url, userToken, `/videos/${imp.video.uuid}`);
    assert.ok(named.name.startsWith('Film night'), `the page's title names the video: ${named.name}`);
    await until('the title field takes the page\'s title', async () => (await title.inputValue()) === named.name, 10_000);
    assert.equal(await page.getByLabel('Tags').inputValue(), 'harbour, boats');
    assert.ok(await publish.isEnabled());
    await publish.click();
    await page.getByTestId('upload-published').waitFor({ timeout: 120_000 });
    await shot(page, DESKTOP, 'import-published');
    const v = await get(instance.url, null, `/videos/${imp.video.uuid}`);
    assert.equal(v.state.id, 1, 'published');
    assert.equal(v.name, named.name);
    assert.deepEqual([...v.tags].sort(), ['boats', 'harbour']);
    assert.equal(v.duration, 4);
    assert.ok(site.gets.includes('GET /watch/film') && site.gets.includes('GET /media/film.mp4'), site.gets.join(', '));

    // "My videos" shows it published under the page's title.
    await page.getByRole('link', { name: 'Watch it' }).waitFor();
    await page.goto('/my-library/videos');
    const row = page.getByTestId('my-video').filter({ hasText: named.name });
    await row.getByText('Published', { exact: true }).waitFor();
    assert.deepEqual(person.problems, []);
  }));

  test(...step('a private address is refused at the URL field, as the server says it', async () => {
    const { page } = person;
    await page.goto('/videos/upload#import-url');
    assert.equal(await page.getByRole('tab', { name: 'Import with URL' }).getAttribute('aria-selected'), 'true');
    // The tabs follow the arrow keys.
    await page.getByRole('tab', { name: 'Import with URL' }).focus();
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.getByRole('tab', { name: 'Upload a file' }).getAttribute('aria-selected'), 'true');
    await page.getByRole('region', { name: 'Drag and drop a video file here' }).waitFor();
    await page.keyboard.press('ArrowRight');
    const url = page.getByLabel('URL', { exact: true });
    await url.waitFor();

    // Nothing typed: said here, nothing sent.
    let posts = 0;
    page.on('request', (r) => {
      if (r.url().endsWith('/api/v1/videos/imports') && r.method() === 'POST') posts += 1;
    });
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByText('Enter the URL of a video file or of a page with a video.').waitFor();
    assert.equal(posts, 0);

    const before = (await myImports()).length;
    const res = await fetch(`${instance.url}/api/v1/videos/imports`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${userToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ targetUrl: 'http://10.0.0.1/x.mp4', channelId }),
    });
    assert.equal(res.status, 400);
    const words = (await res.json())['invalid-params'].targetUrl.msg;
    assert.match(words, /private or reserved address/);
    await url.fill('http://10.0.0.1/x.mp4');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    const error = page.locator('#import-url-error');
    await error.waitFor();
    assert.equal(await error.textContent(), words);
    assert.equal(await url.getAttribute('aria-invalid'), 'true');
    assert.ok((await url.getAttribute('aria-describedby')).includes('import-url-error'));
    assert.equal(posts, 1);
    await shot(page, DESKTOP, 'import-refused');
    assert.equal((await myImports()).length, before, 'nothing was imported');
    assert.deepEqual(person.problems, []);
  }));

  test(...step('a URL answering 404 fails with its reason; once the file is served, Retry brings it', async () => {
    const { page } = person;
    await page.goto('/videos/upload#import-url');
    await page.getByLabel('URL', { exact: true }).fill(laterUrl());
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    const status = page.getByTestId('import-status');
    const error = status.getByTestId('import-error');
    await error.waitFor({ timeout: 60_000 });
    await status.getByText('The import failed.', { exact: true }).waitFor();
    const imp = await importOf(laterUrl());
    assert.equal(imp.state.id, 3, JSON.stringify(imp));
    assert.match(imp.error, /404/);
    assert.equal(await error.textContent(), `Reason: ${imp.error}`);
    assert.ok(await page.getByRole('button', { name: 'Publish' }).isDisabled());
    await shot(page, DESKTOP, 'import-failed');

    site.serve('/later.mp4', 'video/mp4', site.clip);
    await status.getByRole('button', { name: 'Retry' }).click();
    await status.getByText('Downloaded. The video is being processed.').waitFor({ timeout: 60_000 });
    assert.equal(await error.count(), 0);
    assert.equal((await importOf(laterUrl())).state.id, 2);
    assert.ok(await page.getByRole('button', { name: 'Publish' }).isEnabled());
    assert.deepEqual(person.problems, []);
  }));

  test(...step('a download without end is cancelled while it runs, and the transfer stops', async () => {
    const { page } = person;
    // From "My imports", whose button leads to the tab.
    await page.goto('/my-library/video-imports');
    await page.getByRole('link', { name: 'Import a video' }).click();
    await page.waitForURL((u) => u.pathname === '/videos/upload' && u.hash === '#import-url');
    await page.getByLabel('URL', { exact: true }).fill(endlessUrl());
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    const status = page.getByTestId('import-status');
    await status.getByText('Downloading the video…').waitFor({ timeout: 30_000 });
    // No length: the bytes so far, and a bar without a value.
    await status.getByText(/^[\d.,]+ [kMG]?B downloaded$/).waitFor({ timeout: 30_000 });
    assert.equal(await status.getByRole('progressbar', { name: 'Download progress' }).getAttribute('value'), null);
    await shot(page, DESKTOP, 'import-running');
    await status.getByRole('button', { name: 'Cancel import' }).click();
    await status.getByText('The import was cancelled.').waitFor();
    assert.equal((await importOf(endlessUrl())).state.id, 5);
    await status.getByRole('button', { name: 'Retry' }).waitFor();
    // The server stops the download within a second.
    await new Promise((r) => setTimeout(r, 2500));
    const sent = site.endlessSent();
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(site.endlessSent(), sent, 'the transfer goes on after Cancel');
    // Another import starts from the tab again.
    await status.getByRole('button', { name: 'Import another video' }).click();
    assert.equal(await page.getByLabel('URL', { exact: true }).inputValue(), '');
    assert.deepEqual(person.problems, []);
  }));

  test(...step('"My imports" lists them with their states; Cancel, Retry and Delete', async () => {
    const { page } = person;
    // One that fails for good, and one running while the page is open.
    const missing = `${site.base}/missing.mp4`;
    await call(instance.url, userToken, 'POST', '/videos/imports', { targetUrl: missing, channelId });
    await until('the missing file failed', async () => (await importOf(missing))?.state.id === 3);
    const other = `${site.base}/endless/other.mp4`;
    await call(instance.url, userToken, 'POST', '/videos/imports', { targetUrl: other, channelId });

    await page.goto('/my-library/videos');
    await page.getByRole('navigation', { name: 'My library' }).getByRole('link', { name: 'My imports' }).click();
    await page.waitForURL((u) => u.pathname === '/my-library/video-imports');
    assert.equal(await page.getByRole('navigation', { name: 'My library' }).getByRole('link', { name: 'My imports' }).getAttribute('aria-current'), 'page');
    const rows = page.getByTestId('my-import');
    await until('five imports listed', async () => (await rows.count()) === 5, 15_000);
    const api = await myImports();
    // Newest first, as the server orders them.
    for (const [i, imp] of api.entries()) {
      const link = rows.nth(i).locator('.source a');
      assert.equal(await link.getAttribute('href'), imp.targetUrl);
      assert.equal(await link.getAttribute('rel'), 'nofollow noopener noreferrer');
    }
    assert.deepEqual(api.map((i) => i.targetUrl), [other, missing, endlessUrl(), laterUrl(), pageUrl()]);
    const row = (url) => rows.filter({ has: page.locator(`.source a[href="${url}"]`) });
    const badge = (url) => row(url).getByTestId('import-state');

    // The running one's progress, asked again by the page: the bytes grow without a reload.
    await until('the running import downloads', async () => (await badge(other).textContent()) === 'Processing', 30_000);
    const bytes = row(other).getByText(/downloaded$/);
    await bytes.waitFor({ timeout: 15_000 });
    const first = await bytes.textContent();
    await until('its bytes move on the page', async () => (await bytes.textContent()) !== first, 15_000);
    assert.equal(await row(other).getByRole('button', { name: 'Delete' }).count(), 0, 'a running import offers Delete');

    // The failed one: its reason, Retry and Delete.
    assert.equal(await badge(missing).textContent(), 'Failed');
    const failedImport = api.find((i) => i.targetUrl === missing);
    assert.equal(await row(missing).getByTestId('import-error').textContent(), failedImport.error);
    await row(missing).getByRole('button', { name: 'Retry' }).waitFor();
    await row(missing).getByRole('button', { name: 'Delete' }).waitFor();
    assert.equal(await badge(endlessUrl()).textContent(), 'Cancelled');
    await row(endlessUrl()).getByRole('button', { name: 'Retry' }).waitFor();
    // The successful ones link to their videos; no Retry.
    for (const url of [laterUrl(), pageUrl()]) {
      assert.equal(await badge(url).textContent(), 'Success');
      const imp = api.find((i) => i.targetUrl === url);
      assert.equal(await row(url).getByRole('link', { name: imp.video.name, exact: true }).getAttribute('href'), `/w/${imp.video.shortUUID}`);
      assert.equal(await row(url).getByRole('button', { name: 'Retry' }).count(), 0);
    }
    await shot(page, DESKTOP, 'my-imports');

    // Cancel from the list.
    await row(other).getByRole('button', { name: 'Cancel import' }).click();
    await page.getByRole('status').getByText('The import was cancelled.').waitFor();
    await until('cancelled on the page', async () => (await badge(other).textContent()) === 'Cancelled', 10_000);
    assert.equal((await importOf(other)).state.id, 5);

    // Delete the cancelled download: its waiting video goes too, said first.
    const cancelled = api.find((i) => i.targetUrl === endlessUrl());
    await row(endlessUrl()).getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this import?' });
    await dialog.getByText(`the video waiting for it, “${cancelled.video.name}”, is deleted too`, { exact: false }).waitFor();
    await shot(page, DESKTOP, 'my-imports-delete');
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await until('the row is gone', async () => (await row(endlessUrl()).count()) === 0, 10_000);
    assert.equal(await importOf(endlessUrl()), undefined);
    assert.equal((await fetch(`${instance.url}/api/v1/videos/${cancelled.video.uuid}`, { headers: { Authorization: `Bearer ${userToken}` } })).status, 404);

    // Delete a successful one: its video stays.
    const later = api.find((i) => i.targetUrl === laterUrl());
    await row(laterUrl()).getByRole('button', { name: 'Delete' }).click();
    await dialog.getByText(`its video, “${later.video.name}”, stays`, { exact: false }).waitFor();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await until('the row is gone', async () => (await row(laterUrl()).count()) === 0, 10_000);
    assert.equal((await fetch(`${instance.url}/api/v1/videos/${later.video.uuid}`, { headers: { Authorization: `Bearer ${userToken}` } })).status, 200);

    // Retry the failed one from the list (still 404: it fails again, said on the page).
    await row(missing).getByRole('button', { name: 'Retry' }).click();
    await page.getByRole('status').getByText('The import starts again.').waitFor();
    await until('failed again', async () => (await importOf(missing)).state.id === 3, 60_000);
    await until('failed again on the page', async () => (await badge(missing).textContent()) === 'Failed', 15_000);
    assert.deepEqual(person.problems, []);
  }));

  test(...step('at 360 px the import tab and "My imports" fit the screen', async () => {
    // A long URL, cut to one line in the list.
    const long = `${site.base}/${'very-long-path-segment-'.repeat(12)}clip.mp4`;
    await call(instance.url, userToken, 'POST', '/videos/imports', { targetUrl: long, channelId });
    await until('the long URL failed', async () => (await importOf(long))?.state.id === 3);
    const phone = await newPerson(browser, PHONE, instance.url);
    try {
      const { page } = phone;
      await login(page, USER, PASSWORD);
      await page.goto('/videos/upload#import-url');
      await page.getByLabel('URL', { exact: true }).fill('http://10.0.0.1/x.mp4');
      await page.getByRole('button', { name: 'Import', exact: true }).click();
      await page.locator('#import-url-error').waitFor();
      await shot(page, PHONE, 'import-url');
      assert.equal(await scrollsSideways(page), false, 'the import tab scrolls sideways at 360 px');

      await page.goto('/my-library/video-imports');
      const row = page.getByTestId('my-import').filter({ has: page.locator(`.source a[href="${long}"]`) });
      await row.waitFor();
      await shot(page, PHONE, 'my-imports');
      assert.equal(await scrollsSideways(page), false, '"My imports" scrolls sideways at 360 px');
      const cut = await row.locator('.source a').evaluate((a) => a.scrollWidth > a.clientWidth && getComputedStyle(a).textOverflow === 'ellipsis');
      assert.ok(cut, 'the long URL is cut with an ellipsis');
      assert.deepEqual(phone.problems, []);
    } finally {
      await phone.context.close();
    }
  }));
});
