import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import { screenLockCheck } from '../../../../../agent/core/checks/screen-lock/index.ts';
import {
  LOCK_KEYS,
  parse,
  parseSessionProperties,
  readGnomeSettings,
  type LinuxRaw,
  type SystemSettingsRaw,
} from '../../../../../agent/core/checks/screen-lock/linux.ts';
import { realHost, type Host } from '../../../../../agent/core/host.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import { ProbeError, type CommandOutput, type Runner } from '../../../../../agent/core/runner.ts';
import { fixtureDir } from './fixture-files.ts';

const dir = fixtureDir('linux');
const pupil = { user: 'pupil', uid: 1000 };

function gsettingsOutput(name: string): CommandOutput {
  const file = (part: string): string => {
    const url = new URL(`${name}/${part}.txt`, dir);
    return existsSync(url) ? readFileSync(url, 'utf8') : '';
  };
  return { stdout: file('stdout'), stderr: file('stderr'), exitCode: Number(file('exit') || '0') };
}

const defaults = gsettingsOutput('debian12-defaults');
const answer = (stdout: string): CommandOutput => ({ stdout, stderr: '', exitCode: 0 });
/** Root's view on a machine with no system dconf database: GNOME's defaults, nothing locked. */
const unlockedSystem: SystemSettingsRaw = {
  values: defaults,
  writable: Object.fromEntries(LOCK_KEYS.map((key) => [key, answer('true\n')])) as Record<
    (typeof LOCK_KEYS)[number],
    CommandOutput
  >,
};

describe('screen-lock linux parse, recorded gsettings output of the user', () => {
  it.each([
    {
      fixture: 'debian12-defaults',
      facts: { lockEnabled: true, lockAfterSeconds: 300, source: 'user-setting' },
      settings: { lockEnabled: true, idleDelaySeconds: 300, lockDelaySeconds: 0 },
    },
    {
      fixture: 'debian12-idle-1800-lock-delay-30',
      facts: { lockEnabled: true, lockAfterSeconds: 1830 },
      settings: { lockEnabled: true, idleDelaySeconds: 1800, lockDelaySeconds: 30 },
    },
    {
      fixture: 'opensemanticsearch-lock-off',
      facts: { lockEnabled: false, lockAfterSeconds: null },
      settings: { lockEnabled: false, idleDelaySeconds: 0, lockDelaySeconds: null },
    },
  ])('$fixture', ({ fixture, facts, settings }) => {
    const parsed = parse({
      session: pupil,
      gsettings: gsettingsOutput(fixture),
      system: unlockedSystem,
    });
    // Nothing is locked, so the user's values decide and are marked as theirs to change.
    expect(parsed).toMatchObject({
      ok: true,
      facts: { ...facts, session: 'present', user: 'pupil', settings, userCanChange: true },
    });
  });

  it('debian12-no-schema: no GNOME is not-measured, never a pass', () => {
    const noSchema = gsettingsOutput('debian12-no-schema');
    expect(
      parse({
        session: pupil,
        gsettings: noSchema,
        system: { ...unlockedSystem, values: noSchema },
      }),
    ).toEqual({
      ok: false,
      code: 'not-measured',
      detail: 'no GNOME desktop: No schemas installed',
    });
  });

  it.each([
    { name: 'empty output', out: { stdout: '', stderr: '', exitCode: 0 } },
    { name: 'prefixed lines', out: { ...defaults, stdout: defaults.stdout.replace(/^/gm, '> ') } },
    { name: 'a warning on stderr', out: { ...defaults, stderr: 'dconf-WARNING **: failed\n' } },
    { name: 'non-zero exit', out: { ...defaults, exitCode: 1 } },
    {
      name: 'lock-enabled not boolean',
      out: { ...defaults, stdout: defaults.stdout.replace('lock-enabled true', 'lock-enabled 1') },
    },
    {
      name: 'idle-delay missing',
      out: { ...defaults, stdout: defaults.stdout.replace(/^.*idle-delay.*\n/m, '') },
    },
  ])('refuses $name', ({ out }) => {
    // As root's view it is refused outright; as the user's it leaves only root's view, which
    // the user can change, so it never passes either (see the real-dconf cases below).
    const raw = { session: pupil, gsettings: defaults, system: { ...unlockedSystem, values: out } };
    expect(parse(raw)).toMatchObject({
      ok: false,
      code: 'unrecognised-output',
    });
  });

  it('reports no graphical session as not measured', () => {
    const raw: LinuxRaw = {
      session: { none: 'Failed to connect to bus' },
      gsettings: null,
      system: null,
    };
    expect(parse(raw)).toMatchObject({
      ok: true,
      facts: {
        session: 'none',
        lockEnabled: null,
        problem: 'no graphical session: Failed to connect to bus',
      },
    });
  });

  it('counts only x11 and wayland sessions', () => {
    expect(parseSessionProperties('Name=pupil\nUser=1000\nType=wayland\n')).toEqual(pupil);
    expect(parseSessionProperties('Name=pupil\nUser=1000\nType=tty\n')).toEqual({
      none: 'the active session is tty, not a desktop',
    });
    // An answer that names nobody is a failure to read, not an observation that nobody is there.
    expect('failed' in parseSessionProperties('')).toBe(true);
  });
});

