// Draws the governors' report (governors-report.ts) as an A4 PDF with pdfkit: text in the
// standard Helvetica (selectable, searchable), the trend as vector lines on labelled axes, and
// every figure also as text in a table, so pdftotext and a screen reader find all of them.
import PDFDocument from 'pdfkit';
import {
  shownCount,
  shownRate,
  type GovernorsReport,
  type ReportPeriod,
  type TrendPoint,
} from './governors-report.ts';
import { pdfText } from './pdf-text.ts';

const MARGIN = 50;
const FONT = 'Helvetica';
const BOLD = 'Helvetica-Bold';
const INK = '#1f2328';
const MUTED = '#59636e';
const RULE = '#d1d9e0';
const LINE = '#1a7f37';

type Doc = PDFKit.PDFDocument;

/** A column of a table: heading, width in points, alignment. */
interface Column {
  heading: string;
  width: number;
  align: 'left' | 'right';
}

const DATE = new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' });
const SHORT_DATE = new Intl.DateTimeFormat('en-GB', {
  day: 'numeric',
  month: 'short',
  timeZone: 'UTC',
});
const TIME = new Intl.DateTimeFormat('en-GB', { timeStyle: 'short', timeZone: 'UTC' });

/** A UTC date (YYYY-MM-DD) in words: "5 December 2026". */
export const longDate = (day: string): string => DATE.format(new Date(`${day}T12:00:00Z`));

const MEDIUM_DATE = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' });
const mediumDate = (day: string): string => MEDIUM_DATE.format(new Date(`${day}T12:00:00Z`));

/** The period as the report states it. */
export const periodWords = (period: ReportPeriod): string =>
  `${longDate(period.from)} to ${longDate(period.to)} (${shownCount(period.days)} ${period.days === 1 ? 'day' : 'days'})`;

const contentWidth = (doc: Doc): number => doc.page.width - 2 * MARGIN;
const bottom = (doc: Doc): number => doc.page.height - MARGIN;

/** Starts a new page when fewer than `needed` points are left on this one. */
function room(doc: Doc, needed: number): void {
  if (doc.y + needed > bottom(doc)) {
    doc.addPage();
  }
}

/** A section's heading, on a new page unless `following` points of what comes next fit too. */
function heading(doc: Doc, text: string, following = 40): void {
  room(doc, 30 + following);
  doc.moveDown(0.8);
  doc.font(BOLD).fontSize(13).fillColor(INK).text(pdfText(text), MARGIN, doc.y);
  doc.moveDown(0.3);
}

function paragraph(doc: Doc, text: string, colour = INK): void {
  doc
    .font(FONT)
    .fontSize(10)
    .fillColor(colour)
    .text(pdfText(text), MARGIN, doc.y, {
      width: contentWidth(doc),
    });
}

/** "Label: value" on one line, the value in bold. */
function figure(doc: Doc, label: string, value: string): void {
  doc
    .font(FONT)
    .fontSize(11)
    .fillColor(INK)
    .text(`${pdfText(label)}: `, MARGIN, doc.y, {
      continued: true,
    });
  doc.font(BOLD).text(pdfText(value));
}

const ROW_HEIGHT = 16;

/** Cuts text to fit `width` at the current font, with an ellipsis. */
function fitted(doc: Doc, text: string, width: number): string {
  const clean = pdfText(text);
  if (doc.widthOfString(clean) <= width) {
    return clean;
  }
  let cut = clean;
  while (cut.length > 1 && doc.widthOfString(`${cut}...`) > width) {
    cut = cut.slice(0, -1);
  }
  return `${cut}...`;
}

