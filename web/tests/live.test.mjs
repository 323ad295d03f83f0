// Lives (PeerTube's live API): the instance listens for RTMP on its own free port
// (FLOTILLA_LIVE_RTMP_LISTEN=127.0.0.1:0, read back from the owner's `rtmpUrl`) and makes one 240p
// rendition. A creator goes live from the upload page's "Go live" tab (a title too short is said
// at its field without a request; the tabs follow the arrow keys): the live's page shows the RTMP
// URL and the stream key (hidden until shown), each copied by its Copy button, OBS's steps, and no
// session yet; the watch page offers the owner "Stream settings". A visitor opens the watch page
// and sees "Waiting for the stream to start" in the player's place. ffmpeg then pushes 30 s of
// test picture and tone as the creator's encoder would: the visitor's page starts playing by
// itself (the <video>'s time advances, P2P on at normal latency), with the LIVE badge, "1 watching
// now" and the player's LIVE button instead of a duration; the home page's card says LIVE; the
// creator's page says "LIVE now", "Streaming now" and locks the settings. When ffmpeg stops, the
// visitor, behind the edge, plays on to where the stream stopped, then the page says "This live
// has ended"; and the creator's page lists the session as stopped
// normally (and no longer offers the key). A permanent live at small latency plays without P2P
// (muted, with "Unmute", for a browser that refuses sound before a click); paused, its LIVE button
// says how far behind the viewer is and takes them back to the edge; when its stream stops the
// page says so and waits for the next one. At 360 px the Go live tab, the permanent live's page
// (reached from "My videos"), the ended live's page and its watch page fit the width.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, get, registerUser, token, until } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login } from './support/flows.mjs';
import { startEncoder } from './support/encoder.mjs';
import { startInstance } from './support/instance.mjs';

const STEP = { timeout: 120_000 };
const USER = 'lena';
const PASSWORD = 'lena-password-1';
const TITLE = 'Evening at the harbour, live';
const PERMANENT = 'Harbour webcam, always on';
/** How long ffmpeg streams: the first live, and the permanent one. */
const STREAM_SECONDS = 30;
const SHORT_STREAM_SECONDS = 22;

let instance;
let browser;
let userToken;
let channelId;
/** The live as the API gave it to its owner: `video` ({ id, uuid, shortUUID }), `rtmpUrl`, `streamKey`. */
let live;
/** The permanent live at small latency, as its owner gets it: `video`, `rtmpUrl`, `streamKey`, `latencyMode`. */
let permanent;
/** ffmpeg, the creator's encoder, while it runs. */
let encoder = null;
/** The step that failed: the later ones say so at once instead of timing out. */
let failed = null;

function step(name, fn) {
  return [name, STEP, async (t) => {
    if (failed) throw new Error(`not run: the step "${failed}" failed before`);
    try {
      await fn(t);
    } catch (e) {
      failed = name;
      await showPages(e);
      throw e;
    }
  }];
}

/** Whether the page scrolls sideways. */
const scrollsSideways = (page) => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);

/** The <video>'s state, or null when there is none. */
const media = (page) =>
  page.evaluate(() => {
    const v = document.querySelector('video');
    return v ? { paused: v.paused, t: v.currentTime, muted: v.muted } : null;
  });

before(async () => {
  instance = await startInstance({
    // Its own RTMP port: the suite's instances must not fight over 1935.
    FLOTILLA_LIVE_RTMP_LISTEN: '127.0.0.1:0',
    FLOTILLA_LIVE_RESOLUTIONS: '240',
    FLOTILLA_TRANSCODING_RESOLUTIONS: '240',
  });
  browser = await launch();
  await registerUser(instance.url, USER, PASSWORD);
  userToken = await token(instance.url, USER, PASSWORD);
  channelId = (await get(instance.url, userToken, '/users/me')).videoChannels[0].id;
});

after(async () => {
  // Only the ffmpeg this test started, by its PID.
  if (encoder?.running()) process.kill(encoder.pid, 'SIGKILL');
  await browser?.close();
  await instance?.stop();
});

