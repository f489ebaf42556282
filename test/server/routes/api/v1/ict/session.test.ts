import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp } from '../../../../../../server/app.ts';
import { defaultServerConfig } from '../../../../../../server/config.ts';
import { HashGate } from '../../../../../../server/auth/hash-gate.ts';
import { SIGN_IN_THROTTLE } from '../../../../../../server/auth/login-limits.ts';
import { scryptStats } from '../../../../../../server/auth/passwords.ts';
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
  const signInFrom = (remoteAddress: string, username: string, password: string, cookie?: string) =>
    server.app.inject({
      method: 'POST',
      url: '/api/v1/ict/session',
      payload: { username, password },
      remoteAddress,
      ...(cookie === undefined ? {} : { headers: { cookie } }),
    });
  /** Moves every counted attempt of the keys back in time, as if `seconds` had passed. */
  const age = (keys: string[], seconds: number) =>
    server.db.query(
      `update login_failures set failed_at = failed_at - make_interval(secs => $2)
        where key = any($1::text[])`,
      [keys, seconds],
    );
  const knownDeviceOf = (response: { headers: Record<string, unknown> }) => {
    const header = response.headers['set-cookie'];
    const all = Array.isArray(header) ? header.map(String) : [String(header)];
    const pair = all.find((c) => c.startsWith('hallpass_known_device='))?.split(';')[0];
    if (pair === undefined) {
      throw new Error('no known-device cookie');
    }
    return pair;
  };

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
      for (let i = 0; i < SIGN_IN_THROTTLE.free.account; i++) {
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
      [[`addr:${from}`, 'user:nobody-here', `user-addr:nobody-here ${from}`]],
    );
    expect(rows.map((r) => r.key)).toEqual([
      `addr:${from}`,
      `addr:${from}`,
      `user-addr:nobody-here ${from}`,
      'user:nobody-here',
    ]);
  });

  it(`slows an account at one address after ${String(SIGN_IN_THROTTLE.free.accountAddress)} failures with growing delays, even for the right password; success clears them`, async () => {
    await createUser(server.db, { username: 'slowed', password: PASSWORD, role: 'viewer' });
    const from = nextAddress();
    const keys = [`user-addr:slowed ${from}`, 'user:slowed', `addr:${from}`];
    for (let i = 0; i < SIGN_IN_THROTTLE.free.accountAddress; i++) {
      expect((await signInFrom(from, 'slowed', `wrong password ${String(i)}`)).statusCode).toBe(
        401,
      );
    }
    const first = SIGN_IN_THROTTLE.firstDelaySeconds;
    const blocked = await signInFrom(from, 'slowed', PASSWORD);
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json()).toMatchObject({ error: 'too-many-attempts' });
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(blocked.headers['retry-after'])).toBeLessThanOrEqual(first);
    expect(blocked.headers['set-cookie']).toBeUndefined();
    // The wait over (moved back in time, no sleeping), one more guess; the next wait is twice as long.
    await age(keys, first);
    expect((await signInFrom(from, 'slowed', 'wrong password again')).statusCode).toBe(401);
    const longer = await signInFrom(from, 'slowed', PASSWORD);
    expect(longer.statusCode).toBe(429);
    expect(Number(longer.headers['retry-after'])).toBeGreaterThan(first);
    expect(Number(longer.headers['retry-after'])).toBeLessThanOrEqual(2 * first);
    // A refused attempt is not counted: waiting it out is enough.
    await age(keys, 2 * first);
    expect((await signInFrom(from, 'slowed', PASSWORD)).statusCode).toBe(200);
    expect(
      await server.db.query(`select 1 from login_failures where key = $1`, [keys[0]]),
    ).toHaveLength(0);
  });

  it('one failure short of the limit still lets the right password in, and clears the count', async () => {
    await createUser(server.db, { username: 'almost', password: PASSWORD, role: 'viewer' });
    const from = nextAddress();
    for (let i = 0; i < SIGN_IN_THROTTLE.free.accountAddress - 1; i++) {
      await signInFrom(from, 'ALMOST', 'wrong password here');
    }
    expect((await signInFrom(from, 'almost', PASSWORD)).statusCode).toBe(200);
    await signInFrom(from, 'almost', 'wrong password here');
    // The count restarted: one failure now, far from the limit.
    expect((await signInFrom(from, 'almost', PASSWORD)).statusCode).toBe(200);
  });

  it(`slows an address after ${String(SIGN_IN_THROTTLE.free.address)} failures, whatever the username`, async () => {
    const from = nextAddress();
    await server.db.query(
      `insert into login_failures (key, failed_at)
       select $1, now() - make_interval(secs => g) from generate_series(1, $2) g`,
      [`addr:${from}`, SIGN_IN_THROTTLE.free.address - 1],
    );
    expect((await signInFrom(from, 'spray-1', 'wrong password here')).statusCode).toBe(401);
    const blocked = await signInFrom(from, 'ada', PASSWORD);
    expect(blocked.statusCode).toBe(429);
    // Another address is not affected.
    expect((await signInFrom(nextAddress(), 'ada', PASSWORD)).statusCode).toBe(200);
  });

  it('counts every address of one IPv6 /64 as one client', async () => {
    const block = '2001:db8:77:1';
    await server.db.query(
      `insert into login_failures (key, failed_at)
       select $1, now() - make_interval(secs => g) from generate_series(1, $2) g`,
      [`addr:${block}::/64`, SIGN_IN_THROTTLE.free.address - 1],
    );
    expect((await signInFrom(`${block}::1`, 'spray-6', 'wrong password here')).statusCode).toBe(
      401,
    );
    expect((await signInFrom(`${block}:ffff:1:2:3`, 'ada', PASSWORD)).statusCode).toBe(429);
    expect((await signInFrom('2001:db8:77:2::1', 'ada', PASSWORD)).statusCode).toBe(200);
  });

  it("an attacker's guesses, from elsewhere or from the admin's own NAT address, never stop the admin's known browser", async () => {
    await createUser(server.db, { username: 'head.ict', password: PASSWORD, role: 'admin' });
    const school = nextAddress(); // the school's NAT: the admin and the pupils share it
    const first = await signInFrom(school, 'head.ict', PASSWORD);
    expect(first.statusCode).toBe(200);
    const knownDevice = knownDeviceOf(first);
    expect(String(first.headers['set-cookie'])).toMatch(
      /hallpass_known_device=[A-Za-z0-9_-]{43}; Path=\/api\/v1\/ict\/session; HttpOnly; SameSite=Strict; Max-Age=\d+/,
    );
    // Guesses from two other addresses and from the school's own, until all three are slowed.
    const attackers = [nextAddress(), nextAddress(), school];
    for (const from of attackers) {
      let refused = 0;
      for (let i = 0; refused === 0 && i < 30; i++) {
        const guess = await signInFrom(from, 'head.ict', `guess number ${String(i)}`);
        expect([401, 429]).toContain(guess.statusCode);
        refused += guess.statusCode === 429 ? 1 : 0;
      }
      expect(refused, from).toBe(1);
    }
    // A new browser at the school is slowed with the attackers…
    expect((await signInFrom(school, 'head.ict', PASSWORD)).statusCode).toBe(429);
    // …but the admin's own browser signs in at once, from the school and from home.
    expect((await signInFrom(school, 'head.ict', PASSWORD, knownDevice)).statusCode).toBe(200);
    expect((await signInFrom(nextAddress(), 'head.ict', PASSWORD, knownDevice)).statusCode).toBe(
      200,
    );
    // A made-up cookie vouches for nothing, and a real one for its own account only.
    expect(
      (await signInFrom(school, 'head.ict', PASSWORD, `hallpass_known_device=${'A'.repeat(43)}`))
        .statusCode,
    ).toBe(429);
    const other = await signInFrom(school, 'ada', PASSWORD, knownDevice);
    expect(other.statusCode).toBe(200);
    expect(knownDeviceOf(other)).not.toBe(knownDevice);
  });

  it('guesses from a known browser are slowed too, on their own count', async () => {
    await createUser(server.db, { username: 'lost.laptop', password: PASSWORD, role: 'viewer' });
    const from = nextAddress();
    const knownDevice = knownDeviceOf(await signInFrom(from, 'lost.laptop', PASSWORD));
    for (let i = 0; i < SIGN_IN_THROTTLE.free.knownDevice; i++) {
      expect(
        (await signInFrom(nextAddress(), 'lost.laptop', `guess ${String(i)}`, knownDevice))
          .statusCode,
      ).toBe(401);
    }
    expect((await signInFrom(from, 'lost.laptop', PASSWORD, knownDevice)).statusCode).toBe(429);
  });

  it('concurrent guesses cannot overrun the count: of 40 at once, only the free allowance reaches the password hash', async () => {
    // A gate wide enough to queue all 40, so what stops them is the count in the database.
    const wide = await buildApp({
      config: { ...defaultServerConfig, logLevel: 'silent' },
      db: server.db,
      logger: false,
      hashGate: new HashGate(2, 100),
    });
    try {
      await createUser(server.db, { username: 'target', password: PASSWORD, role: 'viewer' });
      const from = nextAddress();
      const before = scryptStats.started;
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          wide.inject({
            method: 'POST',
            url: '/api/v1/ict/session',
            payload: { username: 'target', password: `concurrent guess ${String(i)}` },
            remoteAddress: from,
          }),
        ),
      );
      const hashed = scryptStats.started - before;
      const codes = answers.map((a) => a.statusCode);
      expect(hashed).toBe(SIGN_IN_THROTTLE.free.accountAddress);
      expect(codes.filter((c) => c === 401)).toHaveLength(SIGN_IN_THROTTLE.free.accountAddress);
      expect(codes.filter((c) => c === 429)).toHaveLength(
        40 - SIGN_IN_THROTTLE.free.accountAddress,
      );
    } finally {
      await wide.close();
    }
  });

  it('bounds the password checks running at once, and answers 429 busy at once when the queue is full', async () => {
    scryptStats.peak = scryptStats.running;
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        signInFrom(nextAddress(), `nobody-${String(i)}`, 'a guess at a password'),
      ),
    );
    expect(answers.every((a) => a.statusCode === 401 || a.statusCode === 429)).toBe(true);
    expect(scryptStats.peak).toBeLessThanOrEqual(2);
    // A gate whose one place the test holds: the next sign-in is refused without hashing.
    const gate = new HashGate(1, 0);
    const held = gate.tryEnter();
    const full = await buildApp({
      config: { ...defaultServerConfig, logLevel: 'silent' },
      db: server.db,
      logger: false,
      hashGate: gate,
    });
    try {
      const before = scryptStats.started;
      const busy = await full.inject({
        method: 'POST',
        url: '/api/v1/ict/session',
        payload: { username: 'ada', password: PASSWORD },
        remoteAddress: nextAddress(),
      });
      expect(busy.statusCode).toBe(429);
      expect(busy.json()).toMatchObject({ error: 'busy' });
      expect(Number(busy.headers['retry-after'])).toBeGreaterThan(0);
      expect(scryptStats.started).toBe(before);
      held?.leave();
      const open = await full.inject({
        method: 'POST',
        url: '/api/v1/ict/session',
        payload: { username: 'ada', password: PASSWORD },
        remoteAddress: nextAddress(),
      });
      expect(open.statusCode).toBe(200);
    } finally {
      await full.close();
    }
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
    // The token list holds no secrets: viewers read it (the tokens page); only admins change it.
    expect((await viewer.request({ method: 'GET', url: '/api/v1/ict/tokens' })).statusCode).toBe(
      200,
    );
    for (const [method, url, payload] of [
      ['POST', '/api/v1/ict/tokens', { schoolId: '00000000-0000-4000-8000-000000000000' }],
      ['POST', '/api/v1/ict/schools', { name: 'Viewer School' }],
      ['POST', '/api/v1/ict/groups', { name: 'Viewer Group' }],
      ['POST', '/api/v1/ict/users', { username: 'viewer-made', password: PASSWORD, role: 'admin' }],
    ] as const) {
      const response = await viewer.request({ method, url, payload });
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
