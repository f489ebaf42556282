// USB pieces shared by the USB page and the device page: a blocked or allowed stick as ICT reads
// it, and the "Approve this device" form. Everything about a stick was said by the stick itself
// (a pupil can make one that says anything), so it is shown as clipped text, never markup.
import type { Session, UsbApproval, UsbApprovalScope } from '../../shared/schemas/ict-api.ts';
import { call, describeError, getJson } from './api.ts';
import { h } from './dom.ts';

/** A stick's identity as events carry it. */
export interface Stick {
  vendorId: string;
  productId: string;
  serial: string | null;
  name: string;
}

/** Longest device string shown in full; longer ones end in "…" (the whole text in the title). */
const SHOWN_CHARS = 120;

/** Device-given text, clipped so that a 10 kB name cannot swamp the table. */
export function clipped(text: string): HTMLSpanElement {
  if (text.length <= SHOWN_CHARS) {
    return h('span', { class: 'device-text' }, text);
  }
  return h(
    'span',
    { class: 'device-text', title: text.slice(0, 2000) },
    text.slice(0, SHOWN_CHARS) + '…',
  );
}

/** `vendor:product`, as `lsusb` prints it. */
export const usbId = (stick: { vendorId: string; productId: string }): string =>
  `${stick.vendorId}:${stick.productId}`;

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** The stick, user, action and count of a `usb.*` event's data; null when it is not one. */
export function usbEventFields(data: Record<string, unknown>): {
  stick: Stick;
  user: string | null;
  action: string;
  basis: string;
  mode: string;
  count: number;
} | null {
  const device = data.device;
  if (typeof device !== 'object' || device === null) {
    return null;
  }
  const fields = device as Record<string, unknown>;
  const vendorId = text(fields.vendorId);
  const productId = text(fields.productId);
  if (vendorId === null || productId === null) {
    return null;
  }
  return {
    stick: { vendorId, productId, serial: text(fields.serial), name: text(fields.name) ?? '' },
    user: text(data.user),
    action: text(data.action) ?? 'unknown',
    basis: text(data.basis) ?? 'unknown',
    mode: text(data.mode) ?? 'unknown',
    count: typeof data.count === 'number' && Number.isFinite(data.count) ? data.count : 1,
  };
}

/** Words for the guard's actions. */
export const ACTION_WORDS: Record<string, string> = {
  blocked: 'Blocked',
  'read-only': 'Read-only',
  'read-write': 'Allowed',
  'left-alone': 'Left alone (system disk)',
};

/** A stick as a definition list: name, vendor:product and serial. */
export function stickFacts(stick: Stick): HTMLDListElement {
  return h(
    'dl',
    { class: 'stick' },
    h('dt', {}, 'Name'),
    h(
      'dd',
      { 'data-field': 'name' },
      stick.name === '' ? h('span', { class: 'muted' }, 'No name') : clipped(stick.name),
    ),
    h('dt', {}, 'Vendor:product'),
    h('dd', { 'data-field': 'usb-id' }, h('code', {}, clipped(usbId(stick)))),
    h('dt', {}, 'Serial'),
    h(
      'dd',
      { 'data-field': 'serial' },
      stick.serial === null
        ? h('span', { class: 'muted' }, 'None')
        : h('code', {}, clipped(stick.serial)),
    ),
  );
}

/**
 * The approval's description from what the stick calls itself. The server refuses control,
 * format and invisible characters in descriptions (server/names.ts), which a hostile stick's
 * name may hold: they become U+FFFD, visibly.
 */
export function describeStick(stick: Stick): string {
  const name = stick.name
    .toWellFormed()
    .replace(/[\p{Cc}\p{Cf}\u2028\u2029]/gu, '\uFFFD')
    .trim();
  return (name === '' ? usbId(stick) : name).slice(0, 200);
}

interface Named {
  id: string;
  name: string;
}

/** Where the form's scope starts: the device's group or school, when the page knows it. */
export interface ScopeDefault {
  scope: UsbApprovalScope;
  /** The group's or school's name (names are unique). */
  name: string | null;
}

let organisation: Promise<{ groups: Named[]; schools: Named[] }> | null = null;

