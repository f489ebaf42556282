// A member of staff whose directory groups cannot be read (a laptop at home, no domain
// controller; an Entra ID account) must not be shown the pupil AUP, signed out for declining it
// and recorded as a pupil. The console user comes from the real Windows parser over the
// recorded console-user outputs (test/fixtures/windows/console-user/), the role memory from the
// real file in a temporary state folder, on a fake clock.
import { chmod, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { windowsConsoleUser } from '../../../agent/core/console-user/windows.ts';
import { parsePolicyText } from '../../../agent/core/policy/policy-file.ts';
import { AupRecord } from '../../../agent/service/aup-record.ts';
import { AupRoleMemory } from '../../../agent/service/aup-role-memory.ts';
import { AupSessions, DEFAULT_AUP_ROLE_WAIT_MS } from '../../../agent/service/aup-sessions.ts';
import type { AgentEvent, AupPending, Policy } from '../../../shared/index.ts';
import { fakeHost } from '../../helpers/fake-host.ts';

const example = parsePolicyText(
  await readFile(
    new URL('../../../agent/core/policy/example-policy.yaml', import.meta.url),
    'utf8',
  ),
  'example-policy.yaml',
);
// The example policy, with the trust's staff group as the fixtures' domain names it.
const policy: Policy = {
  ...example,
  aup: {
    ...example.aup,
    rules: (example.aup.rules ?? []).map((rule) =>
      rule.id === 'staff-by-group' ? { ...rule, groups: ['HALLPASS\\Staff'] } : rule,
    ),
  },
};
const fixture = (name: string) =>
  readFile(new URL(`../../fixtures/windows/console-user/${name}`, import.meta.url), 'utf8');
const outputs = {
  /** HALLPASS\teacher.7 with a domain controller answering: HALLPASS\Staff among the groups. */
  staff: await fixture('constructed-staff-domain.json'),
  /** The same teacher at home: local groups only, groupsComplete false. */
  noDc: await fixture('constructed-no-domain-controller.json'),
  entra: await fixture('constructed-entra-user.json'),
  signIn: await fixture('constructed-sign-in-screen.json'),
};
const TEACHER = 'HALLPASS\\teacher.7';
const MINUTE = 60_000;
const unproven = { uid: null };

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hallpass-aup-roles-'));
  dirs.push(dir);
  return dir;
}

async function setup(options: { dir?: string; tray?: boolean; start?: number } = {}) {
  const dir = options.dir ?? (await stateDir());
  const state = { output: outputs.staff, now: options.start ?? new Date(2026, 9, 5, 9).getTime() };
  const events: AgentEvent[] = [];
  const pushes: AupPending[] = [];
  const actions: string[] = [];
  const logs: string[] = [];
  // windows.ps1 as PowerShell prints it now; everything after it is the real parser.
  const host = fakeHost({
    commands: {
      'powershell.exe': () => ({ stdout: state.output, stderr: '', exitCode: 0 }),
    },
  });
  const open = async () => {
    const roleMemory = await AupRoleMemory.open(dir, { now: () => new Date(state.now) });
    logs.push(...roleMemory.problems());
    return new AupSessions({
      consoleUser: windowsConsoleUser(host),
      policy: { current: () => policy, onChange: () => () => undefined },
      record: await AupRecord.open(dir),
      roleMemory,
      lookup: () => Promise.resolve(null),
      actions: {
        signOut: (user) => {
          actions.push(`sign-out ${user}`);
          return Promise.resolve(null);
        },
        lock: (user) => {
          actions.push(`lock ${user}`);
          return Promise.resolve(null);
        },
      },
      recordEvent: (event) => {
        events.push(event);
        return Promise.resolve();
      },
      push: (p) => pushes.push(p),
      log: {
        warn: (_, message) => logs.push(message),
        info: (_, message) => logs.push(message),
      },
      now: () => new Date(state.now),
      trayConnected: () => options.tray ?? false,
      pollMs: 60_000,
    });
  };
  let sessions = await open();
  return {
    dir,
    state,
    events,
    pushes,
    actions,
    logs,
    get sessions() {
      return sessions;
    },
    /** A new service on the same state folder (a crash, a reboot). */
    async restart() {
      sessions.stop();
      sessions = await open();
    },
    async look(output: string, atMinute?: number) {
      state.output = output;
      if (atMinute !== undefined) {
        state.now = (options.start ?? new Date(2026, 9, 5, 9).getTime()) + atMinute * MINUTE;
      }
      await sessions.check();
    },
  };
}

