// ICT accounts, schools and device groups managed through the real API, on both engines: the
// account list holds no secret; disabling ends sessions at once and stops sign-in; a password
// reset ends sessions and the new password works; a role change applies on the next request;
// nobody disables or demotes themself, and the last enabled admin stays one, even against
// concurrent requests (PostgreSQL, where they really run at once); renames of schools and groups;
// a viewer's writes are refused; every change leaves its audit row, never a password or hash.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  validatePolicy,
  type Account,
  type AccountChange,
  type Organisation,
  type RenamedGroup,
} from '../../../../../../shared/index.ts';
import { hashPassword } from '../../../../../../server/auth/passwords.ts';
import { createSession } from '../../../../../../server/auth/sessions.ts';
import { changeStanding, resetPassword } from '../../../../../../server/store/accounts.ts';
import { uploadPolicy } from '../../../../../../server/store/policies.ts';
import { ensureDeviceGroup, ensureSchool } from '../../../../../../server/store/organisation.ts';
import { createUser, findUser } from '../../../../../../server/store/users.ts';
import { describeEachEngine } from '../../../../../helpers/databases.ts';
import { TestDevice } from '../../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../../helpers/test-server.ts';
import { newBrowser, PASSWORD, signIn, type Browser } from './ict-session.ts';

const NEW_PASSWORD = 'a brand new passphrase 42';

const exampleYaml = await readFile(
  new URL('../../../../../../agent/core/policy/example-policy.yaml', import.meta.url),
  'utf8',
);

interface AuditRow {
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  before: unknown;
  after: unknown;
}

