// Object storage in a real browser: an instance keeps its videos in a real Garage; once a video's
// files moved there, the watch page plays it with every playlist and segment fetched from the
// bucket's website endpoint (none from the instance), and the download link still works.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { get, registerUser, token, until, uploadAndWait } from './support/api.mjs';
import { DESKTOP, launch, newPerson } from './support/browser.mjs';
import { playUntil } from './support/flows.mjs';
import { BUCKETS, startGarage } from './support/garage.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

let garage;
let instance;
let browser;
let workDir;

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-s3-'));
  garage = await startGarage();
  instance = await startInstance({ ...garage.env, FLOTILLA_TRANSCODING_RESOLUTIONS: '240' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  garage?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

test('a video kept in the object store plays from the bucket', { timeout: 180_000 }, async () => {
  await registerUser(instance.url, 'marta', 'marta-password-1');
  const creator = await token(instance.url, 'marta', 'marta-password-1');
  const v = await uploadAndWait(instance.url, creator, makeClip(workDir, 8, '426x240'), 'Lighthouse', 1);
  const bucket = garage.baseUrl(BUCKETS.hls);
  const moved = await until('the files moved to the bucket', async () => {
    const d = await get(instance.url, null, `/videos/${v.uuid}`);
    return d.streamingPlaylists?.[0]?.playlistUrl?.startsWith(bucket) ? d : false;
  });
  assert.ok(moved.files[0].fileUrl.startsWith(garage.baseUrl(BUCKETS.web)), moved.files[0].fileUrl);

  const { context, page } = await newPerson(browser, DESKTOP, instance.url);
  try {
    await page.goto(`/w/${v.uuid}`);
    await playUntil(page, 3);
    const media = await page.evaluate(() =>
      performance
        .getEntriesByType('resource')
        .map((e) => new URL(e.name))
        .filter((u) => /\.(m3u8|mp4|json)$/.test(u.pathname) && !u.pathname.startsWith('/api/'))
        .map((u) => `${u.host}${u.pathname}`),
    );
    const bucketHost = new URL(bucket).host;
    assert.ok(media.some((m) => m.endsWith('.m3u8')), `playlists fetched: ${media}`);
    assert.ok(media.some((m) => m.endsWith('.mp4')), `segments fetched: ${media}`);
    const elsewhere = media.filter((m) => !m.startsWith(bucketHost));
    assert.deepEqual(elsewhere, [], `every media file from the bucket (${bucketHost})`);
    const error = await page.evaluate(() => document.querySelector('video')?.error?.message ?? null);
    assert.equal(error, null);
  } finally {
    await context.close();
  }

  // A download is streamed by the instance from the store, with its attachment name.
  const res = await fetch(moved.files[0].fileDownloadUrl);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-disposition') ?? '', /^attachment/);
  assert.equal((await res.arrayBuffer()).byteLength, moved.files[0].size);
});
