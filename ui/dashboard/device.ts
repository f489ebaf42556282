// One device: its facts, the latest result of each check, the history of status changes and
// recent events. Everything here was written by the device, so all of it is shown as text.
import type { DeviceDetail, Session, StoredEvent } from '../../shared/schemas/ict-api.ts';
import { ApiError, call, describeError, getJson, loaded, startPage } from './api.ts';
import { byId, checkName, h, showError, statusBadge, table, time } from './dom.ts';
import { ACTION_WORDS, approveForm, clipped, stickFacts, usbEventFields } from './usb-view.ts';

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

/**
 * A usb.* event: the stick (name, vendor:product, serial), what the guard did, for whom and how
 * often; a blocked one can be approved from here (admins) for this device's group by default.
 */
function usbDetails(event: StoredEvent, detail: DeviceDetail, session: Session): Node | null {
  const usb = event.type.startsWith('usb.') ? usbEventFields(event.data) : null;
  if (usb === null) {
    return null;
  }
  const times = usb.count === 1 ? 'once' : `${String(usb.count)} times`;
  return h(
    'div',
    { class: 'usb-event' },
    stickFacts(usb.stick),
    h(
      'p',
      { 'data-field': 'decision' },
      `${ACTION_WORDS[usb.action] ?? usb.action} ${times} (${usb.basis}, mode ${usb.mode}) for `,
      usb.user === null ? 'nobody signed in' : clipped(usb.user),
    ),
    event.type === 'usb.blocked' &&
      session.role === 'admin' &&
      h(
        'details',
        { class: 'approve' },
        h('summary', {}, 'Approve this device'),
        approveForm(usb.stick, session, { scope: 'group', name: detail.device.group }, () => {
          // The form itself says who approved it; nothing else on this page changes.
        }),
      ),
  );
}

function eventRow(event: StoredEvent, detail: DeviceDetail, session: Session): HTMLTableRowElement {
  const usb = usbDetails(event, detail, session);
  const lines = usb === null ? flatten(event.data) : [];
  return h(
    'tr',
    { 'data-type': event.type },
    h('td', {}, time(event.occurredAt)),
    h('th', { scope: 'row' }, event.type),
    h(
      'td',
      {},
      usb ??
        (lines.length === 0
          ? ''
          : h('ul', { class: 'plain' }, ...lines.map((line) => h('li', {}, line)))),
    ),
  );
}

/** A link to another device's page (a replacement chain). */
function deviceLink(id: string): HTMLAnchorElement {
  return h('a', { href: `/devices/${encodeURIComponent(id)}` }, h('code', {}, id));
}

/** How long one approval of re-enrolment lasts when given from this page. */
const APPROVAL_HOURS = 24;

/**
 * Replacement chain and ICT's approval of re-enrolment (issue 12). Without an approval only
 * the device's own key can replace it; an admin allows one replacement after a reimage.
 */
function renderIdentity(detail: DeviceDetail, session: Session): void {
  const { identity } = detail;
  const box = byId('identity');
  const rows: Node[] = [];
  if (identity.retiredAt !== null) {
    rows.push(
      h(
        'p',
        {},
        h('strong', {}, 'Retired '),
        time(identity.retiredAt),
        identity.replacedBy === null
          ? ''
          : h('span', {}, ', replaced by ', deviceLink(identity.replacedBy)),
        '. It can no longer report.',
      ),
    );
  }
  if (identity.replaces !== null) {
    rows.push(h('p', {}, 'Replaces ', deviceLink(identity.replaces), '.'));
  }
  if (identity.retiredAt === null) {
    rows.push(
      h(
        'p',
        { id: 're-enrolment-state' },
        identity.reenrolmentAllowedUntil === null
          ? 'Re-enrolment: only with this device’s own key.'
          : h(
              'span',
              {},
              'Re-enrolment allowed until ',
              time(identity.reenrolmentAllowedUntil),
              ' (once, with an enrolment token of its school).',
            ),
      ),
    );
    if (session.role === 'admin') {
      const allowed = identity.reenrolmentAllowedUntil !== null;
      const button = h(
        'button',
        { type: 'button', id: 're-enrolment' },
        allowed
          ? 'Withdraw re-enrolment'
          : `Allow re-enrolment for ${String(APPROVAL_HOURS)} hours`,
      );
      button.addEventListener('click', () => {
        void changeReenrolment(detail.device.id, allowed, session);
      });
      rows.push(
        h(
          'p',
          { class: 'muted' },
          'Allow it after re-imaging this device, when its key is lost: the next enrolment ' +
            'naming this device replaces it.',
        ),
        h('p', {}, button),
      );
    }
  }
  box.replaceChildren(...rows);
}

async function changeReenrolment(id: string, allowed: boolean, session: Session): Promise<void> {
  const path = `/devices/${encodeURIComponent(id)}/re-enrolment`;
  try {
    await (allowed
      ? call('DELETE', path, { csrfToken: session.csrfToken })
      : call('POST', path, { body: { hours: APPROVAL_HOURS }, csrfToken: session.csrfToken }));
    renderIdentity(await getJson<DeviceDetail>(`/devices/${encodeURIComponent(id)}`), session);
    showError(null);
  } catch (error) {
    showError('Re-enrolment could not be changed. ' + describeError(error));
  }
}

function render(detail: DeviceDetail, session: Session): void {
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
  renderIdentity(detail, session);
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
          detail.events.map((event) => eventRow(event, detail, session)),
        ),
  );
}

async function main(): Promise<void> {
  const session = await startPage();
  const id = location.pathname.split('/').pop() ?? '';
  try {
    if (!UUID.test(id)) {
      throw new ApiError(404, 'not-found', 'No such device.', null);
    }
    render(await getJson<DeviceDetail>(`/devices/${encodeURIComponent(id)}`), session);
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
