// Rows of device counts by status, as the overview and the school page show them: a % compliant
// and a count per status, each number linking to the device list filtered to exactly the devices
// behind it.
import type { StatusCounts } from '../../shared/schemas/ict-api.ts';
import { STATUSES, STATUS_WORDS, h } from './dom.ts';

/** The device list filtered by these parameters. */
export function devicesUrl(filters: Record<string, string>): string {
  const query = new URLSearchParams(filters).toString();
  return query === '' ? '/devices' : '/devices?' + query;
}

/** A count that links to its devices; a zero is plain text (nothing to list). */
export function countLink(count: number, label: string, filters: Record<string, string>): Node {
  const text = count.toLocaleString('en-GB');
  if (count === 0) {
    return h('span', { class: 'muted' }, text);
  }
  const noun = count === 1 ? 'device' : 'devices';
  return h('a', { href: devicesUrl(filters), 'aria-label': `${text} ${noun}: ${label}` }, text);
}

/** Every enrolled device, reported or not. */
export const totalOf = (counts: StatusCounts): number =>
  STATUSES.reduce((sum, status) => sum + counts[status], 0);

/** Share of all enrolled devices that passed, to one decimal; null with no devices. */
export const compliance = (counts: StatusCounts): number | null => {
  const total = totalOf(counts);
  return total === 0 ? null : Math.round((1000 * counts.pass) / total) / 10;
};

/** A rate as the pages show it: "92.5 %", or a dash when there is none. */
export const shownRate = (rate: number | null): string =>
  rate === null ? '–' : `${rate.toLocaleString('en-GB')} %`;

/** The % compliant cell: links to the passing devices behind it. */
function percentCell(
  counts: StatusCounts,
  label: string,
  filters: Record<string, string>,
): HTMLTableCellElement {
  const rate = compliance(counts);
  const text = shownRate(rate);
  return h(
    'td',
    { class: 'number', 'data-status': 'rate' },
    rate === null || counts.pass === 0
      ? h('span', {}, text)
      : h(
          'a',
          {
            href: devicesUrl({ ...filters, status: 'pass' }),
            'aria-label': `${text} compliant: ${label}, the passing devices`,
          },
          text,
        ),
  );
}

/** What one row of counts shows. */
export interface CountsRow {
  /** The row's header text, e.g. a check or school name. */
  name: string;
  /** `data-key` of the row, for tests and sorting. */
  key: string;
  counts: StatusCounts;
  /** Device-list filters selecting this row's devices. */
  filters: Record<string, string>;
  /** Devices silent for more than `days`, when the table has that column. */
  stale?: { count: number; days: string };
  /** Where the row's name links to, if anywhere. */
  href?: string;
}

/** One table row: a header cell, % compliant, then a linked count per status. */
export function countsRow(row: CountsRow): HTMLTableRowElement {
  const { name, counts, filters, stale } = row;
  return h(
    'tr',
    { 'data-key': row.key },
    h('th', { scope: 'row' }, row.href === undefined ? name : h('a', { href: row.href }, name)),
    percentCell(counts, name, filters),
    ...STATUSES.map((status) =>
      h(
        'td',
        { class: 'number', 'data-status': status },
        countLink(counts[status], `${name}, ${STATUS_WORDS[status]}`, { ...filters, status }),
      ),
    ),
    stale === undefined
      ? null
      : h(
          'td',
          { class: 'number', 'data-status': 'stale' },
          countLink(stale.count, `${name}, not reported for ${stale.days} days`, {
            ...filters,
            silentDays: stale.days,
          }),
        ),
    h('td', { class: 'number', 'data-status': 'total' }, totalOf(counts).toLocaleString('en-GB')),
  );
}

/** Column headers of a counts table whose rows are headed `first`. */
export const countsHeaders = (first: string, stale = false): string[] => [
  first,
  '% compliant',
  ...STATUSES.map((s) => (s === 'none' ? 'Never reported' : STATUS_WORDS[s])),
  ...(stale ? ['Stale'] : []),
  'Total',
];
