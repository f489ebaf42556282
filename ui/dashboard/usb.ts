// The trust's USB page: blocked sticks grouped by vendor, product and serial (how often, on how
// many devices, by whom, last seen), a warning where one serial is seen on different sticks, and
// ICT's approvals with who made them, why, until when, and a revoke button.
import type {
  Session,
  UsbApproval,
  UsbBlockedDevice,
  UsbBlockedList,
} from '../../shared/schemas/ict-api.ts';
import { call, describeError, getJson, loaded, startPage } from './api.ts';
import { byId, h, showError, table, time } from './dom.ts';
import { approveForm, clipped, stickFacts, usbId } from './usb-view.ts';

const SCOPE_WORDS = { group: 'Device group', school: 'School', trust: 'Whole trust' } as const;

function blockedRow(stick: UsbBlockedDevice, session: Session): HTMLTableRowElement {
  const name = stick.names[0] ?? '';
  const users = stick.users.map((user) => (user === null ? 'nobody signed in' : user));
  return h(
    'tr',
    { 'data-stick': `${usbId(stick)}/${stick.serial ?? ''}` },
    h(
      'th',
      { scope: 'row' },
      stick.names.length === 0
        ? h('span', { class: 'muted' }, 'No name')
        : h('ul', { class: 'plain' }, ...stick.names.map((n) => h('li', {}, clipped(n)))),
    ),
    h('td', {}, h('code', {}, clipped(usbId(stick)))),
    h(
      'td',
      {},
      stick.serial === null
        ? h('span', { class: 'muted' }, 'None')
        : h('code', {}, clipped(stick.serial)),
      stick.sharedSerial &&
        h(
          'p',
          { class: 'flag shared-serial' },
          'Serial seen on different sticks: approve the model or check each stick.',
        ),
    ),
    h('td', { class: 'number' }, stick.blocks),
    h('td', { class: 'number' }, stick.devices),
    h('td', {}, h('ul', { class: 'plain' }, ...users.map((user) => h('li', {}, clipped(user))))),
    h('td', {}, time(stick.lastSeenAt)),
    h(
      'td',
      {},
      session.role === 'admin'
        ? h(
            'details',
            { class: 'approve' },
            h('summary', {}, 'Approve this device'),
            approveForm(
              { vendorId: stick.vendorId, productId: stick.productId, serial: stick.serial, name },
              session,
              { scope: 'group', name: null },
              () => {
                void loadApprovals(session);
              },
            ),
          )
        : '',
    ),
  );
}

/** Active, expired or revoked (by whom, when). */
function state(approval: UsbApproval, now: number): Node {
  if (approval.revokedAt !== null) {
    return h(
      'span',
      {},
      `Revoked by ${approval.revokedBy ?? 'unknown'} `,
      time(approval.revokedAt),
    );
  }
  if (approval.expiresAt !== null && Date.parse(approval.expiresAt) <= now) {
    return h('span', { class: 'muted' }, 'Expired');
  }
  return h('strong', {}, 'Active');
}

function approvalRow(approval: UsbApproval, session: Session, now: number): HTMLTableRowElement {
  const open =
    approval.revokedAt === null &&
    (approval.expiresAt === null || Date.parse(approval.expiresAt) > now);
  const revoke = h('button', { type: 'button' }, 'Revoke');
  revoke.addEventListener('click', () => {
    void (async () => {
      revoke.disabled = true;
      try {
        await call('POST', `/usb/approvals/${encodeURIComponent(approval.id)}/revoke`, {
          csrfToken: session.csrfToken,
        });
        showError(null);
        await loadApprovals(session);
      } catch (error) {
        revoke.disabled = false;
        showError('The approval could not be revoked. ' + describeError(error));
      }
    })();
  });
  return h(
    'tr',
    { 'data-approval': approval.id },
    h('th', { scope: 'row' }, stickFacts({ ...approval, name: approval.description })),
    h(
      'td',
      {},
      SCOPE_WORDS[approval.scope],
      approval.scopeName === null ? '' : h('span', {}, ': ', approval.scopeName),
    ),
    h('td', {}, approval.reason),
    h('td', {}, approval.approvedBy, ' ', time(approval.createdAt)),
    h('td', {}, time(approval.expiresAt, 'No expiry')),
    h('td', {}, state(approval, now)),
    h('td', {}, open && session.role === 'admin' ? revoke : ''),
  );
}

async function loadApprovals(session: Session): Promise<void> {
  const approvals = await getJson<UsbApproval[]>('/usb/approvals');
  const now = Date.now();
  byId('approvals').replaceChildren(
    approvals.length === 0
      ? h('p', {}, 'No USB device has been approved from the dashboard yet.')
      : table(
          'USB approvals, newest first',
          ['Device', 'Scope', 'Reason', 'Approved by', 'Expires', 'State', 'Action'],
          approvals.map((approval) => approvalRow(approval, session, now)),
          'approvals',
        ),
  );
}

async function main(): Promise<void> {
  const session = await startPage();
  try {
    const [blocked] = await Promise.all([
      getJson<UsbBlockedList>('/usb/blocked'),
      loadApprovals(session),
    ]);
    byId('blocked').replaceChildren(
      blocked.items.length === 0
        ? h('p', {}, `No USB storage was blocked in the last ${String(blocked.days)} days.`)
        : table(
            `Blocked in the last ${String(blocked.days)} days, most often first`,
            [
              'Device',
              'Vendor:product',
              'Serial',
              'Blocked',
              'Devices',
              'Users',
              'Last seen',
              'Action',
            ],
            blocked.items.map((stick) => blockedRow(stick, session)),
            'blocked',
          ),
    );
  } catch (error) {
    byId('blocked').replaceChildren();
    showError('USB storage could not be loaded. ' + describeError(error));
  }
  loaded();
}

void main();
