// Peer-to-peer playback (p2p-media-loader 2 over hls.js): when it is allowed, the tuned settings,
// the SHA-256 check of every segment a peer or a mirror sends, and the counters the stats panel,
// the tests and the playback metrics read. The libraries themselves are imported by the player only.

import type { ServerConfig, User, VideoDetails } from '$lib/api/types';

export interface P2PStats {
  /** P2P is used for this playback. */
  p2pEnabled: boolean;
  /** Peers connected right now. */
  peers: number;
  /** Bytes received over HTTP (segments and init segments). */
  httpBytes: number;
  /** Bytes received from peers, including any a hash check then rejected. */
  p2pBytes: number;
  /** Bytes sent to peers. */
  uploadedBytes: number;
  /** Bytes of segments that completed, by where they came from. */
  segmentBytesHttp: number;
  segmentBytesP2P: number;
  /** Segments from peers whose SHA-256 did not match the server's (refetched over HTTP). */
  p2pRejected: number;
  /** Player errors (hls.js and segment errors). */
  errors: number;
  /** How long the player waited for peers before its first HTTP segment (0 when alone). */
  httpDelayMs: number;
}

declare global {
  interface Window {
    /** The current player's P2P counters, read by the browser tests. */
    __flotillaP2P?: P2PStats;
  }
}

export function emptyStats(p2pEnabled = false): P2PStats {
  return {
    p2pEnabled,
    peers: 0,
    httpBytes: 0,
    p2pBytes: 0,
    uploadedBytes: 0,
    segmentBytesHttp: 0,
    segmentBytesP2P: 0,
    p2pRejected: 0,
    errors: 0,
    httpDelayMs: 0,
  };
}

/**
 * P2P is used when the instance runs its tracker and enables P2P for the web app, the video has
 * trackers (a remote video's are its origin's), and the signed-in viewer did not turn it off
 * (anonymous viewers: on).
 */
export function p2pAllowed(config: ServerConfig | null, video: VideoDetails, user: User | null): boolean {
  if (!config || config.tracker?.enabled !== true) return false;
  if (config.defaults?.p2p?.webapp?.enabled === false) return false;
  if (video.trackerUrls.length === 0) return false;
  return user?.p2pEnabled !== false;
}

/** How long a viewer who joins others waits for them before its first HTTP segment. */
export const JOINING_HTTP_DELAY_MS = 1500;

/**
 * Asks the tracker (a WebTorrent `scrape`) whether anyone else is in the video's swarms, so that
 * only a viewer who has peers to take segments from waits for them; a viewer alone starts over
 * HTTP at once. Any doubt (no answer within `timeoutMs`, an error, a refusal) means "alone".
 */
export function swarmHasPeers(video: VideoDetails, timeoutMs = 1000): Promise<boolean> {
  const tracker = video.trackerUrls[0];
  const hashes = video.streamingPlaylists[0]?.p2pMediaLoaderInfohashes ?? [];
  if (!tracker || hashes.length === 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    let ws: WebSocket;
    const done = (answer: boolean) => {
      clearTimeout(timer);
      try {
        ws.close();
      } catch {
        // Already closed.
      }
      resolve(answer);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    try {
      ws = new WebSocket(tracker);
    } catch {
      done(false);
      return;
    }
    ws.onopen = () => ws.send(JSON.stringify({ action: 'scrape', info_hash: hashes }));
    ws.onerror = () => done(false);
    ws.onclose = () => done(false);
    ws.onmessage = (e) => {
      try {
        const files = (JSON.parse(String(e.data)) as { files?: Record<string, { complete?: number; incomplete?: number }> }).files ?? {};
        done(Object.values(files).some((f) => (f.complete ?? 0) + (f.incomplete ?? 0) > 0));
      } catch {
        done(false);
      }
    };
  });
}

/**
 * The tuned VOD settings measured on loopback (see docs: shared notes on P2P). `othersWatching`
 * (from [swarmHasPeers]) decides the initial HTTP delay. A live (`live`; the library finds out by
 * itself that the playlist is live and plays it so) keeps PeerTube's shorter urgent window.
 */
export function coreConfig(config: ServerConfig | null, video: VideoDetails, othersWatching: boolean, live = false) {
  return {
    announceTrackers: [...video.trackerUrls],
    // Never the library's public STUN servers: the instance's own, or none.
    rtcConfig: { iceServers: (config?.webrtc?.stunServers ?? []).map((urls) => ({ urls })) },
    // Only the next 6 s (4 s for a live, as PeerTube's player) are urgent (fetched over HTTP when
    // a slot is free); the rest is left to peers.
    highDemandTimeWindow: live ? 4 : 6,
    simultaneousHttpDownloads: 1,
    // Someone else is watching: give the connection to them a moment before the first HTTP segment.
    httpDownloadInitialTimeoutMs: othersWatching ? JOINING_HTTP_DELAY_MS : 0,
  };
}

/**
 * `segments-sha256.json`: a VOD's maps a fragment file name to `"<start>-<end>"` (inclusive byte
 * range) → SHA-256 hex; a live's is flat, a segment file name → the SHA-256 of the whole segment.
 */
