import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parse,
  parseAptUpgrade,
  parseOsRelease,
  parseUnattendedUpgradeSetting,
  probe,
  type LinuxRaw,
} from '../../../../../agent/core/checks/os-updates/linux.ts';
import { osUpdatesCheck } from '../../../../../agent/core/checks/os-updates/index.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import { realHost, type Host } from '../../../../../agent/core/host.ts';
import { ProbeError, type CommandOutput } from '../../../../../agent/core/runner.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../../fixtures/linux/os-updates/${name}`, import.meta.url), 'utf8');
const ok = (stdout: string): CommandOutput => ({ stdout, stderr: '', exitCode: 0 });

describe('parseAptUpgrade on recorded output', () => {
  it.each([
    ['apt-get-s-upgrade-debian12-root.txt', 106],
    ['apt-get-s-upgrade-debian12-nonroot.txt', 106], // NOTE: lines skipped
  ])('%s → %i upgrades, none from the security archive', (name, count) => {
    const summary = parseAptUpgrade(fixture(name));
    expect(summary?.upgrades).toHaveLength(count);
    expect(summary?.upgraded).toBe(count);
    expect(summary?.upgrades.filter((entry) => entry.security)).toEqual([]);
    expect(summary?.upgrades[0]).toEqual({ name: 'base-files', security: false });
  });

  it('refuses output that lost lines (summary and Inst lines disagree)', () => {
    const text = fixture('apt-get-s-upgrade-debian12-root.txt');
    const truncated = text
      .split('\n')
      .filter((line) => !line.startsWith('Inst bash '))
      .join('\n');
    expect(parseAptUpgrade(truncated)).toBeNull();
  });

  it.each([
    ['empty output', ''],
    [
      'a prefixed Inst line',
      fixture('apt-get-s-upgrade-debian12-root.txt').replace('Inst bash', 'Inst: bash'),
    ],
    ['no summary line', 'Reading package lists...\n'],
  ])('refuses %s', (_name, text) => {
    expect(parseAptUpgrade(text)).toBeNull();
  });
});

describe('other recorded inputs', () => {
  it('reads os-release', () => {
    const release = parseOsRelease(fixture('os-release-debian12.txt'));
    expect(release.get('ID')).toBe('debian');
    expect(release.get('VERSION_ID')).toBe('12');
    expect(release.get('PRETTY_NAME')).toBe('Debian GNU/Linux 12 (bookworm)');
  });

  it('finds no Unattended-Upgrade setting in the container dump', () => {
    expect(
      parseUnattendedUpgradeSetting(fixture('apt-config-dump-debian12-container.txt')),
    ).toBeNull();
  });
});

const recorded: LinuxRaw = {
  osRelease: fixture('os-release-debian12.txt'),
  aptGetUpgrade: ok(fixture('apt-get-s-upgrade-debian12-root.txt')),
  aptConfigDump: ok(fixture('apt-config-dump-debian12-container.txt')),
  stamps: { update: null, upgrade: null, newestList: '2026-07-11T10:16:00.000Z' },
  rebootRequired: false,
  unattendedUpgradeInstalled: false,
  upgradeTimerEnabled: true,
  cronAptCompat: true,
};

describe('parse (Linux)', () => {
  it('turns the recorded container state into facts', () => {
    const parsed = parse(recorded);
    expect(parsed).toEqual({
      ok: true,
      facts: {
        osName: 'Debian GNU/Linux 12 (bookworm)',
        osReleaseId: 'debian',
        osVersion: '12',
        automaticUpdates: false,
        automaticUpdatesDetail:
          'APT::Periodic::Unattended-Upgrade is unset (apt default 0); unattended-upgrades not installed; apt-daily-upgrade.timer enabled; cron apt-compat present',
        lastUpdateAt: '2026-07-11T10:16:00.000Z',
        lastUpdateSource: 'newest /var/lib/apt/lists/*InRelease (last package-list refresh)',
        pendingUpdates: 106,
        pendingSecurityUpdates: 0,
        pendingSecurityTitles: [],
        pendingFirstSeen: {},
        rebootPending: false,
        problems: [],
      },
    });
  });

  it('prefers the newest stamp', () => {
    const parsed = parse({
      ...recorded,
      stamps: {
        update: '2026-11-01T06:00:00.000Z',
        upgrade: '2026-11-02T06:30:00.000Z',
        newestList: null,
      },
    });
    expect(parsed.ok && parsed.facts.lastUpdateAt).toBe('2026-11-02T06:30:00.000Z');
    expect(parsed.ok && parsed.facts.lastUpdateSource).toContain('upgrade-stamp');
  });

  it('is unsupported without apt-get, never a pass', () => {
    const parsed = parse({ ...recorded, aptGetUpgrade: null, aptConfigDump: null });
    expect(parsed).toMatchObject({ ok: false, code: 'unsupported-os' });
  });

  it('does not trust a failed apt-get', () => {
    const failed: CommandOutput = {
      stdout: '',
      stderr: 'E: Could not open lock file',
      exitCode: 100,
    };
    expect(parse({ ...recorded, aptGetUpgrade: failed })).toMatchObject({
      ok: false,
      code: 'unrecognised-output',
    });
  });
});

