// Real headless Chromium (Debian's package, driven by playwright-core) against a real server
// listening on a loopback port: how every dashboard page is tested.
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { ServerConfig } from '../../server/config.ts';
import { createUser } from '../../server/store/users.ts';
import { testEngines } from './databases.ts';
import { startTestServer, type TestServer } from './test-server.ts';

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM = '/usr/bin/chromium';

/** Launches headless Chromium; says how to get it when it is missing rather than skipping. */
export function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: the dashboard is tested in Debian's Chromium ` +
        '(sudo apt-get install chromium; npm test installs it when run as root).',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    // --no-sandbox: test containers run as root, where Chromium's sandbox cannot start.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A test server on a real port, with an admin account to sign in as. */
export interface Dashboard {
  server: TestServer;
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  admin: { username: string; password: string };
  /**
   * Moves the server's clock so that it reads `to` now (and runs on from there), or back to real
   * time with null: how a test makes a device fall silent days ago.
   */
  setClock(to: Date | null): void;
  close(): Promise<void>;
}

/**
 * Starts the server app (PGlite is enough for pages) listening on 127.0.0.1, port 0, with
 * `config` over the test defaults.
 */
export async function startDashboard(config: Partial<ServerConfig> = {}): Promise<Dashboard> {
  const engine = testEngines.find((e) => e.name === 'pglite');
  if (engine === undefined) {
    throw new Error('no PGlite engine');
  }
  let offsetMs = 0;
  const server = await startTestServer(engine, config, () => new Date(Date.now() + offsetMs));
  const admin = { username: 'ict.admin', password: 'correct horse battery staple' };
  await createUser(server.db, { ...admin, role: 'admin' });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const address = server.app.server.address() as AddressInfo;
  return {
    server,
    baseUrl: `http://127.0.0.1:${String(address.port)}`,
    admin,
    setClock: (to) => {
      offsetMs = to === null ? 0 : to.getTime() - Date.now();
    },
    close: () => server.close(),
  };
}

/** Problems a page reported: uncaught exceptions and console errors (CSP violations among them). */
export function watchForProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    // A 401 from GET /session is how a signed-out page learns it must go to sign-in.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      problems.push(`console: ${message.text()}`);
    }
  });
  return problems;
}

/** Who signs in: the dashboard's admin unless a test names another account. */
export interface Credentials {
  username: string;
  password: string;
}

/** Signs in through the sign-in page (as the admin, or `who`) and waits for the overview. */
export async function signIn(
  page: Page,
  dashboard: Dashboard,
  who: Credentials = dashboard.admin,
): Promise<void> {
  await page.goto(`${dashboard.baseUrl}/sign-in`);
  await page.getByLabel('Username').fill(who.username);
  await page.getByLabel('Password').fill(who.password);
  await Promise.all([
    page.waitForURL(`${dashboard.baseUrl}/`),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
}

/** A signed-in browser session, to open pages in new contexts with. */
export type SessionState = Awaited<ReturnType<BrowserContext['storageState']>>;

/** Signs `who` (the admin by default) in, in a context of its own, and keeps the session. */
export async function sessionState(
  browser: Browser,
  dashboard: Dashboard,
  who: Credentials = dashboard.admin,
): Promise<SessionState> {
  const context = await browser.newContext();
  try {
    await signIn(await context.newPage(), dashboard, who);
    return await context.storageState();
  } finally {
    await context.close();
  }
}

/** A dashboard page opened in a new context, and what went wrong on it (watchForProblems). */
export interface OpenedPage {
  context: BrowserContext;
  page: Page;
  problems: string[];
}

/**
 * Opens `path` in a new context holding `state` and waits until the page has loaded its data. A
 * native dialog (confirm, alert) counts as a problem: the pages ask in their own words.
 * `clipboard` grants clipboard access, for the copy-once secrets.
 */
export async function openSignedIn(
  browser: Browser,
  dashboard: Dashboard,
  state: SessionState,
  path: string,
  options: { clipboard?: boolean } = {},
): Promise<OpenedPage> {
  const context = await browser.newContext({ storageState: state });
  if (options.clipboard === true) {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: dashboard.baseUrl,
    });
  }
  const page = await context.newPage();
  const problems = watchForProblems(page);
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.goto(dashboard.baseUrl + path);
  await page.locator('main:not([aria-busy])').waitFor();
  return { context, page, problems };
}
