// PeerTube's resumable upload protocol, in chunks, with progress inside each chunk (XHR upload
// events), pause and resume, and automatic retry after network errors that continues from the
// bytes the server already has instead of starting over. Videos, user archives (imports) and a
// video's new file (replacing its source) use the same protocol at different addresses: an
// UploadTarget says where and what the last answer holds.
//
//   POST /api/v1/videos/upload-resumable  (JSON metadata; X-Upload-Content-Length/-Type) → 201 Location
//   PUT  <Location>  Content-Range: bytes a-b/total  → 308 Range: bytes=0-n … then 200 {video}
//   PUT  <Location>  Content-Range: bytes */total (empty)  → 308 with the stored Range (a status query)
//   DELETE <Location> → cancels
//
// A replacement (`POST /api/v1/videos/:id/source/replace-resumable`, `{filename}`) ends with a
// 204 and no body instead of the 200: the video is the same, transcoded again.

import { accessToken, ApiError, networkError, problemError, renewToken } from '$lib/api/client';
import { t } from '$lib/i18n';

export type UploadState = 'starting' | 'uploading' | 'paused' | 'retrying' | 'failed' | 'done' | 'cancelled';

export interface CreatedVideo {
  id: number;
  uuid: string;
  shortUUID: string;
}

/** Where an upload goes, and what the answer to its last chunk holds. */
export interface UploadTarget<T> {
  /** Opens the session (`POST`); its answer's `Location` is where the chunks go. */
  path: string;
  /** `X-Upload-Content-Type`; the file's own type (or `application/octet-stream`) when absent. */
  contentType?: string;
  /**
   * What was created, from the JSON body of the last chunk's `200` (or `201`); `undefined` when
   * the last chunk is answered `204` without a body (a replaced video file).
   */
  result: (body: unknown) => T;
}

/** A video: `POST /videos/upload-resumable`, answered `{ video: { id, uuid, shortUUID } }`. */
export const VIDEO_UPLOAD: UploadTarget<CreatedVideo> = {
  path: '/api/v1/videos/upload-resumable',
  result: (body) => (body as { video: CreatedVideo }).video,
};

/** A user archive (PeerTube 6.1's import) into `userId`'s account, answered `{ userImport: { id } }`. */
export function userImportUpload(userId: number): UploadTarget<{ id: number }> {
  return {
    path: `/api/v1/users/${userId}/imports/import-resumable`,
    contentType: 'application/zip',
    result: (body) => (body as { userImport: { id: number } }).userImport,
  };
}

/**
 * A new file for video `videoId` (PeerTube 6.0's "replace the video file"): the last chunk is
 * answered `204`, after which the same video is transcoded again from the new file.
 */
export function videoSourceReplace(videoId: number | string): UploadTarget<{ videoId: number | string }> {
  return {
    path: `/api/v1/videos/${encodeURIComponent(videoId)}/source/replace-resumable`,
    result: () => ({ videoId }),
  };
}

export interface UploadCallbacks {
  onprogress?: (loaded: number, total: number, bytesPerSecond: number) => void;
  onstate?: (state: UploadState, detail?: { error?: ApiError; retryIn?: number }) => void;
}

const DEFAULT_CHUNK = 8 * 1024 * 1024;
const RETRY_DELAYS = [1, 2, 4, 8, 15, 30];

interface ChunkResult {
  status: number;
  range: string | null;
  retryAfter: string | null;
  body: string;
}

class Aborted extends Error {}

export class ResumableUpload<T = CreatedVideo> {
  readonly file: File;
  private readonly target: UploadTarget<T>;
  private readonly meta: Record<string, unknown>;
  private readonly chunkSize: number;
  private readonly cb: UploadCallbacks;
  private url: string | null = null;
  private offset = 0;
  private xhr: XMLHttpRequest | null = null;
  private state: UploadState = 'starting';
  private samples: { time: number; loaded: number }[] = [];
  private running = false;
  private waitTimer: ReturnType<typeof setTimeout> | undefined;
  private wake: (() => void) | null = null;
  result: T | null = null;

