// Comments under the watch page, at desktop and phone width: a user comments (the count, line
// breaks kept, the character limit), another replies (folded under "View 1 reply" until unfolded,
// the @mention emphasised), the author deletes (a tombstone, the reply kept), markup is text and
// runs nothing, a link opens as a nofollow link without the opener, a server error shows at the
// box, disabled comments show no box, held comments wait for the owner's approval, threads page
// and sort, deep replies stop indenting, and a comment from another instance names its host.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, get, registerUser, token, until, uploadVideo, waitPublished } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login } from './support/flows.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
const USERS = {
  owner: { name: 'olga', displayName: 'Olga Owner' },
  chris: { name: 'chris', displayName: 'Chris Commenter' },
  rita: { name: 'rita', displayName: 'Rita Replier' },
};
const password = (user) => `${user.name}-password-1`;
// Would run a script if it became markup; `x` is a name no real image has.
const MARKUP = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> & <b>not bold</b>';
const LINK = 'https://example.org/tides?x=1';

let instance;
let remote;
let browser;
let workDir;
let tone;
const tokens = {};
/** Shared videos: comments disabled, held for approval, many threads. */
const videos = {};

const threadsOf = (id, tok = null, query = '') => get(instance.url, tok, `/videos/${id}/comment-threads?count=100${query}`);

async function publish(name, fields = {}) {
  const v = await uploadVideo(instance.url, tokens.owner, tone, { name, ...fields });
  await waitPublished(instance.url, tokens.owner, v.uuid);
  return v;
}

/** The comment (its own article, not its replies) whose text contains `text`. */
const commentWith = (page, text) => page.getByTestId('comment').filter({ hasText: text });
const byId = (page, id) => page.locator(`[data-testid="comment"][data-comment-id="${id}"]`);
const heading = (page, n) => page.getByRole('heading', { name: n === 1 ? '1 comment' : `${n} comments`, exact: true });

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-comments-'));
  // Sound only: the cheapest videos to publish.
  tone = makeClip(workDir, 1, '', { name: 'tone.mp4', audioOnly: true });
  [instance, remote] = await Promise.all([startInstance(), startInstance()]);
  browser = await launch();
  for (const [key, user] of Object.entries(USERS)) {
    await registerUser(instance.url, user.name, password(user));
    tokens[key] = await token(instance.url, user.name, password(user));
    await call(instance.url, tokens[key], 'PUT', '/users/me', { displayName: user.displayName });
  }
  videos.disabled = await publish('Quiet harbour, no comments', { commentsPolicy: 2 });
  videos.held = await publish('Harbour rules, comments reviewed', { commentsPolicy: 3 });
  videos.busy = await publish('A much discussed harbour');
  // 25 threads, one more than a page: the oldest has the most replies, a deep chain below it.
  const first = await call(instance.url, tokens.chris, 'POST', `/videos/${videos.busy.id}/comment-threads`, { text: 'Thread 1 starts a long talk' });
  let parent = first.comment.id;
  for (let depth = 1; depth <= 5; depth += 1) {
    const reply = await call(instance.url, tokens.rita, 'POST', `/videos/${videos.busy.id}/comments/${parent}`, { text: `Depth ${depth} reply` });
    parent = reply.comment.id;
  }
  for (let i = 2; i <= 25; i += 1) {
    await call(instance.url, tokens.rita, 'POST', `/videos/${videos.busy.id}/comment-threads`, { text: `Thread ${i} says hello` });
  }
});

