// ICT accounts: the list (any account; admins also see each one's latest sign-in), and for admins
// a form that creates an account (with a typed password, or one made up and shown once) and each
// row's controls (account-actions.ts). The server refuses a viewer's writes whatever this page
// does; it leaves the controls out so as not to offer them.
import type { Account, Session } from '../../shared/schemas/ict-api.ts';
import { accountActions, type RowContext } from './account-actions.ts';
import { accountRefusal, USERNAME_RULE } from './account-words.ts';
import { call, describeError, getJson, loaded, startPage } from './api.ts';
import { byId, h, showError, time } from './dom.ts';
import { makePassword } from './make-password.ts';
import { wireSecretBox } from './secret-box.ts';
import { sortableTable, type SortColumn } from './sortable-table.ts';

const ROLE_WORDS = { admin: 'Admin', viewer: 'Viewer' } as const;

/** Says what an action did, in the status line above the table. */
function say(message: string): void {
  byId('action-status').textContent = message;
}

/** Shows a made-up password once; Done sends focus back to the list. */
function showPassword(username: string, password: string): void {
  byId('secret-heading').textContent = `Copy the new password for ${username} now`;
  byId('secret-value').textContent = password;
  byId('copy-status').textContent = '';
  byId('secret').hidden = false;
  byId('secret').focus();
}

const dateValue = (iso: string | null | undefined) =>
  iso === null || iso === undefined ? null : Date.parse(iso);

function columns(admin: boolean): SortColumn<Account>[] {
  return [
    { label: 'Username', value: (a) => a.username },
    { label: 'Role', value: (a) => ROLE_WORDS[a.role] },
    { label: 'State', value: (a) => (a.disabledAt === null ? 'Enabled' : 'Disabled') },
    // Only admins are told when colleagues sign in (the API leaves it out for viewers).
    ...(admin ? [{ label: 'Last sign-in', value: (a: Account) => dateValue(a.lastSignInAt) }] : []),
    { label: 'Password set', value: (a) => dateValue(a.passwordChangedAt) },
    { label: 'Created', value: (a) => dateValue(a.createdAt) },
  ];
}

function accountRow(account: Account, session: Session, context: RowContext | null) {
  const own = account.username === session.username;
  return h(
    'tr',
    { 'data-account': account.id },
    h(
      'th',
      { scope: 'row' },
      account.username,
      own ? h('span', { class: 'muted' }, ' (you)') : null,
    ),
    h('td', { 'data-field': 'role' }, ROLE_WORDS[account.role]),
    h(
      'td',
      { 'data-field': 'state' },
      account.disabledAt === null
        ? h('strong', {}, 'Enabled')
        : h('span', {}, 'Disabled ', time(account.disabledAt)),
    ),
    ...(context === null ? [] : [h('td', {}, time(account.lastSignInAt ?? null, 'Not recorded'))]),
    h('td', {}, time(account.passwordChangedAt)),
    h('td', {}, time(account.createdAt)),
    ...(context === null ? [] : [h('td', {}, accountActions(account, context))]),
  );
}

async function loadAccounts(session: Session): Promise<void> {
  const accounts = await getJson<Account[]>('/users');
  const admin = session.role === 'admin';
  const enabledAdmins = accounts.filter((a) => a.role === 'admin' && a.disabledAt === null);
  const context: RowContext | null = admin
    ? {
        session,
        onlyAdmin: enabledAdmins.length === 1 && enabledAdmins[0]?.username === session.username,
        starting: () => {
          say('');
        },
        done: async (said) => {
          await reload(session);
          // Said once the table shows it, so the words never describe a table not yet redrawn.
          say(said ?? '');
          byId('list-heading').focus();
        },
        showPassword,
      }
    : null;
  byId('accounts').replaceChildren(
    sortableTable(
      'ICT accounts',
      columns(admin),
      accounts,
      (account) => accountRow(account, session, context),
      { column: 0, direction: 'ascending' },
      (a, b) => a.username.localeCompare(b.username, 'en-GB'),
      'accounts',
      admin ? ['Actions'] : [],
    ),
  );
}

async function reload(session: Session): Promise<void> {
  try {
    await loadAccounts(session);
  } catch (error) {
    showError('The accounts could not be loaded. ' + describeError(error));
  }
}

/** The form's values, or the first problem in words (and the field to go back to). */
function readForm():
  | { ok: true; username: string; role: 'admin' | 'viewer'; password: string | null }
  | { ok: false; message: string; field: HTMLElement } {
  const username = byId('u-username', HTMLInputElement);
  const password = byId('u-password', HTMLInputElement);
  const name = username.value.trim();
  if (!/^[A-Za-z0-9._@-]{1,100}$/.test(name)) {
    return {
      ok: false,
      message: name === '' ? 'Type a username.' : USERNAME_RULE,
      field: username,
    };
  }
  const typed = password.value;
  if (typed !== '' && (typed.length < 12 || typed.length > 200)) {
    return {
      ok: false,
      message:
        'A password needs 12 to 200 characters. Type a longer one, or leave it empty to have one made up.',
      field: password,
    };
  }
  const role = byId('u-role', HTMLSelectElement).value === 'admin' ? 'admin' : 'viewer';
  return { ok: true, username: name, role, password: typed === '' ? null : typed };
}

function wireCreate(session: Session): void {
  byId('create-section').hidden = false;
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
    const password = form.password ?? makePassword();
    void (async () => {
      button.disabled = true;
      status.textContent = '';
      try {
        await call('POST', '/users', {
          csrfToken: session.csrfToken,
          body: { username: form.username, role: form.role, password },
        });
        byId('u-username', HTMLInputElement).value = '';
        byId('u-password', HTMLInputElement).value = '';
        await reload(session);
        status.textContent = `Created ${form.username} (${form.role}).`;
        if (form.password === null) {
          showPassword(form.username, password);
        }
      } catch (error) {
        status.textContent =
          'The account was not created. ' +
          accountRefusal(error, { action: 'create', username: form.username, onlyAdmin: false });
      } finally {
        button.disabled = false;
      }
    })();
  });
}

async function main(): Promise<void> {
  const session = await startPage();
  const admin = session.role === 'admin';
  if (admin) {
    wireSecretBox({ copied: 'Copied. Give it to its owner now.', noun: 'password' }, () =>
      byId('list-heading'),
    );
  } else {
    // Not merely hidden: a viewer's page holds no form and no secret box at all.
    byId('create-section').remove();
    byId('secret').remove();
  }
  try {
    await loadAccounts(session);
    if (admin) {
      wireCreate(session);
    }
    byId('viewer-note').hidden = admin;
  } catch (error) {
    byId('accounts').replaceChildren();
    showError('The accounts could not be loaded. ' + describeError(error));
  }
  loaded();
}

void main();
