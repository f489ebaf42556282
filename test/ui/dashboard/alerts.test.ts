// The alerts page in real Chromium over a real server: an admin adds a webhook destination (its
// signing secret shown once), sends a test that a real receiver on loopback verifies, sees a
// destination that cannot be reached retry and then fail with the reason in words, queues it
// again, disables and removes a destination (asked first). A viewer sees everything, changes nothing.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlertPayload } from '../../../shared/index.ts';
import { deliverDue } from '../../../server/alerts/job.ts';
import { MAX_ATTEMPTS, retryDelayMs } from '../../../server/store/alerts.ts';
import { createUser } from '../../../server/store/users.ts';
import { WebhookReceiver } from '../../helpers/alert-receivers.ts';
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

describe('alerts page (Chromium)', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let hook: WebhookReceiver;
  let closedUrl: string;
  let adminState: SessionState;
  let viewerState: SessionState;

  beforeAll(async () => {
    [dashboard, browser, hook] = await Promise.all([
      // The test's receivers listen on loopback, which webhooks may reach only when allowed.
      startDashboard({ webhookAllowedNetworks: '127.0.0.1' }),
      launchBrowser(),
      new WebhookReceiver().start(),
    ]);
    const gone = await new WebhookReceiver().start();
    closedUrl = gone.url;
    await gone.close();
    await createUser(dashboard.server.db, { ...VIEWER, role: 'viewer' });
    adminState = await sessionState(browser, dashboard);
    viewerState = await sessionState(browser, dashboard, VIEWER);
  });
  afterAll(async () => {
    await browser.close();
    await dashboard.close();
    await hook.close();
  });
  beforeEach(() => {
    problems = [];
  });
  afterEach(async () => {
    await context.close();
    expect(problems).toEqual([]);
  });

  async function openAs(state: typeof adminState): Promise<void> {
    ({ context, page, problems } = await openSignedIn(browser, dashboard, state, '/alerts', {
      clipboard: true,
    }));
  }
  const destinationRow = (name: string) =>
    page.locator('#destinations tbody tr', { hasText: name });
  const deliveryRow = (name: string) => page.locator('#deliveries tbody tr', { hasText: name });

  async function addWebhook(url: string, label: string): Promise<string> {
    await page.getByLabel('Send by').selectOption({ label: 'Webhook (JSON, signed)' });
    await page.getByLabel('Webhook address (https://…)').fill(url);
    await page.getByLabel('Label (optional)').fill(label);
    await page.getByRole('button', { name: 'Add destination' }).click();
    await destinationRow(label).waitFor();
    const secret = (await page.locator('#secret-value').innerText()).trim();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    return secret;
  }

  it('an admin adds a webhook, copies its secret once, and a test alert arrives signed', async () => {
    await openAs(adminState);
    // A bad address is refused in words before anything is sent.
    await page.getByLabel('Email address').fill('not an address');
    await page.getByRole('button', { name: 'Add destination' }).click();
    await page.getByText('Enter one email address, like ict@school.example.').waitFor();

    const secret = await addWebhook(hook.url, 'Trust SIEM');
    hook.secret = secret;
    await page.getByRole('button', { name: 'Copy secret' }).click();
    await page.getByText('Copied.').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(secret);
    expect(
      (await destinationRow('Trust SIEM').locator('th, td').allInnerTexts()).map((t) => t.trim()),
    ).toEqual([
      'Trust SIEM',
      hook.url,
      'Webhook',
      'Whole trust',
      'Daily digest',
      `whsec_…${secret.slice(-4)}`,
      'Enabled',
      expect.stringContaining('Send test'),
    ]);

    await destinationRow('Trust SIEM').getByRole('button', { name: 'Send test' }).click();
    await page.getByText('Test alert delivered to Trust SIEM.').waitFor();
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]?.signatureValid).toBe(true);
    expect((hook.received[0]?.json as AlertPayload).type).toBe('hallpass.alert.test');
    await deliveryRow('Trust SIEM').locator('text=Delivered').waitFor();

    await page.getByRole('button', { name: 'Done, hide it' }).click();
    await page.reload();
    await page.locator('main:not([aria-busy])').waitFor();
    expect(await page.content()).not.toContain(secret);
    await page.setViewportSize({ width: 320, height: 640 });
    expect(await pageOverflowX(page)).toBe(0);
    await page.screenshot({ path: '/tmp/hallpass-alerts-320.png', fullPage: true });
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  it('a delivery that cannot get through retries, then fails with the reason; an admin queues it again', async () => {
    await openAs(adminState);
    await addWebhook(closedUrl, 'Old receiver');
    await destinationRow('Old receiver').getByRole('button', { name: 'Send test' }).click();
    const reason = `${new URL(closedUrl).host} refused the connection: nothing is listening there.`;
    await page.getByText(`The test alert did not get through to Old receiver: ${reason}`).waitFor();
    const row = deliveryRow('Old receiver');
    await row.getByText(`Retrying after 1 of ${String(MAX_ATTEMPTS)} attempts`).waitFor();
    expect(await row.innerText()).toContain(reason);

    // The rest of its attempts, time moved on by passing `now`.
    let at = new Date();
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt += 1) {
      at = new Date(at.getTime() + retryDelayMs(attempt));
      await deliverDue(dashboard.server.app.alerts, at);
    }
    await page.reload();
    await page.locator('main:not([aria-busy])').waitFor();
    await row.getByText(`Failed: gave up after ${String(MAX_ATTEMPTS)} attempts`).waitFor();
    expect(await row.innerText()).toContain(reason);
    await page.screenshot({ path: '/tmp/hallpass-alerts.png', fullPage: true });
    await row.getByRole('button', { name: 'Try again' }).click();
    await page.getByText('The delivery to Old receiver is queued again').waitFor();
    await row.getByText('Waiting to be sent').waitFor();
  });

  it('disabling and removing: remove asks first, cancel keeps it', async () => {
    await openAs(adminState);
    await addWebhook(hook.url, 'Short-lived');
    const row = destinationRow('Short-lived');
    await row.getByRole('button', { name: 'Disable' }).click();
    await page.getByText('Disabled Short-lived.').waitFor();
    expect(await row.locator('[data-field="state"]').innerText()).toBe('Disabled');
    await row.getByRole('button', { name: 'Enable' }).waitFor();

    await row.getByRole('button', { name: 'Remove' }).click();
    await row.getByRole('button', { name: 'Cancel' }).click();
    expect(await row.count()).toBe(1);
    await row.getByRole('button', { name: 'Remove' }).click();
    await row.getByRole('button', { name: 'Yes, remove it' }).click();
    await page.getByText('Removed Short-lived.').waitFor();
    expect(await row.count()).toBe(0);
  });

  it('a viewer sees destinations and deliveries with no controls', async () => {
    await openAs(viewerState);
    await destinationRow('Trust SIEM').waitFor();
    expect(await page.locator('#create').count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Send test' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Try again' }).count()).toBe(0);
    expect(await page.locator('#viewer-note').isVisible()).toBe(true);
    await deliveryRow('Old receiver').waitFor();
  });
});