const rolesFile = async (dir: string) =>
  JSON.parse(await readFile(join(dir, 'aup-roles.json'), 'utf8')) as {
    roles: { user: string; role: string; ruleId: string | null }[];
    waiting: { user: string; since: string }[];
  };

describe('the AUP role when the groups cannot all be read', () => {
  it('complete groups: the role comes from them and is remembered in the state folder', async () => {
    const t = await setup();
    await t.look(outputs.staff);
    const pending = await t.sessions.pending(unproven);
    expect(pending.role).toBe('staff');
    expect(pending.documents.map((d) => d.id)).toEqual(['staff-aup', 'staff-device-contract']);
    expect(t.pushes.map((p) => p.role)).toEqual(['staff']);
    expect((await rolesFile(t.dir)).roles).toEqual([
      {
        user: 'hallpass\\teacher.7',
        role: 'staff',
        ruleId: 'staff-by-group',
        decidedAt: new Date(t.state.now).toISOString(),
      },
    ]);
  });

  it('incomplete with a remembered role: that role in the window, the decline action and the event', async () => {
    const t = await setup();
    await t.look(outputs.staff, 0);
    // At home the next day: no domain controller answers.
    await t.look(outputs.signIn, 60 * 24);
    await t.look(outputs.noDc, 60 * 24 + 1);
    const pending = await t.sessions.pending(unproven);
    expect(pending.role).toBe('staff');
    expect(pending.documents.map((d) => d.id)).toEqual(['staff-aup', 'staff-device-contract']);
    expect(pending.documents.some((d) => d.askTutorGroup)).toBe(false);
    const document = pending.documents[0];
    if (document === undefined) {
      throw new Error('nothing pending');
    }
    const declined = await t.sessions.decline(
      { id: 1, channel: 'aup:decline', documentId: document.id, textSha256: document.textSha256 },
      unproven,
    );
    // Staff decline locks (onDeclineByRole), never the pupils' sign-out.
    expect(declined.declined?.action).toBe('lock');
    expect(t.actions).toEqual([`lock ${TEACHER}`]);
    expect(t.events.map((e) => e.type === 'aup.declined' && e.data.role)).toEqual(['staff']);
    expect(t.logs).toContain(
      "AUP: the user's groups cannot all be read; using the role they last had",
    );
  });

  it('incomplete with nothing remembered: nothing shown and nothing declined, until the groups can be read', async () => {
    const t = await setup({ tray: false });
    await t.look(outputs.noDc, 0);
    expect(await t.sessions.pending(unproven)).toEqual({
      user: TEACHER,
      role: null,
      documents: [],
    });
    // Past the tray allowance (10 minutes): with no role, nothing is due, so no no-tray decline.
    await t.look(outputs.noDc, 12);
    await t.look(outputs.noDc, 25);
    expect(t.pushes).toEqual([]);
    expect(t.actions).toEqual([]);
    expect(t.events).toEqual([]);
    expect((await rolesFile(t.dir)).waiting).toEqual([
      { user: 'hallpass\\teacher.7', since: new Date(t.state.now - 25 * MINUTE).toISOString() },
    ]);
    // Back at school: the groups are read and the tray is told at once.
    await t.look(outputs.staff, 26);
    expect(t.pushes.map((p) => [p.user, p.role])).toEqual([[TEACHER, 'staff']]);
    expect((await t.sessions.pending(unproven)).role).toBe('staff');
    const file = await rolesFile(t.dir);
    expect(file.waiting).toEqual([]);
    expect(file.roles.map((r) => r.role)).toEqual(['staff']);
  });

  it('after the wait the policy’s defaultRole applies, logged; the answer deadline runs from then', async () => {
    const t = await setup({ tray: true });
    const waitMinutes = DEFAULT_AUP_ROLE_WAIT_MS / MINUTE;
    await t.look(outputs.noDc, 0);
    await t.look(outputs.noDc, waitMinutes - 1);
    expect(t.pushes).toEqual([]);
    await t.look(outputs.noDc, waitMinutes);
    expect(t.pushes.map((p) => [p.user, p.role])).toEqual([[TEACHER, 'pupil']]);
    expect(t.logs.some((l) => /whole wait .*defaultRole applies/.test(l))).toBe(true);
    // The 20-minute answer deadline starts at the fallback, not at the first look.
    await t.look(outputs.noDc, waitMinutes + 19);
    expect(t.actions).toEqual([]);
    await t.look(outputs.noDc, waitMinutes + 20);
    expect(t.actions).toEqual([`sign-out ${TEACHER}`]);
    expect(t.events.map((e) => e.type === 'aup.declined' && [e.data.role, e.data.reason])).toEqual([
      ['pupil', 'no-answer'],
    ]);
    // A fallback is not remembered: a complete read later decides for real.
    expect((await rolesFile(t.dir)).roles).toEqual([]);
  });

  it('a later complete read replaces the remembered role (no longer staff)', async () => {
    const t = await setup();
    await t.look(outputs.staff, 0);
    // The staff fixture with HALLPASS\\Staff taken out: a domain controller says they left it.
    const left = outputs.staff.replace(',"HALLPASS\\\\Staff"', '');
    expect(left).not.toBe(outputs.staff);
    await t.look(left, 60);
    await t.look(outputs.noDc, 120);
    expect((await t.sessions.pending(unproven)).role).toBe('pupil');
    expect((await rolesFile(t.dir)).roles.map((r) => [r.role, r.ruleId])).toEqual([
      ['pupil', null],
    ]);
  });

  it('a role memory that cannot be written is logged; the role still holds for this run', async () => {
    const t = await setup();
    await rm(t.dir, { recursive: true, force: true });
    await t.look(outputs.staff, 0);
    expect(t.logs.some((l) => /AUP role memory not saved/.test(l))).toBe(true);
    await t.look(outputs.noDc, 1);
    expect((await t.sessions.pending(unproven)).role).toBe('staff');
  });

  it('an Entra ID account, never complete, waits too', async () => {
    const t = await setup();
    await t.look(outputs.entra, 0);
    expect(await t.sessions.pending(unproven)).toEqual({
      user: 'AzureAD\\JoSmith',
      role: null,
      documents: [],
    });
  });
});

