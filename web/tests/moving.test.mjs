// Moving house (ActivityPub `Move`) between two instances A and B. On B, bea lists ava@A among
// "Accounts you are moving from" on the settings page (and bea's channel lists ava's channel on
// its management page). On A, a move to an account that does not list ava is refused with the
// server's message; the channel, then the account, move to B through the form and its
// confirmation, and A's ActivityPub actors then carry `movedTo` = the new actor's URL.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { call, get, registerUser, token, until } from './support/api.mjs';
import { DESKTOP, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login } from './support/flows.mjs';
import { startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
const pw = (name) => `${name}-password-1`;

let a;
let b;
let browser;
const tokens = {};
const channels = {};

before(async () => {
  [a, b] = await Promise.all([startInstance(), startInstance()]);
  browser = await launch();
  for (const [inst, name] of [[a, 'ava'], [b, 'bea'], [b, 'cleo']]) {
    await registerUser(inst.url, name, pw(name));
    tokens[name] = await token(inst.url, name, pw(name));
    channels[name] = (await get(inst.url, tokens[name], '/users/me')).videoChannels[0];
  }
});

after(async () => {
  await browser?.close();
  await a?.stop();
  await b?.stop();
});

const hostOf = (inst) => new URL(inst.url).host;

async function actor(url) {
  const res = await fetch(url, { headers: { Accept: 'application/activity+json' } });
  assert.equal(res.status, 200, `GET ${url} as ActivityPub`);
  return res.json();
}

describe('moving to another server', () => {
  let ava;
  let bea;
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
    ava = await newPerson(browser, DESKTOP, a.url);
    bea = await newPerson(browser, DESKTOP, b.url);
    await login(ava.page, 'ava', pw('ava'));
    await login(bea.page, 'bea', pw('bea'));
  });

  after(async () => {
    for (const p of [ava, bea]) await p?.context.close();
  });

  step('on B, bea lists ava@A among the accounts she moves from', async () => {
    const { page } = bea;
    await page.goto('/my-account/settings');
    const section = page.getByRole('region', { name: 'Move to another server' });
    await section.getByText(`bea@${hostOf(b)}`).waitFor();
    const aliases = section.getByLabel('Accounts you are moving from');
    await aliases.fill(`ava@${hostOf(a)}`);
    await section.getByRole('button', { name: 'Save the addresses' }).click();
    await section.getByRole('status').waitFor();
    const avaUrl = (await get(a.url, null, '/accounts/ava')).url;
    assert.deepEqual((await get(b.url, tokens.bea, '/users/me/aliases')).aliases, [avaUrl]);
    assert.equal(await aliases.inputValue(), avaUrl);

    await page.reload();
    await until('the saved aliases shown after a reload', async () => (await aliases.inputValue()) === avaUrl, 15_000);
    assert.deepEqual(bea.problems, []);
  });

  step('on A, a move to an account that does not list ava shows the server\'s refusal', async () => {
    const { page } = ava;
    await page.goto('/my-account/settings');
    const section = page.getByRole('region', { name: 'Move to another server' });
    await section.getByLabel('New address').fill(`cleo@${hostOf(b)}`);
    await section.getByLabel('Current password').fill(pw('ava'));
    await section.getByRole('button', { name: 'Move', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: `Move to cleo@${hostOf(b)}?` });
    await dialog.getByText('This cannot be undone.', { exact: false }).waitFor();
    await dialog.getByRole('button', { name: 'Move', exact: true }).click();
    const alert = section.getByRole('alert');
    await alert.waitFor();

    // The same refusal through the API: the page shows the server's own message.
    const res = await fetch(`${a.url}/api/v1/users/me/move`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens.ava}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ target: `cleo@${hostOf(b)}`, currentPassword: pw('ava') }),
    });
    assert.equal(res.status, 400);
    const problem = await res.json();
    assert.equal(problem.code, 'move_not_aliased');
    assert.ok(problem.detail || problem.error, 'the server explains the refusal');
    assert.equal((await alert.innerText()).trim(), problem.detail || problem.error);
    assert.equal((await actor(`${a.url}/accounts/ava`)).movedTo, undefined);
    assert.deepEqual(ava.problems, []);
  });

  step('the channel moves from its management page once the new channel lists it', async () => {
    const from = channels.ava.name;
    const to = channels.bea.name;
    await bea.page.goto(`/my-library/video-channels/${to}`);
    const newSection = bea.page.getByRole('region', { name: 'Move this channel to another server' });
    await newSection.getByLabel('Channels you are moving from').fill(`${from}@${hostOf(a)}`);
    await newSection.getByRole('button', { name: 'Save the addresses' }).click();
    await newSection.getByRole('status').waitFor();
    assert.equal((await get(b.url, tokens.bea, `/video-channels/${to}/aliases`)).aliases.length, 1);

    const { page } = ava;
    await page.goto(`/my-library/video-channels/${from}`);
    const section = page.getByRole('region', { name: 'Move this channel to another server' });
    assert.equal(await section.getByLabel('Current password').count(), 0);
    await section.getByLabel('New address').fill(`${to}@${hostOf(b)}`);
    await section.getByRole('button', { name: 'Move', exact: true }).click();
    await page.getByRole('dialog', { name: `Move to ${to}@${hostOf(b)}?` }).getByRole('button', { name: 'Move', exact: true }).click();
    await section.getByRole('status').getByText('Moved to').waitFor();
    const newUrl = (await get(b.url, null, `/video-channels/${to}`)).url;
    assert.equal((await actor(`${a.url}/video-channels/${from}`)).movedTo, newUrl);
    assert.deepEqual(ava.problems, []);
  });

  step('on A, ava moves to bea@B, confirmed, and A\'s actor points there', async () => {
    const { page } = ava;
    await page.goto('/my-account/settings');
    const section = page.getByRole('region', { name: 'Move to another server' });
    await section.getByLabel('New address').fill(`bea@${hostOf(b)}`);
    await section.getByLabel('Current password').fill(pw('ava'));
    await section.getByRole('button', { name: 'Move', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: `Move to bea@${hostOf(b)}?` });
    await dialog.getByRole('button', { name: 'Move', exact: true }).click();
    await section.getByRole('status').getByText('Moved to').waitFor();
    await shot(page, DESKTOP, 'account-moved');

    const beaUrl = (await get(b.url, null, '/accounts/bea')).url;
    assert.equal((await actor(`${a.url}/accounts/ava`)).movedTo, beaUrl);
    // Once moved, a second move is refused.
    await assert.rejects(call(a.url, tokens.ava, 'POST', '/users/me/move', { target: `bea@${hostOf(b)}`, currentPassword: pw('ava') }), /409/);
    assert.deepEqual(ava.problems, []);
  });
});
