import type { ParamMatcher } from '@sveltejs/kit';

/** The video lists of the home page, at PeerTube's URLs (/videos/trending …). */
export const match: ParamMatcher = (param) =>
  param === 'recently-added' || param === 'trending' || param === 'local' || param === 'subscriptions';
