// How a comment's plain text is shown: cut into runs of text, web links and @mentions, which
// CommentText.svelte renders as text nodes and elements. Nothing here makes or reads HTML, so
// markup written in a comment stays the text it is. Line breaks stay in the text runs (the
// element keeps them with `white-space: pre-wrap`).

export type CommentPart =
  | { type: 'text'; text: string }
  | { type: 'link'; href: string; text: string }
  | { type: 'mention'; text: string };

/** Up to the next space or a character that cannot be in a URL written in prose. */
const LINK = /\bhttps?:\/\/[^\s<>"]+/gi;
/**
 * `@name` or `@name@host[:port]`, not inside a word, an e-mail address or a path. A name or host
 * does not end with a dot or a dash (`@anna.` ends a sentence).
 */
const MENTION = /(?<![\w@/.-])@[\w.-]*\w(?:@[\w-]+(?:\.[\w-]+)*(?::\d{1,5})?)?/g;

/** Drops what ends the sentence rather than the URL: `.`, `,`, `!`… and an unmatched `)`. */
function trimLink(raw: string): string {
  let s = raw;
  for (;;) {
    const last = s.at(-1) ?? '';
    if (/[.,;:!?'*_]/.test(last)) {
      s = s.slice(0, -1);
    } else if (last === ')' && (s.match(/\(/g)?.length ?? 0) < (s.match(/\)/g)?.length ?? 0)) {
      s = s.slice(0, -1);
    } else {
      return s;
    }
  }
}

/** The address to link to, or null when `raw` is not an http(s) URL a browser can open. */
function linkHref(raw: string): string | null {
  try {
    const url = new URL(raw);
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname) return url.href;
  } catch {
    // Not a URL after all: it stays text.
  }
  return null;
}

function pushText(parts: CommentPart[], text: string) {
  if (!text) return;
  const prev = parts.at(-1);
  if (prev?.type === 'text') prev.text += text;
  else parts.push({ type: 'text', text });
}

function pushWithMentions(parts: CommentPart[], text: string) {
  let last = 0;
  for (const m of text.matchAll(MENTION)) {
    pushText(parts, text.slice(last, m.index));
    parts.push({ type: 'mention', text: m[0] });
    last = m.index + m[0].length;
  }
  pushText(parts, text.slice(last));
}

export function commentParts(text: string): CommentPart[] {
  const parts: CommentPart[] = [];
  let last = 0;
  for (const m of text.matchAll(LINK)) {
    const raw = trimLink(m[0]);
    const href = linkHref(raw);
    if (!href) continue;
    pushWithMentions(parts, text.slice(last, m.index));
    parts.push({ type: 'link', href, text: raw });
    last = m.index + raw.length;
  }
  pushWithMentions(parts, text.slice(last));
  return parts;
}

/** Characters as the server counts them (Unicode scalar values, not UTF-16 units). */
export function textLength(text: string): number {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

export const COMMENT_MAX_LENGTH = 10_000;
