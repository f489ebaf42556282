// The audit log (admins): every admin change, newest first, filtered by action, account and day
// range from the page's address (the filter form is a plain GET form). The CSV is built here from
// the entries as shown, so it holds exactly what the reader sees, in the same order.
import type { AuditAction, AuditEntry, AuditList } from '../../shared/schemas/ict-api.ts';
import { ApiError, describeError, getJson, loaded, startPage } from './api.ts';
import { byId, h, showError, table, time } from './dom.ts';

/** Each action in words, in the order the filter lists them. */
const ACTION_WORDS: Record<AuditAction, string> = {
  'token.create': 'Enrolment token created',
  'token.revoke': 'Enrolment token revoked',
  'user.create': 'Account created',
  'user.disable': 'Account disabled',
  'user.enable': 'Account re-enabled',
  'user.change-role': 'Account role changed',
  'user.reset-password': 'Account password reset',
  'usb.approve': 'USB device approved',
  'usb.revoke': 'USB approval revoked',
  'policy.upload': 'Group policy uploaded',
  'policy.rollback': 'Group policy rolled back',
  'school.create': 'School created',
  'school.rename': 'School renamed',
  'group.create': 'Device group created',
  'group.rename': 'Device group renamed',
  're-enrolment.allow': 'Re-enrolment allowed',
  're-enrolment.withdraw': 'Re-enrolment withdrawn',
  'alert-destination.create': 'Alert destination added',
  'alert-destination.enable': 'Alert destination enabled',
  'alert-destination.disable': 'Alert destination disabled',
  'alert-destination.remove': 'Alert destination removed',
  'alert-destination.test': 'Test alert sent',
  'alert-delivery.retry': 'Alert delivery retried',
  'person.export': 'Personal data exported',
};

const TARGET_WORDS: Record<string, string> = {
  'enrolment-token': 'Enrolment token',
  user: 'Account',
  'usb-approval': 'USB approval',
  'device-group': 'Device group',
  school: 'School',
  device: 'Device',
  'alert-destination': 'Alert destination',
  'alert-delivery': 'Alert delivery',
  person: 'Person (console user)',
};

const isAction = (text: string): text is AuditAction => Object.hasOwn(ACTION_WORDS, text);
const actionWords = (action: string): string => (isAction(action) ? ACTION_WORDS[action] : action);

const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** True for a real calendar day written YYYY-MM-DD. */
const isDay = (text: string): boolean =>
  DAY.test(text) && new Date(`${text}T00:00:00Z`).toISOString().slice(0, 10) === text;

