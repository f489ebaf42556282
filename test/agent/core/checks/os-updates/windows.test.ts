import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from '../../../../../agent/core/checks/os-updates/windows.ts';
import { osUpdatesCheck } from '../../../../../agent/core/checks/os-updates/index.ts';
import type { OsUpdatesFacts } from '../../../../../agent/core/checks/os-updates/facts.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import type { Host } from '../../../../../agent/core/host.ts';
import { ProbeError, type CommandOutput } from '../../../../../agent/core/runner.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../../fixtures/windows/os-updates/${name}`, import.meta.url), 'utf8');

const common = {
  osReleaseId: null,
  automaticUpdates: true,
  automaticUpdatesDetail:
    'policy NoAutoUpdate=null, AUOptions=null; wuauserv Start=null (null = not set)',
  lastUpdateAt: '2022-02-23T20:46:26.000Z',
  lastUpdateSource: 'Microsoft.Update.AutoUpdate Results.LastInstallationSuccessDate',
  problems: [],
  pendingFirstSeen: {},
} as const;

const rows: [string, OsUpdatesFacts][] = [
  [
    'win11-24h2-ltsc-up-to-date.json',
    {
      ...common,
      problems: [],
      osName: 'Windows 11 24H2 (registry: Windows 10 IoT Enterprise LTSC 2024)',
      osVersion: '10.0.26100.8655',
      pendingUpdates: 0,
      pendingSecurityUpdates: 0,
      pendingSecurityTitles: [],
      rebootPending: false,
    },
  ],
  [
    'constructed-win10-22h2-de-pending-update-reboot.json',
    {
      ...common,
      problems: [],
      osName: 'Windows 10 22H2 (registry: Windows 10 Pro)',
      osVersion: '10.0.19045',
      pendingUpdates: 1,
      pendingSecurityUpdates: 1,
      pendingSecurityTitles: [
        '2023-11 Kumulatives Update für .NET Framework 3.5, 4.8 und 4.8.1 für Windows 10 Version 22H2 für x64 ((KB5032339))',
      ],
      rebootPending: true,
    },
  ],
  [
    'win10-1607-old-build.json',
    {
      ...common,
      problems: [],
      osName: 'Windows 10 (registry: Windows 10 Enterprise)',
      osVersion: '10.0.14393.577',
      pendingUpdates: 0,
      pendingSecurityUpdates: 0,
      pendingSecurityTitles: [],
      rebootPending: false,
    },
  ],
  [
    'win-search-failed-0x8024401c.json',
    {
      ...common,
      problems: [
        'search: Exception calling "Search" with "1" argument(s): "Exception from HRESULT: 0x8024401C"',
      ],
      osName: 'Windows 11 24H2 (registry: Windows 10 IoT Enterprise LTSC 2024)',
      osVersion: '10.0.26100.8655',
      pendingUpdates: null,
      pendingSecurityUpdates: null,
      pendingSecurityTitles: [],
      rebootPending: false,
    },
  ],
];

describe('parse (Windows) on fixtures', () => {
  it.each(rows)('%s', (name, facts) => {
    expect(parse(fixture(name))).toEqual({ ok: true, facts });
  });

  it('survives a UTF-8 BOM before the JSON', () => {
    const parsed = parse(`\uFEFF${fixture('win10-1607-old-build.json')}`);
    expect(parsed.ok).toBe(true);
  });

  it('does not depend on the language of update titles', () => {
    const german = JSON.parse(fixture('constructed-win10-22h2-de-pending-update-reboot.json')) as {
      updates: { title: string; msrcSeverity: string | null; categoryIds: string[] }[];
    };
    const [update] = german.updates;
    if (update === undefined) {
      throw new Error('fixture has no update');
    }
    // Same update without a severity but in the Security Updates category (by GUID).
    update.title = 'Sicherheitsupdate';
    update.msrcSeverity = null;
    update.categoryIds = ['0FA1201D-4330-4FA8-8AE9-B877473B6441'];
    const parsed = parse(JSON.stringify(german));
    expect(parsed.ok && parsed.facts.pendingSecurityUpdates).toBe(1);
    update.categoryIds = [];
    const notSecurity = parse(JSON.stringify(german));
    expect(notSecurity.ok && notSecurity.facts.pendingSecurityUpdates).toBe(0);
  });

  it.each([
    ['empty output', ''],
    ['an error message', "powershell.exe : The term 'x' is not recognized"],
    ['another JSON object', '{"hello":"world"}'],
    [
      'a wrong update shape',
      fixture('win11-24h2-ltsc-up-to-date.json').replace(
        '"updates":[]',
        '"updates":[{"Title":"x"}]',
      ),
    ],
    ['a non-numeric build', fixture('win10-1607-old-build.json').replace('"14393"', '"14393a"')],
  ])('refuses %s', (_name, raw) => {
    expect(parse(raw)).toMatchObject({ ok: false, code: 'unrecognised-output' });
  });

  it('reads the Group Policy that turns automatic updates off', () => {
    const raw = fixture('win11-24h2-ltsc-up-to-date.json').replace(
      '"noAutoUpdate":null',
      '"noAutoUpdate":1',
    );
    const parsed = parse(raw);
    expect(parsed.ok && parsed.facts.automaticUpdates).toBe(false);
  });
});

const fakeHost = (run: Host['run']): Host => ({
  run,
  now: () => new Date('2026-11-23T12:00:00Z'),
  files: {
    readBytes: () => Promise.resolve(null),
    readText: () => Promise.resolve(null),
    mtime: () => Promise.resolve(null),
    list: () => Promise.resolve(null),
  },
});

describe('Windows probe plumbing and verdicts', () => {
  const check = async (run: Host['run']) =>
    runCheck(osUpdatesCheck, {
      os: 'windows',
      host: fakeHost(run),
      policy: await readDefaultPolicy(),
    });
  const answer = (stdout: string) => (): Promise<CommandOutput> =>
    Promise.resolve({ stdout, stderr: '', exitCode: 0 });

  it('is unknown when PowerShell is missing', async () => {
    const result = await check(() =>
      Promise.reject(new ProbeError('command-missing', 'no powershell')),
    );
    expect(result.status).toBe('unknown');
    expect(result.reason?.code).toBe('command-missing');
  });

  it('runs powershell.exe with the encoded script', async () => {
    let seen: readonly string[] = [];
    await check((command, args) => {
      seen = [command, ...args];
      return answer(fixture('win10-1607-old-build.json'))();
    });
    expect(seen[0]).toBe('powershell.exe');
    expect(seen).toContain('-EncodedCommand');
  });

  it.each([
    ['win11-24h2-ltsc-up-to-date.json', 'fail'], // last install in 2022: too long ago
    ['win10-1607-old-build.json', 'fail'],
    ['constructed-win10-22h2-de-pending-update-reboot.json', 'fail'],
    ['win-search-failed-0x8024401c.json', 'fail'],
  ])('%s → %s on 2026-11-23', async (name, status) => {
    const result = await check(answer(fixture(name)));
    expect(result.status).toBe(status);
  });

  it('is unknown, not pass, when only the search failed on a recently updated PC', async () => {
    const recent = fixture('win-search-failed-0x8024401c.json').replace('2022-02-23', '2026-11-20');
    const result = await check(answer(recent));
    expect(result.status).toBe('unknown');
    expect(result.reason?.detail).toContain('0x8024401C');
  });

  it('passes a recently updated Windows 11 with nothing pending', async () => {
    const recent = fixture('win11-24h2-ltsc-up-to-date.json').replace('2022-02-23', '2026-11-20');
    expect((await check(answer(recent))).status).toBe('pass');
  });
});
