// Alerts: where they go and what became of each delivery (any account), and for admins a form that
// adds a destination (a webhook's signing secret shown once), and per destination a test, disable
// or enable, and remove (asked first); a failed delivery can be queued again. The server refuses a
// viewer's writes whatever this page does; it hides the controls so as not to offer them.
import type {
  AlertDelivery,
  AlertDestination,
  CreatedAlertDestination,
} from '../../shared/schemas/alerts.ts';
import type { Session } from '../../shared/schemas/ict-api.ts';
import { ApiError, call, describeError, getJson, loaded, startPage } from './api.ts';
import { byId, h, showError, table, time } from './dom.ts';
import { wireSecretBox } from './secret-box.ts';

interface Named {
  id: string;
  name: string;
}

/** A refusal in words for a form: the validator's own words are never shown. */
function refusal(error: unknown): string {
  if (error instanceof ApiError && error.code === 'invalid-request') {
    return 'The server did not accept these values. Check each field and try again.';
  }
  return describeError(error);
}

const nameOf = (d: AlertDestination) => (d.label === '' ? d.target : d.label);

/** Says what an action did, in the status line above the table. */
function say(message: string): void {
  byId('action-status').textContent = message;
}

async function act(
  session: Session,
  method: 'POST' | 'DELETE',
  path: string,
  failed: string,
): Promise<{ answer: unknown } | null> {
  try {
    const answer = await call<unknown>(method, path, { csrfToken: session.csrfToken });
    showError(null);
    return { answer };
  } catch (error) {
    showError(`${failed} ${refusal(error)}`);
    return null;
  }
}

/** The Remove button, and the question it asks before it removes. */
function removeControl(destination: AlertDestination, session: Session): HTMLElement {
  const name = nameOf(destination);
  const remove = h('button', { type: 'button' }, 'Remove');
  const confirm = h('button', { type: 'button', class: 'danger' }, 'Yes, remove it');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const question = h(
    'div',
    { class: 'confirm', role: 'group', 'aria-label': `Remove ${name}?` },
    h('p', {}, `Remove “${name}”? It gets no more alerts, and its deliveries leave the list.`),
    h('p', { class: 'actions' }, confirm, ' ', cancel),
  );
  question.hidden = true;
  remove.addEventListener('click', () => {
    remove.hidden = true;
    question.hidden = false;
    confirm.focus();
  });
  cancel.addEventListener('click', () => {
    question.hidden = true;
    remove.hidden = false;
    remove.focus();
  });
  confirm.addEventListener('click', () => {
    void (async () => {
      confirm.disabled = true;
      const path = `/alerts/destinations/${encodeURIComponent(destination.id)}`;
      const removed = await act(session, 'DELETE', path, 'The destination was not removed.');
      // Said once the table shows it, so the words never describe a table not yet redrawn.
      await reload(session);
      if (removed !== null) {
        say(`Removed ${name}.`);
      }
      byId('destinations-heading').focus();
    })();
  });
  return h('div', {}, remove, question);
}

function actions(destination: AlertDestination, session: Session): HTMLElement {
  const name = nameOf(destination);
  const path = `/alerts/destinations/${encodeURIComponent(destination.id)}`;
  const test = h('button', { type: 'button' }, 'Send test');
  test.addEventListener('click', () => {
    void (async () => {
      test.disabled = true;
      say(`Sending a test alert to ${name}…`);
      const done = await act(session, 'POST', `${path}/test`, 'The test alert could not be sent.');
      const sent = done === null ? null : (done.answer as AlertDelivery);
      if (sent !== null) {
        say(
          sent.status === 'delivered'
            ? `Test alert delivered to ${name}.`
            : `The test alert did not get through to ${name}: ${sent.lastError ?? 'no reason given'} Hallpass will try again.`,
        );
      } else {
        say('');
      }
      test.disabled = false;
      await loadDeliveries(session);
    })();
  });
  const verb = destination.enabled ? 'disable' : 'enable';
  const toggle = h('button', { type: 'button' }, destination.enabled ? 'Disable' : 'Enable');
  toggle.addEventListener('click', () => {
    void (async () => {
      toggle.disabled = true;
      const done = await act(
        session,
        'POST',
        `${path}/${verb}`,
        `The destination was not ${verb}d.`,
      );
      await reload(session);
      if (done !== null) {
        say(`${destination.enabled ? 'Disabled' : 'Enabled'} ${name}.`);
      }
      byId('destinations-heading').focus();
    })();
  });
  return h(
    'div',
    { class: 'row-actions' },
    test,
    ' ',
    toggle,
    ' ',
    removeControl(destination, session),
  );
}

