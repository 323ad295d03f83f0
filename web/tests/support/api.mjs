// Direct API calls the P2P tests need: an admin token, an upload that waits for every rendition.

import { readFileSync } from 'node:fs';
import { ADMIN_PASSWORD } from './instance.mjs';

export async function adminToken(url) {
  const client = await (await fetch(`${url}/api/v1/oauth-clients/local`)).json();
  const res = await fetch(`${url}/api/v1/users/token`, {
    method: 'POST',
    body: new URLSearchParams({
      client_id: client.client_id,
      client_secret: client.client_secret,
      grant_type: 'password',
      username: 'root',
      password: ADMIN_PASSWORD,
    }),
  });
  if (res.status !== 200) throw new Error(`POST /api/v1/users/token answered ${res.status}: ${await res.text()}`);
  return (await res.json()).access_token;
}

/** Uploads a public video and waits until it is published with `renditions` HLS renditions. */
export async function uploadAndWait(url, token, clipPath, name, renditions) {
  const auth = { Authorization: `Bearer ${token}` };
  const me = await (await fetch(`${url}/api/v1/users/me`, { headers: auth })).json();
  const form = new FormData();
  form.set('name', name);
  form.set('channelId', String(me.videoChannels[0].id));
  form.set('privacy', '1');
  form.set('waitTranscoding', 'true');
  form.set('videofile', new Blob([readFileSync(clipPath)], { type: 'video/mp4' }), 'clip.mp4');
  const res = await fetch(`${url}/api/v1/videos/upload`, { method: 'POST', headers: auth, body: form });
  if (res.status !== 200) throw new Error(`upload answered ${res.status}: ${await res.text()}`);
  const { video } = await res.json();
  const deadline = Date.now() + 120_000;
  for (;;) {
    const v = await (await fetch(`${url}/api/v1/videos/${video.uuid}`, { headers: auth })).json();
    const files = v.streamingPlaylists?.[0]?.files ?? [];
    if (v.state?.id === 1 && files.length >= renditions) return v;
    if (Date.now() > deadline) throw new Error(`the video was not published with ${renditions} renditions in 120 s: ${JSON.stringify(v.state)} ${files.length}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
