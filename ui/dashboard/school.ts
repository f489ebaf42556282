// One school's page, opened from the overview's school table: its compliance per check, its
// daily trend, the devices that have gone quiet and the failures that have lasted longest.
// Every count links to the device list filtered to exactly those devices, as on the overview.
import type { QuietDevice, SchoolPage } from '../../shared/schemas/school-page.ts';
import { ApiError, describeError, getJson, loaded, startPage } from './api.ts';
import { countLink, countsHeaders, countsRow } from './counts-table.ts';
import { byId, checkName, h, showError, table, time } from './dom.ts';
import { drawTrend } from './trend-chart.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DEFAULT_STALE_DAYS = 7;
const DAY_MS = 86_400_000;

const dateFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium' });

/** Whole days between two instants, never below zero. */
const daysBetween = (from: string, to: string): number =>
  Math.max(0, Math.floor((Date.parse(to) - Date.parse(from)) / DAY_MS));

const plural = (n: number, one: string, many: string): string =>
  `${n.toLocaleString('en-GB')} ${n === 1 ? one : many}`;

function renderChecks(page: SchoolPage): void {
  const schoolId = page.school.id;
  const rows = [
    countsRow({
      name: 'All checks (overall status)',
      key: 'overall',
      counts: page.overall,
      filters: { schoolId },
    }),
    ...page.byCheck.map((row) =>
      countsRow({
        name: checkName(row.checkId),
        key: row.checkId,
        counts: row.counts,
        filters: { schoolId, checkId: row.checkId },
      }),
    ),
  ];
  byId('checks').replaceChildren(
    h(
      'p',
      {},
      countLink(page.devices, `all of ${page.school.name}`, { schoolId }),
      ` ${page.devices === 1 ? 'device' : 'devices'} enrolled. Counted `,
      time(page.generatedAt),
      '.',
    ),
    page.devices === 0
      ? h('p', {}, 'No devices enrolled at this school yet.')
      : table(
          `${page.school.name}: % of devices compliant and devices by status of each check (latest report of each device)`,
          countsHeaders('Check'),
          rows,
          'counts',
        ),
  );
}

