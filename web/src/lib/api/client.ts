// One way to call the REST API: JSON in and out, the access token attached, RFC 7807 errors
// turned into ApiError with a message a person can read.

import { t } from '$lib/i18n';
import { VIDEO_PASSWORD_HEADER, videoPasswordForPath } from '$lib/video-password';

/** An error answered by the API (or the network failing), with the server's own explanation. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string | null;
  /** Field name → message, from `invalid-params` on validation errors. */
  readonly fields: Record<string, string>;
  readonly retryAfter: number | null;

  constructor(status: number, message: string, code: string | null, fields: Record<string, string> = {}, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter;
  }
}

interface Problem {
  detail?: string;
  error?: string;
  code?: string;
  status?: number;
  'invalid-params'?: Record<string, { msg?: string }>;
}

/** Builds an ApiError from any response that is not a success. */
export async function errorFrom(res: Response): Promise<ApiError> {
  let problem: Problem = {};
  try {
    const text = await res.text();
    if (text) problem = JSON.parse(text) as Problem;
  } catch {
    // Not JSON (a proxy's HTML page, for example): fall back to the status.
  }
  return problemError(res.status, problem, res.headers.get('retry-after'));
}

export function problemError(status: number, problem: Problem, retryAfterHeader: string | null = null): ApiError {
  const fields: Record<string, string> = {};
  for (const [name, p] of Object.entries(problem['invalid-params'] ?? {})) {
    if (p.msg) fields[name] = p.msg;
  }
  const retryAfter = retryAfterHeader ? Number.parseInt(retryAfterHeader, 10) || null : null;
  const message = problem.detail || problem.error || statusMessage(status, retryAfter);
  return new ApiError(status, message, problem.code ?? null, fields, retryAfter);
}

function statusMessage(status: number, retryAfter: number | null): string {
  if (status === 401) return t('error.unauthorized');
  if (status === 403) return t('error.forbidden');
  if (status === 404) return t('error.notFound');
  if (status === 413) return t('error.tooLarge');
  if (status === 429) return retryAfter ? t('error.tooManyRetry', { seconds: retryAfter }) : t('error.tooMany');
  if (status >= 500) return t('error.server', { status });
  return t('error.generic', { status });
}

export function networkError(): ApiError {
  return new ApiError(0, t('error.network'), 'network_error');
}

/** The message to show for anything thrown while talking to the server. */
export function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (err instanceof Error && err.name === 'AbortError') return t('error.aborted');
  return t('error.unexpected');
}

export type Query = Record<string, string | number | boolean | null | undefined | string[]>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) for (const item of v) params.append(k, item);
    else params.set(k, String(v));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export interface RequestOptions {
  method?: string;
  query?: Query;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>;
  /** Sent as multipart/form-data. */
  multipart?: FormData;
  /** Sent as it is, with its own Content-Type (a CSV file, say). */
  raw?: { body: string; type: string };
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Lets the request outlive the page (reports sent on pagehide). */
  keepalive?: boolean;
}

/** Supplies and renews the access token; set by the session module. */
export interface TokenSource {
  token(): string | null;
  /** Tries to get a new access token after a 401; true when it did. */
  renew(): Promise<boolean>;
}

let tokens: TokenSource = { token: () => null, renew: () => Promise.resolve(false) };

export function setTokenSource(source: TokenSource): void {
  tokens = source;
}

export function accessToken(): string | null {
  return tokens.token();
}

/** Asks for a new access token (after a 401 outside api(), e.g. an upload chunk). */
export function renewToken(): Promise<boolean> {
  return tokens.renew();
}

/** Calls `/api/v1{path}` and returns the parsed JSON body (undefined for 204). */
export async function api<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await send(path, opts, true);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Calls `/api/v1{path}` for a body that is not JSON (a CSV export): its text, and its file name when it names one. */
export async function apiText(path: string, opts: RequestOptions = {}): Promise<{ text: string; filename: string | null }> {
  const res = await send(path, opts, true);
  const disposition = res.headers.get('content-disposition') ?? '';
  const filename = /filename="?([^";]+)"?/i.exec(disposition)?.[1] ?? null;
  return { text: await res.text(), filename };
}

async function send(path: string, opts: RequestOptions, mayRenew: boolean): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  let body: BodyInit | undefined;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.form) {
    body = new URLSearchParams(opts.form);
  } else if (opts.multipart) {
    body = opts.multipart;
  } else if (opts.raw) {
    headers['Content-Type'] = opts.raw.type;
    body = opts.raw.body;
  }
  const token = tokens.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  // A password-protected video the viewer opened: every call about it carries its password
  // (unless the caller sends one itself, as the password prompt does).
  const password = videoPasswordForPath(path);
  if (password && !(VIDEO_PASSWORD_HEADER in headers)) headers[VIDEO_PASSWORD_HEADER] = password;
  let res: Response;
  try {
    res = await fetch(withQuery(`/api/v1${path}`, opts.query), {
      method: opts.method ?? 'GET',
      headers,
      body,
      signal: opts.signal,
      keepalive: opts.keepalive,
      credentials: 'same-origin',
    });
  } catch (e) {
    if (e instanceof Error && e.name === 'AbortError') throw e;
    throw networkError();
  }
  if (res.ok) return res;
  if (res.status === 401 && token && mayRenew) {
    if (await tokens.renew()) return send(path, opts, false);
  }
  throw await errorFrom(res);
}
