import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  isRequiredUpdate,
  macosMajor,
  parse,
  parseDefaults,
  parseSoftwareUpdateList,
  updateName,
  type DarwinRaw,
} from '../../../../../agent/core/checks/os-updates/darwin.ts';
import { osUpdatesCheck } from '../../../../../agent/core/checks/os-updates/index.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import type { Host } from '../../../../../agent/core/host.ts';
import { ProbeError, type CommandOutput } from '../../../../../agent/core/runner.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import type { Policy } from '../../../../../shared/index.ts';
import { fakeHost } from '../../../../helpers/fake-host.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../../fixtures/darwin/os-updates/${name}`, import.meta.url), 'utf8');
const ok = (stdout: string): CommandOutput => ({ stdout, stderr: '', exitCode: 0 });
// No MDM profile: `defaults` reports the domain missing on stderr and exits 1.
const noManaged: CommandOutput = {
  stdout: '',
  stderr: '\nDomain /Library/Managed Preferences/com.apple.SoftwareUpdate does not exist\n',
  exitCode: 1,
};

describe('parseSoftwareUpdateList on recorded output', () => {
  it.each([
    ['softwareupdate-kolide-no-update-available-noscan.txt', []],
    [
      'softwareupdate-list-ventura-safari-only-super-177.txt',
      [
        {
          label: 'Safari17.3.1VenturaAuto-17.3.1',
          title: 'Safari',
          version: '17.3.1',
          recommended: true,
          restart: false,
        },
      ],
    ],
    ['softwareupdate-verbose-noscan-munki-1141.txt', []],
    [
      'softwareupdate-kolide-update-available-noscan.txt',
      [
        {
          label: 'macOS Ventura 13.3.1-22E261',
          title: 'macOS Ventura 13.3.1',
          version: '13.3.1',
          recommended: true,
          restart: true,
        },
      ],
    ],
    [
      'softwareupdate-kolide-multiple-updates-available-noscan.txt',
      [
        {
          label: 'Command Line Tools for Xcode-14.3',
          title: 'Command Line Tools for Xcode',
          version: '14.3',
          recommended: true,
          restart: false,
        },
        {
          label: 'macOS Ventura 13.4 Beta-22F5027f',
          title: 'macOS Ventura 13.4 Beta',
          version: '13.4',
          recommended: true,
          restart: true,
        },
      ],
    ],
    [
      'softwareupdate-verbose-xtype-noise-monterey.txt',
      [
        {
          label: 'macOS Monterey 12.4-21F79',
          title: 'macOS Monterey 12.4',
          version: '12.4',
          recommended: true,
          restart: true,
        },
      ],
    ],
  ])('%s', (name, items) => {
    expect(parseSoftwareUpdateList(fixture(name))).toEqual(items);
  });

  it.each([
    ['a failed scan', fixture('softwareupdate-kolide-error-scan.txt')],
    ['empty output', ''],
    ['a label without its title', '* Label: x\n'],
    [
      'a pre-10.15 list',
      'Software Update found the following new or updated software:\n   * Security Update 2020-004\n',
    ],
  ])('refuses %s', (_name, text) => {
    expect(parseSoftwareUpdateList(text)).toBeNull();
  });
});

