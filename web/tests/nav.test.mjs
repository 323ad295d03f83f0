// Unit test of the login page's `next` check (security-cases 26, open redirect), without a
// browser: src/lib/nav.ts is compiled with TypeScript's own transpiler and imported.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

import ts from 'typescript';

const source = await readFile(new URL('../src/lib/nav.ts', import.meta.url), 'utf8');
const { outputText } = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
});
const { safeNext } = await import(`data:text/javascript;base64,${Buffer.from(outputText).toString('base64')}`);

const origin = 'https://flotilla.example';
const hostile = [
  '//evil.example',
  '/\\evil.example',
  'https://evil.example',
  '/%2F%2Fevil.example',
  '/%09/evil.example',
  'javascript:alert(1)',
];

test('next values that lead elsewhere resolve to this origin', () => {
  for (const raw of hostile) {
    // As written in the link, and as the login page reads it: decoded from the query string
    // (`?next=/%09/evil.example` arrives as "/<TAB>/evil.example").
    const decoded = new URLSearchParams(`next=${raw}`).get('next');
    for (const next of [raw, decoded]) {
      const target = safeNext(next);
      const url = new URL(target, origin);
      assert.equal(url.origin, origin, `${JSON.stringify(next)} → ${JSON.stringify(target)} leaves the site`);
      assert.ok(target.startsWith('/') && !target.startsWith('//'), `${JSON.stringify(next)} → ${target}`);
      assert.ok(!/^\/[\\/\t\n\r]/.test(target), `${JSON.stringify(next)} → ${JSON.stringify(target)}`);
    }
  }
});

test('a path on this site is kept', () => {
  assert.equal(safeNext('/videos/upload'), '/videos/upload');
  assert.equal(safeNext(new URLSearchParams('next=%2Fvideos%2Fupload').get('next')), '/videos/upload');
  assert.equal(safeNext('/w/abc?start=10#c'), '/w/abc?start=10#c');
});

test('nothing, or something that is not a path, falls back', () => {
  assert.equal(safeNext(null), '/');
  assert.equal(safeNext(''), '/');
  assert.equal(safeNext('evil.example', '/home'), '/home');
});
