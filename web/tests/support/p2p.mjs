// The P2P tests' viewers: separate Chromium processes with WebRTC on loopback, each on its own
// fresh profile, and what their players counted (`window.__flotillaP2P`, test-hooks build).

import { networkInterfaces } from 'node:os';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from './browser.mjs';
import { CHROMIUM } from './instance.mjs';

/**
 * Fails unless the only network interface is `lo`: WebRTC gathers candidates on every interface
 * once media permission is granted, so only a loopback-only namespace keeps the traffic provably
 * on 127.0.0.1 (see the P2P notes).
 */
export function assertLoopbackOnly(file) {
  const names = Object.keys(networkInterfaces());
  if (names.some((n) => n !== 'lo')) {
    throw new Error(
      `this test must run in a loopback-only network namespace, but these interfaces exist: ${names.join(', ')}. ` +
        `Run it with \`npm run test:p2p\` (unshare -n sh -c 'ip link set lo up && node --test ${file}'), as root.`,
    );
  }
  if (!names.includes('lo')) throw new Error('no loopback interface is up: run `ip link set lo up` in the namespace first');
}

/**
 * One viewer = one Chromium process with its own fresh profile, opening `baseURL + path` with
 * autoplay (muted) and `query`; pushed onto `browsers` so the test's `after` closes it.
 * `problems` collects page errors and CSP refusals.
 */
export async function launchViewer(baseURL, path, browsers, query = '') {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...CHROMIUM_ARGS,
      // Both needed for WebRTC on loopback: the flag, and the media permission granted below.
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  browsers.push(browser);
  const context = await browser.newContext({ baseURL, viewport: { width: 960, height: 540 } });
  await context.grantPermissions(['camera', 'microphone'], { origin: baseURL });
  await context.addInitScript(() => {
    try {
      localStorage.setItem('flotilla.muted', '1');
    } catch {
      // about:blank (the page is left that way) has no storage.
    }
  });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  await page.goto(`${path}?autoplay=1${query}`);
  return { browser, page, problems };
}

/** The <video>'s position and decoded frames, and the player's P2P counters. */
export async function playerState(page) {
  return page.evaluate(() => {
    const v = document.querySelector('video');
    const q = v?.getVideoPlaybackQuality?.();
    return {
      t: v?.currentTime ?? 0,
      ended: v?.ended ?? false,
      paused: v?.paused ?? true,
      frames: q?.totalVideoFrames ?? 0,
      stats: window.__flotillaP2P ? JSON.parse(JSON.stringify(window.__flotillaP2P)) : null,
    };
  });
}

/** The part of a viewer's segment bytes that came from peers. */
export const share = (s) => s.segmentBytesP2P / Math.max(1, s.segmentBytesP2P + s.segmentBytesHttp);
export const pct = (x) => `${(x * 100).toFixed(1)} %`;

/** The instance's playback counters from `/metrics` (players' reports, and what the server served itself). */
export async function playbackMetrics(baseURL) {
  const text = await (await fetch(`${baseURL}/metrics`)).text();
  const num = (re) => Number(text.match(re)?.[1] ?? NaN);
  return {
    reports: num(/^flotilla_playback_reports_total (\d+)/m),
    p2p: num(/^flotilla_playback_downloaded_bytes_total\{source="p2p"\} (\d+)/m),
    http: num(/^flotilla_playback_downloaded_bytes_total\{source="http"\} (\d+)/m),
    uploaded: num(/^flotilla_playback_uploaded_bytes_total (\d+)/m),
    // Counted by the server itself, whatever players say.
    servedSegments: num(/^flotilla_hls_served_bytes_total\{kind="segment"\} (\d+)/m),
  };
}
