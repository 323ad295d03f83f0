// Lives (PeerTube's live API): where a live stands (waiting for its stream, streaming, ended),
// how often a page asks about one, the player's settings for each latency mode, and what the
// pages say about a live and its sessions. There is no push channel for a live's changes: the
// pages ask `GET /videos/:id` every LIVE_POLL_MS while it waits or streams.

import { getVideo } from '$lib/api/endpoints';
import { LiveLatencyMode, LiveSessionError, VideoState, type LiveSession, type Video, type VideoDetails } from '$lib/api/types';
import { t, type MessageKey } from '$lib/i18n';

/** How often a page asks about a live that waits or streams (PeerTube's client: every few seconds over its socket). */
export const LIVE_POLL_MS = 4000;

/** A live whose stream is on now. */
export const liveStreaming = (v: Pick<Video, 'isLive' | 'state'>): boolean => v.isLive && v.state?.id === VideoState.Published;

/** A live waiting for its (next) stream. */
export const liveWaiting = (v: Pick<Video, 'isLive' | 'state'>): boolean => v.isLive && v.state?.id === VideoState.WaitingForLive;

/** A live whose stream has ended, for good (a permanent live waits again instead). */
export const liveEnded = (v: Pick<Video, 'isLive' | 'state'>): boolean => v.isLive && v.state?.id === VideoState.LiveEnded;

/** A live that may still change by itself: the pages keep asking about it. */
export const liveFollowed = (v: Pick<Video, 'isLive' | 'state'>): boolean => liveWaiting(v) || liveStreaming(v);

/**
 * What a list says in place of a live's duration: "LIVE" while it streams, else where it stands
 * ("Waiting for live", "Live ended"); null for a video that is not a live.
 */
export function liveLabel(v: Pick<Video, 'isLive' | 'state'>): string | null {
  if (!v.isLive) return null;
  if (liveStreaming(v)) return t('video.live');
  if (v.state) return t(`state.${v.state.id}` as MessageKey);
  return t('video.live');
}

/** The latency modes, in the order the forms offer them. */
export const LATENCY_MODES = [LiveLatencyMode.Default, LiveLatencyMode.Small, LiveLatencyMode.High] as const;

export const latencyName = (mode: number): string =>
  t(`live.latency.${(LATENCY_MODES as readonly number[]).includes(mode) ? mode : LiveLatencyMode.Default}` as MessageKey);

export const latencyHelp = (mode: number): string =>
  t(`live.latencyHelp.${(LATENCY_MODES as readonly number[]).includes(mode) ? mode : LiveLatencyMode.Default}` as MessageKey);

/**
 * hls.js's distance from the live edge, in segments, per latency mode (PeerTube's player: 2 for
 * small latency, 10 for high, 5 otherwise).
 */
export function liveSyncDurationCount(mode: number): number {
  if (mode === LiveLatencyMode.Small) return 2;
  if (mode === LiveLatencyMode.High) return 10;
  return 5;
}

/**
 * The longest a page keeps playing a live after its stream stopped (the viewer was behind the edge:
 * at most hls.js's distance from it, 10 segments of 4 s at high latency, and some slack), before it
 * says the live ended even if the player has not reached the end (paused, stalled).
 */
export const LIVE_PLAY_OUT_MS = 90_000;

/** Whether the player inside `box` is playing now: a live whose stream stops then plays on to its end. */
export function livePlaying(box: ParentNode | null | undefined): boolean {
  const media = box?.querySelector('video');
  return !!media && !media.paused && !media.ended;
}

/** Small latency is played over HTTP only, as PeerTube does: waiting for peers would add delay. */
export const liveP2PAllowed = (mode: number): boolean => mode !== LiveLatencyMode.Small;

/**
 * hls.js's retries of a live's playlists. The stream turns on (state 1) a moment before the
 * server has written its playlists, which answer 404 until then; hls.js retries no 4xx by itself.
 */
export const LIVE_PLAYLIST_RETRY = {
  maxNumRetry: 10,
  retryDelayMs: 1000,
  maxRetryDelayMs: 4000,
  shouldRetry: (config: { maxNumRetry: number } | null | undefined, count: number, _timeout: boolean, response: { code?: number } | undefined, retry: boolean) =>
    retry || (count < (config?.maxNumRetry ?? 0) && response?.code === 404),
};

/** Why a session stopped, in words; null when it ended as its creator stopped it. */
export function sessionErrorText(s: Pick<LiveSession, 'error'>): string | null {
  if (s.error == null) return null;
  const known: number[] = Object.values(LiveSessionError);
  return known.includes(s.error) ? t(`live.sessionError.${s.error}` as MessageKey) : t('live.sessionErrorOther', { code: s.error });
}

/**
 * Asks for a live every `everyMs` while it waits or streams, handing each answer to `onvideo`,
 * until it has ended for good or the returned function is called. A failed request is tried
 * again at the next tick.
 */
export function followLive(id: string, onvideo: (v: VideoDetails) => void, everyMs = LIVE_POLL_MS): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const tick = async () => {
    try {
      const v = await getVideo(id);
      if (stopped) return;
      onvideo(v);
      if (!liveFollowed(v)) return;
    } catch {
      if (stopped) return;
    }
    timer = setTimeout(() => void tick(), everyMs);
  };
  timer = setTimeout(() => void tick(), everyMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