  constructor(target: UploadTarget<T>, file: File, meta: Record<string, unknown>, cb: UploadCallbacks = {}, chunkSize = DEFAULT_CHUNK) {
    this.target = target;
    this.file = file;
    this.meta = meta;
    this.cb = cb;
    this.chunkSize = chunkSize > 0 ? chunkSize : DEFAULT_CHUNK;
  }

  get loaded(): number {
    return this.offset;
  }

  /** Runs the upload to its end; resolves with what was created, or null when cancelled. */
  async start(): Promise<T | null> {
    if (this.running) return null;
    this.running = true;
    let attempt = 0;
    // After any interruption, ask the server what it has before sending more.
    let resync = false;
    try {
      for (;;) {
        if (this.state === 'cancelled') return null;
        if (this.state === 'paused') {
          await new Promise<void>((resolve) => (this.wake = resolve));
          continue;
        }
        try {
          if (!this.url) await this.init();
          else if (resync) await this.queryOffset();
          resync = false;
          this.set('uploading');
          const done = await this.sendChunks();
          if (done) {
            this.set('done');
            return this.result;
          }
          attempt = 0;
        } catch (e) {
          resync = true;
          if (e instanceof Aborted) continue;
          if (!(e instanceof ApiError) || !isTransient(e)) {
            this.set('failed', { error: e instanceof ApiError ? e : networkError() });
            // Wait for retry() or cancel().
            this.state = 'paused';
            await new Promise<void>((resolve) => (this.wake = resolve));
            attempt = 1;
            continue;
          }
          const delay = e.retryAfter ?? RETRY_DELAYS[Math.min(attempt, RETRY_DELAYS.length - 1)] ?? 30;
          attempt += 1;
          if (attempt > RETRY_DELAYS.length) {
            this.set('failed', { error: e });
            this.state = 'paused';
            await new Promise<void>((resolve) => (this.wake = resolve));
            attempt = 1;
            continue;
          }
          this.set('retrying', { error: e, retryIn: delay });
          await this.sleep(delay * 1000);
        }
      }
    } finally {
      this.running = false;
    }
  }

  pause(): void {
    if (this.state !== 'uploading' && this.state !== 'retrying') return;
    this.set('paused');
    this.interrupt();
  }

