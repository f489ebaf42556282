// The pupil is the adversary (issue 12): `gsettings` run as the signed-in user is a process they
// can ptrace, whose environment and dconf database they control, so it can say "locks after
// 1 minute" whatever is true. These cases build real system dconf databases with the real
// `dconf compile` (what `dconf update` runs for /etc/dconf/db/<name>.d/) and read them through
// the probe's root view with the real gsettings; the pupil's answer is real gsettings output too,
// from a keyfile database they wrote.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../../../../agent/core/checks/screen-lock/evaluate.ts';
import { parse, probe } from '../../../../../agent/core/checks/screen-lock/linux.ts';
import { realHost, type Host } from '../../../../../agent/core/host.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import type { Runner } from '../../../../../agent/core/runner.ts';
import type { Policy } from '../../../../../shared/index.ts';

const haveDconf = ['/usr/bin/dconf', '/usr/bin/gsettings'].every((path) => existsSync(path));
const LOCK_ENABLED = '/org/gnome/desktop/screensaver/lock-enabled';
const IDLE_DELAY = '/org/gnome/desktop/session/idle-delay';
const LOCK_DELAY = '/org/gnome/desktop/screensaver/lock-delay';

describe.skipIf(!haveDconf)('screen-lock linux judged from the system dconf databases', () => {
  let dir = '';
  let policy: Policy;
  let counter = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hallpass-dconf-'));
    policy = await readDefaultPolicy();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A system database from a keyfile and locks, compiled by dconf; returns a profile naming it. */
  async function systemDatabase(keyfile: string | null, locks: string[]): Promise<string> {
    const name = `case-${++counter}`;
    const profile = join(dir, `${name}.profile`);
    if (keyfile === null) {
      // The default profile when /etc/dconf/profile/user is absent: the user's database only.
      await writeFile(profile, 'user-db:user\n');
      return profile;
    }
    const source = join(dir, `${name}.d`);
    await mkdir(join(source, 'locks'), { recursive: true });
    await writeFile(join(source, '00-school'), keyfile);
    await writeFile(join(source, 'locks', '00-school'), locks.join('\n') + '\n');
    execFileSync('dconf', ['compile', join(dir, name), source]);
    await writeFile(profile, `user-db:user\nfile-db:${join(dir, name)}\n`);
    return profile;
  }

  /** The pupil's own settings in a keyfile database only they write, set with real gsettings. */
  async function pupilSettings(values: [string, string, string][]): Promise<string> {
    const home = join(dir, `pupil-${++counter}`);
    await mkdir(home);
    for (const [schema, key, value] of values) {
      execFileSync('gsettings', ['set', schema, key, value], {
        env: { PATH: '/usr/bin:/bin', GSETTINGS_BACKEND: 'keyfile', XDG_CONFIG_HOME: home },
      });
    }
    return home;
  }

  /** logind answers that pupil is at seat0; `runuser … gsettings` reads the pupil's database. */
  function hostFor(pupilHome: string): Host {
    const run: Runner = (command, args, options) => {
      if (command === 'loginctl') {
        return Promise.resolve({
          stdout: args[0] === 'show-seat' ? '2\n' : 'Name=pupil\nUser=1000\nType=wayland\n',
          stderr: '',
          exitCode: 0,
        });
      }
      if (command === 'runuser') {
        return realHost.run('gsettings', args.slice(args.indexOf('gsettings') + 1), {
          ...options,
          env: { GSETTINGS_BACKEND: 'keyfile', XDG_CONFIG_HOME: pupilHome },
        });
      }
      return realHost.run(command, args, options);
    };
    return { ...realHost, run };
  }

  // The pupil's claim: the screen locks after one minute.
  const oneMinute: [string, string, string][] = [
    ['org.gnome.desktop.screensaver', 'lock-enabled', 'true'],
    ['org.gnome.desktop.session', 'idle-delay', '60'],
    ['org.gnome.desktop.screensaver', 'lock-delay', '0'],
  ];

  async function judge(profile: string, pupilHome: string) {
    const raw = await probe(hostFor(pupilHome), { dconfProfile: profile });
    const parsed = parse(raw);
    if (!parsed.ok) {
      throw new Error(`parse refused: ${parsed.detail}`);
    }
    return {
      facts: parsed.facts,
      verdict: evaluate(parsed.facts, policy, { os: 'linux', now: new Date() }),
    };
  }

  it('no system database: the pupil saying "1 minute" is a warning, never a pass', async () => {
    const { facts, verdict } = await judge(
      await systemDatabase(null, []),
      await pupilSettings(oneMinute),
    );
    expect(verdict.status).toBe('warn');
    expect(facts).toMatchObject({
      lockAfterSeconds: 60,
      source: 'user-setting',
      userCanChange: true,
      settings: { userIdleDelaySeconds: 60, systemIdleDelaySeconds: 300, lockedKeys: '' },
    });
  }, 60_000);

  it('a locked 30 minutes fails though the pupil says 1 minute', async () => {
    const profile = await systemDatabase(
      '[org/gnome/desktop/session]\nidle-delay=uint32 1800\n\n' +
        '[org/gnome/desktop/screensaver]\nlock-enabled=true\nlock-delay=uint32 0\n',
      [LOCK_ENABLED, IDLE_DELAY, LOCK_DELAY],
    );
    const { facts, verdict } = await judge(profile, await pupilSettings(oneMinute));
    expect(verdict.status).toBe('fail');
    expect(facts).toMatchObject({
      lockAfterSeconds: 1800,
      source: 'machine-policy',
      userCanChange: false,
      settings: { userIdleDelaySeconds: 60 },
    });
  }, 60_000);

  it('a locked 2 minutes passes whatever the pupil set', async () => {
    const profile = await systemDatabase(
      '[org/gnome/desktop/session]\nidle-delay=uint32 120\n\n' +
        '[org/gnome/desktop/screensaver]\nlock-enabled=true\nlock-delay=uint32 0\n',
      [LOCK_ENABLED, IDLE_DELAY, LOCK_DELAY],
    );
    const pupil = await pupilSettings([['org.gnome.desktop.screensaver', 'lock-enabled', 'false']]);
    const { facts, verdict } = await judge(profile, pupil);
    expect(verdict.status).toBe('pass');
    expect(facts).toMatchObject({
      lockEnabled: true,
      lockAfterSeconds: 120,
      source: 'machine-policy',
      settings: { userLockEnabled: false },
    });
  }, 60_000);

  it('values set but lock-delay not locked: the pupil can still delay the lock, so a warning', async () => {
    const profile = await systemDatabase(
      '[org/gnome/desktop/session]\nidle-delay=uint32 120\n\n' +
        '[org/gnome/desktop/screensaver]\nlock-enabled=true\nlock-delay=uint32 0\n',
      [LOCK_ENABLED, IDLE_DELAY],
    );
    const { facts, verdict } = await judge(profile, await pupilSettings(oneMinute));
    expect(verdict.status).toBe('warn');
    expect(facts).toMatchObject({
      userCanChange: true,
      settings: {
        lockedKeys:
          'org.gnome.desktop.screensaver lock-enabled, org.gnome.desktop.session idle-delay',
      },
    });
  }, 60_000);

  it('a locked "never lock" fails on its own, whatever the other keys', async () => {
    const profile = await systemDatabase('[org/gnome/desktop/screensaver]\nlock-enabled=false\n', [
      LOCK_ENABLED,
    ]);
    const { facts, verdict } = await judge(profile, await pupilSettings(oneMinute));
    expect(verdict.status).toBe('fail');
    expect(facts).toMatchObject({ lockEnabled: false, source: 'machine-policy' });
  }, 60_000);
});
