// Signing in and out of the dashboard, in real Chromium against a real listening server.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SIGN_IN_THROTTLE } from '../../../server/auth/login-limits.ts';
import { createUser } from '../../../server/store/users.ts';
import {
  launchBrowser,
  signIn,
  startDashboard,
  watchForProblems,
  type Dashboard,
} from '../../helpers/browser.ts';

const SOME_DEVICE = '/devices/0b7f1c7e-2a0e-4f55-9d8e-6f0d3c1b2a90';

describe('dashboard sign-in and sign-out (Chromium)', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startDashboard(), launchBrowser()]);
  });
  afterAll(async () => {
    await browser.close();
    await dashboard.close();
  });
  beforeEach(async () => {
    context = await browser.newContext();
    page = await context.newPage();
    problems = watchForProblems(page);
  });
  afterEach(async () => {
    await context.close();
    // No uncaught exception and no CSP violation on any page a test visited.
    expect(problems).toEqual([]);
  });

  const url = (path: string) => dashboard.baseUrl + path;
  const alertText = async () => (await page.getByRole('alert').textContent())?.trim() ?? '';

  it.each(['/', '/devices?status=fail&search=ng', SOME_DEVICE])(
    'sends a signed-out visitor of %s to the sign-in page, remembering where they were going',
    async (path) => {
      await page.goto(url(path));
      await page.waitForURL((u) => u.pathname === '/sign-in');
      expect(new URL(page.url()).searchParams.get('next')).toBe(path);
      expect(await page.getByRole('heading', { name: 'Sign in' }).isVisible()).toBe(true);
    },
  );

  it('signs in and goes on to the page the visitor asked for, showing who is signed in', async () => {
    await page.goto(url('/devices?status=fail'));
    await page.waitForURL((u) => u.pathname === '/sign-in');
    await page.getByLabel('Username').fill(dashboard.admin.username);
    await page.getByLabel('Password').fill(dashboard.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(url('/devices?status=fail'));
    await page.locator('main:not([aria-busy])').waitFor();
    expect(await page.locator('#account').innerText()).toContain(
      `Signed in as ${dashboard.admin.username} (admin)`,
    );
    const cookies = await context.cookies();
    // The session, and the browser remembered as one this account signs in from (sign-in route only).
    const described = cookies.map((c) => [c.name, c.httpOnly, c.sameSite, c.path]);
    expect(described.sort()).toEqual([
      ['hallpass_known_device', true, 'Strict', '/api/v1/ict/session'],
      ['hallpass_session', true, 'Strict', '/'],
    ]);
    // Neither cookie is readable from page script.
    expect(await page.evaluate('document.cookie')).toBe('');
  });

  it('shows a clear error for a wrong password, stays on the page and sets no cookie', async () => {
    await page.goto(url('/sign-in'));
    await page.getByLabel('Username').fill(dashboard.admin.username);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not right' }).waitFor();
    expect(await alertText()).toBe(
      'The username or password is not right. Check them and try again.',
    );
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    expect(await page.getByLabel('Password').inputValue()).toBe('');
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe(
      'password',
    );
    expect(await context.cookies()).toEqual([]);
    await page.screenshot({ path: '/tmp/hallpass-sign-in.png', fullPage: true });
  });

  it('asks for both fields before sending anything', async () => {
    let posted = false;
    page.on('request', (request) => {
      posted ||= request.method() === 'POST';
    });
    await page.goto(url('/sign-in'));
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await alertText()).toBe('Enter your username and your password.');
    expect(posted).toBe(false);
  });

  it('after repeated failures, says how long to wait — even for the right password', async () => {
    const viewer = { username: 'ict.viewer', password: 'another long pass phrase' };
    await createUser(dashboard.server.db, { ...viewer, role: 'viewer' });
    for (let i = 0; i < SIGN_IN_THROTTLE.free.accountAddress; i++) {
      const answer = await page.request.post(url('/api/v1/ict/session'), {
        data: { username: viewer.username, password: `wrong guess ${String(i)}` },
      });
      expect(answer.status()).toBe(401);
    }
    await page.goto(url('/sign-in'));
    await page.getByLabel('Username').fill(viewer.username);
    await page.getByLabel('Password').fill(viewer.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Too many' }).waitFor();
    // Retry-After is the first growing delay, which is under a minute.
    expect(await alertText()).toBe('Too many failed sign-in attempts. Try again in 1 minute.');
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    expect(await context.cookies()).toEqual([]);
  });

  it.each([
    ['//evil.example/phish', '/'],
    ['https://evil.example/', '/'],
    ['/\\evil.example', '/'],
    ['/devices?search=ng', '/devices?search=ng'],
  ])('never follows next=%s off the site', async (next, landing) => {
    await page.goto(url('/sign-in?next=' + encodeURIComponent(next)));
    await page.getByLabel('Username').fill(dashboard.admin.username);
    await page.getByLabel('Password').fill(dashboard.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(url(landing));
  });

  it('an already signed-in visitor of the sign-in page goes straight on', async () => {
    await signIn(page, dashboard);
    await page.goto(url('/sign-in?next=%2Fdevices'));
    await page.waitForURL(url('/devices'));
  });

  it('signs out: the session ends on the server and pages ask to sign in again', async () => {
    await signIn(page, dashboard);
    await page.locator('main:not([aria-busy])').waitFor();
    const sessionsBefore = await dashboard.server.db.query('select 1 from sessions');
    let csrfHeader: string | undefined;
    page.on('request', (request) => {
      if (request.method() === 'DELETE') {
        csrfHeader = request.headers()['x-csrf-token'];
      }
    });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(url('/sign-in'));
    expect(csrfHeader).toMatch(/^[\w-]{20,}$/);
    const sessionsAfter = await dashboard.server.db.query('select 1 from sessions');
    expect(sessionsAfter).toHaveLength(sessionsBefore.length - 1);
    await page.goto(url('/devices'));
    await page.waitForURL(url('/sign-in?next=%2Fdevices'));
  });
});