/** One CSV cell (RFC 4180); a would-be spreadsheet formula is defused (OWASP CSV injection). */
function csvCell(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** A before/after value: nothing, or its JSON behind a disclosure (a policy is long). */
function stateCell(value: unknown, label: string): Node {
  if (value === null || value === undefined) {
    return h('span', { class: 'muted' }, 'Nothing');
  }
  return h(
    'details',
    { class: 'audit-state' },
    h('summary', {}, `Show ${label}`),
    h('pre', {}, JSON.stringify(value, null, 2)),
  );
}

const json = (value: unknown): string =>
  value === null || value === undefined ? '' : JSON.stringify(value);

/** The filters asked for in the address; unknown or malformed ones are dropped, with a problem. */
function readFilters(): { query: URLSearchParams; problems: string[] } {
  const asked = new URLSearchParams(location.search);
  const query = new URLSearchParams();
  const problems: string[] = [];
  const action = asked.get('action') ?? '';
  if (action !== '') {
    if (isAction(action)) {
      query.set('action', action);
    } else {
      problems.push('The action in this page’s address is not one the log records.');
    }
  }
  const actor = (asked.get('actor') ?? '').trim();
  if (actor !== '') {
    query.set('actor', actor.slice(0, 100));
  }
  for (const [name, words] of [
    ['from', 'From'],
    ['to', 'To'],
  ] as const) {
    const day = asked.get(name) ?? '';
    if (day !== '') {
      if (isDay(day)) {
        query.set(name, day);
      } else {
        problems.push(`The “${words}” date in this page’s address is not a date.`);
      }
    }
  }
  const from = query.get('from');
  const to = query.get('to');
  if (from !== null && to !== null && from > to) {
    problems.push('The “From” date is after the “To” date: swap them.');
    query.delete('from');
    query.delete('to');
  }
  return { query, problems };
}

/** Sets the form's fields to the filters in force. */
function fillForm(query: URLSearchParams, actors: string[]): void {
  const action = byId('f-action', HTMLSelectElement);
  action.replaceChildren(
    h('option', { value: '' }, 'Every action'),
    ...Object.entries(ACTION_WORDS).map(([value, words]) => h('option', { value }, words)),
  );
  action.value = query.get('action') ?? '';
  const actor = byId('f-actor', HTMLSelectElement);
  const chosen = query.get('actor');
  const names = chosen !== null && !actors.includes(chosen) ? [...actors, chosen] : actors;
  actor.replaceChildren(
    h('option', { value: '' }, 'Everyone'),
    ...names.map((name) => h('option', { value: name }, name)),
  );
  actor.value = chosen ?? '';
  byId('f-from', HTMLInputElement).value = query.get('from') ?? '';
  byId('f-to', HTMLInputElement).value = query.get('to') ?? '';
}

function render(list: AuditList, filtered: boolean): void {
  if (list.items.length === 0) {
    byId('entries').replaceChildren(
      h(
        'p',
        {},
        filtered ? 'No entry matches these filters.' : 'No admin has changed anything yet.',
      ),
    );
    return;
  }
  const caption =
    list.total > list.items.length
      ? `Newest ${String(list.items.length)} of ${String(list.total)} entries`
      : `${String(list.total)} ${list.total === 1 ? 'entry' : 'entries'}, newest first`;
  const row = (entry: AuditEntry) =>
    h(
      'tr',
      { 'data-entry': entry.id },
      h('td', {}, time(entry.at)),
      h('td', {}, entry.actor),
      h('th', { scope: 'row' }, actionWords(entry.action)),
      h(
        'td',
        {},
        TARGET_WORDS[entry.targetType] ?? entry.targetType,
        ' ',
        h('code', { class: 'device-text' }, entry.targetId),
      ),
      h('td', {}, stateCell(entry.before, 'before')),
      h('td', {}, stateCell(entry.after, 'after')),
    );
  byId('entries').replaceChildren(
    table(
      caption,
      ['When', 'Who', 'Action', 'Target', 'Before', 'After'],
      list.items.map(row),
      'audit',
    ),
  );

  const lines = [
    ['When', 'Who', 'Action', 'Target type', 'Target id', 'Before', 'After'].join(','),
    ...list.items.map((entry) =>
      [
        entry.at,
        entry.actor,
        entry.action,
        entry.targetType,
        entry.targetId,
        json(entry.before),
        json(entry.after),
      ]
        .map(csvCell)
        .join(','),
    ),
  ];
  const csv = byId('csv', HTMLAnchorElement);
  const blob = new Blob([lines.join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' });
  csv.href = URL.createObjectURL(blob);
  csv.hidden = false;
}

async function main(): Promise<void> {
  const session = await startPage();
  if (session.role !== 'admin') {
    byId('log').replaceChildren(
      h(
        'p',
        {},
        'Only admins can read the audit log. It records what named ICT staff changed; ask an admin if you need an entry.',
      ),
    );
    loaded();
    return;
  }
  const { query, problems } = readFilters();
  if (problems.length > 0) {
    showError(`${problems.join(' ')} Those filters are left out: choose again, or clear filters.`);
  }
  try {
    const text = query.toString();
    const list = await getJson<AuditList>(text === '' ? '/audit' : `/audit?${text}`);
    fillForm(query, list.actors);
    render(list, text !== '');
  } catch (error) {
    byId('entries').replaceChildren();
    const words =
      error instanceof ApiError && error.code === 'invalid-request'
        ? 'A filter is not valid. Clear filters and choose again.'
        : describeError(error);
    showError('The audit log could not be loaded. ' + words);
  }
  loaded();
}

void main();