function destinationRow(d: AlertDestination, session: Session): HTMLTableRowElement {
  return h(
    'tr',
    { 'data-destination': d.id },
    h('th', { scope: 'row', class: 'wrap' }, d.label === '' ? d.target : d.label),
    h('td', { class: 'wrap' }, d.label === '' ? '' : d.target),
    h('td', {}, d.kind === 'email' ? 'Email' : 'Webhook'),
    h('td', {}, d.school ?? 'Whole trust'),
    h('td', {}, d.mode === 'digest' ? 'Daily digest' : 'Immediately'),
    h(
      'td',
      {},
      d.secretMasked === null
        ? h('span', { class: 'muted' }, 'None')
        : h('code', {}, d.secretMasked),
    ),
    h('td', { 'data-field': 'state' }, d.enabled ? h('strong', {}, 'Enabled') : 'Disabled'),
    ...(session.role === 'admin' ? [h('td', {}, actions(d, session))] : []),
  );
}

async function loadDestinations(session: Session): Promise<void> {
  const list = await getJson<AlertDestination[]>('/alerts/destinations');
  byId('destinations').replaceChildren(
    list.length === 0
      ? h('p', {}, 'No destination yet: alerts are found but sent nowhere.')
      : table(
          'Alert destinations',
          [
            'Destination',
            'Address',
            'Sent by',
            'Alerts of',
            'How often',
            'Signing secret',
            'State',
            ...(session.role === 'admin' ? ['Actions'] : []),
          ],
          list.map((d) => destinationRow(d, session)),
          'alert-destinations',
        ),
  );
}

/** What a delivery was, in words. */
function deliveryKind(d: AlertDelivery): string {
  switch (d.kind) {
    case 'digest':
      return `Daily digest, ${d.day ?? ''}`;
    case 'immediate':
      return 'Alert';
    case 'test':
      return 'Test';
  }
}

/** Where a delivery stands, in words. */
function deliveryState(d: AlertDelivery): HTMLElement {
  switch (d.status) {
    case 'delivered':
      return h('span', {}, h('strong', {}, 'Delivered'), ' ', time(d.deliveredAt));
    case 'pending':
      return d.attempts === 0
        ? h('span', {}, 'Waiting to be sent')
        : h(
            'span',
            {},
            h('strong', {}, 'Retrying'),
            ` after ${String(d.attempts)} of ${String(d.maxAttempts)} attempts; next `,
            time(d.nextAttemptAt),
          );
    case 'failed':
      return h(
        'span',
        { class: 'status-fail' },
        `Failed: gave up after ${String(d.attempts)} attempts`,
      );
  }
}

function deliveryRow(d: AlertDelivery, session: Session): HTMLTableRowElement {
  let action: HTMLElement | string = '';
  if (session.role === 'admin' && d.status === 'failed') {
    const retry = h('button', { type: 'button' }, 'Try again');
    retry.addEventListener('click', () => {
      void (async () => {
        retry.disabled = true;
        const path = `/alerts/deliveries/${encodeURIComponent(d.id)}/retry`;
        const queued = await act(session, 'POST', path, 'The delivery was not queued again.');
        await loadDeliveries(session);
        if (queued !== null) {
          say(`The delivery to ${d.destination} is queued again: it is sent within a minute.`);
        }
        byId('deliveries-heading').focus();
      })();
    });
    action = retry;
  }
  return h(
    'tr',
    { 'data-delivery': d.id },
    h('td', {}, time(d.createdAt)),
    h('th', { scope: 'row', class: 'wrap' }, d.destination),
    h('td', {}, deliveryKind(d)),
    h('td', { class: 'number' }, String(d.itemCount)),
    h('td', { 'data-field': 'status' }, deliveryState(d)),
    h('td', { class: 'wrap' }, d.lastError ?? h('span', { class: 'muted' }, 'None')),
    ...(session.role === 'admin' ? [h('td', {}, action)] : []),
  );
}

