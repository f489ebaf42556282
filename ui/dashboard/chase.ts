// The chase list: failing devices with their failing checks as columns, failing since, last user
// and last contact. Sortable by any column; the CSV is built here from the rows as shown, so it
// holds exactly what the reader sees, in the same order.
import type { ChaseItem, ChaseList } from '../../shared/schemas/ict-api.ts';
import { describeError, getJson, loaded, startPage } from './api.ts';
import { byId, checkName, h, showError, statusBadge, time } from './dom.ts';
import { sortableTable, type SortColumn } from './sortable-table.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** When the device's longest-failing check turned to fail. */
const oldestFailure = (item: ChaseItem): string => item.failing.map((f) => f.since).sort()[0] ?? '';

const dateFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium' });

/** One CSV cell (RFC 4180); a would-be spreadsheet formula is defused (OWASP CSV injection). */
function csvCell(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

function render(list: ChaseList, schoolId: string | null): void {
  if (list.items.length === 0) {
    byId('results').replaceChildren(h('p', {}, 'No device is failing a check. Nothing to chase.'));
    return;
  }
  // Failing checks as columns: every check that fails on at least one listed device.
  const checkIds = [...new Set(list.items.flatMap((i) => i.failing.map((f) => f.checkId)))].sort();
  const sinceOf = (item: ChaseItem, checkId: string) =>
    item.failing.find((f) => f.checkId === checkId)?.since ?? null;
  const statusOf = (item: ChaseItem, checkId: string) =>
    item.checks.find((c) => c.checkId === checkId)?.status ?? null;

  const columns: (SortColumn<ChaseItem> & { text: (item: ChaseItem) => string })[] = [
    { label: 'Device', value: (i) => i.hostname, text: (i) => i.hostname },
    { label: 'School', value: (i) => i.school, text: (i) => i.school },
    ...checkIds.map((checkId) => ({
      label: checkName(checkId),
      // Failing first (by date), then the other statuses.
      value: (i: ChaseItem) => sinceOf(i, checkId) ?? `~${statusOf(i, checkId) ?? ''}`,
      text: (i: ChaseItem) => {
        const since = sinceOf(i, checkId);
        return since === null ? (statusOf(i, checkId) ?? 'no report') : `fail since ${since}`;
      },
    })),
    { label: 'Failing since', value: oldestFailure, text: oldestFailure },
    { label: 'Last user', value: (i) => i.lastUser, text: (i) => i.lastUser ?? '' },
    { label: 'Last contact', value: (i) => i.lastSeenAt, text: (i) => i.lastSeenAt ?? '' },
  ];
  const row = (item: ChaseItem) =>
    h(
      'tr',
      { 'data-key': item.id },
      h('th', { scope: 'row' }, h('a', { href: `/devices/${item.id}` }, item.hostname)),
      h('td', {}, item.school),
      ...checkIds.map((checkId) => {
        const since = sinceOf(item, checkId);
        return h(
          'td',
          { 'data-check': checkId },
          statusBadge(statusOf(item, checkId)),
          since === null ? null : h('span', { class: 'since' }, ' since ', time(since)),
        );
      }),
      h(
        'td',
        {},
        h(
          'time',
          { datetime: oldestFailure(item) },
          dateFormat.format(new Date(oldestFailure(item))),
        ),
      ),
      h('td', {}, item.lastUser ?? h('span', { class: 'muted' }, 'Not known')),
      h('td', {}, time(item.lastSeenAt)),
    );
  const caption =
    list.total > list.items.length
      ? `${String(list.items.length)} longest-failing of ${String(list.total)} failing devices`
      : `${String(list.total)} failing ${list.total === 1 ? 'device' : 'devices'}`;
  const wrapper = sortableTable(
    caption,
    columns,
    list.items,
    row,
    { column: columns.length - 3, direction: 'ascending' },
    (a, b) => a.hostname.localeCompare(b.hostname, 'en-GB'),
  );
  byId('results').replaceChildren(wrapper);

  const csv = byId('csv', HTMLAnchorElement);
  csv.hidden = false;
  csv.download = schoolId === null ? 'chase-list.csv' : `chase-list-${schoolId}.csv`;
  csv.addEventListener('click', () => {
    // The rows in the order the table shows them now, read from the table itself.
    const shown = [...wrapper.querySelectorAll('tbody tr')].flatMap((tr) => {
      const item = list.items.find((i) => i.id === tr.getAttribute('data-key'));
      return item === undefined ? [] : [item];
    });
    const lines = [
      columns.map((c) => csvCell(c.label)).join(','),
      ...shown.map((item) => columns.map((c) => csvCell(c.text(item))).join(',')),
    ];
    const blob = new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' });
    URL.revokeObjectURL(csv.href);
    csv.href = URL.createObjectURL(blob);
  });
}

async function main(): Promise<void> {
  await startPage();
  const asked = new URLSearchParams(location.search).get('schoolId');
  const schoolId = asked !== null && UUID.test(asked) ? asked : null;
  if (asked !== null && schoolId === null) {
    showError(
      'The school in this page’s address is not valid. Choose a school from the overview, or see the whole trust’s chase list.',
    );
  }
  try {
    const list = await getJson<ChaseList>(
      schoolId === null ? '/chase-list' : `/chase-list?schoolId=${schoolId}`,
    );
    if (schoolId !== null) {
      byId('title').textContent = `Chase list: ${list.items[0]?.school ?? 'this school'}`;
    }
    render(list, schoolId);
  } catch (error) {
    byId('results').replaceChildren();
    showError('The chase list could not be loaded. ' + describeError(error));
  }
  loaded();
}

void main();
