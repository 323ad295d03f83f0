// Comment moderation, watched words and automatic tags, sensitive videos, notification settings.
// A user makes a watched words list (the server's refusals at their fields: a word too long, a
// name taken) and holds comments tagged with it for review; another user's comment with one of
// its words is held: visitors do not see it, the owner finds it with its tag on "Comments on your
// videos" and approves it; the owner removes every comment of a third account on their videos (not
// elsewhere). The admin makes a list of the instance, finds the comment filtered by that tag on the
// moderators' comments list and removes every comment of its author: gone from the watch page.
// The owner marks the video sensitive ("Violence", a summary); with the instance's policy at
// "blur", a visitor meets the warning with the summary on the watch page and the embed, and the
// player once they choose to display it. The notification settings show the moderators' kinds to
// moderators only and keep the e-mail bit. At 360 px nothing scrolls sideways.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { adminToken, call, get, registerUser, token, uploadVideo, waitPublished } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login, playUntil } from './support/flows.mjs';
import { ADMIN_PASSWORD, makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 60_000 };
const USERS = {
  olga: { name: 'olga', displayName: 'Olga Owner' },
  bob: { name: 'bob', displayName: 'Bob Spammer' },
  carl: { name: 'carl', displayName: 'Carl Chatty' },
};
const password = (user) => `${user.name}-password-1`;
const BOB_NICE = 'Lovely light on the harbour';
const BOB_SPAM = 'Win big at the CASINO tonight';
const CARL_SAYS = ['First!', 'Second thought: nice boats.'];
const CARL_ELSEWHERE = 'Carl was here too';
const SUMMARY = 'A storm scene with injured sailors.';

