// A small Markdown reader for the description preview. It builds a tree of plain values that
// Markdown.svelte renders as elements, so no HTML string is ever produced or inserted. The saved
// description is rendered by the server (descriptionHtml); this only has to be close to it.

export type Inline =
  | { type: 'text'; text: string }
  | { type: 'strong' | 'em'; children: Inline[] }
  | { type: 'code'; text: string }
  | { type: 'link'; href: string; children: Inline[] }
  | { type: 'br' };

export type Block =
  | { type: 'p'; children: Inline[] }
  | { type: 'h'; level: 1 | 2 | 3 | 4 | 5 | 6; children: Inline[] }
  | { type: 'ul' | 'ol'; items: Inline[][] }
  | { type: 'quote'; children: Inline[] }
  | { type: 'pre'; text: string };

/** Only these link targets are kept; anything else becomes text. */
export function safeHref(href: string): string | null {
  const h = href.trim();
  return /^(https?:\/\/|mailto:)/i.test(h) ? h : null;
}

export function parseInline(src: string): Inline[] {
  const out: Inline[] = [];
  let text = '';
  const flush = () => {
    if (text) out.push({ type: 'text', text });
    text = '';
  };
  let i = 0;
  while (i < src.length) {
    const rest = src.slice(i);
    let m: RegExpMatchArray | null;
    if ((m = rest.match(/^`([^`]+)`/))) {
      flush();
      out.push({ type: 'code', text: m[1] ?? '' });
    } else if ((m = rest.match(/^(\*\*|__)(?=\S)([\s\S]+?)(?<=\S)\1/))) {
      flush();
      out.push({ type: 'strong', children: parseInline(m[2] ?? '') });
    } else if ((m = rest.match(/^(\*|_)(?=\S)([\s\S]+?)(?<=\S)\1/))) {
      flush();
      out.push({ type: 'em', children: parseInline(m[2] ?? '') });
    } else if ((m = rest.match(/^\[([^\]]+)\]\(([^)\s]+)\)/))) {
      const href = safeHref(m[2] ?? '');
      flush();
      if (href) out.push({ type: 'link', href, children: parseInline(m[1] ?? '') });
      else out.push(...parseInline(m[1] ?? ''));
    } else if ((m = rest.match(/^https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"]/i))) {
      flush();
      out.push({ type: 'link', href: m[0], children: [{ type: 'text', text: m[0] }] });
    } else if ((m = rest.match(/^ {2,}\n|^\\\n/))) {
      flush();
      out.push({ type: 'br' });
    } else {
      text += src[i];
      i += 1;
      continue;
    }
    i += m[0].length;
  }
  flush();
  return out;
}

export function parseMarkdown(src: string): Block[] {
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let para: string[] = [];
  const endPara = () => {
    if (para.length) blocks.push({ type: 'p', children: parseInline(para.join('\n')) });
    para = [];
  };
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] ?? '';
    let m: RegExpMatchArray | null;
    if (/^```/.test(line)) {
      endPara();
      const code: string[] = [];
      i += 1;
      while (i < lines.length && !/^```/.test(lines[i] ?? '')) {
        code.push(lines[i] ?? '');
        i += 1;
      }
      blocks.push({ type: 'pre', text: code.join('\n') });
    } else if ((m = line.match(/^(#{1,6})\s+(.*)$/))) {
      endPara();
      const level = Math.min(6, (m[1] ?? '#').length) as 1 | 2 | 3 | 4 | 5 | 6;
      blocks.push({ type: 'h', level, children: parseInline(m[2] ?? '') });
    } else if (/^\s*([-*+]|\d+[.)])\s+/.test(line)) {
      endPara();
      const ordered = /^\s*\d+[.)]/.test(line);
      const items: Inline[][] = [];
      while (i < lines.length && /^\s*([-*+]|\d+[.)])\s+/.test(lines[i] ?? '')) {
        items.push(parseInline((lines[i] ?? '').replace(/^\s*([-*+]|\d+[.)])\s+/, '')));
        i += 1;
      }
      i -= 1;
      blocks.push({ type: ordered ? 'ol' : 'ul', items });
    } else if (/^>\s?/.test(line)) {
      endPara();
      const quoted: string[] = [];
      while (i < lines.length && /^>\s?/.test(lines[i] ?? '')) {
        quoted.push((lines[i] ?? '').replace(/^>\s?/, ''));
        i += 1;
      }
      i -= 1;
      blocks.push({ type: 'quote', children: parseInline(quoted.join('\n')) });
    } else if (line.trim() === '') {
      endPara();
    } else {
      para.push(line);
    }
  }
  endPara();
  return blocks;
}
