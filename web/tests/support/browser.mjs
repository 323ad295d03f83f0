// Debian's Chromium driven by playwright-core, and the helpers the flows share.

import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM } from './instance.mjs';

export const SCREENSHOTS = fileURLToPath(new URL('../../../target/screenshots/', import.meta.url));

// The desktop runs in the light theme and the phone in the dark one, so both are seen.
export const DESKTOP = { name: 'desktop', viewport: { width: 1280, height: 800 }, colorScheme: 'light' };
export const PHONE = { name: 'phone', viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2, colorScheme: 'dark' };

/** The flags every test Chromium runs with (headless, no sandbox, nothing fetched by itself). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * A browser context for one person at one device size. Page errors and failed requests of our
 * own code are collected so a test can assert there were none.
 */
export async function newPerson(browser, device, baseURL) {
  const context = await browser.newContext({
    baseURL,
    viewport: device.viewport,
    isMobile: device.isMobile ?? false,
    hasTouch: device.hasTouch ?? false,
    deviceScaleFactor: device.deviceScaleFactor ?? 1,
    colorScheme: device.colorScheme ?? 'light',
  });
  context.setDefaultTimeout(15_000);
  context.on('page', (p) => {
    openPages.add(p);
    p.on('close', () => openPages.delete(p));
  });
  const page = await context.newPage();
  trackRequests(page);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
  });
  return { context, page, problems };
}

/** Every page of the people made by newPerson, until it closes: what a failed step shows. */
const openPages = new Set();

/**
 * Adds to a failed step's error what each open page showed at that moment: its address and the
 * start of its text (what a CI log keeps), and a screenshot in target/screenshots/failed/.
 * A step that timed out waiting for something on a page otherwise says only what it waited for.
 */
export async function showPages(error) {
  if (!(error instanceof Error) || openPages.size === 0) return;
  const dir = `${SCREENSHOTS}failed/`;
  mkdirSync(dir, { recursive: true });
  const lines = [];
  let n = 0;
  for (const page of openPages) {
    n += 1;
    let timer;
    const text = await Promise.race([
      page.evaluate(() => document.body?.innerText ?? '').catch((e) => `(cannot read the page: ${e.message})`),
      new Promise((r) => {
        timer = setTimeout(() => r('(the page did not answer)'), 5_000);
      }),
    ]);
    // A page that answered leaves no timer keeping the test process alive.
    clearTimeout(timer);
    const file = `${dir}${Date.now()}-${n}.png`;
    const saved = await page.screenshot({ path: file, timeout: 5_000 }).then(() => file, () => 'none');
    const shown = String(text).replace(/\n\s*\n+/g, '\n').slice(0, 1_500);
    lines.push(`page ${n}: ${page.url()} (screenshot: ${saved})\n${shown}`);
  }
  error.message += `\n--- the open pages when the step failed ---\n${lines.join('\n---\n')}`;
}

/** Requests in flight per page (see networkQuiet). */
const inflight = new WeakMap();
/** The notification stream stays open as long as a user is signed in: never "in flight". */
const LONG_LIVED = /\/api\/v1\/users\/me\/notifications\/stream$/;

function trackRequests(page) {
  const pending = new Set();
  page.on('request', (r) => {
    if (!LONG_LIVED.test(new URL(r.url()).pathname)) pending.add(r);
  });
  page.on('requestfinished', (r) => pending.delete(r));
  page.on('requestfailed', (r) => pending.delete(r));
  inflight.set(page, pending);
}

/**
 * Waits until the page is loaded and no request has been in flight for `quietMs` (giving up
 * after `timeout`): Playwright's 'networkidle', which never comes while a fetch() stays open
 * (only EventSource is left out of it), but blind to the notification stream. Pages not made by
 * newPerson() fall back to 'networkidle'.
 */
export async function networkQuiet(page, { quietMs = 500, timeout = 15_000 } = {}) {
  const pending = inflight.get(page);
  if (!pending) return page.waitForLoadState('networkidle', { timeout }).catch(() => undefined);
  const deadline = Date.now() + timeout;
  await page.waitForLoadState('load', { timeout }).catch(() => undefined);
  let quietSince = null;
  while (Date.now() < deadline) {
    if (pending.size > 0) quietSince = null;
    else if (quietSince === null) quietSince = Date.now();
    else if (Date.now() - quietSince >= quietMs) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Saves a screenshot as target/screenshots/<name>-<device>.png. */
export async function shot(page, device, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await networkQuiet(page);
  await page.screenshot({ path: `${SCREENSHOTS}${name}-${device.name}.png`, fullPage: device.name === 'desktop' });
}