describe('which pending updates must be installed', () => {
  const item = (title: string, version: string, restart = true, recommended = true) => ({
    label: title,
    title,
    version,
    recommended,
    restart,
  });
  // softwareupdate labels nothing as security, so every recommended update counts except an
  // upgrade to a newer major macOS (the policy's minimumVersion.darwin decides those).
  it.each([
    [item('macOS Ventura 13.3.1', '13.3.1'), '13.2', true],
    [item('macOS Ventura 13.4 Beta', '13.4'), '13.3.1', true],
    [item('Safari', '17.3.1', false), '13.6', true],
    [item('Command Line Tools for Xcode', '14.3', false), '13.3', true],
    [item('macOS Ventura 13.4.1', '13.4.1'), '12.1', false], // a major upgrade from 12
    [item('macOS Sequoia\u00a015.2', '15.2'), '14.6.1', false],
    [item('macOS Catalina 10.15.7', '10.15.7'), '10.14.6', false], // 10.x majors are two numbers
    [item('macOS Catalina Security Update 2021-001', '10.15.7'), '10.15.7', true],
    [item('Some Optional Thing', '1.0', false, false), '14.0', false],
  ])('%j on %s → %s', (entry, running, expected) => {
    expect(isRequiredUpdate(entry, running)).toBe(expected);
  });

  it('names updates by title and version, with plain spaces', () => {
    expect(updateName(item('Safari', '17.3.1'))).toBe('Safari 17.3.1');
    expect(updateName(item('macOS Sequoia\u00a015.8.1', '15.8.1'))).toBe('macOS Sequoia 15.8.1');
    expect(macosMajor('10.15.7')).toBe('10.15');
    expect(macosMajor('14.6.1')).toBe('14');
  });
});

describe('parseDefaults', () => {
  it('reads top-level keys and ignores nested ones', () => {
    const keys = parseDefaults(fixture('defaults-softwareupdate-catalina-critical-off.txt'));
    expect(keys?.get('AutomaticCheckEnabled')).toBe('YES');
    expect(keys?.get('CriticalUpdateInstall')).toBe('0');
    expect(keys?.get('LastFullSuccessfulDate')).toBe('2021-02-23 07:52:51 +0000');
    expect(keys?.has('Identifier')).toBe(false);
  });
});

describe('parse (macOS) on combinations of recorded outputs', () => {
  it('Monterey 12.1 list, Catalina install-on preferences', () => {
    const raw: DarwinRaw = {
      productVersion: ok(fixture('sw_vers-productVersion-12.1.txt')),
      softwareUpdate: ok(fixture('softwareupdate-list-monterey-12.1.txt')),
      preferences: ok(fixture('defaults-softwareupdate-catalina-install-on.txt')),
      managedPreferences: noManaged,
    };
    expect(parse(raw)).toEqual({
      ok: true,
      facts: {
        osName: 'macOS',
        osReleaseId: null,
        osVersion: '12.1',
        automaticUpdates: true,
        automaticUpdatesDetail:
          'AutomaticCheckEnabled=null, AutomaticDownload=null, AutomaticallyInstallMacOSUpdates=true, CriticalUpdateInstall=null (null = not set)',
        lastUpdateAt: '2020-10-10T14:14:38.000Z',
        lastUpdateSource:
          'com.apple.SoftwareUpdate LastFullSuccessfulDate (last full successful check)',
        pendingUpdates: 5,
        // Everything recommended but the Ventura upgrade (a newer major).
        pendingSecurityUpdates: 4,
        pendingSecurityTitles: [
          'Command Line Tools for Xcode 13.2',
          'Command Line Tools for Xcode 13.4',
          'Command Line Tools for Xcode 14.2',
          'macOS Monterey 12.6.7',
        ],
        pendingFirstSeen: {},
        rebootPending: null,
        problems: [],
      },
    });
  });

  it('10.13.6, nothing pending (on stderr), critical updates off', () => {
    const parsed = parse({
      productVersion: ok(fixture('sw_vers-productVersion-10.13.6.txt')),
      softwareUpdate: {
        stdout: 'Software Update Tool\n\n',
        stderr: 'No new software available.\n',
        exitCode: 0,
      },
      preferences: ok(fixture('defaults-softwareupdate-catalina-critical-off.txt')),
      managedPreferences: noManaged,
    });
    expect(parsed).toMatchObject({
      ok: true,
      facts: {
        osVersion: '10.13.6',
        automaticUpdates: false,
        pendingUpdates: 0,
        pendingSecurityUpdates: 0,
      },
    });
  });

  it('lets a managed (MDM) setting win over the local one', () => {
    const managed = ok('{\n    CriticalUpdateInstall = 0;\n}\n');
    const parsed = parse({
      productVersion: ok(fixture('sw_vers-productVersion-12.1.txt')),
      softwareUpdate: ok(fixture('softwareupdate-kolide-no-update-available-noscan.txt')),
      preferences: ok(fixture('defaults-softwareupdate-catalina-install-on.txt')),
      managedPreferences: managed,
    });
    expect(parsed.ok && parsed.facts.automaticUpdates).toBe(false);
  });

  it('is unrecognised when the scan failed', () => {
    expect(
      parse({
        productVersion: ok(fixture('sw_vers-productVersion-12.1.txt')),
        softwareUpdate: ok(fixture('softwareupdate-kolide-error-scan.txt')),
        preferences: ok(fixture('defaults-softwareupdate-catalina-install-on.txt')),
        managedPreferences: noManaged,
      }),
    ).toMatchObject({ ok: false, code: 'unrecognised-output' });
  });
});

