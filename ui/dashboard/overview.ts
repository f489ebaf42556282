// The overview: compliance per check and per school, and how many devices have gone quiet.
// Every count links to the device list filtered to exactly those devices.
import type { ComplianceSummary, StatusCounts } from '../../shared/schemas/ict-api.ts';
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

/** One table row: a header cell, then a linked count per status. */
function countsRow(
  name: string,
  key: string,
  counts: StatusCounts,
  filters: Record<string, string>,
): HTMLTableRowElement {
  const total = STATUSES.reduce((sum, status) => sum + counts[status], 0);
  return h(
    'tr',
    { 'data-key': key },
    h('th', { scope: 'row' }, name),
    ...STATUSES.map((status) =>
      h(
        'td',
        { class: 'number', 'data-status': status },
        countLink(counts[status], `${name}, ${STATUS_WORDS[status]}`, { ...filters, status }),
      ),
    ),
    h('td', { class: 'number', 'data-status': 'total' }, total.toLocaleString('en-GB')),
  );
}

const headers = (first: string) => [first, ...STATUSES.map((s) => STATUS_WORDS[s]), 'Total'];

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
    summary.bySchool.length === 0
      ? h('p', {}, 'No schools yet.')
      : table(
          'Devices by overall status in each school',
          headers('School'),
          summary.bySchool.map((row) =>
            countsRow(row.school, row.schoolId, row.counts, { schoolId: row.schoolId }),
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
    render(await getJson<ComplianceSummary>(`/summary?staleDays=${staleDays}`));
  } catch (error) {
    byId('totals').replaceChildren();
    showError('The summary could not be loaded. ' + describeError(error));
  }
  loaded();
}

void main();
