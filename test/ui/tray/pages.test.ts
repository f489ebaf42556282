// The tray's windows (status, what Hallpass collects, idle warning) in real headless Chromium,
// served as the tray serves them, with a test bridge where the preload would be: the real
// TrayModel and ServiceClient talking to a real `hallpass service` process. Each page: axe-core
// finds no violations, it works by keyboard alone, and it reflows at 200 % zoom.
import { rm } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { iconView } from '../../../agent/tray/icon-state.ts';
import { remediationTarget } from '../../../agent/tray/remediation-targets.ts';
import { ServiceClient } from '../../../agent/tray/service-client.ts';
import { COLLECTED } from '../../../ui/collects/fields.ts';
import {
  agentHome,
  agentStatus,
  startAgent,
  stopAgent,
  waitFor,
  type AgentHome,
} from '../../helpers/agent-process.ts';
import { launchBrowser, watchForProblems } from '../../helpers/browser.ts';
import {
  axeViolations,
  installBridge,
  overflowAt200,
  serveTrayUi,
  testBridge,
  type TestBridge,
  type TrayUiServer,
} from '../../helpers/tray-pages.ts';

const STATUS_WORD = {
  pass: 'OK',
  fail: 'Needs fixing',
  warn: 'Needs a look',
  unknown: 'Could not check',
};

