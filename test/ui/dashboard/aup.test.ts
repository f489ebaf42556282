// The AUP register page in real Chromium over a real server fed by real signed device batches:
// progress, outstanding users and signatures of a school, CSV exports that hold exactly the rows
// and columns shown, a printable signed copy, by keyboard alone, without sideways scrolling at
// 320 px or 200 % zoom, axe-core clean, and hostile names shown as inert text.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  launchBrowser,
  signIn,
  startDashboard,
  watchForProblems,
  type Dashboard,
} from '../../helpers/browser.ts';
import { TestDevice } from '../../helpers/device-client.ts';
import {
  aupAccepted,
  aupDeclined,
  documentFor,
  idleLocked,
  type AupDoc,
} from '../../helpers/aup-sample.ts';

/** Markup, a bell, an ANSI escape and a right-to-left override, as a user name. */
const HOSTILE_USER = '<img src=x onerror=alert(1)>\u0007\u001b[2J\u202Egnp.exe';
/** Why a decline's action failed, as a device might say: markup and a formula. */
const HOSTILE_ERROR = '=1+1 <script>alert(3)</script>\u202Edegnahc';
/** A typed name a spreadsheet would run as a formula. */
const FORMULA_NAME = '=HYPERLINK("http://evil.example","Click")';
/** Stored by hand as an older agent might have: 10 kB, cut to 256 by the API. */
const HUGE_USER = 'W'.repeat(10_000);

const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Cells of a CSV (RFC 4180: quoted cells, doubled quotes, CRLF rows). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c === '"') {
      quoted = true;
    } else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else {
      cell += c;
    }
  }
  return rows;
}