let instance;
let browser;
let workDir;
const tokens = {};
let video;
let other;

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-comment-moderation-'));
  const tone = makeClip(workDir, 4, '', { name: 'tone.mp4', audioOnly: true });
  instance = await startInstance();
  browser = await launch();
  for (const [key, user] of Object.entries(USERS)) {
    await registerUser(instance.url, user.name, password(user));
    tokens[key] = await token(instance.url, user.name, password(user));
    await call(instance.url, tokens[key], 'PUT', '/users/me', { displayName: user.displayName });
  }
  tokens.root = await adminToken(instance.url);
  const [v1, v2] = await Promise.all([
    uploadVideo(instance.url, tokens.olga, tone, { name: 'Harbour at dusk' }),
    uploadVideo(instance.url, tokens.root, tone, { name: 'Admin notes' }),
  ]);
  [video, other] = await Promise.all([waitPublished(instance.url, tokens.olga, v1.uuid), waitPublished(instance.url, tokens.root, v2.uuid)]);
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('comment moderation, watched words, sensitive videos', () => {
  let olga;
  let root;
  let visitor;
  let phone;
  let failed = null;
  const comments = {};

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

  const cardWith = (page, text) => page.getByTestId('moderated-comment').filter({ hasText: text });
  const tagsOf = (card) => card.getByTestId('comment-tag').allTextContents();
  const commentWith = (page, text) => page.getByTestId('comment').filter({ hasText: text });
  const fits = (page) => page.evaluate(() => document.scrollingElement.scrollWidth <= window.innerWidth);
  const threadTexts = async () => (await get(instance.url, null, `/videos/${video.uuid}/comment-threads?count=100`)).data.map((c) => c.text);
  const moderationNav = (page) => page.getByRole('navigation', { name: 'Moderation', exact: true });

  before(async () => {
    [olga, root, visitor] = await Promise.all([1, 2, 3].map(() => newPerson(browser, DESKTOP, instance.url)));
    await login(olga.page, USERS.olga.name, password(USERS.olga));
    await login(root.page, 'root', ADMIN_PASSWORD);
  });

  after(async () => {
    for (const person of [olga, root, visitor, phone]) await person?.context.close();
  });

  step('a user adds a list of watched words; the server’s refusals show at their fields', async () => {
    const { page } = olga;
    await page.goto('/my-account/settings');
    await page.getByRole('navigation', { name: 'My library' }).getByRole('link', { name: 'Moderation' }).click();
    await page.waitForURL((u) => u.pathname === '/my-account/blocklist/accounts');
    await moderationNav(page).getByRole('link', { name: 'Watched words' }).click();
    await page.waitForURL((u) => u.pathname === '/my-account/watched-words/list');
    assert.equal(await moderationNav(page).getByRole('link', { name: 'Watched words' }).getAttribute('aria-current'), 'page');
    assert.equal(await page.getByRole('navigation', { name: 'My library' }).getByRole('link', { name: 'Moderation' }).getAttribute('aria-current'), 'page');
    await page.getByText('No list yet.').waitFor();

    const name = page.getByLabel('Name of the list');
    const words = page.getByLabel('Words', { exact: true });
    const add = page.getByRole('button', { name: 'Add the list' });
    assert.ok(await add.isDisabled(), 'a list without a name or words can be sent');
    await name.fill('spam');
    await words.fill(`casino\n\n  lottery  \n${'x'.repeat(101)}`);
    assert.equal(await page.getByTestId('words-count').textContent(), '3 words');
    await add.click();
    // A word over 100 characters: the server's message, at the words.
    await page.getByRole('alert').getByText('each word is 1 to 100 characters').waitFor();
    assert.equal(await words.getAttribute('aria-invalid'), 'true');
    assert.equal((await get(instance.url, tokens.olga, '/watched-words/accounts/olga/lists')).total, 0);

    await words.fill('casino\nlottery');
    await add.click();
    await page.getByRole('status').getByText('The list “spam” was added.').waitFor();
    const card = page.getByTestId('watched-words-list').filter({ has: page.getByRole('heading', { name: 'spam' }) });
    assert.deepEqual(await card.getByRole('list', { name: 'Words of spam' }).getByRole('listitem').allTextContents(), ['casino', 'lottery']);
    assert.equal(await name.inputValue(), '', 'the form is emptied for the next list');

    // A name already taken: the 409's words, at the name.
    await name.fill('spam');
    await words.fill('jackpot');
    await add.click();
    await page.getByRole('alert').getByText('a list of this name exists').waitFor();
    assert.equal(await name.getAttribute('aria-invalid'), 'true');
    assert.equal(await words.getAttribute('aria-invalid'), null);

    // Edited: one more word.
    await card.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Edit the list “spam”' }).waitFor();
    assert.equal(await name.inputValue(), 'spam');
    assert.equal(await words.inputValue(), 'casino\nlottery');
    await words.fill('casino\nlottery\njackpot');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('The list “spam” was saved.').waitFor();
    await card.getByText('jackpot').waitFor();
    const lists = await get(instance.url, tokens.olga, '/watched-words/accounts/olga/lists');
    assert.deepEqual(lists.data.map((l) => [l.listName, l.words]), [['spam', ['casino', 'lottery', 'jackpot']]]);
    await shot(page, DESKTOP, 'watched-words');
  });

  step('the user holds the comments tagged “spam” for review', async () => {
    const { page } = olga;
    await moderationNav(page).getByRole('link', { name: 'Auto tag policies' }).click();
    await page.waitForURL((u) => u.pathname === '/my-account/auto-tag-policies');
    const group = page.getByRole('group', { name: 'Hold comments with these tags for my review' });
    await group.getByRole('checkbox').first().waitFor();
    assert.equal(await group.getByRole('checkbox').count(), 2, 'external-link and spam');
    const spam = group.getByRole('checkbox', { name: /^spam/ });
    assert.equal(await spam.isChecked(), false);
    assert.equal(await group.getByRole('checkbox', { name: /^external-link/ }).isChecked(), false);
    await spam.check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('Saved.').waitFor();
    assert.deepEqual(await get(instance.url, tokens.olga, '/automatic-tags/policies/accounts/olga/comments'), { review: ['spam'] });
    await shot(page, DESKTOP, 'auto-tag-policies');
    await page.reload();
    assert.equal(await page.getByRole('checkbox', { name: /^spam/ }).isChecked(), true);
  });

  step('the admin adds a list of the instance', async () => {
    const { page } = root;
    await page.goto('/admin/moderation/abuses/list');
    const tabs = page.getByRole('navigation', { name: 'Administration' });
    await tabs.getByRole('link', { name: 'Watched words' }).waitFor();
    const names = await tabs.getByRole('link').allTextContents();
    assert.ok(
      names.indexOf('Blocked videos') < names.indexOf('Comments') && names.indexOf('Comments') < names.indexOf('Muted accounts'),
      names.join(),
    );
    await tabs.getByRole('link', { name: 'Watched words' }).click();
    await page.waitForURL((u) => u.pathname === '/admin/moderation/watched-words/list');
    await page.getByRole('heading', { name: 'Watched words of the instance' }).waitFor();
    await page.getByLabel('Name of the list').fill('gambling');
    await page.getByLabel('Words', { exact: true }).fill('casino\nroulette');
    await page.getByRole('button', { name: 'Add the list' }).click();
    await page.getByRole('status').getByText('The list “gambling” was added.').waitFor();
    await page.getByRole('list', { name: 'Words of gambling' }).getByText('roulette').waitFor();
    const lists = await get(instance.url, tokens.root, '/watched-words/server/lists');
    assert.deepEqual(lists.data.map((l) => l.listName), ['gambling']);
    // The user's lists are theirs: the instance's page shows only its own.
    assert.equal(await page.getByTestId('watched-words-list').count(), 1);
  });

  step('a comment with a watched word is held for the owner: visitors do not see it', async () => {
    comments.nice = (await call(instance.url, tokens.bob, 'POST', `/videos/${video.id}/comment-threads`, { text: BOB_NICE })).comment;
    comments.spam = (await call(instance.url, tokens.bob, 'POST', `/videos/${video.id}/comment-threads`, { text: BOB_SPAM })).comment;
    assert.equal(comments.nice.heldForReview, false);
    assert.equal(comments.spam.heldForReview, true, 'the owner’s policy holds a comment tagged “spam”');

    const { page } = visitor;
    await page.goto(`/w/${video.shortUUID}`);
    await commentWith(page, BOB_NICE).waitFor();
    await page.getByRole('heading', { name: '1 comment', exact: true }).waitFor();
    assert.equal(await commentWith(page, BOB_SPAM).count(), 0);
    assert.equal(await page.getByText(BOB_SPAM).count(), 0);
    assert.ok(!(await threadTexts()).includes(BOB_SPAM));
  });

  step('the owner finds it held with its tag on “Comments on your videos” and approves it', async () => {
    const { page } = olga;
    await moderationNav(page).getByRole('link', { name: 'Comments on your videos' }).click();
    await page.waitForURL((u) => u.pathname === '/my-account/videos/comments');
    const spam = cardWith(page, BOB_SPAM);
    const nice = cardWith(page, BOB_NICE);
    await spam.waitFor();
    await nice.waitFor();
    assert.deepEqual(await tagsOf(spam), ['spam'], 'the owner’s tags, not the instance’s');
    assert.equal(await spam.getByTestId('held').textContent(), 'Held for review');
    assert.equal(await spam.getByTestId('comment-video').textContent(), 'Harbour at dusk');
    assert.equal(await spam.getByTestId('comment-video').getAttribute('href'), `/w/${video.uuid}?threadId=${comments.spam.threadId}`);
    assert.deepEqual(await tagsOf(nice), []);
    assert.equal(await nice.getByTestId('held').count(), 0);
    assert.equal(await nice.getByRole('button', { name: 'Approve' }).count(), 0, 'Approve on a comment that is not held');
    await shot(page, DESKTOP, 'comments-on-my-videos');

    await page.getByLabel('Only the comments held for my review').check();
    await nice.waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('moderated-comment').count(), 1);
    await spam.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('status').getByText('The comment of Bob Spammer is approved').waitFor();
    await page.getByText('No comment waits for your review.').waitFor();
    assert.ok((await threadTexts()).includes(BOB_SPAM), 'the approved comment is public');

    await visitor.page.reload();
    await commentWith(visitor.page, BOB_SPAM).waitFor();
    await visitor.page.getByRole('heading', { name: '2 comments', exact: true }).waitFor();
  });

  step('the owner removes every comment of an account on their videos, and only there', async () => {
    for (const text of CARL_SAYS) await call(instance.url, tokens.carl, 'POST', `/videos/${video.id}/comment-threads`, { text });
    await call(instance.url, tokens.carl, 'POST', `/videos/${other.id}/comment-threads`, { text: CARL_ELSEWHERE });
    const { page } = olga;
    await page.getByLabel('Only the comments held for my review').uncheck();
    const carl = cardWith(page, CARL_SAYS[1]);
    await carl.waitFor();
    assert.equal(await page.getByTestId('moderated-comment').count(), 4);
    await carl.getByRole('button', { name: 'Remove all comments of this account on my videos' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove the comments of Carl Chatty on your videos?' });
    await dialog.getByText('Every comment of @carl under your videos is deleted').waitFor();
    await dialog.getByRole('button', { name: 'Remove them' }).click();
    await page.getByRole('status').getByText('The comments of Carl Chatty on your videos were removed.').waitFor();
    await cardWith(page, CARL_SAYS[0]).waitFor({ state: 'detached' });
    await carl.waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('moderated-comment').count(), 2);
    const mine = await get(instance.url, tokens.olga, '/users/me/videos/comments');
    assert.deepEqual(mine.data.map((c) => c.text).sort(), [BOB_NICE, BOB_SPAM].sort());
    const elsewhere = await get(instance.url, null, `/videos/${other.uuid}/comment-threads`);
    assert.deepEqual(elsewhere.data.map((c) => c.text), [CARL_ELSEWHERE], 'a comment on another user’s video stays');
  });

  step('the admin finds the comment by the instance’s tag and removes every comment of its author', async () => {
    const { page } = root;
    await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Comments' }).click();
    await page.waitForURL((u) => u.pathname === '/admin/moderation/comments/list');
    const spam = cardWith(page, BOB_SPAM);
    await spam.waitFor();
    await cardWith(page, CARL_ELSEWHERE).waitFor();
    await page.getByText('3 comments', { exact: true }).waitFor();
    assert.deepEqual(await tagsOf(spam), ['gambling'], 'the instance’s tags, not the owner’s');

    const filter = page.getByRole('group', { name: 'With any of these tags' });
    assert.deepEqual(await filter.getByRole('checkbox').evaluateAll((els) => els.map((e) => e.parentElement.textContent.trim())), ['external-link', 'gambling']);
    const listed = page.waitForResponse((r) => r.url().includes('/api/v1/videos/comments?') && r.url().includes('autoTagOneOf=gambling'));
    await filter.getByRole('checkbox', { name: 'gambling' }).check();
    await listed;
    await cardWith(page, BOB_NICE).waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('moderated-comment').count(), 1);
    await page.getByText('1 comment', { exact: true }).waitFor();
    await shot(page, DESKTOP, 'admin-comments');

    // Searched by account: Bob's two.
    await filter.getByRole('checkbox', { name: 'gambling' }).uncheck();
    await page.getByLabel('Account', { exact: true }).fill('bob');
    await page.getByRole('button', { name: 'Filter' }).click();
    await cardWith(page, BOB_NICE).waitFor();
    await cardWith(page, CARL_ELSEWHERE).waitFor({ state: 'detached' });
    assert.equal(await page.getByTestId('moderated-comment').count(), 2);

    await spam.getByRole('button', { name: 'Remove all comments of this account' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove all comments of Bob Spammer?' });
    await dialog.getByText('Every comment of @bob on this instance is deleted').waitFor();
    await dialog.getByRole('button', { name: 'Remove them' }).click();
    await page.getByRole('status').getByText('The comments of Bob Spammer were removed.').waitFor();
    await page.getByText('No comment matches.').waitFor();
    assert.equal((await get(instance.url, tokens.root, '/videos/comments?searchAccount=bob')).total, 0);

    await visitor.page.reload();
    await visitor.page.getByRole('heading', { name: '0 comments', exact: true }).waitFor();
    assert.equal(await visitor.page.getByText(BOB_SPAM).count(), 0);
    assert.equal(await visitor.page.getByText(BOB_NICE).count(), 0);
  });

  step('the owner marks the video sensitive: violence, with a summary', async () => {
    const { page } = olga;
    await page.goto(`/videos/update/${video.shortUUID}`);
    const nsfw = page.getByLabel('This video contains sensitive content');
    await nsfw.waitFor();
    assert.equal(await page.getByLabel('Violence').count(), 0, 'the details show only for a sensitive video');
    await nsfw.check();
    await page.getByLabel('Violence').check();
    assert.equal(await page.getByLabel('Explicit sex').isChecked(), false);
    await page.getByLabel('Summary').fill(SUMMARY);
    await shot(page, DESKTOP, 'edit-sensitive');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.waitForURL((u) => u.pathname === `/w/${video.shortUUID}`);
    const v = await get(instance.url, tokens.olga, `/videos/${video.uuid}`);
    assert.deepEqual([v.nsfw, v.nsfwFlags, v.nsfwSummary], [true, 1, SUMMARY]);

    // The form shows what is stored.
    await page.goto(`/videos/update/${video.shortUUID}`);
    assert.equal(await page.getByLabel('Violence').isChecked(), true);
    assert.equal(await page.getByLabel('Summary').inputValue(), SUMMARY);
  });

  step('a visitor meets the warning with the summary, and the player once they choose to display it', async () => {
    await call(instance.url, tokens.root, 'PUT', '/config/custom', { instance: { defaultNSFWPolicy: 'blur' } });
    assert.equal((await get(instance.url, null, '/config')).instance.defaultNSFWPolicy, 'blur');
    await visitor.context.close();
    visitor = await newPerson(browser, DESKTOP, instance.url);
    const { page } = visitor;
    await page.goto(`/w/${video.shortUUID}`);
    const warning = page.getByRole('region', { name: 'This video contains sensitive content' });
    await warning.waitFor();
    assert.equal(await warning.getByTestId('sensitive-summary').textContent(), SUMMARY);
    assert.deepEqual(await warning.getByRole('list', { name: 'Kinds of sensitive content' }).getByRole('listitem').allTextContents(), ['Violence']);
    await page.getByRole('heading', { name: 'Harbour at dusk' }).waitFor();
    assert.equal(await page.locator('video').count(), 0, 'the player waits behind the warning');
    await shot(page, DESKTOP, 'watch-sensitive');
    await warning.getByRole('button', { name: 'Display the video' }).click();
    await warning.waitFor({ state: 'detached' });
    await playUntil(page, 0.5);

    // The embed: the same warning over the player.
    await page.goto(`/videos/embed/${video.shortUUID}`);
    const overlay = page.getByRole('region', { name: 'This video contains sensitive content' });
    await overlay.waitFor();
    assert.equal(await overlay.getByTestId('sensitive-summary').textContent(), SUMMARY);
    assert.equal(await page.locator('video').count(), 0);
    await page.getByRole('link', { name: 'Harbour at dusk' }).waitFor();
    await shot(page, DESKTOP, 'embed-sensitive');
    await overlay.getByRole('button', { name: 'Display the video' }).click();
    await overlay.waitFor({ state: 'detached' });
    await playUntil(page, 0.5);

    // A viewer who displays sensitive videos meets no warning.
    await call(instance.url, tokens.olga, 'PUT', '/users/me', { nsfwPolicy: 'display' });
    await olga.page.goto(`/w/${video.shortUUID}`);
    await olga.page.locator('video').waitFor({ state: 'attached' });
    assert.equal(await olga.page.getByTestId('sensitive-warning').count(), 0);
  });

  step('the notification settings: the moderators’ kinds to moderators only, the e-mail bit kept', async () => {
    const { page } = olga;
    await page.goto('/my-account/settings');
    const section = page.locator('#notifications');
    const blocked = section.getByLabel('the moderators block or unblock my video');
    await blocked.waitFor();
    assert.equal(await section.getByLabel('someone reports something (moderators)').count(), 0);
    assert.equal(await section.getByRole('checkbox').count(), 8);
    assert.equal(await blocked.isChecked(), true);
    await blocked.uncheck();
    await section.getByRole('button', { name: 'Save' }).click();
    await section.getByRole('status').getByText('Saved.').waitFor();
    const s = (await get(instance.url, tokens.olga, '/users/me')).notificationSettings;
    assert.deepEqual([s.blacklistOnMyVideo, s.abuseStateChange, s.abuseAsModerator], [2, 3, 3], 'web bit off, e-mail kept; others untouched');

    await root.page.goto('/my-account/settings');
    const adminSection = root.page.locator('#notifications');
    await adminSection.getByLabel('someone reports something (moderators)').waitFor();
    await adminSection.getByLabel('a new video waits for review (moderators)').waitFor();
    assert.equal(await adminSection.getByRole('checkbox').count(), 10);
  });

  step('on a phone, the moderation pages and the warning fit the screen', async () => {
    const check = async (page, path, ready) => {
      await page.goto(path);
      await ready(page).waitFor();
      assert.ok(await fits(page), `${path} scrolls sideways at 360 px`);
    };
    phone = await newPerson(browser, PHONE, instance.url);
    await login(phone.page, USERS.olga.name, password(USERS.olga));
    await check(phone.page, '/my-account/videos/comments', (p) => p.getByText('Nobody commented on your videos yet.'));
    await check(phone.page, '/my-account/watched-words/list', (p) => p.getByRole('list', { name: 'Words of spam' }));
    await shot(phone.page, PHONE, 'watched-words');
    await check(phone.page, '/my-account/auto-tag-policies', (p) => p.getByRole('checkbox', { name: /^spam/ }));
    await phone.page.getByRole('button', { name: 'Account menu for Olga Owner' }).click();
    await phone.page.getByRole('button', { name: 'Log out' }).click();
    await phone.page.getByRole('link', { name: 'Log in' }).first().waitFor();
    // A visitor: the warning on the watch page and the embed.
    await check(phone.page, `/w/${video.shortUUID}`, (p) => p.getByRole('button', { name: 'Display the video' }));
    const box = await phone.page.getByRole('button', { name: 'Display the video' }).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 360, `the button is off screen: ${JSON.stringify(box)}`);
    await shot(phone.page, PHONE, 'watch-sensitive');
    await check(phone.page, `/videos/embed/${video.shortUUID}`, (p) => p.getByRole('button', { name: 'Display the video' }));

    const admin = await newPerson(browser, PHONE, instance.url);
    try {
      await login(admin.page, 'root', ADMIN_PASSWORD);
      await check(admin.page, '/admin/moderation/comments/list', (p) => p.getByTestId('moderated-comment').filter({ hasText: CARL_ELSEWHERE }));
      await shot(admin.page, PHONE, 'admin-comments');
      await check(admin.page, '/admin/moderation/watched-words/list', (p) => p.getByRole('list', { name: 'Words of gambling' }));
      assert.deepEqual(admin.problems, []);
    } finally {
      await admin.context.close();
    }
  });

  test('no page error and no Content-Security-Policy violation happened', () => {
    assert.deepEqual([olga, root, visitor, phone].flatMap((p) => p?.problems ?? []), []);
  });
});
