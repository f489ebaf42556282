// The quality bar on every dashboard page, in real Chromium over the seeded fleet: axe-core finds
// nothing, the keyboard reaches every control with a visible focus, the page never scrolls
// sideways at 320 px or at 200 % zoom, and errors are pages in plain words.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  launchBrowser,
  signIn,
  startDashboard,
  watchForProblems,
  type Dashboard,
  sessionState,
} from '../../helpers/browser.ts';
import {
  createDestination,
  findDestination,
  queueTestDelivery,
} from '../../../server/store/alerts.ts';
import { recordAudit } from '../../../server/store/audit-log.ts';
import { takeDailySnapshot } from '../../../server/store/compliance-snapshots.ts';
import { currentPolicy, uploadPolicy } from '../../../server/store/policies.ts';
import { createUser } from '../../../server/store/users.ts';
import { checkPageQuality, PASSING } from '../../helpers/page-quality.ts';
import { seedFleet, type Seeded } from './seed.ts';

const VIEWER = { username: 'ict.viewer', password: 'correct horse battery staple' };

/** Waits until the page's script has drawn its data. */
const dataLoaded = (page: Page) => page.locator('main:not([aria-busy])').waitFor();
/** Error pages and the sign-in page are drawn by the server: nothing to wait for. */
const drawn = (page: Page) => page.locator('h1').waitFor();

