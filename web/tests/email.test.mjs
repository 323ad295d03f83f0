// The pages e-mails lead to, with a real SMTP server (aiosmtpd) receiving what the instance sends.
// The instance asks new users to verify their address. A visitor signs up: the page says to check
// the inbox, logging in is refused with a message and "Send the e-mail again" (a second mail comes),
// the mail's link verifies the address and logging in works. Then "Forgot your password?": an
// unknown address gets the same answer and no mail; the user's mail links to a page that takes a
// new password twice (a mismatch refused), which logs in after (the old one does not), and the
// link does not work twice. Last, a change of address in the settings: "pending" until the link
// sent to the new address is followed, then the new address is the user's.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, token } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login } from './support/flows.mjs';
import { startInstance } from './support/instance.mjs';
import { linkIn, startMailServer } from './support/mail.mjs';

const STEP = { timeout: 90_000 };
const USER = 'vera';
const EMAIL = 'vera@example.org';
const NEW_EMAIL = 'vera.new@example.org';
const PASSWORD = 'vera-password-1';
const NEW_PASSWORD = 'vera-password-2';

let mail;
let instance;
let browser;

before(async () => {
  mail = await startMailServer();
  instance = await startInstance({
    FLOTILLA_SMTP_HOST: '127.0.0.1',
    FLOTILLA_SMTP_PORT: String(mail.port),
    FLOTILLA_SMTP_TLS: 'none',
    FLOTILLA_SMTP_FROM: 'noreply@example.org',
    FLOTILLA_SIGNUP_REQUIRES_EMAIL_VERIFICATION: 'true',
  });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  await mail?.stop();
});

/** Opens a link of a mail in the page, checking it points at this instance. */
async function follow(page, url) {
  assert.equal(url.origin, instance.url, `the link ${url} points at the instance`);
  await page.goto(url.pathname + url.search);
}

