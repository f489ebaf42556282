// Enrolment tokens: the list (any account), and for admins a form that creates one, shows its
// secret once with a copy button, and a revoke button per token that asks first. The server
// refuses a viewer's writes whatever this page does; it hides the controls so as not to offer them.
import type { Session, Token } from '../../shared/schemas/ict-api.ts';
import { ApiError, call, describeError, getJson, loaded, startPage } from './api.ts';
import { byId, h, showError, table, time } from './dom.ts';
import { wireSecretBox } from './secret-box.ts';

interface Named {
  id: string;
  name: string;
}

/** Active, or why not: revoked, expired or used up. */
function state(token: Token, now: number): { word: string; open: boolean } {
  if (token.revokedAt !== null) {
    return { word: 'Revoked', open: false };
  }
  if (Date.parse(token.expiresAt) <= now) {
    return { word: 'Expired', open: false };
  }
  if (token.uses >= token.maxUses) {
    return { word: 'Used up', open: false };
  }
  return { word: 'Active', open: true };
}

/** A refusal in words for a form: the validator's own words are never shown. */
function refusal(error: unknown): string {
  if (error instanceof ApiError && error.code === 'invalid-request') {
    return 'The server did not accept these values. Check each field and try again.';
  }
  return describeError(error);
}

/** The Revoke button, and the question it asks before it revokes. */
function revokeControl(token: Token, session: Session): HTMLElement {
  const name = token.label === '' ? `${token.school} / ${token.group}` : token.label;
  const revoke = h('button', { type: 'button', class: 'revoke' }, 'Revoke');
  const confirm = h('button', { type: 'button', class: 'danger' }, 'Yes, revoke it');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const question = h(
    'div',
    { class: 'confirm', role: 'group', 'aria-label': `Revoke ${name}?` },
    h(
      'p',
      {},
      `Revoke “${name}”? Devices can no longer enrol with it. Devices already enrolled stay.`,
    ),
    h('p', { class: 'actions' }, confirm, ' ', cancel),
  );
  question.hidden = true;
  revoke.addEventListener('click', () => {
    revoke.hidden = true;
    question.hidden = false;
    confirm.focus();
  });
  cancel.addEventListener('click', () => {
    question.hidden = true;
    revoke.hidden = false;
    revoke.focus();
  });
  confirm.addEventListener('click', () => {
    void (async () => {
      confirm.disabled = true;
      try {
        await call('POST', `/tokens/${encodeURIComponent(token.id)}/revoke`, {
          csrfToken: session.csrfToken,
        });
        showError(null);
        await loadTokens(session);
        byId('list-heading').focus();
      } catch (error) {
        confirm.disabled = false;
        showError('The token was not revoked. ' + refusal(error));
      }
    })();
  });
  return h('div', {}, revoke, question);
}

function tokenRow(token: Token, session: Session, now: number): HTMLTableRowElement {
  const { word, open } = state(token, now);
  return h(
    'tr',
    { 'data-token': token.id },
    h(
      'th',
      { scope: 'row' },
      token.label === '' ? h('span', { class: 'muted' }, 'No label') : token.label,
    ),
    h('td', {}, token.school),
    h('td', {}, token.group),
    h('td', { class: 'number' }, `${String(token.uses)} of ${String(token.maxUses)}`),
    h('td', {}, time(token.expiresAt)),
    h(
      'td',
      { 'data-field': 'state' },
      open ? h('strong', {}, word) : word,
      token.revokedAt === null ? '' : h('span', {}, ' ', time(token.revokedAt)),
    ),
    h('td', {}, time(token.createdAt)),
    ...(session.role === 'admin' ? [h('td', {}, open ? revokeControl(token, session) : '')] : []),
  );
}

async function loadTokens(session: Session): Promise<void> {
  const tokens = await getJson<Token[]>('/tokens');
  const now = Date.now();
  byId('tokens').replaceChildren(
    tokens.length === 0
      ? h('p', {}, 'No enrolment token has been made yet.')
      : table(
          'Enrolment tokens, newest first',
          [
            'Label',
            'School',
            'Device group',
            'Uses so far',
            'Expires',
            'State',
            'Created',
            ...(session.role === 'admin' ? ['Action'] : []),
          ],
          tokens.map((token) => tokenRow(token, session, now)),
          'tokens',
        ),
  );
}

