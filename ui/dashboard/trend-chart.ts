// A compliance trend: a uPlot line chart of % compliant and % failing per day, and the same
// figures as a table for screen readers and anyone who prefers numbers. uPlot is loaded as a
// classic script (/dashboard/uplot.js) before the page's module; without it the table remains.
import type uPlot from 'uplot';
import type { Trend } from '../../shared/schemas/ict-api.ts';
import { h, table } from './dom.ts';

const percent = (part: number, whole: number): number | null =>
  whole === 0 ? null : Math.round((1000 * part) / whole) / 10;

const shownPercent = (value: number | null): string =>
  value === null ? '–' : `${value.toLocaleString('en-GB')} %`;

/** The day's totals: every enrolled device, reported or not. */
const total = (counts: Trend['days'][number]['counts']): number =>
  counts.pass + counts.fail + counts.warn + counts.unknown + counts.none;

/** Draws `trend` into `container`: the chart (hidden from screen readers) and the table. */
export function drawTrend(container: HTMLElement, trend: Trend, subject: string): void {
  if (trend.days.length === 0) {
    container.replaceChildren(
      h(
        'p',
        {},
        'No daily figures yet: the server records one each day, so the trend starts tomorrow.',
      ),
    );
    return;
  }
  const compliant = trend.days.map((d) => percent(d.counts.pass, total(d.counts)));
  const failing = trend.days.map((d) => percent(d.counts.fail, total(d.counts)));
  const chart = h('div', { class: 'trend-chart', 'aria-hidden': 'true' });
  const rows = [...trend.days].reverse().map((day, index) => {
    const at = trend.days.length - 1 - index;
    return h(
      'tr',
      {},
      h('th', { scope: 'row' }, h('time', { datetime: day.day }, day.day)),
      h('td', { class: 'number' }, shownPercent(compliant[at] ?? null)),
      h('td', { class: 'number' }, shownPercent(failing[at] ?? null)),
      h('td', { class: 'number' }, total(day.counts).toLocaleString('en-GB')),
    );
  });
  const first = trend.days[0]?.day ?? '';
  const last = trend.days.at(-1)?.day ?? '';
  container.replaceChildren(
    h(
      'p',
      { class: 'trend-summary' },
      `${subject}: ${shownPercent(compliant.at(-1) ?? null)} compliant on ${last}`,
      trend.days.length > 1 ? `, ${shownPercent(compliant[0] ?? null)} on ${first}.` : '.',
    ),
    chart,
    h(
      'details',
      { class: 'trend-table' },
      h('summary', {}, 'Show the daily figures as a table'),
      table(
        `${subject}: compliance each day, newest first`,
        ['Day', '% compliant', '% failing', 'Devices'],
        rows,
        'counts',
      ),
    ),
  );
  const UPlot = (globalThis as { uPlot?: typeof uPlot }).uPlot;
  if (UPlot === undefined) {
    return;
  }
  const seconds = trend.days.map((d) => Date.parse(`${d.day}T12:00:00Z`) / 1000);
  const widthFor = (): number => Math.max(240, Math.min(900, container.clientWidth));
  const height = 220;
  const plot = new UPlot(
    {
      width: widthFor(),
      height,
      scales: { y: { range: [0, 100] } },
      series: [
        {},
        { label: '% compliant', stroke: '#1a7f37', width: 2 },
        { label: '% failing', stroke: '#b42318', width: 2, dash: [6, 4] },
      ],
      axes: [{}, { values: (_u, ticks) => ticks.map((t) => `${String(t)} %`) }],
    },
    [seconds, compliant, failing],
    chart,
  );
  // uPlot draws at a fixed width: without this, a window narrowed after drawing (a phone turned,
  // a 200 % zoom) would clip the chart instead of reflowing it (WCAG 1.4.10).
  new ResizeObserver(() => {
    const width = widthFor();
    if (width !== plot.width) {
      plot.setSize({ width, height });
    }
  }).observe(container);
}
