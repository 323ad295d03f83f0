// Reports ("abuses") and video blocks. A user reports a video from the watch page (a predefined
// reason, the part from the player's current time; a 429 from the server shows in the dialog,
// which keeps the text) and a comment from its ⋯ menu; the admin finds both on the reports page
// (filtered by type and state), writes a moderation comment, accepts one and writes to the
// reporter, who sees the decision and the message on "My reports" (and in the notifications) and
// answers. The admin blocks the video from the watch page: visitors lose it, it is on the blocked
// videos page (reason edited there), its owner sees the banner; unblocking brings it back. The
// admin settings hold new uploads for review. At 360 px the dialogs and pages fit the screen.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { adminToken, call, get, registerUser, token, uploadVideo, waitPublished } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login } from './support/flows.mjs';
import { ADMIN_PASSWORD, makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 60_000 };
const USERS = {
  olga: { name: 'olga', displayName: 'Olga Owner' },
  rita: { name: 'rita', displayName: 'Rita Reporter' },
};
const password = (user) => `${user.name}-password-1`;
const OLGA_SAYS = 'Buy cheap boats at my shop';
const VIDEO_REASON = 'The advert at the start lies about the boats.';
const COMMENT_REASON = 'This comment is spam for a shop.';
const MOD_COMMENT = 'Checked the clip: the advert is misleading.';
const TO_REPORTER = 'Thanks, we are looking at the video.';
const TO_MODERATORS = 'Thank you for the quick answer.';
const BLOCK_REASON = 'Misleading advert';

