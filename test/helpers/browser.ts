// Real headless Chromium (Debian's package, driven by playwright-core) against a real server
// listening on a loopback port: how every dashboard page is tested.
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
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

/** Signs in through the sign-in page and waits for the overview. */
export async function signIn(page: Page, dashboard: Dashboard): Promise<void> {
  await page.goto(`${dashboard.baseUrl}/sign-in`);
  await page.getByLabel('Username').fill(dashboard.admin.username);
  await page.getByLabel('Password').fill(dashboard.admin.password);
  await Promise.all([
    page.waitForURL(`${dashboard.baseUrl}/`),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
}
