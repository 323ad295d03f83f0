// The progress bar's hover preview: which sprite of a video's storyboard (PeerTube's
// `GET /api/v1/videos/{id}/storyboards`: one JPEG sheet of equal sprites, left to right then top
// to bottom, sprite i covering [i × spriteDuration, (i + 1) × spriteDuration)) shows a time, and
// the CSS that cuts it out of the sheet.

import type { VideoStoryboard } from '$lib/api/types';

/** The index of the sprite that shows `seconds`, within the sheet. */
export function spriteIndex(board: VideoStoryboard, seconds: number): number {
  const columns = Math.max(1, Math.floor(board.totalWidth / board.spriteWidth));
  const rows = Math.max(1, Math.floor(board.totalHeight / board.spriteHeight));
  const index = board.spriteDuration > 0 ? Math.floor(Math.max(0, seconds) / board.spriteDuration) : 0;
  return Math.min(index, columns * rows - 1);
}

/**
 * The background that shows the sprite for `seconds` in a box `scale` times the sprite's size:
 * `background-size` (the sheet scaled alike) and `background-position` (negative offsets).
 */
export function spriteBackground(board: VideoStoryboard, seconds: number, scale = 1): { size: string; position: string } {
  const columns = Math.max(1, Math.floor(board.totalWidth / board.spriteWidth));
  const index = spriteIndex(board, seconds);
  const x = (index % columns) * board.spriteWidth * scale;
  const y = Math.floor(index / columns) * board.spriteHeight * scale;
  return {
    size: `${board.totalWidth * scale}px ${board.totalHeight * scale}px`,
    position: `${x === 0 ? 0 : -x}px ${y === 0 ? 0 : -y}px`,
  };
}

/** `url("…")` for CSS, with the characters that would end it escaped. */
export function cssUrl(url: string): string {
  return `url("${url.replace(/["\\\n]/g, (c) => encodeURIComponent(c))}")`;
}