function tableRow(doc: Doc, columns: readonly Column[], cells: readonly string[], bold: boolean) {
  const y = doc.y;
  let x = MARGIN;
  doc
    .font(bold ? BOLD : FONT)
    .fontSize(9.5)
    .fillColor(INK);
  columns.forEach((column, index) => {
    const width = column.width - 6;
    const text = fitted(doc, cells[index] ?? '', width);
    // Left-aligned text needs no width (a width would let pdfkit wrap it); right-aligned does.
    if (column.align === 'left') {
      doc.text(text, x, y + 4, { lineBreak: false });
    } else {
      doc.text(text, x, y + 4, { width, align: 'right', lineBreak: false });
    }
    x += column.width;
  });
  doc
    .moveTo(MARGIN, y + ROW_HEIGHT)
    .lineTo(MARGIN + contentWidth(doc), y + ROW_HEIGHT)
    .lineWidth(0.5)
    .strokeColor(RULE)
    .stroke();
  doc.x = MARGIN;
  doc.y = y + ROW_HEIGHT;
}

/** Room a table needs on its first page: all of a short one, a dozen rows of a long one. */
const tableHeight = (rows: number): number => (Math.min(rows, 12) + 1) * ROW_HEIGHT;

/** A table with its heading row repeated on each page it runs onto. */
function table(doc: Doc, columns: readonly Column[], rows: readonly (readonly string[])[]): void {
  const headings = columns.map((c) => c.heading);
  room(doc, tableHeight(rows.length));
  tableRow(doc, columns, headings, true);
  for (const row of rows) {
    if (doc.y + ROW_HEIGHT > bottom(doc)) {
      doc.addPage();
      tableRow(doc, columns, headings, true);
    }
    tableRow(doc, columns, row, false);
  }
  doc.moveDown(0.5);
}

/** Columns sharing the content width: the first takes what the others leave. */
function columns(
  doc: Doc,
  first: string,
  others: readonly (readonly [string, number])[],
): Column[] {
  const fixed = others.reduce((sum, [, width]) => sum + width, 0);
  return [
    { heading: first, width: contentWidth(doc) - fixed, align: 'left' },
    ...others.map(([heading, width]): Column => ({ heading, width, align: 'right' })),
  ];
}

