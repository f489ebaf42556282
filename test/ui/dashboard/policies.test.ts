// Policies per device group in real Chromium over a real server: an admin edits the YAML in the
// browser; a typo'd key is named on its line and publishing is not offered; a valid edit shows its
// diff, publishing (after a question) makes a new version that an enrolled device then fetches;
// the history lists every version and a rollback restores an old one as a new version. A viewer
// reads everything and can change nothing, and markup in a policy shows as text.
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Policy } from '../../../shared/index.ts';
import { currentPolicy, uploadPolicy } from '../../../server/store/policies.ts';
import { createUser } from '../../../server/store/users.ts';
import { ensureDeviceGroup } from '../../../server/store/organisation.ts';
import { policyYaml } from '../../../server/policy-text.ts';
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
/** Markup in a policy's name and strings: it must show as text and never run. */
const HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">Staff';
const HOSTILE_STATEMENT = '<script>window.__pwned=2</script><b>bold</b>';

/** A table row in the page (the test tree is type-checked without the DOM library). */
interface RowElement {
  querySelectorAll(selector: string): Iterable<{ textContent: string | null }>;
}

/** The trimmed text of each row's cells matching `cells`. */
const cellTexts = (rows: Locator, cells: string): Promise<string[][]> =>
  rows.evaluateAll(
    (all, selector) =>
      all.map((row) =>
        [...(row as unknown as RowElement).querySelectorAll(selector)].map((cell) =>
          (cell.textContent ?? '').trim(),
        ),
      ),
    cells,
  );

