// Unit test of where the player fetches files over HTTP (src/lib/http-sources.ts): the edge cache
// first, the origin when the edge fails, for hls.js's loads and p2p-media-loader's requests alike;
// segments spread over the origin and its mirrors, and a mirror's checked against the hashes
// (src/lib/p2p.ts's validators). Compiled with TypeScript's own transpiler and imported, without
// a browser.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

import ts from 'typescript';

async function load(path) {
  const source = await readFile(new URL(path, import.meta.url), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  return import(`data:text/javascript;base64,${Buffer.from(outputText).toString('base64')}`);
}
const { sourcesOf, mirrorsOf, HttpSources, fallbackLoader, FAILED_FOR_MS } = await load('../src/lib/http-sources.ts');
const { segmentHashes, mirrorSegmentValidator } = await load('../src/lib/p2p.ts');

const EDGE = 'https://b.example/static/edge/hls/u/';
const ORIGIN = 'https://a.example/static/streaming-playlists/hls/u/';
const M1 = 'https://c.example/static/redundancy/hls/u/';
const M2 = 'https://d.example/static/redundancy/hls/u/';
const SEG = `${ORIGIN}v-720-fragmented.mp4`;
const signal = new AbortController().signal;

/** A small seeded generator (mulberry32): the same "random" sequence on every run. */
function seeded(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Asks `setup` for segment bytes `start`…`start + 99` of `url`; returns the place the request went to. */
async function placeFor(sources, setup, start, url = SEG, from = start) {
  const r = await setup(url, { start, end: start + 99 }, signal, { start: from, end: start + 99 });
  return sources.baseOf(r?.url ?? url);
}

test('a remote video served by the edge cache falls back on its origin; a local one has one place', () => {
  assert.deepEqual(sourcesOf({ playlistUrl: `${EDGE}m-master.m3u8`, originPlaylistUrl: `${ORIGIN}m-master.m3u8` }), [EDGE, ORIGIN]);
  assert.deepEqual(sourcesOf({ playlistUrl: `${ORIGIN}m-master.m3u8` }), [ORIGIN]);
  assert.deepEqual(sourcesOf(undefined), []);
});

test('mirrors are listed once each, as directories, never as a primary place', () => {
  const playlist = {
    playlistUrl: `${ORIGIN}m-master.m3u8`,
    redundancies: [{ baseUrl: M1.slice(0, -1) }, { baseUrl: M1.slice(0, -1) }, { baseUrl: ORIGIN.slice(0, -1) }, { baseUrl: M2.slice(0, -1) }],
  };
  assert.deepEqual(mirrorsOf(playlist), [M1, M2]);
  assert.deepEqual(sourcesOf(playlist), [ORIGIN], 'the primary list is unchanged');
  assert.deepEqual(mirrorsOf({ playlistUrl: `${ORIGIN}m-master.m3u8` }), []);
  assert.deepEqual(mirrorsOf(undefined), []);
});

test('a place that failed is skipped for a while, then tried again', () => {
  let now = 1000;
  const s = new HttpSources([EDGE, ORIGIN], { now: () => now });
  assert.equal(s.pick(`${EDGE}v-720.m3u8`), `${EDGE}v-720.m3u8`);
  assert.equal(s.next(`${EDGE}v-720.m3u8`), `${ORIGIN}v-720.m3u8`);
  assert.equal(s.pick(`${EDGE}other.mp4`), `${ORIGIN}other.mp4`, 'the next file goes to the origin at once');
  assert.equal(s.next(`${ORIGIN}other.mp4`), undefined, 'nowhere left');
  now += FAILED_FOR_MS + 1;
  assert.equal(s.pick(`${EDGE}other.mp4`), `${EDGE}other.mp4`);
  assert.equal(s.pick('https://c.example/x.mp4'), 'https://c.example/x.mp4', 'URLs elsewhere are left alone');
  const alone = new HttpSources([ORIGIN], { now: () => now });
  assert.equal(alone.next(`${ORIGIN}x.mp4`), undefined);
  assert.equal(alone.pick(`${ORIGIN}x.mp4`), `${ORIGIN}x.mp4`, 'a single place is never skipped');
});

test("p2p-media-loader's retry of a segment goes to the origin, with the range it asks", async () => {
  let now = 1000;
  const setup = new HttpSources([EDGE, ORIGIN], { now: () => now }).requestSetup();
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

test("segments of a video served by its origin are spread evenly over the origin and its mirrors", async () => {
  const sources = new HttpSources([ORIGIN], { mirrors: [M1, M2], random: seeded(7) });
  const setup = sources.requestSetup();
  const count = new Map();
  for (let i = 0; i < 900; i++) {
    const place = await placeFor(sources, setup, i * 100);
    count.set(place, (count.get(place) ?? 0) + 1);
  }
  assert.deepEqual([...count.keys()].sort(), [ORIGIN, M1, M2].sort());
  for (const [place, n] of count) assert.ok(n > 240 && n < 360, `${place}: ${n} of 900`);
  const first = new HttpSources([ORIGIN], { mirrors: [M1, M2], random: () => 0 });
  assert.equal(await placeFor(first, first.requestSetup(), 0), ORIGIN, 'the choice is the injected one');
  const last = new HttpSources([ORIGIN], { mirrors: [M1, M2], random: () => 0.999 });
  assert.equal(await placeFor(last, last.requestSetup(), 0), M2);
});

test('a mirror that failed is skipped for 30 s, then used again', async () => {
  let now = 1000;
  const sources = new HttpSources([ORIGIN], { mirrors: [M1, M2], now: () => now, random: () => 0.999 });
  const setup = sources.requestSetup();
  assert.equal(await placeFor(sources, setup, 0), M2);
  now += 50;
  assert.equal(await placeFor(sources, setup, 0), M1, "the library's retry goes to another place");
  for (let i = 1; i <= 20; i++) assert.equal(await placeFor(sources, setup, i * 100), M1, 'the failed mirror is left alone');
  now += FAILED_FOR_MS + 1;
  assert.equal(await placeFor(sources, setup, 5000), M2, 'and taken again after a while');
});

test('an edge-served video takes its segments from the edge, and from mirrors only when the edge and the origin failed', async () => {
  let now = 1000;
  let draws = 0;
  const sources = new HttpSources([EDGE, ORIGIN], { mirrors: [M1, M2], now: () => now, random: () => (draws++, 0.999) });
  const setup = sources.requestSetup();
  const seg = `${EDGE}v-720-fragmented.mp4`;
  for (let i = 0; i < 50; i++) assert.equal(await placeFor(sources, setup, i * 100, seg), EDGE);
  assert.equal(draws, 0, 'no spreading');
  now += 50;
  assert.equal(await placeFor(sources, setup, 4900, seg), ORIGIN, 'the edge failed: the origin');
  now += 50;
  assert.equal(await placeFor(sources, setup, 4900, seg), M1, 'the origin failed too: the first mirror');
  now += 50;
  assert.equal(await placeFor(sources, setup, 4900, seg), M2);
  now += FAILED_FOR_MS + 1;
  assert.equal(await placeFor(sources, setup, 5000, seg), EDGE, 'back to the edge once it may have recovered');
});

test('playlists and init sections never go to mirrors', () => {
  let now = 1000;
  const sources = new HttpSources([ORIGIN], { mirrors: [M1, M2], now: () => now, random: () => 0.999 });
  assert.equal(sources.pick(`${ORIGIN}v-720.m3u8`), `${ORIGIN}v-720.m3u8`);
  assert.equal(sources.next(`${ORIGIN}v-720.m3u8`), undefined, 'no other primary place: hls.js is told');
  assert.equal(sources.pick(`${ORIGIN}v-720-fragmented.mp4`), `${ORIGIN}v-720-fragmented.mp4`, 'even with the origin skipped');
  now += 50;
  const edge = new HttpSources([EDGE, ORIGIN], { mirrors: [M1], now: () => now });
  assert.equal(edge.next(`${EDGE}v-720.m3u8`), `${ORIGIN}v-720.m3u8`);
  assert.equal(edge.next(`${ORIGIN}v-720.m3u8`), undefined, 'edge and origin failed: still no mirror');

  const calls = [];
  class Failing {
    constructor() {
      this.stats = { loaded: 0, total: 0, loading: { start: 0, first: 0, end: 0 } };
    }
    load(context, _config, callbacks) {
      calls.push(context.url);
      callbacks.onError({ code: 502 }, context, null, this.stats);
    }
    abort() {}
    destroy() {}
  }
  const Loader = fallbackLoader(Failing, new HttpSources([ORIGIN], { mirrors: [M1, M2] }));
  let errors = 0;
  new Loader({}).load({ url: `${ORIGIN}init-720.mp4` }, {}, { onSuccess: () => {}, onError: () => (errors += 1), onTimeout: () => {} });
  assert.deepEqual(calls, [`${ORIGIN}init-720.mp4`]);
  assert.equal(errors, 1);
});

test('placeOf reports the mirror a segment was fetched from, also when another place finished it', async () => {
  let now = 1000;
  let next = 0.5;
  const sources = new HttpSources([ORIGIN], { mirrors: [M1, M2], now: () => now, random: () => next });
  const setup = sources.requestSetup();
  assert.equal(await placeFor(sources, setup, 0), M1);
  assert.equal(sources.placeOf(SEG, { start: 0, end: 99 }), M1);
  assert.equal(sources.fromMirror(SEG, { start: 0, end: 99 }), true);
  next = 0;
  assert.equal(await placeFor(sources, setup, 100), ORIGIN);
  assert.equal(sources.placeOf(SEG, { start: 100, end: 199 }), ORIGIN);
  assert.equal(sources.fromMirror(SEG, { start: 100, end: 199 }), false, "the origin's segment is taken as it is");
  assert.equal(sources.placeOf(SEG, { start: 900, end: 999 }), undefined);
  assert.equal(sources.fromMirror(SEG, { start: 900, end: 999 }), true, 'a segment of unknown origin is checked');
  now += 50;
  assert.equal(await placeFor(sources, setup, 0, SEG, 40), ORIGIN, 'a resumed download, elsewhere');
  assert.equal(sources.placeOf(SEG, { start: 0, end: 99 }), M1, 'its first bytes are still the mirror\'s');
  now += 50;
  assert.equal(await placeFor(sources, setup, 0), M2, 'downloaded again from the start, at the one place left');
  assert.equal(sources.placeOf(SEG, { start: 0, end: 99 }), M2, 'none of its bytes are the first mirror\'s now');
});

test("a mirror's segment that does not match its hash is rejected and fetched elsewhere; the origin's is not checked", async () => {
  const good = new TextEncoder().encode('segment bytes').buffer;
  const bad = new TextEncoder().encode('tampered bytes').buffer;
  const digest = Buffer.from(await crypto.subtle.digest('SHA-256', good)).toString('hex');
  const fetched = [];
  const saved = { fetch: globalThis.fetch, location: globalThis.location };
  globalThis.location = { href: 'https://a.example/' };
  globalThis.fetch = async (url) => {
    fetched.push(url);
    return new Response(JSON.stringify({ 'v-720-fragmented.mp4': { '0-12': digest } }));
  };
  try {
    let now = 1000;
    let next = 0.5;
    const sources = new HttpSources([ORIGIN], { mirrors: [M1, M2], now: () => now, random: () => next });
    const setup = sources.requestSetup();
    const validate = mirrorSegmentValidator(segmentHashes(`${ORIGIN}segments-sha256.json`), (url, range) => sources.fromMirror(url, range));
    const range = { start: 0, end: 12 };
    await setup(SEG, range, signal, range);
    assert.equal(sources.placeOf(SEG, range), M1);
    assert.equal(await validate(SEG, range, bad), false, "the mirror's tampered bytes");
    assert.equal(await validate(SEG, range, good), true, "the mirror's right bytes");
    now += 50;
    next = 0;
    const retry = await setup(SEG, range, signal, range);
    assert.equal(retry, undefined, 'the retry goes to the origin (the request the library would make)');
    assert.equal(await validate(SEG, range, bad), true, "the origin's bytes are not checked");
    next = 0.5;
    assert.equal(await placeFor(sources, setup, 200), M2, 'the rejected mirror is skipped');
    assert.deepEqual(fetched, [`${ORIGIN}segments-sha256.json`], 'the hashes are fetched once, from the origin');
  } finally {
    globalThis.fetch = saved.fetch;
    globalThis.location = saved.location;
  }
});