/** A whole number in [min, max] from a number field, or null. */
function wholeNumber(input: HTMLInputElement, min: number, max: number): number | null {
  const text = input.value.trim();
  if (!/^\d{1,6}$/.test(text)) {
    return null;
  }
  const value = Number(text);
  return value >= min && value <= max ? value : null;
}

/** The form's values, or the first problem in words (and the field to go back to). */
function readForm():
  | {
      ok: true;
      body: {
        schoolId: string;
        groupId: string;
        label: string;
        maxUses: number;
        expiresInDays: number;
      };
    }
  | { ok: false; message: string; field: HTMLElement } {
  const school = byId('t-school', HTMLSelectElement);
  const group = byId('t-group', HTMLSelectElement);
  const label = byId('t-label', HTMLInputElement);
  const uses = byId('t-uses', HTMLInputElement);
  const days = byId('t-days', HTMLInputElement);
  if (school.value === '') {
    return { ok: false, message: 'Choose a school.', field: school };
  }
  if (group.value === '') {
    return { ok: false, message: 'Choose a device group.', field: group };
  }
  const maxUses = wholeNumber(uses, 1, 100_000);
  if (maxUses === null) {
    return {
      ok: false,
      message: 'The number of uses must be a whole number from 1 to 100,000.',
      field: uses,
    };
  }
  const expiresInDays = wholeNumber(days, 1, 365);
  if (expiresInDays === null) {
    return {
      ok: false,
      message: 'The expiry must be a whole number of days, 1 to 365.',
      field: days,
    };
  }
  const text = label.value.trim();
  if (text.length > 200) {
    return { ok: false, message: 'The label can be at most 200 characters.', field: label };
  }
  return {
    ok: true,
    body: { schoolId: school.value, groupId: group.value, label: text, maxUses, expiresInDays },
  };
}

/** Shows a new token's secret, once, with its copy button; "Done" clears it from the page. */
function showSecret(secret: string): void {
  const box = byId('secret');
  byId('secret-value').textContent = secret;
  byId('copy-status').textContent = '';
  box.hidden = false;
  box.focus();
}

async function wireCreate(session: Session): Promise<void> {
  const [schools, groups] = await Promise.all([
    getJson<Named[]>('/schools'),
    getJson<Named[]>('/groups'),
  ]);
  const fill = (id: string, rows: Named[], noun: string) => {
    byId(id, HTMLSelectElement).replaceChildren(
      h('option', { value: '' }, `Choose a ${noun}`),
      ...rows.map((row) => h('option', { value: row.id }, row.name)),
    );
  };
  fill('t-school', schools, 'school');
  fill('t-group', groups, 'device group');
  byId('create-section').hidden = false;
  wireSecretBox({ copied: 'Copied. Paste it where it is needed now.', noun: 'token' });
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
        const created = await call<{ id: string; token: string }>('POST', '/tokens', {
          csrfToken: session.csrfToken,
          body: form.body,
        });
        status.textContent = 'Token created.';
        showSecret(created.token);
        await loadTokens(session);
      } catch (error) {
        status.textContent = 'The token was not created. ' + refusal(error);
      } finally {
        button.disabled = false;
      }
    })();
  });
}

async function main(): Promise<void> {
  const session = await startPage();
  if (session.role !== 'admin') {
    // Not merely hidden: a viewer's page holds no create form at all.
    byId('create-section').remove();
  }
  try {
    await Promise.all([
      loadTokens(session),
      session.role === 'admin' ? wireCreate(session) : Promise.resolve(),
    ]);
    byId('viewer-note').hidden = session.role === 'admin';
  } catch (error) {
    byId('tokens').replaceChildren();
    showError('Enrolment tokens could not be loaded. ' + describeError(error));
  }
  loaded();
}

void main();
