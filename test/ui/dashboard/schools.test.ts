// The schools and device groups page in real Chromium over a real server: each school links to
// its page and each group to its policy page, with active devices counted; an admin adds a school
// and a group, renames them (a taken or invisible-character name refused in plain words), and the
// table shows each change before the page says it. A viewer sees the lists and no change control.
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

describe('schools and device groups page (Chromium)', () => {
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
    // Two devices in the test server's school and group, so the counts are not all zero.
    for (let i = 0; i < 2; i++) {
      const enrolled = await new TestDevice().enrol(dashboard.server.app, dashboard.server.token);
      expect(enrolled.status).toBe(201);
    }
    adminState = await sessionState(browser, dashboard);
    viewerState = await sessionState(browser, dashboard, VIEWER);
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

  async function openAs(state: typeof adminState): Promise<void> {
    ({ context, page, problems } = await openSignedIn(browser, dashboard, state, '/schools'));
  }
  const schoolRow = (name: string) =>
    page
      .locator('#schools tbody tr')
      .filter({ has: page.getByRole('link', { name, exact: true }) });
  const groupRow = (name: string) =>
    page.locator('#groups tbody tr').filter({ has: page.getByRole('link', { name, exact: true }) });
  const cells = async (row: ReturnType<typeof schoolRow>) =>
    (await row.locator(':scope > th, :scope > td').allInnerTexts()).map((t) => t.trim());
  const storedName = async (table: 'schools' | 'device_groups', id: string) =>
    (
      await dashboard.server.db.query<{ name: string }>(`select name from ${table} where id = $1`, [
        id,
      ])
    )[0]?.name;

  it('lists schools and groups with their devices, linking to each school and each group’s policy', async () => {
    await openAs(adminState);
    const school = schoolRow('Northgate Primary');
    expect(await cells(school)).toEqual([
      'Northgate Primary',
      '2',
      expect.any(String),
      expect.stringContaining('Rename'),
    ]);
    expect(await school.getByRole('link').getAttribute('href')).toBe(
      `/schools/${dashboard.server.schoolId}`,
    );
    const group = groupRow('Pupil laptops');
    expect((await cells(group)).slice(0, 2)).toEqual(['Pupil laptops (policy)', '2']);
    expect(await group.getByRole('link').getAttribute('href')).toBe(
      `/policies/${dashboard.server.groupId}`,
    );
    // The links lead to pages that exist.
    await Promise.all([
      page.waitForURL(/\/schools\/[0-9a-f-]{36}$/),
      school.getByRole('link').click(),
    ]);
    await page.locator('main:not([aria-busy])').waitFor();
    expect(await page.locator('h1').innerText()).toContain('Northgate Primary');
  });

  it('an admin adds a school and renames it; a taken or invisible-character name is refused in words', async () => {
    await openAs(adminState);
    await page.getByRole('button', { name: 'Add school' }).click();
    await page.locator('#school-status').getByText('Type the school’s name.').waitFor();
    await page.getByLabel('New school’s name').fill('  Riverside Academy ');
    await page.getByRole('button', { name: 'Add school' }).click();
    await schoolRow('Riverside Academy').waitFor();
    await page.getByText('Added school “Riverside Academy”.').waitFor();
    expect((await cells(schoolRow('Riverside Academy'))).slice(0, 2)).toEqual([
      'Riverside Academy',
      '0',
    ]);
    const [made] = await dashboard.server.db.query<{ id: string }>(
      'select id from schools where name = $1',
      ['Riverside Academy'],
    );
    const id = made?.id ?? '';

    // The same name again.
    await page.getByLabel('New school’s name').fill('Northgate Primary');
    await page.getByRole('button', { name: 'Add school' }).click();
    await page
      .locator('#school-status')
      .getByText('A school named “Northgate Primary” exists already: choose another name.', {
        exact: false,
      })
      .waitFor();

    // Rename: cancel keeps it; a taken name and a hidden text-direction control are refused.
    const row = schoolRow('Riverside Academy');
    await row.getByRole('button', { name: 'Rename…' }).click();
    const input = row.getByLabel('New name for Riverside Academy');
    await input.fill('Northgate Primary');
    await row.getByRole('button', { name: 'Save name' }).click();
    await page
      .getByRole('alert')
      .getByText('A school named “Northgate Primary” exists already', { exact: false })
      .waitFor();
    await schoolRow('Riverside Academy').getByRole('button', { name: 'Rename…' }).click();
    await schoolRow('Riverside Academy')
      .getByLabel('New name for Riverside Academy')
      .fill('Riverside \u202Eymedaca');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').getByText('U+202E', { exact: false }).waitFor();
    const alert = await page.getByRole('alert').innerText();
    expect(alert).toContain(
      'The school was not renamed. The name holds an invisible text-direction control',
    );
    expect(alert).not.toMatch(/invalid-name|pattern|schema/);
    expect(await storedName('schools', id)).toBe('Riverside Academy');

    await schoolRow('Riverside Academy').getByRole('button', { name: 'Rename…' }).click();
    await schoolRow('Riverside Academy')
      .getByLabel('New name for Riverside Academy')
      .fill('Riverside <b>Academy</b> Trust');
    await schoolRow('Riverside Academy').getByRole('button', { name: 'Save name' }).click();
    // The table shows it first; then the page says it.
    await schoolRow('Riverside <b>Academy</b> Trust').waitFor();
    await page
      .getByText('Renamed “Riverside Academy” to “Riverside <b>Academy</b> Trust”.')
      .waitFor();
    expect(await page.getByRole('alert').isVisible()).toBe(false);
    expect(await schoolRow('Riverside Academy').count()).toBe(0);
    expect(await storedName('schools', id)).toBe('Riverside <b>Academy</b> Trust');
    expect(await page.locator('#schools b').count()).toBe(0);

    await page.screenshot({ path: '/tmp/hallpass-schools.png', fullPage: true });
    await page.setViewportSize({ width: 320, height: 640 });
    expect(await pageOverflowX(page)).toBe(0);
    await page.screenshot({ path: '/tmp/hallpass-schools-320.png', fullPage: true });
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  it('an admin adds a device group and renames it; its policy link follows', async () => {
    await openAs(adminState);
    await page.getByLabel('New device group’s name').fill('Staff laptops');
    await page.getByRole('button', { name: 'Add device group' }).click();
    await groupRow('Staff laptops').waitFor();
    await page.getByText('Added device group “Staff laptops”.').waitFor();
    const [made] = await dashboard.server.db.query<{ id: string }>(
      'select id from device_groups where name = $1',
      ['Staff laptops'],
    );
    const id = made?.id ?? '';
    await groupRow('Staff laptops').getByRole('button', { name: 'Rename…' }).click();
    await groupRow('Staff laptops').getByLabel('New name for Staff laptops').fill('Staff devices');
    await page.keyboard.press('Enter');
    await groupRow('Staff devices').waitFor();
    await page.getByText('Renamed “Staff laptops” to “Staff devices”.').waitFor();
    expect(await storedName('device_groups', id)).toBe('Staff devices');
    expect(await groupRow('Staff devices').getByRole('link').getAttribute('href')).toBe(
      `/policies/${id}`,
    );
    await Promise.all([
      page.waitForURL(`${dashboard.baseUrl}/policies/${id}`),
      groupRow('Staff devices').getByRole('link').click(),
    ]);
    await page.locator('main:not([aria-busy])').waitFor();
    expect(await page.locator('main').innerText()).toContain('Staff devices');
  });

  it('a viewer sees the schools and groups and no control that changes them', async () => {
    await openAs(viewerState);
    expect(await schoolRow('Northgate Primary').count()).toBe(1);
    expect(await groupRow('Pupil laptops').count()).toBe(1);
    expect(await page.locator('#viewer-note').isVisible()).toBe(true);
    expect(await page.locator('main form').count()).toBe(0);
    expect(await page.locator('main input').count()).toBe(0);
    // The only buttons are the column headers that sort the tables.
    const buttons = await page.locator('main button').allInnerTexts();
    expect(new Set(buttons)).toEqual(new Set(['Name', 'Active devices', 'Created']));
    expect(await page.locator('main thead th').allInnerTexts()).not.toContain('Action');
  });
});