describe('macOS probe plumbing', () => {
  it('is unknown when softwareupdate is missing', async () => {
    const host: Host = {
      now: () => new Date('2026-11-23T12:00:00Z'),
      files: {
        readBytes: () => Promise.resolve(null),
        readText: () => Promise.resolve(null),
        mtime: () => Promise.resolve(null),
        list: () => Promise.resolve(null),
      },
      run: (command) =>
        command.endsWith('sw_vers')
          ? Promise.resolve(ok(fixture('sw_vers-productVersion-12.1.txt')))
          : Promise.reject(new ProbeError('command-missing', `${command} is not installed`)),
    };
    const result = await runCheck(osUpdatesCheck, {
      os: 'darwin',
      host,
      policy: await readDefaultPolicy(),
    });
    expect(result.status).toBe('unknown');
    expect(result.reason?.code).toBe('command-missing');
  });
});

describe('macOS pending updates through the whole check (recorded lists)', () => {
  const now = new Date('2026-11-23T12:00:00Z');
  const catalinaPrefs = ok(fixture('defaults-softwareupdate-catalina-install-on.txt'));
  // Runs the real check on a Mac answering from recorded files. `version` is CONSTRUCTED: the
  // lists' publishers did not print sw_vers, so it is the release their labels imply.
  const macWith = (list: string, version: string) =>
    fakeHost({
      now,
      commands: {
        '/usr/bin/sw_vers': ok(`${version}\n`),
        '/usr/sbin/softwareupdate': ok(fixture(list)),
        '/usr/bin/defaults': (args) => (args[1]?.includes('Managed') ? noManaged : catalinaPrefs),
      },
    });
  // LastFullSuccessfulDate in the Catalina preferences is 2020; a recent one keeps that rule
  // out of the way so the verdict is about the pending list alone.
  const lenient = async (grace?: number): Promise<Policy> => {
    const policy = structuredClone(await readDefaultPolicy());
    policy.checks.osUpdates.maxDaysSinceLastUpdate = 3650;
    policy.checks.osUpdates.minimumVersion = {};
    if (grace !== undefined) {
      policy.checks.osUpdates.pendingUpdateGraceDays = grace;
    }
    return policy;
  };

  it('a pending Safari update alone fails and is named (super#177, Ventura)', async () => {
    const result = await runCheck(osUpdatesCheck, {
      os: 'darwin',
      host: macWith('softwareupdate-list-ventura-safari-only-super-177.txt', '13.6.4'),
      policy: await lenient(),
    });
    expect(result.status).toBe('fail');
    expect(result.summary).toContain('Safari 17.3.1');
  });

  it('a restart-needing beta of the running major counts (kolide, Ventura 13.4 Beta)', async () => {
    const result = await runCheck(osUpdatesCheck, {
      os: 'darwin',
      host: macWith('softwareupdate-kolide-multiple-updates-available-noscan.txt', '13.3.1'),
      policy: await lenient(),
    });
    expect(result.status).toBe('fail');
    expect(result.evidence).toMatchObject({
      pendingSecurityTitles: ['Command Line Tools for Xcode 14.3', 'macOS Ventura 13.4 Beta'],
    });
  });

  it('a Big Sur 11.1 beta offered on 11.0.1 counts (install-or-defer#47)', async () => {
    // 11.0.1 is the version the reporter states; no sw_vers output was published.
    const result = await runCheck(osUpdatesCheck, {
      os: 'darwin',
      host: macWith('softwareupdate-list-big-sur-beta-restart-install-or-defer-47.txt', '11.0.1'),
      policy: await lenient(),
    });
    expect(result.status).toBe('fail');
    expect(result.summary).toContain('macOS Big Sur 11.1 Beta 2');
  });

  it('Ventura with Safari, 13.6 and the Sonoma upgrade: Safari and 13.6 count (super#151)', async () => {
    const result = await runCheck(osUpdatesCheck, {
      os: 'darwin',
      host: macWith('softwareupdate-list-ventura-safari-point-and-sonoma-super-151.txt', '13.5.2'),
      policy: await lenient(),
    });
    expect(result).toMatchObject({
      status: 'fail',
      evidence: {
        pendingUpdates: 3,
        pendingSecurityTitles: ['Safari 17.0', 'macOS Ventura 13.6'],
      },
    });
  });

  it('Sonoma with Safari, tools, a point release and the Sequoia upgrade: all but Sequoia count', async () => {
    const result = await runCheck(osUpdatesCheck, {
      os: 'darwin',
      host: macWith('softwareupdate-list-sonoma-safari-and-sequoia-upgrade.txt', '14.6.1'),
      policy: await lenient(),
    });
    expect(result.status).toBe('fail');
    expect(result.evidence).toMatchObject({
      pendingUpdates: 4,
      pendingSecurityTitles: [
        'Safari 18.2',
        'Command Line Tools for Xcode 16.2',
        'macOS Sonoma 14.7.2',
      ],
    });
    expect(result.summary).toContain('Safari 18.2');
    expect(result.summary).not.toContain('Sequoia');
  });

  it('warns inside the grace period and fails after it, by the first-seen record', async () => {
    const list = 'softwareupdate-list-ventura-safari-only-super-177.txt';
    const policy = await lenient(7);
    // First run ever: no earlier record, so the age is unknown and it fails closed.
    const first = await runCheck(osUpdatesCheck, {
      os: 'darwin',
      host: macWith(list, '13.6.4'),
      policy,
    });
    expect(first.status).toBe('fail');
    expect(first.remediation).toContain("since before the agent's first record");
    // An earlier complete observation without Safari: first seen now, inside the grace period.
    const earlier = { ...first, status: 'pass' as const, measuredAt: '2026-11-22T12:00:00.000Z' };
    earlier.evidence = { ...first.evidence, pendingSecurityUpdates: 0, pendingSecurityTitles: [] };
    const second = await runCheck(osUpdatesCheck, {
      os: 'darwin',
      host: macWith(list, '13.6.4'),
      policy,
      previous: () => earlier,
    });
    expect(second).toMatchObject({
      status: 'warn',
      evidence: { pendingFirstSeen: { 'Safari 17.3.1': now.toISOString() } },
    });
    expect(second.summary).toContain('Safari 17.3.1');
    // Eight days later the same update is still there: the grace period is over.
    const later = await runCheck(osUpdatesCheck, {
      os: 'darwin',
      host: { ...macWith(list, '13.6.4'), now: () => new Date('2026-12-01T12:00:00Z') },
      policy,
      previous: () => second,
    });
    expect(later.status).toBe('fail');
    expect(later.remediation).toContain('Safari 17.3.1 (pending 8 days)');
  });
});
