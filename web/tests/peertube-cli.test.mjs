// PeerTube's own command-line client (npm @peertube/peertube-cli 1.0.3, a devDependency) against a
// Flotilla instance, as a PeerTube user would run it: `auth add` logs in and remembers the
// instance, `upload` sends a clip with its metadata (PeerTube's legacy multipart upload) and then
// waits, as it does on PeerTube, until the video's first file has a torrent; it must exit 0. The
// video is then listed by the API with what the CLI sent, and `auth list` shows the instance. Run
// with a HOME of its own: the CLI keeps its settings there.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { get, registerUser, token } from './support/api.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const CLI = fileURLToPath(new URL('../node_modules/@peertube/peertube-cli/dist/peertube.js', import.meta.url));
const USER = 'clio';
const PASSWORD = 'clio-password-1';

let instance;
let home;

before(async () => {
  home = mkdtempSync(join(tmpdir(), 'flotilla-peertube-cli-'));
  instance = await startInstance();
  await registerUser(instance.url, USER, PASSWORD);
});

after(async () => {
  await instance?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** Runs the CLI with `args`; resolves with its exit code and output (killed after `ms`). */
function cli(args, ms = 120_000) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
}

test('peertube-cli logs in, uploads a clip and waits for its torrent like on PeerTube', { timeout: 180_000 }, async () => {
  const added = await cli(['auth', 'add', '-u', instance.url, '-U', USER, '-p', PASSWORD, '--default']);
  assert.equal(added.code, 0, added.out);
  const listed = await cli(['auth', 'list']);
  assert.equal(listed.code, 0, listed.out);
  assert.match(listed.out, new RegExp(instance.url.replace(/[.:/]/g, '\\$&')));

  const clip = makeClip(home, 4, '640x360');
  const upload = await cli([
    'upload', '-f', clip, '-n', 'Sent by peertube-cli', '-d', 'Uploaded with PeerTube\'s own CLI',
    '-t', 'cli,peertube', '-c', '15', '-l', '2', '-L', 'en',
  ]);
  assert.equal(upload.code, 0, `${upload.signal ?? ''} ${upload.out}\n${instance.logTail()}`);
  assert.match(upload.out, /Video Sent by peertube-cli uploaded\./);

  const accessToken = await token(instance.url, USER, PASSWORD);
  const mine = await get(instance.url, accessToken, '/users/me/videos');
  const video = mine.data.find((v) => v.name === 'Sent by peertube-cli');
  assert.ok(video, JSON.stringify(mine.data.map((v) => v.name)));
  const details = await get(instance.url, accessToken, `/videos/${video.uuid}`);
  assert.equal(details.category.id, 15);
  assert.equal(details.licence.id, 2);
  assert.equal(details.language.id, 'en');
  assert.deepEqual([...details.tags].sort(), ['cli', 'peertube']);
  assert.equal(details.description, 'Uploaded with PeerTube\'s own CLI');
  assert.ok(details.files[0].torrentUrl, JSON.stringify(details.files));
});