describe.skipIf(process.platform !== 'linux')('tray pages (Chromium, real service)', () => {
  let home: AgentHome;
  let agent: ReturnType<typeof startAgent> | null = null;
  let ui: TrayUiServer;
  let browser: Browser;
  let bridge: TestBridge;
  let client: ServiceClient;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];

  beforeAll(async () => {
    home = await agentHome({});
    agent = startAgent(home);
    [ui, browser] = await Promise.all([serveTrayUi(), launchBrowser()]);
    const ready = home;
    // The first pass has run when results are in.
    await waitFor(
      'the service to report its first checks',
      async () => ((await agentStatus(ready))?.results.length ?? 0) > 0 || null,
    );
    bridge = testBridge({ role: 'staff' });
    client = new ServiceClient({
      path: home.ipcPath,
      listener: bridge.model.listener,
      pollMs: 2000,
    });
    bridge.model.attach(client);
    client.start();
    await waitFor('the tray to connect', () =>
      Promise.resolve(bridge.model.view().connection === 'connected' || null),
    );
  }, 300_000);
  afterAll(async () => {
    client.stop();
    await browser.close();
    await ui.close();
    if (agent !== null) {
      await stopAgent(agent);
    }
    await rm(home.dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    page = await context.newPage();
    problems = watchForProblems(page);
    await installBridge(page, bridge);
  });
  afterEach(async () => {
    bridge.pages.delete(page);
    await context.close();
    expect(problems).toEqual([]);
  });

  async function open(path: string): Promise<void> {
    await page.goto(`${ui.baseUrl}/${path}`);
    await page.locator('main:not([aria-busy])').waitFor();
  }

  /** The id of the focused element after pressing Tab until `accept` holds (at most 30 times). */
  async function tabTo(accept: (id: string, text: string) => boolean): Promise<string> {
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press('Tab');
      const [id, text] = await page.evaluate<[string, string]>(
        '[document.activeElement?.id ?? "", document.activeElement?.textContent?.trim() ?? ""]',
      );
      if (accept(id, text)) {
        return id;
      }
    }
    throw new Error('never reached by Tab');
  }

  it('status: every check the service reported, in words, with the policy and last report', async () => {
    await open('status/index.html');
    const status = await agentStatus(home);
    expect(status).not.toBeNull();
    if (status === null) {
      return;
    }
    const expected = iconView('connected', status);
    const headline = await page.locator('#headline').textContent();
    expect(headline).toBe(
      {
        compliant: 'Everything is fine on this computer.',
        'needs-attention': 'Some things on this computer need a look.',
        'not-compliant': 'Something on this computer needs fixing.',
        unreachable: 'Hallpass cannot reach its service on this computer. It will keep trying.',
      }[expected.state],
    );
    for (const result of status.results) {
      const item = page.locator(`li[data-check="${result.checkId}"]`);
      await expect(item.locator('.status').textContent()).resolves.toBe(STATUS_WORD[result.status]);
      await expect(item.textContent()).resolves.toContain(result.summary);
      // Staff get a settings button exactly where the OS has a page and the check is not passing.
      const target = remediationTarget('linux', result.checkId);
      const buttons = await item.getByRole('button').count();
      expect(buttons).toBe(target !== null && result.status !== 'pass' ? 1 : 0);
    }
    expect(await page.locator('#policy').textContent()).toBe(
      `${status.policy.name}, version ${String(status.policy.version)}`,
    );
    expect(await page.locator('#last-check').textContent()).not.toBe('not yet');
    expect(await axeViolations(page)).toEqual([]);
  });

  it('status: keyboard alone runs the checks and opens a settings page through the tray', async () => {
    await open('status/index.html');
    await tabTo((id) => id === 'run-checks');
    await page.keyboard.press('Enter');
    await expect
      .poll(() => page.locator('#run-result').textContent(), { timeout: 120_000 })
      .toBe(' Done.');
    const settingsButtons = page.locator('li[data-check] button');
    if ((await settingsButtons.count()) > 0) {
      const label = (await settingsButtons.first().textContent()) ?? '';
      await page.locator('#headline').focus();
      await tabTo((_id, text) => text === label);
      await page.keyboard.press('Enter');
      await expect.poll(() => bridge.opened.length).toBeGreaterThan(0);
      expect(bridge.opened[0]?.label).toBe(label);
    } else {
      // Nothing on this machine needs a settings page: the refusal path is what a page reaches.
      const answer = await bridge.model.handle({
        channel: 'settings:open',
        args: ['agent-health'],
      });
      expect(answer).toEqual({
        ok: false,
        error: 'There is no settings page for this on this computer.',
      });
    }
  });

  it('status: readable at 200 % zoom', async () => {
    await open('status/index.html');
    expect(await overflowAt200(page)).toEqual({ overflow: 0, outside: [] });
  });

  it('the bridge refuses what is not in the channel map', async () => {
    await open('status/index.html');
    const refused = await page.evaluate<string[]>(
      `Promise.all([
        window.hallpass.invoke('settings:open', 'ms-settings:../../evil').then(() => 'accepted', (e) => e.message),
        window.hallpass.invoke('shell:run', 'rm').then(() => 'accepted', (e) => e.message),
        window.hallpass.invoke('status:get', { extra: true }).then(() => 'accepted', (e) => e.message),
      ])`,
    );
    for (const message of refused) {
      expect(message).toMatch(/refused/);
    }
    expect(bridge.opened.every((target) => target.kind === 'command')).toBe(true);
  });

  it('collects: lists every field, passes axe, reflows at 200 %, and its contents work by keyboard', async () => {
    await open('collects/index.html');
    const listed = await page.evaluate<string[]>(
      '[...document.querySelectorAll("[data-field]")].map((node) => node.getAttribute("data-field"))',
    );
    const expected = COLLECTED.flatMap((group) => group.fields.map((f) => `${group.id}:${f.key}`));
    expect(listed).toEqual(expected);
    expect(await axeViolations(page)).toEqual([]);
    const heading = COLLECTED[1]?.heading ?? '';
    await tabTo((_id, text) => text === heading);
    await page.keyboard.press('Enter');
    expect(page.url()).toMatch(new RegExp(`#${COLLECTED[1]?.id ?? ''}$`));
    expect(await overflowAt200(page)).toEqual({ overflow: 0, outside: [] });
  });

  it('idle warning: counts down from what the tray says, by keyboard, at 200 %', async () => {
    await open('idle-warning/index.html');
    expect(await page.locator('#calm').isVisible()).toBe(true);
    bridge.model.setIdleWarning(30_000);
    await expect.poll(() => page.locator('#seconds').textContent()).toMatch(/^(30|29|28)$/);
    expect(await page.locator('#warning').isVisible()).toBe(true);
    expect(await axeViolations(page)).toEqual([]);
    // The button has the focus from the start: a key press is all it takes.
    expect(await page.evaluate('document.activeElement?.id')).toBe('stay');
    await page.keyboard.press('Enter');
    expect(await page.locator('#announce').textContent()).toBe(
      'Thank you. The computer will stay unlocked.',
    );
    expect(await overflowAt200(page)).toEqual({ overflow: 0, outside: [] });
    bridge.model.setIdleWarning(null);
    await expect.poll(() => page.locator('#calm').isVisible()).toBe(true);
  });

  it('status: says so when the service goes away, and recovers when it is back', async () => {
    await open('status/index.html');
    if (agent !== null) {
      await stopAgent(agent);
      agent = null;
    }
    await expect
      .poll(() => page.locator('#headline').textContent(), { timeout: 60_000 })
      .toBe('Hallpass cannot reach its service on this computer. It will keep trying.');
    expect(await page.locator('#run-checks').isDisabled()).toBe(true);
    expect(await axeViolations(page)).toEqual([]);
    agent = startAgent(home);
    await expect
      .poll(() => page.locator('#run-checks').isDisabled(), { timeout: 180_000 })
      .toBe(false);
  });
});