/** Why a quiet device is listed, in words. */
function quietState(device: QuietDevice, page: SchoolPage): string {
  const parts: string[] = [];
  if (device.neverReported) {
    parts.push('never reported');
  }
  if (device.stale) {
    const since = device.lastSeenAt ?? device.enrolledAt;
    parts.push(
      `${device.lastSeenAt === null ? 'enrolled' : 'silent for'} ${plural(daysBetween(since, page.generatedAt), 'day', 'days')}${device.lastSeenAt === null ? ' ago' : ''}`,
    );
  }
  const text = parts.join(', ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function renderQuiet(page: SchoolPage): void {
  const schoolId = page.school.id;
  const days = String(page.staleDays);
  const summary = h(
    'ul',
    { class: 'totals' },
    h(
      'li',
      { 'data-key': 'stale', class: page.stale > 0 ? 'attention' : '' },
      h(
        'span',
        { class: 'big' },
        countLink(page.stale, `${page.school.name}, not reported for ${days} days`, {
          schoolId,
          silentDays: days,
        }),
      ),
      ` not reported for more than ${days} days`,
    ),
    h(
      'li',
      { 'data-key': 'never-reported', class: page.neverReported > 0 ? 'attention' : '' },
      h(
        'span',
        { class: 'big' },
        countLink(page.neverReported, `${page.school.name}, never reported`, {
          schoolId,
          status: 'none',
        }),
      ),
      ' never reported',
    ),
  );
  if (page.quiet.length === 0) {
    byId('quiet').replaceChildren(summary, h('p', {}, 'Every device has reported recently.'));
    return;
  }
  const cut = page.quiet.length >= page.quietLimit;
  byId('quiet').replaceChildren(
    summary,
    table(
      cut
        ? `The ${String(page.quietLimit)} longest-silent stale or never-reported devices; the device list has them all`
        : 'Stale and never-reported devices, longest silent first',
      ['Device', 'Device group', 'Last contact', 'Enrolled', 'State'],
      page.quiet.map((device) =>
        h(
          'tr',
          { 'data-key': device.id },
          h('th', { scope: 'row' }, h('a', { href: `/devices/${device.id}` }, device.hostname)),
          h('td', {}, device.group),
          h('td', {}, time(device.lastSeenAt)),
          h('td', {}, time(device.enrolledAt)),
          h('td', {}, quietState(device, page)),
        ),
      ),
    ),
  );
}

function renderFailures(page: SchoolPage): void {
  const { failures } = page;
  if (failures.items.length === 0) {
    byId('failures').replaceChildren(
      h('p', {}, 'No device at this school is failing a check. Nothing to chase.'),
    );
    return;
  }
  // One row per failing check of the longest-failing devices, the oldest failure first.
  const rows = failures.items
    .flatMap((item) => item.failing.map((failing) => ({ item, failing })))
    .sort(
      (a, b) =>
        a.failing.since.localeCompare(b.failing.since) ||
        a.item.hostname.localeCompare(b.item.hostname, 'en-GB') ||
        a.failing.checkId.localeCompare(b.failing.checkId),
    );
  const caption =
    failures.total > failures.items.length
      ? `Failing checks of the ${String(failures.items.length)} longest-failing of ${String(failures.total)} failing devices, oldest first`
      : `Failing checks of ${plural(failures.total, 'failing device', 'failing devices')}, oldest first`;
  byId('failures').replaceChildren(
    table(
      caption,
      ['Device', 'Check', 'Failing since', 'Last contact'],
      rows.map(({ item, failing }) =>
        h(
          'tr',
          { 'data-key': `${item.id}/${failing.checkId}` },
          h('th', { scope: 'row' }, h('a', { href: `/devices/${item.id}` }, item.hostname)),
          h('td', {}, checkName(failing.checkId)),
          h(
            'td',
            {},
            h(
              'time',
              { datetime: failing.since, title: failing.since },
              dateFormat.format(new Date(failing.since)),
            ),
          ),
          h('td', {}, time(item.lastSeenAt)),
        ),
      ),
    ),
    h(
      'p',
      {},
      h(
        'a',
        { href: `/chase?schoolId=${page.school.id}` },
        `${page.school.name}’s chase list: ${plural(failures.total, 'failing device', 'failing devices')}`,
      ),
    ),
  );
}

function render(page: SchoolPage): void {
  byId('title').textContent = page.school.name;
  document.title = `${page.school.name} · Hallpass`;
  byId('governors-report', HTMLAnchorElement).href =
    `/api/v1/ict/reports/governors.pdf?schoolId=${encodeURIComponent(page.school.id)}`;
  byId('report').hidden = false;
  renderChecks(page);
  drawTrend(byId('trend'), page.trend, page.school.name);
  renderQuiet(page);
  renderFailures(page);
}

async function main(): Promise<void> {
  await startPage();
  const id = location.pathname.split('/').pop() ?? '';
  const asked = Number(new URLSearchParams(location.search).get('staleDays'));
  const staleDays = Number.isInteger(asked) && asked > 0 ? asked : DEFAULT_STALE_DAYS;
  try {
    // The server answers an unknown or malformed id with its own error page; this covers a school
    // removed after the page was served.
    if (!UUID.test(id)) {
      throw new ApiError(404, 'not-found', 'No such school.', null);
    }
    render(await getJson<SchoolPage>(`/schools/${id}/compliance?staleDays=${String(staleDays)}`));
  } catch (error) {
    byId('checks').replaceChildren();
    showError(
      error instanceof ApiError && error.status === 404
        ? 'There is no school with this id. It may have been removed; choose a school from the overview.'
        : 'The school could not be loaded. ' + describeError(error),
    );
  }
  loaded();
}

void main();
