// The PDF drawn from a shaped report, read back with poppler: A4 pages, selectable text in
// Helvetica, a long school table that runs onto further pages with its heading repeated, every
// page numbered, a year's trend with its months as text, and a clear word where there is nothing.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { ComplianceSummary, StatusCounts } from '../../../shared/index.ts';
import { governorsPdf } from '../../../server/reports/governors-pdf.ts';
import { trustReport, type GovernorsReport } from '../../../server/reports/governors-report.ts';
import { pdfPages, pdfToText } from '../../helpers/pdf.ts';

const run = promisify(execFile);
const NOW = new Date('2026-12-05T14:30:00Z');
const DAY = 86_400_000;

const counts = (pass: number, fail: number): StatusCounts => ({
  pass,
  fail,
  warn: 0,
  unknown: 0,
  none: 0,
});

const render = async (report: GovernorsReport): Promise<Buffer> =>
  buffer(await governorsPdf(report));

/** What `pdfinfo` and `pdffonts` say of the PDF. */
async function inspect(pdf: Buffer): Promise<{ info: string; fonts: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hallpass-pdf-'));
  try {
    const file = path.join(dir, 'report.pdf');
    await writeFile(file, pdf);
    const [info, fonts] = await Promise.all([run('pdfinfo', [file]), run('pdffonts', [file])]);
    return { info: info.stdout, fonts: fonts.stdout };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const SCHOOLS = 60;

const bigTrust = (): GovernorsReport => {
  const summary: ComplianceSummary = {
    generatedAt: NOW.toISOString(),
    devices: 6000,
    overall: counts(5000, 1000),
    staleDays: 7,
    stale: 0,
    byCheck: [{ checkId: 'screen-lock', counts: counts(5500, 500) }],
    bySchool: Array.from({ length: SCHOOLS }, (_, i) => ({
      schoolId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      school: `School number ${String(i + 1)}`,
      counts: counts(50 + i, 50 - i / 2),
      stale: 0,
    })),
    byGroup: [],
  };
  const days = Array.from({ length: 400 }, (_, i) => ({
    day: new Date(NOW.getTime() - (399 - i) * DAY).toISOString().slice(0, 10),
    counts: counts(500 + i, 500 - i),
  }));
  return trustReport({
    summary,
    trend: { scope: 'trust', id: null, days },
    quiet: [],
    days: 400,
    now: NOW,
  });
};

describe("the governors' PDF", () => {
  it('is A4, in Helvetica, its text selectable, its pages numbered', async () => {
    const pdf = await render(bigTrust());
    const { info, fonts } = await inspect(pdf);
    expect(info).toMatch(/^Page size:\s+595\.28 x 841\.89 pts \(A4\)/m);
    expect(info).toMatch(/^Title:\s+Governors' compliance summary: All schools in the trust$/m);
    expect(fonts).toMatch(/Helvetica\s/);
    expect(fonts).toMatch(/Helvetica-Bold\s/);
    const pages = await pdfPages(pdf);
    expect(pages).toBeGreaterThan(1);
    const text = await pdfToText(pdf);
    for (let page = 1; page <= pages; page++) {
      expect(text).toContain(`All schools in the trust · page ${String(page)} of ${String(pages)}`);
    }
  });

  it('lists every school once, repeating the heading row on each page the table runs onto', async () => {
    const text = (await pdfToText(await render(bigTrust()))).replace(/[ \t]+/g, ' ');
    for (let i = 1; i <= SCHOOLS; i++) {
      expect(text.match(new RegExp(`School number ${String(i)} `, 'g'))).toHaveLength(1);
    }
    const headingRows = text.match(/School Devices % compliant Failing Stale Never reported/g);
    expect(headingRows?.length).toBeGreaterThan(1);
    // Worst first: school 1 has the lowest rate.
    expect(text.indexOf('School number 1 ')).toBeLessThan(text.indexOf('School number 60 '));
  });

  it('gives a year of days as a line and each month as text', async () => {
    const text = (await pdfToText(await render(bigTrust()))).replace(/[ \t]+/g, ' ');
    expect(text).toContain('Period covered: 1 November 2025 to 5 December 2026 (400 days)');
    // Fourteen months, November 2025 to December 2026, each with its last day's figure.
    expect(text).toContain('November 2025 30 November 2025 52.9 % 1,000');
    expect(text).toContain('December 2026 5 December 2026 89.9 % 1,000');
    expect(
      text.match(
        /^(January|February|March|April|May|June|July|August|September|October|November|December) 20\d\d \d/gm,
      ),
    ).toHaveLength(14);
    expect(text).toContain('% of devices compliant');
    expect(text).toContain('Day (UTC)');
  });

  it('says so when there are no schools, figures or stale devices', async () => {
    const empty = trustReport({
      summary: {
        generatedAt: NOW.toISOString(),
        devices: 0,
        overall: counts(0, 0),
        staleDays: 7,
        stale: 0,
        byCheck: [],
        bySchool: [],
        byGroup: [],
      },
      trend: { scope: 'trust', id: null, days: [] },
      quiet: [],
      days: 30,
      now: NOW,
    });
    const text = await pdfToText(await render(empty));
    expect(text).toContain('No daily figures in this period yet');
    expect(text).toContain('No device has reported a check yet.');
    expect(text).toContain('No schools yet.');
    expect(text).toContain('Every device has reported in the last 7 days.');
  });
});