describe('lives', () => {
  let owner;
  let visitor;
  let listener;

  before(async () => {
    owner = await newPerson(browser, DESKTOP, instance.url);
    await owner.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: instance.url });
    await login(owner.page, USER, PASSWORD);
  });

  after(async () => {
    await owner?.context.close();
    await visitor?.context.close();
    await listener?.context.close();
  });

  test(...step('the creator goes live from the upload page; the live\'s page shows the RTMP URL and the key, copyable', async () => {
    const { page } = owner;
    const config = (await get(instance.url, null, '/config')).live;
    assert.equal(config.enabled, true, `the instance takes lives: ${JSON.stringify(config)}`);
    await page.goto('/videos/upload');
    const liveTab = page.getByRole('tab', { name: 'Go live' });
    await liveTab.click();
    assert.equal(await liveTab.getAttribute('aria-selected'), 'true');
    await page.waitForURL((u) => u.hash === '#go-live');
    // The tabs go round with the arrow keys.
    await liveTab.focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByRole('tab', { name: 'Upload a file' }).getAttribute('aria-selected'), 'true');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await liveTab.getAttribute('aria-selected'), 'true');

    const form = page.getByTestId('go-live-form');
    // The latency choice when the instance lets creators choose; the replay only where replays are kept.
    assert.equal(await form.getByRole('group', { name: 'Latency' }).count(), config.latencySetting?.enabled ? 1 : 0);
    assert.equal(await form.getByRole('checkbox', { name: /Keep a replay/ }).count(), config.allowReplay ? 1 : 0);

    // A title too short is said at its field; nothing is sent.
    let posts = 0;
    page.on('request', (r) => {
      if (r.url().endsWith('/api/v1/videos/live') && r.method() === 'POST') posts += 1;
    });
    const title = page.getByLabel('Title', { exact: true });
    await title.fill('ab');
    await page.getByRole('button', { name: 'Go live', exact: true }).click();
    await page.getByText('The title needs 3 to 120 characters.').waitFor();
    assert.equal(await title.getAttribute('aria-invalid'), 'true');
    assert.equal(posts, 0);

    await page.getByLabel('Privacy', { exact: true }).selectOption({ label: 'Public' });
    await title.fill(TITLE);
    await form.getByRole('radio', { name: /Normal live/ }).check();
    if (config.latencySetting?.enabled) await form.getByRole('radio', { name: /Normal latency/ }).check();
    await shot(page, DESKTOP, 'go-live');
    const posted = page.waitForRequest((r) => r.url().endsWith('/api/v1/videos/live') && r.method() === 'POST');
    await page.getByRole('button', { name: 'Go live', exact: true }).click();
    const body = (await posted).postDataJSON();
    assert.deepEqual(
      { ...body, latencyMode: body.latencyMode ?? 1 },
      { channelId, name: TITLE, privacy: 1, permanentLive: false, latencyMode: 1, ...(config.allowReplay ? { saveReplay: false } : {}) },
    );
    await page.waitForURL((u) => u.pathname.startsWith('/videos/live/'));
    const shortUUID = new URL(page.url()).pathname.split('/').pop();
    const video = await get(instance.url, userToken, `/videos/${shortUUID}`);
    assert.equal(video.isLive, true);
    assert.equal(video.state.id, 4, 'waiting for its stream');
    const settings = await get(instance.url, userToken, `/videos/live/${video.uuid}`);
    assert.match(settings.rtmpUrl, /^rtmp:\/\/127\.0\.0\.1:\d+\/live$/);
    assert.notEqual(new URL(settings.rtmpUrl.replace(/^rtmp/, 'http')).port, '1935', 'the instance has its own RTMP port');
    live = { video, rtmpUrl: settings.rtmpUrl, streamKey: settings.streamKey };

    // The URL and the key, the key hidden until shown.
    await page.getByRole('heading', { name: TITLE }).waitFor();
    await page.getByTestId('live-page-state').getByText('Waiting for your stream').waitFor();
    const url = page.getByLabel('RTMP URL (server)', { exact: true });
    const key = page.getByLabel('Stream key', { exact: true });
    assert.equal(await url.inputValue(), live.rtmpUrl);
    assert.equal(await key.inputValue(), live.streamKey);
    assert.equal(await key.getAttribute('type'), 'password', 'the key shows before it is asked for');
    await page.getByRole('button', { name: 'Show the stream key' }).click();
    assert.equal(await key.getAttribute('type'), 'text');
    assert.equal(await page.getByRole('button', { name: 'Hide the stream key' }).getAttribute('aria-pressed'), 'true');
    await page.getByRole('button', { name: 'Hide the stream key' }).click();
    assert.equal(await key.getAttribute('type'), 'password');

    // Each Copy puts its value in the clipboard and says so.
    await page.getByRole('button', { name: 'Copy the RTMP URL' }).click();
    await page.getByText('Copied the RTMP URL.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), live.rtmpUrl);
    await page.getByRole('button', { name: 'Copy the stream key' }).click();
    await page.getByText('Copied the stream key.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), live.streamKey);

    await page.getByText('As Service, choose “Custom…”.').waitFor();
    await page.getByText('Nothing has been streamed to this live yet.').waitFor();
    assert.ok(await page.getByRole('button', { name: 'Save the settings' }).isEnabled(), 'the settings can be changed while it waits');
    await shot(page, DESKTOP, 'live-page');

    // Its watch page offers the owner the stream settings.
    await page.getByRole('link', { name: 'Open the watch page' }).click();
    await page.waitForURL((u) => u.pathname === `/w/${shortUUID}`);
    await page.getByTestId('live-state').getByText('Waiting for the stream to start').waitFor();
    assert.equal(await page.getByRole('link', { name: 'Stream settings' }).getAttribute('href'), `/videos/live/${shortUUID}`);
    assert.deepEqual(owner.problems, []);
  }));

  test(...step('a visitor waits on the watch page; the stream starts playing there by itself, LIVE; then it ends', async () => {
    visitor = await newPerson(browser, DESKTOP, instance.url);
    const { page } = visitor;
    await page.goto(`/w/${live.video.shortUUID}`);
    const state = page.getByTestId('live-state');
    await state.getByText('Waiting for the stream to start').waitFor();
    await state.getByText('The live plays here by itself as soon as its creator starts streaming.').waitFor();
    assert.equal(await page.locator('video').count(), 0, 'a player while the live waits');
    assert.equal(await page.getByTestId('live-badge').count(), 0);
    await shot(page, DESKTOP, 'live-waiting');

    // The creator's page follows along.
    await owner.page.goto(`/videos/live/${live.video.shortUUID}`);
    await owner.page.getByTestId('live-page-state').getByText('Waiting for your stream').waitFor();

    encoder = startEncoder(`${live.rtmpUrl}/${live.streamKey}`, STREAM_SECONDS);
    await until('the live streams', async () => (await get(instance.url, null, `/videos/${live.video.uuid}`)).state.id === 1, 30_000);

    // The waiting page starts the player by itself, and plays.
    await page.waitForFunction(() => {
      const v = document.querySelector('video');
      return !!v && !v.paused && v.currentTime > 0;
    }, null, { timeout: 45_000 });
    const first = await media(page);
    await until('the live plays on', async () => (await media(page)).t > first.t + 1.5, 15_000);
    await page.getByTestId('live-badge').waitFor();
    assert.equal(await page.getByTestId('live-badge').textContent(), 'LIVE');
    // The player says it watches; the page, asking for the live again, shows its audience.
    await page.getByTestId('live-viewers').getByText('1 watching now').waitFor({ timeout: 20_000 });
    await page.getByTestId('player-live').waitFor({ state: 'attached' });
    assert.equal(await page.getByTestId('player-time').count(), 0, 'a live shows a duration');
    const stats = await page.evaluate(() => window.__flotillaP2P);
    assert.equal(stats?.p2pEnabled, true, 'P2P at normal latency');
    assert.ok(stats.httpBytes > 0, JSON.stringify(stats));
    await shot(page, DESKTOP, 'live-playing');

    // The creator's page says it streams, without a reload; the settings wait for the end.
    await owner.page.getByTestId('live-page-state').getByText('LIVE now').waitFor({ timeout: 15_000 });
    await owner.page.getByTestId('live-sessions').getByText('Streaming now').waitFor({ timeout: 15_000 });
    await owner.page.getByTestId('live-settings-locked').waitFor();
    assert.equal(await owner.page.getByRole('button', { name: 'Save the settings' }).count(), 0);

    // Cards of the live say LIVE, without a duration.
    const home = await visitor.context.newPage();
    await home.goto('/videos/recently-added');
    const card = home.locator('article').filter({ hasText: TITLE });
    await card.getByTestId('card-live').waitFor();
    assert.equal(await card.getByTestId('card-live').textContent(), 'LIVE');
    await shot(home, DESKTOP, 'live-card');
    await home.close();

    // ffmpeg stops. The visitor, behind the live edge, plays on to where the stream stopped (the
    // server keeps the live's files a while, its playlist closed); then the page says the live has
    // ended, and the player is gone.
    const exit = await encoder.exited;
    assert.equal(exit.code, 0, `ffmpeg: ${exit.stderr}`);
    await until('the live has ended', async () => (await get(instance.url, null, `/videos/${live.video.uuid}`)).state.id === 5, 20_000);
    const atEnd = await media(page);
    assert.ok(atEnd && !atEnd.paused, `the player stopped with the stream: ${JSON.stringify(atEnd)}`);
    let last = atEnd.t;
    await until('the page says the live has ended', async () => {
      const m = await media(page);
      if (m) last = m.t;
      return (await state.getByText('This live has ended').count()) > 0;
    }, 60_000);
    assert.ok(last >= atEnd.t + 2, `the visitor did not play on after the stream stopped (${atEnd.t} s → ${last} s)`);
    assert.ok(last >= STREAM_SECONDS - 10, `the visitor stopped at ${last} s of a ${STREAM_SECONDS} s stream`);
    assert.equal(await page.locator('video').count(), 0);
    assert.equal(await page.getByTestId('live-badge').count(), 0);
    await shot(page, DESKTOP, 'live-ended');
    const ended = await get(instance.url, null, `/videos/${live.video.uuid}`);
    assert.equal(ended.state.id, 5);

    // The creator's page lists the session, stopped normally.
    await owner.page.getByTestId('live-page-state').getByText('Ended').waitFor({ timeout: 15_000 });
    await owner.page.getByTestId('live-over').waitFor();
    const session = owner.page.getByTestId('live-session');
    await session.getByTestId('live-session-result').getByText('The stream stopped normally.').waitFor({ timeout: 15_000 });
    const sessions = await get(instance.url, userToken, `/videos/live/${live.video.uuid}/sessions`);
    assert.equal(sessions.total, 1);
    assert.equal(sessions.data[0].error, null);
    await shot(owner.page, DESKTOP, 'live-page-ended');
    assert.deepEqual(visitor.problems, []);
    assert.deepEqual(owner.problems, []);
  }));

  test(...step('a permanent live at small latency plays over HTTP only, goes back to its edge, and waits again after its stream', async () => {
    const made = await call(instance.url, userToken, 'POST', '/videos/live', { channelId, name: PERMANENT, privacy: 1, permanentLive: true, latencyMode: 3 });
    permanent = { video: made.video, ...(await get(instance.url, userToken, `/videos/live/${made.video.uuid}`)) };
    assert.equal(permanent.latencyMode, 3);
    // This visitor's browser refuses sound before a click (as browsers do for a page not touched
    // yet; headless Chromium does not, so the refusal is played here).
    listener = await newPerson(browser, DESKTOP, instance.url);
    await listener.context.addInitScript(() => {
      // Playwright's pages count as activated from the start: the first click is watched here.
      let clicked = false;
      addEventListener('pointerdown', (e) => (clicked ||= e.isTrusted), true);
      const play = HTMLMediaElement.prototype.play;
      HTMLMediaElement.prototype.play = function () {
        if (!this.muted && !clicked) return Promise.reject(new DOMException('sound needs a click first', 'NotAllowedError'));
        return play.call(this);
      };
    });
    const { page } = listener;
    await page.goto(`/w/${permanent.video.shortUUID}`);
    const state = page.getByTestId('live-state');
    await state.getByText('This is a permanent live: it starts whenever its creator streams, and plays here by itself.').waitFor();

    encoder = startEncoder(`${permanent.rtmpUrl}/${permanent.streamKey}`, SHORT_STREAM_SECONDS);
    await page.waitForFunction(() => {
      const v = document.querySelector('video');
      return !!v && !v.paused && v.currentTime > 0;
    }, null, { timeout: 45_000 });
    const stats = await page.evaluate(() => window.__flotillaP2P);
    assert.equal(stats?.p2pEnabled, false, 'P2P at small latency');
    // Started muted, it says how to get the sound; the choice is not remembered as the viewer's.
    assert.equal((await media(page)).muted, true);
    await page.getByRole('button', { name: 'Unmute', exact: true }).click();
    assert.equal((await media(page)).muted, false);
    assert.equal(await page.getByRole('button', { name: 'Unmute', exact: true }).count(), 0);

    // Paused, the viewer falls behind the edge; LIVE says so and takes them back.
    const liveButton = page.getByTestId('player-live');
    await until('LIVE says the edge', async () => (await liveButton.getAttribute('aria-label')) === 'Live, at the live edge', 10_000);
    await page.evaluate(() => document.querySelector('video').pause());
    const paused = await media(page);
    await page.getByRole('button', { name: /^Go to the live edge \(\d+:\d\d behind\)$/ }).waitFor({ timeout: 15_000 });
    await page.getByTestId('player-behind').waitFor();
    await shot(page, DESKTOP, 'live-behind');
    await liveButton.click();
    await until('back at the edge, playing', async () => {
      const m = await media(page);
      return !m.paused && m.t > paused.t + 3;
    }, 10_000);
    await until('LIVE says the edge again', async () => (await liveButton.getAttribute('aria-label')) === 'Live, at the live edge', 10_000);

    // The stream ends: a permanent live says so, and waits for the next one.
    const exit = await encoder.exited;
    assert.equal(exit.code, 0, `ffmpeg: ${exit.stderr}`);
    await state.getByText('The stream has ended').waitFor({ timeout: 30_000 });
    await state.getByText('This permanent live starts again when its creator streams, and plays here by itself.').waitFor();
    assert.equal(await page.locator('video').count(), 0);
    assert.equal((await get(instance.url, null, `/videos/${permanent.video.uuid}`)).state.id, 4, 'waiting again');
    assert.deepEqual(listener.problems, []);
  }));

  test(...step('at 360 px the Go live tab, a live\'s page (from "My videos") and the ended watch page fit the width', async () => {
    const phone = await newPerson(browser, PHONE, instance.url);
    try {
      const { page } = phone;
      await login(page, USER, PASSWORD);
      await page.goto('/videos/upload#go-live');
      assert.equal(await page.getByRole('tab', { name: 'Go live' }).getAttribute('aria-selected'), 'true');
      await page.getByLabel('Title', { exact: true }).fill('A title long enough to wrap on a phone screen, live from the harbour');
      await shot(page, PHONE, 'go-live');
      assert.equal(await scrollsSideways(page), false, 'the Go live tab scrolls sideways at 360 px');

      // "My videos" leads to each live's page: the permanent one's address and key fit the width.
      await page.goto('/my-library/videos');
      await page.getByRole('link', { name: `Stream settings of “${PERMANENT}”` }).click();
      await page.waitForURL((u) => u.pathname === `/videos/live/${permanent.video.shortUUID}`);
      await page.getByLabel('Stream key', { exact: true }).waitFor();
      await page.getByText('This is a permanent live: stream again with the same key whenever you want.').waitFor();
      await shot(page, PHONE, 'live-page');
      assert.equal(await scrollsSideways(page), false, 'the live\'s page scrolls sideways at 360 px');

      // The ended one says it cannot stream again, and lists its session.
      await page.goto('/my-library/videos');
      await page.getByRole('link', { name: `Stream settings of “${TITLE}”` }).click();
      await page.waitForURL((u) => u.pathname === `/videos/live/${live.video.shortUUID}`);
      await page.getByTestId('live-over').waitFor();
      assert.equal(await page.getByLabel('Stream key', { exact: true }).count(), 0, 'an ended live offers its key');
      await page.getByTestId('live-session').waitFor();
      await shot(page, PHONE, 'live-page-ended');
      assert.equal(await scrollsSideways(page), false, 'the ended live\'s page scrolls sideways at 360 px');

      await page.goto(`/w/${live.video.shortUUID}`);
      await page.getByTestId('live-state').getByText('This live has ended').waitFor();
      await shot(page, PHONE, 'live-ended');
      assert.equal(await scrollsSideways(page), false, 'the ended live scrolls sideways at 360 px');
      assert.deepEqual(phone.problems, []);
    } finally {
      await phone.context.close();
    }
  }));
});