describe('the role memory across a restart (a real file)', () => {
  it('a remembered role survives a restart', async () => {
    const t = await setup();
    await t.look(outputs.staff, 0);
    await t.restart();
    await t.look(outputs.noDc, 5);
    expect((await t.sessions.pending(unproven)).role).toBe('staff');
    expect(t.pushes.map((p) => p.role)).toEqual(['staff', 'staff']);
  });

  it('a wait survives a restart: rebooting does not start it again', async () => {
    const t = await setup();
    const waitMinutes = DEFAULT_AUP_ROLE_WAIT_MS / MINUTE;
    await t.look(outputs.noDc, 0);
    await t.restart();
    await t.look(outputs.noDc, waitMinutes - 5);
    expect((await t.sessions.pending(unproven)).role).toBe(null);
    await t.restart();
    await t.look(outputs.noDc, waitMinutes);
    expect((await t.sessions.pending(unproven)).role).toBe('pupil');
  });

  it('a wait that starts in the future (a clock set back, a stale file) starts now', async () => {
    const dir = await stateDir();
    const start = new Date(2026, 9, 5, 9).getTime();
    await writeFile(
      join(dir, 'aup-roles.json'),
      JSON.stringify({
        roles: [],
        waiting: [
          { user: 'hallpass\\teacher.7', since: new Date(start + 60 * MINUTE).toISOString() },
        ],
      }),
      { mode: 0o600 },
    );
    const t = await setup({ dir, start });
    await t.look(outputs.noDc, 0);
    expect((await rolesFile(dir)).waiting).toEqual([
      { user: 'hallpass\\teacher.7', since: new Date(start).toISOString() },
    ]);
    await t.look(outputs.noDc, DEFAULT_AUP_ROLE_WAIT_MS / MINUTE);
    expect((await t.sessions.pending(unproven)).role).toBe('pupil');
  });
});

