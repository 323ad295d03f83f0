// A real S3 server for the browser tests: Garage, started by scripts/garage-start (the same
// throwaway one-node store as the Rust suite's and the benchmark's: free loopback ports, a key,
// buckets flotilla-hls and flotilla-web readable through the website port with CORS for players,
// flotilla-private not). `<bucket>.web.localhost` resolves to loopback in Chromium. Stopped by PID.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const START = fileURLToPath(new URL('../../../scripts/garage-start', import.meta.url));
export const BUCKETS = { hls: 'flotilla-hls', web: 'flotilla-web', private: 'flotilla-private' };

export async function startGarage() {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-garage-'));
  const r = spawnSync(START, [dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`scripts/garage-start failed: ${r.stderr}`);
  }
  const g = JSON.parse(r.stdout.trim().split('\n').pop());
  const stop = () => {
    try {
      process.kill(g.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const baseUrl = (bucket) => `http://${bucket}.web.localhost:${g.web_port}`;
  return {
    endpoint: g.endpoint,
    webPort: g.web_port,
    baseUrl,
    /** The instance's environment for these buckets. */
    env: {
      FLOTILLA_OBJECT_STORAGE_ENABLED: 'true',
      FLOTILLA_OBJECT_STORAGE_ENDPOINT: g.endpoint,
      FLOTILLA_OBJECT_STORAGE_REGION: 'garage',
      FLOTILLA_OBJECT_STORAGE_ACCESS_KEY_ID: g.key_id,
      FLOTILLA_OBJECT_STORAGE_SECRET_ACCESS_KEY: g.secret,
      FLOTILLA_OBJECT_STORAGE_STREAMING_PLAYLISTS_BUCKET_NAME: BUCKETS.hls,
      FLOTILLA_OBJECT_STORAGE_STREAMING_PLAYLISTS_BASE_URL: baseUrl(BUCKETS.hls),
      FLOTILLA_OBJECT_STORAGE_WEB_VIDEOS_BUCKET_NAME: BUCKETS.web,
      FLOTILLA_OBJECT_STORAGE_WEB_VIDEOS_BASE_URL: baseUrl(BUCKETS.web),
      FLOTILLA_OBJECT_STORAGE_PRIVATE_BUCKET_NAME: BUCKETS.private,
    },
    stop,
  };
}
