// Unit test of where the player fetches files over HTTP (src/lib/http-sources.ts): the edge cache
// first, the origin when the edge fails, for hls.js's loads and p2p-media-loader's requests alike.
// Compiled with TypeScript's own transpiler and imported, without a browser.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

import ts from 'typescript';

const source = await readFile(new URL('../src/lib/http-sources.ts', import.meta.url), 'utf8');
const { outputText } = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
});
const { sourcesOf, HttpSources, fallbackLoader, FAILED_FOR_MS } = await import(
  `data:text/javascript;base64,${Buffer.from(outputText).toString('base64')}`
);

const EDGE = 'https://b.example/static/edge/hls/u/';
const ORIGIN = 'https://a.example/static/streaming-playlists/hls/u/';

test('a remote video served by the edge cache falls back on its origin; a local one has one place', () => {
  assert.deepEqual(sourcesOf({ playlistUrl: `${EDGE}m-master.m3u8`, originPlaylistUrl: `${ORIGIN}m-master.m3u8` }), [EDGE, ORIGIN]);
  assert.deepEqual(sourcesOf({ playlistUrl: `${ORIGIN}m-master.m3u8` }), [ORIGIN]);
  assert.deepEqual(sourcesOf(undefined), []);
});

test('a place that failed is skipped for a while, then tried again', () => {
  let now = 1000;
  const s = new HttpSources([EDGE, ORIGIN], () => now);
  assert.equal(s.pick(`${EDGE}v-720.m3u8`), `${EDGE}v-720.m3u8`);
  assert.equal(s.next(`${EDGE}v-720.m3u8`), `${ORIGIN}v-720.m3u8`);
  assert.equal(s.pick(`${EDGE}other.mp4`), `${ORIGIN}other.mp4`, 'the next file goes to the origin at once');
  assert.equal(s.next(`${ORIGIN}other.mp4`), undefined, 'nowhere left');
  now += FAILED_FOR_MS + 1;
  assert.equal(s.pick(`${EDGE}other.mp4`), `${EDGE}other.mp4`);
  assert.equal(s.pick('https://c.example/x.mp4'), 'https://c.example/x.mp4', 'URLs elsewhere are left alone');
  const alone = new HttpSources([ORIGIN], () => now);
  assert.equal(alone.next(`${ORIGIN}x.mp4`), undefined);
  assert.equal(alone.pick(`${ORIGIN}x.mp4`), `${ORIGIN}x.mp4`, 'a single place is never skipped');
});

test("p2p-media-loader's retry of a segment goes to the origin, with the range it asks", async () => {
  let now = 1000;
  const setup = new HttpSources([EDGE, ORIGIN], () => now).requestSetup();
  const signal = new AbortController().signal;
  const seg = `${EDGE}v-720-fragmented.mp4`;
  assert.equal(await setup(seg, { start: 100, end: 199 }, signal, { start: 100, end: 199 }), undefined, 'first: as the library would');
  now += 50;
  const retry = await setup(seg, { start: 100, end: 199 }, signal, { start: 150, end: 199 });
  assert.equal(retry.url, `${ORIGIN}v-720-fragmented.mp4`);
  assert.equal(retry.headers.get('Range'), 'bytes=150-199', 'a resumed download keeps its range');
  const next = await setup(seg, { start: 200, end: 299 }, signal, { start: 200, end: 299 });
  assert.equal(next?.url, `${ORIGIN}v-720-fragmented.mp4`, 'the following segments too, while the edge is skipped');
  now += FAILED_FOR_MS + 1;
  assert.equal(await setup(seg, { start: 300, end: 399 }, signal, { start: 300, end: 399 }), undefined);
});

test("hls.js's loader loads from the origin what the edge cache failed to give", () => {
  const calls = [];
  class FakeLoader {
    constructor() {
      this.stats = { loaded: 0, total: 0, loading: { start: 0, first: 0, end: 0 } };
      this.context = null;
    }
    load(context, _config, callbacks) {
      calls.push(context.url);
      this.context = context;
      this.stats.loading.start = 1;
      if (context.url.startsWith(EDGE)) callbacks.onError({ code: 502, text: 'Bad Gateway' }, context, null, this.stats);
      else callbacks.onSuccess({ url: context.url, data: 'ok' }, this.stats, context, null);
    }
    abort() {}
    destroy() {}
  }
  const Loader = fallbackLoader(FakeLoader, new HttpSources([EDGE, ORIGIN]));
  const loader = new Loader({});
  const shared = loader.stats;
  let ok = null;
  let failed = false;
  loader.load({ url: `${EDGE}m-master.m3u8`, type: 'manifest' }, {}, {
    onSuccess: (response, stats, context) => (ok = { response, stats, context }),
    onError: () => (failed = true),
    onTimeout: () => (failed = true),
  });
  assert.equal(failed, false);
  assert.deepEqual(calls, [`${EDGE}m-master.m3u8`, `${ORIGIN}m-master.m3u8`]);
  assert.equal(ok.response.url, `${ORIGIN}m-master.m3u8`);
  assert.equal(ok.context.type, 'manifest', 'the context is the one hls.js gave, moved');
  assert.equal(ok.stats, shared, 'the statistics object hls.js holds is the one filled');

  const Lonely = fallbackLoader(FakeLoader, new HttpSources([EDGE]));
  let errors = 0;
  new Lonely({}).load({ url: `${EDGE}x.m3u8` }, {}, { onSuccess: () => {}, onError: () => (errors += 1), onTimeout: () => {} });
  assert.equal(errors, 1, 'with nowhere else to go, the error reaches hls.js');
});
