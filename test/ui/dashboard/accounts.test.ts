// The accounts page in real Chromium over a real server: the only admin is told in plain words
// that they cannot disable or demote themself; an admin creates an account with a password made
// up and shown once, and its owner signs in with it; disabling ends its session and stops sign-in,
// re-enabling lets it back; a role change shows and applies; a reset shows the new password once
// and only that one works. The table sorts. A viewer sees the accounts and no change control.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createUser } from '../../../server/store/users.ts';
import {
  launchBrowser,
  startDashboard,
  type Dashboard,
  sessionState,
  openSignedIn,
  type SessionState,
} from '../../helpers/browser.ts';
import { pageOverflowX } from '../../helpers/page-quality.ts';

const VIEWER = { username: 'ict.viewer', password: 'correct horse battery staple' };

describe('accounts page (Chromium)', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let adminState: SessionState;

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startDashboard(), launchBrowser()]);
    adminState = await sessionState(browser, dashboard);
  });
  afterAll(async () => {
    await browser.close();
    await dashboard.close();
  });
  beforeEach(() => {
    problems = [];
  });
  afterEach(async () => {
    await context.close();
    expect(problems).toEqual([]);
  });

  /** Opens the accounts page in a new browser context holding `state` (a signed-in session). */
  async function openAs(state: typeof adminState): Promise<void> {
    ({ context, page, problems } = await openSignedIn(browser, dashboard, state, '/accounts', {
      clipboard: true,
    }));
  }

  /** Signs in on the sign-in page in a fresh context; the page it ends on, and that context. */
  async function trySignIn(
    username: string,
    password: string,
  ): Promise<{ signedIn: boolean; other: BrowserContext; otherPage: Page }> {
    const other = await browser.newContext();
    const otherPage = await other.newPage();
    await otherPage.goto(`${dashboard.baseUrl}/sign-in`);
    await otherPage.getByLabel('Username').fill(username);
    await otherPage.getByLabel('Password').fill(password);
    await otherPage.getByRole('button', { name: 'Sign in' }).click();
    // Either the overview, or the sign-in page's alert saying why not.
    await Promise.race([
      otherPage.waitForURL(`${dashboard.baseUrl}/`),
      otherPage.getByRole('alert').filter({ hasText: /\S/ }).waitFor(),
    ]);
    return { signedIn: new URL(otherPage.url()).pathname === '/', other, otherPage };
  }
  async function canSignIn(username: string, password: string): Promise<boolean> {
    const { signedIn, other } = await trySignIn(username, password);
    await other.close();
    return signedIn;
  }

  const row = (username: string) =>
    page.locator('#accounts tbody tr').filter({
      has: page.locator('th', {
        hasText: new RegExp(`^${username.replaceAll('.', '\\.')}( \\(you\\))?$`),
      }),
    });
  const field = (username: string, name: string) => row(username).locator(`[data-field="${name}"]`);
  const stored = async (username: string) =>
    (
      await dashboard.server.db.query<{ role: string; disabled: boolean }>(
        'select role, disabled_at is not null as disabled from users where username = $1',
        [username],
      )
    )[0];
  const alertText = () => page.getByRole('alert').innerText();

  it('the only admin is told in plain words that they cannot disable or demote themself', async () => {
    await openAs(adminState);
    const me = dashboard.admin.username;
    expect(await row(me).locator('th').innerText()).toBe(`${me} (you)`);
    await row(me).getByRole('button', { name: 'Disable' }).click();
    const question = row(me).getByRole('group', { name: `Disable ${me}?` });
    expect(await question.innerText()).toContain('its open sessions end now');
    await question.getByRole('button', { name: 'Yes, disable it' }).click();
    await page
      .getByRole('alert')
      .getByText("You can't disable the last admin: make another account an admin first.")
      .waitFor();

    await row(me).getByRole('button', { name: 'Make viewer' }).click();
    await page
      .getByRole('alert')
      .getByText("You can't make a viewer of the last admin: make another account an admin first.")
      .waitFor();
    expect(await alertText()).not.toMatch(/own-account|409|last-admin/);
    expect(await stored(me)).toEqual({ role: 'admin', disabled: false });
    expect(await field(me, 'state').innerText()).toBe('Enabled');
    expect(await field(me, 'role').innerText()).toBe('Admin');
    // Their own password is not reset from here: that would end this very session.
    expect(
      await row(me)
        .getByRole('button', { name: /Reset password/ })
        .count(),
    ).toBe(0);
  });

  it('an admin creates an account with a password shown once, and its owner signs in with it', async () => {
    await openAs(adminState);
    const before = (await dashboard.server.db.query('select 1 from users')).length;
    // Problems are said before anything is sent.
    await page.getByLabel('Username').fill('maria teacher');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page
      .locator('#create-status')
      .getByText('A username is letters, digits and . _ @ - only, up to 100 characters.')
      .waitFor();
    await page.getByLabel('Username').fill('maria.teacher');
    await page.getByLabel('First password (optional)').fill('too short');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page
      .locator('#create-status')
      .getByText('A password needs 12 to 200 characters.', { exact: false })
      .waitFor();
    expect(await dashboard.server.db.query('select 1 from users')).toHaveLength(before);

    await page.getByLabel('First password (optional)').fill('');
    await page.getByLabel('Role').selectOption({ label: 'Viewer (reads only)' });
    await page.getByRole('button', { name: 'Create account' }).click();
    await row('maria.teacher').waitFor();
    await page.getByText('Created maria.teacher (viewer).').waitFor();
    const box = page.locator('#secret');
    await box.waitFor();
    expect(await page.locator('#secret-heading').innerText()).toBe(
      'Copy the new password for maria.teacher now',
    );
    const password = (await page.locator('#secret-value').innerText()).trim();
    expect(password).toMatch(/^([A-HJ-NP-Z2-9]{5}-){3}[A-HJ-NP-Z2-9]{5}$/);
    await page.getByRole('button', { name: 'Copy password' }).click();
    await page.getByText('Copied.').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(password);
    expect(await field('maria.teacher', 'role').innerText()).toBe('Viewer');
    expect(await field('maria.teacher', 'state').innerText()).toBe('Enabled');

    await page.screenshot({ path: '/tmp/hallpass-accounts.png', fullPage: true });
    await page.setViewportSize({ width: 320, height: 640 });
    expect(await pageOverflowX(page)).toBe(0);
    await page.screenshot({ path: '/tmp/hallpass-accounts-320.png', fullPage: true });
    await page.setViewportSize({ width: 1280, height: 720 });

    await page.getByRole('button', { name: 'Done, hide it' }).click();
    expect(await box.isVisible()).toBe(false);
    expect(await page.content()).not.toContain(password);
    expect(await canSignIn('maria.teacher', password)).toBe(true);
    // The password was made up in the page and shown once: the server stored only its hash.
    const [hash] = await dashboard.server.db.query<{ password_hash: string }>(
      'select password_hash from users where username = $1',
      ['maria.teacher'],
    );
    expect(hash?.password_hash).not.toContain(password);

    // The same username again is refused in words.
    await page.getByLabel('Username').fill('maria.teacher');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page
      .locator('#create-status')
      .getByText('An account named maria.teacher exists already: choose another username.', {
        exact: false,
      })
      .waitFor();
  });

  it('disabling ends the account’s session and stops sign-in; enabling lets it sign in again', async () => {
    await createUser(dashboard.server.db, {
      username: 'leaver',
      password: VIEWER.password,
      role: 'viewer',
    });
    const leaver = await trySignIn('leaver', VIEWER.password);
    expect(leaver.signedIn).toBe(true);
    await openAs(adminState);
    await row('leaver').getByRole('button', { name: 'Disable' }).click();
    await row('leaver').getByRole('button', { name: 'Cancel' }).click();
    expect(await field('leaver', 'state').innerText()).toBe('Enabled');
    await row('leaver').getByRole('button', { name: 'Disable' }).click();
    await page.keyboard.press('Enter');
    await field('leaver', 'state').getByText('Disabled').waitFor();
    await page
      .getByText('Disabled leaver: it can no longer sign in. 1 open session ended.')
      .waitFor();
    expect(await stored('leaver')).toEqual({ role: 'viewer', disabled: true });

    // Its open session is over: the next page it opens goes to sign-in; signing in is refused.
    await leaver.otherPage.goto(`${dashboard.baseUrl}/devices`);
    await leaver.otherPage.waitForURL(/\/sign-in\?next=/);
    await leaver.other.close();
    expect(await canSignIn('leaver', VIEWER.password)).toBe(false);

    await row('leaver').getByRole('button', { name: 'Enable' }).click();
    await field('leaver', 'state').getByText('Enabled').waitFor();
    await page.getByText('Enabled leaver: it can sign in again.').waitFor();
    expect(await canSignIn('leaver', VIEWER.password)).toBe(true);
  });

  it('a role change shows in the table and applies to the account', async () => {
    await createUser(dashboard.server.db, {
      username: 'riser',
      password: VIEWER.password,
      role: 'viewer',
    });
    await openAs(adminState);
    await row('riser').getByRole('button', { name: 'Make admin' }).click();
    await field('riser', 'role').getByText('Admin').waitFor();
    await page.getByText('riser is now an admin.').waitFor();
    expect(await stored('riser')).toEqual({ role: 'admin', disabled: false });

    // With a second admin, their own step down is refused for being their own.
    const me = dashboard.admin.username;
    await row(me).getByRole('button', { name: 'Make viewer' }).click();
    await page
      .getByRole('alert')
      .getByText("You can't make a viewer of your own account: ask another admin to do it", {
        exact: false,
      })
      .waitFor();

    await row('riser').getByRole('button', { name: 'Make viewer' }).click();
    await field('riser', 'role').getByText('Viewer').waitFor();
    await page.getByText('riser is now a viewer.').waitFor();
    expect(await stored('riser')).toEqual({ role: 'viewer', disabled: false });
  });

  it('a reset shows a made-up password once; the old one is refused and the new one works', async () => {
    await createUser(dashboard.server.db, {
      username: 'forgetful',
      password: VIEWER.password,
      role: 'viewer',
    });
    await openAs(adminState);
    await row('forgetful').getByRole('button', { name: 'Reset password…' }).click();
    const form = row('forgetful').getByRole('group', { name: 'Reset the password of forgetful' });
    // A typed password that is too short is refused in words, and nothing is sent.
    await form.getByLabel('New password for forgetful (optional)').fill('short');
    await form.getByRole('button', { name: 'Set new password' }).click();
    await page
      .getByRole('alert')
      .getByText('A password needs 12 to 200 characters.', { exact: false })
      .waitFor();
    await form.getByLabel('New password for forgetful (optional)').fill('');
    await form.getByRole('button', { name: 'Set new password' }).click();
    await page.getByText('New password set for forgetful.', { exact: true }).waitFor();
    await page.locator('#secret').waitFor();
    expect(await page.locator('#secret-heading').innerText()).toBe(
      'Copy the new password for forgetful now',
    );
    const password = (await page.locator('#secret-value').innerText()).trim();
    expect(password).toMatch(/^([A-HJ-NP-Z2-9]{5}-){3}[A-HJ-NP-Z2-9]{5}$/);
    expect(await page.getByRole('alert').isVisible()).toBe(false);
    expect(await canSignIn('forgetful', VIEWER.password)).toBe(false);
    expect(await canSignIn('forgetful', password)).toBe(true);
    await page.getByRole('button', { name: 'Done, hide it' }).click();
    expect(await page.evaluate('document.activeElement?.id')).toBe('list-heading');

    // A typed password is set as typed and not shown.
    const typed = 'a brand new passphrase 42';
    await row('forgetful').getByRole('button', { name: 'Reset password…' }).click();
    await row('forgetful').getByLabel('New password for forgetful (optional)').fill(typed);
    await page.keyboard.press('Enter');
    // The session the new password opened above is one this reset ends.
    await page
      .getByText('New password set for forgetful. 1 open session ended.', { exact: true })
      .waitFor();
    expect(await page.locator('#secret').isVisible()).toBe(false);
    expect(await page.content()).not.toContain(typed);
    expect(await canSignIn('forgetful', typed)).toBe(true);
  });

  it('an admin demoted while their page is open is told in words, and nothing changes', async () => {
    await createUser(dashboard.server.db, {
      username: 'second.admin',
      password: VIEWER.password,
      role: 'admin',
    });
    await createUser(dashboard.server.db, {
      username: 'bystander',
      password: VIEWER.password,
      role: 'viewer',
    });
    const second = await trySignIn('second.admin', VIEWER.password);
    expect(second.signedIn).toBe(true);
    const secondState = await second.other.storageState();
    await second.other.close();
    await openAs(secondState);
    // Another admin makes them a viewer meanwhile (straight in the database, as the API would).
    await dashboard.server.db.query("update users set role = 'viewer' where username = $1", [
      'second.admin',
    ]);
    await row('bystander').getByRole('button', { name: 'Make admin' }).click();
    await page
      .getByRole('alert')
      .getByText('Your account is no longer an admin, so it cannot change accounts.', {
        exact: false,
      })
      .waitFor();
    expect(await alertText()).not.toMatch(/forbidden|403/);
    expect(await stored('bystander')).toEqual({ role: 'viewer', disabled: false });
  });

  it('the table sorts by any column', async () => {
    await openAs(adminState);
    const names = async () =>
      (await page.locator('#accounts tbody th').allInnerTexts()).map((t) =>
        t.replace(' (you)', '').trim(),
      );
    const ascending = await names();
    expect(ascending).toEqual([...ascending].sort((a, b) => a.localeCompare(b, 'en-GB')));
    await page.getByRole('button', { name: 'Username' }).click();
    await page.locator('th[aria-sort="descending"]').waitFor();
    expect(await names()).toEqual([...ascending].reverse());
    await page.getByRole('button', { name: 'Role' }).click();
    await page.locator('th[aria-sort="ascending"]', { hasText: 'Role' }).waitFor();
    const roles = await page.locator('#accounts tbody [data-field="role"]').allInnerTexts();
    expect(roles).toEqual([...roles].sort());
    expect(await page.locator('#accounts caption').innerText()).toBe(
      'ICT accounts, sorted by Role, ascending',
    );
  });

  it('a viewer sees the accounts and no control that changes them', async () => {
    await createUser(dashboard.server.db, { ...VIEWER, role: 'viewer' });
    const viewer = await trySignIn(VIEWER.username, VIEWER.password);
    expect(viewer.signedIn).toBe(true);
    const viewerState = await viewer.other.storageState();
    await viewer.other.close();
    await openAs(viewerState);
    expect(await row(dashboard.admin.username).count()).toBe(1);
    expect(await page.locator('#viewer-note').isVisible()).toBe(true);
    expect(await page.locator('main form').count()).toBe(0);
    expect(await page.locator('#secret').count()).toBe(0);
    // The only buttons are the column headers that sort the table.
    const buttons = await page.locator('main button').allInnerTexts();
    expect(buttons).toEqual(['Username', 'Role', 'State', 'Password set', 'Created']);
    // Nor does a viewer learn when colleagues sign in.
    expect(await page.locator('#accounts thead th').allInnerTexts()).not.toContain('Last sign-in');
  });
});
