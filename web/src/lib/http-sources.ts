// Where the player fetches a video's files over HTTP. The API's `playlistUrl` comes first: for a
// remote video that is this instance's edge cache, which fetched the origin's files once for all
// its viewers. When it fails (the origin down and the piece not cached, a segment that did not
// match its hash), the same file is fetched from the origin (`originPlaylistUrl`'s directory),
// and the failed place is left alone for a while. One list serves hls.js (playlists, init
// sections, segments without P2P) and p2p-media-loader's HTTP requests (segments with P2P).

import type { StreamingPlaylist } from '$lib/api/types';

/** How long a place that failed is skipped. */
export const FAILED_FOR_MS = 30_000;

function dir(url: string): string {
  return url.slice(0, url.lastIndexOf('/') + 1);
}

/** The directories that hold the video's files, in the order to try them. */
export function sourcesOf(playlist: StreamingPlaylist | undefined): string[] {
  if (!playlist?.playlistUrl) return [];
  const out = [dir(playlist.playlistUrl)];
  if (playlist.originPlaylistUrl) {
    const origin = dir(playlist.originPlaylistUrl);
    if (!out.includes(origin)) out.push(origin);
  }
  return out;
}

export class HttpSources {
  private readonly failedUntil = new Map<string, number>();
  /** Segment requests seen lately (a second one for the same bytes is a retry after a failure). */
  private readonly recent = new Map<string, { base: string; at: number }>();

  constructor(
    readonly bases: string[],
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** The place `url` is under, if it is one of ours. */
  baseOf(url: string): string | undefined {
    return this.bases.find((b) => url.startsWith(b));
  }

  /** `url` moved to the first place that has not failed lately (itself when none is known). */
  pick(url: string): string {
    const base = this.baseOf(url);
    if (!base) return url;
    const name = url.slice(base.length);
    const t = this.now();
    const ok = this.bases.find((b) => (this.failedUntil.get(b) ?? 0) <= t);
    return (ok ?? base) + name;
  }

  /** The place of `url` failed: the next request goes elsewhere (if anywhere else). */
  failed(url: string): void {
    const base = this.baseOf(url);
    if (base && this.bases.length > 1) this.failedUntil.set(base, this.now() + FAILED_FOR_MS);
  }

  /** Another place to try `url` after it failed, or `undefined` when there is none left. */
  next(url: string): string | undefined {
    this.failed(url);
    const picked = this.pick(url);
    return picked === url ? undefined : picked;
  }

  /**
   * p2p-media-loader's `httpRequestSetup`: the library retries a segment that failed over HTTP
   * (an error status, bytes that fail validation) with a new request for the same bytes, which
   * is how the failure is seen here; that place is then skipped.
   */
  requestSetup() {
    return async (
      segmentUrl: string,
      segmentByteRange: { start: number; end: number } | undefined,
      signal: AbortSignal,
      requestByteRange: { start: number; end?: number } | undefined,
    ): Promise<Request | undefined> => {
      const key = `${segmentUrl}|${segmentByteRange?.start ?? ''}`;
      const t = this.now();
      const before = this.recent.get(key);
      if (before && t - before.at < FAILED_FOR_MS && this.bases.length > 1) this.failedUntil.set(before.base, t + FAILED_FOR_MS);
      if (this.recent.size > 500) this.recent.clear();
      const target = this.pick(segmentUrl);
      this.recent.set(key, { base: this.baseOf(target) ?? '', at: t });
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
 * loads it from the next of `sources` before telling hls.js.
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
