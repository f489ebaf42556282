import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp } from '../../../../../../server/app.ts';
import { defaultServerConfig } from '../../../../../../server/config.ts';
import { LOGIN_LIMITS } from '../../../../../../server/auth/login-limits.ts';
import { createUser } from '../../../../../../server/store/users.ts';
import { describeEachEngine } from '../../../../../helpers/databases.ts';
import { startTestServer, type TestServer } from '../../../../../helpers/test-server.ts';
import { cookiePair, newBrowser, PASSWORD, signIn, type Browser } from './ict-session.ts';

describeEachEngine('ICT sessions', (engine) => {
  let server: TestServer;
  let admin: Browser;
  let viewer: Browser;
  // Each test that fails sign-ins uses its own client address, so counts never leak between tests.
  let address = 10;
  const nextAddress = () => `192.0.2.${String(address++)}`;
  const signInFrom = (remoteAddress: string, username: string, password: string) =>
    server.app.inject({
      method: 'POST',
      url: '/api/v1/ict/session',
      payload: { username, password },
      remoteAddress,
    });

  beforeAll(async () => {
    server = await startTestServer(engine);
    admin = await newBrowser(server.app, server.db, 'ada', 'admin');
    viewer = await newBrowser(server.app, server.db, 'vic', 'viewer');
  });
  afterAll(() => server.close());

  it('signs in: a Session body, and a random HttpOnly SameSite=Strict cookie stored only as a hash', async () => {
    const response = await signInFrom(nextAddress(), 'ada', PASSWORD);
    expect(response.statusCode).toBe(200);
    const body = response.json<{ username: string; role: string; csrfToken: string }>();
    expect(body).toMatchObject({ username: 'ada', role: 'admin' });
    expect(body.csrfToken.length).toBeGreaterThanOrEqual(32);
    const header = String(response.headers['set-cookie']);
    expect(header).toMatch(/^hallpass_session=[A-Za-z0-9_-]{43}; /);
    expect(header).toContain('HttpOnly');
    expect(header).toContain('SameSite=Strict');
    expect(header).toContain('Path=/');
    expect(header).toContain(`Max-Age=${String(12 * 3600)}`);
    expect(header).not.toContain('Secure');
    const value = cookiePair(response).split('=')[1] ?? '';
    const rows = await server.db.query<{ id_hash: string }>('select id_hash from sessions');
    expect(rows.map((r) => r.id_hash)).not.toContain(value);
    expect(rows.map((r) => r.id_hash)).toContain(createHash('sha256').update(value).digest('hex'));
  });

  it('marks the cookie Secure when the request came over TLS', async () => {
    // A second app on the same database, behind a TLS-terminating proxy it trusts.
    const proxied = await buildApp({
      config: {
        ...defaultServerConfig,
        trustProxy: true,
        logLevel: 'silent',
      },
      db: server.db,
      logger: false,
    });
    const response = await proxied.inject({
      method: 'POST',
      url: '/api/v1/ict/session',
      payload: { username: 'vic', password: PASSWORD },
      headers: { 'x-forwarded-proto': 'https' },
    });
    await proxied.close();
    expect(response.statusCode).toBe(200);
    expect(String(response.headers['set-cookie'])).toMatch(/; Secure$/);
  });

  it('a second server instance on the same database shares sessions and failure counts', async () => {
    const other = await buildApp({
      config: { ...defaultServerConfig, logLevel: 'silent' },
      db: server.db,
      logger: false,
    });
    try {
      const me = await other.inject({
        method: 'GET',
        url: '/api/v1/ict/session',
        headers: { cookie: viewer.cookie },
      });
      expect(me.json()).toMatchObject({ username: 'vic', csrfToken: viewer.csrfToken });
      await createUser(server.db, { username: 'shared', password: PASSWORD, role: 'viewer' });
      for (let i = 0; i < LOGIN_LIMITS.perUsername; i++) {
        const app = i % 2 === 0 ? server.app : other;
        const failed = await app.inject({
          method: 'POST',
          url: '/api/v1/ict/session',
          payload: { username: 'shared', password: 'wrong password here' },
          remoteAddress: nextAddress(),
        });
        expect(failed.statusCode).toBe(401);
      }
      const blocked = await other.inject({
        method: 'POST',
        url: '/api/v1/ict/session',
        payload: { username: 'shared', password: PASSWORD },
        remoteAddress: nextAddress(),
      });
      expect(blocked.statusCode).toBe(429);
    } finally {
      await other.close();
    }
  });

  it('GET /session answers who is signed in; without or with a bad cookie, 401', async () => {
    const me = await viewer.request({ method: 'GET', url: '/api/v1/ict/session' });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({ username: 'vic', role: 'viewer', csrfToken: viewer.csrfToken });
    for (const cookie of [
      undefined,
      'hallpass_session=nope',
      `hallpass_session=${'A'.repeat(43)}`,
    ]) {
      const response = await server.app.inject({
        method: 'GET',
        url: '/api/v1/ict/session',
        headers: cookie === undefined ? {} : { cookie },
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ error: 'unauthenticated' });
    }
  });

  it('wrong password and unknown user get the same 401, and each counts as a failure', async () => {
    const from = nextAddress();
    const wrong = await signInFrom(from, 'ada', 'not the password at all');
    const unknown = await signInFrom(from, 'nobody-here', 'not the password at all');
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json()).toEqual(unknown.json());
    expect(wrong.json()).toEqual({
      error: 'bad-credentials',
      message: 'Wrong username or password.',
    });
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const rows = await server.db.query<{ key: string }>(
      'select key from login_failures where key = any($1::text[]) order by key',
      [[`addr:${from}`, 'user:nobody-here']],
    );
    expect(rows.map((r) => r.key)).toEqual([`addr:${from}`, `addr:${from}`, 'user:nobody-here']);
  });

  it(`locks a username after ${String(LOGIN_LIMITS.perUsername)} failures with 429 and Retry-After, even with the right password; success clears the count`, async () => {
    await createUser(server.db, { username: 'locked', password: PASSWORD, role: 'viewer' });
    for (let i = 0; i < LOGIN_LIMITS.perUsername; i++) {
      // From different addresses: the username's own count is what locks it.
      expect(
        (await signInFrom(nextAddress(), 'locked', `wrong password ${String(i)}`)).statusCode,
      ).toBe(401);
    }
    const blocked = await signInFrom(nextAddress(), 'locked', PASSWORD);
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json()).toMatchObject({ error: 'too-many-attempts' });
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(LOGIN_LIMITS.windowSeconds - 60);
    expect(retryAfter).toBeLessThanOrEqual(LOGIN_LIMITS.windowSeconds);
    expect(blocked.headers['set-cookie']).toBeUndefined();
    // Once the failures are older than the window (moved back in time, no sleeping), it opens.
    await server.db.query(
      `update login_failures set failed_at = failed_at - make_interval(secs => $1) where key = 'user:locked'`,
      [LOGIN_LIMITS.windowSeconds + 1],
    );
    const open = await signInFrom(nextAddress(), 'locked', PASSWORD);
    expect(open.statusCode).toBe(200);
    expect(
      await server.db.query(`select 1 from login_failures where key = 'user:locked'`),
    ).toHaveLength(0);
  });

  it('one failure short of the limit still lets the right password in, and clears the count', async () => {
    await createUser(server.db, { username: 'almost', password: PASSWORD, role: 'viewer' });
    for (let i = 0; i < LOGIN_LIMITS.perUsername - 1; i++) {
      await signInFrom(nextAddress(), 'ALMOST', 'wrong password here');
    }
    expect((await signInFrom(nextAddress(), 'almost', PASSWORD)).statusCode).toBe(200);
    await signInFrom(nextAddress(), 'almost', 'wrong password here');
    // The count restarted: one failure now, far from the limit.
    expect((await signInFrom(nextAddress(), 'almost', PASSWORD)).statusCode).toBe(200);
  });

  it(`blocks an address after ${String(LOGIN_LIMITS.perAddress)} failures, whatever the username`, async () => {
    const from = nextAddress();
    await server.db.query(
      `insert into login_failures (key, failed_at)
       select $1, now() - make_interval(secs => g) from generate_series(1, $2) g`,
      [`addr:${from}`, LOGIN_LIMITS.perAddress - 1],
    );
    expect((await signInFrom(from, 'spray-1', 'wrong password here')).statusCode).toBe(401);
    const blocked = await signInFrom(from, 'ada', PASSWORD);
    expect(blocked.statusCode).toBe(429);
    // Another address is not affected.
    expect((await signInFrom(nextAddress(), 'ada', PASSWORD)).statusCode).toBe(200);
  });

  it('DELETE /session signs out: needs the CSRF token, then the cookie is dead', async () => {
    const browser = await signIn(server.app, 'vic');
    const noCsrf = await browser.request({
      method: 'DELETE',
      url: '/api/v1/ict/session',
      csrf: false,
    });
    expect(noCsrf.statusCode).toBe(403);
    expect(noCsrf.json()).toMatchObject({ error: 'csrf' });
    const wrongCsrf = await browser.request({
      method: 'DELETE',
      url: '/api/v1/ict/session',
      csrf: viewer.csrfToken, // another session's token
    });
    expect(wrongCsrf.statusCode).toBe(403);
    expect((await browser.request({ method: 'GET', url: '/api/v1/ict/session' })).statusCode).toBe(
      200,
    );
    const out = await browser.request({ method: 'DELETE', url: '/api/v1/ict/session' });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(/^hallpass_session=; .*Max-Age=0/);
    expect((await browser.request({ method: 'GET', url: '/api/v1/ict/session' })).statusCode).toBe(
      401,
    );
    // The other sessions of the same account live on.
    expect((await viewer.request({ method: 'GET', url: '/api/v1/ict/session' })).statusCode).toBe(
      200,
    );
  });

  it('a session expires after sessionHours, and a disabled account loses its sessions', async () => {
    const browser = await signIn(server.app, 'vic');
    await server.db.query(
      `update sessions set expires_at = now() - interval '1 second'
        where id_hash = encode(sha256(convert_to($1, 'UTF8')), 'hex')`,
      [browser.cookie.split('=')[1]],
    );
    expect((await browser.request({ method: 'GET', url: '/api/v1/ict/summary' })).statusCode).toBe(
      401,
    );
    await createUser(server.db, { username: 'leaver', password: PASSWORD, role: 'admin' });
    const leaver = await signIn(server.app, 'leaver');
    await server.db.query(`update users set disabled_at = now() where username = 'leaver'`);
    expect((await leaver.request({ method: 'GET', url: '/api/v1/ict/summary' })).statusCode).toBe(
      401,
    );
    expect((await signInFrom(nextAddress(), 'leaver', PASSWORD)).statusCode).toBe(401);
  });

  it('a viewer reads but gets 403 on admin routes; nothing is created', async () => {
    expect((await viewer.request({ method: 'GET', url: '/api/v1/ict/summary' })).statusCode).toBe(
      200,
    );
    for (const [method, url, payload] of [
      ['GET', '/api/v1/ict/tokens', undefined],
      ['POST', '/api/v1/ict/schools', { name: 'Viewer School' }],
      ['POST', '/api/v1/ict/groups', { name: 'Viewer Group' }],
      ['POST', '/api/v1/ict/users', { username: 'viewer-made', password: PASSWORD, role: 'admin' }],
    ] as const) {
      const response = await viewer.request({ method, url, ...(payload ? { payload } : {}) });
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(response.json()).toMatchObject({ error: 'forbidden' });
    }
    expect(
      await server.db.query(`select 1 from schools where name = 'Viewer School'`),
    ).toHaveLength(0);
    expect(
      await server.db.query(`select 1 from users where username = 'viewer-made'`),
    ).toHaveLength(0);
  });

  it('an admin change without or with a wrong CSRF token is 403 and changes nothing', async () => {
    for (const csrf of [false, 'x'.repeat(43), viewer.csrfToken]) {
      const response = await admin.request({
        method: 'POST',
        url: '/api/v1/ict/schools',
        payload: { name: 'CSRF School' },
        csrf,
      });
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({ error: 'csrf' });
    }
    expect(await server.db.query(`select 1 from schools where name = 'CSRF School'`)).toHaveLength(
      0,
    );
    const ok = await admin.request({
      method: 'POST',
      url: '/api/v1/ict/schools',
      payload: { name: 'CSRF School' },
    });
    expect(ok.statusCode).toBe(201);
  });

  it('every ICT route but sign-in is 401 without a session', async () => {
    for (const [method, url] of [
      ['GET', '/api/v1/ict/summary'],
      ['GET', '/api/v1/ict/devices'],
      ['GET', '/api/v1/ict/devices.csv'],
      ['GET', '/api/v1/ict/devices/00000000-0000-4000-8000-000000000000'],
      ['GET', '/api/v1/ict/events'],
      ['GET', '/api/v1/ict/schools'],
      ['GET', '/api/v1/ict/groups'],
      ['GET', '/api/v1/ict/tokens'],
      ['POST', '/api/v1/ict/tokens'],
      ['POST', '/api/v1/ict/tokens/00000000-0000-4000-8000-000000000000/revoke'],
      ['GET', `/api/v1/ict/groups/${server.groupId}/policy`],
      ['PUT', `/api/v1/ict/groups/${server.groupId}/policy`],
      ['POST', '/api/v1/ict/users'],
      ['POST', '/api/v1/ict/schools'],
      ['DELETE', '/api/v1/ict/session'],
    ] as const) {
      const response = await server.app.inject({ method, url });
      expect(response.statusCode, `${method} ${url}`).toBe(401);
    }
  });

  it('bad sign-in bodies are 400, never 500', async () => {
    for (const payload of [
      '',
      '{',
      '{"username":"ada"}',
      '{"username":"","password":"x"}',
      '{"username":"ada","password":"x","extra":1}',
      JSON.stringify({ username: 'a'.repeat(101), password: 'x' }),
      JSON.stringify({ username: "ada'; drop table users; --", password: "' or '1'='1" }),
      JSON.stringify({ username: 'ada\u0000', password: 'x' }),
    ]) {
      const response = await server.app.inject({
        method: 'POST',
        url: '/api/v1/ict/session',
        headers: { 'content-type': 'application/json' },
        payload,
        remoteAddress: nextAddress(),
      });
      expect(response.statusCode, payload).toBeGreaterThanOrEqual(400);
      expect(response.statusCode, payload).toBeLessThan(500);
    }
    expect(await server.db.query('select 1 from users')).not.toHaveLength(0);
  });
});
