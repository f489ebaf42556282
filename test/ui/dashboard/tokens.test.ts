// Enrolment tokens and the audit log in real Chromium over a real server: an admin creates a
// token on the page, reads and copies its secret (shown once), a real device enrols with it
// exactly its number of times; a revoke asks first and then the token is refused; the audit page
// lists both, filters them and exports exactly what it shows. A viewer sees the list only.
import { readFile } from 'node:fs/promises';
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
import { TestDevice } from '../../helpers/device-client.ts';
import { pageOverflowX } from '../../helpers/page-quality.ts';

const VIEWER = { username: 'ict.viewer', password: 'correct horse battery staple' };

describe('enrolment tokens and audit log pages (Chromium)', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let adminState: SessionState;
  let viewerState: SessionState;

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startDashboard(), launchBrowser()]);
    await createUser(dashboard.server.db, { ...VIEWER, role: 'viewer' });
    adminState = await sessionState(browser, dashboard);
    viewerState = await sessionState(browser, dashboard, VIEWER);
  });
  afterAll(async () => {
    await browser.close();
    await dashboard.close();
  });
  afterEach(async () => {
    await context.close();
    expect(problems).toEqual([]);
  });

  async function openAs(state: typeof adminState, path: string): Promise<void> {
    ({ context, page, problems } = await openSignedIn(browser, dashboard, state, path, {
      clipboard: true,
    }));
  }
  const enrol = (token: string) => new TestDevice().enrol(dashboard.server.app, token);
  const row = (label: string) => page.locator('#tokens tbody tr', { hasText: label });
  const cells = async (label: string) =>
    (await row(label).locator(':scope > th, :scope > td').allInnerTexts()).map((t) => t.trim());

  async function createToken(label: string, uses: string): Promise<string> {
    await page.getByLabel('School').selectOption({ label: 'Northgate Primary' });
    await page.getByLabel('Device group').selectOption({ label: 'Pupil laptops' });
    await page.getByLabel('Label (optional)').fill(label);
    await page.getByLabel('Number of uses').fill(uses);
    await page.getByLabel('Expires after (days)').fill('3');
    await page.getByRole('button', { name: 'Create token' }).click();
    await row(label).waitFor();
    const secret = (await page.locator('#secret-value').innerText()).trim();
    expect(secret).toMatch(/^hpe_[A-Za-z0-9_-]{43}$/);
    return secret;
  }

  beforeEach(() => {
    problems = [];
  });

  it('an admin creates a token, copies the secret shown once, and it enrols exactly twice', async () => {
    await openAs(adminState, '/tokens');
    const secret = await createToken('Year 7 laptops', '2');
    const box = page.locator('#secret');
    expect(await box.isVisible()).toBe(true);
    expect(await box.innerText()).toContain('This token will not be shown again.');

    // The secret has no spaces: at 320 px it wraps in its box rather than widen the page.
    await page.setViewportSize({ width: 320, height: 640 });
    expect(await pageOverflowX(page)).toBe(0);
    await page.screenshot({ path: '/tmp/hallpass-tokens-320.png', fullPage: true });
    await page.setViewportSize({ width: 1280, height: 720 });

    await page.screenshot({ path: '/tmp/hallpass-tokens.png', fullPage: true });
    await page.getByRole('button', { name: 'Copy token' }).click();
    await page.getByText('Copied.').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(secret);

    expect(await cells('Year 7 laptops')).toEqual([
      'Year 7 laptops',
      'Northgate Primary',
      'Pupil laptops',
      '0 of 2',
      expect.any(String),
      'Active',
      expect.any(String),
      'Revoke',
    ]);
    expect((await enrol(secret)).status).toBe(201);
    expect((await enrol(secret)).status).toBe(201);
    const third = await enrol(secret);
    expect(third.status).toBe(403);
    expect(third.json()).toMatchObject({ error: 'token-used-up' });

    await page.getByRole('button', { name: 'Done, hide it' }).click();
    expect(await box.isVisible()).toBe(false);
    expect(await page.content()).not.toContain(secret);
    // Shown once: a reload has only the list, which never holds the secret.
    await page.reload();
    await page.locator('main:not([aria-busy])').waitFor();
    expect(await page.content()).not.toContain(secret);
    expect((await cells('Year 7 laptops')).slice(3, 6)).toEqual([
      '2 of 2',
      expect.any(String),
      'Used up',
    ]);
  });

  it('a bad number is refused in plain words before anything is sent', async () => {
    await openAs(adminState, '/tokens');
    const before = await dashboard.server.db.query('select id from enrolment_tokens');
    await page.getByLabel('School').selectOption({ label: 'Northgate Primary' });
    await page.getByLabel('Device group').selectOption({ label: 'Pupil laptops' });
    await page.getByLabel('Number of uses').fill('0');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByText('The number of uses must be a whole number from 1 to 100,000.').waitFor();
    expect(await page.locator('#create-status').innerText()).not.toMatch(/must be >=|schema/);
    expect(await dashboard.server.db.query('select id from enrolment_tokens')).toHaveLength(
      before.length,
    );
  });

  it('revoking asks first; cancel keeps it; yes revokes it and enrolment is refused', async () => {
    await openAs(adminState, '/tokens');
    const secret = await createToken('Supply laptops', '10');
    await page.getByRole('button', { name: 'Done, hide it' }).click();
    await row('Supply laptops').getByRole('button', { name: 'Revoke' }).click();
    const question = row('Supply laptops').getByRole('group');
    expect(await question.innerText()).toContain('Devices can no longer enrol with it.');
    await page.screenshot({ path: '/tmp/hallpass-tokens-revoke.png', fullPage: true });
    await question.getByRole('button', { name: 'Cancel' }).click();
    expect(await question.isVisible()).toBe(false);
    expect((await cells('Supply laptops'))[5]).toBe('Active');

    await row('Supply laptops').getByRole('button', { name: 'Revoke' }).click();
    await page.keyboard.press('Enter');
    await page
      .locator('#tokens tbody tr', { hasText: 'Supply laptops' })
      .getByText('Revoked')
      .waitFor();
    expect(await row('Supply laptops').getByRole('button').count()).toBe(0);
    const refused = await enrol(secret);
    expect(refused.status).toBe(403);
    expect(refused.json()).toMatchObject({ error: 'token-revoked' });
  });

  it('the audit page lists the changes newest first, filters them, and exports what it shows', async () => {
    await openAs(adminState, '/audit');
    const actions = await page.locator('#entries tbody th').allInnerTexts();
    expect(actions.slice(0, 3)).toEqual([
      'Enrolment token revoked',
      'Enrolment token created',
      'Enrolment token created',
    ]);
    expect(await page.locator('#entries tbody tr').first().innerText()).toContain('ict.admin');

    await page.getByLabel('Action').selectOption({ label: 'Enrolment token created' });
    await Promise.all([
      page.waitForURL(/action=token\.create/),
      page.getByRole('button', { name: 'Show' }).click(),
    ]);
    await page.locator('main:not([aria-busy])').waitFor();
    await page.locator('#entries details').first().locator('summary').click();
    await page.screenshot({ path: '/tmp/hallpass-audit.png', fullPage: true });
    const shown = await page.locator('#entries tbody th').allInnerTexts();
    expect(shown).toEqual(['Enrolment token created', 'Enrolment token created']);

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download CSV of these entries' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('audit-log.csv');
    const csv = await readFile(await download.path(), 'utf8');
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('When,Who,Action,Target type,Target id,Before,After');
    expect(lines.slice(1).map((line) => line.split(',')[2])).toEqual([
      'token.create',
      'token.create',
    ]);
    expect(csv).toContain('Supply laptops');
    expect(csv).not.toMatch(/hpe_/);

    await page.goto(`${dashboard.baseUrl}/audit?from=2026-02-30&action=bogus`);
    await page.locator('main:not([aria-busy])').waitFor();
    const alert = await page.getByRole('alert').innerText();
    expect(alert).toContain('is not a date');
    expect(alert).not.toMatch(/querystring|pattern|anyOf/);
  });

  it('a viewer sees the tokens with no create or revoke controls, and not the audit log', async () => {
    await openAs(viewerState, '/tokens');
    expect(await row('Year 7 laptops').count()).toBe(1);
    expect(await page.locator('#create-section').isVisible()).toBe(false);
    expect(await page.locator('main form').count()).toBe(0);
    expect(await page.locator('main button').count()).toBe(0);
    expect(await page.locator('#tokens thead th').allInnerTexts()).not.toContain('Action');
    expect(await page.locator('#viewer-note').isVisible()).toBe(true);

    await page.goto(`${dashboard.baseUrl}/audit`);
    await page.locator('main:not([aria-busy])').waitFor();
    expect(await page.locator('main').innerText()).toContain('Only admins can read the audit log.');
    expect(await page.locator('main table').count()).toBe(0);
  });
});