async function loadDeliveries(session: Session): Promise<void> {
  const list = await getJson<AlertDelivery[]>('/alerts/deliveries?limit=100');
  byId('deliveries').replaceChildren(
    list.length === 0
      ? h('p', {}, 'Nothing has been sent yet.')
      : table(
          'Recent alert deliveries, newest first',
          [
            'Queued',
            'Destination',
            'What',
            'Items',
            'Status',
            'Last error',
            ...(session.role === 'admin' ? ['Action'] : []),
          ],
          list.map((d) => deliveryRow(d, session)),
          'alert-deliveries',
        ),
  );
}

async function reload(session: Session): Promise<void> {
  try {
    await Promise.all([loadDestinations(session), loadDeliveries(session)]);
  } catch (error) {
    showError('Alerts could not be loaded. ' + describeError(error));
  }
}

const EMAIL = /^[^\s@<>,;:"()[\]\\]+@[^\s@<>,;:"()[\]\\]+\.[^\s@<>,;:"()[\]\\]+$/;

/** The form's values, or the first problem in words (and the field to go back to). */
function readForm():
  { ok: true; body: Record<string, unknown> } | { ok: false; message: string; field: HTMLElement } {
  const kind = byId('a-kind', HTMLSelectElement).value;
  const target = byId('a-target', HTMLInputElement);
  const label = byId('a-label', HTMLInputElement);
  const text = target.value.trim();
  if (kind === 'email' && !EMAIL.test(text)) {
    return {
      ok: false,
      message: 'Enter one email address, like ict@school.example.',
      field: target,
    };
  }
  if (kind === 'webhook' && !/^https?:\/\/\S+$/.test(text)) {
    return { ok: false, message: 'Enter the full webhook address, from https://.', field: target };
  }
  const school = byId('a-school', HTMLSelectElement).value;
  return {
    ok: true,
    body: {
      kind,
      target: text,
      label: label.value.trim(),
      schoolId: school === '' ? null : school,
      mode: byId('a-mode', HTMLSelectElement).value,
    },
  };
}

async function wireCreate(session: Session): Promise<void> {
  const schools = await getJson<Named[]>('/schools');
  byId('a-school', HTMLSelectElement).replaceChildren(
    h('option', { value: '' }, 'The whole trust'),
    ...schools.map((s) => h('option', { value: s.id }, s.name)),
  );
  const kind = byId('a-kind', HTMLSelectElement);
  kind.addEventListener('change', () => {
    byId('a-target-label').textContent =
      kind.value === 'email' ? 'Email address' : 'Webhook address (https://…)';
  });
  byId('create-section').hidden = false;
  wireSecretBox({ copied: 'Copied. Paste it into the receiver’s settings now.', noun: 'secret' });
  const status = byId('create-status');
  const button = byId('create-button', HTMLButtonElement);
  byId('create', HTMLFormElement).addEventListener('submit', (event) => {
    event.preventDefault();
    const form = readForm();
    if (!form.ok) {
      status.textContent = form.message;
      form.field.focus();
      return;
    }
    void (async () => {
      button.disabled = true;
      status.textContent = '';
      try {
        const created = await call<CreatedAlertDestination>('POST', '/alerts/destinations', {
          csrfToken: session.csrfToken,
          body: form.body,
        });
        status.textContent = `Added ${nameOf(created.destination)}.`;
        byId('a-target', HTMLInputElement).value = '';
        byId('a-label', HTMLInputElement).value = '';
        if (created.secret !== null) {
          byId('secret-value').textContent = created.secret;
          byId('copy-status').textContent = '';
          byId('secret').hidden = false;
          byId('secret').focus();
        }
        await reload(session);
      } catch (error) {
        status.textContent = 'The destination was not added. ' + refusal(error);
      } finally {
        button.disabled = false;
      }
    })();
  });
}

async function main(): Promise<void> {
  const session = await startPage();
  if (session.role !== 'admin') {
    byId('create-section').remove();
  }
  try {
    await Promise.all([
      loadDestinations(session),
      loadDeliveries(session),
      session.role === 'admin' ? wireCreate(session) : Promise.resolve(),
    ]);
    byId('viewer-note').hidden = session.role === 'admin';
  } catch (error) {
    showError('Alerts could not be loaded. ' + describeError(error));
  }
  loaded();
}

void main();
