// What the accounts page says when the server refuses a change: plain words and what to do next,
// never the validator's or the store's own text.
import { ApiError, describeError } from './api.ts';

/** What the admin asked for, as the refusal describes it. */
export type AccountAction =
  'create' | 'disable' | 'enable' | 'make-admin' | 'make-viewer' | 'reset';

const DOING: Record<Exclude<AccountAction, 'create'>, string> = {
  disable: 'disable',
  enable: 're-enable',
  'make-admin': 'make an admin of',
  'make-viewer': 'make a viewer of',
  reset: 'reset the password of',
};

/** The username rule, as the create form's hint says it. */
export const USERNAME_RULE =
  'A username is letters, digits and . _ @ - only, up to 100 characters.';

/**
 * Why the change did not happen, in words. `onlyAdmin` is true when the account asking is, as the
 * page last saw it, the only enabled admin: then refusing to let it step down is the last-admin
 * rule, which is the reason to give.
 */
export function accountRefusal(
  error: unknown,
  input: { action: AccountAction; username: string; onlyAdmin: boolean },
): string {
  if (!(error instanceof ApiError)) {
    return describeError(error);
  }
  const { action, username, onlyAdmin } = input;
  const stepDown = action === 'disable' ? 'disable' : 'make a viewer of';
  switch (error.code) {
    case 'own-account':
      return onlyAdmin
        ? `You can't ${stepDown} the last admin: make another account an admin first.`
        : `You can't ${stepDown} your own account: ask another admin to do it, so that someone can always let you back in.`;
    case 'last-admin':
      return `You can't ${stepDown} the last admin: make another account an admin first.`;
    case 'not-admin':
    case 'forbidden':
      return 'Your account is no longer an admin, so it cannot change accounts. Reload the page to see what you can do.';
    case 'not-found':
      return `The account ${username} is no longer there. Reload the page to see the accounts as they are now.`;
    case 'exists':
      return `An account named ${username} exists already: choose another username.`;
    case 'invalid-user':
    case 'invalid-password':
    case 'invalid-request':
      return action === 'create'
        ? `Check the username and the password. ${USERNAME_RULE} A password needs 12 to 200 characters.`
        : 'A password needs 12 to 200 characters. Type a longer one, or leave the field empty to have one made up.';
    case 'busy':
      return 'The server is busy checking passwords. Try again in a few seconds.';
    case 'csrf':
      return 'Your session has changed since this page was loaded. Reload the page and try again.';
    default:
      return action === 'create'
        ? describeError(error)
        : `Hallpass could not ${DOING[action]} ${username}. ${describeError(error)}`;
  }
}
