// Direct API calls the tests make to set up what they need and to check the server's state after
// the browser acted: tokens, users, uploads, and a wait for a condition on the server.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ADMIN_PASSWORD } from './instance.mjs';

/** An access token for `username` (OAuth password grant, as the web client does). */
export async function token(url, username, password) {
  const client = await (await fetch(`${url}/api/v1/oauth-clients/local`)).json();
  const res = await fetch(`${url}/api/v1/users/token`, {
    method: 'POST',
    body: new URLSearchParams({
      client_id: client.client_id,
      client_secret: client.client_secret,
      grant_type: 'password',
      username,
      password,
    }),
  });
  if (res.status !== 200) throw new Error(`POST /api/v1/users/token for ${username} answered ${res.status}: ${await res.text()}`);
  return (await res.json()).access_token;
}

export function adminToken(url) {
  return token(url, 'root', ADMIN_PASSWORD);
}

/** `METHOD /api/v1{path}` with an optional token and JSON body; fails unless the status is 2xx. */
export async function call(url, accessToken, method, path, body) {
  const headers = accessToken ? { Authorization: `Bearer ${accessToken}` } : {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${url}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} /api/v1${path} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

export const get = (url, accessToken, path) => call(url, accessToken, 'GET', path);

/** Creates an account through open sign-up. */
export async function registerUser(url, username, password) {
  await call(url, null, 'POST', '/users/register', { username, password, email: `${username}@example.org` });
}

/** Uploads a file in one request (`POST /videos/upload`) and returns `{ id, uuid, shortUUID }` at once. */
export async function uploadVideo(url, accessToken, path, fields) {
  const auth = { Authorization: `Bearer ${accessToken}` };
  const me = await (await fetch(`${url}/api/v1/users/me`, { headers: auth })).json();
  const form = new FormData();
  form.set('channelId', String(me.videoChannels[0].id));
  form.set('privacy', '1');
  for (const [k, v] of Object.entries(fields)) form.set(k, String(v));
  form.set('videofile', new Blob([readFileSync(path)]), basename(path));
  const res = await fetch(`${url}/api/v1/videos/upload`, { method: 'POST', headers: auth, body: form });
  if (res.status !== 200) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
  return (await res.json()).video;
}

/** Asks `check` every 250 ms until it returns something truthy, which is returned; fails after `ms`. */
export async function until(what, check, ms = 60_000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not so after ${ms / 1000} s (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Uploads a public video and waits until it is published with `renditions` HLS renditions. */
export async function uploadAndWait(url, accessToken, clipPath, name, renditions) {
  const video = await uploadVideo(url, accessToken, clipPath, { name, waitTranscoding: 'true' });
  return waitPublished(url, accessToken, video.uuid, renditions);
}

/** Waits until a video is published with at least `renditions` HLS renditions. */
export function waitPublished(url, accessToken, id, renditions = 1) {
  return until(`video ${id} published with ${renditions} renditions`, async () => {
    const v = await get(url, accessToken, `/videos/${id}`);
    const files = v.streamingPlaylists?.[0]?.files ?? [];
    return v.state?.id === 1 && files.length >= renditions ? v : false;
  }, 120_000);
}
