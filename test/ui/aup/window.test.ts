// The AUP window (ui/aup/) in real Chromium against the real service, composed by runService
// in this process: a test bridge stands where the tray's preload will, forwarding the page's
// three AUP calls over the service's IPC socket. The console session comes from logind's
// parsed output (recorded fixtures answer `loginctl`), and every other command the service
// runs is observed, so a decline's sign-out is seen as the command it is.
import { readFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePolicyText } from '../../../agent/core/policy/policy-file.ts';
import { runService, type RunningService } from '../../../agent/service/run-service.ts';
import { AssetCache } from '../../../server/routes/dashboard/assets.ts';
import { aupTextSha256, type AgentEvent } from '../../../shared/index.ts';
import { launchBrowser } from '../../helpers/browser.ts';
import { CONSOLE_SESSION, consoleSessionHost } from '../../helpers/console-session.ts';
import { askProven } from '../../helpers/ipc-peer.ts';
import { readOutboxFolder } from '../../helpers/outbox-folder.ts';
import { hostAgentConfig } from '../../helpers/agent-process.ts';

const repo = new URL('../../../', import.meta.url);
const policy = parsePolicyText(
  await readFile(new URL('agent/core/policy/example-policy.yaml', repo), 'utf8'),
  'example-policy.yaml',
);
const pupilAup = policy.aup.documents.find((d) => d.id === 'pupil-aup');
const axeSource = await readFile(new URL('node_modules/axe-core/axe.min.js', repo), 'utf8');

// What the preload will expose, in the page: each call goes to the test's IPC forwarder.
const BRIDGE = `
  window.__spoken = [];
  if (window.speechSynthesis) {
    window.speechSynthesis.speak = (utterance) => window.__spoken.push(utterance.text);
  }
  const call = async (request) => {
    const answer = await window.__hallpassAupIpc(request);
    if (!answer.ok) throw new Error(answer.error);
    return answer.aup;
  };
  window.hallpassAup = {
    pending: () => call({ channel: 'aup:pending' }),
    sign: (s) => call({ channel: 'aup:sign', ...s }),
    decline: (d) => call({ channel: 'aup:decline', ...d }),
  };
`;

