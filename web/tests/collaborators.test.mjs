// Channel collaborators (ours, after PeerTube 7's): the owner invites users of the instance from
// the channel's management page (an unknown name refused), sees them pending; the invited user
// accepts on "My channels" (another declines), the channel is then among the channels they
// collaborate on and in the upload page's channel list, and a video uploaded there belongs to the
// owner's channel; they edit its title from its watch page's Edit button (they may not delete
// it; a user who declined sees no Edit). A collaborator's management page has no settings to
// change and lets them leave. The owner removes a collaborator (confirmed) and the channel
// leaves their upload list.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { get, registerUser, token, until, waitPublished } from './support/api.mjs';
import { DESKTOP, PHONE, launch, newPerson, shot, showPages } from './support/browser.mjs';
import { login } from './support/flows.mjs';
import { makeClip, startInstance } from './support/instance.mjs';

const STEP = { timeout: 90_000 };
const OWNER = 'olga';
const COLLAB = 'carl';
const OTHER = 'dora';
const pw = (name) => `${name}-password-1`;

let instance;
let browser;
let workDir;
let clip;
let channel;
/** The video the collaborator uploaded to the owner's channel. */
let shared;
const tokens = {};

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'flotilla-web-collab-'));
  clip = makeClip(workDir, 2, '256x144');
  instance = await startInstance({ FLOTILLA_TRANSCODING_RESOLUTIONS: '144' });
  browser = await launch();
  for (const name of [OWNER, COLLAB, OTHER]) {
    await registerUser(instance.url, name, pw(name));
    tokens[name] = await token(instance.url, name, pw(name));
  }
  channel = (await get(instance.url, tokens[OWNER], '/users/me')).videoChannels[0];
});