describe('AUP register page (Chromium)', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let storageState: Awaited<ReturnType<BrowserContext['storageState']>>;
  let pupilAup: AupDoc;
  let staffAup: AupDoc;
  const device = new TestDevice();

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startDashboard(), launchBrowser()]);
    const { app, db, groupId } = dashboard.server;
    expect((await device.enrol(app, dashboard.server.token)).status).toBe(201);
    pupilAup = await documentFor(db, groupId, 'pupil');
    staffAup = await documentFor(db, groupId, 'staff');
    const now = Date.now();
    const ago = (minutes: number) => new Date(now - minutes * 60_000);
    const sent = await device.postBatch(
      app,
      [],
      [
        aupAccepted(pupilAup, {
          user: HOSTILE_USER,
          at: ago(50),
          fullName: FORMULA_NAME,
          tutorGroup: '<script>alert(2)</script>',
          parentCarer: '\u202Eenraeh\u202C carer',
        }),
        aupAccepted(staffAup, {
          user: 'teacher.t',
          at: ago(40),
          fullName: 'Tess Teacher',
          acknowledged: [0, 1],
        }),
        idleLocked('pupil.out', ago(30)),
        // An older agent's decline (no reason), and one the service applied with no tray.
        aupDeclined(pupilAup, { user: 'pupil.dec', at: ago(20), action: 'lock' }),
        aupDeclined(pupilAup, {
          user: 'pupil.notray',
          at: ago(15),
          action: 'sign-out',
          reason: 'no-tray',
          actionError: HOSTILE_ERROR,
        }),
        // And one applied because a tray was asked to show it and nobody answered in time.
        aupDeclined(pupilAup, {
          user: 'pupil.noanswer',
          at: ago(12),
          action: 'lock',
          reason: 'no-answer',
        }),
      ],
    );
    expect(sent.status).toBe(200);
    await db.query(
      `insert into aup_seen_users (school_id, user_key, user_name, last_seen_at, device_id, event_type)
       values ($1, lower($2), $2, $3, $4, 'idle.locked')`,
      [dashboard.server.schoolId, HUGE_USER, ago(10), device.id],
    );
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
    context = await browser.newContext({ storageState, acceptDownloads: true });
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

  async function open(path: string, on: Page = page): Promise<void> {
    await on.goto(dashboard.baseUrl + path);
    await on.locator('main:not([aria-busy])').waitFor();
  }

  async function axeViolations(on: Page = page): Promise<string[]> {
    await on.evaluate(await axeSource);
    return on.evaluate(
      'axe.run(document).then((r) => r.violations.map((v) => v.id + ": " + ' +
        'v.nodes.map((n) => n.target.join(" ")).join(", ")))',
    );
  }

  /** The page scrolls sideways when its content is wider than the viewport. */
  const sideways = (on: Page = page) =>
    on.evaluate('document.documentElement.scrollWidth > document.documentElement.clientWidth');

  /** A table's body rows as shown: each cell's text, or for a time its ISO date-time. */
  const shownRows = (selector: string): Promise<string[][]> =>
    page.evaluate(
      `[...document.querySelectorAll(${JSON.stringify(selector)} + ' tbody tr')].map((tr) =>
        [...tr.children].map((cell) => {
          const t = cell.querySelector('time');
          return t === null ? cell.innerText.trim() : t.getAttribute('datetime');
        }))`,
    );

  it('shows progress, outstanding users and signatures, with hostile text inert', async () => {
    await open('/aup');
    const pupilRow = page.locator(
      `#progress tr[data-document="${pupilAup.id}@${pupilAup.version}"]`,
    );
    expect(await pupilRow.locator('[data-field="signed"]').innerText()).toBe('1');
    // pupil.dec, pupil.noanswer and pupil.notray declined; pupil.out and the 10 kB user have no
    // known role.
    expect(await pupilRow.locator('[data-field="outstanding"]').innerText()).toBe('3');
    const outstanding = await page.locator('#outstanding tbody th').allInnerTexts();
    expect(outstanding).toEqual([
      'pupil.dec',
      'pupil.noanswer',
      'pupil.notray',
      'pupil.out',
      'W'.repeat(256),
    ]);
    // Why each declined, in words, and why an action failed as the device said it.
    const headers = await page.locator('#outstanding thead th').allInnerTexts();
    const cell = async (user: string, header: string) =>
      page
        .locator('#outstanding tbody tr')
        .filter({ has: page.locator('th', { hasText: user }) })
        .locator('th, td')
        .nth(headers.indexOf(header))
        .innerText();
    expect(await cell('pupil.dec', 'Why declined')).toBe('Declined (older agent: no reason given)');
    expect(await cell('pupil.notray', 'Why declined')).toBe('No Hallpass tray showed the window');
    expect(await cell('pupil.notray', 'Action failed')).toBe(HOSTILE_ERROR);
    expect(await cell('pupil.noanswer', 'Why declined')).toBe(
      'No answer in the window within the time allowed',
    );
    expect(await cell('pupil.out', 'Why declined')).toBe('');
    const signature = page.locator('#signatures tbody tr').filter({ hasText: 'gnp.exe' });
    expect(await signature.locator('th').innerText()).toBe(HOSTILE_USER);
    expect(await signature.locator('td').nth(0).innerText()).toBe(FORMULA_NAME);
    expect(await signature.locator('td').nth(7).innerText()).toBe('<script>alert(2)</script>');
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(await axeViolations()).toEqual([]);
    await page.screenshot({ path: '/tmp/hallpass-aup.png', fullPage: true });
  });

  it('exports exactly the rows and columns of each table as CSV', async () => {
    await open('/aup');
    for (const table of ['outstanding', 'signatures'] as const) {
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.locator(`#${table}-csv`).click(),
      ]);
      const csv = parseCsv(await readFile(await download.path(), 'utf8'));
      const headers = await page.locator(`#${table} thead th`).allInnerTexts();
      // The signatures table's last column is the link to the signed copy, not data.
      const columns = table === 'signatures' ? headers.length - 1 : headers.length;
      expect(csv[0]).toEqual(headers.slice(0, columns));
      const shown = (await shownRows(`#${table}`)).map((row) => row.slice(0, columns));
      // A cell a spreadsheet would run as a formula is exported with a leading apostrophe.
      const defused = shown.map((row) => row.map((c) => (/^[=+\-@]/.test(c) ? `'${c}` : c)));
      expect(csv.slice(1)).toEqual(defused);
      expect(shown.length).toBeGreaterThan(1);
    }
  });

  it('prints a signed copy: the text signed, each statement ticked, when and where', async () => {
    await open('/aup');
    const row = page.locator('#signatures tbody tr').filter({ hasText: 'teacher.t' });
    await row.getByRole('link', { name: /Signed copy/ }).click();
    await page.locator('#copy:not([hidden]) ol.statements').waitFor();
    expect(await page.locator('#copy h2').innerText()).toBe(staffAup.title);
    const statements = page.locator('#copy ol.statements li');
    expect(await statements.count()).toBe(staffAup.statements.length);
    expect(await statements.nth(0).innerText()).toBe(`☑ Ticked ${staffAup.statements[0] ?? ''}`);
    expect(await statements.nth(2).innerText()).toBe(
      `☐ Not ticked ${staffAup.statements[2] ?? ''}`,
    );
    const facts = await page.locator('#copy dl.facts').innerText();
    expect(facts).toContain('Tess Teacher');
    expect(facts).toContain(device.facts.hostname);
    expect(facts).toContain('hashes to the fingerprint the device recorded');
    expect(await axeViolations()).toEqual([]);
    await page.emulateMedia({ media: 'print' });
    expect(await page.locator('header.site').isVisible()).toBe(false);
    expect(await page.getByRole('button', { name: 'Print' }).isVisible()).toBe(false);
    expect(await page.locator('#copy ol.statements').isVisible()).toBe(true);
  });

  it('works by keyboard alone: choose a document, then open a signed copy', async () => {
    await open('/aup');
    const tabTo = async (selector: string) => {
      for (let presses = 0; presses < 200; presses++) {
        await page.keyboard.press('Tab');
        if (await page.evaluate(`document.activeElement.matches(${JSON.stringify(selector)})`)) {
          return;
        }
      }
      throw new Error(`Tab never reached ${selector}`);
    };
    await tabTo('#f-document');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await tabTo('#filters button[type="submit"]');
    await Promise.all([page.waitForURL(/document=/), page.keyboard.press('Enter')]);
    await page.locator('main:not([aria-busy])').waitFor();
    expect(new URL(page.url()).searchParams.get('document')).toBe(staffAup.id);
    expect(await page.locator('#signatures tbody th').allInnerTexts()).toEqual(['teacher.t']);
    await tabTo('#signatures a[href^="/aup?signature="]');
    await Promise.all([page.waitForURL(/signature=/), page.keyboard.press('Enter')]);
    await page.locator('#copy:not([hidden])').waitFor();
    await tabTo('#copy button');
    expect(await page.evaluate('document.activeElement.textContent')).toBe('Print');
  });

  it('never scrolls sideways at 320 px wide or at 200 % zoom', async () => {
    await page.setViewportSize({ width: 320, height: 640 });
    await open('/aup');
    expect(await sideways()).toBe(false);
    const firstCopy = await page
      .locator('#signatures a[href^="/aup?signature="]')
      .first()
      .getAttribute('href');
    await open(firstCopy ?? '/aup');
    expect(await sideways()).toBe(false);
    // 200 % zoom of a 1280 px window: 640 CSS pixels across, two device pixels each.
    const zoomed = await browser.newContext({
      storageState,
      viewport: { width: 640, height: 400 },
      deviceScaleFactor: 2,
    });
    const big = await zoomed.newPage();
    const bigProblems = watchForProblems(big);
    await open('/aup', big);
    expect(await sideways(big)).toBe(false);
    expect(await axeViolations(big)).toEqual([]);
    await zoomed.close();
    expect(bigProblems).toEqual([]);
  });
});
