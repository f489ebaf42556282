// The overview: compliance per check and per school, and how many devices have gone quiet.
// Every count links to the device list filtered to exactly those devices.
import type { ComplianceSummary, Trend } from '../../shared/schemas/ict-api.ts';
import { describeError, getJson, loaded, startPage } from './api.ts';
import {
  compliance,
  countLink,
  countsHeaders as headers,
  countsRow,
  totalOf,
} from './counts-table.ts';
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
      countsRow({
        name: row.school,
        key: row.schoolId,
        counts: row.counts,
        filters: { schoolId: row.schoolId },
        stale: { count: row.stale, days: stale },
        href: `/schools/${row.schoolId}`,
      }),
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
        countsRow({
          name: checkName(row.checkId),
          key: row.checkId,
          counts: row.counts,
          filters: { checkId: row.checkId },
        }),
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
            countsRow({
              name: row.group,
              key: row.groupId,
              counts: row.counts,
              filters: { groupId: row.groupId },
              stale: { count: row.stale, days: stale },
            }),
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
