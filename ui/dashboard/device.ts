// One device: its facts, the latest result of each check, the history of status changes and
// recent events. Everything here was written by the device, so all of it is shown as text.
import type { DeviceDetail, StoredEvent } from '../../shared/schemas/ict-api.ts';
import { ApiError, describeError, getJson, loaded, startPage } from './api.ts';
import { byId, checkName, h, showError, statusBadge, table, time } from './dom.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A definition list of label → value. */
function facts(rows: [string, Node | string][]): HTMLDListElement {
  return h(
    'dl',
    { class: 'facts' },
    ...rows.flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]),
  );
}

/** Event data as `path: value` lines: readable, and never parsed as markup. */
function flatten(data: unknown, prefix = ''): string[] {
  if (data !== null && typeof data === 'object') {
    return Object.entries(data).flatMap(([key, value]) =>
      flatten(value, prefix === '' ? key : `${prefix}.${key}`),
    );
  }
  return [`${prefix}: ${typeof data === 'string' ? data : JSON.stringify(data)}`];
}

function eventRow(event: StoredEvent): HTMLTableRowElement {
  const lines = flatten(event.data);
  return h(
    'tr',
    {},
    h('td', {}, time(event.occurredAt)),
    h('th', { scope: 'row' }, event.type),
    h(
      'td',
      {},
      lines.length === 0
        ? ''
        : h('ul', { class: 'plain' }, ...lines.map((line) => h('li', {}, line))),
    ),
  );
}

function render(detail: DeviceDetail): void {
  const { device } = detail;
  document.title = `${device.hostname} · Hallpass`;
  byId('title').replaceChildren(device.hostname, ' ', statusBadge(device.overall));
  if (device.cloneSuspect) {
    byId('clone-flag').replaceChildren(
      h('p', {}, h('strong', {}, 'Possible cloned image. ')),
      h(
        'p',
        {},
        'Another enrolled device reports the same machine id, as happens when a disk image ' +
          'is copied to several machines. Both devices are kept and flagged, never merged. ' +
          'Check which machine this is, then re-image or re-enrol it.',
      ),
    );
    byId('clone-flag').hidden = false;
  }
  const os = detail.facts.os;
  byId('facts').replaceChildren(
    facts([
      ['Hostname', device.hostname],
      ['Overall status', statusBadge(device.overall)],
      ['School', device.school],
      ['Device group', device.group],
      ['Operating system', `${os.distro} ${os.version} (build ${os.build}, ${os.arch})`],
      ['Model', `${detail.facts.manufacturer} ${detail.facts.model}`],
      ['Serial', device.serial ?? 'Not known'],
      ['Agent version', detail.facts.agentVersion],
      ['Policy version', detail.policyVersion === null ? 'None yet' : String(detail.policyVersion)],
      ['Enrolled', time(detail.enrolledAt)],
      ['Last report', time(device.lastReportAt)],
      ['Last contact', time(device.lastSeenAt)],
      ['Device id', h('code', {}, device.id)],
    ]),
  );
  byId('checks').replaceChildren(
    detail.checks.length === 0
      ? h('p', {}, 'This device has not reported any check yet.')
      : table(
          'Latest result of each check',
          ['Check', 'Status', 'Summary', 'What to do', 'Measured', 'Status since', 'Evidence'],
          detail.checks.map((check) =>
            h(
              'tr',
              { 'data-check': check.checkId },
              h('th', { scope: 'row' }, checkName(check.checkId)),
              h('td', {}, statusBadge(check.status)),
              h(
                'td',
                {},
                check.summary,
                check.reason !== null &&
                  h('p', { class: 'reason' }, `Why: ${check.reason.detail} (${check.reason.code})`),
              ),
              h('td', {}, check.remediation ?? ''),
              h('td', {}, time(check.measuredAt)),
              h('td', {}, time(check.changedAt)),
              h(
                'td',
                {},
                h(
                  'details',
                  {},
                  h('summary', {}, 'Evidence'),
                  h('pre', {}, JSON.stringify(check.evidence, null, 2)),
                ),
              ),
            ),
          ),
        ),
  );
  byId('history').replaceChildren(
    detail.history.length === 0
      ? h('p', {}, 'No status changes recorded.')
      : table(
          'Status changes, newest first',
          ['Measured', 'Check', 'From', 'To', 'Summary'],
          detail.history.map((change) =>
            h(
              'tr',
              { 'data-check': change.checkId },
              h('td', {}, time(change.measuredAt)),
              h('th', { scope: 'row' }, checkName(change.checkId)),
              h('td', {}, change.from === null ? 'First report' : statusBadge(change.from)),
              h('td', {}, statusBadge(change.to)),
              h('td', {}, change.summary),
            ),
          ),
        ),
  );
  byId('events').replaceChildren(
    detail.events.length === 0
      ? h('p', {}, 'No events recorded.')
      : table(
          'Recent events, newest first',
          ['When', 'Event', 'Details'],
          detail.events.map(eventRow),
        ),
  );
}

async function main(): Promise<void> {
  await startPage();
  const id = location.pathname.split('/').pop() ?? '';
  try {
    if (!UUID.test(id)) {
      throw new ApiError(404, 'not-found', 'No such device.', null);
    }
    render(await getJson<DeviceDetail>(`/devices/${encodeURIComponent(id)}`));
  } catch (error) {
    byId('facts').replaceChildren();
    showError(
      error instanceof ApiError && error.status === 404
        ? 'There is no device with this id. It may have been removed; go back to the device list.'
        : 'The device could not be loaded. ' + describeError(error),
    );
  }
  loaded();
}

void main();