describeEachEngine('ICT accounts, schools and groups', (engine) => {
  let server: TestServer;
  let admin: Browser;
  let viewer: Browser;
  let seen: number;
  // Failed sign-ins come from their own addresses, so the throttle never slows the next test.
  let address = 10;
  const attempt = (username: string, password = PASSWORD) =>
    server.app.inject({
      method: 'POST',
      url: '/api/v1/ict/session',
      payload: { username, password },
      remoteAddress: `198.51.100.${String(address++)}`,
    });

  const idOf = async (username: string) => {
    const rows = await server.db.query<{ id: string }>('select id from users where username = $1', [
      username,
    ]);
    const id = rows[0]?.id;
    if (id === undefined) {
      throw new Error(`no account ${username}`);
    }
    return id;
  };
  const sessionsOf = async (username: string) =>
    (
      await server.db.query(
        'select 1 from sessions s join users u on u.id = s.user_id where u.username = $1',
        [username],
      )
    ).length;
  /** The audit rows written since the last call. */
  const newRows = async () => {
    const all = await server.db.query<AuditRow>(
      'select actor, action, target_type, target_id, before, after from audit_log order by id',
    );
    const fresh = all.slice(seen);
    seen = all.length;
    return fresh;
  };
  const account = async (browser: Browser, username: string) =>
    (await browser.request({ method: 'GET', url: '/api/v1/ict/users' }))
      .json<Account[]>()
      .find((a) => a.username === username);
  const change = (
    browser: Browser,
    id: string,
    what: 'disable' | 'enable' | { role: 'admin' | 'viewer' } | { password: string },
  ) =>
    typeof what === 'string'
      ? browser.request({ method: 'POST', url: `/api/v1/ict/users/${id}/${what}` })
      : browser.request({
          method: 'PUT',
          url: `/api/v1/ict/users/${id}/${'role' in what ? 'role' : 'password'}`,
          payload: what,
        });

  beforeAll(async () => {
    server = await startTestServer(engine);
    admin = await newBrowser(server.app, server.db, 'ada', 'admin');
    viewer = await newBrowser(server.app, server.db, 'vic', 'viewer');
  });
  afterAll(() => server.close());
  beforeEach(async () => {
    seen = (await server.db.query('select 1 from audit_log')).length;
  });

  describe('accounts', () => {
    it('lists every account without a secret; admins also see the latest sign-in', async () => {
      const list = await admin.request({ method: 'GET', url: '/api/v1/ict/users' });
      expect(list.statusCode).toBe(200);
      expect(list.headers['cache-control']).toBe('no-store');
      expect(list.body).not.toMatch(/scrypt|password_hash|passwordHash|correct horse/);
      const ada = list.json<Account[]>().find((a) => a.username === 'ada');
      expect(ada).toEqual({
        id: await idOf('ada'),
        username: 'ada',
        role: 'admin',
        createdAt: expect.stringMatching(/Z$/) as unknown,
        disabledAt: null,
        passwordChangedAt: expect.stringMatching(/Z$/) as unknown,
        lastSignInAt: expect.stringMatching(/Z$/) as unknown,
      });
      const names = list.json<Account[]>().map((a) => a.username);
      expect(names).toEqual([...names].sort());

      await createUser(server.db, { username: 'never.signed', password: PASSWORD, role: 'viewer' });
      expect((await account(admin, 'never.signed'))?.lastSignInAt).toBeNull();
      // A viewer reads the list, but not when colleagues sign in (like the audit log).
      const seenByViewer = await viewer.request({ method: 'GET', url: '/api/v1/ict/users' });
      expect(seenByViewer.statusCode).toBe(200);
      expect(seenByViewer.json<Account[]>().map((a) => a.username)).toContain('ada');
      expect(seenByViewer.body).not.toContain('lastSignInAt');
    });

    it("disabling ends the account's sessions at once and stops sign-in; re-enabling lets it sign in again", async () => {
      const leaver = await newBrowser(server.app, server.db, 'leaver', 'admin');
      const second = await signIn(server.app, 'leaver');
      const id = await idOf('leaver');
      expect((await leaver.request({ method: 'GET', url: '/api/v1/ict/summary' })).statusCode).toBe(
        200,
      );
      expect(await sessionsOf('leaver')).toBe(2);

      const disabled = await change(admin, id, 'disable');
      expect(disabled.statusCode, disabled.body).toBe(200);
      expect(disabled.json<AccountChange>()).toMatchObject({
        account: { id, username: 'leaver', disabledAt: expect.stringMatching(/Z$/) as unknown },
        sessionsEnded: 2,
      });
      expect(await sessionsOf('leaver')).toBe(0);
      for (const browser of [leaver, second]) {
        const refused = await browser.request({ method: 'GET', url: '/api/v1/ict/summary' });
        expect(refused.statusCode).toBe(401);
      }
      expect((await attempt('leaver')).statusCode).toBe(401);
      const [row] = await newRows();
      expect(row).toMatchObject({
        actor: 'ada',
        action: 'user.disable',
        target_type: 'user',
        target_id: id,
        before: { id, username: 'leaver', role: 'admin', disabledAt: null },
        after: { id, disabledAt: expect.stringMatching(/Z$/) as unknown, sessionsEnded: 2 },
      });
      expect(JSON.stringify(row)).not.toMatch(/scrypt|correct horse/);

      // Again: nothing changes, no row.
      expect((await change(admin, id, 'disable')).statusCode).toBe(200);
      expect(await newRows()).toEqual([]);

      const enabled = await change(admin, id, 'enable');
      expect(enabled.statusCode).toBe(200);
      expect(enabled.json<AccountChange>().account.disabledAt).toBeNull();
      expect(await newRows()).toMatchObject([
        { action: 'user.enable', before: { disabledAt: expect.any(String) as unknown } },
      ]);
      // The old sessions stay ended; a new sign-in works.
      expect((await leaver.request({ method: 'GET', url: '/api/v1/ict/summary' })).statusCode).toBe(
        401,
      );
      const back = await signIn(server.app, 'leaver');
      expect((await back.request({ method: 'GET', url: '/api/v1/ict/summary' })).statusCode).toBe(
        200,
      );
    });

    it('a password reset ends the sessions; the old password is refused and the new one works', async () => {
      const user = await newBrowser(server.app, server.db, 'forgetful', 'viewer');
      const id = await idOf('forgetful');
      const before = await account(admin, 'forgetful');
      const reset = await change(admin, id, { password: NEW_PASSWORD });
      expect(reset.statusCode, reset.body).toBe(200);
      expect(reset.headers['cache-control']).toBe('no-store');
      expect(reset.body).not.toContain(NEW_PASSWORD);
      const answer = reset.json<AccountChange>();
      expect(answer.sessionsEnded).toBe(1);
      expect(Date.parse(answer.account.passwordChangedAt)).toBeGreaterThanOrEqual(
        Date.parse(before?.passwordChangedAt ?? ''),
      );
      expect((await user.request({ method: 'GET', url: '/api/v1/ict/summary' })).statusCode).toBe(
        401,
      );
      expect((await attempt('forgetful', PASSWORD)).statusCode).toBe(401);
      const again = await signIn(server.app, 'forgetful', NEW_PASSWORD);
      expect((await again.request({ method: 'GET', url: '/api/v1/ict/summary' })).statusCode).toBe(
        200,
      );

      const rows = await newRows();
      expect(rows).toMatchObject([
        {
          action: 'user.reset-password',
          target_id: id,
          before: { id, username: 'forgetful', passwordChangedAt: before?.passwordChangedAt },
          after: { id, sessionsEnded: 1 },
        },
      ]);
      expect(JSON.stringify(rows)).not.toMatch(/scrypt|brand new|correct horse/);
    });

    it('a password that is too short or too long is 400 and changes nothing', async () => {
      await createUser(server.db, {
        username: 'keeps.password',
        password: PASSWORD,
        role: 'viewer',
      });
      const id = await idOf('keeps.password');
      for (const password of ['too short', 'x'.repeat(201), '']) {
        const response = await change(admin, id, { password });
        expect(response.statusCode, password).toBe(400);
      }
      expect((await change(admin, id, { password: 'short' })).json()).toMatchObject({
        error: 'invalid-password',
        message: 'a password needs at least 12 characters',
      });
      expect(await newRows()).toEqual([]);
      expect((await attempt('keeps.password')).statusCode).toBe(200);
    });

    it('a role change applies on the next request of the sessions it already has', async () => {
      const riser = await newBrowser(server.app, server.db, 'riser', 'viewer');
      const id = await idOf('riser');
      const makeSchool = () =>
        riser.request({
          method: 'POST',
          url: '/api/v1/ict/schools',
          payload: { name: `Riser School ${String(Date.now())}` },
        });
      expect((await makeSchool()).statusCode).toBe(403);
      const promoted = await change(admin, id, { role: 'admin' });
      expect(promoted.statusCode).toBe(200);
      expect(promoted.json<AccountChange>()).toMatchObject({
        account: { role: 'admin' },
        sessionsEnded: 0,
      });
      expect((await makeSchool()).statusCode).toBe(201);
      const demoted = await change(admin, id, { role: 'viewer' });
      expect(demoted.statusCode).toBe(200);
      expect((await makeSchool()).statusCode).toBe(403);
      const rows = await newRows();
      expect(rows.map((r) => [r.action, r.before, r.after])).toEqual([
        [
          'user.change-role',
          expect.objectContaining({ role: 'viewer' }),
          expect.objectContaining({ role: 'admin' }),
        ],
        ['school.create', null, expect.anything()],
        [
          'user.change-role',
          expect.objectContaining({ role: 'admin' }),
          expect.objectContaining({ role: 'viewer' }),
        ],
      ]);
      // The same role again changes nothing and leaves no row.
      expect((await change(admin, id, { role: 'viewer' })).statusCode).toBe(200);
      expect(await newRows()).toEqual([]);
    });

    it('an admin cannot disable or demote themself: 409, nothing changes', async () => {
      const id = await idOf('ada');
      for (const what of ['disable', { role: 'viewer' }] as const) {
        const response = await change(admin, id, what);
        expect(response.statusCode).toBe(409);
        expect(response.json()).toMatchObject({ error: 'own-account' });
      }
      expect(await newRows()).toEqual([]);
      expect((await admin.request({ method: 'GET', url: '/api/v1/ict/summary' })).statusCode).toBe(
        200,
      );
      expect(await account(admin, 'ada')).toMatchObject({ role: 'admin', disabledAt: null });
    });

    it('the last enabled admin is never disabled or demoted, whoever asks', async () => {
      // The operator (no account: actorId null) is held to it too, and so is any path to the store.
      const lone = await startTestServer(engine);
      try {
        await createUser(lone.db, { username: 'only', password: PASSWORD, role: 'admin' });
        await createUser(lone.db, { username: 'gone', password: PASSWORD, role: 'admin' });
        const idIn = async (name: string) =>
          (
            await lone.db.query<{ id: string }>('select id from users where username = $1', [name])
          )[0]?.id ?? '';
        const only = await idIn('only');
        const gone = await idIn('gone');
        await lone.db.query('update users set disabled_at = now() where id = $1', [gone]);
        const now = new Date();
        for (const change of [{ kind: 'disable' }, { kind: 'role', role: 'viewer' }] as const) {
          const outcome = await lone.db.transaction((tx) =>
            changeStanding(tx, { actorId: null, targetId: only, change, now }),
          );
          expect(outcome).toEqual({ ok: false, refusal: 'last-admin' });
        }
        // A disabled admin is no admin in the count: demoting it is fine.
        const demoted = await lone.db.transaction((tx) =>
          changeStanding(tx, {
            actorId: null,
            targetId: gone,
            change: { kind: 'role', role: 'viewer' },
            now,
          }),
        );
        expect(demoted).toMatchObject({ ok: true, changed: true });
      } finally {
        await lone.close();
      }
    });

    it.skipIf(engine.name !== 'postgresql')(
      'two admins disabling or demoting each other at once: one wins, one enabled admin remains',
      async () => {
        const rounds = [
          ['disable', 'disable'],
          [{ role: 'viewer' }, { role: 'viewer' }],
          ['disable', { role: 'viewer' }],
        ] as const;
        for (const [index, [first, second]] of rounds.entries()) {
          const lone = await startTestServer(engine);
          try {
            const a = await newBrowser(lone.app, lone.db, `a${String(index)}`, 'admin');
            const b = await newBrowser(lone.app, lone.db, `b${String(index)}`, 'admin');
            const ids = await lone.db.query<{ id: string; username: string }>(
              'select id, username from users order by username',
            );
            const idA = ids[0]?.id ?? '';
            const idB = ids[1]?.id ?? '';
            // Hold the admins' rows so both requests are inside their transactions, waiting on
            // the lock, before either goes on: a real race, every time.
            const held = await lone.db.transaction(async (tx) => {
              await tx.query(
                `select id from users where role = 'admin' and disabled_at is null for no key update`,
              );
              const both = Promise.all([change(a, idB, first), change(b, idA, second)]);
              for (let waited = 0; ; waited += 10) {
                const waiting = await lone.db.query<{ n: number }>(
                  `select count(*)::int as n from pg_stat_activity
                    where datname = current_database() and wait_event_type = 'Lock'`,
                );
                if ((waiting[0]?.n ?? 0) >= 2) {
                  break;
                }
                if (waited > 10_000) {
                  throw new Error('the two requests never both waited on the lock');
                }
                await new Promise((resolve) => setTimeout(resolve, 10));
              }
              // Wrapped: a returned promise would be awaited before the commit they wait for.
              return { both };
            });
            const answers = await held.both;
            const statuses = answers.map((r) => r.statusCode).sort();
            expect(statuses[0], JSON.stringify(rounds[index])).toBe(200);
            expect([403, 409]).toContain(statuses[1]);
            const remaining = await lone.db.query(
              `select 1 from users where role = 'admin' and disabled_at is null`,
            );
            expect(remaining).toHaveLength(1);
            // Only the winner's change is in the log.
            const logged = await lone.db.query('select action from audit_log');
            expect(logged).toHaveLength(1);
          } finally {
            await lone.close();
          }
        }
      },
    );

    it.skipIf(engine.name !== 'postgresql')(
      'the operator disabling the last two admins at once: the lock lets one through',
      async () => {
        const lone = await startTestServer(engine);
        try {
          await createUser(lone.db, { username: 'x1', password: PASSWORD, role: 'admin' });
          await createUser(lone.db, { username: 'x2', password: PASSWORD, role: 'admin' });
          const ids = (await lone.db.query<{ id: string }>('select id from users')).map(
            (r) => r.id,
          );
          const now = new Date();
          const outcomes = await Promise.all(
            ids.map((targetId) =>
              lone.db.transaction(async (tx) => {
                const outcome = await changeStanding(tx, {
                  actorId: null,
                  targetId,
                  change: { kind: 'disable' },
                  now,
                });
                // Hold the transaction open a moment, so the other one is sure to wait on it.
                await tx.query('select pg_sleep(0.2)');
                return outcome;
              }),
            ),
          );
          expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
          expect(outcomes.filter((o) => !o.ok)).toEqual([{ ok: false, refusal: 'last-admin' }]);
          expect(
            await lone.db.query(`select 1 from users where role = 'admin' and disabled_at is null`),
          ).toHaveLength(1);
        } finally {
          await lone.close();
        }
      },
    );

    it('a sign-in that checked a password reset meanwhile gets no working session', async () => {
      await createUser(server.db, { username: 'racer', password: PASSWORD, role: 'viewer' });
      const id = await idOf('racer');
      // The sign-in has read the account (and is checking its password) when the reset lands.
      const read = await findUser(server.db, 'racer');
      expect(read).not.toBeNull();
      const passwordHash = await hashPassword(NEW_PASSWORD);
      await server.db.transaction((tx) =>
        resetPassword(tx, { actorId: null, targetId: id, passwordHash, now: new Date() }),
      );
      const generation = read?.session_generation ?? -1;
      expect(await createSession(server.db, { id, generation }, new Date(), 1)).toBeNull();
      // And a session that slipped in as the reset committed is dead on arrival.
      const cookieValue = 'A'.repeat(43);
      await server.db.query(
        `insert into sessions (id_hash, user_id, csrf_token, expires_at, generation)
         values ($1, $2, 'csrf', now() + interval '1 hour', $3)`,
        [createHash('sha256').update(cookieValue).digest('hex'), id, generation],
      );
      const refused = await server.app.inject({
        method: 'GET',
        url: '/api/v1/ict/summary',
        headers: { cookie: `hallpass_session=${cookieValue}` },
      });
      expect(refused.statusCode).toBe(401);
    });

    it("a viewer's account writes are 403 and change nothing; unknown ids 404, malformed 400", async () => {
      const id = await idOf('ada');
      for (const what of [
        'disable',
        'enable',
        { role: 'viewer' },
        { password: NEW_PASSWORD },
      ] as const) {
        const response = await change(viewer, id, what);
        expect(response.statusCode, JSON.stringify(what)).toBe(403);
        expect(response.json()).toMatchObject({ error: 'forbidden' });
        const noCsrf = await admin.request({
          method: typeof what === 'string' ? 'POST' : 'PUT',
          url: `/api/v1/ict/users/${id}/${typeof what === 'string' ? what : (Object.keys(what)[0] ?? '')}`,
          payload: typeof what === 'string' ? undefined : what,
          csrf: false,
        });
        expect(noCsrf.statusCode).toBe(403);
        expect(noCsrf.json()).toMatchObject({ error: 'csrf' });
      }
      expect(await newRows()).toEqual([]);
      expect((await attempt('ada')).statusCode).toBe(200);

      const unknown = '00000000-0000-4000-8000-000000000000';
      for (const what of [
        'disable',
        'enable',
        { role: 'admin' },
        { password: NEW_PASSWORD },
      ] as const) {
        expect((await change(admin, unknown, what)).statusCode).toBe(404);
        expect((await change(admin, 'not-an-id', what)).statusCode).toBe(400);
      }
      expect((await change(admin, id, { role: 'root' as 'admin' })).statusCode).toBe(400);
      expect(await newRows()).toEqual([]);
      for (const [method, url] of [
        ['GET', '/api/v1/ict/users'],
        ['POST', `/api/v1/ict/users/${id}/disable`],
        ['POST', `/api/v1/ict/users/${id}/enable`],
        ['PUT', `/api/v1/ict/users/${id}/role`],
        ['PUT', `/api/v1/ict/users/${id}/password`],
        ['GET', '/api/v1/ict/organisation'],
        ['PUT', `/api/v1/ict/schools/${server.schoolId}/name`],
        ['PUT', `/api/v1/ict/groups/${server.groupId}/name`],
      ] as const) {
        expect((await server.app.inject({ method, url })).statusCode, `${method} ${url}`).toBe(401);
      }
    });
  });

  describe('schools and device groups', () => {
    const rename = (kind: 'schools' | 'groups', id: string, name: unknown, browser = admin) =>
      browser.request({ method: 'PUT', url: `/api/v1/ict/${kind}/${id}/name`, payload: { name } });

    it('lists schools and groups by name with their active devices counted', async () => {
      const empty = await ensureSchool(server.db, 'Empty Academy');
      await ensureDeviceGroup(server.db, 'Unused group');
      const before =
        (await viewer.request({ method: 'GET', url: '/api/v1/ict/organisation' }))
          .json<Organisation>()
          .schools.find((s) => s.id === server.schoolId)?.devices ?? 0;
      for (let i = 0; i < 2; i++) {
        expect((await new TestDevice().enrol(server.app, server.token)).status).toBe(201);
      }
      const list = await viewer.request({ method: 'GET', url: '/api/v1/ict/organisation' });
      expect(list.statusCode).toBe(200);
      const { schools, groups } = list.json<Organisation>();
      expect(schools.find((s) => s.id === server.schoolId)).toMatchObject({
        name: 'Northgate Primary',
        devices: before + 2,
        createdAt: expect.stringMatching(/Z$/) as unknown,
      });
      expect(schools.find((s) => s.id === empty.id)?.devices).toBe(0);
      expect(groups.find((g) => g.id === server.groupId)?.devices).toBe(before + 2);
      expect(groups.find((g) => g.name === 'Unused group')?.devices).toBe(0);
      expect(schools.map((s) => s.name)).toEqual(schools.map((s) => s.name).sort());
    });

    it.each(['schools', 'groups'] as const)(
      'renaming one of %s: one audit row; the same name again none; a taken name 409',
      async (kind) => {
        const url = `/api/v1/ict/${kind}`;
        const made = await admin.request({ method: 'POST', url, payload: { name: `Old ${kind}` } });
        const { id } = made.json<{ id: string }>();
        const other = await admin.request({
          method: 'POST',
          url,
          payload: { name: `Other ${kind}` },
        });
        expect(other.statusCode).toBe(201);
        await newRows();

        const hostile = `<b>New</b> ${kind} '); drop table users; --`;
        const renamed = await rename(kind, id, hostile);
        expect(renamed.statusCode, renamed.body).toBe(200);
        expect(renamed.json()).toMatchObject({ id, name: hostile });
        const listed = await viewer.request({ method: 'GET', url });
        expect(listed.json()).toContainEqual({ id, name: hostile });
        expect(await newRows()).toEqual([
          {
            actor: 'ada',
            action: kind === 'schools' ? 'school.rename' : 'group.rename',
            target_type: kind === 'schools' ? 'school' : 'device-group',
            target_id: id,
            before: { id, name: `Old ${kind}` },
            after: { id, name: hostile },
          },
        ]);

        expect((await rename(kind, id, hostile)).statusCode).toBe(200);
        expect(await newRows()).toEqual([]);

        const taken = await rename(kind, id, `Other ${kind}`);
        expect(taken.statusCode).toBe(409);
        expect(taken.json()).toMatchObject({ error: 'exists' });
        expect(await newRows()).toEqual([]);
        expect((await viewer.request({ method: 'GET', url })).json()).toContainEqual({
          id,
          name: hostile,
        });
      },
    );

    it.each(['schools', 'groups'] as const)(
      'a bad new name for one of %s is 400 in words; unknown 404; a viewer 403; nothing changes',
      async (kind) => {
        const id = kind === 'schools' ? server.schoolId : server.groupId;
        const name = async () =>
          (
            await server.db.query<{ name: string }>(
              `select name from ${kind === 'schools' ? 'schools' : 'device_groups'} where id = $1`,
              [id],
            )
          )[0]?.name;
        const before = await name();
        const bidi = await rename(kind, id, 'Evil\u202Egnp.exe');
        expect(bidi.statusCode).toBe(400);
        expect(bidi.json()).toMatchObject({ error: 'invalid-name' });
        expect(bidi.json<{ message: string }>().message).toContain('U+202E');
        for (const bad of ['', ' padded', 'x'.repeat(201), 'zero\u200Bwidth', 'nul\u0000', 42]) {
          expect((await rename(kind, id, bad)).statusCode, JSON.stringify(bad)).toBe(400);
        }
        expect(
          (await rename(kind, '00000000-0000-4000-8000-000000000000', 'Anything')).statusCode,
        ).toBe(404);
        const refused = await rename(kind, id, 'Viewer was here', viewer);
        expect(refused.statusCode).toBe(403);
        expect(refused.json()).toMatchObject({ error: 'forbidden' });
        expect(await name()).toBe(before);
        expect(await newRows()).toEqual([]);
      },
    );

    it('renaming a group names the AUP rules that named its old name; devices get the new name', async () => {
      const staff = await ensureDeviceGroup(server.db, 'Staff laptops');
      const checked = validatePolicy({
        ...(parseYaml(exampleYaml) as Record<string, unknown>),
        name: 'Staff policy',
      });
      if (!checked.ok) {
        throw new Error('the example policy is invalid');
      }
      const policy = checked.value;
      policy.aup = {
        ...policy.aup,
        rules: [
          { id: 'staff-devices', role: 'staff', deviceGroups: ['staff LAPTOPS'] },
          { id: 'both-names', role: 'staff', deviceGroups: ['Staff laptops', 'Staff devices'] },
          ...(policy.aup.rules ?? []),
        ],
      };
      await server.db.transaction((tx) =>
        uploadPolicy(tx, { groupId: staff.id, policy, uploadedBy: null }),
      );
      const renamed = await rename('groups', staff.id, 'Staff devices');
      expect(renamed.statusCode, renamed.body).toBe(200);
      expect(renamed.json<RenamedGroup>()).toEqual({
        id: staff.id,
        name: 'Staff devices',
        aupRulesNamingOldName: [
          { groupId: staff.id, group: 'Staff devices', ruleId: 'staff-devices' },
        ],
      });
      // A device of the group hears the new name beside its policy.
      const token = await admin.request({
        method: 'POST',
        url: '/api/v1/ict/tokens',
        payload: {
          schoolId: server.schoolId,
          groupId: staff.id,
          label: 'staff',
          expiresInDays: 1,
          maxUses: 1,
        },
      });
      const device = new TestDevice();
      expect((await device.enrol(server.app, token.json<{ token: string }>().token)).status).toBe(
        201,
      );
      const fetched = await device.signed(server.app, 'GET', '/api/v1/policy');
      expect(fetched.status).toBe(200);
      expect(fetched.headers['hallpass-device-group']).toBe(encodeURIComponent('Staff devices'));
    });
  });
});
