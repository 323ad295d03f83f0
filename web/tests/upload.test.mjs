// The resumable upload survives a pause and a network failure, and continues from the bytes the
// server already has instead of starting over.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DESKTOP, launch, newPerson, shot } from './support/browser.mjs';
import { login, playUntil } from './support/flows.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const CHUNK = 32 * 1024;
let instance;
let browser;
let workDir;
let clip;

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-clip-'));
  clip = makeClip(workDir);
  instance = await startInstance();
  browser = await launch();
  const res = await fetch(`${instance.url}/api/v1/users/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'carol', password: 'carol-password-1', email: 'carol@example.org' }),
  });
  assert.equal(res.status, 204, await res.text());
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

test('a private upload paused, then cut off by the network, resumes where it stopped, and its owner plays it', { timeout: 120_000 }, async () => {
  const { page, context, problems } = await newPerson(browser, DESKTOP, instance.url);
  // Small chunks (the admin's maxChunkSize) so that the file travels in several requests.
  await page.route('**/api/v1/config', async (route) => {
    const res = await route.fetch();
    const config = await res.json();
    config.client.videos.resumableUpload.maxChunkSize = CHUNK;
    await route.fulfill({ response: res, json: config });
  });
  const chunkPercent = Math.floor((CHUNK / statSync(clip).size) * 100);
  await login(page, 'carol', 'carol-password-1');
  await page.goto('/videos/upload');
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const network = (conditions) =>
    cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 24 * 1024, ...conditions });
  await network({});
  await page.evaluate(() => {
    window.__progress = [];
    setInterval(() => {
      const bar = document.querySelector('[data-testid="upload-progress"]');
      if (bar) window.__progress.push(Number(bar.getAttribute('value')));
    }, 40);
  });
  // Private: the player then needs a videoFileToken to fetch the files.
  await page.getByLabel('Privacy').selectOption({ label: 'Private' });
  // Dropped on the drop zone, as a person drags a file from their desktop.
  const bytes = readFileSync(clip).toString('base64');
  await page.getByRole('region', { name: 'Drag and drop a video file here' }).evaluate((zone, b64) => {
    const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([data], 'boats at night.mp4', { type: 'video/mp4' }));
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, bytes);
  await page.getByText('Uploading boats at night.mp4').waitFor();
  const percent = async () => Number(await page.getByRole('progressbar', { name: 'Upload progress' }).getAttribute('value'));

  // Pause: nothing moves until Resume.
  await page.waitForFunction(() => window.__progress.some((v) => v >= 10));
  await page.getByRole('button', { name: 'Pause' }).click();
  await page.getByText('Paused').waitFor();
  const paused = await percent();
  await page.waitForTimeout(1200);
  assert.equal(await percent(), paused, 'the progress moved while paused');
  await shot(page, DESKTOP, 'upload-paused');
  await page.getByRole('button', { name: 'Resume' }).click();

  // The network fails after the first chunk is stored.
  await page.waitForFunction((p) => window.__progress.some((v) => v > p + 5), chunkPercent);
  const mark = await page.evaluate(() => window.__progress.length);
  await network({ offline: true });
  await page.getByText(/Connection lost; trying again in \d+ s/).waitFor();
  await shot(page, DESKTOP, 'upload-retrying');
  await page.waitForTimeout(1500);
  await network({ offline: false, uploadThroughput: -1, latency: 0 });
  await page.getByText('Upload complete.').waitFor({ timeout: 60_000 });
  const after = await page.evaluate((m) => window.__progress.slice(m), mark);
  assert.ok(Math.min(...after) >= chunkPercent, `the upload started over: progress after the failure ${JSON.stringify([...new Set(after)])}`);

  await page.getByLabel('Title', { exact: true }).fill('Resumed upload');
  await page.getByRole('button', { name: 'Publish' }).click();
  await page.getByTestId('upload-published').waitFor({ timeout: 60_000 });
  await page.getByRole('link', { name: 'Watch it' }).click();
  await page.getByText('Private', { exact: true }).waitFor();
  await page.waitForURL(/\/w\/[^/]+$/);
  const id = new URL(page.url()).pathname.split('/').pop();
  assert.equal((await fetch(`${instance.url}/api/v1/videos/${id}`)).status, 404, 'a private video is visible to visitors');
  await playUntil(page, 1);
  assert.deepEqual(problems, []);
});
