// Starts a real Flotilla instance for the browser tests: its own free port on 127.0.0.1, its own
// temporary data directory, the built web client, and a clean stop by PID at the end.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, closeSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = fileURLToPath(new URL('../../', import.meta.url));
export const BUILD_DIR = join(WEB_DIR, 'build');
/** The client built with test hooks (`npm run build:test-hooks`), for tests that need one. */
export const TEST_HOOKS_BUILD_DIR = join(WEB_DIR, 'build-test-hooks');
export const ADMIN_PASSWORD = 'secret-root-pw';
export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';

/** Fails with the command that installs what is missing (never skips). */
export function requireTools(webDir = BUILD_DIR) {
  const bin = process.env.FLOTILLA_BIN ?? '/tmp/flotilla-bin/flotilla';
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: install it with \`apt-get install chromium\``);
  }
  if (spawnSync('ffmpeg', ['-version']).status !== 0) {
    throw new Error('ffmpeg is missing: install it with `apt-get install ffmpeg`');
  }
  if (!existsSync(bin)) {
    throw new Error(`the Flotilla binary is missing at ${bin}: build it (cargo build --release) or set FLOTILLA_BIN`);
  }
  if (!existsSync(join(webDir, 'index.html'))) {
    const build = webDir === BUILD_DIR ? 'npm run build' : 'npm run build:test-hooks';
    throw new Error(`the web client is not built (${webDir}/index.html): run \`${build}\` in web/`);
  }
  return bin;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * An H.264/AAC clip made by ffmpeg: 6 seconds of 640×360 unless told. `name` is its file name in
 * `dir`; `audioOnly` makes an AAC file without a picture (the cheapest thing to transcode).
 */
export function makeClip(dir, seconds = 6, size = '640x360', { name = 'clip.mp4', audioOnly = false } = {}) {
  const path = join(dir, name);
  const video = audioOnly ? [] : ['-f', 'lavfi', '-i', `testsrc=size=${size}:rate=25`];
  const codecs = audioOnly ? ['-c:a', 'aac'] : ['-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac'];
  const args = ['-loglevel', 'error', '-y', ...video, '-f', 'lavfi', '-i', 'sine', '-t', String(seconds), ...codecs];
  // Each kind of clip is encoded once per machine (the container follows the name's extension)
  // and copied: the test gets a file of its own, and the suite is spared an encode per upload.
  const cache = join(tmpdir(), 'flotilla-web-test-clips');
  const made = join(cache, `${createHash('sha256').update(JSON.stringify(args)).digest('hex').slice(0, 16)}${extname(name) || '.mp4'}`);
  if (!existsSync(made)) {
    mkdirSync(cache, { recursive: true });
    const partial = join(cache, `.${process.pid}-${Date.now()}${extname(name) || '.mp4'}`);
    const r = spawnSync('ffmpeg', [...args, partial], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ffmpeg could not make the test clip: ${r.stderr}`);
    renameSync(partial, made);
  }
  copyFileSync(made, path);
  return path;
}

/** A still image of one colour (`0xRRGGBB`), for avatars, banners and thumbnails. */
export function makeImage(dir, name, color, size = '640x360') {
  const path = join(dir, name);
  const r = spawnSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `color=c=${color}:size=${size}`, '-frames:v', '1', path], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg could not make the test image: ${r.stderr}`);
  return path;
}

/**
 * A proxy in front of an instance (the instance's public address is the proxy's): it passes
 * everything through until told to refuse, so a test can make a server answer errors on purpose.
 */
function startProxy(port, target) {
  let refusal = null;
  const server = createHttpServer((req, res) => {
    const ua = req.headers['user-agent'] ?? '';
    if (refusal && refusal.method === req.method && refusal.path.test(req.url ?? '') && (!refusal.userAgent || refusal.userAgent.test(ua))) {
      req.resume();
      res.writeHead(refusal.status, { 'Content-Type': 'text/plain' }).end('refused by the test proxy');
      return;
    }
    const upstream = httpRequest({ host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(port, '127.0.0.1', () =>
      resolve({
        /**
         * From now on, answers `status` to `method` requests whose path matches `path` (and whose
         * User-Agent matches `userAgent`, when given: another server's requests, not a browser's).
         */
        refuse(method, path, status, userAgent = null) {
          refusal = { method, path, status, userAgent };
        },
        heal() {
          refusal = null;
        },
        /** Cuts every open connection (a long-lived stream included); new ones are served. */
        dropConnections() {
          server.closeAllConnections();
        },
        close: () => new Promise((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
      }),
    );
  });
}

/**
 * `env` overrides the instance's environment (e.g. `FLOTILLA_TRANSCODING_RESOLUTIONS`). With
 * `proxy`, the instance is reached through a proxy the test can break (`instance.proxy`); `webDir`
 * is the client build it serves (`TEST_HOOKS_BUILD_DIR` for a test that needs the test hooks).
 */
export async function startInstance(env = {}, { proxy = false, webDir = BUILD_DIR } = {}) {
  const bin = requireTools(webDir);
  const port = await freePort();
  const listen = proxy ? await freePort() : port;
  const url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-web-test-'));
  const logPath = join(dir, 'server.log');
  const log = openSync(logPath, 'w');
  const child = spawn(bin, ['serve'], {
    env: {
      ...process.env,
      FLOTILLA_LISTEN: `127.0.0.1:${listen}`,
      FLOTILLA_PUBLIC_URL: url,
      FLOTILLA_DATA_DIR: join(dir, 'data'),
      FLOTILLA_ADMIN_PASSWORD: ADMIN_PASSWORD,
      FLOTILLA_SIGNUP: 'open',
      FLOTILLA_FEDERATION_ALLOW_PRIVATE: 'true',
      FLOTILLA_HTTP_WEB_DIR: webDir,
      FLOTILLA_TRANSCODING_RESOLUTIONS: '240,360',
      // The suite drives many users from 127.0.0.1; the limits are tested in the Rust suite.
      FLOTILLA_RATE_LIMITS_ENABLED: 'false',
      // Each instance its own RTMP port (lives): the suite's instances must not fight over 1935.
      FLOTILLA_LIVE_RTMP_LISTEN: '127.0.0.1:0',
      ...env,
    },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const front = proxy ? await startProxy(port, listen) : null;
  let exited = null;
  child.on('exit', (code, signal) => {
    exited = { code, signal };
  });
  const tail = () => readFileSync(logPath, 'utf8').split('\n').slice(-30).join('\n');

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`flotilla serve exited (${JSON.stringify(exited)}) before answering:\n${tail()}`);
    try {
      const res = await fetch(`${url}/api/v1/config`);
      if (res.status === 200) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`flotilla serve did not answer GET /api/v1/config within 30 s:\n${tail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const home = await fetch(`${url}/`);
  const html = await home.text();
  if (!html.includes('/_app/immutable/')) {
    child.kill('SIGTERM');
    throw new Error(`the server does not serve the web client at / (FLOTILLA_HTTP_WEB_DIR=${webDir}); it answered ${home.status}`);
  }

  return {
    url,
    dir,
    pid: child.pid,
    proxy: front,
    logTail: tail,
    async stop() {
      await front?.close();
      if (!exited) {
        child.kill('SIGTERM');
        const stopped = await Promise.race([
          new Promise((r) => child.once('exit', () => r(true))),
          new Promise((r) => setTimeout(() => r(false), 10_000)),
        ]);
        if (!stopped && !exited) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
