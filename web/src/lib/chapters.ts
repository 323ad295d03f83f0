// A video's chapters (PeerTube's `GET /api/v1/videos/{id}/chapters`): which one the player is in,
// and where each starts on the progress bar. Titles are plain text, shown as text only.

import type { VideoChapter } from '$lib/api/types';

/** The chapter playing at `seconds` (the last one started by then), or null before the first. */
export function chapterAt(chapters: VideoChapter[], seconds: number): VideoChapter | null {
  let current: VideoChapter | null = null;
  for (const c of chapters) {
    if (c.timecode <= seconds) current = c;
    else break;
  }
  return current;
}

/**
 * Where the progress bar marks a chapter's start, in percent of `duration`: every chapter but one
 * at 0 (the bar's own start), and none at or past the end.
 */
export function chapterMarks(chapters: VideoChapter[], duration: number): number[] {
  if (!(duration > 0)) return [];
  return chapters.filter((c) => c.timecode > 0 && c.timecode < duration).map((c) => (c.timecode / duration) * 100);
}
