// A video's files outside its HLS stream: which ones a download offers, and the file token that
// private, internal and password-protected videos need. Those files are served only with `?videoFileToken=` (from
// `POST /api/v1/videos/{id}/token`) or the Authorization header, which neither a <video src> nor
// a plain download link can send, so the player and the download dialog add the token.

import { Privacy, type VideoDetails, type VideoFile } from '$lib/api/types';

/**
 * Whether the video's files need a token: this instance's private, internal and password-protected
 * videos (the token of the last is given for the password, `x-peertube-video-password`).
 */
export function needsFileToken(video: VideoDetails): boolean {
  const p = video.privacy.id;
  return video.isLocal && (p === Privacy.Private || p === Privacy.Internal || p === Privacy.PasswordProtected);
}

/** `url` with `videoFileToken` set, or as it is without a token. */
export function withFileToken(url: string, token: string | null): string {
  if (!token) return url;
  const u = new URL(url, location.href);
  u.searchParams.set('videoFileToken', token);
  return u.href;
}

/**
 * The files a download offers, highest resolution first: the web videos (plain MP4s), else the
 * HLS stream's fragmented MP4s (an instance that makes no web videos), as PeerTube's modal does.
 */
export function downloadFiles(video: VideoDetails): VideoFile[] {
  const files = video.files.length > 0 ? video.files : (video.streamingPlaylists[0]?.files ?? []);
  return [...files].sort((a, b) => b.resolution.id - a.resolution.id);
}