type Hashes = Record<string, string | Record<string, string>>;
type ByteRange = { start: number; end: number };
export type SegmentCheck = (url: string, byteRange: ByteRange | undefined, data: ArrayBuffer) => Promise<boolean>;

/** How long a live's check waits for a segment its hash file does not list yet (PeerTube's player: ten tries a second apart). */
export const LIVE_HASH_WAIT_MS = 10_000;
/** A live's hash file is fetched again at most this often while a segment is missing from it. */
export const LIVE_HASH_REFETCH_MS = 1000;

function hex(buf: ArrayBuffer): string {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The hash a segment must have, from either form of the table: `undefined` when its file is not
 * listed (a live's may be listed a moment after its playlist), `null` when it is listed without
 * this part (never right).
 */
function expectedHash(table: Hashes, name: string, byteRange: ByteRange | undefined, size: number): string | null | undefined {
  const entry = table[name];
  if (entry === undefined) return undefined;
  if (typeof entry === 'string') {
    // A whole segment's hash: only the whole segment can match it.
    return !byteRange || (byteRange.start === 0 && byteRange.end === size - 1) ? entry : null;
  }
  return entry[byteRange ? `${byteRange.start}-${byteRange.end}` : `0-${size - 1}`] ?? null;
}

/**
 * The check of a segment against the server's `segments-sha256.json` (either form above;
 * p2p-media-loader-hlsjs gives byte ranges with an inclusive `end` as well). Anything not found
 * there fails. The table is fetched on the first check, once for every validator built on it. For
 * a live (`live`), a segment not listed yet makes the check fetch the table again (at most once a
 * second, without the browser's cache) until it is, for up to `waitMs`: the server
 * writes the hash just after the playlist names the segment.
 */
export function segmentHashes(
  sha256Urls: string | string[],
  { live = false, waitMs = LIVE_HASH_WAIT_MS }: { live?: boolean; waitMs?: number } = {},
): SegmentCheck {
  let hashes: Promise<Hashes | null> | null = null;
  let fetchedAt = 0;
  // Several places may hold the file (the edge cache, then the origin): the first that answers.
  const fetchFirst = async (): Promise<Hashes | null> => {
    for (const url of Array.isArray(sha256Urls) ? sha256Urls : [sha256Urls]) {
      try {
        const r = await fetch(url, { credentials: 'same-origin', cache: live ? 'no-store' : 'default' });
        if (r.ok) return (await r.json()) as Hashes;
      } catch {
        // The next place.
      }
    }
    return null;
  };
  const load = (again = false) => {
    if (again && Date.now() - fetchedAt >= LIVE_HASH_REFETCH_MS) hashes = null;
    if (!hashes) {
      fetchedAt = Date.now();
      hashes = fetchFirst().then((h) => {
        if (!h) hashes = null; // try again on the next segment
        return h;
      });
    }
    return hashes;
  };
  return async (url, byteRange, data) => {
    const name = decodeURIComponent(new URL(url, location.href).pathname.split('/').pop() ?? '');
    const deadline = Date.now() + (live ? waitMs : 0);
    let table = await load();
    for (;;) {
      const expected = table ? expectedHash(table, name, byteRange, data.byteLength) : undefined;
      if (expected === null) return false;
      if (expected !== undefined) return hex(await crypto.subtle.digest('SHA-256', data)) === expected.toLowerCase();
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, LIVE_HASH_REFETCH_MS));
      table = await load(true);
    }
  };
}

/**
 * `validateP2PSegment`: every segment a peer sends is checked (a rejected one is fetched over
 * HTTP by the library). `onReject` counts rejections.
 */
export function segmentValidator(check: SegmentCheck, onReject: () => void): SegmentCheck {
  return async (url, byteRange, data) => {
    const ok = await check(url, byteRange, data);
    if (!ok) onReject();
    return ok;
  };
}

/**
 * `validateHTTPSegment`: a segment from a mirror, a third party, is checked like a peer's (a
 * rejected one is requested again, elsewhere: see `HttpSources.requestSetup`); one from the edge
 * cache or the origin is taken as it is. `fromMirror` says which (p2p-media-loader gives the
 * playlist's URL, not the one requested).
 */
export function mirrorSegmentValidator(check: SegmentCheck, fromMirror: (url: string, byteRange: ByteRange | undefined) => boolean): SegmentCheck {
  return async (url, byteRange, data) => !fromMirror(url, byteRange) || check(url, byteRange, data);
}

/**
 * Test-only: `?p2pCorrupt=1` in the page URL, or `localStorage['flotilla.p2pCorrupt'] = '1'`, makes
 * this viewer send damaged segment data to its peers (see `p2p-test-corrupt.ts`). Its own playback
 * and what it receives are not affected. Always false outside a test-hooks build.
 */
export function corruptUploadsRequested(): boolean {
  if (!__FLOTILLA_TEST_HOOKS__) return false;
  try {
    if (new URLSearchParams(location.search).get('p2pCorrupt') === '1') return true;
    return localStorage.getItem('flotilla.p2pCorrupt') === '1';
  } catch {
    return false;
  }
}
