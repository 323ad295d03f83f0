// The signed-in user's notifications as they happen: the unread count from the server's event
// stream (`GET /api/v1/users/me/notifications/stream`, server-sent events read through fetch,
// since EventSource cannot send the bearer token), each new notification handed to whoever
// listens (the bell's list, the notifications page), and reading them, which keeps the count.
//
//   connect() ──fetch──> event: unread {n}         → unread = n, live
//                        event: notification {…}   → unread + 1, listeners get it
//                        event: lagged             → the count and the lists reload
//              <─ends── dropped, server stopped     → wait 1, 2, 4 … 60 s (jitter), connect again
//   401 → one token renewal (the session then changes its token and the stream starts over)
//   a new access token (refresh, log in) → the stream starts over with it
//   page hidden for a minute → closed (a browser holds only 6 connections per host over
//   HTTP/1.1, and every tab holds one); visible again → connected, the count read afresh

import { accessToken, renewToken } from '$lib/api/client';
import { listNotifications, markAllNotificationsRead, markNotificationsRead } from '$lib/api/endpoints';
import type { UserNotification } from '$lib/api/types';
import { EventStreamParser, reconnectDelay, type ServerEvent } from '$lib/event-stream';

const STREAM_URL = '/api/v1/users/me/notifications/stream';
const CLOSE_WHEN_HIDDEN_MS = 60_000;
/** A stream refused with 401 renews the token once in this time, then only retries. */
const RENEW_AT_MOST_EVERY_MS = 60_000;

let lastRenewal = 0;
/** Streams opened for this user: after the first, an opening may follow missed notifications. */
let connections = 0;

export type NotificationChange =
  /** A new notification arrived. */
  | { kind: 'new'; notification: UserNotification }
  /** Some were read, here or in another list on this page. */
  | { kind: 'read'; ids: number[] }
  | { kind: 'read-all' }
  /** Some may have been missed (the stream lagged or reconnected): lists load again. */
  | { kind: 'reload' };

class NotificationState {
  /** Unread notifications on the server; null until the stream or a list first tells. */
  unread = $state<number | null>(null);
  /** The stream is open and has told the count. */
  live = $state(false);
}

export const notifications = new NotificationState();

type Listener = (change: NotificationChange) => void;

/** Not reactive state: a plain list of callbacks, replaced on each change. */
let listeners: readonly Listener[] = [];

/** Calls `fn` with every change from now on; returns what stops it (an $effect's cleanup). */
export function onNotificationChange(fn: Listener): () => void {
  listeners = [...listeners, fn];
  return () => {
    listeners = listeners.filter((l) => l !== fn);
  };
}

function emit(change: NotificationChange): void {
  for (const fn of listeners) fn(change);
}

/**
 * Marks these notifications read; the ones among them that were unread lower the count. Throws
 * what the server answered.
 *
 * While the stream is live the count is left to it: the server sends the new count after every
 * read, and that event may come before this answer does (a busy server), so lowering it here too
 * would count the read twice. Without the stream, the count is lowered here.
 */
export async function markRead(items: UserNotification[]): Promise<void> {
  const ids = items.filter((n) => !n.read).map((n) => n.id);
  if (ids.length === 0) return;
  await markNotificationsRead(ids);
  if (!notifications.live && notifications.unread !== null) {
    notifications.unread = Math.max(0, notifications.unread - ids.length);
  }
  emit({ kind: 'read', ids });
}

/** As [`markRead`]: a live stream sends the count (0, or more if one came since). */
export async function markAllRead(): Promise<void> {
  await markAllNotificationsRead();
  if (!notifications.live) notifications.unread = 0;
  emit({ kind: 'read-all' });
}

/** Reads the count from the list (after a lag, when the stream is down). */
async function recount(): Promise<void> {
  try {
    notifications.unread = (await listNotifications({ unread: true, start: 0, count: 1 })).total;
  } catch {
    // The stream's next `unread` event will tell.
  }
}