describe('e-mails: verification, password reset, change of address', () => {
  let person;
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
  });

  after(async () => {
    await person?.context.close();
  });

  step('the instance says new users verify their address', async () => {
    const config = await get(instance.url, null, '/config');
    assert.equal(config.signup.requiresEmailVerification, true);
  });

  step('sign-up: check your inbox; login refused until the link is followed; the mail sent again', async () => {
    const { page } = person;
    await page.goto('/signup');
    await page.getByLabel('Username').fill(USER);
    await page.getByLabel('Email', { exact: true }).fill(EMAIL);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.getByRole('status').getByText(`We sent an e-mail to ${EMAIL}`).waitFor();
    // Not signed in.
    assert.equal(await page.getByRole('button', { name: /^Account menu for / }).count(), 0);
    const first = await mail.waitFor(EMAIL);
    const link = linkIn(first, '/verify-account/email');
    assert.ok(link.searchParams.get('userId') && link.searchParams.get('verificationString'), link.href);

    await page.goto('/login');
    await page.getByLabel('Username or email').fill(USER);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').getByText('Your e-mail address is not verified yet').waitFor();
    await shot(page, DESKTOP, 'login-email-not-verified');
    // The username was typed, not the address: the address is asked.
    await page.getByLabel('Email', { exact: true }).fill(EMAIL);
    await page.getByRole('button', { name: 'Send the e-mail again' }).click();
    await page.getByRole('status').getByText(`an e-mail is on its way`).waitFor();
    const second = await mail.waitFor(EMAIL, { seen: 1 });
    const link2 = linkIn(second, '/verify-account/email');

    // A wrong string is refused.
    await page.goto(`/verify-account/email?userId=${link2.searchParams.get('userId')}&verificationString=not-the-string`);
    await page.getByRole('alert').getByText('This verification link is wrong or has expired.').waitFor();

    await follow(page, link2);
    await page.getByRole('status').getByText('Your e-mail address is verified. You can log in now.').waitFor();
    await login(page, USER, PASSWORD);
    const me = await get(instance.url, await token(instance.url, USER, PASSWORD), '/users/me');
    assert.equal(me.emailVerified, true);
    assert.deepEqual(person.problems, []);
  });

  step('forgot password: a link by mail, a new password twice, then it logs in', async () => {
    const { page } = person;
    await page.getByRole('button', { name: /^Account menu for / }).click();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('link', { name: 'Log in' }).first().waitFor();
    await page.goto('/login');
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.waitForURL('**/login/forgot-password');

    // An unknown address gets the same answer, and no mail goes out.
    const before = mail.messages().length;
    await page.getByLabel('Email', { exact: true }).fill('nobody@example.org');
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.getByRole('status').getByText('If an account has the address nobody@example.org').waitFor();

    await page.goto('/login/forgot-password');
    const seen = mail.count(EMAIL);
    await page.getByLabel('Email', { exact: true }).fill(EMAIL);
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.getByRole('status').getByText(`If an account has the address ${EMAIL}`).waitFor();
    const message = await mail.waitFor(EMAIL, { seen });
    assert.equal(mail.messages().length, before + 1, 'only the known address got a mail');
    const link = linkIn(message, '/reset-password');

    await follow(page, link);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await page.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await page.getByLabel('New password again').fill('something-else-1');
    await page.getByRole('button', { name: 'Change the password' }).click();
    await page.getByRole('alert').getByText('The two new passwords differ.').waitFor();
    await page.getByLabel('New password again').fill(NEW_PASSWORD);
    await shot(page, DESKTOP, 'reset-password');
    await page.getByRole('button', { name: 'Change the password' }).click();
    await page.getByRole('status').getByText('Your password was changed.').waitFor();

    await assert.rejects(token(instance.url, USER, PASSWORD), /400/);
    await page.getByRole('link', { name: 'Log in' }).last().click();
    await page.waitForURL('**/login');
    await login(page, USER, NEW_PASSWORD);

    // The link is spent.
    await follow(page, link);
    await page.getByLabel('New password', { exact: true }).fill('vera-password-3');
    await page.getByLabel('New password again').fill('vera-password-3');
    await page.getByRole('button', { name: 'Change the password' }).click();
    await page.getByRole('alert').getByText('This link is wrong or has expired.').waitFor();
    await token(instance.url, USER, NEW_PASSWORD);
    assert.deepEqual(person.problems, []);
  });

  step('a new address is pending until the link sent to it is followed', async () => {
    const { page } = person;
    await page.goto('/my-account/settings');
    const section = page.getByRole('region', { name: 'Email' });
    await section.getByText(EMAIL, { exact: true }).waitFor();
    await section.getByLabel('New e-mail address').fill(NEW_EMAIL);
    await section.getByLabel('Current password').fill('not-the-password');
    await section.getByRole('button', { name: 'Change the address' }).click();
    await section.getByRole('alert').waitFor();

    await section.getByLabel('New e-mail address').fill(NEW_EMAIL);
    await section.getByLabel('Current password').fill(NEW_PASSWORD);
    await section.getByRole('button', { name: 'Change the address' }).click();
    await section.getByText(`We sent a link to ${NEW_EMAIL}`).waitFor();
    await section.getByText(`Pending: ${NEW_EMAIL} waits for verification. Check your inbox`).waitFor();
    const tok = await token(instance.url, USER, NEW_PASSWORD);
    let me = await get(instance.url, tok, '/users/me');
    assert.equal(me.email, EMAIL);
    assert.equal(me.pendingEmail, NEW_EMAIL);
    // Still pending after a reload.
    await page.reload();
    await page.getByRole('region', { name: 'Email' }).getByText(`Pending: ${NEW_EMAIL}`).waitFor();
    await shot(page, DESKTOP, 'settings-email-pending');

    const message = await mail.waitFor(NEW_EMAIL);
    const link = linkIn(message, '/verify-account/email');
    assert.equal(link.searchParams.get('isPendingEmail'), 'true');
    await follow(page, link);
    await page.getByRole('status').getByText('Your new e-mail address is verified and now in use.').waitFor();
    me = await get(instance.url, tok, '/users/me');
    assert.equal(me.email, NEW_EMAIL);
    assert.equal(me.pendingEmail ?? null, null);

    await page.goto('/my-account/settings');
    const after = page.getByRole('region', { name: 'Email' });
    await after.getByText(NEW_EMAIL, { exact: true }).waitFor();
    assert.equal(await after.getByText('Pending:').count(), 0);
    assert.deepEqual(person.problems, []);
  });

  step('at 360 px the e-mail pages do not scroll sideways', async () => {
    const phone = await newPerson(browser, PHONE, instance.url);
    try {
      for (const path of ['/login/forgot-password', '/reset-password?userId=1&verificationString=x', '/verify-account/ask-send-email', '/verify-account/email?userId=1&verificationString=x']) {
        await phone.page.goto(path);
        await phone.page.getByRole('heading', { level: 1 }).waitFor();
        const wide = await phone.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
        assert.equal(wide, false, `${path} scrolls sideways`);
      }
      await shot(phone.page, PHONE, 'forgot-password');
      assert.deepEqual(phone.problems, []);
    } finally {
      await phone.context.close();
    }
  });
});
