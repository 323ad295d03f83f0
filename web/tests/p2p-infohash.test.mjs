// The info hashes the server publishes (`streamingPlaylists[0].p2pMediaLoaderInfohashes`) must be
// the ones p2p-media-loader 2.3.1 announces, or the tracker refuses every viewer. No browser: the
// library's own functions run in node, fed the level attributes hls.js reads from the real master
// playlist of a real instance (a clip with two renditions).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { adminToken, uploadAndWait } from './support/api.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

// Deep imports by file path: the package's "exports" only exposes its entry point.
const lib = new URL('../node_modules/p2p-media-loader-core/lib/utils/', import.meta.url);
const { generateStreamShortId, getStreamSwarmId } = await import(new URL('stream.js', lib).href);
const { getStreamHash } = await import(new URL('peer.js', lib).href);

/** The attributes of each EXT-X-STREAM-INF, in playlist order, as hls.js parses them. */
function parseMaster(text) {
  const levels = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('#EXT-X-STREAM-INF:')) continue;
    const attrs = {};
    for (const m of line.slice('#EXT-X-STREAM-INF:'.length).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) {
      attrs[m[1]] = m[2].startsWith('"') ? m[2].slice(1, -1) : m[2];
    }
    const [width, height] = (attrs.RESOLUTION ?? '').split('x').map(Number);
    // hls.js: maxBitrate is BANDWIDTH; videoCodec the first CODECS entry that is a video codec.
    const codecs = (attrs.CODECS ?? '').split(',').map((c) => c.trim());
    const videoCodec = codecs.find((c) => /^(avc|hvc|hev|av01|vp0?9|vp8|dvh)/i.test(c));
    levels.push({ maxBitrate: Number(attrs.BANDWIDTH), videoCodec, width, height, attrs });
  }
  return levels;
}

let instance;
let workDir;

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-infohash-'));
  instance = await startInstance({ FLOTILLA_TRANSCODING_RESOLUTIONS: '144,240' });
});

after(async () => {
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

test('the API info hashes are the ones p2p-media-loader computes from the master playlist', { timeout: 180_000 }, async () => {
  const token = await adminToken(instance.url);
  const video = await uploadAndWait(instance.url, token, makeClip(workDir, 4, '426x240'), 'Info hash check', 2);
  const playlist = video.streamingPlaylists[0];
  assert.match(playlist.playlistUrl, /^http:\/\/127\.0\.0\.1:\d+\//, 'playlistUrl must be absolute');
  assert.ok(video.trackerUrls.length > 0, 'trackerUrls is empty');

  const master = await (await fetch(playlist.playlistUrl)).text();
  const levels = parseMaster(master);
  assert.equal(levels.length, 2, `two renditions expected in:\n${master}`);
  assert.equal(playlist.p2pMediaLoaderInfohashes?.length, 2);

  // p2p-media-loader-hlsjs SegmentManager.processMainManifest, then the tracker client.
  const derived = levels.map((l) => {
    const missing = l.maxBitrate === 0;
    const index = generateStreamShortId({
      bitrate: l.maxBitrate,
      codecs: missing ? undefined : l.videoCodec,
      width: missing ? undefined : l.width,
      height: missing ? undefined : l.height,
      frameRate: missing ? undefined : l.attrs['FRAME-RATE'],
      videoRange: missing ? undefined : l.attrs['VIDEO-RANGE'],
    });
    return getStreamHash(getStreamSwarmId(playlist.playlistUrl, { type: 'main', index }));
  });
  for (const h of derived) assert.equal(h.length, 20);
  assert.deepEqual(playlist.p2pMediaLoaderInfohashes, derived, `master playlist:\n${master}`);
});