describe('a corrupt or hostile role memory file', () => {
  const remembered = JSON.stringify({
    roles: [
      {
        user: 'hallpass\\teacher.7',
        role: 'none',
        ruleId: null,
        decidedAt: '2026-10-01T09:00:00.000Z',
      },
    ],
    waiting: [],
  });

  it.each([
    [
      'not JSON',
      (dir: string) => writeFile(join(dir, 'aup-roles.json'), '{"roles": [', { mode: 0o600 }),
      /not JSON/,
    ],
    [
      'a role that is not one',
      (dir: string) =>
        writeFile(join(dir, 'aup-roles.json'), remembered.replace('"none"', '"admin"'), {
          mode: 0o600,
        }),
      /refused \(\/roles\/0\/role/,
    ],
    [
      'a time that is not a real time',
      (dir: string) =>
        writeFile(join(dir, 'aup-roles.json'), remembered.replace('2026-10-01', '2026-13-45'), {
          mode: 0o600,
        }),
      /refused/,
    ],
    [
      'writable by others (planted)',
      async (dir: string) => {
        await writeFile(join(dir, 'aup-roles.json'), remembered, { mode: 0o600 });
        await chmod(join(dir, 'aup-roles.json'), 0o666);
      },
      /refused .*other users can write to it/,
    ],
    [
      'a symbolic link',
      async (dir: string) => {
        await writeFile(join(dir, 'elsewhere.json'), remembered, { mode: 0o600 });
        await symlink(join(dir, 'elsewhere.json'), join(dir, 'aup-roles.json'));
      },
      /symbolic link/,
    ],
  ])('%s: nothing remembered, logged, moved aside, never a crash', async (_name, plant, says) => {
    const dir = await stateDir();
    await plant(dir);
    const t = await setup({ dir });
    expect(t.logs.some((l) => says.test(l))).toBe(true);
    expect(t.logs.some((l) => /moved aside/.test(l))).toBe(true);
    expect((await readdir(dir)).some((name) => name.startsWith('aup-roles.json.corrupt-'))).toBe(
      true,
    );
    // Not the planted role `none` (nothing to sign): the teacher waits like anyone unknown.
    await t.look(outputs.noDc, 0);
    expect(await t.sessions.pending(unproven)).toEqual({
      user: TEACHER,
      role: null,
      documents: [],
    });
    // And the service writes its own file again.
    await t.look(outputs.staff, 1);
    expect((await rolesFile(dir)).roles.map((r) => r.role)).toEqual(['staff']);
  });

  it('the same file, the service’s own, is trusted', async () => {
    const dir = await stateDir();
    await writeFile(join(dir, 'aup-roles.json'), remembered, { mode: 0o600 });
    const memory = await AupRoleMemory.open(dir);
    expect(memory.problems()).toEqual([]);
    expect(memory.roleOf(TEACHER)).toMatchObject({ role: null, ruleId: null });
  });
});
