// Who is signed in. The access token lives only in this module's memory; the refresh token lives
// in an httpOnly cookie (`flotilla_rt`) that script cannot read, set by the server when the token
// request carries `X-Token-Cookie: 1`. A page load restores the session by a refresh through
// that cookie.
// A refresh that fails on its way (the network, a page left mid-request) keeps the sign-in hint:
// only the server refusing the token signs out.

import { api, ApiError, errorFrom, networkError, setTokenSource } from '$lib/api/client';
import type { Token, User } from '$lib/api/types';
import { UserRole } from '$lib/api/types';

interface ClientCredentials {
  client_id: string;
  client_secret: string;
}

/** Not a secret: only a hint that a refresh is worth trying on the next page load. */
const HINT_KEY = 'flotilla.signedIn';

let accessToken: string | null = null;
/** Only kept when a server without cookie support returns it in the body; never persisted. */
let refreshToken: string | null = null;
let credentials: Promise<ClientCredentials> | null = null;
let renewing: Promise<boolean> | null = null;

class Session {
  user = $state<User | null>(null);
  /** True once the first attempt to restore the session has finished. */
  ready = $state(false);
  /** Counts the access tokens kept (log in, each refresh): what holds one open reconnects on a change. */
  tokenVersion = $state(0);

  get loggedIn(): boolean {
    return this.user !== null;
  }

  get isAdmin(): boolean {
    return this.user?.role.id === UserRole.Admin;
  }

  get isModerator(): boolean {
    return this.user !== null && this.user.role.id <= UserRole.Moderator;
  }
}

export const session = new Session();

setTokenSource({
  token: () => accessToken,
  renew: () => renew(),
});

function clientCredentials(): Promise<ClientCredentials> {
  credentials ??= api<ClientCredentials>('/oauth-clients/local').catch((e: unknown) => {
    credentials = null;
    throw e;
  });
  return credentials;
}

async function tokenRequest(fields: Record<string, string>, otp?: string): Promise<Token> {
  const { client_id, client_secret } = await clientCredentials();
  const headers: Record<string, string> = { Accept: 'application/json', 'X-Token-Cookie': '1' };
  // PeerTube's two-factor login: the code travels in a header beside the password grant.
  if (otp) headers['x-peertube-otp'] = otp;
  let res: Response;
  try {
    res = await fetch('/api/v1/users/token', {
      method: 'POST',
      headers,
      body: new URLSearchParams({ client_id, client_secret, ...fields }),
      credentials: 'same-origin',
    });
  } catch {
    throw networkError();
  }
  if (!res.ok) throw await errorFrom(res);
  return (await res.json()) as Token;
}

function keep(token: Token): void {
  accessToken = token.access_token;
  refreshToken = token.refresh_token ?? null;
  session.tokenVersion += 1;
  try {
    localStorage.setItem(HINT_KEY, '1');
  } catch {
    // Storage may be disabled; the session then lasts as long as the page.
  }
}

function forget(): void {
  accessToken = null;
  refreshToken = null;
  session.user = null;
  try {
    localStorage.removeItem(HINT_KEY);
  } catch {
    // Nothing to forget.
  }
}

/** Reloads the signed-in user (after a change to the profile, for example). */
export async function reloadUser(): Promise<void> {
  session.user = await api<User>('/users/me');
}

/**
 * Logs in. A user with two-factor on is refused with `missing_two_factor` until `otp` (a code of
 * their authenticator app) comes along; a wrong or used code is `invalid_two_factor`.
 */
export async function login(username: string, password: string, otp?: string): Promise<void> {
  const token = await tokenRequest({ grant_type: 'password', username, password }, otp);
  keep(token);
  try {
    await reloadUser();
  } catch (e) {
    forget();
    throw e;
  }
}

/**
 * Whether the server refused the session itself (a spent, expired or unknown refresh token, a
 * blocked user), rather than the request failing on its way: the network, a page left while the
 * request was in flight (the browser cancels it), a rate limit, a server error. Only a refusal
 * signs out: otherwise the refresh cookie is still good and the next page load tries it again.
 */
function refused(e: unknown): boolean {
  return e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429;
}

/** Gets a new access token from the refresh cookie (or the in-memory refresh token). */
function renew(): Promise<boolean> {
  renewing ??= (async () => {
    try {
      const fields: Record<string, string> = { grant_type: 'refresh_token' };
      if (refreshToken) fields.refresh_token = refreshToken;
      keep(await tokenRequest(fields));
      return true;
    } catch (e) {
      if (refused(e)) forget();
      return false;
    } finally {
      renewing = null;
    }
  })();
  return renewing;
}

let restoring: Promise<void> | null = null;

/**
 * Restores the session from the refresh cookie if there is one; runs once, and every later call
 * waits for that same attempt (pages that need the user call it before deciding anything).
 */
export function restoreSession(): Promise<void> {
  restoring ??= (async () => {
    let hinted: boolean;
    try {
      hinted = localStorage.getItem(HINT_KEY) === '1';
    } catch {
      hinted = false;
    }
    try {
      if (hinted && (await renew())) await reloadUser();
    } catch (e) {
      if (refused(e)) forget();
      // Not signed in on this page (the user could not be loaded), but the next load tries again.
      else accessToken = null;
    } finally {
      session.ready = true;
    }
  })();
  return restoring;
}

export async function logout(): Promise<void> {
  try {
    if (accessToken) await api('/users/revoke-token', { method: 'POST', headers: { 'X-Token-Cookie': '1' } });
  } catch {
    // The token may have expired already; signing out here is what matters.
  } finally {
    forget();
  }
}
