// Security case 17 in the browser: markup in the texts people choose (a video's title, an
// account's and a channel's display names) is shown as the text it is, on every page that shows
// it, at desktop and phone width: no element is made of it, no script runs, no CSP violation.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, registerUser, token, uploadVideo, waitPublished } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson } from './support/browser.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
const USER = 'mallet';
const PASSWORD = 'mallet-password-1';
// Each would run a script if it became markup; `x` is a name no real image has.
const TITLE = '<img src=x onerror="window.__pwned=1">Title';
const ACCOUNT = '<script>window.__pwned=2</script>Account';
const CHANNEL = '<svg onload="window.__pwned=3">Channel';

let instance;
let browser;
let workDir;
let video;

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-markup-'));
  instance = await startInstance({ FLOTILLA_TRANSCODING_RESOLUTIONS: '144' });
  browser = await launch();
  await registerUser(instance.url, USER, PASSWORD);
  const tok = await token(instance.url, USER, PASSWORD);
  await call(instance.url, tok, 'PUT', '/users/me', { displayName: ACCOUNT });
  await call(instance.url, tok, 'PUT', `/video-channels/${USER}_channel`, { displayName: CHANNEL });
  video = await uploadVideo(instance.url, tok, makeClip(workDir, 2, '256x144'), { name: TITLE });
  await waitPublished(instance.url, tok, video.uuid);
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('markup in names is text', () => {
  for (const device of [DESKTOP, PHONE]) {
    test(`titles and display names show as written and run nothing (${device.name})`, STEP, async () => {
      const person = await newPerson(browser, device, instance.url);
      const { page } = person;
      const dialogs = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        d.dismiss().catch(() => undefined);
      });
      const pages = [
        [`/w/${video.shortUUID}`, [TITLE]],
        [`/c/${USER}_channel`, [CHANNEL, TITLE]],
        [`/a/${USER}`, [ACCOUNT]],
        ['/', [TITLE]],
      ];
      for (const [path, texts] of pages) {
        await page.goto(path);
        for (const text of texts) {
          await page.getByText(text, { exact: false }).first().waitFor();
        }
        const made = await page.evaluate(() => ({
          pwned: window.__pwned ?? null,
          images: document.querySelectorAll('img[src="x"]').length,
          scripts: [...document.querySelectorAll('script')].filter((s) => s.textContent.includes('__pwned')).length,
          svgs: document.querySelectorAll('svg[onload]').length,
        }));
        assert.deepEqual(made, { pwned: null, images: 0, scripts: 0, svgs: 0 }, path);
      }
      assert.deepEqual(dialogs, []);
      assert.deepEqual(person.problems, []);
      await person.context.close();
    });
  }
});