describe('device group policies (Chromium)', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let adminState: SessionState;
  let viewerState: SessionState;
  const device = new TestDevice();

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startDashboard(), launchBrowser()]);
    await createUser(dashboard.server.db, { ...VIEWER, role: 'viewer' });
    expect((await device.enrol(dashboard.server.app, dashboard.server.token)).status).toBe(201);
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

  const groupUrl = () => `/policies/${dashboard.server.groupId}`;
  const editor = () => page.getByLabel('Policy (YAML)');
  const inForceVersion = async () =>
    (await currentPolicy(dashboard.server.db, dashboard.server.groupId))?.version ?? 0;
  /** What the enrolled device gets from the device API now. */
  const devicePolicy = async () => {
    const got = await device.signed(dashboard.server.app, 'GET', '/api/v1/policy');
    expect(got.status).toBe(200);
    return got.json() as Policy;
  };

  async function openAs(state: typeof adminState, path: string): Promise<void> {
    ({ context, page, problems } = await openSignedIn(browser, dashboard, state, path));
  }

  /** Replaces `from` with `to` in the editor, as typing would (an input event fires). */
  async function edit(from: string, to: string): Promise<string> {
    const text = await editor().inputValue();
    expect(text).toContain(from);
    const changed = text.replace(from, to);
    await editor().fill(changed);
    return changed;
  }

  const checkChanges = async () => {
    await page.getByRole('button', { name: 'Check the changes' }).click();
    await page.locator('#check-heading').waitFor();
  };
  const diffRows = () =>
    cellTexts(page.locator('#check-result tr.diff-added, #check-result tr.diff-removed'), 'td');

  it("a typo'd key is named on its line, and publishing is not offered", async () => {
    await openAs(adminState, '/policies');
    const row = page.locator('#groups tbody tr', { hasText: 'Pupil laptops' });
    expect(await row.innerText()).toMatch(/Version 1[\s\S]*Server command line/);
    await Promise.all([
      page.waitForURL(`${dashboard.baseUrl}${groupUrl()}`),
      row.getByRole('link', { name: 'Pupil laptops' }).click(),
    ]);
    await page.locator('main:not([aria-busy])').waitFor();
    expect(await page.locator('h1').innerText()).toBe('Policy of Pupil laptops');
    const before = await inForceVersion();

    // Pre-filled with the version in force as YAML.
    expect((await editor().inputValue()).split('\n').slice(0, 3)).toEqual([
      'schemaVersion: 1',
      'name: Pupil laptops',
      `version: ${String(before)}`,
    ]);
    const text = await edit('  screenLock:\n', '  screenLok:\n');
    const line = text.split('\n').indexOf('  screenLok:') + 1;
    await checkChanges();
    const result = page.locator('#check-result');
    expect(await page.locator('#check-heading').innerText()).toMatch(/problems? to fix/);
    const list = await page.locator('#problems li').allInnerTexts();
    expect(list).toContainEqual(
      expect.stringContaining(`Line ${String(line)}: /checks/screenLok: unknown key`),
    );
    expect(await editor().getAttribute('aria-invalid')).toBe('true');
    expect(await editor().getAttribute('aria-describedby')).toContain('problems');
    expect(await result.getByRole('button', { name: /Publish/ }).count()).toBe(0);
    await page.screenshot({ path: '/tmp/hallpass-policy-typo.png', fullPage: true });

    // "Go to line" puts the cursor on that line of the editor.
    await result.getByRole('button', { name: `Go to line ${String(line)}` }).click();
    const selected = await editor().evaluate((area) => {
      const box = area as unknown as {
        value: string;
        selectionStart: number;
        selectionEnd: number;
      };
      return box.value.slice(box.selectionStart, box.selectionEnd);
    });
    expect(selected).toBe('  screenLok:');
    expect(await inForceVersion()).toBe(before);
  });

  it('a valid edit shows its diff; publishing asks first, then devices get the new version', async () => {
    await openAs(adminState, groupUrl());
    const before = await inForceVersion();
    await edit('maxIdleMinutes: 10', 'maxIdleMinutes: 5');
    await checkChanges();
    expect(await page.locator('#check-heading').innerText()).toBe(
      `The policy is valid: it can be published as version ${String(before + 1)}`,
    );
    expect(await diffRows()).toEqual([
      ['− Removed', '3', '', `version: ${String(before)}`],
      ['+ Added', '', '3', `version: ${String(before + 1)}`],
      ['− Removed', expect.any(String), '', 'maxIdleMinutes: 10'],
      ['+ Added', '', expect.any(String), 'maxIdleMinutes: 5'],
    ]);
    // The change is said in words, not colour alone.
    expect(await page.locator('#check-result table caption').innerText()).toContain(
      `Changes from version ${String(before)} (in force) to the new version ${String(before + 1)}`,
    );
    await page.screenshot({ path: '/tmp/hallpass-policy-diff.png', fullPage: true });

    // A check belongs to the text it checked: typing again withdraws the publish button.
    await editor().press('End');
    await editor().pressSequentially(' ');
    expect(await page.locator('#check-result').innerText()).toContain('check it again');
    expect(await page.getByRole('button', { name: /^Publish/ }).count()).toBe(0);
    await checkChanges();

    await page.getByRole('button', { name: `Publish as version ${String(before + 1)}…` }).click();
    const question = page.getByRole('group', { name: `Publish version ${String(before + 1)}?` });
    expect(await question.innerText()).toContain(
      `Publish version ${String(before + 1)} to the 1 device of Pupil laptops?`,
    );
    await question.getByRole('button', { name: 'Cancel' }).click();
    expect(await inForceVersion()).toBe(before);

    await page.getByRole('button', { name: `Publish as version ${String(before + 1)}…` }).click();
    await page.getByRole('button', { name: `Yes, publish version ${String(before + 1)}` }).click();
    await page.getByText(`Version ${String(before + 1)} published.`).waitFor();
    expect(await page.locator('#in-force-version').innerText()).toBe(String(before + 1));
    expect(await page.locator('#in-force').innerText()).toContain(dashboard.admin.username);
    expect(await inForceVersion()).toBe(before + 1);
    // The editor starts again from the new version in force.
    expect(await editor().inputValue()).toContain(`version: ${String(before + 1)}`);

    const got = await devicePolicy();
    expect(got.version).toBe(before + 1);
    expect(got.checks.screenLock.maxIdleMinutes).toBe(5);
  });

  it('someone else publishing first: the stale publish is refused and said so', async () => {
    await openAs(adminState, groupUrl());
    const before = await inForceVersion();
    await edit('maxSignatureAgeDays: 3', 'maxSignatureAgeDays: 2');
    await checkChanges();
    // Meanwhile, another admin publishes.
    const { db, groupId } = dashboard.server;
    const current = await currentPolicy(db, groupId);
    await db.transaction((tx) =>
      uploadPolicy(tx, {
        groupId,
        policy: { ...(current?.document as Policy), name: 'Published elsewhere' },
        uploadedBy: null,
      }),
    );
    await page.getByRole('button', { name: /^Publish as version/ }).click();
    await page.getByRole('button', { name: /^Yes, publish version/ }).click();
    await page.getByText(`Not published: Version ${String(before + 1)} is now in force`).waitFor();
    expect(await inForceVersion()).toBe(before + 1);
    expect((await devicePolicy()).name).toBe('Published elsewhere');
    // The edit is kept, to check again against the new version.
    expect(await editor().inputValue()).toContain('maxSignatureAgeDays: 2');
  });

  it("two admins writing a new group's first policy: the second publish is refused and said so", async () => {
    const { db } = dashboard.server;
    const group = await ensureDeviceGroup(db, 'Library PCs');
    const current = await currentPolicy(db, dashboard.server.groupId);
    const document = { ...(current?.document as Policy), name: 'Library PCs' };
    await openAs(adminState, `/policies/${group.id}`);
    await page.getByText('No policy has been published for Library PCs yet.').waitFor();
    await editor().fill(policyYaml(document));
    await checkChanges();
    // Meanwhile, another admin publishes a first version.
    await db.transaction((tx) =>
      uploadPolicy(tx, {
        groupId: group.id,
        policy: { ...document, name: 'Published elsewhere' },
        uploadedBy: null,
      }),
    );
    await page.getByRole('button', { name: /^Publish as version 1/ }).click();
    await page.getByRole('button', { name: /^Yes, publish version 1/ }).click();
    await page.getByText('Not published: Version 1 is now in force').waitFor();
    const stored = await currentPolicy(db, group.id);
    expect(stored).toMatchObject({ version: 1, document: { name: 'Published elsewhere' } });
  });

  it('the history lists every version; rolling back asks first and restores the old one', async () => {
    await openAs(adminState, groupUrl());
    const before = await inForceVersion();
    const rows = page.locator('#history tbody tr');
    expect(await rows.count()).toBe(before);
    expect(await rows.first().innerText()).toContain('In force');
    const cells = (await cellTexts(rows, 'th, td')).map((row) => row.slice(0, 3));
    expect(cells.map((c) => c[0])).toEqual(
      Array.from({ length: before }, (_, i) => `Version ${String(before - i)}`),
    );
    expect(cells.at(-1)?.[2]).toBe('Server command line');
    expect(cells.map((c) => c[2])).toContain(dashboard.admin.username);

    // Version 1 had a 10-minute screen lock; the one in force has 5.
    await page.getByRole('button', { name: 'View version 1', exact: true }).click();
    await page.locator('#version-heading:focus').waitFor();
    expect(await page.locator('#version-heading').innerText()).toBe('Version 1');
    const versionRows = await page
      .locator('#version tr.diff-added, #version tr.diff-removed')
      .allInnerTexts();
    expect(versionRows.join('\n')).toMatch(/Removed[\s\S]*maxIdleMinutes: 5/);
    expect(versionRows.join('\n')).toMatch(/Added[\s\S]*maxIdleMinutes: 10/);
    expect(await page.locator('#version details pre').textContent()).toContain(
      'name: Pupil laptops',
    );

    await page.getByRole('button', { name: 'Roll back to version 1…' }).click();
    const question = page.getByRole('group', { name: 'Roll back to version 1?' });
    expect(await question.innerText()).toContain(
      `Its policy is published again as version ${String(before + 1)}`,
    );
    await page.screenshot({ path: '/tmp/hallpass-policy-rollback.png', fullPage: true });
    await question.getByRole('button', { name: 'Cancel' }).click();
    expect(await inForceVersion()).toBe(before);

    await page.getByRole('button', { name: 'Roll back to version 1…' }).click();
    await page.keyboard.press('Enter');
    await page
      .getByText(`Version ${String(before + 1)} published: it restores version 1.`)
      .waitFor();
    expect(await rows.first().innerText()).toMatch(/In force\. Restores version 1/);
    expect(await page.locator('#in-force').innerText()).toContain('Restores version 1');
    const got = await devicePolicy();
    expect(got).toMatchObject({ version: before + 1, name: 'Pupil laptops' });
    expect(got.checks.screenLock.maxIdleMinutes).toBe(10);
    const audit = await dashboard.server.db.query<{ action: string; after: unknown }>(
      'select action, after from audit_log order by id desc limit 1',
    );
    expect(audit[0]).toMatchObject({
      action: 'policy.rollback',
      after: { version: before + 1, restoredFrom: 1 },
    });

    // At 320 px the editor, the history and the diff reflow; only tables scroll in their region.
    await page.getByRole('button', { name: 'View version 2', exact: true }).click();
    await page.locator('#version-heading:focus').waitFor();
    await page.setViewportSize({ width: 320, height: 640 });
    await page.screenshot({ path: '/tmp/hallpass-policy-320.png', fullPage: true });
    expect(await pageOverflowX(page)).toBe(0);
  });

  it('markup in a policy name, a string and a group name shows as text and never runs', async () => {
    const { db, groupId } = dashboard.server;
    const current = await currentPolicy(db, groupId);
    const document = current?.document as Policy;
    const [first] = document.aup.documents;
    await db.transaction((tx) =>
      uploadPolicy(tx, {
        groupId,
        policy: {
          ...document,
          name: HOSTILE_NAME,
          aup: {
            ...document.aup,
            documents:
              first === undefined
                ? []
                : [{ ...first, statements: [HOSTILE_STATEMENT, ...first.statements.slice(1)] }],
          },
        },
        uploadedBy: null,
      }),
    );
    await db.query('insert into device_groups (name) values ($1)', ['<b>Staff</b> laptops']);

    await openAs(adminState, '/policies');
    expect(await page.locator('#groups').innerText()).toContain(HOSTILE_NAME);
    expect(await page.locator('#groups').innerText()).toContain('<b>Staff</b> laptops');
    expect(await page.locator('main img, main b, main script').count()).toBe(0);

    await page.goto(dashboard.baseUrl + groupUrl());
    await page.locator('main:not([aria-busy])').waitFor();
    expect(await page.locator('#in-force').innerText()).toContain(HOSTILE_NAME);
    expect(await editor().inputValue()).toContain(HOSTILE_STATEMENT);
    // Edited in the page, the diff shows the markup as text too.
    await edit('bold</b>', 'bolder</b>');
    await checkChanges();
    expect((await diffRows()).flat().join('\n')).toContain('bolder</b>');
    await page
      .getByRole('button', { name: /^View version/ })
      .nth(1)
      .click();
    await page.locator('#version-heading:focus').waitFor();
    expect(await page.locator('#version').textContent()).toContain(HOSTILE_STATEMENT);
    expect(await page.locator('main img, main b, main script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).toBe(
      undefined,
    );
  });

  it('a viewer reads the policy and its history with no control that changes them; the server refuses them', async () => {
    await openAs(viewerState, groupUrl());
    expect(await page.locator('#viewer-note').isVisible()).toBe(true);
    expect(await page.locator('main textarea, main form').count()).toBe(0);
    expect(await page.locator('#yaml-in-force pre').textContent()).toContain('schemaVersion: 1');
    const versions = await page.locator('#history tbody tr').count();
    // Every button on the page opens a version: nothing else is offered.
    expect(await page.locator('main button').allInnerTexts()).toEqual(
      Array.from({ length: versions }, () => expect.stringMatching(/^View/) as unknown),
    );
    await page.getByRole('button', { name: 'View version 1', exact: true }).click();
    await page.locator('#version-heading:focus').waitFor();
    expect(await page.locator('#version h3').innerText()).toBe(
      'How it differs from the version in force',
    );
    expect(await page.locator('#version tr.diff-added').count()).toBeGreaterThan(0);
    expect(await page.getByRole('button', { name: /Roll back|Publish|Edit/ }).count()).toBe(0);
    await page.screenshot({ path: '/tmp/hallpass-policy-viewer.png', fullPage: true });

    const before = await inForceVersion();
    const statuses = await page.evaluate(async (groupId) => {
      const session = (await (await fetch('/api/v1/ict/session')).json()) as { csrfToken: string };
      const headers = { 'x-csrf-token': session.csrfToken };
      const put = await fetch(`/api/v1/ict/groups/${groupId}/policy`, {
        method: 'PUT',
        headers: { ...headers, 'content-type': 'application/yaml' },
        body: 'name: x\n',
      });
      const rollback = await fetch(`/api/v1/ict/groups/${groupId}/policy/rollback`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ version: 1 }),
      });
      return [put.status, rollback.status];
    }, dashboard.server.groupId);
    expect(statuses).toEqual([403, 403]);
    expect(await inForceVersion()).toBe(before);
    // Two refused requests log "Failed to load resource", which is not a page problem.
  });
});
