// The overview, device list and device detail pages, in real Chromium, over a fleet of real
// enrolled devices that sent real signed reports (see seed.ts).
import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CheckId } from '../../../shared/index.ts';
import { takeDailySnapshot } from '../../../server/store/compliance-snapshots.ts';
import {
  launchBrowser,
  signIn,
  startDashboard,
  watchForProblems,
  type Dashboard,
} from '../../helpers/browser.ts';
import { pdfToText } from '../../helpers/pdf.ts';
import {
  FLEET,
  HOSTILE_HOSTNAME,
  HOSTILE_SUMMARY,
  countStatuses,
  seedFleet,
  type Seeded,
} from './seed.ts';

const STATUS_ORDER = ['pass', 'fail', 'warn', 'unknown', 'none'] as const;

/** A rate as the overview shows it: one decimal, en-GB, or a dash without devices. */
const rate = (part: number, whole: number) =>
  whole === 0 ? '–' : `${(Math.round((1000 * part) / whole) / 10).toLocaleString('en-GB')} %`;

describe('dashboard pages (Chromium)', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];
  let fleet: Seeded;
  let storageState: Awaited<ReturnType<BrowserContext['storageState']>>;

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startDashboard(), launchBrowser()]);
    fleet = await seedFleet(dashboard);
    // Sign in once; every test starts a fresh context with this session cookie.
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
    // An alert() would mean device data ran as script.
    page.on('dialog', (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
  });
  afterEach(async () => {
    await context.close();
    expect(problems).toEqual([]);
  });

  const url = (path: string) => dashboard.baseUrl + path;

  /** Opens a page and waits until its script has loaded the data. */
  async function open(path: string): Promise<void> {
    await page.goto(url(path));
    await page.locator('main:not([aria-busy])').waitFor();
  }

  /** Trimmed text of every element a selector matches. */
  const texts = async (selector: string) =>
    (await page.locator(selector).allTextContents()).map((text) => text.trim());

  /** Text of each cell of each body row of a table. */
  const rows = async (selector: string) =>
    Promise.all(
      (await page.locator(`${selector} tbody tr`).all()).map(async (tr) =>
        (await tr.locator(':scope > th, :scope > td').allTextContents()).map((t) => t.trim()),
      ),
    );

  /** Hostnames in the device list, in page order. */
  const listed = () => texts('#results tbody tr th a');

  const hostnames = (filter: (spec: (typeof FLEET)[number]) => boolean) =>
    FLEET.filter(filter)
      .map((spec) => spec.hostname)
      .sort();

  describe('overview', () => {
    it('shows the counts the devices reported: overall, stale, per check, per school', async () => {
      await open('/');
      const total = (key: string) =>
        page.locator(`ul.totals li[data-key="${key}"] .big`).innerText();
      expect(await total('devices')).toBe(String(FLEET.length));
      const overall = countStatuses(fleet.devices.map((d) => d.overall));
      for (const status of STATUS_ORDER) {
        expect(await total(status), status).toBe(String(overall[status]));
      }
      // Silent for over 7 days: the one that stopped 10 days ago and the one that never reported.
      expect(await total('stale')).toBe('2');

      const checkIds = [
        ...new Set(FLEET.flatMap((s) => s.reports.flatMap((r) => Object.keys(r.checks)))),
      ];
      const byCheck = await rows('#by-check');
      expect(byCheck.map((r) => r[0])).toEqual(['Anti-virus', 'Disk encryption', 'OS updates']);
      for (const checkId of checkIds as CheckId[]) {
        const counts = countStatuses(fleet.devices.map((d) => d.checks[checkId] ?? null));
        const row = await texts(`#by-check tr[data-key="${checkId}"] td`);
        expect(row, checkId).toEqual([
          rate(counts.pass, FLEET.length),
          ...STATUS_ORDER.map((s) => String(counts[s])),
          String(FLEET.length),
        ]);
      }

      for (const school of [fleet.schools.northgate, fleet.schools.riverside]) {
        const counts = countStatuses(
          fleet.devices.filter((d) => d.schoolId === school.id).map((d) => d.overall),
        );
        const row = await texts(`#by-school tr[data-key="${school.id}"] > *`);
        const total = STATUS_ORDER.reduce((sum, s) => sum + counts[s], 0);
        expect(row, school.name).toEqual([
          school.name,
          rate(counts.pass, total),
          ...STATUS_ORDER.map((s) => String(counts[s])),
          // Stale: ng-lt-005 (never reported, enrolled 20 days ago) and rv-st-002 (10 days).
          '1',
          String(total),
        ]);
      }
      // Worst first; at equal rates (both 50 %) the school with more failing devices first.
      expect(await texts('#by-school tbody th')).toEqual([
        'Northgate Primary',
        'Riverside Academy',
      ]);
      expect(await page.locator('#by-school th[aria-sort="ascending"]').innerText()).toContain(
        '% compliant',
      );
      // Per device group, with the same rates.
      expect(await texts('#by-group tbody th')).toEqual(['Pupil laptops', 'Staff laptops']);
      // Tables are described for screen readers.
      expect(await page.locator('#by-check caption').innerText()).toContain('each check');
      expect(await page.locator('#by-check th[scope="col"]').count()).toBe(8);
      await page.screenshot({ path: '/tmp/hallpass-overview.png', fullPage: true });
    });

    it('links each count to the device list filtered to exactly those devices', async () => {
      await open('/');
      await page.getByRole('link', { name: '1 device: Disk encryption, Fail' }).click();
      await page.waitForURL(url('/devices?checkId=disk-encryption&status=fail'));
      await page.locator('main:not([aria-busy])').waitFor();
      expect(await listed()).toEqual(['ng-lt-002']);

      await open('/');
      await page.locator('ul.totals li[data-key="stale"] a').click();
      await page.waitForURL(url('/devices?silentDays=7'));
      await page.locator('main:not([aria-busy])').waitFor();
      expect((await listed()).sort()).toEqual(['ng-lt-005', 'rv-st-002']);

      await open('/');
      const riverside = fleet.schools.riverside.id;
      await page.locator(`#by-school tr[data-key="${riverside}"] td[data-status="warn"] a`).click();
      await page.waitForURL(url(`/devices?schoolId=${riverside}&status=warn`));
      await page.locator('main:not([aria-busy])').waitFor();
      expect(await listed()).toEqual(['rv-st-001']);
    });
  });

  describe('rates, ranking and trend', () => {
    it('sorts the school table by any column from the keyboard', async () => {
      await open('/');
      const header = (label: string) =>
        page.locator('#by-school thead button', { hasText: new RegExp(`^${label}$`) });
      await header('School').focus();
      await page.keyboard.press('Enter');
      expect(await texts('#by-school tbody th')).toEqual([
        'Northgate Primary',
        'Riverside Academy',
      ]);
      await page.keyboard.press('Enter');
      expect(await texts('#by-school tbody th')).toEqual([
        'Riverside Academy',
        'Northgate Primary',
      ]);
      expect(await page.locator('#by-school th[aria-sort="descending"]').innerText()).toContain(
        'School',
      );
      await header('Total').click();
      expect(await texts('#by-school tbody th')).toEqual([
        'Riverside Academy',
        'Northgate Primary',
      ]);
      expect(await page.locator('#by-school caption').innerText()).toMatch(
        /sorted by Total, ascending$/,
      );
    });

    it('links each rate and stale count to the devices behind it', async () => {
      await open('/');
      const riverside = fleet.schools.riverside.id;
      await page.locator(`#by-school tr[data-key="${riverside}"] td[data-status="rate"] a`).click();
      await page.waitForURL(url(`/devices?schoolId=${riverside}&status=pass`));
      await page.locator('main:not([aria-busy])').waitFor();
      expect(await listed()).toEqual(['rv-st-002']);

      await open('/');
      await page
        .locator(`#by-school tr[data-key="${riverside}"] td[data-status="stale"] a`)
        .click();
      await page.waitForURL(url(`/devices?schoolId=${riverside}&silentDays=7`));
      await page.locator('main:not([aria-busy])').waitFor();
      expect(await listed()).toEqual(['rv-st-002']);
    });

    it('draws the trust trend with uPlot and the same figures as a table', async () => {
      await open('/');
      expect(await page.locator('#trend').innerText()).toContain('No daily figures yet');
      const yesterday = new Date(Date.now() - 86_400_000);
      await takeDailySnapshot(dashboard.server.db, yesterday);
      await takeDailySnapshot(dashboard.server.db, new Date());
      await open('/');
      expect(await page.locator('#trend .trend-chart canvas').count()).toBe(1);
      expect(await page.locator('#trend .trend-chart').getAttribute('aria-hidden')).toBe('true');
      await page.getByText('Show the daily figures as a table').click();
      const overall = countStatuses(fleet.devices.map((d) => d.overall));
      const today = new Date().toISOString().slice(0, 10);
      expect((await rows('#trend .trend-table'))[0]).toEqual([
        today,
        rate(overall.pass, FLEET.length),
        rate(overall.fail, FLEET.length),
        String(FLEET.length),
      ]);
      expect(await rows('#trend .trend-table')).toHaveLength(2);
      await page.screenshot({ path: '/tmp/hallpass-overview-trend.png', fullPage: true });
    });
  });

  describe('chase list', () => {
    it('lists failing devices with failing checks as columns, and a CSV of what is shown', async () => {
      await open('/chase');
      const table = await rows('#results');
      expect(table.map((r) => r[0])).toEqual(['ng-lt-002']);
      expect(await texts('#results thead th')).toEqual([
        'Device',
        'School',
        'Disk encryption',
        'Failing since',
        'Last user',
        'Last contact',
      ]);
      expect(await page.locator('#results th[aria-sort="ascending"]').innerText()).toBe(
        'Failing since',
      );
      expect(table[0]?.slice(1, 3)).toEqual([
        'Northgate Primary',
        expect.stringMatching(/^Fail since /),
      ]);
      expect(table[0]?.[4]).toBe('Not known');
      const link = page.getByRole('link', { name: 'Download CSV of this list' });
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
      const lines = (await readFile(await download.path(), 'utf8')).trim().split('\r\n');
      expect(lines[0]).toBe('Device,School,Disk encryption,Failing since,Last user,Last contact');
      expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['ng-lt-002']);
      expect(lines[1]).toMatch(/^ng-lt-002,Northgate Primary,fail since \d{4}-/);

      // One school's list; a school with nothing failing says so.
      await open(`/chase?schoolId=${fleet.schools.riverside.id}`);
      expect(await page.locator('#results').innerText()).toContain('Nothing to chase.');
    });
  });

  describe('device list', () => {
    it('lists every device with its status word, school, serial and clone flag', async () => {
      await open('/devices');
      expect(await page.locator('#results caption').innerText()).toBe(
        `Devices 1–${String(FLEET.length)} of ${String(FLEET.length)}`,
      );
      const table = await rows('#results');
      expect(table.map((r) => r[0]).sort()).toEqual(hostnames(() => true));
      const row = (hostname: string) => table.find((r) => r[0] === hostname) ?? [];
      const failing = fleet.byHostname('ng-lt-002');
      expect(row('ng-lt-002').slice(1, 4)).toEqual(['Fail', 'Northgate Primary', 'Pupil laptops']);
      expect(row('ng-lt-002')[5]).toBe(failing.serial);
      expect(row('ng-lt-005')[1]).toBe('No report');
      expect(row('ng-lt-005')[6]).toBe('Never');
      expect(row('ng-lt-003')[1]).toBe('Unknown');
      expect(row('rv-st-001').slice(1, 4)).toEqual([
        'Warning',
        'Riverside Academy',
        'Staff laptops',
      ]);
      for (const hostname of hostnames(() => true)) {
        const flagged = hostname === 'ng-lt-003' || hostname === 'ng-lt-004';
        expect(row(hostname)[7], hostname).toBe(flagged ? 'Possible cloned image' : '');
      }
      await page.screenshot({ path: '/tmp/hallpass-devices.png', fullPage: true });
    });

    it('filters by status, school, group, silence and search, and puts the filters in the URL', async () => {
      await open('/devices');
      await page.getByLabel('Status').selectOption('fail');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(url('/devices?status=fail'));
      await page.locator('main:not([aria-busy])').waitFor();
      expect(await listed()).toEqual(['ng-lt-002']);

      // The form shows the URL's filters; changing one keeps the others.
      expect(await page.getByLabel('Status').inputValue()).toBe('fail');
      await page.getByLabel('Status').selectOption('');
      await page.getByLabel('School').selectOption({ label: 'Riverside Academy' });
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(url(`/devices?schoolId=${fleet.schools.riverside.id}`));
      await page.locator('main:not([aria-busy])').waitFor();
      expect(await listed()).toEqual(['rv-st-001', 'rv-st-002']);

      await page.getByLabel('Not reported for (days)').fill('7');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(url(`/devices?schoolId=${fleet.schools.riverside.id}&silentDays=7`));
      await page.locator('main:not([aria-busy])').waitFor();
      expect(await listed()).toEqual(['rv-st-002']);

      await open('/devices');
      await page.getByLabel('Device group').selectOption({ label: 'Pupil laptops' });
      await page.getByLabel('Hostname or serial').fill('NG-LT-00');
      await page.getByLabel('Check').selectOption('antivirus');
      await page.getByLabel('Status').selectOption('unknown');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await page.waitForURL(
        (u) =>
          u.searchParams.get('groupId') === dashboard.server.groupId &&
          u.searchParams.get('search') === 'NG-LT-00' &&
          u.searchParams.get('checkId') === 'antivirus' &&
          u.searchParams.get('status') === 'unknown',
      );
      await page.locator('main:not([aria-busy])').waitFor();
      expect(await listed()).toEqual(['ng-lt-003']);

      // Search matches serials too.
      const serial = fleet.byHostname('ng-lt-004').serial;
      await open('/devices?search=' + encodeURIComponent(serial));
      expect(await listed()).toEqual(['ng-lt-004']);

      await page.getByRole('link', { name: 'Clear filters' }).click();
      await page.waitForURL(url('/devices'));
      await page.locator('main:not([aria-busy])').waitFor();
      expect(await listed()).toHaveLength(FLEET.length);
    });

    it('says so when nothing matches, and explains a bad filter in the form’s words', async () => {
      await open('/devices?search=no-such-host');
      expect(await page.locator('#results').innerText()).toBe('No devices match these filters.');
      await open('/devices?silentDays=0');
      expect(await page.getByRole('alert').innerText()).toContain(
        '“Not reported for (days)” must be a whole number of days from 1 to 3650',
      );
      // The form still works to correct it.
      expect(await page.getByLabel('School').locator('option').count()).toBe(3);
    });

    it('pages through the list with Previous and Next by cursor, keeping the filters', async () => {
      await open('/devices?limit=3&search=-');
      const pages: string[][] = [];
      const matching = hostnames((s) => s.hostname.includes('-'));
      for (;;) {
        pages.push(await listed());
        const next = page.getByRole('link', { name: 'Next' });
        if ((await next.count()) === 0) {
          break;
        }
        await next.click();
        // The cursor is the last device shown; start numbers the next page's first row.
        const lastShown = fleet.byHostname(pages.at(-1)?.at(-1) ?? '').id;
        await page.waitForURL(
          url(`/devices?search=-&limit=3&after=${lastShown}&start=${String(pages.length * 3 + 1)}`),
        );
        await page.locator('main:not([aria-busy])').waitFor();
      }
      expect(pages.flat().sort()).toEqual(matching);
      expect(pages.length).toBeGreaterThanOrEqual(3);
      expect(await page.locator('#results caption').innerText()).toBe(
        `Devices ${String((pages.length - 1) * 3 + 1)}–${String(matching.length)} of ${String(matching.length)}`,
      );
      // Back page by page: the devices before the first one shown, as on the way forward; the
      // first page is a plain URL without a cursor.
      for (let i = pages.length - 2; i >= 0; i--) {
        await page.getByRole('link', { name: 'Previous' }).click();
        const firstShown = fleet.byHostname(pages[i + 1]?.[0] ?? '').id;
        await page.waitForURL(
          url(
            i === 0
              ? '/devices?search=-&limit=3'
              : `/devices?search=-&limit=3&before=${firstShown}&start=${String(i * 3 + 1)}`,
          ),
        );
        await page.locator('main:not([aria-busy])').waitFor();
        expect(await listed()).toEqual(pages[i]);
      }
      expect(await page.getByRole('link', { name: 'Previous' }).count()).toBe(0);
    });

    it('still opens links that page by offset', async () => {
      await open('/devices?search=-&limit=3&offset=3');
      const matching = hostnames((s) => s.hostname.includes('-'));
      expect(await listed()).toEqual(matching.slice(3, 6));
      expect(await page.locator('#results caption').innerText()).toBe(
        `Devices 4–6 of ${String(matching.length)}`,
      );
    });

    it('past the last device, says so and links to the first page', async () => {
      const matching = hostnames((s) => s.hostname.includes('-'));
      const last = fleet.byHostname(matching.at(-1) ?? '').id;
      await open(`/devices?search=-&limit=3&after=${last}&start=${String(matching.length + 1)}`);
      expect(await page.locator('#results').innerText()).toBe(
        'No more devices match these filters.',
      );
      const first = page.getByRole('link', { name: 'First page' });
      expect(await first.getAttribute('href')).toBe('/devices?search=-&limit=3');
    });

    it('downloads the CSV of the same filters', async () => {
      const riverside = fleet.schools.riverside.id;
      await open(`/devices?schoolId=${riverside}&limit=1`);
      const link = page.getByRole('link', { name: 'Download CSV' });
      expect(await link.getAttribute('href')).toBe(`/api/v1/ict/devices.csv?schoolId=${riverside}`);
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
      const csv = await readFile(await download.path(), 'utf8');
      const lines = csv.trim().split('\r\n');
      expect(lines[0]).toMatch(/^id,hostname,serial,/);
      // Every device of the school, not just the one page shown.
      expect(lines.slice(1).map((line) => line.split(',')[1])).toEqual(['rv-st-001', 'rv-st-002']);
    });
  });

  describe('device detail', () => {
    it('shows facts, each check, the history of changes and recent events', async () => {
      const device = fleet.byHostname('ng-lt-001');
      await open(`/devices/${device.id}`);
      expect(await page.locator('h1').innerText()).toBe('ng-lt-001 Pass');
      expect(await page.title()).toBe('ng-lt-001 · Hallpass');
      const facts = await texts('dl.facts dt, dl.facts dd');
      const fact = (label: string) => facts[facts.indexOf(label) + 1];
      expect(fact('School')).toBe('Northgate Primary');
      expect(fact('Serial')).toBe(device.serial);
      expect(fact('Model')).toBe('LENOVO ThinkPad L13 Gen 4');
      expect(fact('Device id')).toBe(device.id);

      const checks = await rows('#checks');
      expect(checks.map((r) => r.slice(0, 3))).toEqual([
        ['Anti-virus', 'Pass', 'antivirus is pass'],
        ['Disk encryption', 'Pass', 'disk-encryption is pass'],
        ['OS updates', 'Pass', 'os-updates is pass'],
      ]);
      const measured = await Promise.all(
        (await page.locator('#checks tbody tr td:nth-child(5) time').all()).map((time) =>
          time.getAttribute('datetime'),
        ),
      );
      expect(new Set(measured).size).toBe(1);

      const history = await rows('#history');
      // Newest first: the fix, then the first report of each check.
      expect(history[0]?.slice(1)).toEqual([
        'Disk encryption',
        'Fail',
        'Pass',
        'disk-encryption is pass',
      ]);
      expect(
        history
          .slice(1)
          .map((r) => r.slice(1, 4))
          .sort(),
      ).toEqual([
        ['Anti-virus', 'First report', 'Pass'],
        ['Disk encryption', 'First report', 'Fail'],
        ['OS updates', 'First report', 'Pass'],
      ]);

      const events = await rows('#events');
      expect(events).toHaveLength(2);
      for (const event of events) {
        expect(event[1]).toBe('usb.blocked');
      }
      // USB events read as the stick, what the guard did, for whom and how often.
      expect(await texts('#events [data-field="name"]')).toEqual([
        'SanDisk Ultra',
        'SanDisk Ultra',
      ]);
      expect(await texts('#events [data-field="usb-id"]')).toEqual(['0781:5581', '0781:5581']);
      expect(await texts('#events [data-field="decision"]')).toEqual(
        Array(2).fill('Blocked once (not-approved, mode block) for j.smith'),
      );
      expect(await page.locator('#clone-flag').isVisible()).toBe(false);
      await page.screenshot({ path: '/tmp/hallpass-device.png', fullPage: true });
    });

    it('shows what to do about a failing check', async () => {
      await open(`/devices/${fleet.byHostname('ng-lt-002').id}`);
      const failing = (await rows('#checks')).find((r) => r[0] === 'Disk encryption');
      expect(failing?.slice(1, 4)).toEqual([
        'Fail',
        'disk-encryption is fail',
        'Turn on BitLocker from Control Panel, or re-image the laptop.',
      ]);
    });

    it('says why a check could not tell', async () => {
      await open(`/devices/${fleet.byHostname('ng-lt-003').id}`);
      const unknown = (await rows('#checks')).find((r) => r[0] === 'Anti-virus');
      expect(unknown?.slice(1, 3)).toEqual(['Unknown', 'antivirus is unknownWhy: slow (timeout)']);
    });

    it('an admin allows re-enrolment (after a reimage) and withdraws it; ICT sees both', async () => {
      const device = fleet.byHostname('ng-lt-002');
      await open(`/devices/${device.id}`);
      const state = page.locator('#re-enrolment-state');
      expect(await state.innerText()).toBe('Re-enrolment: only with this device’s own key.');
      await page.getByRole('button', { name: 'Allow re-enrolment for 24 hours' }).click();
      await page.getByRole('button', { name: 'Withdraw re-enrolment' }).waitFor();
      expect(await state.innerText()).toMatch(/^Re-enrolment allowed until .+ \(once, with an/);
      await page.getByRole('button', { name: 'Withdraw re-enrolment' }).click();
      await page.getByRole('button', { name: 'Allow re-enrolment for 24 hours' }).waitFor();
      expect(await state.innerText()).toBe('Re-enrolment: only with this device’s own key.');
      await open(`/devices/${device.id}`);
      const events = (await rows('#events')).map((r) => r[1]);
      expect(events).toEqual(
        expect.arrayContaining(['device.re-enrolment-allowed', 'device.re-enrolment-withdrawn']),
      );
    });

    it('flags a suspected cloned image', async () => {
      await open(`/devices/${fleet.byHostname('ng-lt-003').id}`);
      const flag = page.locator('#clone-flag');
      expect(await flag.isVisible()).toBe(true);
      expect(await flag.innerText()).toContain('Possible cloned image.');
      expect(await flag.innerText()).toContain('same machine id');
      await page.screenshot({ path: '/tmp/hallpass-device-clone.png', fullPage: true });
    });

    it('says plainly when there is no such device', async () => {
      await open('/devices/0b7f1c7e-2a0e-4f55-9d8e-6f0d3c1b2a90');
      expect(await page.getByRole('alert').innerText()).toContain(
        'There is no device with this id.',
      );
    });
  });

  describe('school page', () => {
    it('opens from the overview’s school table and shows that school’s figures', async () => {
      const northgate = fleet.schools.northgate;
      const ours = fleet.devices.filter((d) => d.schoolId === northgate.id);
      await takeDailySnapshot(dashboard.server.db, new Date(Date.now() - 86_400_000));
      await takeDailySnapshot(dashboard.server.db, new Date());
      await open('/');
      await page
        .locator(`#by-school tr[data-key="${northgate.id}"] th`)
        .getByRole('link', { name: northgate.name })
        .click();
      await page.waitForURL(url(`/schools/${northgate.id}`));
      await page.locator('main:not([aria-busy])').waitFor();
      expect(await page.locator('h1').innerText()).toBe(northgate.name);
      expect(await page.title()).toBe(`${northgate.name} · Hallpass`);

      // Per check, and overall: this school's devices only.
      const overall = countStatuses(ours.map((d) => d.overall));
      const row = (counts: ReturnType<typeof countStatuses>) => [
        rate(counts.pass, ours.length),
        ...STATUS_ORDER.map((s) => String(counts[s])),
        String(ours.length),
      ];
      expect(await texts('#checks tr[data-key="overall"] td')).toEqual(row(overall));
      expect((await rows('#checks')).map((r) => r[0])).toEqual([
        'All checks (overall status)',
        'Anti-virus',
        'Disk encryption',
        'OS updates',
      ]);
      for (const checkId of ['antivirus', 'disk-encryption', 'os-updates'] as const) {
        const counts = countStatuses(ours.map((d) => d.checks[checkId] ?? null));
        expect(await texts(`#checks tr[data-key="${checkId}"] td`), checkId).toEqual(row(counts));
      }

      // The trend: the school's own snapshots, newest first, as a table too.
      expect(await page.locator('#trend .trend-chart canvas').count()).toBe(1);
      await page.getByText('Show the daily figures as a table').click();
      const trend = await rows('#trend .trend-table');
      expect(trend).toHaveLength(2);
      expect(trend[0]).toEqual([
        new Date().toISOString().slice(0, 10),
        rate(overall.pass, ours.length),
        rate(overall.fail, ours.length),
        String(ours.length),
      ]);

      // Stale and never reported: ng-lt-005, enrolled 20 days ago and silent since.
      const quiet = (key: string) => page.locator(`#quiet li[data-key="${key}"] .big`).innerText();
      expect(await quiet('stale')).toBe('1');
      expect(await quiet('never-reported')).toBe('1');
      expect(await rows('#quiet')).toEqual([
        [
          'ng-lt-005',
          'Pupil laptops',
          'Never',
          expect.any(String),
          'Never reported, enrolled 20 days ago',
        ],
      ]);

      // The oldest failure: ng-lt-002's disk encryption, from its one report 2 hours ago.
      const failures = await rows('#failures');
      expect(failures.map((r) => r.slice(0, 2))).toEqual([['ng-lt-002', 'Disk encryption']]);
      expect(await page.locator('#failures td time').first().getAttribute('datetime')).toMatch(
        /^\d{4}-\d{2}-\d{2}T/,
      );
      await page.screenshot({ path: '/tmp/hallpass-school.png', fullPage: true });
    });

    it('links each number to the device list filtered to exactly those devices', async () => {
      const northgate = fleet.schools.northgate.id;
      const follow = async (selector: string, expected: string) => {
        await open(`/schools/${northgate}`);
        await page.locator(selector).click();
        await page.waitForURL(url(expected));
        await page.locator('main:not([aria-busy])').waitFor();
      };
      await follow(
        '#checks tr[data-key="disk-encryption"] td[data-status="fail"] a',
        `/devices?schoolId=${northgate}&checkId=disk-encryption&status=fail`,
      );
      expect(await listed()).toEqual(['ng-lt-002']);
      await follow(
        '#checks tr[data-key="antivirus"] td[data-status="rate"] a',
        `/devices?schoolId=${northgate}&checkId=antivirus&status=pass`,
      );
      expect((await listed()).sort()).toEqual(
        hostnames((s) => s.school === 'northgate' && s.reports.at(-1)?.checks.antivirus === 'pass'),
      );
      await follow('#quiet li[data-key="stale"] a', `/devices?schoolId=${northgate}&silentDays=7`);
      expect(await listed()).toEqual(['ng-lt-005']);
      await follow(
        '#quiet li[data-key="never-reported"] a',
        `/devices?schoolId=${northgate}&status=none`,
      );
      expect(await listed()).toEqual(['ng-lt-005']);
      await follow('#failures p a', `/chase?schoolId=${northgate}`);
      expect((await rows('#results')).map((r) => r[0])).toEqual(['ng-lt-002']);
    });

    it('says plainly when a school has nothing to chase, and when the school is gone', async () => {
      await open(`/schools/${fleet.schools.riverside.id}`);
      expect(await page.locator('#failures').innerText()).toContain('Nothing to chase.');
      const response = await page.goto(url('/schools/0b7f1c7e-2a0e-4f55-9d8e-6f0d3c1b2a90'));
      expect(response?.status()).toBe(404);
      expect(await page.locator('main').innerText()).toContain('There is no school with this id.');
    });

    it('downloads the governors’ report of the school, and of the trust from the overview', async () => {
      const northgate = fleet.schools.northgate;
      const download = async (name: string): Promise<string> => {
        const link = page.getByRole('link', { name });
        const [file] = await Promise.all([page.waitForEvent('download'), link.click()]);
        return pdfToText(await readFile(await file.path()));
      };
      await open(`/schools/${northgate.id}`);
      expect(await page.locator('#governors-report').getAttribute('href')).toBe(
        `/api/v1/ict/reports/governors.pdf?schoolId=${northgate.id}`,
      );
      const school = await download('Governors’ report (PDF)');
      expect(school).toContain(northgate.name);
      expect(school).not.toContain(fleet.schools.riverside.name);
      await open('/');
      const trust = await download('Governors’ report (PDF)');
      expect(trust).toContain('All schools in the trust');
      expect(trust).toContain(fleet.schools.riverside.name);
    });
  });

  describe('untrusted device data', () => {
    it('renders a hostname and a summary that hold HTML as text, everywhere', async () => {
      const hostile = fleet.byHostname(HOSTILE_HOSTNAME);
      await open('/devices');
      expect(await listed()).toContain(HOSTILE_HOSTNAME);
      expect(await page.locator('#results img').count()).toBe(0);

      await open(`/devices/${hostile.id}`);
      expect(await page.locator('h1').innerText()).toBe(`${HOSTILE_HOSTNAME} Pass`);
      expect(await page.title()).toBe(`${HOSTILE_HOSTNAME} · Hallpass`);
      const summaries = (await rows('#checks')).map((r) => r[2]);
      expect(summaries).toContain(HOSTILE_SUMMARY);
      expect(await page.locator('main img, main script, main b').count()).toBe(0);
      // afterEach checks that no alert() dialog opened.
    });
  });
});
