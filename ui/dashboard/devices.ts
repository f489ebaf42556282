// The device list: filters live in the page's URL (so a filtered list can be bookmarked and
// shared), the same filters go to the API, to the CSV link and to the paging links.
import type { DeviceList, DeviceListItem } from '../../shared/schemas/ict-api.ts';
import { API, describeError, getJson, loaded, startPage } from './api.ts';
import { CHECK_NAMES, byId, h, showError, statusBadge, table, time } from './dom.ts';

interface Named {
  id: string;
  name: string;
}

/** URL parameters that filter the list, in the API's own names. */
const FILTER_KEYS = ['status', 'checkId', 'schoolId', 'groupId', 'silentDays', 'search'] as const;
const PAGE_SIZE = 50;

const url = new URLSearchParams(location.search);

/** The filters in this page's URL, empty ones left out. */
function filtersFromUrl(): URLSearchParams {
  const filters = new URLSearchParams();
  for (const key of FILTER_KEYS) {
    const value = url.get(key)?.trim() ?? '';
    if (value !== '') {
      filters.set(key, value);
    }
  }
  return filters;
}

/** A whole number from the URL, or the fallback when absent or not one. */
function wholeNumber(key: string, fallback: number): number {
  const value = Number(url.get(key) ?? '');
  return url.has(key) && Number.isInteger(value) && value >= 0 ? value : fallback;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Each filter's label on the form and the rule its value must meet, said in plain words. */
const FILTER_RULES: Record<(typeof FILTER_KEYS)[number], [string, (v: string) => boolean, string]> =
  {
    status: [
      'Status',
      (v) => ['pass', 'fail', 'warn', 'unknown', 'none'].includes(v),
      'is not one of the statuses in the list',
    ],
    checkId: ['Check', (v) => v in CHECK_NAMES, 'is not one of the checks in the list'],
    schoolId: ['School', (v) => UUID.test(v), 'is not one of the schools in the list'],
    groupId: ['Device group', (v) => UUID.test(v), 'is not one of the device groups in the list'],
    silentDays: [
      'Not reported for (days)',
      (v) => /^[0-9]{1,4}$/.test(v) && Number(v) >= 1 && Number(v) <= 3650,
      'must be a whole number of days from 1 to 3650',
    ],
    search: ['Hostname or serial', (v) => v.length <= 100, 'must be 100 characters or fewer'],
  };

/**
 * What is wrong with the URL's filters, in the form's own words, or null when nothing is: the
 * API's refusal names schema paths, which mean nothing to the person reading the page.
 */
function filterProblems(chosen: URLSearchParams): string | null {
  const problems: string[] = [];
  for (const key of FILTER_KEYS) {
    const value = chosen.get(key);
    const [label, valid, rule] = FILTER_RULES[key];
    if (value !== null && !valid(value)) {
      problems.push(`“${label}” ${rule}`);
    }
  }
  if (problems.length === 0) {
    return null;
  }
  return (
    `The filters in this page’s address are not valid: ${problems.join('; ')}. ` +
    'Correct them below and choose Apply filters, or choose Clear filters to see every device.'
  );
}

const filters = filtersFromUrl();
const limit = Math.min(Math.max(wholeNumber('limit', PAGE_SIZE), 1), 1000);
// Pages follow a keyset cursor: the devices after (or before) a device id in hostname order, as
// cheap on the last page as on the first. `start` is the first row's number, for the caption only.
const after = url.get('after') ?? undefined;
const before = after === undefined ? (url.get('before') ?? undefined) : undefined;
// Links from before the cursors paged by offset; they still work.
const offset = after === undefined && before === undefined ? wholeNumber('offset', 0) : 0;
const start = Math.max(wholeNumber('start', offset + 1), 1);

/** This page with the current filters and another position (start 1: the first page). */
function pageUrl(page: { after?: string; before?: string; start: number }): string {
  const query = new URLSearchParams(filters);
  if (url.has('limit')) {
    query.set('limit', String(limit));
  }
  if (page.start > 1) {
    if (page.after !== undefined) {
      query.set('after', page.after);
    } else if (page.before !== undefined) {
      query.set('before', page.before);
    }
    query.set('start', String(page.start));
  }
  const text = query.toString();
  return text === '' ? '/devices' : '/devices?' + text;
}

function fillOptions(select: HTMLSelectElement, options: readonly Named[]): void {
  select.append(...options.map((option) => h('option', { value: option.id }, option.name)));
}

/** Shows the URL's filters in the form, and sends a filtered URL (no empty fields) on submit. */
function setUpForm(schools: readonly Named[], groups: readonly Named[]): void {
  const form = byId('filters', HTMLFormElement);
  fillOptions(
    byId('f-check', HTMLSelectElement),
    Object.entries(CHECK_NAMES).map(([id, name]) => ({ id, name })),
  );
  fillOptions(byId('f-school', HTMLSelectElement), schools);
  fillOptions(byId('f-group', HTMLSelectElement), groups);
  for (const key of FILTER_KEYS) {
    const control = form.elements.namedItem(key);
    if (control instanceof HTMLInputElement || control instanceof HTMLSelectElement) {
      control.value = filters.get(key) ?? '';
    }
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (typeof value === 'string' && value.trim() !== '') {
        chosen.set(key, value.trim());
      }
    }
    if (url.has('limit')) {
      chosen.set('limit', String(limit));
    }
    // New filters start again at the first page.
    const query = chosen.toString();
    location.assign(query === '' ? '/devices' : '/devices?' + query);
  });
  const csvQuery = filters.toString();
  byId('csv', HTMLAnchorElement).href =
    `${API}/devices.csv${csvQuery === '' ? '' : '?' + csvQuery}`;
}

