// Unit test of the server-sent-events parser and the reconnection delays the notification stream
// uses (src/lib/event-stream.ts), without a browser: compiled with TypeScript's own transpiler and
// imported.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

import ts from 'typescript';

const source = await readFile(new URL('../src/lib/event-stream.ts', import.meta.url), 'utf8');
const { outputText } = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
});
const { EventStreamParser, reconnectDelay } = await import(`data:text/javascript;base64,${Buffer.from(outputText).toString('base64')}`);

/** Feeds `chunks` one after the other and returns every event, in order. */
function parse(...chunks) {
  const parser = new EventStreamParser();
  return chunks.flatMap((c) => parser.feed(c));
}

test('the server\'s stream: named events with JSON data, keep-alive comments skipped', () => {
  const stream = 'event: unread\ndata: {"unread":3}\n\n:\n\nevent: notification\ndata: {"id":7,"type":2}\n\n: keep-alive\n\nevent: lagged\ndata: {}\n\n';
  assert.deepEqual(parse(stream), [
    { event: 'unread', data: '{"unread":3}' },
    { event: 'notification', data: '{"id":7,"type":2}' },
    { event: 'lagged', data: '{}' },
  ]);
});

test('an event cut anywhere across chunks, even one character at a time, comes out whole and once', () => {
  const stream = 'event: unread\r\ndata: {"unread":12}\r\n\r\nevent: notification\ndata: {"id":1}\n\n';
  const expected = [{ event: 'unread', data: '{"unread":12}' }, { event: 'notification', data: '{"id":1}' }];
  for (let cut = 0; cut <= stream.length; cut += 1) {
    assert.deepEqual(parse(stream.slice(0, cut), stream.slice(cut)), expected, `cut at ${cut}`);
  }
  assert.deepEqual(parse(...stream), expected);
});

test('an event is dispatched only at its blank line; what is unfinished waits', () => {
  const parser = new EventStreamParser();
  assert.deepEqual(parser.feed('event: unread\ndata: {"unread":1}\n'), []);
  assert.deepEqual(parser.feed('\n'), [{ event: 'unread', data: '{"unread":1}' }]);
  assert.deepEqual(parser.feed('event: notification\ndata: {"id":2}'), []);
});

test('CR alone ends a line, and a CR at a chunk\'s end is not doubled by the LF that follows', () => {
  assert.deepEqual(parse('data: a\rdata: b\r\r'), [{ event: 'message', data: 'a\nb' }]);
  assert.deepEqual(parse('data: x\r', '\n\r', '\n'), [{ event: 'message', data: 'x' }]);
});

test('the standard\'s field rules: one optional space, several data lines, id, no data no event', () => {
  assert.deepEqual(parse('data:no space\ndata:  two spaces\n\n'), [{ event: 'message', data: 'no space\n two spaces' }]);
  assert.deepEqual(parse('id: 42\nevent: x\ndata: y\n\n'), [{ event: 'x', data: 'y', id: '42' }]);
  // An event without data is dropped, and its type does not leak into the next one.
  assert.deepEqual(parse('event: empty\n\ndata: z\n\n'), [{ event: 'message', data: 'z' }]);
  // Unknown fields and retry are ignored; a line without a colon is a field with an empty value.
  assert.deepEqual(parse('retry: 10\nfoo: bar\ndata\n\n'), [{ event: 'message', data: '' }]);
});

test('reconnection waits grow 1, 2, 4 … seconds up to a minute, with jitter in the upper half', () => {
  const low = () => 0;
  const high = () => 1;
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 30].map((n) => reconnectDelay(n, high)), [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
  assert.deepEqual([0, 1, 6].map((n) => reconnectDelay(n, low)), [500, 1000, 30000]);
  for (let i = 0; i < 100; i += 1) {
    const d = reconnectDelay(2);
    assert.ok(d >= 2000 && d <= 4000, `delay ${d}`);
  }
});
