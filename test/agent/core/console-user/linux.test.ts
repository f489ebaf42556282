import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { consoleUserSourceFor } from '../../../../agent/core/console-user/index.ts';
import {
  linuxConsoleUserSource,
  linuxGroupsOf,
  readLinuxConsoleUser,
} from '../../../../agent/core/console-user/linux.ts';
import { realHost } from '../../../../agent/core/host.ts';
import { execRunner, ProbeError, type CommandOutput } from '../../../../agent/core/runner.ts';
import { fakeHost } from '../../../helpers/fake-host.ts';

const FIXTURES = join(import.meta.dirname, '../../../fixtures/linux/console-user');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const ok = (stdout: string): CommandOutput => ({ stdout, stderr: '', exitCode: 0 });

/** Answers loginctl and id from fixtures, by subcommand. */
function logind(answers: { seat: CommandOutput; session?: CommandOutput; id?: CommandOutput }) {
  return fakeHost({
    commands: {
      loginctl: (args) => (args[0] === 'show-seat' ? answers.seat : (answers.session ?? ok(''))),
      id: answers.id ?? ok(fixture('id-Gnz-root.bin')),
    },
  });
}

const noSystemd = (): CommandOutput => ({
  stdout: fixture('no-systemd-show-seat.stdout.txt'),
  stderr: fixture('no-systemd-show-seat.stderr.txt'),
  exitCode: 1,
});

const warnings = () => {
  const seen: unknown[] = [];
  return { seen, log: { warn: (details: Record<string, unknown>) => seen.push(details.problem) } };
};

describe('readLinuxConsoleUser on recorded outputs', () => {
  it('no systemd as PID 1 (recorded here): unknown, with loginctl’s reason', async () => {
    const reading = await readLinuxConsoleUser(logind({ seat: noSystemd() }).run);
    expect(reading).toEqual({
      kind: 'unknown',
      reason:
        "loginctl show-seat failed (exit 1): System has not been booted with systemd as init system (PID 1). Can't operate.",
    });
  });

  it('an active user session on seat0: the user and their groups', async () => {
    const host = logind({
      seat: ok(fixture('constructed-show-seat-active.txt')),
      session: ok(fixture('constructed-show-session-user.txt')),
      id: ok('pupil.0042\0pupils\0year9\0domain users\0'),
    });
    expect(await readLinuxConsoleUser(host.run)).toEqual({
      kind: 'user',
      user: {
        name: 'pupil.0042',
        groups: ['pupil.0042', 'pupils', 'year9', 'domain users'],
        groupsComplete: true,
      },
      problem: null,
    });
    expect(host.calls.map((c) => [c.command, ...c.args].join(' '))).toEqual([
      'loginctl show-seat seat0 -p ActiveSession --value',
      'loginctl show-session 2 -p Name -p Class -p State',
      'id -Gnz -- pupil.0042',
    ]);
  });

  it('the greeter (login screen) is nobody', async () => {
    const host = logind({
      seat: ok(fixture('constructed-show-seat-active.txt')),
      session: ok(fixture('constructed-show-session-greeter.txt')),
    });
    expect(await readLinuxConsoleUser(host.run)).toEqual({ kind: 'nobody' });
  });

  it('no active session on seat0 is nobody', async () => {
    const host = logind({ seat: ok(fixture('constructed-show-seat-none.txt')) });
    expect(await readLinuxConsoleUser(host.run)).toEqual({ kind: 'nobody' });
    expect(await readLinuxConsoleUser(logind({ seat: ok('') }).run)).toEqual({ kind: 'nobody' });
  });

  it('session properties without Name and Class (real other output) are refused', async () => {
    const host = logind({
      seat: ok('1\n'),
      session: ok(fixture('autorandr-52-show-session-display-active.txt')),
    });
    expect(await readLinuxConsoleUser(host.run)).toMatchObject({
      kind: 'unknown',
      reason: expect.stringContaining('did not say the session user') as unknown,
    });
  });

  it.each([
    ['a session id that is not one', ok('../../x\n'), ok('')],
    ['a user name that would be an option', ok('2\n'), ok('Name=-rf\nClass=user\nState=active\n')],
    ['a user name with a space', ok('2\n'), ok('Name=a b\nClass=user\n')],
  ])('hostile output (%s) is unknown, and id never runs', async (_name, seat, session) => {
    const host = logind({ seat, session });
    expect((await readLinuxConsoleUser(host.run)).kind).toBe('unknown');
    expect(host.calls.some((c) => c.command === 'id')).toBe(false);
  });

  it('a missing loginctl is unknown, never a crash', async () => {
    const host = fakeHost({
      commands: { loginctl: new ProbeError('command-missing', 'loginctl is not installed') },
    });
    expect(await readLinuxConsoleUser(host.run)).toEqual({
      kind: 'unknown',
      reason: 'loginctl is not installed',
    });
  });

  it('groups that cannot be read leave the user without groups, marked incomplete, with the reason', async () => {
    const host = logind({
      seat: ok('2\n'),
      session: ok(fixture('constructed-show-session-user.txt')),
      id: { stdout: '', stderr: "id: 'pupil.0042': no such user\n", exitCode: 1 },
    });
    expect(await readLinuxConsoleUser(host.run)).toEqual({
      kind: 'user',
      user: { name: 'pupil.0042', groups: [], groupsComplete: false },
      problem: "id failed for pupil.0042: id: 'pupil.0042': no such user",
    });
  });

  it('the source logs a reason once while it repeats', async () => {
    const { seen, log } = warnings();
    const source = linuxConsoleUserSource(logind({ seat: noSystemd() }).run, log);
    expect(await source.current()).toBeNull();
    expect(await source.current()).toBeNull();
    expect(seen).toHaveLength(1);
  });
});

describe('on this machine, for real', () => {
  it.runIf(!existsSync('/run/systemd/system'))(
    'without systemd as PID 1, the console user is null with a logged reason',
    async () => {
      const { seen, log } = warnings();
      const source = consoleUserSourceFor('linux', realHost, log);
      expect(await source.current()).toBeNull();
      expect(String(seen[0])).toMatch(/^loginctl show-seat failed \(exit 1\): /);
    },
    30_000,
  );

  it('reads real groups with id, and a missing user is a reason', async () => {
    expect(await linuxGroupsOf(execRunner, 'root')).toEqual({ groups: ['root'], problem: null });
    const missing = await linuxGroupsOf(execRunner, 'no-such-user-hallpass');
    expect(missing.groups).toEqual([]);
    expect(missing.problem).toMatch(/no such user/);
  }, 30_000);
});
