// `GET /api/v1/ict/reports/governors.pdf`: the governors' summary of the trust and of one school,
// rendered for real and read back with poppler. Its headline figures are the JSON API's for the
// same data; it names the school, the period and the stale devices; page 1 draws something, the
// trend line included; a viewer may fetch it, nobody else, and bad input is refused in words.
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  SCHEMA_VERSION,
  type CheckId,
  type CheckStatus,
  type ComplianceSummary,
  type SchoolPage,
  type StatusCounts,
  type Trend,
} from '../../../../../../shared/index.ts';
import { takeDailySnapshot } from '../../../../../../server/store/compliance-snapshots.ts';
import { ensureSchool } from '../../../../../../server/store/organisation.ts';
import { createEnrolmentToken } from '../../../../../../server/store/tokens.ts';
import { describeEachEngine } from '../../../../../helpers/databases.ts';
import {
  report,
  result,
  sampleFacts,
  send,
  TestDevice,
} from '../../../../../helpers/device-client.ts';
import { countPixels, pdfPages, pdfToText, renderFirstPage } from '../../../../../helpers/pdf.ts';
import { startTestServer, type TestServer } from '../../../../../helpers/test-server.ts';
import { newBrowser, type Browser } from './ict-session.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const URL = '/api/v1/ict/reports/governors.pdf';

type Checks = Partial<Record<CheckId, CheckStatus>>;

/** A rate worked out and printed as the dashboard does (counts-table.ts). */
function shownRate(counts: StatusCounts): string {
  const total = counts.pass + counts.fail + counts.warn + counts.unknown + counts.none;
  return `${(Math.round((1000 * counts.pass) / total) / 10).toLocaleString('en-GB')} %`;
}

const longDate = (at: Date): string =>
  new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' }).format(at);

/** The text with runs of spaces made one, so table rows read as "cell cell cell". */
const squeezed = (text: string): string => text.replace(/[ \t]+/g, ' ');

