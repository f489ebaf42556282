// The subject access page in real Chromium over a real server fed by signed device batches: an
// admin types a name, by keyboard alone, and downloads the server's own export of it (signatures
// from two devices, a decline, events), which the audit log then records; a long history comes in
// parts; other names with the same account are offered, never exported; a name no device could
// record is refused in words; a viewer is told to ask an admin. axe-core finds nothing, with the
// page empty and after an export.
import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PersonExport } from '../../../shared/index.ts';
import { createUser } from '../../../server/store/users.ts';
import {
  launchBrowser,
  openSignedIn,
  sessionState,
  startDashboard,
  type Dashboard,
  type SessionState,
} from '../../helpers/browser.ts';
import { aupAccepted, aupDeclined, documentFor, idleLocked } from '../../helpers/aup-sample.ts';
import { TestDevice } from '../../helpers/device-client.ts';
import {
  axeViolations,
  checkPageQuality,
  PASSING,
  walkWithKeyboard,
} from '../../helpers/page-quality.ts';
import { usbBlockedEvent } from '../../helpers/usb-sample.ts';

const VIEWER = { username: 'ict.viewer', password: 'correct horse battery staple' };

describe('subject access page (Chromium)', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let adminState: SessionState;
  let viewerState: SessionState;
  const laptop = new TestDevice();
  const desktop = new TestDevice();

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startDashboard(), launchBrowser()]);
    const { server } = dashboard;
    await createUser(server.db, { ...VIEWER, role: 'viewer' });
    for (const device of [laptop, desktop]) {
      expect((await device.enrol(server.app, server.token)).status).toBe(201);
    }
    const pupilAup = await documentFor(server.db, server.groupId, 'pupil');
    const at = (minutes: number) => new Date(Date.UTC(2026, 9, 5, 9, minutes));
    const sent = [
      await laptop.postBatch(
        server.app,
        [],
        [
          aupDeclined(pupilAup, { user: 'NORTHGATE\\JSmith', action: 'lock', at: at(0) }),
          aupAccepted(pupilAup, {
            user: 'NORTHGATE\\JSmith',
            fullName: '<b>Jo</b> Smith',
            at: at(1),
          }),
          usbBlockedEvent({ serial: 'S1' }, { user: 'northgate\\jsmith' }),
        ],
      ),
      await desktop.postBatch(
        server.app,
        [],
        [
          aupAccepted(pupilAup, { user: 'northgate\\JSMITH', at: at(2) }),
          idleLocked('jsmith@northgate.org'),
          idleLocked('NORTHGATE\\JSmith2'),
        ],
      ),
    ];
    expect(sent.map((r) => r.status)).toEqual([200, 200]);
    // A busy account: more events than one part holds, written as ingest would.
    await server.db.query(
      `with made as (
         insert into events (id, device_id, type, occurred_at, received_at, data)
         select gen_random_uuid(), $1, 'idle.locked', now() - make_interval(mins => n), now(),
                jsonb_build_object('user', 'busy.teacher', 'idleSeconds', 300)
           from generate_series(1, 20005) as n
         returning id, occurred_at
       )
       insert into person_events (user_key, occurred_at, event_id)
       select 'busy.teacher', occurred_at, id from made`,
      [desktop.id],
    );
    [adminState, viewerState] = await Promise.all([
      sessionState(browser, dashboard),
      sessionState(browser, dashboard, VIEWER),
    ]);
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

  async function openAs(state: SessionState): Promise<void> {
    ({ context, page, problems } = await openSignedIn(browser, dashboard, state, '/people'));
  }
  /** Runs `start` and returns the file it downloaded, by name and parsed. */
  async function downloaded(start: () => Promise<void>): Promise<[string, PersonExport]> {
    const [download] = await Promise.all([page.waitForEvent('download'), start()]);
    const text = await readFile(await download.path(), 'utf8');
    return [download.suggestedFilename(), JSON.parse(text) as PersonExport];
  }
  const auditTargets = async () =>
    (
      await dashboard.server.db.query<{ target_id: string; actor: string }>(
        "select target_id, actor from audit_log where action = 'person.export' order by id",
      )
    ).map((row) => `${row.actor}: ${row.target_id}`);

  it('an admin, by keyboard alone, downloads everything held about one user, and it is audited', async () => {
    await openAs(adminState);
    // Tab reaches the name field and the button from the top of the page.
    const walk = await walkWithKeyboard(page);
    expect(walk.reached).toEqual(expect.arrayContaining(['input#p-user', 'button#export-button']));
    // From the top again, Tab by Tab to the name field (the skip link and menu come first).
    await page.reload();
    await page.locator('main:not([aria-busy])').waitFor();
    const focusedId = () =>
      page.evaluate(
        () =>
          (globalThis as unknown as { document: { activeElement: { id: string } | null } }).document
            .activeElement?.id ?? '',
      );
    for (let stops = 0; stops < 40 && (await focusedId()) !== 'p-user'; stops++) {
      await page.keyboard.press('Tab');
    }
    expect(await focusedId()).toBe('p-user');
    await page.keyboard.type('  Northgate\\JSmith ');
    const [name, found] = await downloaded(() => page.keyboard.press('Enter'));
    expect(name).toBe('hallpass-subject-access-northgate-jsmith.json');
    expect(found.user).toBe('Northgate\\JSmith');
    expect(found.aup.items.map((a) => [a.outcome, a.deviceId])).toEqual([
      ['declined', laptop.id],
      ['accepted', laptop.id],
      ['accepted', desktop.id],
    ]);
    expect(found.aup.items[1]?.fullName).toBe('<b>Jo</b> Smith');
    expect(found.events.items.map((e) => e.type).sort()).toEqual([
      'aup.accepted',
      'aup.accepted',
      'aup.declined',
      'usb.blocked',
    ]);
    expect(JSON.stringify(found)).not.toContain('JSmith2');
    const status = page.locator('#export-status');
    expect(await status.innerText()).toBe(
      'Downloaded the export for “Northgate\\JSmith”: 3 AUP signatures and declines, 4 events, seen at 1 school.',
    );
    expect(await auditTargets()).toEqual(['ict.admin: northgate\\jsmith']);

    // The other form of the name is offered, not exported; choosing it fills the field.
    const related = page.locator('#related');
    await related.waitFor();
    expect(await page.locator('#related-list').innerText()).toContain('jsmith@northgate.org');
    await page.getByRole('button', { name: 'Use “jsmith@northgate.org”' }).click();
    expect(await page.getByLabel('User name, as devices record it').inputValue()).toBe(
      'jsmith@northgate.org',
    );
    expect(await auditTargets()).toHaveLength(1);
    // With the summary and the other names drawn; then the whole bar on the page as it opens.
    expect(await axeViolations(page)).toEqual([]);
    const report = await checkPageQuality(page, page.url(), async (shown) => {
      await shown.locator('main:not([aria-busy])').waitFor();
    });
    expect(report).toEqual(PASSING);
  });

  it('a long history downloads in parts that together hold every event', async () => {
    await openAs(adminState);
    await page.getByLabel('User name, as devices record it').fill('busy.teacher');
    const [first, part1] = await downloaded(() =>
      page.getByRole('button', { name: 'Download export' }).click(),
    );
    expect(first).toBe('hallpass-subject-access-busy.teacher.json');
    expect(part1.events).toMatchObject({ total: 20_005, truncated: true });
    expect(await page.locator('#export-status').innerText()).toContain(
      'This part holds 20,000 events of the 20,005 from its start: download the next part for the rest.',
    );
    const [second, part2] = await downloaded(() =>
      page.getByRole('button', { name: 'Download the next part' }).click(),
    );
    expect(second).toBe('hallpass-subject-access-busy.teacher-part2.json');
    expect(part2.events).toMatchObject({ truncated: false, from: part1.events.nextFrom });
    const ids = new Set([...part1.events.items, ...part2.events.items].map((e) => e.id));
    expect(ids.size).toBe(20_005);
    expect(await page.locator('#next-part').isHidden()).toBe(true);
  });

  it('refuses a name no device could record, in words, and exports nothing', async () => {
    await openAs(adminState);
    const before = await auditTargets();
    await page.getByLabel('User name, as devices record it').fill('jsmith\u0007');
    await page.getByRole('button', { name: 'Download export' }).click();
    const error = page.getByRole('alert');
    await error.waitFor();
    expect(await error.innerText()).toBe(
      'The export could not be made. A user name has no control characters (no device records one with them).',
    );
    await page.getByLabel('User name, as devices record it').fill('   ');
    await page.getByRole('button', { name: 'Download export' }).click();
    expect(await error.innerText()).toBe('Type the user name to export.');
    expect(await auditTargets()).toEqual(before);
  });

  it('a viewer is told only an admin can export, and gets no form', async () => {
    await openAs(viewerState);
    expect(await page.locator('main').innerText()).toContain(
      'Only admins can export personal data. Ask an admin of the trust to make the export.',
    );
    expect(await page.locator('#p-user').count()).toBe(0);
    const report = await checkPageQuality(page, page.url(), async (shown) => {
      await shown.locator('main:not([aria-busy])').waitFor();
    });
    expect(report).toEqual(PASSING);
  });
});