after(async () => {
  await browser?.close();
  await instance?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const collaboratorsOf = async () => (await get(instance.url, tokens[OWNER], `/video-channels/${channel.name}/collaborators`)).data;

describe('channel collaborators', () => {
  let owner;
  let collab;
  let other;
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
    owner = await newPerson(browser, DESKTOP, instance.url);
    collab = await newPerson(browser, DESKTOP, instance.url);
    other = await newPerson(browser, PHONE, instance.url);
    await login(owner.page, OWNER, pw(OWNER));
    await login(collab.page, COLLAB, pw(COLLAB));
    await login(other.page, OTHER, pw(OTHER));
  });

  after(async () => {
    for (const p of [owner, collab, other]) await p?.context.close();
  });

  step('the owner invites two users from the channel page; an unknown name is refused', async () => {
    const { page } = owner;
    await page.goto(`/my-library/video-channels/${channel.name}`);
    const section = page.getByRole('region', { name: 'Collaborators' });
    await section.getByText('No collaborators yet.').waitFor();

    await section.getByLabel('Username').fill('nobody-here');
    await section.getByRole('button', { name: 'Invite' }).click();
    await section.getByRole('alert').waitFor();

    for (const name of [COLLAB, OTHER]) {
      await section.getByLabel('Username').fill(name);
      await section.getByRole('button', { name: 'Invite' }).click();
      await section.getByText(`${name} was invited.`).waitFor();
    }
    const list = section.getByRole('list', { name: 'Collaborators' });
    for (const name of [COLLAB, OTHER]) {
      await list.getByRole('listitem').filter({ hasText: `@${name}` }).getByText('Pending', { exact: true }).waitFor();
    }
    const api = await collaboratorsOf();
    assert.deepEqual(api.map((c) => [c.account.name, c.state.id]).sort(), [[COLLAB, 1], [OTHER, 1]]);
    await shot(page, DESKTOP, 'channel-collaborators');
    assert.deepEqual(owner.problems, []);
  });

  step('the invited users accept or decline on "My channels"', async () => {
    await collab.page.goto('/my-library/video-channels');
    const invitations = collab.page.getByRole('region', { name: 'Invitations to collaborate' });
    await invitations.getByRole('button', { name: `Accept the invitation to ${channel.displayName}` }).click();
    await collab.page.getByRole('status').getByText(`You now collaborate on ${channel.displayName}.`).waitFor();
    await invitations.waitFor({ state: 'detached' });
    const mine = collab.page.getByRole('region', { name: 'Channels I collaborate on' });
    await mine.getByRole('link', { name: new RegExp(channel.displayName) }).waitFor();
    const collaborations = await get(instance.url, tokens[COLLAB], '/users/me/video-channels/collaborations');
    assert.deepEqual(collaborations.data.map((c) => c.name), [channel.name]);

    await other.page.goto('/my-library/video-channels');
    await other.page.getByRole('button', { name: `Decline the invitation to ${channel.displayName}` }).click();
    await other.page.getByRole('status').getByText(`You declined the invitation to ${channel.displayName}.`).waitFor();
    assert.equal((await get(instance.url, tokens[OTHER], '/users/me/video-channels/invitations')).total, 0);
    assert.equal((await get(instance.url, tokens[OTHER], '/users/me/video-channels/collaborations')).total, 0);
    const wide = await other.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    assert.equal(wide, false, '"My channels" does not scroll sideways at 360 px');

    const api = await collaboratorsOf();
    assert.deepEqual(api.filter((c) => c.state.id === 2).map((c) => c.account.name), [COLLAB]);
    assert.ok(!api.some((c) => c.account.name === OTHER && c.state.id === 2));
    await owner.page.reload();
    const list = owner.page.getByRole('list', { name: 'Collaborators' });
    await list.getByRole('listitem').filter({ hasText: `@${COLLAB}` }).getByText('Accepted', { exact: true }).waitFor();
    assert.deepEqual(collab.problems, []);
    assert.deepEqual(other.problems, []);
  });

  step('the collaborator uploads to the channel from the upload page', async () => {
    const { page } = collab;
    await page.goto('/videos/upload');
    const select = page.getByLabel('Channel', { exact: true });
    await select.locator(`optgroup[label="Channels I collaborate on"] option[value="${channel.id}"]`).waitFor({ state: 'attached' });
    await select.selectOption(String(channel.id));
    await page.locator('[data-testid="file-input"]').setInputFiles(clip);
    await page.getByText('Upload complete.').waitFor({ timeout: 60_000 });
    await page.getByLabel('Title', { exact: true }).fill('Made together');
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByTestId('upload-published').waitFor({ timeout: 60_000 });
    const video = await until('the video in the owner\'s channel', async () => {
      const list = await get(instance.url, tokens[OWNER], `/video-channels/${channel.name}/videos`);
      return list.data.find((v) => v.name === 'Made together');
    });
    assert.equal(video.channel.name, channel.name);
    shared = video;
    assert.deepEqual(collab.problems, []);
  });

  step('the collaborator edits the video\'s title from its watch page; only the owner may delete it', async () => {
    await waitPublished(instance.url, tokens[OWNER], shared.uuid);
    const { page } = collab;
    await page.goto(`/w/${shared.shortUUID}`);
    const edit = page.getByRole('link', { name: 'Edit', exact: true });
    await edit.waitFor();
    assert.equal(await page.getByRole('button', { name: 'Delete', exact: true }).count(), 0);
    await edit.click();
    const title = page.getByLabel('Title', { exact: true });
    await title.waitFor();
    await title.fill('Made together, edited');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.waitForURL(`**/w/${shared.shortUUID}`);
    assert.equal((await get(instance.url, tokens[OWNER], `/videos/${shared.uuid}`)).name, 'Made together, edited');

    // A user who does not edit the channel sees no Edit button.
    await other.page.goto(`/w/${shared.shortUUID}`);
    await other.page.getByRole('heading', { name: 'Made together, edited' }).waitFor();
    assert.equal(await other.page.getByRole('link', { name: 'Edit', exact: true }).count(), 0);
    assert.deepEqual(collab.problems, []);
  });

  step('a collaborator\'s management page has no settings and lets them leave', async () => {
    const { page } = collab;
    await page.goto(`/my-library/video-channels/${channel.name}`);
    await page.getByText('You collaborate on this channel').waitFor();
    assert.equal(await page.getByLabel('Display name').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Delete' }).count(), 0);
    const section = page.getByRole('region', { name: 'Collaborators' });
    await section.getByRole('button', { name: 'Leave this channel' }).waitFor();
    assert.equal(await section.getByRole('button', { name: 'Invite' }).count(), 0);
  });

  step('the owner removes the collaborator, and the channel leaves their upload list', async () => {
    const { page } = owner;
    await page.goto(`/my-library/video-channels/${channel.name}`);
    const section = page.getByRole('region', { name: 'Collaborators' });
    await section.getByRole('button', { name: `Remove ${COLLAB}` }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove this collaborator?' });
    await dialog.getByRole('button', { name: 'Remove' }).click();
    await section.getByText('is no longer a collaborator.').waitFor();
    assert.ok(!(await collaboratorsOf()).some((c) => c.account.name === COLLAB));
    assert.equal((await get(instance.url, tokens[COLLAB], '/users/me/video-channels/collaborations')).total, 0);

    await collab.page.goto('/videos/upload');
    const select = collab.page.getByLabel('Channel', { exact: true });
    await select.locator('option').first().waitFor({ state: 'attached' });
    assert.equal(await select.locator(`option[value="${channel.id}"]`).count(), 0);
    assert.deepEqual(owner.problems, []);
  });
});