describe('screen-lock linux when the sessions cannot be read', () => {
  const policyPromise = readDefaultPolicy();
  // Replays recorded loginctl output; every other command must not be reached.
  const replay =
    (seat: CommandOutput): Runner =>
    (command, args) =>
      command === 'loginctl' && args[0] === 'show-seat'
        ? Promise.resolve(seat)
        : Promise.reject(new Error(`unexpected ${command} ${args.join(' ')}`));

  it('no systemd as PID 1 (recorded): unknown saying so, never "nobody is signed in"', async () => {
    const seat = gsettingsOutput('debian12-no-systemd-pid1');
    const result = await runCheck(screenLockCheck, {
      os: 'linux',
      host: { ...realHost, run: replay(seat) },
      policy: await policyPromise,
    });
    expect(result).toMatchObject({ status: 'unknown', reason: { code: 'probe-failed' } });
    expect(result.summary).toContain('System has not been booted with systemd as init system');
    expect(result.summary).not.toMatch(/nobody|no one/i);
    expect(result.evidence).toEqual({});
  });

  it('an empty ActiveSession with exit 0 is what logind says when nobody is signed in', async () => {
    const result = await runCheck(screenLockCheck, {
      os: 'linux',
      host: { ...realHost, run: replay({ stdout: '\n', stderr: '', exitCode: 0 }) },
      policy: await policyPromise,
    });
    expect(result).toMatchObject({
      status: 'unknown',
      reason: { code: 'not-measured' },
      evidence: { session: 'none', lockEnabled: null },
    });
    expect(result.summary).toContain('nobody is signed in');
  });
});

