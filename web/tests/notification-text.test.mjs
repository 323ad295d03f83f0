// Unit test of what a notification says and where it leads (src/lib/notification-text.ts),
// without a browser: it and the API types it reads are compiled with TypeScript's own transpiler
// and imported; messages come from the real catalogue (src/lib/i18n/en.ts).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';

import ts from 'typescript';

async function load(path, replace = {}) {
  let source = await readFile(new URL(path, import.meta.url), 'utf8');
  for (const [from, to] of Object.entries(replace)) source = source.replaceAll(from, to);
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const url = `data:text/javascript;base64,${Buffer.from(outputText).toString('base64')}`;
  return { url, module: await import(url) };
}

const types = await load('../src/lib/api/types.ts');
const { en } = (await load('../src/lib/i18n/en.ts')).module;
const { describeNotification, sentenceParts } = (await load('../src/lib/notification-text.ts', { "'$lib/api/types'": `'${types.url}'` })).module;

const HOST = 'video.example';
const MARKUP = '<img src=x onerror=alert(1)>';
const video = { id: 4, uuid: '2ef182b2-2281-4655-8250-87189e20604e', shortUUID: '6NdkCoo53ZQFzj8faT2ZfE', name: 'Harbour at dawn' };
const bob = { id: 10, name: 'bob', displayName: 'Bob', host: HOST, avatars: [] };
const remoteBob = { ...bob, host: 'other.example:9002' };
const base = { id: 1, read: false, createdAt: '2026-12-04T00:00:00Z', updatedAt: '2026-12-04T00:00:00Z' };

/** The sentence as a reader sees it, names in [brackets]. */
function say(n) {
  const view = describeNotification(n, HOST);
  const text = sentenceParts(en[view.key], view.values).map((p) => (p.name ? `[${p.text}]` : p.text)).join('');
  return { text, href: view.href, actor: view.actor?.name ?? null };
}

test('a new video of a followed channel, and my own video published, lead to the video by its short id', () => {
  const channel = { id: 2, name: 'harbour_channel', displayName: 'Harbour channel', host: HOST, avatars: [] };
  assert.deepEqual(say({ ...base, type: 1, video: { ...video, channel } }), {
    text: '[Harbour channel] published a new video: [Harbour at dawn]',
    href: '/w/6NdkCoo53ZQFzj8faT2ZfE',
    actor: 'harbour_channel',
  });
  assert.deepEqual(say({ ...base, type: 6, video: { ...video, shortUUID: undefined } }), {
    text: 'Your video [Harbour at dawn] is published',
    href: `/w/${video.uuid}`,
    actor: null,
  });
});

test('a comment, a held comment and a mention lead to the thread on the video', () => {
  const comment = { id: 9, threadId: 3, account: bob, video, heldForReview: false };
  assert.deepEqual(say({ ...base, type: 2, comment }), {
    text: '[Bob] commented on your video [Harbour at dawn]',
    href: '/w/6NdkCoo53ZQFzj8faT2ZfE?threadId=3',
    actor: 'bob',
  });
  assert.equal(say({ ...base, type: 2, comment: { ...comment, heldForReview: true } }).text, '[Bob] commented on your video [Harbour at dawn]; the comment waits for your approval');
  assert.equal(say({ ...base, type: 11, comment }).text, '[Bob] replied to you or mentioned you on [Harbour at dawn]');
});

test('a new follower leads to the follower\'s page, named with its host when remote', () => {
  const following = { type: 'channel', name: 'harbour_channel', displayName: 'Harbour channel', host: HOST };
  assert.deepEqual(say({ ...base, type: 10, actorFollow: { id: 1, state: 'accepted', follower: bob, following } }), {
    text: '[Bob] is following your channel [Harbour channel]',
    href: '/a/bob',
    actor: 'bob',
  });
  const remote = say({ ...base, type: 10, actorFollow: { id: 1, state: 'accepted', follower: remoteBob, following: { ...following, type: 'account' } } });
  assert.deepEqual(remote, { text: '[Bob] is following you', href: `/a/${encodeURIComponent('bob@other.example:9002')}`, actor: 'bob' });
  // No display name: the name stands in.
  assert.equal(say({ ...base, type: 10, actorFollow: { id: 1, state: 'accepted', follower: { ...bob, displayName: ' ' }, following } }).text.split(' ')[0], '[bob]');
});

