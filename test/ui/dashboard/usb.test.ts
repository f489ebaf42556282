// The USB page and USB events on the device page, in real Chromium, over a real server: a device
// sends real signed usb.blocked events, ICT approves a stick from the page, and the device's
// conditional policy fetch (with its old ETag) gets the new allow entry; a revocation takes it
// back. Device strings that hold markup, control characters or 10 kB render as text.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Policy, UsbAllowEntry } from '../../../shared/index.ts';
import { insertServerEvent } from '../../../server/store/devices.ts';
import {
  launchBrowser,
  signIn,
  startDashboard,
  watchForProblems,
  type Dashboard,
} from '../../helpers/browser.ts';
import { report, result, TestDevice } from '../../helpers/device-client.ts';
import { usbBlockedData, usbBlockedEvent } from '../../helpers/usb-sample.ts';

const HOSTILE_NAME = '<img src=x onerror=alert(1)>\u0007\u001b[2J\u202Egnp.exe';
/** What an older or broken agent might have stored: 10 kB, beyond today's schema. */
const HUGE_NAME = 'A'.repeat(10_000);

describe('USB storage pages (Chromium)', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let storageState: Awaited<ReturnType<BrowserContext['storageState']>>;
  const device = new TestDevice();

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startDashboard(), launchBrowser()]);
    const { app, db } = dashboard.server;
    expect((await device.enrol(app, dashboard.server.token)).status).toBe(201);
    const now = new Date();
    const sent = await device.postBatch(
      app,
      [report(device.facts, [result('antivirus', 'pass', now)], now)],
      [
        usbBlockedEvent({ serial: 'AA11' }, { user: 'pupil.1', count: 3 }),
        usbBlockedEvent({ serial: 'AA11' }, { user: 'pupil.2' }),
        // Bulk-bought: the same serial on another model.
        usbBlockedEvent({ vendorId: '090c', productId: '1000', serial: 'AA11', name: 'Generic' }),
        usbBlockedEvent({
          vendorId: '1234',
          productId: '5678',
          serial: 'EVIL',
          name: HOSTILE_NAME,
        }),
      ],
    );
    expect(sent.status).toBe(200);
    const huge = usbBlockedData({ serial: HUGE_NAME, user: HUGE_NAME });
    await insertServerEvent(db, device.id, 'usb.blocked', now, {
      ...huge,
      device: { ...huge.device, vendorId: 'abcd', productId: 'ef01', name: HUGE_NAME },
    });
    const first = await browser.newContext();
    await signIn(await first.newPage(), dashboard);
    storageState = await first.storageState();
    await first.close();
  });
  afterAll(async () => {
    await browser.close();
    await dashboard.close();
  });
  beforeEach(async () => {
    context = await browser.newContext({ storageState });
    page = await context.newPage();
    problems = watchForProblems(page);
    page.on('dialog', (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
  });
  afterEach(async () => {
    await context.close();
    expect(problems).toEqual([]);
  });

  async function open(path: string): Promise<void> {
    await page.goto(dashboard.baseUrl + path);
    await page.locator('main:not([aria-busy])').waitFor();
  }

  /** The device's policy fetch, conditional on `etag` when given. */
  async function fetchPolicy(etag?: string) {
    const answer = await device.signed(
      dashboard.server.app,
      'GET',
      '/api/v1/policy',
      undefined,
      etag === undefined ? {} : { 'if-none-match': etag },
    );
    return {
      status: answer.status,
      etag: String(answer.headers.etag),
      approved: answer.status === 200 ? approvedEntries(answer.json() as Policy) : [],
    };
  }
  const approvedEntries = (policy: Policy): UsbAllowEntry[] =>
    policy.usb.allow.filter((entry) => entry.approvalId !== undefined);

  const stickRow = (key: string) => page.locator(`#blocked tr[data-stick="${key}"]`);
  const cells = async (key: string) =>
    (await stickRow(key).locator(':scope > th, :scope > td').allInnerTexts()).map((t) => t.trim());

  it('lists blocked sticks with counts, devices, users and a shared-serial warning', async () => {
    await open('/usb');
    const row = await cells('0781:5581/AA11');
    expect(row.slice(0, 5)).toEqual([
      'SanDisk Ultra',
      '0781:5581',
      expect.stringContaining('AA11'),
      '4',
      '1',
    ]);
    expect(row[5]).toBe('pupil.1\npupil.2');
    expect(await stickRow('0781:5581/AA11').locator('.shared-serial').isVisible()).toBe(true);
    expect(await stickRow('090c:1000/AA11').locator('.shared-serial').isVisible()).toBe(true);
    expect(await stickRow('1234:5678/EVIL').locator('.shared-serial').count()).toBe(0);
    await page.screenshot({ path: '/tmp/hallpass-usb.png', fullPage: true });
  });

  it('shows markup, control characters and 10 kB device strings as clipped text', async () => {
    await open('/usb');
    expect(await stickRow('1234:5678/EVIL').locator('th').innerText()).toBe(HOSTILE_NAME);
    // Cut to the API's 200 characters by the server, to 120 on the page.
    const huge = stickRow(`abcd:ef01/${HUGE_NAME.slice(0, 200)}`);
    const shown = await huge.locator('th .device-text').innerText();
    expect(shown).toBe('A'.repeat(120) + '…');
    expect(await page.locator('main img, main script').count()).toBe(0);

    await open(`/devices/${device.id}`);
    const names = await page.locator('#events [data-field="name"]').allInnerTexts();
    expect(names).toContain(HOSTILE_NAME);
    expect(names).toContain('A'.repeat(120) + '…');
    expect(await page.locator('main img, main script').count()).toBe(0);
  });

  it('approve a blocked stick from the USB page; the device fetch gets it; revoke takes it back', async () => {
    const before = await fetchPolicy();
    expect(before.approved).toEqual([]);
    await open('/usb');
    const row = stickRow('0781:5581/AA11');
    await row.getByText('Approve this device').click();
    const form = row.locator('form.approve');
    await form.getByLabel('Approve for').selectOption('school');
    await form.getByLabel('Group or school').selectOption({ label: 'Northgate Primary' });
    await form.getByLabel('Reason (required)').fill('Year 11 art exam <b>photos</b>');
    await form.getByRole('button', { name: 'Approve' }).click();
    await form.getByText('Approved by ict.admin.').waitFor();
    const approval = page.locator('#approvals tbody tr').first();
    await approval.getByText('Active').waitFor();
    expect(await approval.innerText()).toContain('Year 11 art exam <b>photos</b>');
    expect(await approval.innerText()).toContain('ict.admin');

    const after = await fetchPolicy(before.etag);
    expect(after.status).toBe(200);
    expect(after.approved).toEqual([
      expect.objectContaining({
        vendorId: '0781',
        productId: '5581',
        serial: 'AA11',
        approvedBy: 'ict.admin',
        reason: 'Year 11 art exam <b>photos</b>',
        expiresAt: null,
      }),
    ]);
    expect((await fetchPolicy(after.etag)).status).toBe(304);

    await approval.getByRole('button', { name: 'Revoke' }).click();
    await page.locator('#approvals tbody tr').first().getByText('Revoked by ict.admin').waitFor();
    const revoked = await fetchPolicy(after.etag);
    expect(revoked.status).toBe(200);
    expect(revoked.approved).toEqual([]);
  });

  it('shows USB events on the device page and approves a stick from there, with an expiry', async () => {
    await open(`/devices/${device.id}`);
    const event = page
      .locator('#events tr[data-type="usb.blocked"]')
      .filter({ hasText: 'Generic' });
    expect(await event.locator('[data-field="usb-id"]').innerText()).toBe('090c:1000');
    expect(await event.locator('[data-field="serial"]').innerText()).toBe('AA11');
    expect(await event.locator('[data-field="decision"]').innerText()).toBe(
      'Blocked once (not-approved, mode block) for pupil.0042',
    );
    const counted = page
      .locator('#events tr[data-type="usb.blocked"]')
      .filter({ hasText: 'pupil.1' });
    expect(await counted.locator('[data-field="decision"]').innerText()).toBe(
      'Blocked 3 times (not-approved, mode block) for pupil.1',
    );

    const before = await fetchPolicy();
    await event.getByText('Approve this device').click();
    const form = event.locator('form.approve');
    // The device's own group is chosen to start with.
    expect(await form.getByLabel('Group or school').locator('option:checked').innerText()).toBe(
      'Pupil laptops',
    );
    await form.getByLabel('Every stick of this model (any serial)').check();
    await form.getByLabel('Reason (required)').fill('Trip to the museum');
    await form.getByLabel('Expires (optional)').fill('2099-07-01T15:30');
    await form.getByRole('button', { name: 'Approve' }).click();
    await form.getByText('Approved by ict.admin.').waitFor();

    const after = await fetchPolicy(before.etag);
    expect(after.status).toBe(200);
    expect(after.approved).toHaveLength(1);
    expect(after.approved[0]).toMatchObject({
      vendorId: '090c',
      productId: '1000',
      description: 'Generic',
      reason: 'Trip to the museum',
      approvedBy: 'ict.admin',
    });
    expect(after.approved[0]).not.toHaveProperty('serial');
    expect(after.approved[0]?.expiresAt).toMatch(/^2099-07-01T/);
  });
});
