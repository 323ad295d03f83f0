// Where the player fetches a video's files over HTTP. Two groups of places hold the same file
// names. The primary places: the API's `playlistUrl` directory, and for a remote video that is
// this instance's edge cache (which fetched the origin's files once for all its viewers), then
// the origin (`originPlaylistUrl`'s directory). The mirrors: other servers' copies (PeerTube's
// redundancy, `redundancies[].baseUrl`), third parties whose segments are checked against the
// hashes before use (`fromMirror` tells the validator which ones). A place that failed (down, or
// a segment that did not match its hash) is left alone for a while. hls.js's loads (playlists,
// init sections, segments without P2P) use the primary places only; p2p-media-loader's segment
// requests also use the mirrors.

import type { StreamingPlaylist } from '$lib/api/types';

/** How long a place that failed is skipped. */
export const FAILED_FOR_MS = 30_000;

function dir(url: string): string {
  return url.slice(0, url.lastIndexOf('/') + 1);
}

/** The primary directories that hold the video's files, in the order to try them. */
export function sourcesOf(playlist: StreamingPlaylist | undefined): string[] {
  if (!playlist?.playlistUrl) return [];
  const out = [dir(playlist.playlistUrl)];
  if (playlist.originPlaylistUrl) {
    const origin = dir(playlist.originPlaylistUrl);
    if (!out.includes(origin)) out.push(origin);
  }
  return out;
}

/** The mirrors' directories (each once, none that is also a primary place). */
export function mirrorsOf(playlist: StreamingPlaylist | undefined): string[] {
  const primary = sourcesOf(playlist);
  const out: string[] = [];
  for (const { baseUrl } of playlist?.redundancies ?? []) {
    const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
    if (!primary.includes(base) && !out.includes(base)) out.push(base);
  }
  return out;
}

type ByteRange = { start: number; end: number };

function keyOf(url: string, byteRange: ByteRange | undefined): string {
  return `${url}|${byteRange?.start ?? ''}`;
}

export interface HttpSourcesOptions {
  mirrors?: string[];
  now?: () => number;
  /** In [0, 1), as `Math.random`: which place a segment goes to when they are spread. */
  random?: () => number;
}

export class HttpSources {
  readonly mirrors: string[];
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly failedUntil = new Map<string, number>();
  /**
   * Segment requests seen lately, by segment: where the last one went (a second one for the same
   * bytes is a retry after a failure), and the mirror whose bytes it holds, if any.
   */
  private readonly recent = new Map<string, { base: string | undefined; at: number; mirror: string | undefined }>();

  constructor(
    readonly bases: string[],
    options: HttpSourcesOptions = {},
  ) {
    this.mirrors = options.mirrors ?? [];
    this.now = options.now ?? (() => Date.now());
    this.random = options.random ?? Math.random;
  }

  /** Every place, primary first. */
  get places(): string[] {
    return [...this.bases, ...this.mirrors];
  }

  /** The place `url` is under, if it is one of ours. */
  baseOf(url: string): string | undefined {
    return this.places.find((b) => url.startsWith(b));
  }

  private healthy(base: string, t: number): boolean {
    return (this.failedUntil.get(base) ?? 0) <= t;
  }

  private skip(base: string, t: number): void {
    // A single place is never skipped: there would be nowhere else to go.
    if (this.places.length > 1) this.failedUntil.set(base, t + FAILED_FOR_MS);
  }

  /**
   * `url` moved to the first primary place that has not failed lately (itself when none is
   * known). For hls.js's loads: playlists and init sections are not hashed, so never a mirror's.
   */
  pick(url: string): string {
    const base = this.baseOf(url);
    if (!base) return url;
    const t = this.now();
    return (this.bases.find((b) => this.healthy(b, t)) ?? base) + url.slice(base.length);
  }

  /**
   * Where a segment request for `url` goes. An edge-served video (two primary places) keeps to
   * the edge, which is this instance: spreading would give up the one copy it fetched for all
   * viewers; the origin, then the mirrors, only when it fails. Otherwise the origin and the
   * mirrors share the load: a uniform random choice among those that have not failed lately,
   * as PeerTube's player does.
   */
  private pickSegment(url: string, t: number): string {
    const base = this.baseOf(url);
    if (!base) return url;
    const ok = this.places.filter((b) => this.healthy(b, t));
    const place = this.bases.length > 1 ? ok[0] : ok[Math.floor(this.random() * ok.length)];
    return (place ?? base) + url.slice(base.length);
  }

  /** The place of `url` failed: the next request goes elsewhere (if anywhere else). */
  failed(url: string): void {
    const base = this.baseOf(url);
    if (base) this.skip(base, this.now());
  }

  /** Another primary place to try `url` after it failed, or `undefined` when there is none left. */
  next(url: string): string | undefined {
    this.failed(url);
    const picked = this.pick(url);
    return picked === url ? undefined : picked;
  }

