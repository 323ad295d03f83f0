// Watch history and feeds: the player reports where a signed-in viewer is (every few seconds while
// playing and on pause) and a reload resumes there; the history page lists the videos watched with
// how far, searches them, removes one, pauses recording (nothing new is recorded) and clears it
// all; cards show the part watched. Then the feeds: `<link rel="alternate">` on the home, channel,
// account and watch pages, the channel's RSS button (RSS, Atom, JSON, podcast), and the private
// feed of one's subscriptions with its token.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { call, get, registerUser, token, until, uploadVideo, waitPublished } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login, playUntil } from './support/flows.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
const USER = 'hana';
const PASSWORD = 'hana-password-1';
const LONG = 'Harbour walk, the long way';
const SHORT = 'Short gull call';
const OTHER = 'Buoy bell';

let instance;
let browser;
let workDir;
let tok;
let me;
const videos = {};

const media = (page) =>
  page.evaluate(() => {
    const v = document.querySelector('video');
    return v ? { paused: v.paused, t: v.currentTime, ready: v.readyState } : null;
  });
const historyNames = async () => (await get(instance.url, tok, '/users/me/history/videos?count=100')).data.map((v) => v.name);

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-history-'));
  instance = await startInstance({ FLOTILLA_TRANSCODING_RESOLUTIONS: '144' });
  browser = await launch();
  await registerUser(instance.url, USER, PASSWORD);
  tok = await token(instance.url, USER, PASSWORD);
  me = await get(instance.url, tok, '/users/me');
  const long = makeClip(workDir, 12, '256x144', { name: 'long.mp4' });
  const short = makeClip(workDir, 2, '256x144', { name: 'short.mp4' });
  const uploaded = {
    [LONG]: await uploadVideo(instance.url, tok, long, { name: LONG, waitTranscoding: true }),
    [SHORT]: await uploadVideo(instance.url, tok, short, { name: SHORT, waitTranscoding: true }),
    [OTHER]: await uploadVideo(instance.url, tok, short, { name: OTHER, waitTranscoding: true }),
  };
  for (const [name, v] of Object.entries(uploaded)) videos[name] = await waitPublished(instance.url, tok, v.uuid);
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('watch history', () => {
  let hana;
  let failed = null;

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
    hana = await newPerson(browser, DESKTOP, instance.url);
    await login(hana.page, USER, PASSWORD);
  });

  after(async () => {
    await hana?.context.close();
  });

  step('the player reports the position while playing and on pause, and a reload resumes there', async () => {
    const { page } = hana;
    const v = videos[LONG];
    const reports = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === `/api/v1/videos/${v.uuid}/views`) {
        reports.push({ at: Date.now(), currentTime: JSON.parse(r.postData() ?? '{}').currentTime });
      }
    });
    await page.goto(`/w/${v.shortUUID}`);
    await page.getByRole('heading', { name: LONG }).waitFor();
    await playUntil(page, 6.5);
    // While playing: at least one report with a position past the start, before any pause.
    await until('a report while playing', () => reports.some((r) => r.currentTime >= 4), 10_000);
    await page.getByRole('region', { name: 'Video player' }).focus();
    await page.keyboard.press('k');
    await page.waitForFunction(() => document.querySelector('video')?.paused);
    const pausedAt = (await media(page)).t;
    // On pause: the position where it stopped.
    await until('a report on pause', () => reports.some((r) => r.currentTime === Math.floor(pausedAt)), 10_000);
    assert.ok(reports.length >= 2, `several reports: ${JSON.stringify(reports)}`);
    const stored = await until('the position stored', async () => {
      const h = (await get(instance.url, tok, `/videos/${v.uuid}`)).userHistory;
      return h && h.currentTime === Math.floor(pausedAt) ? h.currentTime : false;
    }, 10_000);

    await page.reload();
    await page.getByRole('heading', { name: LONG }).waitFor();
    await page.waitForFunction(() => {
      const el = document.querySelector('video');
      return el && el.readyState >= 1 && el.currentTime > 0;
    }, null, { timeout: 20_000 });
    const resumed = await media(page);
    assert.ok(Math.abs(resumed.t - stored) <= 1, `resumed at ${resumed.t}, stored ${stored}`);
    // Not started yet: the big play button waits for the viewer.
    assert.ok(resumed.paused || resumed.t >= stored);
    await shot(page, DESKTOP, 'watch-resumed');
  });

  step('the history page lists the videos watched with how far; cards show it too; search finds one', async () => {
    const { page } = hana;
    // Leave the watch page first: the player, if the user's autoplay started it, reports the
    // position one last time as it goes. Left within the app (not by loading another page, whose
    // unload hides that request from the test), so that report's answer is awaited: on a busy
    // machine it can land after the call below and make the long video the last watched.
    const playing = !(await media(page))?.paused;
    const reports = [];
    const onRequest = (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname === `/api/v1/videos/${videos[LONG].uuid}/views`) reports.push(r.response());
    };
    page.on('request', onRequest);
    await page.getByRole('link', { name: 'Flotilla', exact: true }).click();
    await page.getByRole('navigation', { name: 'Video lists' }).waitFor();
    if (playing) await until('the player\'s last report', () => reports.length > 0, 10_000);
    await Promise.all(reports);
    page.off('request', onRequest);
    await page.goto('/my-library/videos');
    await call(instance.url, tok, 'POST', `/videos/${videos[SHORT].uuid}/views`, { currentTime: 1 });
    await page.getByRole('navigation', { name: 'My library' }).getByRole('link', { name: 'History' }).click();
    await page.waitForURL((u) => u.pathname === '/my-library/history/videos');
    const rows = page.getByTestId('history-video');
    await rows.nth(1).waitFor();
    assert.deepEqual(await rows.getByRole('heading').allTextContents(), [SHORT, LONG], 'last watched first');
    const width = async (row) => row.getByTestId('watched-progress').evaluate((e) => e.getBoundingClientRect().width / e.parentElement.getBoundingClientRect().width);
    const longPart = await width(rows.filter({ hasText: LONG }));
    assert.ok(longPart > 0.3 && longPart < 0.9, `the long video's bar: ${longPart}`);
    assert.ok((await width(rows.filter({ hasText: SHORT }))) >= 0.45);
    await rows.filter({ hasText: LONG }).getByText(/^Watched 0:0\d of 0:12$/).waitFor();
    await shot(page, DESKTOP, 'history');

    await page.getByLabel('Search your history').fill('gull');
    await page.getByLabel('Search your history').press('Enter');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="history-video"]').length === 1);
    assert.deepEqual(await rows.getByRole('heading').allTextContents(), [SHORT]);
    await page.getByLabel('Search your history').fill('');
    await page.getByLabel('Search your history').press('Enter');
    await rows.nth(1).waitFor();

    // The home page's card of a watched video shows the part watched.
    await page.goto('/');
    const card = page.locator('article').filter({ hasText: LONG });
    await card.waitFor();
    await card.getByTestId('watched-progress').waitFor({ state: 'attached' });
    assert.equal(await page.locator('article').filter({ hasText: OTHER }).getByTestId('watched-progress').count(), 0);
  });

  step('one video is removed from the history', async () => {
    const { page } = hana;
    await page.goto('/my-library/history/videos');
    await page.getByTestId('history-video').nth(1).waitFor();
    await page.getByRole('button', { name: `Remove “${SHORT}” from your history` }).click();
    await page.getByRole('status').getByText(`“${SHORT}” was removed from your history.`).waitFor();
    assert.deepEqual(await page.getByTestId('history-video').getByRole('heading').allTextContents(), [LONG]);
    assert.deepEqual(await historyNames(), [LONG]);
  });

  step('paused, the history records nothing new; resumed, it records again', async () => {
    const { page } = hana;
    const pause = page.getByRole('switch', { name: 'Record my watch history' });
    assert.equal(await pause.isChecked(), true);
    await pause.uncheck();
    await page.getByText('Your watch history is paused', { exact: false }).first().waitFor();
    await page.getByTestId('history-paused').waitFor();
    assert.equal((await get(instance.url, tok, '/users/me')).videosHistoryEnabled, false);
    await shot(page, DESKTOP, 'history-paused');

    // Watching now leaves no trace, even when the position is sent (another client might).
    await page.goto(`/w/${videos[OTHER].shortUUID}`);
    await page.getByRole('heading', { name: OTHER }).waitFor();
    await playUntil(page, 0.5);
    await call(instance.url, tok, 'POST', `/videos/${videos[OTHER].uuid}/views`, { currentTime: 1 });
    assert.deepEqual(await historyNames(), [LONG]);
    assert.equal((await get(instance.url, tok, `/videos/${videos[OTHER].uuid}`)).userHistory ?? null, null);

    await page.goto('/my-library/history/videos');
    await page.getByRole('switch', { name: 'Record my watch history' }).check();
    await page.getByRole('status').getByText('Your watch history is recorded again.').waitFor();
    assert.equal((await get(instance.url, tok, '/users/me')).videosHistoryEnabled, true);
  });

  step('the whole history is cleared', async () => {
    const { page } = hana;
    await call(instance.url, tok, 'POST', `/videos/${videos[OTHER].uuid}/views`, { currentTime: 1 });
    await page.reload();
    await page.getByTestId('history-video').nth(1).waitFor();
    await page.getByRole('button', { name: 'Clear all history' }).click();
    await page.getByRole('dialog', { name: 'Clear your whole history?' }).getByRole('button', { name: 'Clear all history' }).click();
    await page.getByRole('status').getByText('Your history was cleared.').waitFor();
    await page.getByText('Videos you watch appear here, with where you stopped.').waitFor();
    assert.equal((await get(instance.url, tok, '/users/me/history/videos')).total, 0);
    // And the watch page starts from the beginning again.
    assert.equal((await get(instance.url, tok, `/videos/${videos[LONG].uuid}`)).userHistory ?? null, null);
  });

  step('at phone size the history page fits the screen', async () => {
    await call(instance.url, tok, 'POST', `/videos/${videos[LONG].uuid}/views`, { currentTime: 3 });
    const phone = await newPerson(browser, PHONE, instance.url);
    try {
      const { page } = phone;
      await login(page, USER, PASSWORD);
      await page.goto('/my-library/history/videos');
      await page.getByTestId('history-video').first().waitFor();
      const { scroll, inner } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
      assert.ok(scroll <= inner, `the history page scrolls sideways (${scroll} > ${inner})`);
      await shot(page, PHONE, 'history');
      assert.deepEqual(phone.problems, []);
    } finally {
      await phone.context.close();
    }
  });
});