describe.skipIf(process.platform !== 'linux')('the AUP window against the real service', () => {
  let home: string;
  let running: RunningService;
  let browser: Browser;
  let pages: Server;
  let pagesUrl: string;
  const commands: string[] = [];
  let ipcPath: string;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'hallpass-aup-window-'));
    const stateDir = join(home, 'state');
    ipcPath = join(home, 'agent.sock');
    await mkdir(join(stateDir, 'policy'), { recursive: true, mode: 0o700 });
    // The example policy, as if the server had sent it: the pupil AUP is in force.
    await writeFile(
      join(stateDir, 'policy', 'policy.json'),
      JSON.stringify({ etag: null, receivedAt: new Date().toISOString(), policy }),
      { mode: 0o600 },
    );
    const host = await consoleSessionHost(commands);
    running = await runService({
      os: 'linux',
      host,
      config: hostAgentConfig({
        stateDir,
        ipcPath,
      }),
      agentVersion: '0.0.0-test',
      checks: [],
    });
    const assets = new AssetCache(new URL('ui/aup/', repo).pathname.replace(/\/$/, ''));
    pages = createServer((request, response) => {
      void assets.get((request.url ?? '/').slice(1)).then((asset) => {
        if (asset === null) {
          response.writeHead(404).end();
          return;
        }
        response.writeHead(200, { 'content-type': asset.contentType }).end(asset.body);
      });
    });
    await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
    pagesUrl = `http://127.0.0.1:${String((pages.address() as AddressInfo).port)}`;
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser.close();
    await new Promise<void>((resolve) => {
      pages.close(() => {
        resolve();
      });
    });
    await running.stop();
    await rm(home, { recursive: true, force: true });
  });

  async function openWindow(viewport = { width: 1280, height: 900 }): Promise<Page> {
    const context = await browser.newContext({ viewport, locale: 'en-GB' });
    const page = await context.newPage();
    await page.exposeFunction('__hallpassAupIpc', (request: Record<string, unknown>) => {
      return askProven(ipcPath, request);
    });
    await page.addInitScript(BRIDGE);
    await page.goto(`${pagesUrl}/aup.html`);
    await page.locator('#form:not([hidden])').waitFor({ timeout: 60_000 });
    return page;
  }

  async function axeViolations(page: Page): Promise<unknown[]> {
    await page.evaluate(axeSource);
    // The test's tsconfig has no DOM types: page-side code is passed as text.
    return page.evaluate<unknown[]>('axe.run().then((result) => result.violations)');
  }

  const activeId = async (page: Page): Promise<string> =>
    page.evaluate<string>('document.activeElement ? document.activeElement.id : ""');

  const aupEvents = async (): Promise<AgentEvent[]> =>
    (await readOutboxFolder(join(home, 'state', 'outbox'))).items
      .map((item) => item.payload as unknown as AgentEvent)
      .filter((event) => event.type === 'aup.accepted' || event.type === 'aup.declined');

  it('shows the pupil AUP with one checkbox and one read-aloud button per statement, axe-clean', async () => {
    const page = await openWindow();
    expect(await page.locator('h1').textContent()).toBe(pupilAup?.title);
    const statements = pupilAup?.statements ?? [];
    expect(await page.locator('#statements input[type=checkbox]').count()).toBe(statements.length);
    expect(await page.locator('#statements button.read-aloud').count()).toBe(statements.length);
    await page.getByRole('button', { name: /Listen to line 3/ }).click();
    expect(await page.evaluate('window.__spoken')).toEqual([statements[2]]);
    expect(await axeViolations(page)).toEqual([]);
    await page.context().close();
  });

  it('cannot be submitted incomplete: every statement and every asked detail', async () => {
    const page = await openWindow();
    const accept = page.getByRole('button', { name: 'I agree' });
    expect(await accept.isDisabled()).toBe(true);
    const boxes = page.locator('#statements input[type=checkbox]');
    const count = await boxes.count();
    for (let i = 0; i < count - 1; i++) {
      await boxes.nth(i).check();
    }
    await page.getByLabel('Your full name').fill('Jo Smith');
    await page.getByLabel('Your class or tutor group').fill('3B');
    await page.getByLabel('Name of your parent or carer').fill('Sam Smith');
    expect(await accept.isDisabled()).toBe(true);
    expect(await page.locator('#missing').textContent()).toContain('tick 1 more line');
    // Enter in a field submits the form; the window still sends nothing.
    await page.getByLabel('Your full name').press('Enter');
    await boxes.nth(count - 1).check();
    await page.getByLabel('Your class or tutor group').fill(' ');
    expect(await accept.isDisabled()).toBe(true);
    expect(await aupEvents()).toEqual([]);
    await page.context().close();
  });

  it('declining runs the pupil action (sign-out) on the console session, observed', async () => {
    const page = await openWindow();
    await page.getByRole('button', { name: 'I do not agree' }).click();
    await page.locator('#done:not([hidden])').waitFor();
    expect(await page.locator('#done').textContent()).toContain('signed out');
    expect(commands).toContain(`loginctl terminate-session ${CONSOLE_SESSION.id}`);
    const declined = (await aupEvents()).filter((e) => e.type === 'aup.declined');
    expect(declined.map((e) => e.data)).toEqual([
      expect.objectContaining({
        user: 'pupil.0042',
        documentId: 'pupil-aup',
        action: 'sign-out',
        actionError: null,
      }),
    ]);
    await page.context().close();
  });

  it('works at 200 % zoom and by keyboard alone; the service records the console user and the text hash; hostile text stays text', async () => {
    // 1280 × 800 at 200 %: 640 × 400 CSS pixels.
    const page = await openWindow({ width: 640, height: 400 });
    const overflow = await page.evaluate<number>(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await axeViolations(page)).toEqual([]);
    const count = pupilAup?.statements.length ?? 0;
    // Keyboard only: from the top, Tab to each checkbox (past its read-aloud button), Space.
    await page.locator('h1').focus();
    for (let i = 0; i < count; i++) {
      await page.keyboard.press('Tab');
      if (i === 0) {
        // The introduction's read-aloud button comes first.
        await page.keyboard.press('Tab');
      }
      expect(await activeId(page)).toBe(`statement-${String(i)}`);
      await page.keyboard.press('Space');
      await page.keyboard.press('Tab');
    }
    const hostile =
      '<img src=x onerror="window.__pwned=1">\u202eJo\u0007 Smith' + 'x'.repeat(10 * 1024);
    await page.keyboard.press('Tab');
    expect(await activeId(page)).toBe('full-name');
    await page.keyboard.insertText(hostile);
    await page.keyboard.press('Tab');
    await page.keyboard.insertText('3B</p><script>alert(1)</script>');
    await page.keyboard.press('Tab');
    await page.keyboard.insertText('Sam \u202eSmith');
    await page.keyboard.press('Tab');
    expect(await activeId(page)).toBe('accept');
    await page.keyboard.press('Enter');
    await page.locator('#done:not([hidden])').waitFor();
    const typed = hostile.slice(0, 200);
    expect(await page.locator('#done').textContent()).toBe(
      `Thank you, ${typed.trim()}. You can now use the computer.`,
    );
    expect(await page.locator('img, script:not([src])').count()).toBe(0);
    expect(await page.evaluate('window.__pwned')).toBe(undefined);
    const accepted = (await aupEvents()).filter((e) => e.type === 'aup.accepted');
    expect(accepted.map((e) => e.data)).toEqual([
      {
        user: 'pupil.0042',
        role: 'pupil',
        documentId: 'pupil-aup',
        kind: 'aup',
        version: pupilAup?.version,
        textSha256: pupilAup === undefined ? '' : aupTextSha256(pupilAup),
        acknowledged: Array.from({ length: count }, (_, i) => i),
        fullName: typed.trim(),
        tutorGroup: '3B</p><script>alert(1)</script>',
        parentCarer: 'Sam \u202eSmith',
      },
    ]);
    // Signed: a new window has nothing to ask.
    const again = await askProven(ipcPath, { channel: 'aup:pending' });
    expect(again).toMatchObject({ ok: true, aup: { user: 'pupil.0042', documents: [] } });
    await page.context().close();
  });
});
