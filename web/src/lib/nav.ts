// Where to go after logging in: only paths on this site, never another origin.
//
// The value is read the way the browser will read it: resolved as a URL against this origin, so
// that every spelling the URL parser turns into another host (`//x`, `/\x`, a tab or newline
// inside `/<TAB>/x`, which the parser drops) is refused, not only the ones we thought of.
export function safeNext(next: string | null, fallback = '/'): string {
  if (!next || !next.startsWith('/')) return fallback;
  const here = 'http://flotilla.invalid';
  let url: URL;
  try {
    url = new URL(next, here);
  } catch {
    return fallback;
  }
  if (url.origin !== here) return fallback;
  return url.pathname + url.search + url.hash;
}