function deviceRow(device: DeviceListItem): HTMLTableRowElement {
  return h(
    'tr',
    { 'data-id': device.id },
    h('th', { scope: 'row' }, h('a', { href: `/devices/${device.id}` }, device.hostname)),
    h('td', {}, statusBadge(device.overall)),
    h('td', {}, device.school),
    h('td', {}, device.group),
    h('td', {}, device.os),
    h('td', {}, device.serial ?? h('span', { class: 'muted' }, 'Not known')),
    h('td', {}, time(device.lastReportAt)),
    h('td', {}, device.cloneSuspect ? h('span', { class: 'flag' }, 'Possible cloned image') : ''),
  );
}

function render(list: DeviceList): void {
  const last = start + list.items.length - 1;
  let caption = `Devices ${String(start)}–${String(last)} of ${String(list.total)}`;
  if (list.total === 0) {
    caption = 'No devices match these filters.';
  } else if (list.items.length === 0) {
    caption = 'No more devices match these filters.';
  }
  byId('results').replaceChildren(
    list.items.length === 0
      ? h('p', { id: 'result-count' }, caption)
      : table(
          caption,
          [
            'Hostname',
            'Overall status',
            'School',
            'Group',
            'Operating system',
            'Serial',
            'Last report',
            'Flags',
          ],
          list.items.map(deviceRow),
        ),
  );
  const links: Node[] = [];
  const firstItem = list.items[0];
  const lastItem = list.items.at(-1);
  if (firstItem !== undefined && start > 1) {
    const previous = { before: firstItem.id, start: Math.max(start - limit, 1) };
    links.push(h('a', { href: pageUrl(previous), rel: 'prev' }, 'Previous'));
  } else if (firstItem === undefined && start > 1) {
    links.push(h('a', { href: pageUrl({ start: 1 }) }, 'First page'));
  }
  if (lastItem !== undefined && last < list.total) {
    links.push(
      h('a', { href: pageUrl({ after: lastItem.id, start: last + 1 }), rel: 'next' }, 'Next'),
    );
  }
  byId('paging').replaceChildren(...links);
}

async function main(): Promise<void> {
  await startPage();
  const query = new URLSearchParams(filters);
  query.set('limit', String(limit));
  if (after !== undefined) {
    query.set('after', after);
  } else if (before !== undefined) {
    query.set('before', before);
  } else if (offset > 0) {
    query.set('offset', String(offset));
  }
  const problems = filterProblems(filters);
  const [schools, groups, list] = await Promise.allSettled([
    getJson<Named[]>('/schools'),
    getJson<Named[]>('/groups'),
    problems === null
      ? getJson<DeviceList>('/devices?' + query.toString())
      : Promise.reject(new Error(problems)),
  ]);
  // The form works even when the list does not: a bad filter in the URL can be corrected.
  setUpForm(
    schools.status === 'fulfilled' ? schools.value : [],
    groups.status === 'fulfilled' ? groups.value : [],
  );
  if (list.status === 'fulfilled') {
    render(list.value);
  } else {
    byId('results').replaceChildren();
    showError(problems ?? 'The device list could not be loaded. ' + describeError(list.reason));
  }
  loaded();
}

void main();
