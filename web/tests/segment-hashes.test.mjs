// Unit test of the segment check P2P playback uses (src/lib/p2p.ts's `segmentHashes`) against the
// server's `segments-sha256.json`, in both its forms: a video's (file → byte range → SHA-256) and
// a live's (file → SHA-256 of the whole segment), where a segment may be listed a moment after the
// playlist names it, so the check fetches the table again, at most once a second, until it is
// there or the wait is over. Compiled with TypeScript's own transpiler and imported, without a
// browser; `fetch` answers what each test says.
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
const { segmentHashes, LIVE_HASH_REFETCH_MS } = await load('../src/lib/p2p.ts');

const BASE = 'https://a.example/static/streaming-playlists/hls/u/';
const bytes = (text) => new TextEncoder().encode(text).buffer;
const sha = async (buf) => Buffer.from(await crypto.subtle.digest('SHA-256', buf)).toString('hex');

/** Runs `fn` with `fetch` answering `tables()` in turn (the last one again after) and counting the calls. */
async function withTables(tables, fn) {
  const saved = { fetch: globalThis.fetch, location: globalThis.location };
  const calls = [];
  globalThis.location = { href: 'https://a.example/' };
  globalThis.fetch = async (url, init) => {
    calls.push({ url, cache: init?.cache, at: Date.now() });
    const table = tables[Math.min(calls.length - 1, tables.length - 1)];
    return table === null ? new Response('no', { status: 404 }) : new Response(JSON.stringify(table));
  };
  try {
    await fn(calls);
  } finally {
    globalThis.fetch = saved.fetch;
    globalThis.location = saved.location;
  }
}

test("a video's segments are checked by byte range, the table fetched once", async () => {
  const part = bytes('fragment bytes');
  const digest = await sha(part);
  await withTables([{ 'v-240-fragmented.mp4': { '100-113': digest } }], async (calls) => {
    const check = segmentHashes(`${BASE}segments-sha256.json`);
    const url = `${BASE}v-240-fragmented.mp4`;
    assert.equal(await check(url, { start: 100, end: 113 }, part), true);
    assert.equal(await check(url, { start: 100, end: 113 }, bytes('tampered bytes')), false);
    assert.equal(await check(url, { start: 0, end: 13 }, part), false, 'another range');
    assert.equal(await check(`${BASE}other.mp4`, { start: 100, end: 113 }, part), false, 'a file not listed, at once');
    assert.equal(calls.length, 1);
  });
});

test("a live's flat table: a whole segment's hash; a wrong one is rejected at once", async () => {
  const segment = bytes('live segment 0');
  await withTables([{ '0-000000.ts': await sha(segment) }], async (calls) => {
    const check = segmentHashes(`${BASE}segments-sha256.json`, { live: true });
    assert.equal(await check(`${BASE}0-000000.ts`, undefined, segment), true);
    const started = Date.now();
    assert.equal(await check(`${BASE}0-000000.ts`, undefined, bytes('live segment X')), false);
    assert.ok(Date.now() - started < 500, 'a listed segment with the wrong bytes waits');
    assert.equal(await check(`${BASE}0-000000.ts`, { start: 10, end: 13 }, bytes('seg')), false, 'a part of a whole-segment hash');
    assert.equal(calls[0].cache, 'no-store', "a live's table is never the browser's cached copy");
    assert.equal(calls.length, 1);
  });
});

test("a live's segment listed a moment after the playlist: the table is fetched again until it is", async () => {
  const first = bytes('live segment 0');
  const next = bytes('live segment 1');
  const early = { '0-000000.ts': await sha(first) };
  const later = { ...early, '0-000001.ts': await sha(next) };
  await withTables([early, early, later], async (calls) => {
    const check = segmentHashes(`${BASE}segments-sha256.json`, { live: true, waitMs: 5000 });
    // Two checks of the missing segment at once share the fetches.
    const [a, b] = await Promise.all([check(`${BASE}0-000001.ts`, undefined, next), check(`${BASE}0-000001.ts`, undefined, next)]);
    assert.equal(a, true);
    assert.equal(b, true);
    assert.equal(calls.length, 3, `fetched ${calls.length} times`);
    for (let i = 1; i < calls.length; i += 1) {
      assert.ok(calls[i].at - calls[i - 1].at >= LIVE_HASH_REFETCH_MS - 50, 'fetched again sooner than a second later');
    }
  });
});

test("a live's segment never listed fails once the wait is over; a video's at once", async () => {
  await withTables([{ '0-000000.ts': 'ab' }], async (calls) => {
    const live = segmentHashes(`${BASE}segments-sha256.json`, { live: true, waitMs: 1500 });
    const started = Date.now();
    assert.equal(await live(`${BASE}0-000009.ts`, undefined, bytes('x')), false);
    const waited = Date.now() - started;
    assert.ok(waited >= 1500 && waited < 4000, `waited ${waited} ms`);
    assert.ok(calls.length >= 2, 'the table was not fetched again');
  });
  await withTables([null], async (calls) => {
    const vod = segmentHashes(`${BASE}segments-sha256.json`);
    assert.equal(await vod(`${BASE}v.mp4`, { start: 0, end: 0 }, bytes('x')), false, 'no table: rejected');
    assert.equal(await vod(`${BASE}v.mp4`, { start: 0, end: 0 }, bytes('x')), false);
    assert.equal(calls.length, 2, 'a table that failed is asked for again at the next segment');
  });
});
