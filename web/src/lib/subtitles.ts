// The player's subtitles: which language shows at start, what the viewer chose last (for this
// browser session), and where the cues sit while the controls cover the bottom of the picture.

/** sessionStorage: the language last chosen in a player (absent: Off). */
const KEY = 'flotilla.subtitle';

/** The language chosen last in this session, or null (Off, or nothing chosen yet). */
export function rememberedSubtitle(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

/** Remembers the viewer's choice for the next videos of the session; null is Off. */
export function rememberSubtitle(language: string | null): void {
  try {
    if (language) sessionStorage.setItem(KEY, language);
    else sessionStorage.removeItem(KEY);
  } catch {
    // No storage: not remembered.
  }
}

/**
 * The language to show at start: the page URL's `subtitle` (PeerTube's watch and embed parameter),
 * else the one chosen last in this session, when the video has it; else none.
 */
export function firstSubtitle(languages: string[], fromUrl: string | null): string | null {
  for (const wanted of [fromUrl, rememberedSubtitle()]) {
    if (wanted && languages.includes(wanted)) return wanted;
  }
  return null;
}

/**
 * Places a track's cues above the controls while they are shown (`liftPx` from the bottom of a
 * picture `heightPx` high), at the browser's usual place when `liftPx` is 0. Cues are moved by
 * whole lines counted from the bottom (a negative `line`, the placement every browser does the
 * same way); a line is at least the cue font's 5 % of the picture's height, so counting by that
 * clears the controls. Every cue is set, so the next ones appear in the right place; the server
 * keeps no cue settings (only timings and text), so "auto" is each cue's own position.
 *
 * Returns whether a cue on screen moved: Chromium keeps drawing it where it was (or half off the
 * picture) until the track is shown again.
 */
export function liftCues(track: TextTrack, liftPx: number, heightPx: number): boolean {
  const line = liftPx > 0 && heightPx > 0 ? -(Math.ceil(liftPx / (heightPx * 0.05)) + 1) : 'auto';
  const onScreen = Array.from(track.activeCues ?? []);
  let moved = false;
  for (const cue of Array.from(track.cues ?? [])) {
    if (!(cue instanceof VTTCue) || cue.line === line) continue;
    cue.snapToLines = true;
    cue.line = line;
    if (onScreen.includes(cue)) moved = true;
  }
  return moved;
}
