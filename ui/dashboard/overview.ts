// The overview: compliance per check and per school, and how many devices have gone quiet.
// Every count links to the device list filtered to exactly those devices.
import type { ComplianceSummary, StatusCounts, Trend } from '../../shared/schemas/ict-api.ts';
import { describeError, getJson, loaded, startPage } from './api.ts';
import {
  STATUSES,
  STATUS_WORDS,
  byId,
  checkName,
  h,
  showError,
  statusBadge,
  table,
  time,
} from './dom.ts';
import { sortableTable, type SortColumn } from './sortable-table.ts';
import { drawTrend } from './trend-chart.ts';

const DEFAULT_STALE_DAYS = 7;

/** The device list filtered by these parameters. */
function devicesUrl(filters: Record<string, string>): string {
  const query = new URLSearchParams(filters).toString();
  return query === '' ? '/devices' : '/devices?' + query;
}

/** A count that links to its devices; a zero is plain text (nothing to list). */
function countLink(count: number, label: string, filters: Record<string, string>): Node {
  const text = count.toLocaleString('en-GB');
  if (count === 0) {
    return h('span', { class: 'muted' }, text);
  }
  const noun = count === 1 ? 'device' : 'devices';
  return h('a', { href: devicesUrl(filters), 'aria-label': `${text} ${noun}: ${label}` }, text);
}

const totalOf = (counts: StatusCounts): number =>
  STATUSES.reduce((sum, status) => sum + counts[status], 0);

/** Share of all enrolled devices that passed, to one decimal; null with no devices. */
const compliance = (counts: StatusCounts): number | null => {
  const total = totalOf(counts);
  return total === 0 ? null : Math.round((1000 * counts.pass) / total) / 10;
};

/** The % compliant cell: links to the passing devices behind it. */
function percentCell(
  counts: StatusCounts,
  label: string,
  filters: Record<string, string>,
): HTMLTableCellElement {
  const rate = compliance(counts);
  const text = rate === null ? '–' : `${rate.toLocaleString('en-GB')} %`;
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

/** One table row: a header cell, % compliant, then a linked count per status. */
function countsRow(
  name: string,
  key: string,
  counts: StatusCounts,
  filters: Record<string, string>,
  stale?: { count: number; days: string },
): HTMLTableRowElement {
  const total = totalOf(counts);
  return h(
    'tr',
    { 'data-key': key },
    h('th', { scope: 'row' }, name),
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
    h('td', { class: 'number', 'data-status': 'total' }, total.toLocaleString('en-GB')),
  );
}

const headers = (first: string, stale = false) => [
  first,
  '% compliant',
  ...STATUSES.map((s) => (s === 'none' ? 'Never reported' : STATUS_WORDS[s])),
  ...(stale ? ['Stale'] : []),
  'Total',
];

type SchoolRow = ComplianceSummary['bySchool'][number];

/** The school table: sortable by every column, worst (lowest % compliant) first. */
function schoolTable(summary: ComplianceSummary): HTMLElement {
  const stale = String(summary.staleDays);
  const labels = headers('School', true);
  const values: ((row: SchoolRow) => number | string | null)[] = [
    (row) => row.school,
    (row) => compliance(row.counts),
    ...STATUSES.map((status) => (row: SchoolRow) => row.counts[status]),
    (row) => row.stale,
    (row) => totalOf(row.counts),
  ];
  const columns: SortColumn<SchoolRow>[] = labels.map((label, index) => ({
    label,
    value: values[index] ?? (() => null),
  }));
  return sortableTable(
    `Schools, worst first: % of devices compliant, devices by overall status, and devices not reported for more than ${stale} days`,
    columns,
    summary.bySchool,
    (row) =>
      countsRow(
        row.school,
        row.schoolId,
        row.counts,
        { schoolId: row.schoolId },
        {
          count: row.stale,
          days: stale,
        },
      ),
    { column: 1, direction: 'ascending' },
    // Equal rates: more failing devices first, then by name.
    (a, b) => b.counts.fail - a.counts.fail || a.school.localeCompare(b.school, 'en-GB'),
    'counts',
  );
}

function render(summary: ComplianceSummary): void {
  const stale = String(summary.staleDays);
  byId('totals').replaceChildren(
    h(
      'ul',
      { class: 'totals' },
      h(
        'li',
        { 'data-key': 'devices' },
        h('span', { class: 'big' }, countLink(summary.devices, 'all', {})),
        ' devices enrolled',
      ),
      ...STATUSES.map((status) =>
        h(
          'li',
          { 'data-key': status },
          h(
            'span',
            { class: 'big' },
            countLink(summary.overall[status], STATUS_WORDS[status], { status }),
          ),
          ' ',
          statusBadge(status),
        ),
      ),
      h(
        'li',
        { 'data-key': 'stale', class: summary.stale > 0 ? 'attention' : '' },
        h(
          'span',
          { class: 'big' },
          countLink(summary.stale, `not reported for ${stale} days`, { silentDays: stale }),
        ),
        ` not reported for more than ${stale} days`,
      ),
    ),
    h('p', { class: 'muted' }, 'Counted ', time(summary.generatedAt), '.'),
  );
  byId('by-check').replaceChildren(
    table(
      'Devices by status of each check (latest report of each device)',
      headers('Check'),
      summary.byCheck.map((row) =>
        countsRow(checkName(row.checkId), row.checkId, row.counts, { checkId: row.checkId }),
      ),
      'counts',
    ),
  );
  byId('by-school').replaceChildren(
    summary.bySchool.length === 0 ? h('p', {}, 'No schools yet.') : schoolTable(summary),
  );
  byId('by-group').replaceChildren(
    summary.byGroup.length === 0
      ? h('p', {}, 'No devices in any group yet.')
      : table(
          'Devices by overall status in each device group',
          headers('Device group', true),
          summary.byGroup.map((row) =>
            countsRow(
              row.group,
              row.groupId,
              row.counts,
              { groupId: row.groupId },
              {
                count: row.stale,
                days: stale,
              },
            ),
          ),
          'counts',
        ),
  );
}

async function main(): Promise<void> {
  await startPage();
  const asked = Number(new URLSearchParams(location.search).get('staleDays'));
  const staleDays = Number.isInteger(asked) && asked > 0 ? asked : DEFAULT_STALE_DAYS;
  try {
    const [summary, trend] = await Promise.all([
      getJson<ComplianceSummary>(`/summary?staleDays=${staleDays}`),
      getJson<Trend>('/trends?scope=trust'),
    ]);
    render(summary);
    drawTrend(byId('trend'), trend, 'The trust');
  } catch (error) {
    byId('totals').replaceChildren();
    showError('The summary could not be loaded. ' + describeError(error));
  }
  loaded();
}

void main();
