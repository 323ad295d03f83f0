// Unit test of how a comment's text is cut into text, links and mentions (src/lib/comment-text.ts),
// without a browser: compiled with TypeScript's own transpiler and imported.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

import ts from 'typescript';

const source = await readFile(new URL('../src/lib/comment-text.ts', import.meta.url), 'utf8');
const { outputText } = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
});
const { commentParts, textLength } = await import(`data:text/javascript;base64,${Buffer.from(outputText).toString('base64')}`);

const text = (t) => ({ type: 'text', text: t });
const link = (t, href = t) => ({ type: 'link', href, text: t });
const mention = (t) => ({ type: 'mention', text: t });

test('plain text is one text run, line breaks and markup included', () => {
  const s = 'first line\n\n<script>alert(1)</script> & <b>bold</b>';
  assert.deepEqual(commentParts(s), [text(s)]);
  assert.deepEqual(commentParts(''), []);
});

test('http and https URLs become links; the punctuation that ends a sentence does not', () => {
  assert.deepEqual(commentParts('see https://example.org/a?b=1#c.'), [text('see '), link('https://example.org/a?b=1#c'), text('.')]);
  assert.deepEqual(commentParts('(http://example.org/x_(y)), then'), [
    text('('),
    link('http://example.org/x_(y)'),
    text('), then'),
  ]);
  assert.deepEqual(commentParts('HTTPS://Example.ORG!'), [link('HTTPS://Example.ORG', 'https://example.org/'), text('!')]);
  assert.deepEqual(commentParts('a\nhttps://example.org/1\nb'), [text('a\n'), link('https://example.org/1', 'https://example.org/1'), text('\nb')]);
});

test('other schemes and broken URLs stay text', () => {
  for (const s of ['javascript:alert(1)', 'data:text/html,<script>x</script>', 'ftp://example.org', 'http://', 'https://[nope', 'xhttps://example.org']) {
    assert.ok(commentParts(s).every((p) => p.type !== 'link'), s);
  }
  // The URL ends where markup would start.
  assert.deepEqual(commentParts('https://example.org/"onmouseover="x'), [link('https://example.org/'), text('"onmouseover="x')]);
});

test('mentions are @name and @name@host, not e-mail addresses or parts of paths', () => {
  assert.deepEqual(commentParts('@anna thanks, @bert@videos.example.org:8443.'), [
    mention('@anna'),
    text(' thanks, '),
    mention('@bert@videos.example.org:8443'),
    text('.'),
  ]);
  assert.deepEqual(commentParts('mail anna@example.org'), [text('mail anna@example.org')]);
  assert.deepEqual(commentParts('https://example.org/@anna'), [link('https://example.org/@anna')]);
  assert.deepEqual(commentParts('@ alone and @@x'), [text('@ alone and @@x')]);
});

test('length counts characters as the server does', () => {
  assert.equal(textLength('😀é'), 2);
  assert.equal(textLength('😀'.repeat(10)), 10);
});