after(async () => {
  await browser?.close();
  await Promise.all([instance?.stop(), remote?.stop()]);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

for (const device of [DESKTOP, PHONE]) {
  describe(`comments at ${device.name} size (${device.viewport.width}×${device.viewport.height})`, () => {
    const TEXT = `First light over the tide clip, seen on ${device.name}`;
    const SECOND_LINE = 'and a second line';
    const REPLY = `Agreed, the ${device.name} view is lovely`;
    let video;
    let chris;
    let rita;
    let commentId;
    let replyId;
    let failed = null;

    /** Steps build on each other: after one fails, the next fail at once saying so. */
    const step = (name, fn) => test(name, STEP, async () => {
      if (failed) throw new Error(`not run: the step "${failed}" failed before`);
      try {
        await fn();
      } catch (e) {
        failed = name;
        await showPages(e);
        throw e;
      }
    });

    before(async () => {
      video = await publish(`Tide clip for ${device.name}`);
      chris = await newPerson(browser, device, instance.url);
      rita = await newPerson(browser, device, instance.url);
      await login(chris.page, USERS.chris.name, password(USERS.chris));
      await login(rita.page, USERS.rita.name, password(USERS.rita));
    });

    after(async () => {
      await chris?.context.close();
      await rita?.context.close();
    });

    step('a visitor sees the comments and a link to log in, but no box and no buttons', async () => {
      await call(instance.url, tokens.owner, 'POST', `/videos/${video.id}/comment-threads`, { text: 'The owner says welcome' });
      const visitor = await newPerson(browser, device, instance.url);
      const { page } = visitor;
      await page.goto(`/w/${video.shortUUID}`);
      await commentWith(page, 'The owner says welcome').waitFor();
      await heading(page, 1).waitFor();
      const loginLink = page.getByRole('link', { name: 'Log in to comment' });
      assert.equal(await loginLink.getAttribute('href'), `/login?next=${encodeURIComponent(`/w/${video.shortUUID}`)}`);
      assert.equal(await page.getByRole('textbox', { name: 'Add a comment' }).count(), 0);
      assert.equal(await page.getByTestId('comment').getByRole('button').count(), 0, 'a visitor sees buttons on a comment');
      assert.deepEqual(visitor.problems, []);
      await visitor.context.close();
    });

    step('a user writes a comment: the count, line breaks and the character limit', async () => {
      const { page } = chris;
      await page.goto(`/w/${video.shortUUID}`);
      await heading(page, 1).waitFor();
      const box = page.getByRole('textbox', { name: 'Add a comment' });
      const submit = page.getByRole('button', { name: 'Post comment' });
      const count = page.getByTestId('comment-length').locator('[aria-hidden="true"]');
      assert.ok(await submit.isDisabled(), 'the submit button works on an empty box');
      assert.equal(await count.innerText(), '0 / 10,000');
      await box.fill('   \n  ');
      assert.ok(await submit.isDisabled(), 'the submit button works on a box of spaces');
      await box.fill('x'.repeat(10_001));
      assert.equal(await count.innerText(), '10,001 / 10,000');
      assert.equal(await box.getAttribute('aria-invalid'), 'true');
      assert.ok(await submit.isDisabled(), 'the submit button works over the limit');
      await box.fill(`${TEXT}\n${SECOND_LINE}`);
      assert.equal(await box.getAttribute('aria-invalid'), 'false');
      await submit.click();
      const comment = commentWith(page, TEXT);
      await comment.waitFor();
      await heading(page, 2).waitFor();
      assert.equal(await box.inputValue(), '', 'the box is not emptied after sending');
      // The line break is rendered, not folded into a space.
      assert.equal(await comment.locator('.comment-text').innerText(), `${TEXT}\n${SECOND_LINE}`);
      assert.equal(await comment.getByRole('link', { name: USERS.chris.displayName }).getAttribute('href'), `/a/${USERS.chris.name}`);
      assert.equal(await comment.getByTestId('comment-handle').innerText(), `@${USERS.chris.name}`);
      await comment.getByText('just now').or(comment.getByText(/seconds? ago/)).waitFor();
      commentId = Number(await comment.getAttribute('data-comment-id'));
      const list = await threadsOf(video.id);
      assert.equal(list.data.find((c) => c.id === commentId)?.text, `${TEXT}\n${SECOND_LINE}`);
      await shot(page, device, 'comments-posted');
    });

    step('another user replies; the reply is folded under "View 1 reply" and unfolds', async () => {
      const { page } = rita;
      await page.goto(`/w/${video.shortUUID}`);
      const comment = commentWith(page, TEXT);
      await comment.getByRole('button', { name: 'Reply', exact: true }).click();
      const box = page.getByRole('textbox', { name: `Reply to ${USERS.chris.displayName}` });
      // The reply starts with the mention of whom it answers, the cursor after it.
      assert.equal(await box.inputValue(), `@${USERS.chris.name} `);
      await page.keyboard.type(REPLY);
      await page.getByRole('button', { name: 'Post reply' }).click();
      const reply = commentWith(page, REPLY);
      await reply.waitFor();
      await comment.getByRole('button', { name: 'Hide 1 reply' }).waitFor();
      replyId = Number(await reply.getAttribute('data-comment-id'));
      const tree = await get(instance.url, null, `/videos/${video.id}/comment-threads/${commentId}`);
      assert.deepEqual(tree.children.map((c) => [c.comment.id, c.comment.text]), [[replyId, `@${USERS.chris.name} ${REPLY}`]]);

      // Seen by the comment's author: folded until asked for.
      const own = chris.page;
      await own.reload();
      const thread = commentWith(own, TEXT);
      const toggle = thread.getByRole('button', { name: 'View 1 reply' });
      assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
      await heading(own, 3).waitFor();
      assert.equal(await commentWith(own, REPLY).isVisible(), false, 'the reply shows before it is unfolded');
      await toggle.click();
      const replies = own.getByRole('list', { name: `Replies to ${USERS.chris.displayName}` });
      const shown = replies.getByTestId('comment').filter({ hasText: REPLY });
      await shown.waitFor();
      assert.equal(await thread.getByRole('button', { name: 'Hide 1 reply' }).getAttribute('aria-expanded'), 'true');
      // The mention is emphasised; the reply is indented below the comment.
      assert.equal(await shown.locator('strong.mention').innerText(), `@${USERS.chris.name}`);
      const [parentBox, replyBox] = [await thread.boundingBox(), await shown.boundingBox()];
      assert.ok(replyBox.x > parentBox.x, `the reply is not indented: ${parentBox.x} → ${replyBox.x}`);
      // Each may delete what is theirs only.
      assert.equal(await thread.getByRole('button', { name: 'Delete' }).count(), 1);
      assert.equal(await shown.getByRole('button', { name: 'Delete' }).count(), 0, 'chris may delete rita\'s reply');
      assert.equal(await commentWith(page, TEXT).getByRole('button', { name: 'Delete' }).count(), 0, 'rita may delete chris\'s comment');
      await shot(own, device, 'comments-reply');
    });

    step('the video\'s owner may delete every comment on it', async () => {
      const owner = await newPerson(browser, device, instance.url);
      await login(owner.page, USERS.owner.name, password(USERS.owner));
      await owner.page.goto(`/w/${video.shortUUID}`);
      await commentWith(owner.page, TEXT).getByRole('button', { name: 'View 1 reply' }).click();
      for (const text of [TEXT, REPLY, 'The owner says welcome']) {
        await commentWith(owner.page, text).getByRole('button', { name: 'Delete' }).waitFor();
      }
      assert.deepEqual(owner.problems, []);
      await owner.context.close();
    });

    step('the author deletes the comment: a tombstone stays, with the reply', async () => {
      const { page } = chris;
      const thread = byId(page, commentId);
      await thread.getByRole('button', { name: 'Delete' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete this comment?' });
      await dialog.waitFor();
      await shot(page, device, 'comments-delete-confirm');
      await dialog.getByRole('button', { name: 'Delete' }).click();
      await thread.getByText('This comment was deleted').waitFor();
      assert.equal(await thread.getByText(TEXT).count(), 0);
      assert.equal(await thread.getByRole('button', { name: 'Delete' }).count(), 0);
      assert.equal(await thread.getByRole('button', { name: 'Reply', exact: true }).count(), 0, 'a deleted comment offers a reply');
      await byId(page, replyId).getByText(REPLY).waitFor();
      await heading(page, 2).waitFor();
      const list = await threadsOf(video.id);
      const tomb = list.data.find((c) => c.id === commentId);
      assert.deepEqual([tomb.isDeleted, tomb.text, tomb.account], [true, '', null]);
      assert.equal(list.totalNotDeletedComments, 2);
      // After a reload, too: the tombstone with its folded reply.
      await page.reload();
      await byId(page, commentId).getByText('This comment was deleted').waitFor();
      await byId(page, commentId).getByRole('button', { name: 'View 1 reply' }).click();
      await byId(page, replyId).getByText(REPLY).waitFor();
      await shot(page, device, 'comments-tombstone');
    });

    step('markup in a comment is shown as text and runs nothing', async () => {
      const { page } = chris;
      const dialogs = [];
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        d.dismiss().catch(() => undefined);
      });
      await page.getByRole('textbox', { name: 'Add a comment' }).fill(MARKUP);
      await page.getByRole('button', { name: 'Post comment' }).click();
      await commentWith(page, MARKUP).waitFor();
      // And as another viewer loads it from the server.
      await rita.page.goto(`/w/${video.shortUUID}`);
      for (const p of [page, rita.page]) {
        const comment = commentWith(p, MARKUP);
        assert.equal(await comment.locator('.comment-text').innerText(), MARKUP);
        const made = await p.evaluate(() => ({
          pwned: window.__pwned ?? null,
          images: document.querySelectorAll('img[src="x"]').length,
          scripts: [...document.querySelectorAll('script')].filter((s) => s.textContent.includes('__pwned')).length,
          bold: [...document.querySelectorAll('b')].filter((b) => b.textContent === 'not bold').length,
        }));
        assert.deepEqual(made, { pwned: null, images: 0, scripts: 0, bold: 0 });
      }
      assert.deepEqual(dialogs, []);
    });

    step('a link in a comment opens, as nofollow, without the opener or the referrer', async () => {
      const { page, context } = chris;
      await context.route('https://example.org/**', (route) =>
        route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Tides</title><p>tides</p>' }),
      );
      await page.getByRole('textbox', { name: 'Add a comment' }).fill(`Tide tables: ${LINK}. Not a link: javascript:alert(1)`);
      await page.getByRole('button', { name: 'Post comment' }).click();
      const comment = commentWith(page, 'Tide tables:');
      const link = comment.getByRole('link', { name: LINK });
      await link.waitFor();
      assert.equal(await link.getAttribute('href'), LINK);
      assert.deepEqual((await link.getAttribute('rel')).split(' ').sort(), ['noopener', 'noreferrer', 'nofollow', 'ugc'].sort());
      assert.equal(await comment.locator('.comment-text a').count(), 1, 'javascript: became a link');
      const [popup] = await Promise.all([context.waitForEvent('page'), link.click()]);
      await popup.waitForLoadState();
      assert.equal(popup.url(), LINK);
      assert.deepEqual(await popup.evaluate(() => [window.opener, document.referrer]), [null, '']);
      await popup.close();
      await context.unroute('https://example.org/**');
    });

    step('an error of the server shows at the box, which keeps the text', async () => {
      const { page } = chris;
      // The owner turns comments off after the page was loaded.
      await call(instance.url, tokens.owner, 'PUT', `/videos/${video.id}`, { commentsPolicy: 2 });
      try {
        const box = page.getByRole('textbox', { name: 'Add a comment' });
        await box.fill('Too late for this one');
        await page.getByRole('button', { name: 'Post comment' }).click();
        await page.getByRole('alert').getByText('comments are disabled for this video').waitFor();
        assert.equal(await box.inputValue(), 'Too late for this one');
        await shot(page, device, 'comments-error');
        await page.reload();
        await page.getByText('Comments are disabled.').waitFor();
      } finally {
        await call(instance.url, tokens.owner, 'PUT', `/videos/${video.id}`, { commentsPolicy: 1 });
      }
    });

    step('comments disabled: a notice, no box, no list', async () => {
      const { page } = chris;
      await page.goto(`/w/${videos.disabled.shortUUID}`);
      await page.getByText('Comments are disabled.').waitFor();
      assert.equal(await page.getByRole('textbox', { name: 'Add a comment' }).count(), 0);
      assert.equal(await page.getByRole('button', { name: 'Post comment' }).count(), 0);
      assert.equal(await page.getByRole('link', { name: 'Log in to comment' }).count(), 0);
      assert.equal(await page.getByRole('combobox', { name: 'Sort comments' }).count(), 0);
      await shot(page, device, 'comments-disabled');
    });

    step('a held comment shows to its author with a badge, and to others once the owner approves it', async () => {
      const text = `Please approve me (${device.name})`;
      const { page } = rita;
      await page.goto(`/w/${videos.held.shortUUID}`);
      await page.getByText('Comments on this video appear to others once its owner approves them.').waitFor();
      await page.getByRole('textbox', { name: 'Add a comment' }).fill(text);
      await page.getByRole('button', { name: 'Post comment' }).click();
      const mine = commentWith(page, text);
      await mine.getByText('Held for review').waitFor();
      assert.equal(await mine.getByRole('button', { name: 'Reply', exact: true }).count(), 0, 'a held comment offers a reply');
      assert.equal(await mine.getByRole('button', { name: 'Approve' }).count(), 0, 'its author may approve it');
      // Not for the others until approved.
      await chris.page.goto(`/w/${videos.held.shortUUID}`);
      // The heading counts once the list is loaded.
      await chris.page.getByRole('heading', { name: /^\d+ comments?$/ }).waitFor();
      assert.equal(await commentWith(chris.page, text).count(), 0, 'another user sees a held comment');
      const owner = await newPerson(browser, device, instance.url);
      await login(owner.page, USERS.owner.name, password(USERS.owner));
      await owner.page.goto(`/w/${videos.held.shortUUID}`);
      const held = commentWith(owner.page, text);
      await held.getByText('Held for review').waitFor();
      await shot(owner.page, device, 'comments-held');
      await held.getByRole('button', { name: 'Approve' }).click();
      await held.getByText('Held for review').waitFor({ state: 'detached' });
      assert.equal(await held.getByRole('button', { name: 'Approve' }).count(), 0);
      const list = await threadsOf(videos.held.id);
      assert.equal(list.data.find((c) => c.text === text)?.heldForReview, false);
      await chris.page.reload();
      await commentWith(chris.page, text).waitFor();
      assert.deepEqual(owner.problems, []);
      await owner.context.close();
    });

    step('threads come a page at a time, sort by replies, and deep replies stop indenting', async () => {
      const { page } = rita;
      await page.goto(`/w/${videos.busy.shortUUID}`);
      await heading(page, 30).waitFor();
      const threads = page.locator('.threads > li');
      await commentWith(page, 'Thread 25 says hello').waitFor();
      assert.equal(await threads.count(), 20);
      assert.equal(await commentWith(page, 'Thread 1 starts').count(), 0, 'the oldest thread is on the first page');
      await page.getByRole('button', { name: 'Show more comments' }).click();
      await commentWith(page, 'Thread 1 starts').waitFor();
      assert.equal(await threads.count(), 25);
      assert.equal(await page.getByRole('button', { name: 'Show more comments' }).count(), 0);

      await page.getByRole('combobox', { name: 'Sort comments' }).selectOption({ label: 'Most replies' });
      await threads.first().getByText('Thread 1 starts').waitFor();
      await threads.first().getByRole('button', { name: 'View 5 replies' }).click();
      const xs = [];
      for (let depth = 1; depth <= 5; depth += 1) {
        const reply = commentWith(page, `Depth ${depth} reply`);
        await reply.waitFor();
        xs.push((await reply.boundingBox()).x);
      }
      assert.ok(xs[0] < xs[1] && xs[1] < xs[2], `the first three levels are not indented: ${xs}`);
      assert.ok(xs[3] === xs[2] && xs[4] === xs[2], `levels below the third are indented further: ${xs}`);
      const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
      assert.ok(scroll <= inner, `the watch page with comments scrolls sideways: ${scroll}px in ${inner}px`);
      await shot(page, device, 'comments-deep');
    });

    step('no page error and no Content-Security-Policy violation happened', async () => {
      assert.deepEqual([...chris.problems, ...rita.problems], []);
    });
  });
}

describe('a comment from another instance', () => {
  test('names its author with their host', STEP, async () => {
    const video = await publish('Harbour seen from afar');
    // A user of the other instance finds the video by its URL and comments there; the comment
    // travels to the video's instance.
    await registerUser(remote.url, 'faye', 'faye-password-1');
    const far = await token(remote.url, 'faye', 'faye-password-1');
    await call(remote.url, far, 'PUT', '/users/me', { displayName: 'Faye Faraway' });
    const watchUrl = `${instance.url}/videos/watch/${video.uuid}`;
    const copy = await until('the other instance fetches the video', async () => {
      const found = await get(remote.url, far, `/search/videos?search=${encodeURIComponent(watchUrl)}`);
      return found.data.find((v) => v.uuid === video.uuid);
    });
    await call(remote.url, far, 'POST', `/videos/${copy.id}/comment-threads`, { text: 'Greetings from the other harbour' });
    await until('the comment reaches the video\'s instance', async () => (await threadsOf(video.id)).data.length === 1);

    const viewer = await newPerson(browser, DESKTOP, instance.url);
    const { page } = viewer;
    await page.goto(`/w/${video.shortUUID}`);
    const comment = commentWith(page, 'Greetings from the other harbour');
    await comment.waitFor();
    const host = new URL(remote.url).host;
    const handle = comment.getByTestId('comment-handle');
    assert.equal(await handle.innerText(), `@faye@${host}`);
    assert.equal(await handle.getAttribute('title'), `From ${host}`);
    assert.equal(await comment.getByRole('link', { name: 'Faye Faraway' }).getAttribute('href'), `/a/faye@${host}`);
    assert.deepEqual(viewer.problems, []);
    await viewer.context.close();
  });
});
