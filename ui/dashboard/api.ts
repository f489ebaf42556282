// The dashboard's calls to the ICT API (/api/v1/ict): session cookie auth, the CSRF token on
// every change, and one way of going to the sign-in page when the session is gone.
import type { Session } from '../../shared/schemas/ict-api.ts';
import { byId } from './dom.ts';

/** Where the ICT API lives, relative to the dashboard's origin. */
export const API = '/api/v1/ict';

/** An answer other than 2xx, with the server's `{ error, message }` when it sent one. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** Seconds from Retry-After, when the server said. */
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, retryAfter: number | null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/**
 * Sends a request to the ICT API; JSON body in (or `text`, sent as it is with its media type),
 * parsed JSON (or null) out.
 */
export async function call<T>(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: {
    body?: unknown;
    text?: { type: string; body: string };
    csrfToken?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<T> {
  const headers: Record<string, string> = { ...options.headers, accept: 'application/json' };
  let body: string | undefined;
  if (options.text !== undefined) {
    headers['content-type'] = options.text.type;
    body = options.text.body;
  } else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  if (options.csrfToken !== undefined) {
    headers['x-csrf-token'] = options.csrfToken;
  }
  const response = await fetch(API + path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text === '' ? null : JSON.parse(text);
  } catch {
    // Not JSON (a proxy's error page, say): report the status alone.
  }
  if (!response.ok) {
    const problem = (json ?? {}) as { error?: unknown; message?: unknown };
    const retry = Number(response.headers.get('retry-after'));
    throw new ApiError(
      response.status,
      typeof problem.error === 'string' ? problem.error : 'http-' + String(response.status),
      typeof problem.message === 'string' ? problem.message : response.statusText,
      Number.isFinite(retry) && retry > 0 ? retry : null,
    );
  }
  return json as T;
}

/**
 * Only a path on this site may follow sign-in: `//evil.example` or `https://…` in `next` would
 * make the sign-in page an open redirect.
 */
export function safeNext(raw: string | null): string {
  if (raw === null || !raw.startsWith('/') || raw.startsWith('//') || raw.includes('\\')) {
    return '/';
  }
  return raw;
}

/** Leaves for the sign-in page, coming back here afterwards; never resolves. */
export function goToSignIn(): Promise<never> {
  const next = location.pathname + location.search;
  location.replace('/sign-in?next=' + encodeURIComponent(next));
  return new Promise<never>(() => undefined);
}

/** GET from the ICT API; a lost session goes to sign-in instead of failing. */
export async function getJson<T>(path: string): Promise<T> {
  try {
    return await call<T>('GET', path);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      return goToSignIn();
    }
    throw error;
  }
}

/** A readable line for a failed request. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status >= 500) {
      return 'The server could not answer. Try again in a moment.';
    }
    if (error.code === 'invalid-request') {
      // The validator's words name schema paths: never shown to a person.
      return 'Something in this page’s address is not valid. Go back to the dashboard and start again.';
    }
    return error.message === '' ? `The server refused (${error.status}).` : error.message;
  }
  return 'The server could not be reached. Check the connection and try again.';
}

/**
 * Starts a signed-in page: checks the session (going to sign-in without one), shows who is
 * signed in and wires the sign-out button.
 */
export async function startPage(): Promise<Session> {
  const session = await getJson<Session>('/session');
  byId('username').textContent = session.username;
  byId('role').textContent = session.role;
  byId('account').hidden = false;
  byId('sign-out').addEventListener('click', () => {
    void signOut(session);
  });
  return session;
}

async function signOut(session: Session): Promise<void> {
  try {
    await call('DELETE', '/session', { csrfToken: session.csrfToken });
  } catch (error) {
    // Already signed out elsewhere is still signed out.
    if (!(error instanceof ApiError && error.status === 401)) {
      const region = byId('error');
      region.textContent = 'Sign-out failed: ' + describeError(error);
      region.hidden = false;
      return;
    }
  }
  location.assign('/sign-in');
}

/** Marks the main region loaded (screen readers announce a busy region when it settles). */
export function loaded(): void {
  byId('main').removeAttribute('aria-busy');
}