  /**
   * Where the last request for a segment (p2p-media-loader's `url` and `byteRange`, as the
   * playlist names it) went; the mirror when part of its bytes came from one before a resumed
   * download moved on.
   */
  placeOf(url: string, byteRange: ByteRange | undefined): string | undefined {
    const r = this.recent.get(keyOf(url, byteRange));
    return r && (r.mirror ?? r.base);
  }

  /** Whether a segment must be checked: it came from a mirror, or from a place not known. */
  fromMirror(url: string, byteRange: ByteRange | undefined): boolean {
    const place = this.placeOf(url, byteRange);
    return place === undefined || !this.bases.includes(place);
  }

  /**
   * p2p-media-loader's `httpRequestSetup`: each segment request goes where `pickSegment` says.
   * The library retries a segment that failed over HTTP (an error status, bytes that fail
   * validation) with a new request for the same bytes, which is how the failure is seen here;
   * that place is then skipped.
   */
  requestSetup() {
    return async (
      segmentUrl: string,
      segmentByteRange: ByteRange | undefined,
      signal: AbortSignal,
      requestByteRange: { start: number; end?: number } | undefined,
    ): Promise<Request | undefined> => {
      const key = keyOf(segmentUrl, segmentByteRange);
      const t = this.now();
      const before = this.recent.get(key);
      if (before?.base && t - before.at < FAILED_FOR_MS) this.skip(before.base, t);
      if (this.recent.size > 500) {
        for (const [k, r] of this.recent) if (t - r.at >= FAILED_FOR_MS) this.recent.delete(k);
      }
      const target = this.pickSegment(segmentUrl, t);
      const base = this.baseOf(target);
      // A download resumed after a break keeps the bytes it had: those from a mirror still need the check.
      const resumed = requestByteRange !== undefined && requestByteRange.start !== (segmentByteRange?.start ?? 0);
      const mirror = base && this.mirrors.includes(base) ? base : resumed ? before?.mirror : undefined;
      this.recent.set(key, { base, at: t, mirror });
      if (target === segmentUrl) return undefined;
      const headers = requestByteRange ? { Range: `bytes=${requestByteRange.start}-${requestByteRange.end ?? ''}` } : undefined;
      return new Request(target, { headers, signal });
    };
  }
}

/** What hls.js needs of a loader (its `Loader` interface, loosely typed to stay independent of its version). */
interface LoaderLike {
  context: unknown;
  stats: unknown;
  load(context: { url: string }, config: unknown, callbacks: Callbacks): void;
  abort(): void;
  destroy(): void;
  getCacheAge?: () => number | null;
  getResponseHeader?: (name: string) => string | null;
}

interface Callbacks {
  onError: (...args: unknown[]) => void;
  onTimeout: (...args: unknown[]) => void;
  [k: string]: unknown;
}

type LoaderClass = new (config: unknown) => LoaderLike;

/**
 * hls.js's loader (`Hls.DefaultConfig.loader`) that, when a file fails or times out at one place,
 * loads it from the next primary place of `sources` before telling hls.js.
 */
export function fallbackLoader(Base: LoaderClass, sources: HttpSources): LoaderClass {
  return class FallbackLoader implements LoaderLike {
    private inner: LoaderLike;

    constructor(private readonly hlsConfig: unknown) {
      this.inner = new Base(hlsConfig);
    }

    get context() {
      return this.inner.context;
    }

    get stats() {
      return this.inner.stats;
    }

    set stats(s) {
      this.inner.stats = s;
    }

    load(context: { url: string }, config: unknown, callbacks: Callbacks) {
      const attempt = (ctx: { url: string }) => {
        const retry = (original: (...args: unknown[]) => void) => (...args: unknown[]) => {
          const other = sources.next(ctx.url);
          if (!other) {
            original(...args);
            return;
          }
          // A loader is used once: the next place gets a fresh one, with the same statistics
          // (hls.js holds them as the fragment's) started again.
          const stats = this.inner.stats as { loaded: number; total: number; loading: { start: number; first: number; end: number } };
          stats.loaded = 0;
          stats.total = 0;
          stats.loading = { start: 0, first: 0, end: 0 };
          this.inner.destroy();
          this.inner = new Base(this.hlsConfig);
          this.inner.stats = stats;
          attempt({ ...ctx, url: other });
        };
        this.inner.load(ctx, config, { ...callbacks, onError: retry(callbacks.onError), onTimeout: retry(callbacks.onTimeout) });
      };
      attempt({ ...context, url: sources.pick(context.url) });
    }

    abort() {
      this.inner.abort();
    }

    destroy() {
      this.inner.destroy();
    }

    getCacheAge() {
      return this.inner.getCacheAge?.() ?? null;
    }

    getResponseHeader(name: string) {
      return this.inner.getResponseHeader?.(name) ?? null;
    }
  };
}
