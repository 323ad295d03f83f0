// A real S3 server for the browser tests, as the Rust suite's `testkit::Garage`: Garage (built by
// `scripts/ensure-deps test` into .tools/garage), one node on free ports with a generated
// configuration, a key and three buckets made with its CLI; the two public ones are served by
// its website port (`<bucket>.web.localhost`, which Chromium resolves to loopback) with CORS for
// players. Stopped by PID.

import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './instance.mjs';

export const GARAGE_BIN = fileURLToPath(new URL('../../../.tools/garage/bin/garage', import.meta.url));
export const BUCKETS = { hls: 'flotilla-hls', web: 'flotilla-web', private: 'flotilla-private' };

function listening(port) {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port }, () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

const CORS = `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>Content-Length</ExposeHeader><ExposeHeader>Content-Range</ExposeHeader><ExposeHeader>ETag</ExposeHeader></CORSRule></CORSConfiguration>`;

export async function startGarage() {
  if (!existsSync(GARAGE_BIN)) {
    throw new Error(`Garage is missing at ${GARAGE_BIN}: run scripts/ensure-deps test (or make test), which builds it once`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-garage-'));
  const [s3, rpc, web, admin] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const secret = randomBytes(32).toString('hex');
  const config = join(dir, 'garage.toml');
  writeFileSync(
    config,
    `metadata_dir = "${dir}/meta"\ndata_dir = "${dir}/data"\ndb_engine = "sqlite"\nreplication_factor = 1\n` +
      `rpc_bind_addr = "127.0.0.1:${rpc}"\nrpc_public_addr = "127.0.0.1:${rpc}"\nrpc_secret = "${secret}"\n\n` +
      `[s3_api]\ns3_region = "garage"\napi_bind_addr = "127.0.0.1:${s3}"\nroot_domain = ".s3.localhost"\n\n` +
      `[s3_web]\nbind_addr = "127.0.0.1:${web}"\nroot_domain = ".web.localhost"\n\n` +
      `[admin]\napi_bind_addr = "127.0.0.1:${admin}"\nadmin_token = "${secret}"\n`,
  );
  const log = openSync(join(dir, 'garage.log'), 'w');
  const child = spawn(GARAGE_BIN, ['-c', config, 'server'], { env: { ...process.env, RUST_LOG: 'warn' }, stdio: ['ignore', 'ignore', log] });
  closeSync(log);
  const stop = () => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 15_000;
    while (!(await listening(s3))) {
      if (Date.now() > deadline) throw new Error(`garage did not listen on 127.0.0.1:${s3}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const cli = (...args) => {
      const r = spawnSync(GARAGE_BIN, ['-c', config, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`garage ${args.join(' ')} failed: ${r.stderr}`);
      return r.stdout;
    };
    const node = cli('status')
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[0])
      .find((w) => /^[0-9a-f]{16}$/.test(w));
    if (!node) throw new Error('no node id in garage status');
    cli('layout', 'assign', '-z', 'dc1', '-c', '1G', node);
    cli('layout', 'apply', '--version', '1');
    const key = cli('key', 'create', 'flotilla');
    const field = (name) => key.split('\n').find((l) => l.split(':')[0].trim() === name)?.split(':').slice(1).join(':').trim();
    const keyId = field('Key ID');
    const keySecret = field('Secret key');
    for (const b of Object.values(BUCKETS)) {
      cli('bucket', 'create', b);
      cli('bucket', 'allow', '--read', '--write', '--owner', b, '--key', 'flotilla');
    }
    const endpoint = `http://127.0.0.1:${s3}`;
    for (const b of [BUCKETS.hls, BUCKETS.web]) {
      cli('bucket', 'website', '--allow', b);
      // Players on the instance's origin read the bucket: CORS, set through S3 (curl signs it).
      const md5 = createHash('md5').update(CORS).digest('base64');
      const r = spawnSync(
        'curl',
        ['-sS', '-X', 'PUT', '--aws-sigv4', 'aws:amz:garage:s3', '--user', `${keyId}:${keySecret}`,
          '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', '-H', `Content-MD5: ${md5}`, '--data-binary', CORS, `${endpoint}/${b}?cors=`],
        { encoding: 'utf8' },
      );
      if (r.status !== 0 || r.stdout.includes('<Error>')) throw new Error(`setting CORS on ${b} failed: ${r.stderr}${r.stdout}`);
    }
    const baseUrl = (bucket) => `http://${bucket}.web.localhost:${web}`;
    return {
      endpoint,
      webPort: web,
      baseUrl,
      /** The instance's environment for these buckets. */
      env: {
        FLOTILLA_OBJECT_STORAGE_ENABLED: 'true',
        FLOTILLA_OBJECT_STORAGE_ENDPOINT: endpoint,
        FLOTILLA_OBJECT_STORAGE_REGION: 'garage',
        FLOTILLA_OBJECT_STORAGE_ACCESS_KEY_ID: keyId,
        FLOTILLA_OBJECT_STORAGE_SECRET_ACCESS_KEY: keySecret,
        FLOTILLA_OBJECT_STORAGE_STREAMING_PLAYLISTS_BUCKET_NAME: BUCKETS.hls,
        FLOTILLA_OBJECT_STORAGE_STREAMING_PLAYLISTS_BASE_URL: baseUrl(BUCKETS.hls),
        FLOTILLA_OBJECT_STORAGE_WEB_VIDEOS_BUCKET_NAME: BUCKETS.web,
        FLOTILLA_OBJECT_STORAGE_WEB_VIDEOS_BASE_URL: baseUrl(BUCKETS.web),
        FLOTILLA_OBJECT_STORAGE_PRIVATE_BUCKET_NAME: BUCKETS.private,
      },
      stop,
    };
  } catch (e) {
    stop();
    throw e;
  }
}
