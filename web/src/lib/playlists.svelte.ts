// The signed-in user's playlists, shared by every "Save to playlist" dialog of a page: asked once
// (`GET /accounts/:name/video-playlists`, where the owner also gets the private ones and Watch
// later), asked again after a change. Also what playing a playlist needs: the order to play
// its elements in (shuffle, loop) and the part of a video an element plays.

import { listAccountPlaylists } from '$lib/api/endpoints';
import { PlaylistElementType, PlaylistType, type VideoPlaylist, type VideoPlaylistElement } from '$lib/api/types';
import { session } from '$lib/session.svelte';

class MyPlaylists {
  /** Watch later first, then the others, last changed first; null until loaded. */
  list = $state<VideoPlaylist[] | null>(null);
}

export const myPlaylists = new MyPlaylists();

let loading: Promise<VideoPlaylist[]> | null = null;
let loadedFor: number | null = null;

/** The user's playlists (from memory unless `fresh`). */
export function loadMyPlaylists(fresh = false): Promise<VideoPlaylist[]> {
  const user = session.user;
  if (!user) return Promise.resolve([]);
  if (loadedFor !== user.id) {
    loading = null;
    myPlaylists.list = null;
  }
  if (fresh) loading = null;
  loading ??= (async () => {
    loadedFor = user.id;
    const all: VideoPlaylist[] = [];
    for (;;) {
      const page = await listAccountPlaylists(user.account.name, { start: all.length, count: 100, sort: '-updatedAt' });
      all.push(...page.data);
      if (page.data.length === 0 || all.length >= page.total) break;
    }
    const sorted = [...all.filter(isWatchLater), ...all.filter((p) => !isWatchLater(p))];
    myPlaylists.list = sorted;
    return sorted;
  })().catch((e: unknown) => {
    loading = null;
    throw e;
  });
  return loading;
}

export function isWatchLater(p: Pick<VideoPlaylist, 'type'>): boolean {
  return p.type.id === PlaylistType.WatchLater;
}

/** The user's Watch later playlist. */
export async function watchLater(): Promise<VideoPlaylist | null> {
  return (await loadMyPlaylists()).find(isWatchLater) ?? null;
}

/** An element whose video can be played (not private, unavailable or deleted for this viewer). */
export function playable(e: VideoPlaylistElement): e is VideoPlaylistElement & { video: NonNullable<VideoPlaylistElement['video']> } {
  return e.type === PlaylistElementType.Regular && e.video !== null;
}

/**
 * The element to play after `current` (positions): the next playable one in order, or in `shuffled`
 * order when shuffling; after the last, the first again when looping, else none.
 */
export function nextPosition(
  elements: VideoPlaylistElement[],
  current: number,
  opts: { loop: boolean; order?: number[] | null },
): number | null {
  const order = opts.order ?? elements.filter(playable).map((e) => e.position);
  const positions = elements.filter(playable).map((e) => e.position);
  const queue = order.filter((p) => positions.includes(p));
  if (queue.length === 0) return null;
  const at = queue.indexOf(current);
  if (at === -1) return queue.find((p) => p > current) ?? (opts.loop ? (queue[0] ?? null) : null);
  if (at + 1 < queue.length) return queue[at + 1] ?? null;
  return opts.loop ? (queue[0] ?? null) : null;
}

/** The positions of the playable elements in a random order that starts with `first`. */
export function shuffledOrder(elements: VideoPlaylistElement[], first: number): number[] {
  const rest = elements.filter(playable).map((e) => e.position).filter((p) => p !== first);
  for (let i = rest.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [rest[i], rest[j]] = [rest[j] as number, rest[i] as number];
  }
  return [first, ...rest];
}
