import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  isSecurityUpdate,
  parse,
  parseDefaults,
  parseSoftwareUpdateList,
  type DarwinRaw,
} from '../../../../../agent/core/checks/os-updates/darwin.ts';
import { osUpdatesCheck } from '../../../../../agent/core/checks/os-updates/index.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import type { Host } from '../../../../../agent/core/host.ts';
import { ProbeError, type CommandOutput } from '../../../../../agent/core/runner.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';

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

describe('security classification', () => {
  const item = (title: string, version: string, restart = true) => ({
    label: title,
    title,
    version,
    recommended: true,
    restart,
  });
  it.each([
    [item('macOS Ventura 13.3.1', '13.3.1'), 13, true],
    [item('macOS Ventura 13.4 Beta', '13.4'), 13, false],
    [item('macOS Ventura 13.4.1', '13.4.1'), 12, false], // a major upgrade from 12
    [item('Command Line Tools for Xcode', '14.3', false), 13, false],
    [item('macOS Catalina Security Update 2021-001', '10.15.7', true), 10, true],
  ])('%j on major %i → %s', (entry, major, expected) => {
    expect(isSecurityUpdate(entry, major)).toBe(expected);
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
        pendingSecurityUpdates: 1,
        pendingSecurityTitles: ['macOS Monterey 12.6.7'],
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