const DAY_MS = 86_400_000;
const dayIndex = (from: string, day: string): number =>
  Math.round((Date.parse(`${day}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);

/** The trend as a line chart: % compliant (0 to 100) by day across the whole period. */
function trendChart(doc: Doc, period: ReportPeriod, points: readonly TrendPoint[]): void {
  const height = 150;
  room(doc, height + 50);
  const left = MARGIN + 36;
  const width = contentWidth(doc) - 36;
  doc.font(FONT).fontSize(8).fillColor(MUTED).text('% of devices compliant', MARGIN, doc.y);
  const top = doc.y + 6;
  const y = (rate: number): number => top + height - (rate / 100) * height;
  const span = Math.max(1, period.days - 1);
  const x = (day: string): number =>
    period.days === 1 ? left + width / 2 : left + (dayIndex(period.from, day) / span) * width;
  for (const rate of [0, 25, 50, 75, 100]) {
    doc
      .moveTo(left, y(rate))
      .lineTo(left + width, y(rate))
      .lineWidth(rate === 0 ? 0.8 : 0.4)
      .strokeColor(rate === 0 ? MUTED : RULE)
      .stroke();
    doc.text(`${String(rate)} %`, MARGIN, y(rate) - 3, { width: 30, align: 'right' });
  }
  doc
    .moveTo(left, top)
    .lineTo(left, top + height)
    .lineWidth(0.8)
    .strokeColor(MUTED)
    .stroke();
  // Up to six dates along the bottom, first and last always.
  const ticks = Math.min(6, period.days);
  const tickDays = [
    ...new Set(
      Array.from({ length: ticks }, (_, i) =>
        Math.round((i * (period.days - 1)) / Math.max(1, ticks - 1)),
      ),
    ),
  ];
  for (const offset of tickDays) {
    const day = new Date(Date.parse(`${period.from}T12:00:00Z`) + offset * DAY_MS);
    const at = x(day.toISOString().slice(0, 10));
    doc
      .moveTo(at, top + height)
      .lineTo(at, top + height + 3)
      .lineWidth(0.8)
      .strokeColor(MUTED)
      .stroke();
    doc.text(SHORT_DATE.format(day), at - 30, top + height + 5, { width: 60, align: 'center' });
  }
  doc.text('Day (UTC)', left, top + height + 17, { width, align: 'center' });
  // The line joins consecutive days; a day without a figure (no snapshot, or no devices) breaks
  // it, and a day with no neighbour on either side gets a dot so it still shows.
  doc.lineWidth(1.6).strokeColor(LINE).fillColor(LINE);
  points.forEach((point, index) => {
    if (point.compliant === null) {
      return;
    }
    const joined = (other: TrendPoint | undefined): other is TrendPoint & { compliant: number } =>
      other !== undefined &&
      other.compliant !== null &&
      Math.abs(dayIndex(other.day, point.day)) === 1;
    const before = points[index - 1];
    if (joined(before)) {
      doc
        .moveTo(x(before.day), y(before.compliant))
        .lineTo(x(point.day), y(point.compliant))
        .stroke();
    } else if (!joined(points[index + 1])) {
      doc.circle(x(point.day), y(point.compliant), 2).fill();
    }
  });
  doc.fillColor(INK);
  doc.x = MARGIN;
  doc.y = top + height + 32;
}

function header(doc: Doc, report: GovernorsReport): void {
  doc.font(FONT).fontSize(9).fillColor(MUTED).text("Hallpass · Governors' compliance summary");
  doc.moveDown(0.3);
  doc.font(BOLD).fontSize(20).fillColor(INK).text(pdfText(report.title));
  doc.moveDown(0.3);
  figure(doc, 'Period covered', periodWords(report.period));
  const counted = new Date(report.generatedAt);
  paragraph(
    doc,
    `Figures counted on ${longDate(report.generatedAt.slice(0, 10))} at ${TIME.format(counted)} UTC. ` +
      'A device is compliant when every check on it passes; devices that have not reported yet count as not compliant.',
    MUTED,
  );
}

function headline(doc: Doc, report: GovernorsReport): void {
  const h = report.headline;
  heading(doc, 'At a glance');
  figure(doc, 'Devices enrolled', shownCount(h.devices));
  figure(doc, 'Compliant (every check passes)', shownRate(h.compliant));
  figure(doc, 'Failing at least one check', shownCount(h.failing));
  figure(doc, `Not reported for more than ${String(h.staleDays)} days`, shownCount(h.stale));
  figure(doc, 'Never reported since enrolling', shownCount(h.neverReported));
}

function trend(doc: Doc, report: GovernorsReport): void {
  heading(doc, 'Compliance day by day');
  if (report.trend.length === 0) {
    paragraph(
      doc,
      'No daily figures in this period yet: the server records one each day, so the trend starts tomorrow.',
    );
    return;
  }
  const first = report.trend[0];
  const last = report.trend.at(-1);
  if (first !== undefined && last !== undefined) {
    paragraph(
      doc,
      `${shownRate(last.compliant)} compliant on ${longDate(last.day)}` +
        (report.trend.length > 1
          ? `, against ${shownRate(first.compliant)} on ${longDate(first.day)}.`
          : '.'),
    );
  }
  doc.moveDown(0.5);
  trendChart(doc, report.period, report.trend);
  table(
    doc,
    columns(doc, 'Month', [
      ['Last day', 130],
      ['% compliant', 90],
      ['Devices', 80],
    ]),
    report.months.map((m) => [
      m.month,
      longDate(m.day),
      shownRate(m.compliant),
      shownCount(m.devices),
    ]),
  );
}

function checks(doc: Doc, report: GovernorsReport): void {
  heading(doc, 'Checks, worst first', tableHeight(report.checks.length));
  if (report.checks.length === 0) {
    paragraph(doc, 'No device has reported a check yet.');
    return;
  }
  table(
    doc,
    columns(doc, 'Check', [
      ['% compliant', 90],
      ['Failing', 80],
      ['No result', 80],
    ]),
    report.checks.map((c) => [
      c.name,
      shownRate(c.compliant),
      shownCount(c.failing),
      shownCount(c.noResult),
    ]),
  );
}

function schools(doc: Doc, report: GovernorsReport): void {
  if (report.schools === null) {
    return;
  }
  heading(doc, 'Schools, worst first', tableHeight(report.schools.length));
  if (report.schools.length === 0) {
    paragraph(doc, 'No schools yet.');
    return;
  }
  table(
    doc,
    columns(doc, 'School', [
      ['Devices', 60],
      ['% compliant', 75],
      ['Failing', 55],
      ['Stale', 50],
      ['Never reported', 80],
    ]),
    report.schools.map((s) => [
      s.name,
      shownCount(s.devices),
      shownRate(s.compliant),
      shownCount(s.failing),
      shownCount(s.stale),
      shownCount(s.neverReported),
    ]),
  );
}

function stale(doc: Doc, report: GovernorsReport): void {
  const { stale: count, staleDays } = report.headline;
  heading(doc, 'Stale devices', 30 + tableHeight(report.oldestStale.length));
  paragraph(
    doc,
    count === 0
      ? `Every device has reported in the last ${String(staleDays)} days.`
      : `${shownCount(count)} ${count === 1 ? 'device has' : 'devices have'} not reported for more than ${String(staleDays)} days. ` +
          (report.oldestStale.length < count
            ? `The ${String(report.oldestStale.length)} silent longest:`
            : 'Longest silent first:'),
  );
  if (report.oldestStale.length === 0) {
    return;
  }
  doc.moveDown(0.4);
  const trust = report.scope === 'trust';
  table(
    doc,
    columns(doc, 'Device', [...(trust ? ([['School', 150]] as const) : []), ['Last contact', 170]]),
    report.oldestStale.map((d) => [
      d.hostname,
      ...(trust ? [d.school ?? ''] : []),
      d.lastSeen === null ? `never (enrolled ${mediumDate(d.enrolled)})` : longDate(d.lastSeen),
    ]),
  );
}

/** Page numbers and the title at the foot of every page (pages are buffered until the end). */
function footers(doc: Doc, report: GovernorsReport): void {
  const range = doc.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    doc.switchToPage(i);
    // Text below the bottom margin would start a new page: lift the margin while writing there.
    const margin = doc.page.margins.bottom;
    doc.page.margins.bottom = 0;
    doc
      .font(FONT)
      .fontSize(8)
      .fillColor(MUTED)
      .text(
        pdfText(`${report.title} · page ${String(i + 1)} of ${String(range.count)}`),
        MARGIN,
        doc.page.height - MARGIN + 18,
        { width: contentWidth(doc), align: 'center', lineBreak: false },
      );
    doc.page.margins.bottom = margin;
  }
}

/** The sections in page order; the drawer yields to the event loop between them. */
const SECTIONS: readonly ((doc: Doc, report: GovernorsReport) => void)[] = [
  header,
  headline,
  trend,
  checks,
  schools,
  stale,
  footers,
];

/**
 * Draws `report` and ends the document. The returned document is a readable stream of the PDF's
 * bytes; it is drawn a section at a time, letting other requests run in between.
 */
export async function governorsPdf(report: GovernorsReport): Promise<Doc> {
  const doc = new PDFDocument({
    size: 'A4',
    margin: MARGIN,
    bufferPages: true,
    lang: 'en-GB',
    displayTitle: true,
    info: {
      Title: pdfText(`Governors' compliance summary: ${report.title}`),
      Author: 'Hallpass',
      Subject: `Compliance from ${report.period.from} to ${report.period.to}`,
      CreationDate: new Date(report.generatedAt),
    },
  });
  for (const section of SECTIONS) {
    section(doc, report);
    await new Promise((resolve) => setImmediate(resolve));
  }
  doc.end();
  return doc;
}