describeEachEngine("governors' PDF report", (engine) => {
  let server: TestServer;
  let viewer: Browser;
  let clock: Date | null = null;
  const now = new Date();
  const ago = (ms: number) => new Date(now.getTime() - ms);
  let riversideId = '';

  async function enrol(hostname: string, token: string, at: Date): Promise<TestDevice> {
    const device = new TestDevice(sampleFacts({ hostname }));
    clock = at;
    expect((await device.enrol(server.app, token)).status).toBe(201);
    return device;
  }

  async function sendReport(device: TestDevice, at: Date, checks: Checks): Promise<void> {
    clock = at;
    const results = Object.entries(checks).map(([id, status]) => result(id as CheckId, status, at));
    const body = JSON.stringify({
      schemaVersion: SCHEMA_VERSION,
      reports: [report(device.facts, results, at)],
      events: [],
    });
    const answer = await send(
      server.app,
      'POST',
      '/api/v1/reports',
      body,
      device.sign('POST', '/api/v1/reports', body, { now: at }),
    );
    expect(answer.status).toBe(200);
  }

  const get = (url: string) => viewer.request({ method: 'GET', url });

  beforeAll(async () => {
    server = await startTestServer(engine, {}, () => clock ?? new Date());
    viewer = await newBrowser(server.app, server.db, 'vic', 'viewer');
    const riverside = await ensureSchool(server.db, 'Riverside Academy');
    riversideId = riverside.id;
    const { token: riversideToken } = await createEnrolmentToken(server.db, {
      schoolId: riverside.id,
      groupId: server.groupId,
      label: 'riverside',
      expiresAt: new Date(now.getTime() + DAY),
      maxUses: 10,
      createdBy: null,
    });
    const month = ago(30 * DAY);
    const good = { 'disk-encryption': 'pass', firewall: 'pass' } as const;
    // Northgate: one passing, one failing encryption, one passing but silent for 20 days, one
    // enrolled 25 days ago that never reported (stale and never reported).
    await sendReport(await enrol('ng-001', server.token, month), ago(HOUR), good);
    await sendReport(await enrol('ng-002', server.token, month), ago(HOUR), {
      'disk-encryption': 'fail',
      firewall: 'pass',
    });
    await sendReport(await enrol('ng-003', server.token, month), ago(20 * DAY), good);
    await enrol('ng-004', server.token, ago(25 * DAY));
    // The first daily figure, 45 days ago: outside a 30-day report, inside a 60-day one.
    await takeDailySnapshot(server.db, ago(45 * DAY));
    // Riverside: one passing, two failing.
    await sendReport(await enrol('rv-001', riversideToken, month), ago(HOUR), good);
    await sendReport(await enrol('rv-002', riversideToken, month), ago(HOUR), {
      'disk-encryption': 'fail',
      firewall: 'fail',
    });
    await sendReport(await enrol('rv-003', riversideToken, month), ago(HOUR), {
      'disk-encryption': 'pass',
      firewall: 'fail',
    });
    // Then five days running, up to yesterday: a line on the chart.
    for (const days of [5, 4, 3, 2, 1]) {
      await takeDailySnapshot(server.db, ago(days * DAY));
    }
    clock = null;
  });
  afterAll(() => server.close());

  /** Fetches a report as the viewer: checks it is a PDF download; its bytes. */
  async function fetchPdf(query: string, fileName: RegExp): Promise<Buffer> {
    const response = await get(`${URL}${query}`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/pdf');
    expect(response.headers['content-disposition']).toMatch(fileName);
    expect(response.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    return response.rawPayload;
  }

  /** Page 1 draws text and the trend's green line on white. */
  async function expectDrawnFirstPage(pdf: Buffer): Promise<void> {
    const page = await renderFirstPage(pdf);
    // A4 at 50 dpi.
    expect([page.width, page.height]).toEqual([414, 585]);
    const inked = countPixels(page, (r, g, b) => r < 200 && g < 200 && b < 200);
    expect(inked).toBeGreaterThan(1000);
    const green = countPixels(page, (r, g, b) => g > r + 40 && g > b + 30);
    expect(green).toBeGreaterThan(20);
  }

  it('gives the trust’s figures as the JSON API does, with schools worst first', async () => {
    const today = now.toISOString().slice(0, 10);
    const pdf = await fetchPdf(
      '',
      new RegExp(`^attachment; filename="governors-report-trust-${today}\\.pdf"$`),
    );
    const text = squeezed(await pdfToText(pdf));
    const summary = (await get('/api/v1/ict/summary')).json<ComplianceSummary>();
    const trend = (await get('/api/v1/ict/trends?scope=trust&days=30')).json<Trend>();
    expect(summary.devices).toBe(7);

    expect(text).toContain('All schools in the trust');
    expect(text).toContain(
      `Period covered: ${longDate(ago(29 * DAY))} to ${longDate(now)} (30 days)`,
    );
    expect(text).toContain(`Devices enrolled: ${String(summary.devices)}`);
    expect(text).toContain(`Compliant (every check passes): ${shownRate(summary.overall)}`);
    expect(text).toContain(`Failing at least one check: ${String(summary.overall.fail)}`);
    expect(text).toContain(`Not reported for more than 7 days: ${String(summary.stale)}`);
    expect(text).toContain(`Never reported since enrolling: ${String(summary.overall.none)}`);
    // Each check by name with its rate, failing and no-result counts; never by id.
    for (const { checkId, counts } of summary.byCheck) {
      const name = { 'disk-encryption': 'Disk encryption', firewall: 'Firewall' }[
        checkId as string
      ];
      expect(text).toContain(
        `${String(name)} ${shownRate(counts)} ${String(counts.fail)} ${String(counts.none)}`,
      );
    }
    expect(text).not.toMatch(/disk-encryption|firewall/);
    // Schools worst first: Riverside (1 of 3) before Northgate (2 of 4).
    const riverside = summary.bySchool.find((s) => s.school === 'Riverside Academy');
    const northgate = summary.bySchool.find((s) => s.school === 'Northgate Primary');
    if (riverside === undefined || northgate === undefined) {
      throw new Error('schools missing from the summary');
    }
    expect(text).toContain(`Riverside Academy 3 ${shownRate(riverside.counts)} 2 0 0`);
    expect(text).toContain(`Northgate Primary 4 ${shownRate(northgate.counts)} 1 2 1`);
    expect(text.indexOf('Riverside Academy 3')).toBeLessThan(text.indexOf('Northgate Primary 4'));
    // The trend: five daily figures inside the period (not the one 45 days ago), the latest one
    // in the sentence above the chart and as its month's line.
    expect(trend.days).toHaveLength(5);
    const latest = trend.days.at(-1);
    if (latest === undefined) {
      throw new Error('no trend');
    }
    const latestDay = new Date(`${latest.day}T12:00:00Z`);
    expect(text).toContain(`${shownRate(latest.counts)} compliant on ${longDate(latestDay)}`);
    expect(text).toContain(`${longDate(latestDay)} ${shownRate(latest.counts)} 7`);
    // The stale devices, longest silent first, with their school and last contact.
    expect(text).toContain('2 devices have not reported for more than 7 days.');
    expect(text).toContain(`ng-004 Northgate Primary never (enrolled`);
    expect(text).toContain(`ng-003 Northgate Primary ${longDate(ago(20 * DAY))}`);
    expect(text.indexOf('ng-004')).toBeLessThan(text.indexOf('ng-003'));
    await expectDrawnFirstPage(pdf);
  });

  it('gives one school’s figures as its page does, for the period asked', async () => {
    const pdf = await fetchPdf(
      `?schoolId=${server.schoolId}&days=60`,
      /^attachment; filename="governors-report-northgate-primary-\d{4}-\d{2}-\d{2}\.pdf"$/,
    );
    const text = squeezed(await pdfToText(pdf));
    const page = (
      await get(`/api/v1/ict/schools/${server.schoolId}/compliance`)
    ).json<SchoolPage>();
    expect(text).toContain('Northgate Primary');
    expect(text).not.toContain('Riverside Academy');
    expect(text).not.toContain('Schools, worst first');
    expect(text).toContain(
      `Period covered: ${longDate(ago(59 * DAY))} to ${longDate(now)} (60 days)`,
    );
    expect(text).toContain(`Devices enrolled: ${String(page.devices)}`);
    expect(text).toContain(`Compliant (every check passes): ${shownRate(page.overall)}`);
    expect(text).toContain(`Not reported for more than 7 days: ${String(page.stale)}`);
    expect(text).toContain(`Never reported since enrolling: ${String(page.neverReported)}`);
    expect(page.stale).toBe(2);
    // Sixty days reach the figure of 45 days ago.
    const first = page.trend.days[0];
    if (first === undefined) {
      throw new Error('no trend');
    }
    expect(text).toContain(
      `against ${shownRate(first.counts)} on ${longDate(new Date(`${first.day}T12:00:00Z`))}`,
    );
    expect(text).toMatch(/ng-004 never \(enrolled/);
    await expectDrawnFirstPage(pdf);
    expect(await pdfPages(pdf)).toBeGreaterThanOrEqual(1);
  });

  it('names a school whose figures are all empty, without failing', async () => {
    const empty = await ensureSchool(server.db, 'Ysgol Bro Ŵyr');
    const pdf = await fetchPdf(
      `?schoolId=${empty.id}`,
      /filename="governors-report-ysgol-bro-wyr-/,
    );
    const text = squeezed(await pdfToText(pdf));
    expect(text).toContain('Ysgol Bro Wyr');
    expect(text).toContain('Devices enrolled: 0');
    expect(text).toContain('Compliant (every check passes): –');
    expect(text).toContain('No daily figures in this period yet');
  });

  it('needs a session', async () => {
    const response = await server.app.inject({ method: 'GET', url: URL });
    expect(response.statusCode).toBe(401);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.json<{ error: string }>().error).not.toBe('');
  });

  it.each([
    ['?schoolId=not-a-school', /schoolId/],
    ['?days=0', /days/],
    ['?days=401', /days/],
    ['?days=ten', /days/],
    ['?colour=red', /colour|additional/],
  ])('refuses %s with a 400 in words', async (query, message) => {
    const response = await get(`${URL}${query}`);
    expect(response.statusCode).toBe(400);
    const body = response.json<{ error: string; message: string }>();
    expect(body.error).toBe('invalid-request');
    expect(body.message).toMatch(message);
  });

  it('answers 404 for a school that does not exist', async () => {
    const response = await get(`${URL}?schoolId=0b7f1c7e-2a0e-4f55-9d8e-6f0d3c1b2a90`);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: 'not-found', message: 'No such school.' });
    expect(riversideId).not.toBe('');
  });
});
