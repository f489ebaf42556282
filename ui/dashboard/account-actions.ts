// An account's row controls on the accounts page (admins only): disable (asked first, since it
// ends the account's sessions at once) or re-enable, make admin or viewer, and reset the password
// (typed, or made up and shown once). The server decides; a refusal is said in words.
import type { Account, AccountChange, Session } from '../../shared/schemas/ict-api.ts';
import { accountRefusal, type AccountAction } from './account-words.ts';
import { call } from './api.ts';
import { h, showError } from './dom.ts';
import { makePassword } from './make-password.ts';

/** What a row's controls need from the page. */
export interface RowContext {
  session: Session;
  /** True when the signed-in account is the only enabled admin (as last loaded). */
  onlyAdmin: boolean;
  /** Clears what the last action said, as another starts: old words never stand for new ones. */
  starting: () => void;
  /** Redraws the table, then says what was done (or nothing, after a refusal) and moves focus. */
  done: (said: string | null) => Promise<void>;
  /** Shows a made-up password once, in the page's secret box, titled for its account. */
  showPassword: (username: string, password: string) => void;
}

const path = (account: Account, what: string) => `/users/${encodeURIComponent(account.id)}/${what}`;

/** Sends one change; null after a refusal, which is shown in the page's alert. */
async function send(
  context: RowContext,
  account: Account,
  action: AccountAction,
  request: { method: 'POST' | 'PUT'; what: string; body?: unknown },
): Promise<AccountChange | null> {
  context.starting();
  try {
    const answer = await call<AccountChange>(request.method, path(account, request.what), {
      csrfToken: context.session.csrfToken,
      ...(request.body === undefined ? {} : { body: request.body }),
    });
    showError(null);
    return answer;
  } catch (error) {
    showError(
      accountRefusal(error, { action, username: account.username, onlyAdmin: context.onlyAdmin }),
    );
    return null;
  }
}

const sessionsWord = (n: number) =>
  n === 0 ? '' : ` ${String(n)} open ${n === 1 ? 'session' : 'sessions'} ended.`;

/** A button that reveals a small group of its own (a question, a form) in its place. */
function reveal(
  label: string,
  group: HTMLElement,
  first: () => HTMLElement,
): { button: HTMLButtonElement; close: () => void } {
  const button = h('button', { type: 'button' }, label);
  group.hidden = true;
  button.addEventListener('click', () => {
    button.hidden = true;
    group.hidden = false;
    first().focus();
  });
  const close = () => {
    group.hidden = true;
    button.hidden = false;
    button.focus();
  };
  return { button, close };
}

function disableControl(account: Account, context: RowContext): HTMLElement {
  const name = account.username;
  const yes = h('button', { type: 'button', class: 'danger' }, 'Yes, disable it');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const question = h(
    'div',
    { class: 'confirm', role: 'group', 'aria-label': `Disable ${name}?` },
    h('p', {}, `Disable ${name}? It can no longer sign in, and its open sessions end now.`),
    h('p', { class: 'actions' }, yes, ' ', cancel),
  );
  const { button, close } = reveal('Disable', question, () => yes);
  cancel.addEventListener('click', close);
  yes.addEventListener('click', () => {
    void (async () => {
      yes.disabled = true;
      const answer = await send(context, account, 'disable', { method: 'POST', what: 'disable' });
      yes.disabled = false;
      await context.done(
        answer === null
          ? null
          : `Disabled ${name}: it can no longer sign in.${sessionsWord(answer.sessionsEnded)}`,
      );
    })();
  });
  return h('div', {}, button, question);
}

function enableControl(account: Account, context: RowContext): HTMLElement {
  const button = h('button', { type: 'button' }, 'Enable');
  button.addEventListener('click', () => {
    void (async () => {
      button.disabled = true;
      const answer = await send(context, account, 'enable', { method: 'POST', what: 'enable' });
      button.disabled = false;
      await context.done(
        answer === null ? null : `Enabled ${account.username}: it can sign in again.`,
      );
    })();
  });
  return button;
}

function roleControl(account: Account, context: RowContext): HTMLElement {
  const toAdmin = account.role === 'viewer';
  const button = h('button', { type: 'button' }, toAdmin ? 'Make admin' : 'Make viewer');
  button.addEventListener('click', () => {
    void (async () => {
      button.disabled = true;
      const role = toAdmin ? 'admin' : 'viewer';
      const answer = await send(context, account, toAdmin ? 'make-admin' : 'make-viewer', {
        method: 'PUT',
        what: 'role',
        body: { role },
      });
      button.disabled = false;
      await context.done(
        answer === null ? null : `${account.username} is now ${toAdmin ? 'an admin' : 'a viewer'}.`,
      );
    })();
  });
  return button;
}

function resetControl(account: Account, context: RowContext): HTMLElement {
  const name = account.username;
  const id = `reset-${account.id}`;
  const input = h('input', {
    id,
    type: 'password',
    maxlength: 200,
    autocomplete: 'new-password',
    'aria-describedby': `${id}-hint`,
  });
  const set = h('button', { type: 'button', class: 'primary' }, 'Set new password');
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const form = h(
    'div',
    { class: 'confirm', role: 'group', 'aria-label': `Reset the password of ${name}` },
    h('label', { for: id }, `New password for ${name} (optional)`),
    input,
    h(
      'p',
      { id: `${id}-hint`, class: 'muted' },
      'Leave it empty to have one made up and shown once. Its open sessions end.',
    ),
    h('p', { class: 'actions' }, set, ' ', cancel),
  );
  const { button, close } = reveal('Reset password…', form, () => input);
  cancel.addEventListener('click', () => {
    input.value = '';
    close();
  });
  const submit = () => {
    const typed = input.value;
    if (typed !== '' && (typed.length < 12 || typed.length > 200)) {
      showError(
        'A password needs 12 to 200 characters. Type a longer one, or leave the field empty to have one made up.',
      );
      input.focus();
      return;
    }
    const password = typed === '' ? makePassword() : typed;
    void (async () => {
      set.disabled = true;
      const answer = await send(context, account, 'reset', {
        method: 'PUT',
        what: 'password',
        body: { password },
      });
      set.disabled = false;
      input.value = '';
      await context.done(
        answer === null
          ? null
          : `New password set for ${name}.${sessionsWord(answer.sessionsEnded)}`,
      );
      // After the redraw, which moves focus to the list: the box takes it from there.
      if (answer !== null && typed === '') {
        context.showPassword(name, password);
      }
    })();
  };
  set.addEventListener('click', submit);
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      submit();
    }
  });
  return h('div', {}, button, form);
}

/**
 * The controls of one account's row. The signed-in admin's own row has no reset: a reset ends the
 * account's sessions, this page's among them, and a made-up password would be lost with the page.
 */
export function accountActions(account: Account, context: RowContext): HTMLElement {
  const own = account.username === context.session.username;
  const enabled = account.disabledAt === null;
  return h(
    'div',
    { class: 'row-actions' },
    enabled ? disableControl(account, context) : enableControl(account, context),
    roleControl(account, context),
    own
      ? h('span', { class: 'muted' }, 'Your password: another admin resets it.')
      : resetControl(account, context),
  );
}