describe('dashboard quality bar (Chromium)', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let fleet: Seeded;
  let storageState: Awaited<ReturnType<BrowserContext['storageState']>>;

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startDashboard(), launchBrowser()]);
    fleet = await seedFleet(dashboard);
    // Audit entries for the audit page: a long one (a whole policy) must wrap, not widen it.
    const { db } = dashboard.server;
    const [admin] = await db.query<{ id: string }>('select id from users where username = $1', [
      dashboard.admin.username,
    ]);
    const actor = { id: admin?.id ?? '', username: dashboard.admin.username };
    const group = dashboard.server.groupId;
    const policy = (await currentPolicy(db, group))?.document ?? null;
    await recordAudit(db, {
      actor,
      action: 'policy.upload',
      targetType: 'device-group',
      targetId: group,
      before: null,
      after: { version: 1, policy },
      at: new Date(),
    });
    await recordAudit(db, {
      actor,
      action: 'school.create',
      targetType: 'school',
      targetId: fleet.schools.riverside.id,
      before: null,
      after: { id: fleet.schools.riverside.id, name: 'Riverside <b>Academy</b>' },
      at: new Date(),
    });
    // A second policy version, so an old one differs from the one in force (a diff to draw).
    if (policy !== null) {
      await db.transaction((tx) =>
        uploadPolicy(tx, {
          groupId: group,
          policy: { ...policy, name: 'Pupil laptops <b>(autumn)</b>' },
          uploadedBy: admin?.id ?? null,
        }),
      );
    }
    await createUser(db, { ...VIEWER, role: 'viewer' });
    // Alert destinations and a delivery that failed with a long reason, for the alerts page.
    const hook = await db.transaction((tx) =>
      createDestination(tx, {
        kind: 'webhook',
        target: `https://siem.example.org/hooks/${'very-long-path-'.repeat(8)}`,
        label: '',
        schoolId: fleet.schools.riverside.id,
        mode: 'digest',
        createdBy: admin?.id ?? null,
        at: new Date(),
      }),
    );
    const destination = await findDestination(db, hook.id);
    if (destination === null) {
      throw new Error('no destination');
    }
    const delivery = await queueTestDelivery(db, destination, new Date());
    await db.query(
      `update alert_deliveries set status = 'failed', attempts = 8, last_attempt_at = now(),
              last_error = $2 where id = $1`,
      [delivery, `siem.example.org answered HTTP 502: ${'Bad gateway '.repeat(20)}`],
    );
    // Two days of snapshots, so the overview and the school page draw their trend charts.
    await takeDailySnapshot(dashboard.server.db, new Date(Date.now() - 86_400_000));
    await takeDailySnapshot(dashboard.server.db, new Date());
    storageState = await sessionState(browser, dashboard);
  });
  afterAll(async () => {
    await browser.close();
    await dashboard.close();
  });
  beforeEach(async () => {
    context = await browser.newContext({ storageState });
    page = await context.newPage();
    problems = watchForProblems(page);
  });
  afterEach(async () => {
    await context.close();
    expect(problems).toEqual([]);
  });

  const url = (path: string) => dashboard.baseUrl + path;

  /** Every page ICT opens, signed in, with the seeded data drawn. */
  const pages = (): [string, string][] => [
    ['overview', '/'],
    ['device list', '/devices'],
    ['device list, filtered', `/devices?schoolId=${fleet.schools.northgate.id}&status=fail`],
    ['device detail', `/devices/${fleet.byHostname('ng-lt-002').id}`],
    ['USB storage', '/usb'],
    ['chase list', '/chase'],
    ['AUP register', `/aup?school=${fleet.schools.northgate.id}`],
    ['enrolment tokens', '/tokens'],
    ['audit log', '/audit'],
    ['audit log, filtered', '/audit?action=policy.upload&from=2020-01-01'],
    ['school page', `/schools/${fleet.schools.northgate.id}`],
    ['device group policies', '/policies'],
    ['a device group policy', `/policies/${dashboard.server.groupId}`],
    ['alerts', '/alerts'],
    ['accounts', '/accounts'],
    ['schools and device groups', '/schools'],
    ['subject access', '/people'],
  ];

  it.each([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])(
    'signed-in page %i meets the bar',
    async (index) => {
      const [name, path] = pages()[index] ?? ['', ''];
      const report = await checkPageQuality(page, url(path), dataLoaded);
      expect(report, name).toEqual(PASSING);
    },
  );

  it('a group policy with a typo checked, its problems and diff, and an old version open meets the bar', async () => {
    const report = await checkPageQuality(
      page,
      url(`/policies/${dashboard.server.groupId}`),
      async (shown) => {
        await dataLoaded(shown);
        const editor = shown.getByLabel('Policy (YAML)');
        await editor.fill((await editor.inputValue()).replace('  screenLock:\n', '  screenLok:\n'));
        await shown.getByRole('button', { name: 'Check the changes' }).click();
        await shown.locator('#problems').waitFor();
        await shown.getByRole('button', { name: 'View version 1', exact: true }).click();
        await shown.locator('#version table').waitFor();
        await shown.getByRole('button', { name: 'Roll back to version 1…' }).click();
      },
    );
    expect(report).toEqual(PASSING);
  });

  it('the accounts page with a password reset form and a disable question open meets the bar', async () => {
    const report = await checkPageQuality(page, url('/accounts'), async (shown) => {
      await dataLoaded(shown);
      const viewerRow = shown.locator('#accounts tbody tr', { hasText: VIEWER.username });
      await viewerRow.getByRole('button', { name: 'Reset password…' }).click();
      await viewerRow.getByRole('button', { name: 'Disable' }).click();
    });
    expect(report).toEqual(PASSING);
  });

  it('the schools page with a rename form open meets the bar', async () => {
    const report = await checkPageQuality(page, url('/schools'), async (shown) => {
      await dataLoaded(shown);
      await shown
        .locator('#groups tbody tr', { hasText: 'Staff laptops' })
        .getByRole('button', { name: 'Rename…' })
        .click();
    });
    expect(report).toEqual(PASSING);
  });

  it("a viewer's group policy page, with an old version open, meets the bar", async () => {
    const viewerContext = await browser.newContext();
    const viewerPage = await viewerContext.newPage();
    const viewerProblems = watchForProblems(viewerPage);
    await signIn(viewerPage, dashboard, VIEWER);
    const report = await checkPageQuality(
      viewerPage,
      url(`/policies/${dashboard.server.groupId}`),
      async (shown) => {
        await dataLoaded(shown);
        await shown.getByRole('button', { name: 'View version 1', exact: true }).click();
        await shown.locator('#version table').waitFor();
        await shown.locator('#version details summary').click();
      },
    );
    await viewerContext.close();
    expect(report).toEqual(PASSING);
    expect(viewerProblems).toEqual([]);
  });

  it("a viewer's accounts and schools pages, without change controls, meet the bar", async () => {
    const viewerContext = await browser.newContext();
    const viewerPage = await viewerContext.newPage();
    const viewerProblems = watchForProblems(viewerPage);
    await signIn(viewerPage, dashboard, VIEWER);
    const reports = [
      await checkPageQuality(viewerPage, url('/accounts'), dataLoaded),
      await checkPageQuality(viewerPage, url('/schools'), dataLoaded),
    ];
    await viewerContext.close();
    expect(reports).toEqual([PASSING, PASSING]);
    expect(viewerProblems).toEqual([]);
  });

  it('the sign-in page meets the bar', async () => {
    const signedOut = await browser.newContext();
    const fresh = await signedOut.newPage();
    const report = await checkPageQuality(fresh, url('/sign-in'), drawn);
    await signedOut.close();
    expect(report).toEqual(PASSING);
  });

  it.each([
    ['an unknown page', '/no-such-page', 404],
    ['a malformed device id', '/devices/not-a-device-id', 404],
    ['a page under accounts that does not exist', '/accounts/not-a-page', 404],
    ['a malformed school id', '/schools/not-a-school-id', 404],
    ['an unknown school id', '/schools/0b7f1c7e-2a0e-4f55-9d8e-6f0d3c1b2a90', 404],
    ['a malformed device group id', '/policies/not-a-group-id', 404],
    ['an unknown device group id', '/policies/0b7f1c7e-2a0e-4f55-9d8e-6f0d3c1b2a90', 404],
    ['an over-long device id', `/devices/${'a'.repeat(300)}`, 414],
  ])('%s is an HTML page in plain words that meets the bar', async (_name, path, status) => {
    const response = await page.goto(url(path));
    expect(response?.status()).toBe(status);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);
    expect(await page.locator('main p').first().innerText()).not.toMatch(/[{}]|FST_|must /);
    expect(await page.getByRole('link', { name: 'Go to the dashboard' }).count()).toBe(1);
    const report = await checkPageQuality(page, url(path), drawn);
    expect(report).toEqual(PASSING);
  });

  it('an address too long for the server is still an HTML page, not JSON', async () => {
    const response = await page.goto(url('/devices?search=' + 'x'.repeat(20_000)));
    expect(response?.status()).toBe(414);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);
    expect(await page.locator('h1').innerText()).toBe('Address too long');
  });

  it('a bad filter in the URL is explained in plain words, with what to do next', async () => {
    await page.goto(url('/devices?silentDays=0&status=bogus'));
    await dataLoaded(page);
    const alert = await page.getByRole('alert').innerText();
    expect(alert).not.toMatch(/querystring|schema|anyOf|>=/);
    expect(alert).toContain('Not reported for (days)');
    expect(alert).toContain('Clear filters');
    expect(await checkPageQuality(page, url('/devices?silentDays=0'), dataLoaded)).toEqual(PASSING);
  });
});