type Outcome = 'ended' | 'refused' | 'unauthorized';

/**
 * Opens the stream and keeps it open (reconnecting) until the returned function is called. Call it
 * again for a new user or a new token; one stream at a time.
 */
export function connectNotifications(): () => void {
  let run: AbortController | null = null;
  let hiddenTimer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;

  function start() {
    if (stopped || run) return;
    const controller = new AbortController();
    run = controller;
    void loop(controller.signal).finally(() => {
      if (run === controller) run = null;
    });
  }

  function pause() {
    run?.abort();
    run = null;
    notifications.live = false;
  }

  async function loop(signal: AbortSignal) {
    let attempt = 0;
    while (!signal.aborted) {
      const token = accessToken();
      const outcome = token ? await readStream(token, signal) : 'unauthorized';
      if (signal.aborted) return;
      if (outcome === 'ended') attempt = 0;
      if (outcome === 'unauthorized' && Date.now() - lastRenewal > RENEW_AT_MOST_EVERY_MS) {
        lastRenewal = Date.now();
        // A new token changes session.tokenVersion, whose owner then starts the stream over (the
        // pause lets it abort this one first). A refused one signs the user out, which closes
        // the bell and stops this; one lost on its way (the network) leaves the user signed in,
        // so the stream is tried again after the usual wait, as after any dropped connection.
        if (await renewToken()) {
          await wait(0, signal);
          continue;
        }
      }
      await wait(reconnectDelay(attempt), signal);
      attempt += 1;
    }
  }

  async function readStream(token: string, signal: AbortSignal): Promise<Outcome> {
    let res: Response;
    try {
      res = await fetch(STREAM_URL, {
        headers: { Accept: 'text/event-stream', Authorization: `Bearer ${token}` },
        credentials: 'same-origin',
        cache: 'no-store',
        signal,
      });
    } catch {
      return 'refused';
    }
    if (res.status === 401) return 'unauthorized';
    if (!res.ok || !res.body) return 'refused';
    const reconnected = connections > 0;
    connections += 1;
    const parser = new EventStreamParser();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let opened = false;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.feed(value)) {
          if (handle(event) === 'unread' && !opened) {
            opened = true;
            // Whatever came while we were away is only in the lists: they load again.
            if (reconnected) emit({ kind: 'reload' });
          }
        }
      }
    } catch {
      // Dropped, or aborted by pause()/stop().
    } finally {
      notifications.live = false;
      reader.cancel().catch(() => undefined);
    }
    return opened ? 'ended' : 'refused';
  }

  function handle(event: ServerEvent): string | null {
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      return null;
    }
    if (event.event === 'unread') {
      const n = (data as { unread?: unknown }).unread;
      if (typeof n !== 'number') return null;
      notifications.unread = n;
      notifications.live = true;
      return 'unread';
    }
    if (event.event === 'notification') {
      const notification = data as UserNotification;
      if (typeof notification?.id !== 'number') return null;
      if (!notification.read) notifications.unread = (notifications.unread ?? 0) + 1;
      emit({ kind: 'new', notification });
      return 'notification';
    }
    if (event.event === 'lagged') {
      void recount();
      emit({ kind: 'reload' });
      return 'lagged';
    }
    return null;
  }

  function onVisibility() {
    clearTimeout(hiddenTimer);
    if (document.visibilityState === 'hidden') {
      hiddenTimer = setTimeout(pause, CLOSE_WHEN_HIDDEN_MS);
    } else if (!run) {
      start();
    }
  }

  document.addEventListener('visibilitychange', onVisibility);
  start();

  return () => {
    stopped = true;
    clearTimeout(hiddenTimer);
    document.removeEventListener('visibilitychange', onVisibility);
    pause();
  };
}

/** Forgets the count (signed out). */
export function resetNotifications(): void {
  notifications.unread = null;
  notifications.live = false;
  connections = 0;
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
