// Signs ICT accounts in through the real API and sends requests with their cookie and CSRF token.
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Database } from '../../../../../../server/db/db.ts';
import { createUser, type Role } from '../../../../../../server/store/users.ts';

/** A password that meets the policy. */
export const PASSWORD = 'correct horse battery staple';

/** A signed-in browser: its cookie and CSRF token. */
export interface Browser {
  cookie: string;
  csrfToken: string;
  /** A request with the cookie; unsafe methods carry the CSRF token unless `csrf` is false. */
  request(options: InjectOptions & { csrf?: boolean | string }): Promise<LightMyRequestResponse>;
}

/** The `name=value` part of a Set-Cookie header. */
export function cookiePair(response: LightMyRequestResponse): string {
  const header = response.headers['set-cookie'];
  const first = Array.isArray(header) ? header[0] : header;
  if (first === undefined) {
    throw new Error('no set-cookie');
  }
  return first.split(';')[0] ?? '';
}

/** Signs in with the API. */
export async function signIn(
  app: FastifyInstance,
  username: string,
  password = PASSWORD,
): Promise<Browser> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/v1/ict/session',
    payload: { username, password },
  });
  if (response.statusCode !== 200) {
    throw new Error(`sign-in failed: ${String(response.statusCode)} ${response.body}`);
  }
  const cookie = cookiePair(response);
  const { csrfToken } = response.json<{ csrfToken: string }>();
  return {
    cookie,
    csrfToken,
    request: ({ csrf = true, ...options }) => {
      const unsafe = !['GET', 'HEAD'].includes(String(options.method ?? 'GET').toUpperCase());
      const token = typeof csrf === 'string' ? csrf : csrf && unsafe ? csrfToken : undefined;
      return app.inject({
        ...options,
        headers: {
          ...options.headers,
          cookie,
          ...(token === undefined ? {} : { 'x-csrf-token': token }),
        },
      });
    },
  };
}

/** Creates an account (straight in the database) and signs it in. */
export async function newBrowser(
  app: FastifyInstance,
  db: Database,
  username: string,
  role: Role,
): Promise<Browser> {
  await createUser(db, { username, password: PASSWORD, role });
  return signIn(app, username);
}
