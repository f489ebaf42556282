import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import { screenLockCheck } from '../../../../../agent/core/checks/screen-lock/index.ts';
import { evaluate } from '../../../../../agent/core/checks/screen-lock/evaluate.ts';
import type { ScreenLockFacts } from '../../../../../agent/core/checks/screen-lock/facts.ts';
import { parse } from '../../../../../agent/core/checks/screen-lock/windows.ts';
import { realHost } from '../../../../../agent/core/host.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import { ProbeError, type Runner } from '../../../../../agent/core/runner.ts';
import type { Policy } from '../../../../../shared/index.ts';
import { fixtureDir } from './fixture-files.ts';

const read = (name: string): string => readFileSync(new URL(name, fixtureDir('windows')), 'utf8');

const withLimit = async (maxIdleMinutes: number): Promise<Policy> => {
  const policy = await readDefaultPolicy();
  return {
    ...policy,
    checks: { ...policy.checks, screenLock: { required: true, maxIdleMinutes } },
  };
};

describe('screen-lock windows parse, transcribed registry output', () => {
  it.each([
    {
      fixture: 'gpo-screensaver-600.json',
      facts: { lockEnabled: true, lockAfterSeconds: 600, source: 'user-policy' },
    },
    {
      fixture: 'machine-limit-600.json',
      facts: { lockEnabled: true, lockAfterSeconds: 600, source: 'machine-policy' },
    },
    {
      fixture: 'machine-limit-105.json',
      facts: { lockEnabled: true, lockAfterSeconds: 105, source: 'machine-policy' },
    },
    {
      fixture: 'user-not-secure.json',
      facts: {
        lockEnabled: false,
        lockAfterSeconds: null,
        source: 'none',
        user: 'HOST\\Administrator',
      },
    },
  ])('$fixture', ({ fixture, facts }) => {
    expect(parse(read(fixture))).toMatchObject({
      ok: true,
      facts: { session: 'present', problem: null, ...facts },
    });
  });

  const gpo = JSON.parse(read('gpo-screensaver-600.json')) as Record<string, unknown>;
  const machine = JSON.parse(read('machine-limit-105.json')) as Record<string, unknown>;

  it('takes the earlier of the machine limit and the screen saver', () => {
    const both = JSON.stringify({ ...gpo, inactivityTimeoutSecs: 900 });
    expect(parse(both)).toMatchObject({
      ok: true,
      facts: { lockAfterSeconds: 600, source: 'user-policy' },
    });
  });

  it('lets the policy copy beat the user value', () => {
    const insecurePolicy = {
      ...gpo,
      user: { ScreenSaveActive: '1', ScreenSaverIsSecure: '1', ScreenSaveTimeOut: '60' },
      userPolicy: { ScreenSaveActive: null, ScreenSaverIsSecure: '0', ScreenSaveTimeOut: null },
    };
    expect(parse(JSON.stringify(insecurePolicy))).toMatchObject({
      ok: true,
      facts: { lockEnabled: false },
    });
  });

  // Issue 12: HKCU\Control Panel\Desktop is the pupil's to write, so a lock resting on it alone
  // is a warning; a machine or user policy they cannot change decides whether it is a pass.
  describe("the user's own screen saver", () => {
    const own = {
      ...gpo,
      user: { ScreenSaveActive: '1', ScreenSaverIsSecure: '1', ScreenSaveTimeOut: '300' },
      userPolicy: { ScreenSaveActive: null, ScreenSaverIsSecure: null, ScreenSaveTimeOut: null },
    };
    const verdict = async (facts: unknown): Promise<string> => {
      const parsed = facts as { ok: true; facts: ScreenLockFacts };
      return evaluate(parsed.facts, await withLimit(15), { os: 'windows', now: new Date() }).status;
    };

    it('alone: the user can change it, nothing else locks, so a warning', async () => {
      const parsed = parse(JSON.stringify(own));
      expect(parsed).toMatchObject({
        ok: true,
        facts: {
          lockAfterSeconds: 300,
          source: 'user-setting',
          userCanChange: true,
          enforcedLockAfterSeconds: null,
        },
      });
      expect(await verdict(parsed)).toBe('warn');
    });

    it('under a machine limit that passes by itself: a pass', async () => {
      const parsed = parse(JSON.stringify({ ...own, inactivityTimeoutSecs: 600 }));
      expect(parsed).toMatchObject({
        ok: true,
        facts: { lockAfterSeconds: 300, userCanChange: true, enforcedLockAfterSeconds: 600 },
      });
      expect(await verdict(parsed)).toBe('pass');
    });

    it('under a machine limit that is too long: a warning', async () => {
      const parsed = parse(JSON.stringify({ ...own, inactivityTimeoutSecs: 3600 }));
      expect(parsed).toMatchObject({ ok: true, facts: { enforcedLockAfterSeconds: 3600 } });
      expect(await verdict(parsed)).toBe('warn');
    });

    it("a policy value is not the user's to change", async () => {
      const parsed = parse(read('gpo-screensaver-600.json'));
      expect(parsed.ok && parsed.facts.userCanChange).toBeFalsy();
      expect(await verdict(parsed)).toBe('pass');
    });
  });

  it('tolerates the UTF-8 BOM Windows PowerShell may print first', () => {
    expect(parse('\uFEFF' + read('machine-limit-600.json'))).toMatchObject({ ok: true });
  });

  it('is no session when nobody is at the console', () => {
    const nobody = JSON.stringify({
      ...machine,
      consoleUser: null,
      sid: null,
      user: null,
      userPolicy: null,
    });
    expect(parse(nobody)).toMatchObject({ ok: true, facts: { session: 'none' } });
  });

  it('keeps a readable machine limit as an upper bound when the user hive failed', () => {
    const partly = JSON.stringify({
      ...machine,
      user: null,
      userPolicy: null,
      error: 'user settings: denied',
    });
    expect(parse(partly)).toMatchObject({
      ok: true,
      facts: { lockEnabled: true, lockAfterSeconds: 105, problem: 'user settings: denied' },
    });
  });

  it.each([
    { name: 'empty output', raw: '' },
    {
      name: 'PowerShell error text',
      raw: 'Get-CimInstance : Access denied\r\n+ CategoryInfo : PermissionDenied',
    },
    { name: 'an array', raw: '[1,2]' },
    { name: 'a missing field', raw: JSON.stringify({ ...gpo, userPolicy: undefined }) },
    {
      name: 'a timeout that is not a number',
      raw: JSON.stringify({
        ...gpo,
        userPolicy: {
          ScreenSaveActive: '1',
          ScreenSaverIsSecure: '1',
          ScreenSaveTimeOut: '10 min',
        },
      }),
    },
    { name: 'truncated JSON', raw: read('gpo-screensaver-600.json').slice(0, 40) },
  ])('refuses $name', ({ raw }) => {
    expect(parse(raw)).toMatchObject({ ok: false, code: 'unrecognised-output' });
  });

  it('says why when a section failed and nothing shows a lock', () => {
    const failed = JSON.stringify({
      ...gpo,
      userPolicy: null,
      user: null,
      error: 'user settings: the hive is not loaded',
    });
    expect(parse(failed)).toEqual({
      ok: false,
      code: 'probe-failed',
      detail: 'user settings: the hive is not loaded',
    });
  });
});

describe('screen-lock windows probe plumbing (fake runner)', () => {
  it('is unknown command-missing without powershell.exe', async () => {
    const run: Runner = (command) =>
      Promise.reject(new ProbeError('command-missing', `${command} is not installed`));
    const result = await runCheck(screenLockCheck, {
      os: 'windows',
      host: { ...realHost, run },
      policy: await readDefaultPolicy(),
    });
    expect(result).toMatchObject({ status: 'unknown', reason: { code: 'command-missing' } });
  });

  it('runs the script once and evaluates its JSON', async () => {
    const commands: string[] = [];
    const run: Runner = (command) => {
      commands.push(command);
      return Promise.resolve({ stdout: read('gpo-screensaver-600.json'), stderr: '', exitCode: 0 });
    };
    const result = await runCheck(screenLockCheck, {
      os: 'windows',
      host: { ...realHost, run },
      policy: await readDefaultPolicy(),
    });
    expect(commands).toEqual(['powershell.exe']);
    expect(result.status).toBe('pass');
    expect(result.summary).toContain('10 minutes');
  });
});
