import { describe, expect, it } from 'vitest';
import {
  parse,
  parseScreenLockStatus,
  probe,
  type DarwinRaw,
} from '../../../../../agent/core/checks/screen-lock/darwin.ts';
import { evaluate } from '../../../../../agent/core/checks/screen-lock/evaluate.ts';
import { realHost, type Host } from '../../../../../agent/core/host.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import type { Runner } from '../../../../../agent/core/runner.ts';
import { fixtureDir, loadOutput } from './fixture-files.ts';

const dir = fixtureDir('darwin');

function loadRaw(name: string): DarwinRaw {
  const folder = new URL(`${name}/`, dir);
  return {
    consoleUser: 'pupil',
    screenLock: loadOutput(folder, 'sysadminctl'),
    idleTime: loadOutput(folder, 'idletime'),
    managedIdleTime: null,
  };
}

describe('screen-lock darwin parse, recorded output', () => {
  it.each([
    {
      fixture: 'delay-5s-idle-600',
      facts: { lockEnabled: true, lockAfterSeconds: 605, source: 'user-setting', problem: null },
    },
    {
      fixture: 'off-idle-600',
      facts: {
        lockEnabled: false,
        lockAfterSeconds: null,
        settings: { screenLockOff: true },
      },
    },
    { fixture: 'immediate-idle-3600', facts: { lockEnabled: true, lockAfterSeconds: 3600 } },
    {
      fixture: 'immediate-idle-unset',
      facts: {
        lockEnabled: null,
        lockAfterSeconds: null,
        problem: 'the screen saver start time is not set, so an undocumented macOS default applies',
      },
    },
  ])('$fixture', ({ fixture, facts }) => {
    expect(parse(loadRaw(fixture))).toMatchObject({
      ok: true,
      facts: { session: 'present', user: 'pupil', ...facts },
    });
  });

  it('lets a configuration profile beat the user value', () => {
    const raw = {
      ...loadRaw('immediate-idle-3600'),
      managedIdleTime: loadOutput(new URL('delay-5s-idle-600/', dir), 'idletime'),
    };
    expect(parse(raw)).toMatchObject({
      ok: true,
      facts: { lockAfterSeconds: 600, source: 'mdm-profile' },
    });
  });

  // Issue 12: the user's own `defaults` are theirs to change; a profile's are not.
  it("the user's own idle time is a warning, a profile's a pass", async () => {
    const policy = await readDefaultPolicy();
    const limit = {
      ...policy,
      checks: { ...policy.checks, screenLock: { required: true, maxIdleMinutes: 15 } },
    };
    const context = { os: 'darwin', now: new Date() } as const;
    const own = parse(loadRaw('delay-5s-idle-600'));
    expect(own).toMatchObject({
      ok: true,
      facts: { userCanChange: true, enforcedLockAfterSeconds: null },
    });
    expect(own.ok && evaluate(own.facts, limit, context).status).toBe('warn');
    const managed = parse({
      ...loadRaw('delay-5s-idle-600'),
      managedIdleTime: loadOutput(new URL('delay-5s-idle-600/', dir), 'idletime'),
    });
    expect(managed.ok && managed.facts.userCanChange).toBeFalsy();
    expect(managed.ok && evaluate(managed.facts, limit, context).status).toBe('pass');
  });

  const good = loadRaw('delay-5s-idle-600');
  const goodLock = must(good.screenLock);
  it.each([
    {
      name: 'no sysadminctl output',
      raw: { ...good, screenLock: { stdout: '', stderr: '', exitCode: 0 } },
    },
    {
      name: 'a password prompt instead of an answer',
      raw: { ...good, screenLock: { stdout: '', stderr: 'Password:\n', exitCode: 1 } },
    },
    {
      name: 'two contradicting answers',
      raw: {
        ...good,
        screenLock: {
          ...goodLock,
          stderr: goodLock.stderr + 'x screenLock is off\n',
        },
      },
    },
    {
      name: 'idleTime not a number',
      raw: { ...good, idleTime: { stdout: 'abc\n', stderr: '', exitCode: 0 } },
    },
    {
      name: 'idleTime error other than a missing key',
      raw: {
        ...good,
        idleTime: { stdout: '', stderr: 'defaults: permission denied', exitCode: 1 },
      },
    },
  ])('refuses $name', ({ raw }) => {
    expect(parse(raw)).toMatchObject({ ok: false, code: 'unrecognised-output' });
  });

  it('reads the answer behind the NSLog prefix only', () => {
    expect(parseScreenLockStatus(goodLock)).toBe(5);
    expect(parseScreenLockStatus(must(loadRaw('off-idle-600').screenLock))).toBe('off');
    expect(
      parseScreenLockStatus({ stdout: '', stderr: 'screenLock delay is soon\n', exitCode: 0 }),
    ).toBeNull();
  });

  it('is no session at the login window', () => {
    const raw: DarwinRaw = {
      consoleUser: 'root',
      screenLock: null,
      idleTime: null,
      managedIdleTime: null,
    };
    expect(parse(raw)).toMatchObject({ ok: true, facts: { session: 'none', lockEnabled: null } });
  });
});

describe('screen-lock darwin probe plumbing (fake runner)', () => {
  it('asks as the console user through launchctl asuser', async () => {
    const calls: string[][] = [];
    const run: Runner = (command, args) => {
      calls.push([command, ...args]);
      const stdout = command === 'stat' ? 'pupil\n' : command === 'id' ? '501\n' : '';
      return Promise.resolve({ stdout, stderr: '', exitCode: 0 });
    };
    const host: Host = { ...realHost, run };
    const raw = await probe(host);
    expect(raw.consoleUser).toBe('pupil');
    expect(calls).toContainEqual([
      'launchctl',
      'asuser',
      '501',
      'sudo',
      '-u',
      'pupil',
      '/usr/sbin/sysadminctl',
      '-screenLock',
      'status',
    ]);
  });

  it('does not run per-user commands at the login window', async () => {
    const calls: string[] = [];
    const run: Runner = (command) => {
      calls.push(command);
      return Promise.resolve({ stdout: 'root\n', stderr: '', exitCode: 0 });
    };
    expect(await probe({ ...realHost, run })).toMatchObject({
      consoleUser: 'root',
      screenLock: null,
    });
    expect(calls).toEqual(['stat']);
  });

  it.each([
    [
      'stat fails',
      {
        stat: { stdout: '', stderr: 'stat: /dev/console: Operation not permitted\n', exitCode: 1 },
      },
    ],
    ['id fails', { id: { stdout: '', stderr: 'id: pupil: no such user\n', exitCode: 1 } }],
  ])('%s: unknown with the error, never "no one is signed in"', async (_name, failing) => {
    const outputs: Record<string, { stdout: string; stderr: string; exitCode: number }> = {
      stat: { stdout: 'pupil\n', stderr: '', exitCode: 0 },
      id: { stdout: '501\n', stderr: '', exitCode: 0 },
      ...failing,
    };
    const run: Runner = (command) =>
      Promise.resolve(outputs[command] ?? { stdout: '', stderr: '', exitCode: 0 });
    const parsed = parse(await probe({ ...realHost, run }));
    expect(parsed).toMatchObject({ ok: false, code: 'probe-failed' });
    const detail = parsed.ok ? '' : parsed.detail;
    expect(detail).toMatch(/not permitted|no such user/);
    expect(detail).not.toMatch(/no one|nobody/);
  });
});

function must<T>(value: T | null): T {
  if (value === null) {
    throw new Error('fixture output missing');
  }
  return value;
}