test('an unknown kind, or a known one without its subject, is said generically and leads to the list', () => {
  assert.deepEqual(say({ ...base, type: 99, abuse: { id: 1 } }), {
    text: 'Something new happened (a notification of type [99])',
    href: '/my-account/notifications',
    actor: null,
  });
  assert.equal(say({ ...base, type: 2 }).href, '/my-account/notifications');
});

test('reports lead moderators to the reports page and reporters to their own; blocks to the video', () => {
  const admin = '/admin/moderation/abuses/list';
  assert.deepEqual(say({ ...base, type: 3, abuse: { id: 7, state: 1, video } }), { text: 'New report about the video [Harbour at dawn]', href: admin, actor: null });
  assert.equal(say({ ...base, type: 3, abuse: { id: 7, state: 1, comment: { id: 9, threadId: 3, video } } }).text, 'New report about a comment on [Harbour at dawn]');
  assert.deepEqual(say({ ...base, type: 3, abuse: { id: 7, state: 1, account: bob } }), { text: 'New report about the account [Bob]', href: admin, actor: 'bob' });
  assert.deepEqual(say({ ...base, type: 15, abuse: { id: 7, state: 3, video } }), { text: 'The moderators accepted your report [#7]', href: '/my-account/abuses', actor: null });
  // The state as PeerTube's number or as an {id, label}.
  assert.equal(say({ ...base, type: 15, abuse: { id: 7, state: { id: 2, label: 'Rejected' } } }).text, 'The moderators rejected your report [#7]');
  assert.equal(say({ ...base, type: 15, abuse: { id: 7, state: 1 } }).text, 'Your report [#7] is pending again');
  assert.deepEqual(say({ ...base, type: 16, abuse: { id: 7, state: 1, video } }), { text: 'New message about the report [#7]', href: '/my-account/abuses', actor: null });
  const videoBlacklist = { id: 2, video };
  assert.deepEqual(say({ ...base, type: 4, videoBlacklist }), { text: 'Your video [Harbour at dawn] was blocked by the moderators', href: '/w/6NdkCoo53ZQFzj8faT2ZfE', actor: null });
  assert.deepEqual(say({ ...base, type: 5, videoBlacklist }), { text: 'Your video [Harbour at dawn] was unblocked', href: '/w/6NdkCoo53ZQFzj8faT2ZfE', actor: null });
  assert.deepEqual(say({ ...base, type: 12, videoBlacklist }), { text: 'The new video [Harbour at dawn] waits for a moderator’s review', href: '/admin/moderation/video-blocks/list', actor: null });
  // Without their subject: generic.
  assert.equal(say({ ...base, type: 4 }).href, '/my-account/notifications');
  assert.equal(say({ ...base, type: 16 }).href, '/my-account/notifications');
});

test('names are parts of their own, never read as markup or as placeholders', () => {
  const tricky = { ...bob, displayName: `${MARKUP} {video}` };
  const view = describeNotification({ ...base, type: 2, comment: { id: 9, threadId: 3, account: tricky, video } }, HOST);
  assert.deepEqual(sentenceParts(en[view.key], view.values), [
    { text: `${MARKUP} {video}`, name: 'account' },
    { text: ' commented on your video ' },
    { text: 'Harbour at dawn', name: 'video' },
  ]);
  // A placeholder without a value stays as written.
  assert.deepEqual(sentenceParts('{a} and {b}', { a: 'x' }), [{ text: 'x', name: 'a' }, { text: ' and {b}' }]);
});
