// The addresses of the instance's syndication feeds (PeerTube's /feeds/…): RSS 2.0 with Media RSS
// (`.xml`), Atom (`.atom`), JSON Feed (`.json`), and the podcast feed of a channel. Pages name
// theirs in <head> as `<link rel="alternate">` (FeedLinks.svelte), where feed readers find them.

export type FeedFormat = 'rss' | 'atom' | 'json';

const extension: Record<FeedFormat, string> = { rss: 'xml', atom: 'atom', json: 'json' };

/** The MIME type a `<link rel="alternate">` announces for each format. */
export const feedType: Record<FeedFormat | 'podcast', string> = {
  rss: 'application/rss+xml',
  atom: 'application/atom+xml',
  json: 'application/feed+json',
  podcast: 'application/rss+xml',
};

export interface Feed {
  format: FeedFormat | 'podcast';
  href: string;
  title: string;
}

function build(path: string, query: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** Videos: the instance's (local ones only with `isLocal`), a channel's or an account's. */
export function videosFeed(format: FeedFormat, scope: { videoChannelId?: number; accountId?: number; isLocal?: boolean } = {}): string {
  return build(`/feeds/videos.${extension[format]}`, { ...scope, isLocal: scope.isLocal || undefined });
}

/** The comments of one video. */
export function commentsFeed(videoId: number, format: FeedFormat = 'rss'): string {
  return build(`/feeds/video-comments.${extension[format]}`, { videoId });
}

/** The videos of the channels a user follows: private, read with the user's feed token. */
export function subscriptionsFeed(accountId: number, token: string, format: FeedFormat = 'rss'): string {
  return build(`/feeds/subscriptions.${extension[format]}`, { accountId, token });
}

/** A channel's podcast (RSS with the podcast namespace and enclosures). */
export function podcastFeed(videoChannelId: number): string {
  return build('/feeds/podcast/videos.xml', { videoChannelId });
}

/** An address as a feed reader needs it: absolute. */
export function absolute(href: string): string {
  return new URL(href, location.origin).href;
}
