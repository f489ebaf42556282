// The sign-in page: username and password → a session cookie, then on to `next`.
import type { Session } from '../../shared/schemas/ict-api.ts';
import { ApiError, call, describeError, safeNext } from './api.ts';
import { byId, showError } from './dom.ts';

const form = byId('sign-in-form', HTMLFormElement);
const username = byId('username', HTMLInputElement);
const password = byId('password', HTMLInputElement);
const submit = byId('submit', HTMLButtonElement);
const next = safeNext(new URLSearchParams(location.search).get('next'));

/** The line to show for a refused sign-in. */
function refusal(error: unknown): string {
  if (error instanceof ApiError && error.status === 401) {
    // Never say which of the two was wrong: that would confirm which usernames exist.
    return 'The username or password is not right. Check them and try again.';
  }
  if (error instanceof ApiError && error.status === 429) {
    const minutes = error.retryAfter === null ? null : Math.ceil(error.retryAfter / 60);
    return (
      'Too many failed sign-in attempts. ' +
      (minutes === null
        ? 'Wait a while and try again.'
        : `Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`)
    );
  }
  return 'Sign-in failed. ' + describeError(error);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (username.value.trim() === '' || password.value === '') {
    showError('Enter your username and your password.');
    (username.value.trim() === '' ? username : password).focus();
    return;
  }
  submit.disabled = true;
  showError(null);
  call<Session>('POST', '/session', {
    body: { username: username.value.trim(), password: password.value },
  }).then(
    () => {
      location.assign(next);
    },
    (error: unknown) => {
      showError(refusal(error));
      password.value = '';
      password.focus();
      submit.disabled = false;
    },
  );
});

// Already signed in (another tab, say): go straight on.
call<Session>('GET', '/session').then(
  () => {
    location.replace(next);
  },
  () => undefined,
);