describe('screen-lock linux probe plumbing (fake runner)', () => {
  const policyPromise = readDefaultPolicy();
  const hostWith = (run: Runner): Host => ({ ...realHost, run });

  it('runs gsettings as the desktop user with their bus', async () => {
    const calls: { command: string; args: readonly string[]; env?: Record<string, string> }[] = [];
    const run: Runner = (command, args, options) => {
      calls.push({ command, args, env: options.env });
      if (args[0] === 'show-seat') {
        return Promise.resolve({ stdout: '2\n', stderr: '', exitCode: 0 });
      }
      if (args[0] === 'show-session') {
        return Promise.resolve({
          stdout: 'Name=pupil\nUser=1000\nType=x11\n',
          stderr: '',
          exitCode: 0,
        });
      }
      if (args[0] === 'writable') {
        return Promise.resolve(answer('true\n'));
      }
      const schema = args.at(-1) ?? '';
      const lines = defaults.stdout.split('\n').filter((l) => l.startsWith(schema + ' '));
      return Promise.resolve({ stdout: lines.join('\n') + '\n', stderr: '', exitCode: 0 });
    };
    const result = await runCheck(screenLockCheck, {
      os: 'linux',
      host: hostWith(run),
      policy: await policyPromise,
    });
    // GNOME's default 5 minutes, but nothing locks it: the user can change it, so a warning.
    expect(result).toMatchObject({
      status: 'warn',
      evidence: { lockAfterSeconds: 300, user: 'pupil', userCanChange: true },
    });
    const rootViews = calls.filter((c) => c.command === 'gsettings');
    expect(rootViews.map((c) => c.args.slice(0, 2))).toEqual([
      ['list-recursively', 'org.gnome.desktop.session'],
      ['list-recursively', 'org.gnome.desktop.screensaver'],
      ['writable', 'org.gnome.desktop.screensaver'],
      ['writable', 'org.gnome.desktop.session'],
      ['writable', 'org.gnome.desktop.screensaver'],
    ]);
    // Root's own dconf database never counts: only the system databases and schema defaults.
    expect(rootViews.every((c) => c.env?.XDG_CONFIG_HOME === '/dev/null')).toBe(true);
    const gsettings = calls.filter((c) => c.command === 'runuser');
    expect(gsettings.map((c) => c.args)).toEqual([
      ['-u', 'pupil', '--', 'gsettings', 'list-recursively', 'org.gnome.desktop.session'],
      ['-u', 'pupil', '--', 'gsettings', 'list-recursively', 'org.gnome.desktop.screensaver'],
    ]);
    expect(gsettings[0]?.env).toEqual({
      DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus',
      XDG_RUNTIME_DIR: '/run/user/1000',
    });
  });

  it('is unknown command-missing when loginctl is not installed', async () => {
    const run: Runner = (command) =>
      Promise.reject(new ProbeError('command-missing', `${command} is not installed`));
    const result = await runCheck(screenLockCheck, {
      os: 'linux',
      host: hostWith(run),
      policy: await policyPromise,
    });
    expect(result).toMatchObject({ status: 'unknown', reason: { code: 'command-missing' } });
  });
});

describe('screen-lock linux on this machine (real probe)', () => {
  it('matches what logind itself says about seat0', async () => {
    const result = await runCheck(screenLockCheck, {
      os: 'linux',
      host: realHost,
      policy: await readDefaultPolicy(),
    });
    // Independent look at logind's own state files. sd_booted(3): systemd is PID 1 exactly when
    // /run/systemd/system/ exists; logind writes seat0's active session to /run/systemd/seats.
    if (!existsSync('/run/systemd/system')) {
      expect(result).toMatchObject({ status: 'unknown', reason: { code: 'probe-failed' } });
      expect(result.summary).not.toMatch(/nobody|no one/i);
      return;
    }
    const active = /^ACTIVE=(\S+)$/m.exec(readText('/run/systemd/seats/seat0'))?.[1];
    const type = /^TYPE=(\S+)$/m.exec(
      active ? readText(`/run/systemd/sessions/${active}`) : '',
    )?.[1];
    if (type === 'x11' || type === 'wayland') {
      expect(result.evidence).toMatchObject({ session: 'present' });
    } else {
      expect(result).toMatchObject({ status: 'unknown', evidence: { session: 'none' } });
    }
  });

  it('reads the values gsettings itself reports key by key', async () => {
    const raw = await readGnomeSettings(realHost, null);
    const parsed = parse({
      session: pupil,
      gsettings: raw,
      system: { ...unlockedSystem, values: raw },
    });
    // Independent oracle: `gsettings get` of each key, whatever this machine's dconf holds.
    const get = (schema: string, key: string) =>
      realHost.run('gsettings', ['get', schema, key], { timeoutMs: 10_000 });
    const idle = await get('org.gnome.desktop.session', 'idle-delay');
    const enabled = await get('org.gnome.desktop.screensaver', 'lock-enabled');
    const delay = await get('org.gnome.desktop.screensaver', 'lock-delay');
    if ([idle, enabled, delay].some((output) => output.exitCode !== 0)) {
      // No GNOME schemas here: the parser must not claim any value.
      expect(parsed.ok).toBe(false);
      return;
    }
    const uint = (output: CommandOutput) =>
      Number(/^uint32 (\d+)$/.exec(output.stdout.trim())?.[1]);
    expect(parsed).toMatchObject({
      ok: true,
      facts: {
        settings: {
          idleDelaySeconds: uint(idle),
          lockEnabled: enabled.stdout.trim() === 'true',
          lockDelaySeconds: uint(delay),
        },
      },
    });
  });
});

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