  /** Continues after pause() or after a failure. */
  resume(): void {
    if (this.state !== 'paused' && this.state !== 'failed') return;
    this.state = 'uploading';
    this.samples = [];
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  async cancel(): Promise<void> {
    if (this.state === 'done' || this.state === 'cancelled') return;
    this.set('cancelled');
    this.interrupt();
    const wake = this.wake;
    this.wake = null;
    wake?.();
    if (this.url) {
      const token = accessToken();
      await fetch(this.url, {
        method: 'DELETE',
        headers: token ? { Authorization: `Bearer ${token}` } : {},
      }).catch(() => undefined);
    }
  }

  private set(state: UploadState, detail?: { error?: ApiError; retryIn?: number }) {
    this.state = state;
    this.cb.onstate?.(state, detail);
  }

  private interrupt() {
    this.xhr?.abort();
    clearTimeout(this.waitTimer);
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.waitTimer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
    });
  }

  private async init(): Promise<void> {
    const res = await this.authorized(() =>
      fetch(this.target.path, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          'X-Upload-Content-Length': String(this.file.size),
          'X-Upload-Content-Type': this.target.contentType ?? (this.file.type || 'application/octet-stream'),
          ...this.auth(),
        },
        body: JSON.stringify({ filename: this.file.name, ...this.meta }),
      }),
    );
    const location = res.headers.get('location');
    if (!location) throw new ApiError(res.status, t('upload.noLocation'), 'internal_error');
    this.url = new URL(location, window.location.href).href;
    this.offset = 0;
  }

  /** Asks the server how many bytes it has (after an interruption). */
  private async queryOffset(): Promise<void> {
    const r = await this.put(null, `bytes */${this.file.size}`);
    this.apply(r);
  }

  /** Sends chunks until the file is complete (true) or an interruption (throws). */
  private async sendChunks(): Promise<boolean> {
    while (this.result === null) {
      if (this.state !== 'uploading') throw new Aborted();
      const end = Math.min(this.offset + this.chunkSize, this.file.size);
      const chunk = this.file.slice(this.offset, end);
      const r = await this.put(chunk, `bytes ${this.offset}-${end - 1}/${this.file.size}`);
      this.apply(r);
    }
    return true;
  }

  private apply(r: ChunkResult): void {
    if (r.status === 200 || r.status === 201 || r.status === 204) {
      this.result = this.target.result(r.status === 204 || !r.body ? undefined : JSON.parse(r.body));
      this.offset = this.file.size;
      this.report(this.offset);
      return;
    }
    let problem: { code?: string } = {};
    if (r.status !== 308) {
      try {
        problem = JSON.parse(r.body) as { code?: string };
      } catch {
        // Not JSON: the status speaks.
      }
    }
    // A 409 is a chunk that did not start where the stored bytes end (`upload_range_mismatch`,
    // with the stored Range); any other 409 is a refusal (an archive's import already running).
    if (r.status === 308 || (r.status === 409 && (r.range !== null || problem.code === 'upload_range_mismatch'))) {
      // Range: bytes=0-n says n+1 bytes are stored; no Range means nothing is.
      const m = r.range?.match(/bytes=\d+-(\d+)/);
      this.offset = m?.[1] !== undefined ? Number(m[1]) + 1 : 0;
      this.report(this.offset);
      return;
    }
    throw problemError(r.status, problem, r.retryAfter);
  }

  private report(loaded: number): void {
    const now = performance.now();
    this.samples.push({ time: now, loaded });
    while (this.samples.length > 2 && now - (this.samples[0]?.time ?? now) > 5000) this.samples.shift();
    const first = this.samples[0];
    const elapsed = first ? (now - first.time) / 1000 : 0;
    const speed = first && elapsed > 0.2 ? Math.max(0, (loaded - first.loaded) / elapsed) : 0;
    this.cb.onprogress?.(loaded, this.file.size, speed);
  }

  private auth(): Record<string, string> {
    const token = accessToken();
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  private async authorized(call: () => Promise<Response>): Promise<Response> {
    let res: Response;
    try {
      res = await call();
      if (res.status === 401 && (await renewToken())) res = await call();
    } catch {
      throw networkError();
    }
    if (!res.ok) {
      let problem: object;
      try {
        problem = (await res.json()) as object;
      } catch {
        problem = {};
      }
      throw problemError(res.status, problem, res.headers.get('retry-after'));
    }
    return res;
  }

  private async put(body: Blob | null, contentRange: string, renewed = false): Promise<ChunkResult> {
    const start = this.offset;
    const r = await new Promise<ChunkResult>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      xhr.open('PUT', this.url ?? '');
      for (const [k, v] of Object.entries(this.auth())) xhr.setRequestHeader(k, v);
      xhr.setRequestHeader('Content-Range', contentRange);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      if (body) {
        xhr.upload.onprogress = (e) => {
          if (this.state === 'uploading') this.report(start + e.loaded);
        };
      }
      xhr.onload = () =>
        resolve({
          status: xhr.status,
          range: xhr.getResponseHeader('Range'),
          retryAfter: xhr.getResponseHeader('Retry-After'),
          body: xhr.responseText,
        });
      xhr.onerror = () => reject(networkError());
      xhr.ontimeout = () => reject(networkError());
      xhr.onabort = () => reject(new Aborted());
      xhr.send(body);
    }).finally(() => {
      this.xhr = null;
    });
    if (r.status === 401 && !renewed && (await renewToken())) return this.put(body, contentRange, true);
    return r;
  }
}

/** Errors worth retrying by themselves: the network, a busy server, a chunk written concurrently. */
function isTransient(e: ApiError): boolean {
  return e.status === 0 || e.status === 429 || e.status === 502 || e.status === 503 || e.status === 504;
}
