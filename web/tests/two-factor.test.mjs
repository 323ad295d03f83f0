// Two-factor authentication (PeerTube's TOTP): a user turns it on from the settings (password,
// then the QR code and the key of the new secret, then a code of the "app", which this test
// computes from the key shown with node:crypto), logs out, and logging in asks for a code: a
// wrong one is refused with a clear message, the right one logs in. The user turns it off again
// (password asked, a wrong one refused). Then the recovery: an administrator turns it off for a
// user from the users page, with the administrator's own password.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import qrcode from 'qrcode-generator';
import { adminToken, call, get, registerUser, token } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login } from './support/flows.mjs';
import { ADMIN_PASSWORD, startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
const USER = 'tereza';
const PASSWORD = 'tereza-password-1';

/** RFC 4648 base32 → bytes. */
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    assert.ok(v >= 0, `not base32: ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(Number.parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of `secret` for the 30-second `step`. */
function totp(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, '0');
}

const nowStep = () => Math.floor(Date.now() / 30_000);

/** The path QrCode.svelte draws for `text` (4 modules of quiet zone), to compare with the page's. */
function qrPath(text) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  let path = '';
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < n; col++) if (qr.isDark(row, col)) path += `M${col + 4} ${row + 4}h1v1h-1z`;
  }
  return path;
}

/** A 6-digit code that none of the steps the server may accept now (−1, 0, +1) gives. */
function wrongCode(secret) {
  const s = nowStep();
  const valid = new Set([totp(secret, s - 1), totp(secret, s), totp(secret, s + 1), totp(secret, s + 2)]);
  for (let i = 0; ; i++) {
    const c = String((123456 + i * 7919) % 1_000_000).padStart(6, '0');
    if (!valid.has(c)) return c;
  }
}

let instance;
let browser;
let me;

before(async () => {
  instance = await startInstance();
  browser = await launch();
  await registerUser(instance.url, USER, PASSWORD);
  me = await get(instance.url, await token(instance.url, USER, PASSWORD), '/users/me');
});

after(async () => {
  await browser?.close();
  await instance?.stop();
});

/** Logs in through the API with a code (`x-peertube-otp`); the answer's status and JSON. */
async function tokenWithCode(username, password, code) {
  const client = await (await fetch(`${instance.url}/api/v1/oauth-clients/local`)).json();
  const headers = code ? { 'x-peertube-otp': code } : {};
  const res = await fetch(`${instance.url}/api/v1/users/token`, {
    method: 'POST',
    headers,
    body: new URLSearchParams({ client_id: client.client_id, client_secret: client.client_secret, grant_type: 'password', username, password }),
  });
  return { status: res.status, otpHeader: res.headers.get('x-peertube-otp'), body: await res.json() };
}

describe('two-factor authentication', () => {
  let person;
  let admin;
  let secret;
  /** The last step whose code the server accepted: each code is taken once, so the next login uses a later step. */
  let usedStep;
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
    person = await newPerson(browser, DESKTOP, instance.url);
    await login(person.page, USER, PASSWORD);
  });

  after(async () => {
    await person?.context.close();
    await admin?.context.close();
  });

  step('the settings turn it on: password, QR code and key of the secret, then a code of the app', async () => {
    const { page } = person;
    await page.goto('/my-account/settings');
    const section = page.getByRole('region', { name: 'Two-factor authentication' });
    await section.getByRole('button', { name: 'Set up two-factor authentication' }).click();

    // A wrong password is refused at the form.
    await section.getByLabel('Current password').fill('not-the-password');
    await section.getByRole('button', { name: 'Continue' }).click();
    await section.getByText('This password is wrong.').waitFor();
    assert.equal(await page.getByRole('img', { name: 'QR code to scan with an authenticator app' }).count(), 0);

    const answered = page.waitForResponse((r) => r.url().endsWith(`/api/v1/users/${me.id}/two-factor/request`) && r.status() === 200);
    await section.getByLabel('Current password').fill(PASSWORD);
    await section.getByRole('button', { name: 'Continue' }).click();
    const { otpRequest } = await (await answered).json();
    assert.match(otpRequest.uri, /^otpauth:\/\/totp\//);

    // The QR code is drawn (an SVG of the otpauth URI, the encoder loaded on this page only)…
    const qr = section.getByRole('img', { name: 'QR code to scan with an authenticator app' });
    await qr.waitFor();
    const drawn = await qr.evaluate((svg) => ({ d: svg.querySelector('path')?.getAttribute('d') ?? '', w: svg.getBoundingClientRect().width }));
    assert.ok(drawn.w >= 150, `the QR code is ${drawn.w} px wide`);
    assert.equal(drawn.d, qrPath(otpRequest.uri), 'the QR code holds the otpauth URI');
    // …and the key as text, in groups of four, equal to the secret.
    const shown = (await section.locator('code').textContent()).trim();
    assert.match(shown, /^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/);
    secret = shown.replace(/\s/g, '');
    assert.equal(secret, otpRequest.secret);
    await shot(page, DESKTOP, 'two-factor-setup');

    // Nothing is on until a code is confirmed; a wrong one is refused.
    assert.equal((await get(instance.url, await token(instance.url, USER, PASSWORD), '/users/me')).twoFactorEnabled, false);
    await section.getByLabel('Code from the app').fill(wrongCode(secret));
    await section.getByRole('button', { name: 'Turn on' }).click();
    await section.getByRole('alert').waitFor();
    const refusal = await section.getByRole('alert').textContent();

    usedStep = nowStep();
    await section.getByLabel('Code from the app').fill(totp(secret, usedStep));
    await section.getByRole('button', { name: 'Turn on' }).click();
    await section.getByText('Two-factor authentication is on: you will be asked for a code each time you log in.').waitFor();
    await section.getByRole('button', { name: 'Turn off two-factor authentication' }).waitFor();
    assert.ok(refusal.length > 0);

    // The server agrees: without a code the password alone is refused, saying a code is needed.
    const bare = await tokenWithCode(USER, PASSWORD, null);
    assert.equal(bare.status, 401);
    assert.equal(bare.body.code, 'missing_two_factor');
    assert.match(bare.otpHeader ?? '', /required/);
    assert.deepEqual(person.problems, []);
  });

  step('logging in asks for the code; a wrong code is refused, the right one logs in', async () => {
    const { page } = person;
    await page.getByRole('button', { name: /^Account menu for / }).click();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('link', { name: 'Log in' }).first().waitFor();

    await page.goto('/login');
    assert.equal(await page.getByLabel('Two-factor code').count(), 0);
    await page.getByLabel('Username or email').fill(USER);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    const code = page.getByLabel('Two-factor code');
    await code.waitFor();
    // The code field takes the focus; no error is shown for the question itself.
    assert.equal(await code.evaluate((el) => el === document.activeElement), true);
    assert.equal(await page.getByRole('alert').count(), 0);
    await shot(page, DESKTOP, 'login-two-factor');

    await code.fill(wrongCode(secret));
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').getByText('This code is wrong or was used already. Enter the code your app shows now.').waitFor();
    assert.equal(await page.getByRole('button', { name: /^Account menu for / }).count(), 0);

    // The code that confirmed the setup is spent; the next step's is accepted (one step of drift).
    usedStep = Math.max(usedStep + 1, nowStep());
    await code.fill(totp(secret, usedStep));
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('button', { name: /^Account menu for / }).waitFor();
    assert.deepEqual(person.problems, []);
  });

  step('the settings turn it off with the password', async () => {
    const { page } = person;
    await page.goto('/my-account/settings');
    const section = page.getByRole('region', { name: 'Two-factor authentication' });
    await section.getByRole('button', { name: 'Turn off two-factor authentication' }).click();
    const dialog = page.getByRole('dialog', { name: 'Turn off two-factor authentication?' });
    await dialog.getByLabel('Your password').fill('not-the-password');
    await dialog.getByRole('button', { name: 'Turn off two-factor authentication' }).click();
    await dialog.getByText('This password is wrong.').waitFor();
    await dialog.getByLabel('Your password').fill(PASSWORD);
    await dialog.getByRole('button', { name: 'Turn off two-factor authentication' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await section.getByText('Two-factor authentication is off.').waitFor();
    await section.getByRole('button', { name: 'Set up two-factor authentication' }).waitFor();
    const tok = await token(instance.url, USER, PASSWORD);
    assert.equal((await get(instance.url, tok, '/users/me')).twoFactorEnabled, false);
    assert.deepEqual(person.problems, []);
  });

  step('an administrator turns it off for a user who lost their app, with their own password', async () => {
    // The user turns it on again (through the API, as the app would).
    const tok = await token(instance.url, USER, PASSWORD);
    const { otpRequest } = await call(instance.url, tok, 'POST', `/users/${me.id}/two-factor/request`, { currentPassword: PASSWORD });
    await call(instance.url, tok, 'POST', `/users/${me.id}/two-factor/confirm-request`, { requestToken: otpRequest.requestToken, otpToken: totp(otpRequest.secret, nowStep()) });
    assert.equal((await tokenWithCode(USER, PASSWORD, null)).body.code, 'missing_two_factor');

    admin = await newPerson(browser, PHONE, instance.url);
    const { page } = admin;
    await login(page, 'root', ADMIN_PASSWORD);
    await page.goto('/admin/users');
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: USER, exact: true }) });
    await row.getByText('Two-factor', { exact: true }).waitFor();
    await row.getByRole('button', { name: 'Turn off two-factor' }).click();
    const dialog = page.getByRole('dialog', { name: `Turn off two-factor authentication for ${USER}?` });
    await dialog.getByLabel('Your password').fill('not-the-admin-password');
    await dialog.getByRole('button', { name: 'Turn off two-factor' }).click();
    await dialog.getByText('This password is wrong.').waitFor();
    assert.equal((await get(instance.url, await adminToken(instance.url), `/users/${me.id}`)).twoFactorEnabled, true);
    await shot(page, PHONE, 'admin-two-factor');
    await dialog.getByLabel('Your password').fill(ADMIN_PASSWORD);
    await dialog.getByRole('button', { name: 'Turn off two-factor' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('status').getByText(`Two-factor authentication is off for ${USER}.`).waitFor();
    await row.getByRole('button', { name: 'Turn off two-factor' }).waitFor({ state: 'detached' });
    assert.equal(await row.getByText('Two-factor', { exact: true }).count(), 0);

    // The password alone logs in again.
    const back = await tokenWithCode(USER, PASSWORD, null);
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal((await get(instance.url, await adminToken(instance.url), `/users/${me.id}`)).twoFactorEnabled, false);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(wide, false, 'the users page does not scroll sideways at 360 px');
    assert.deepEqual(admin.problems, []);
  });
});
