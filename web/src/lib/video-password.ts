// Password-protected videos (PeerTube 6.0's privacy 5). A viewer sends the password the owner
// shared in `x-peertube-video-password` with every API call about the video: its details,
// captions, chapters, storyboards, comments, rating, views and file token. The password a viewer
// typed is kept for the browser tab's session (in memory and in sessionStorage, so a reload does
// not ask again; never in localStorage), keyed by the video's UUID along with its other names
// (id, shortUUID, the one in the page's address): pages and components call the API with any of
// them. `api()` adds the header by itself to `/videos/<any of them>[/…]`, so no call is missed.
// Also the rules of the owner's list of passwords (PeerTube's: 2–100 characters each, unique, 1–100).
//
// No imports: `client.ts` reads this module.

export const VIDEO_PASSWORD_HEADER = 'x-peertube-video-password';
export const VIDEO_PASSWORD_MIN = 2;
export const VIDEO_PASSWORD_MAX = 100;
/** The most passwords a video has. */
export const VIDEO_PASSWORDS_MAX = 100;

const STORAGE_KEY = 'flotilla.videoPasswords';

interface Entry {
  password: string;
  /** The video's other names: id, shortUUID, the address's. */
  names: string[];
}

/** UUID → entry; read from sessionStorage once. */
let entries: Map<string, Entry> | null = null;

function all(): Map<string, Entry> {
  if (entries) return entries;
  entries = new Map();
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    const parsed = raw ? (JSON.parse(raw) as Record<string, Entry>) : {};
    for (const [uuid, e] of Object.entries(parsed)) {
      if (typeof e?.password === 'string' && Array.isArray(e.names)) entries.set(uuid, { password: e.password, names: e.names.map(String) });
    }
  } catch {
    // No storage (an embed whose site blocks it) or a broken value: memory only.
  }
  return entries;
}

function save(): void {
  try {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(Object.fromEntries(all())));
  } catch {
    // Memory only: the password is asked again after a reload.
  }
}

function find(name: string): [string, Entry] | null {
  for (const [uuid, e] of all()) {
    if (uuid === name || e.names.includes(name)) return [uuid, e];
  }
  return null;
}

/** The password this tab knows for the video named `name` (id, uuid or shortUUID). */
export function videoPassword(name: string | number): string | null {
  return find(String(name))?.[1].password ?? null;
}

/** Keeps the password that opened `video`, under all its names and `alsoName` (the page's). */
export function rememberVideoPassword(video: { id: number; uuid: string; shortUUID: string }, password: string, alsoName?: string): void {
  const names = [String(video.id), video.shortUUID];
  if (alsoName && alsoName !== video.uuid && !names.includes(alsoName)) names.push(alsoName);
  all().set(video.uuid, { password, names });
  save();
}

/** Forgets the password of the video named `name` (it was refused: the owner changed them). */
export function forgetVideoPassword(name: string | number): void {
  const found = find(String(name));
  if (!found) return;
  all().delete(found[0]);
  save();
}

/** The password to send with a call to `/api/v1{path}`, when the path is about a video this tab holds one for. */
export function videoPasswordForPath(path: string): string | null {
  const m = /^\/videos\/([^/?#]+)/.exec(path);
  if (!m?.[1]) return null;
  let name: string;
  try {
    name = decodeURIComponent(m[1]);
  } catch {
    return null;
  }
  return videoPassword(name);
}

/** The passwords as they are sent: trimmed, blank lines left out. */
export function cleanPasswords(list: string[]): string[] {
  return list.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** Characters as the server counts them (code points, not UTF-16 units). */
const length = (s: string) => [...s].length;

/**
 * Whether a browser can send `password` as it is: a header value is bytes, which fetch() refuses
 * past U+00FF and sends as Latin-1 below it, which the server does not read as the UTF-8 text it
 * stored. Printable ASCII is what arrives intact (PeerTube's rules allow more, which its viewers
 * could not type either).
 */
export function sendablePassword(password: string): boolean {
  return /^[\x20-\x7e]*$/.test(password);
}

/** What is wrong with the password at `index` of the list (as typed), or null. */
export function passwordProblem(list: string[], index: number): 'tooShort' | 'tooLong' | 'characters' | 'duplicate' | null {
  const p = list[index]?.trim() ?? '';
  if (p.length === 0) return null;
  if (!sendablePassword(p)) return 'characters';
  if (length(p) < VIDEO_PASSWORD_MIN) return 'tooShort';
  if (length(p) > VIDEO_PASSWORD_MAX) return 'tooLong';
  if (list.slice(0, index).some((q) => q.trim() === p)) return 'duplicate';
  return null;
}

/** What is wrong with the list as a whole: none given, too many, or a password with a problem. */
export function passwordsProblem(list: string[]): 'none' | 'tooMany' | 'invalid' | null {
  const clean = cleanPasswords(list);
  if (clean.length === 0) return 'none';
  if (clean.length > VIDEO_PASSWORDS_MAX) return 'tooMany';
  if (list.some((_, i) => passwordProblem(list, i) !== null)) return 'invalid';
  return null;
}

/** The server's refusal of the passwords among a form's field errors (`videoPasswords`, `videoPasswords[2]`…). */
export function passwordsFieldError(fields: Record<string, string>): string | null {
  for (const [name, msg] of Object.entries(fields)) {
    if (name === 'videoPasswords' || name.startsWith('videoPasswords[')) return msg;
  }
  return null;
}