let instance;
let browser;
let workDir;
const tokens = {};
let video;
let calm;

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-reports-'));
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
    uploadVideo(instance.url, tokens.olga, tone, { name: 'Harbour at noon' }),
    uploadVideo(instance.url, tokens.olga, tone, { name: 'Calm sea' }),
  ]);
  [video, calm] = await Promise.all([waitPublished(instance.url, tokens.olga, v1.uuid), waitPublished(instance.url, tokens.olga, v2.uuid)]);
  await call(instance.url, tokens.olga, 'POST', `/videos/${video.id}/comment-threads`, { text: OLGA_SAYS });
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('reports and video blocks', () => {
  let rita;
  let root;
  let olga;
  let visitor;
  let phone;
  let failed = null;
  let videoReport;
  let commentReport;
  let reportShowedBlock = null;

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

  const reports = () => get(instance.url, tokens.root, '/abuses?count=50&sort=createdAt');
  const card = (page, id) => page.locator(`[data-testid="abuse"][data-abuse-id="${id}"]`);
  const myCard = (page, id) => page.locator(`[data-testid="my-abuse"][data-abuse-id="${id}"]`);
  const fits = (page) => page.evaluate(() => document.scrollingElement.scrollWidth <= window.innerWidth);
  const onScreen = async (locator, width) => {
    const box = await locator.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= width, `off screen: ${JSON.stringify(box)}`);
  };

  before(async () => {
    [rita, root, olga, visitor] = await Promise.all([1, 2, 3, 4].map(() => newPerson(browser, DESKTOP, instance.url)));
    await login(rita.page, USERS.rita.name, password(USERS.rita));
    await login(root.page, 'root', ADMIN_PASSWORD);
    await login(olga.page, USERS.olga.name, password(USERS.olga));
  });

  after(async () => {
    for (const person of [rita, root, olga, visitor, phone]) await person?.context.close();
  });

  step('a user reports a video from the watch page: a predefined reason, the part from the current time', async () => {
    const { page } = rita;
    await page.goto(`/w/${video.shortUUID}`);
    // Move the player to 0:02, which the dialog offers as the start.
    await page.waitForFunction(() => (document.querySelector('video')?.readyState ?? 0) >= 1, null, { timeout: 20_000 });
    await page.evaluate(() => {
      const v = document.querySelector('video');
      v.currentTime = 2;
    });
    await page.waitForFunction(() => Math.floor(document.querySelector('video').currentTime) === 2);

    await page.getByRole('button', { name: 'Report this video' }).click();
    const dialog = page.getByRole('dialog', { name: 'Report this video' });
    await dialog.waitFor();
    await dialog.getByText('The video “Harbour at noon”').waitFor();
    assert.equal(await dialog.getByRole('checkbox').count(), 9, 'eight reasons and the part of the video');
    const send = dialog.getByRole('button', { name: 'Send the report' });
    assert.ok(await send.isDisabled(), 'sending an empty report is offered');

    // The count, against 3,000.
    const reason = dialog.getByLabel('Reason', { exact: true });
    await reason.fill('x'.repeat(3001));
    const count = dialog.getByTestId('report-length').locator('[aria-hidden="true"]');
    assert.equal(await count.textContent(), '3,001 / 3,000');
    assert.ok(await send.isDisabled(), 'a reason over 3,000 characters can be sent');
    await reason.fill(VIDEO_REASON);
    assert.equal(await count.textContent(), `${VIDEO_REASON.length} / 3,000`);

    await dialog.getByRole('checkbox', { name: 'Spam or misleading' }).check();
    await dialog.getByRole('checkbox', { name: 'Only a part of the video, from the current time (0:02)' }).check();
    assert.equal(await dialog.getByLabel('From', { exact: true }).inputValue(), '0:02');
    await dialog.getByLabel('To (optional)').fill('0:01');
    await dialog.getByText('The end comes after the start.').waitFor();
    assert.ok(await send.isDisabled(), 'an end before the start can be sent');
    await dialog.getByLabel('To (optional)').fill('0:03');

    // Too many reports: the server's answer and when to try again; the text stays.
    await page.route('**/api/v1/abuses', (route) => route.fulfill({
      status: 429,
      headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '90' },
      body: JSON.stringify({ status: 429, detail: 'You sent too many reports.' }),
    }), { times: 1 });
    await send.click();
    const alert = dialog.getByRole('alert');
    await alert.getByText('You sent too many reports.').waitFor();
    assert.match(await alert.textContent(), /You can report again in 1m 30s\./);
    assert.equal(await reason.inputValue(), VIDEO_REASON);

    await send.click();
    await dialog.getByRole('status').getByText('Report sent to the moderators.').waitFor();
    assert.equal(await dialog.getByRole('link', { name: 'My reports' }).getAttribute('href'), '/my-account/abuses');
    await shot(page, DESKTOP, 'report-video-sent');
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'hidden' });

    const list = await reports();
    assert.equal(list.total, 1);
    videoReport = list.data[0];
    assert.equal(videoReport.reason, VIDEO_REASON);
    assert.deepEqual(videoReport.predefinedReasons, ['spamOrMisleading']);
    assert.equal(videoReport.video.id, video.id);
    assert.equal(videoReport.video.startAt, 2);
    assert.equal(videoReport.video.endAt, 3);
    assert.equal(videoReport.reporterAccount.name, 'rita');

    // Not on one's own video.
    await olga.page.goto(`/w/${video.shortUUID}`);
    await olga.page.getByRole('heading', { name: 'Harbour at noon' }).waitFor();
    await olga.page.getByRole('link', { name: 'Edit', exact: true }).waitFor();
    assert.equal(await olga.page.getByRole('button', { name: 'Report this video' }).count(), 0);
  });

  step('a user reports a comment from its ⋯ menu, and may report an account from its page', async () => {
    const { page } = rita;
    const comment = page.getByTestId('comment').filter({ hasText: OLGA_SAYS });
    await comment.getByRole('button', { name: 'More actions for Olga Owner' }).click();
    const menu = page.getByRole('menu', { name: 'More actions for Olga Owner' });
    await menu.waitFor();
    assert.deepEqual(await menu.getByRole('menuitem').allTextContents(), ['Mute this account', 'Report this comment']);
    await menu.getByRole('menuitem', { name: 'Report this comment' }).click();
    const dialog = page.getByRole('dialog', { name: 'Report this comment' });
    await dialog.waitFor();
    await dialog.getByText('A comment by Olga Owner').waitFor();
    // Thumbnails and captions are a video's; no part of a video to pick.
    assert.equal(await dialog.getByRole('checkbox').count(), 6);
    assert.equal(await dialog.getByRole('checkbox', { name: 'Thumbnails' }).count(), 0);
    assert.ok(await dialog.getByLabel('Reason', { exact: true }).evaluate((el) => el === document.activeElement), 'the reason has the focus');
    await dialog.getByLabel('Reason', { exact: true }).fill(COMMENT_REASON);
    await dialog.getByRole('checkbox', { name: 'Spam or misleading' }).check();
    await dialog.getByRole('checkbox', { name: 'Hateful or abusive' }).check();
    await dialog.getByRole('button', { name: 'Send the report' }).click();
    await dialog.getByRole('status').getByText('Report sent to the moderators.').waitFor();
    await shot(page, DESKTOP, 'report-comment-sent');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });

    const list = await reports();
    assert.equal(list.total, 2);
    commentReport = list.data[1];
    assert.equal(commentReport.comment.text, OLGA_SAYS);
    assert.equal(commentReport.reason, COMMENT_REASON);
    // In PeerTube's order, whatever the order of the clicks.
    assert.deepEqual(commentReport.predefinedReasons, ['hatefulOrAbusive', 'spamOrMisleading']);
    assert.equal(commentReport.video, null);

    await page.goto('/a/olga');
    await page.getByRole('heading', { name: 'Olga Owner' }).waitFor();
    await page.getByRole('button', { name: 'More actions for Olga Owner' }).click();
    await page.getByRole('menuitem', { name: 'Report this account' }).click();
    const accountDialog = page.getByRole('dialog', { name: 'Report this account' });
    await accountDialog.getByText('The account Olga Owner').waitFor();
    await accountDialog.getByRole('button', { name: 'Cancel' }).click();
    await accountDialog.waitFor({ state: 'hidden' });
    assert.equal((await reports()).total, 2, 'cancelling sent a report');
  });

  step('the admin sees both reports, filters them, comments, accepts one and writes to the reporter', async () => {
    const { page } = root;
    await page.goto('/admin/users');
    const tabs = page.getByRole('navigation', { name: 'Administration' });
    await tabs.getByRole('link', { name: 'Muted servers' }).waitFor();
    const names = await tabs.getByRole('link').allTextContents();
    assert.ok(names.indexOf('Reports') >= 0 && names.indexOf('Reports') < names.indexOf('Muted accounts'), names.join());
    assert.ok(names.indexOf('Blocked videos') > names.indexOf('Reports') && names.indexOf('Blocked videos') < names.indexOf('Muted accounts'), names.join());
    await tabs.getByRole('link', { name: 'Reports' }).click();
    await page.waitForURL((u) => u.pathname === '/admin/moderation/abuses/list');
    assert.equal(await tabs.getByRole('link', { name: 'Reports' }).getAttribute('aria-current'), 'page');

    const cards = page.getByTestId('abuse');
    await card(page, videoReport.id).waitFor();
    assert.equal(await cards.count(), 2);
    // Newest first.
    assert.deepEqual(await cards.evaluateAll((els) => els.map((e) => Number(e.dataset.abuseId))), [commentReport.id, videoReport.id]);
    const vc = card(page, videoReport.id);
    assert.match(await vc.getByTestId('abuse-subject').textContent(), /Harbour at noon/);
    assert.equal((await vc.getByTestId('abuse-timestamp').textContent()).trim(), 'From 0:02 to 0:03');
    assert.match(await vc.getByTestId('abuse-reporter').textContent(), /Rita Reporter/);
    assert.match(await vc.getByTestId('abuse-flagged').textContent(), /Olga Owner.*2 reports about this account/s);
    await vc.getByText('Spam or misleading').waitFor();
    assert.equal(await vc.getByTestId('abuse-reason').textContent(), VIDEO_REASON);
    assert.equal(await card(page, commentReport.id).getByTestId('abuse-comment').textContent(), OLGA_SAYS);

    // Filters: what the reports are about, then their state.
    await page.getByRole('combobox', { name: 'About', exact: true }).selectOption({ label: 'Comments' });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="abuse"]').length === 1);
    await card(page, commentReport.id).waitFor();
    await page.getByRole('combobox', { name: 'About', exact: true }).selectOption({ label: 'Anything' });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="abuse"]').length === 2);
    await page.getByRole('searchbox', { name: 'Search', exact: true }).fill('advert at the start');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="abuse"]').length === 1);
    await card(page, videoReport.id).waitFor();
    await page.getByRole('searchbox', { name: 'Search', exact: true }).fill('');
    await page.getByRole('button', { name: 'Filter', exact: true }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="abuse"]').length === 2);

    // A moderation comment, then accept.
    await vc.getByRole('button', { name: 'Moderation comment' }).click();
    await vc.getByRole('textbox', { name: 'Moderation comment' }).fill(MOD_COMMENT);
    await vc.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText(`The moderation comment of report #${videoReport.id} was saved.`).waitFor();
    assert.equal(await vc.getByTestId('abuse-moderation-comment').textContent(), MOD_COMMENT);
    await vc.getByRole('group', { name: `Actions on report #${videoReport.id}` }).getByRole('button', { name: 'Accept' }).click();
    await page.getByRole('status').getByText(`Report #${videoReport.id}: Accepted.`).waitFor();
    assert.equal(await vc.getByTestId('abuse-state').textContent(), 'Accepted');
    assert.equal(await vc.getByRole('button', { name: 'Accept' }).count(), 0);
    await vc.getByRole('button', { name: 'Back to pending' }).waitFor();
    const accepted = (await reports()).data.find((a) => a.id === videoReport.id);
    assert.equal(accepted.state.id, 3);
    assert.equal(accepted.moderationComment, MOD_COMMENT);
    assert.equal((await reports()).data.find((a) => a.id === commentReport.id).state.id, 1, 'the other report changed');

    // A message to the reporter.
    await vc.getByRole('button', { name: 'Messages (0)' }).click();
    const messages = vc.getByRole('region', { name: `Messages of report #${videoReport.id}` });
    await messages.getByText('No message yet.').waitFor();
    await messages.getByLabel('Write to the reporter').fill(TO_REPORTER);
    await messages.getByRole('button', { name: 'Send' }).click();
    const sent = messages.getByTestId('abuse-message').filter({ hasText: TO_REPORTER });
    await sent.waitFor();
    await sent.getByText('Moderator', { exact: true }).waitFor();
    assert.equal(await messages.getByLabel('Write to the reporter').inputValue(), '');
    await vc.getByRole('button', { name: 'Hide the messages' }).waitFor();
    await shot(page, DESKTOP, 'admin-reports');

    // Only the pending one.
    await page.getByRole('combobox', { name: 'State', exact: true }).selectOption({ label: 'Pending' });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="abuse"]').length === 1);
    await card(page, commentReport.id).waitFor();
    await page.getByRole('combobox', { name: 'State', exact: true }).selectOption({ label: 'Any state' });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="abuse"]').length === 2);

    const thread = await get(instance.url, tokens.root, `/abuses/${videoReport.id}/messages`);
    assert.deepEqual(thread.data.map((m) => [m.message, m.byModerator]), [[TO_REPORTER, true]]);
  });

  step('the reporter sees the decision and the message on “My reports”, and answers', async () => {
    const { page } = rita;
    await page.goto('/');
    await page.getByRole('button', { name: 'Account menu for Rita Reporter' }).click();
    await page.locator('#account-menu').getByRole('link', { name: 'My reports' }).click();
    await page.waitForURL((u) => u.pathname === '/my-account/abuses');
    await page.getByRole('heading', { name: 'My reports' }).waitFor();
    assert.equal(await page.getByRole('navigation', { name: 'My library' }).getByRole('link', { name: 'My reports' }).getAttribute('aria-current'), 'page');

    const vc = myCard(page, videoReport.id);
    await vc.waitFor();
    assert.equal(await page.getByTestId('my-abuse').count(), 2);
    assert.equal(await vc.getByTestId('abuse-state').textContent(), 'Accepted');
    assert.equal(await myCard(page, commentReport.id).getByTestId('abuse-state').textContent(), 'Pending');
    await vc.getByText(VIDEO_REASON).waitFor();
    await vc.getByText('Spam or misleading').waitFor();
    assert.equal(await page.getByText(MOD_COMMENT).count(), 0, 'the reporter sees the moderation comment');

    await vc.getByRole('button', { name: 'Messages (1)' }).click();
    const messages = vc.getByRole('region', { name: `Messages of report #${videoReport.id}` });
    const fromAdmin = messages.getByTestId('abuse-message').filter({ hasText: TO_REPORTER });
    await fromAdmin.waitFor();
    await fromAdmin.getByText('Moderator', { exact: true }).waitFor();
    await messages.getByLabel('Write to the moderators').fill(TO_MODERATORS);
    await messages.getByRole('button', { name: 'Send' }).click();
    await messages.getByTestId('abuse-message').filter({ hasText: TO_MODERATORS }).waitFor();
    assert.equal(await messages.getByTestId('abuse-message').count(), 2);
    await shot(page, DESKTOP, 'my-reports');
    const thread = await get(instance.url, tokens.rita, `/abuses/${videoReport.id}/messages`);
    assert.deepEqual(thread.data.map((m) => [m.message, m.byModerator]), [[TO_REPORTER, true], [TO_MODERATORS, false]]);

    // The notifications say so, and lead here.
    await page.goto('/my-account/notifications');
    const accepted = page.getByRole('link', { name: `The moderators accepted your report #${videoReport.id}` });
    await accepted.waitFor();
    assert.equal(await accepted.getAttribute('href'), '/my-account/abuses');
    await page.getByRole('link', { name: `New message about the report #${videoReport.id}` }).first().waitFor();
  });

  step('the admin blocks the video from the watch page: gone for visitors, listed as blocked, a banner for its owner', async () => {
    const { page } = root;
    await page.goto(`/w/${video.shortUUID}`);
    await page.getByRole('button', { name: 'Block', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Block “Harbour at noon”' });
    await dialog.waitFor();
    const unfederate = dialog.getByRole('checkbox', { name: /Also remove it from the instances that follow this one/ });
    assert.ok(await unfederate.isChecked(), 'unfederate is off for a local video');
    await dialog.getByLabel('Reason (optional)').fill('x');
    await dialog.getByText('A reason is 2 to 300 characters.').waitFor();
    assert.ok(await dialog.getByRole('button', { name: 'Block the video' }).isDisabled());
    await dialog.getByLabel('Reason (optional)').fill(BLOCK_REASON);
    await shot(page, DESKTOP, 'block-video-dialog');
    await dialog.getByRole('button', { name: 'Block the video' }).click();
    await dialog.waitFor({ state: 'hidden' });
    const banner = page.getByTestId('blocked-banner');
    await banner.getByText(`This video is blocked: ${BLOCK_REASON}`).waitFor();
    await page.getByRole('status').getByText('“Harbour at noon” is blocked.').waitFor();
    await page.getByRole('button', { name: 'Unblock' }).waitFor();

    const res = await fetch(`${instance.url}/api/v1/videos/${video.uuid}`);
    assert.equal(res.status, 404, 'a visitor still gets the blocked video');
    await visitor.page.goto('/');
    await visitor.page.getByRole('link', { name: calm.name }).first().waitFor();
    assert.equal(await visitor.page.getByRole('link', { name: 'Harbour at noon' }).count(), 0, 'the home page lists the blocked video');

    await olga.page.goto(`/w/${video.shortUUID}`);
    await olga.page.getByTestId('blocked-banner').getByText(`This video is blocked: ${BLOCK_REASON}`).waitFor();
    await olga.page.getByTestId('blocked-banner').getByText('Only its owner and the moderators can see it.').waitFor();
    assert.equal(await olga.page.getByRole('button', { name: 'Unblock' }).count(), 0, 'the owner may unblock');
    await shot(olga.page, DESKTOP, 'blocked-video-owner');
  });

  step('the blocked videos page lists it; its reason is edited there, then it is unblocked', async () => {
    const { page } = root;
    await page.goto('/admin/users');
    await page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Blocked videos' }).click();
    await page.waitForURL((u) => u.pathname === '/admin/moderation/video-blocks/list');
    const item = page.getByTestId('video-block').filter({ hasText: 'Harbour at noon' });
    await item.waitFor();
    assert.equal(await page.getByTestId('video-block').count(), 1);
    assert.equal(await item.getByTestId('video-block-reason').textContent(), BLOCK_REASON);
    assert.equal(await item.getByTestId('video-block-type').textContent(), 'Blocked by a moderator');
    await item.getByTestId('video-block-unfederated').waitFor();
    await page.getByRole('combobox', { name: 'Type', exact: true }).selectOption({ label: 'Held for review' });
    await page.getByText('No blocked video matches.').waitFor();
    await page.getByRole('combobox', { name: 'Type', exact: true }).selectOption({ label: 'Any type' });
    await item.waitFor();

    await item.getByRole('button', { name: 'Edit the reason' }).click();
    await item.getByLabel('Reason').fill(`${BLOCK_REASON}, twice`);
    await item.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('The reason for “Harbour at noon” was saved.').waitFor();
    assert.equal(await item.getByTestId('video-block-reason').textContent(), `${BLOCK_REASON}, twice`);
    await shot(page, DESKTOP, 'admin-video-blocks');
    const blocks = await get(instance.url, tokens.root, '/videos/blacklist');
    assert.deepEqual(blocks.data.map((b) => [b.video.id, b.reason, b.type, b.unfederated]), [[video.id, `${BLOCK_REASON}, twice`, 1, true]]);

    await item.getByRole('button', { name: 'Unblock' }).click();
    await page.getByRole('status').getByText('“Harbour at noon” is unblocked.').waitFor();
    await page.getByText('No video is blocked.').waitFor();
    assert.equal((await get(instance.url, tokens.root, '/videos/blacklist')).total, 0);

    await visitor.page.goto('/');
    await visitor.page.getByRole('link', { name: 'Harbour at noon' }).first().waitFor();
    await olga.page.reload();
    await olga.page.getByRole('heading', { name: 'Harbour at noon' }).waitFor();
    assert.equal(await olga.page.getByTestId('blocked-banner').count(), 0);
  });

  step('a report’s “Block the video” blocks it, and the watch page unblocks it', async () => {
    const { page } = root;
    await page.goto('/admin/moderation/abuses/list');
    const vc = card(page, videoReport.id);
    await vc.getByRole('button', { name: 'Block the video' }).click();
    const dialog = page.getByRole('dialog', { name: 'Block “Harbour at noon”' });
    await dialog.getByRole('button', { name: 'Block the video' }).click();
    await dialog.waitFor({ state: 'hidden' });
    // The notice comes once the list is loaded again.
    await page.getByRole('status').getByText('“Harbour at noon” is blocked.').waitFor();
    assert.equal((await get(instance.url, tokens.olga, `/videos/${video.uuid}`)).blacklisted, true);
    // Checked by its own test below, so that the steps after this one still run.
    reportShowedBlock = {
      badge: await vc.getByTestId('abuse-video-blocked').count(),
      button: await vc.getByRole('button', { name: 'Block the video' }).count(),
      api: (await reports()).data.find((a) => a.id === videoReport.id).video.blacklisted,
    };

    await page.goto(`/w/${video.shortUUID}`);
    await page.getByTestId('blocked-banner').getByText('This video is blocked.').waitFor();
    await page.getByRole('button', { name: 'Unblock' }).click();
    await page.getByRole('status').getByText('“Harbour at noon” is unblocked.').waitFor();
    await page.getByRole('button', { name: 'Block', exact: true }).waitFor();
    assert.equal(await page.getByTestId('blocked-banner').count(), 0);
    assert.equal((await fetch(`${instance.url}/api/v1/videos/${video.uuid}`)).status, 200);
  });

  step('the admin settings hold new uploads for review', async () => {
    const { page } = root;
    await page.goto('/admin/config/edit-custom');
    const box = page.getByRole('checkbox', { name: /Block new videos automatically/ });
    await box.waitFor();
    assert.equal(await box.isChecked(), false);
    await box.check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('Saved.').waitFor();
    assert.equal((await get(instance.url, tokens.root, '/config/custom')).autoBlacklist.videos.ofUsers.enabled, true);
    await page.reload();
    await page.getByRole('checkbox', { name: /Block new videos automatically/ }).waitFor();
    assert.ok(await page.getByRole('checkbox', { name: /Block new videos automatically/ }).isChecked());
  });

  step('on a phone, the dialogs and the pages fit the screen', async () => {
    phone = await newPerson(browser, PHONE, instance.url);
    const { page } = phone;
    const width = PHONE.viewport.width;
    await login(page, USERS.rita.name, password(USERS.rita));
    await page.goto(`/w/${video.shortUUID}`);
    await page.getByRole('button', { name: 'Report this video' }).click();
    const dialog = page.getByRole('dialog', { name: 'Report this video' });
    await dialog.waitFor();
    await dialog.getByRole('checkbox', { name: /^Only a part of the video/ }).check();
    await dialog.getByLabel('Reason', { exact: true }).fill('A long reason '.repeat(40));
    await onScreen(dialog, width);
    await onScreen(dialog.getByRole('button', { name: 'Send the report' }), width);
    await onScreen(dialog.getByLabel('To (optional)'), width);
    assert.ok(await fits(page), 'the watch page scrolls sideways with the report dialog open');
    assert.ok(await dialog.evaluate((d) => d.scrollWidth <= d.clientWidth), 'the dialog scrolls sideways');
    await shot(page, PHONE, 'report-video-dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });

    await page.getByTestId('comment').filter({ hasText: OLGA_SAYS }).getByRole('button', { name: 'More actions for Olga Owner' }).click();
    await page.getByRole('menuitem', { name: 'Report this comment' }).click();
    const commentDialog = page.getByRole('dialog', { name: 'Report this comment' });
    await commentDialog.waitFor();
    await onScreen(commentDialog, width);
    assert.ok(await fits(page));
    await commentDialog.getByRole('button', { name: 'Cancel' }).click();

    await page.goto('/my-account/abuses');
    await myCard(page, videoReport.id).getByRole('button', { name: 'Messages (2)' }).click();
    await myCard(page, videoReport.id).getByTestId('abuse-message').nth(1).waitFor();
    assert.ok(await fits(page), 'My reports scrolls sideways');
    await shot(page, PHONE, 'my-reports');

    // The admin's pages and the block dialog, on a phone.
    const admin = await newPerson(browser, PHONE, instance.url);
    try {
      await login(admin.page, 'root', ADMIN_PASSWORD);
      await admin.page.goto('/admin/moderation/abuses/list');
      await card(admin.page, videoReport.id).getByRole('button', { name: 'Messages (2)' }).click();
      await card(admin.page, videoReport.id).getByTestId('abuse-message').nth(1).waitFor();
      assert.ok(await fits(admin.page), 'the reports page scrolls sideways');
      const actions = card(admin.page, videoReport.id).getByRole('group', { name: `Actions on report #${videoReport.id}` });
      await onScreen(actions.getByRole('button', { name: 'Delete', exact: true }), width);
      await onScreen(card(admin.page, videoReport.id).getByRole('button', { name: 'Delete this message' }), width);
      await shot(admin.page, PHONE, 'admin-reports');
      await admin.page.goto(`/w/${video.shortUUID}`);
      await admin.page.getByRole('button', { name: 'Block', exact: true }).click();
      const block = admin.page.getByRole('dialog', { name: 'Block “Harbour at noon”' });
      await block.waitFor();
      await onScreen(block, width);
      await onScreen(block.getByRole('button', { name: 'Block the video' }), width);
      assert.ok(await fits(admin.page));
      await block.getByRole('button', { name: 'Cancel' }).click();
      await admin.page.goto('/admin/moderation/video-blocks/list');
      await admin.page.getByText('No video is blocked.').waitFor();
      assert.ok(await fits(admin.page), 'the blocked videos page scrolls sideways');
      assert.deepEqual(admin.problems, []);
    } finally {
      await admin.context.close();
    }
  });

  step('an admin deletes a report', async () => {
    const { page } = root;
    await page.goto('/admin/moderation/abuses/list');
    const cc = card(page, commentReport.id);
    await cc.getByRole('group', { name: `Actions on report #${commentReport.id}` }).getByRole('button', { name: 'Delete', exact: true }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete this report?' });
    await confirm.getByText(`Report #${commentReport.id} and its messages are deleted for good.`).waitFor();
    await confirm.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('status').getByText(`Report #${commentReport.id} was deleted.`).waitFor();
    await cc.waitFor({ state: 'detached' });
    assert.deepEqual((await reports()).data.map((a) => a.id), [videoReport.id]);
  });

  test('once its video is blocked, a report says “Blocked” and offers no “Block the video”', () => {
    assert.ok(reportShowedBlock, 'the step that blocks from a report did not run');
    assert.deepEqual(reportShowedBlock, { badge: 1, button: 0, api: true }, 'GET /abuses answers video.blacklisted for the blocked video');
  });

  test('no page error and no Content-Security-Policy violation happened', () => {
    assert.deepEqual([rita, root, olga, visitor, phone].flatMap((p) => p?.problems ?? []), []);
  });
});