/** Groups and schools, fetched once per page. */
function loadOrganisation(): Promise<{ groups: Named[]; schools: Named[] }> {
  organisation ??= Promise.all([getJson<Named[]>('/groups'), getJson<Named[]>('/schools')]).then(
    ([groups, schools]) => ({ groups, schools }),
  );
  return organisation;
}

let formCount = 0;

/**
 * The "Approve this device" form for a blocked stick (admins only). Scope: the device group, the
 * school or the trust; a reason is required; an expiry is optional. `onApproved` gets the
 * stored approval, which names the admin who made it.
 */
export function approveForm(
  stick: Stick,
  session: Session,
  start: ScopeDefault,
  onApproved: (approval: UsbApproval) => void,
): HTMLFormElement {
  formCount += 1;
  const id = (name: string) => `approve-${String(formCount)}-${name}`;
  const scope = h(
    'select',
    { id: id('scope'), name: 'scope' },
    h('option', { value: 'group' }, 'One device group'),
    h('option', { value: 'school' }, 'One school'),
    h('option', { value: 'trust' }, 'The whole trust'),
  );
  scope.value = start.scope;
  const where = h('select', { id: id('where'), name: 'where', 'aria-label': 'Group or school' });
  const reason = h('input', {
    id: id('reason'),
    name: 'reason',
    required: true,
    maxlength: 1000,
    placeholder: 'e.g. Year 11 art exam',
  });
  const expires = h('input', { id: id('expires'), name: 'expires', type: 'datetime-local' });
  const model = h('input', { id: id('model'), name: 'model', type: 'checkbox' });
  const status = h('p', { class: 'form-status', role: 'status' });
  const submit = h('button', { type: 'submit' }, 'Approve');

  const fillWhere = async (): Promise<void> => {
    if (scope.value === 'trust') {
      where.replaceChildren();
      where.hidden = true;
      return;
    }
    const { groups, schools } = await loadOrganisation();
    const rows = scope.value === 'group' ? groups : schools;
    where.replaceChildren(...rows.map((row) => h('option', { value: row.id }, row.name)));
    const preferred = rows.find((row) => row.name === start.name);
    if (preferred !== undefined) {
      where.value = preferred.id;
    }
    where.hidden = false;
  };
  scope.addEventListener('change', () => {
    void fillWhere();
  });
  void fillWhere().catch((error: unknown) => {
    status.textContent = 'Groups and schools could not be loaded. ' + describeError(error);
  });

  const form = h(
    'form',
    { class: 'approve', 'aria-label': `Approve ${stick.name === '' ? usbId(stick) : stick.name}` },
    h('p', {}, h('label', { for: id('scope') }, 'Approve for'), scope, ' ', where),
    h('p', {}, h('label', { for: id('reason') }, 'Reason (required)'), reason),
    h('p', {}, h('label', { for: id('expires') }, 'Expires (optional)'), expires),
    stick.serial === null
      ? h('p', { class: 'muted' }, 'This stick gives no serial: the approval covers its model.')
      : h(
          'p',
          { class: 'check' },
          model,
          ' ',
          h(
            'label',
            { for: id('model'), class: 'inline' },
            'Every stick of this model (any serial)',
          ),
        ),
    h('p', {}, submit),
    status,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void (async () => {
      const expiresAt = expires.value === '' ? null : new Date(expires.value);
      if (expiresAt !== null && Number.isNaN(expiresAt.getTime())) {
        status.textContent = 'The expiry is not a valid date.';
        return;
      }
      submit.disabled = true;
      try {
        const approval = await call<UsbApproval>('POST', '/usb/approvals', {
          csrfToken: session.csrfToken,
          body: {
            vendorId: stick.vendorId,
            productId: stick.productId,
            serial: model.checked ? null : stick.serial,
            description: describeStick(stick),
            scope: scope.value,
            ...(scope.value === 'trust' ? {} : { scopeId: where.value }),
            reason: reason.value.trim(),
            expiresAt: expiresAt === null ? null : expiresAt.toISOString(),
          },
        });
        status.textContent = `Approved by ${approval.approvedBy}. Devices in scope get it with their next policy fetch.`;
        onApproved(approval);
      } catch (error) {
        status.textContent = 'Not approved. ' + describeError(error);
      } finally {
        submit.disabled = false;
      }
    })();
  });
  return form;
}