describe('feeds', () => {
  let visitor;
  let hana;

  before(async () => {
    visitor = await newPerson(browser, DESKTOP, instance.url);
    hana = await newPerson(browser, DESKTOP, instance.url);
    await login(hana.page, USER, PASSWORD);
  });

  after(async () => {
    await visitor?.context.close();
    await hana?.context.close();
  });

  /** The page's `<link rel="alternate">` elements: type → href. */
  const alternates = (page) =>
    page.evaluate(() => [...document.head.querySelectorAll('link[rel="alternate"]')].map((l) => ({ type: l.type, href: l.getAttribute('href'), title: l.title })));

  test('the channel page names its feeds in <head> and offers them from its RSS button', STEP, async () => {
    const { page } = visitor;
    const channel = me.videoChannels[0];
    await page.goto(`/c/${channel.name}`);
    await page.getByRole('heading', { name: channel.displayName }).waitFor();
    await page.waitForFunction(() => document.head.querySelector('link[rel="alternate"][href^="/feeds/videos.xml?videoChannelId"]'));
    const links = await alternates(page);
    const rss = links.find((l) => l.type === 'application/rss+xml' && l.href === `/feeds/videos.xml?videoChannelId=${channel.id}`);
    assert.ok(rss, `an RSS link to the channel's videos: ${JSON.stringify(links)}`);
    assert.ok(links.some((l) => l.type === 'application/atom+xml' && l.href === `/feeds/videos.atom?videoChannelId=${channel.id}`));
    assert.ok(links.some((l) => l.type === 'application/feed+json' && l.href === `/feeds/videos.json?videoChannelId=${channel.id}`));
    assert.ok(links.some((l) => l.href === `/feeds/podcast/videos.xml?videoChannelId=${channel.id}`));
    // Only this page's: the home page's feeds are gone.
    assert.ok(!links.some((l) => l.href === '/feeds/videos.xml'), 'the home page’s feed link stayed');

    await page.getByRole('button', { name: `Feeds of ${channel.displayName}` }).click();
    const menu = page.getByTestId('feed-menu');
    assert.deepEqual(await menu.getByRole('link').allTextContents(), ['RSS', 'Atom', 'JSON Feed', 'Podcast']);
    assert.equal(await menu.getByRole('link', { name: 'Podcast' }).getAttribute('href'), `/feeds/podcast/videos.xml?videoChannelId=${channel.id}`);
    await shot(page, DESKTOP, 'channel-feeds');

    const res = await fetch(`${instance.url}${rss.href}`);
    assert.equal(res.status, 200, `GET ${rss.href}`);
    assert.ok((await res.text()).includes(LONG), 'the channel feed lists its videos');
  });

  test('the home, account and watch pages name their feeds', STEP, async () => {
    const { page } = visitor;
    await page.goto('/');
    await page.waitForFunction(() => document.head.querySelector('link[rel="alternate"]'));
    assert.ok((await alternates(page)).some((l) => l.type === 'application/rss+xml' && l.href === '/feeds/videos.xml'));
    await page.goto('/videos/local');
    await page.waitForFunction(() => document.head.querySelector('link[rel="alternate"][href*="isLocal"]'));
    assert.ok((await alternates(page)).some((l) => l.href === '/feeds/videos.xml?isLocal=true'));

    await page.goto(`/a/${USER}`);
    await page.waitForFunction(() => document.head.querySelector('link[rel="alternate"][href^="/feeds/videos.xml?accountId"]'));
    assert.ok((await alternates(page)).some((l) => l.type === 'application/rss+xml' && l.href === `/feeds/videos.xml?accountId=${me.account.id}`));

    const v = videos[LONG];
    await page.goto(`/w/${v.shortUUID}`);
    await page.waitForFunction(() => document.head.querySelector('link[rel="alternate"][href^="/feeds/video-comments"]'));
    // The server's own links (oEmbed, the ActivityPub object, its absolute feed link for readers
    // that do not run scripts) are there too; the relative ones are the client's.
    const links = (await alternates(page)).filter((l) => l.href.startsWith('/feeds/'));
    assert.deepEqual(links.map((l) => l.href), [`/feeds/video-comments.xml?videoId=${v.id}`]);
    assert.equal(links[0].title, `Comments on ${LONG}`);
  });

  test('the subscriptions page gives the private feed of one’s subscriptions, with its token', STEP, async () => {
    const { page } = hana;
    await page.goto('/my-library/subscriptions');
    await page.getByRole('heading', { name: 'Feed of your subscriptions' }).waitFor();
    await page.getByRole('button', { name: 'Show the feed address' }).click();
    const link = page.getByTestId('subscriptions-feed-rss');
    await link.waitFor();
    const { feedToken } = await get(instance.url, tok, '/users/me/feed-token');
    assert.equal(await link.getAttribute('href'), `/feeds/subscriptions.xml?accountId=${me.account.id}&token=${feedToken}`);
    const res = await fetch(`${instance.url}${await link.getAttribute('href')}`);
    assert.equal(res.status, 200);

    await page.getByRole('button', { name: 'Renew the address' }).click();
    await page.getByText('New address made: the old one no longer works.').waitFor();
    const renewed = (await get(instance.url, tok, '/users/me/feed-token')).feedToken;
    assert.notEqual(renewed, feedToken);
    assert.equal(await link.getAttribute('href'), `/feeds/subscriptions.xml?accountId=${me.account.id}&token=${renewed}`);
    assert.deepEqual(hana.problems, []);
    assert.deepEqual(visitor.problems, []);
  });
});