/** A host whose files do not exist and whose commands answer from a table. */
function fakeHost(answers: Record<string, CommandOutput | 'missing'>): Host {
  return {
    now: () => new Date('2026-11-23T12:00:00Z'),
    files: {
      readBytes: () => Promise.resolve(null),
      readText: () => Promise.resolve(null),
      mtime: () => Promise.resolve(null),
      list: () => Promise.resolve(null),
    },
    run: (command) => {
      const answer = answers[command];
      if (answer === undefined || answer === 'missing') {
        return Promise.reject(new ProbeError('command-missing', `${command} is not installed`));
      }
      return Promise.resolve(answer);
    },
  };
}

describe('probe plumbing (Linux)', () => {
  const pass = async (host: Host) =>
    runCheck(osUpdatesCheck, { os: 'linux', host, policy: await readDefaultPolicy() });

  it('reports unsupported-os when apt-get is missing', async () => {
    const result = await pass(fakeHost({}));
    expect(result.status).toBe('unknown');
    expect(result.reason?.code).toBe('unsupported-os');
  });

  it('lets other probe errors through as unknown with their code', async () => {
    const host = fakeHost({});
    host.run = () => Promise.reject(new ProbeError('timeout', 'apt-get did not finish'));
    const result = await pass(host);
    expect(result.reason?.code).toBe('timeout');
  });

  it('reads apt-config only after apt-get answered', async () => {
    const raw = await probe(
      fakeHost({
        'apt-get': ok(fixture('apt-get-s-upgrade-debian12-root.txt')),
        'apt-config': ok(''),
      }),
    );
    expect(raw.aptConfigDump).toEqual(ok(''));
    expect(raw.stamps).toEqual({ update: null, upgrade: null, newestList: null });
  });
});

describe('the real probe on this machine', () => {
  it('agrees with what the OS reports by other means', { timeout: 180_000 }, async () => {
    const result = await runCheck(osUpdatesCheck, {
      os: 'linux',
      host: realHost,
      policy: await readDefaultPolicy(),
    });
    expect(result.checkId).toBe('os-updates');
    const facts = result.evidence;
    const release = parseOsRelease(readFileSync('/etc/os-release', 'utf8'));
    expect(facts.osReleaseId).toBe(release.get('ID'));
    expect(facts.osVersion).toBe(release.get('VERSION_ID'));
    expect(facts.rebootPending).toBe(existsSync('/var/run/reboot-required'));

    // apt-config can print one value itself (`shell`), independently of our dump parser.
    const shell = execFileSync('apt-config', ['shell', 'V', 'APT::Periodic::Unattended-Upgrade'], {
      encoding: 'utf8',
    });
    const configured = /V='([^']*)'/.exec(shell)?.[1] ?? null;
    if (configured === null || configured === '0' || !existsSync('/usr/bin/unattended-upgrade')) {
      expect(facts.automaticUpdates).toBe(false);
    }

    // Every pending upgrade apt-get names must be installed now at the version in brackets,
    // which dpkg-query reports from the dpkg database, not from apt.
    const installed = new Map(
      execFileSync('dpkg-query', ['-W', '-f', '${Package} ${Version}\n'], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((line) => line.split(' ') as [string, string]),
    );
    const simulated = execFileSync('apt-get', ['-s', 'upgrade'], {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C' },
    });
    const inst = [...simulated.matchAll(/^Inst (\S+) \[([^\]]+)\]/gm)];
    expect(facts.pendingUpdates).toBe(inst.length);
    for (const [, name, version] of inst) {
      expect(installed.get(name?.replace(/:\w+$/, '') ?? '')).toBe(version);
    }

    const stamps = ['/var/lib/apt/periodic/update-stamp', '/var/lib/apt/periodic/upgrade-stamp']
      .filter((path) => existsSync(path))
      .map((path) => statSync(path).mtime.getTime());
    if (stamps.length === 0 && facts.lastUpdateAt !== null) {
      expect(String(facts.lastUpdateSource)).toContain('InRelease');
    }
    if (typeof facts.lastUpdateAt === 'string') {
      expect(Date.parse(facts.lastUpdateAt)).toBeGreaterThanOrEqual(Math.max(0, ...stamps));
    }
    expect(['pass', 'fail', 'warn', 'unknown']).toContain(result.status);
  });
});
