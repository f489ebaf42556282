import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { antivirusCheck } from '../../../../../agent/core/checks/antivirus/index.ts';
import {
  parse,
  parseVdbHeader,
  probe,
  type LinuxRaw,
} from '../../../../../agent/core/checks/antivirus/linux.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import { realHost, type Host } from '../../../../../agent/core/host.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import { fixtureBytes } from './fixtures.ts';

const installed = ['/usr/bin/clamscan', '/usr/sbin/clamd', '/usr/bin/freshclam'];

describe('parseVdbHeader on recorded database headers', () => {
  it.each([
    ['daily-25784-2020.cvd.header', 25784, 2267600, '2020-04-16T11:58:59.000Z', 'raynman'],
    ['daily-26165-2021.cld.header', 26165, 3978101, '2021-05-09T11:08:36.000Z', 'raynman'],
    ['test-3-2021.cvd.header', 3, 11, '2021-06-23T00:40:09.000Z', 'raynman'],
    ['test-6-2021.cvd.header', 6, 14, '2021-06-23T01:34:05.000Z', 'micasnyd'],
  ])('%s', (name, version, signatures, builtAt, builder) => {
    expect(parseVdbHeader(fixtureBytes('linux', name))).toEqual({
      version,
      signatures,
      builtAt,
      builder,
    });
  });

  it('a cdiff (not a database) is not a header', () => {
    expect(parseVdbHeader(fixtureBytes('linux', 'daily-25784.cdiff.header'))).toBeNull();
  });
});

describe('parse (Linux raw → facts)', () => {
  const raw = (over: Partial<LinuxRaw>): LinuxRaw => ({
    binaries: installed,
    databases: [],
    processes: [],
    ...over,
  });
  const db = (file: string, name: string) => ({ file, header: fixtureBytes('linux', name) });

  it.each([
    [
      'daemon and updater running, cld',
      raw({
        databases: [db('daily.cld', 'daily-26165-2021.cld.header')],
        processes: ['clamd', 'freshclam'],
      }),
      {
        state: 'on',
        signaturesUpdatedAt: '2021-05-09T11:08:36.000Z',
        version: 'daily 26165',
        signaturesOutOfDate: null,
      },
    ],
    [
      'cld and a stale cvd both present: the higher version wins',
      raw({
        databases: [
          db('daily.cld', 'daily-26165-2021.cld.header'),
          db('daily.cvd', 'daily-25784-2020.cvd.header'),
        ],
        processes: ['clamd'],
      }),
      { state: 'on', version: 'daily 26165' },
    ],
    [
      'installed, database present, no daemon',
      raw({
        databases: [db('daily.cvd', 'daily-25784-2020.cvd.header')],
        processes: ['freshclam'],
      }),
      { state: 'off', signaturesUpdatedAt: '2020-04-16T11:58:59.000Z' },
    ],
    [
      'installed, no database at all',
      raw({ processes: ['freshclam'] }),
      { state: 'off', signaturesOutOfDate: true, signaturesUpdatedAt: null },
    ],
    [
      'on-access scanner only',
      raw({ databases: [db('daily.cvd', 'test-6-2021.cvd.header')], processes: ['clamonacc'] }),
      { state: 'on', detail: expect.stringContaining('on-access scanning on') as unknown },
    ],
  ])('%s', (_label, input, expected) => {
    const parsed = parse(input);
    expect(parsed.ok).toBe(true);
    expect(parsed.ok && parsed.facts.products).toMatchObject([
      { name: 'ClamAV', source: 'clamav', ...expected },
    ]);
  });

  it('no ClamAV at all is a finding: no products, no errors', () => {
    expect(parse({ binaries: [], databases: [], processes: [] })).toEqual({
      ok: true,
      facts: { products: [], gatekeeper: null, errors: [] },
    });
  });

  it('a file that is not a database fails closed', () => {
    expect(parse(raw({ databases: [db('daily.cvd', 'daily-25784.cdiff.header')] }))).toMatchObject({
      ok: false,
      code: 'unrecognised-output',
    });
  });
});

describe('Linux probe through a recorded host', () => {
  it('reads headers and /proc/*/comm, never spawning a command', async () => {
    const files: Record<string, Uint8Array | string> = {
      '/var/lib/clamav/daily.cld': fixtureBytes('linux', 'daily-26165-2021.cld.header'),
      '/proc/1/comm': 'init\n',
      '/proc/812/comm': 'clamd\n',
      '/proc/813/comm': 'freshclam\n',
    };
    const host: Host = {
      run: () => Promise.reject(new Error('the Linux probe must not spawn')),
      files: {
        readBytes: (path) => Promise.resolve(typeof files[path] === 'object' ? files[path] : null),
        readText: (path) => {
          const value = files[path];
          return Promise.resolve(typeof value === 'string' ? value : null);
        },
        mtime: (path) => Promise.resolve(path === '/usr/sbin/clamd' ? new Date(0) : null),
        list: (path) =>
          Promise.resolve(path === '/proc' ? ['1', '812', '813', '999', 'self', 'cpuinfo'] : null),
      },
      now: () => new Date('2021-05-10T00:00:00Z'),
    };
    expect(await probe(host)).toEqual({
      binaries: ['/usr/sbin/clamd'],
      databases: [{ file: 'daily.cld', header: files['/var/lib/clamav/daily.cld'] }],
      processes: ['clamd', 'freshclam'],
    });
    const result = await runCheck(antivirusCheck, {
      os: 'linux',
      host,
      policy: await readDefaultPolicy(),
    });
    expect(result).toMatchObject({
      status: 'pass',
      summary: 'Anti-virus (ClamAV) is on and up to date.',
    });
  });
});

describe('Linux probe on this machine (real host)', () => {
  it('agrees with what ps and the file system say independently', async () => {
    const result = await runCheck(antivirusCheck, {
      os: 'linux',
      host: realHost,
      policy: await readDefaultPolicy(),
    });
    // Independent view: ps(1) for processes, fs for databases and binaries.
    const ps = execFileSync('ps', ['-e', '-o', 'comm='], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.trim());
    const running = ['clamd', 'freshclam', 'clamonacc'].filter((name) => ps.includes(name));
    const hasDatabase = ['daily.cld', 'daily.cvd'].some((file) =>
      existsSync(`/var/lib/clamav/${file}`),
    );
    const hasBinary = installed.some((path) => existsSync(path));
    expect(result.reason).toBeUndefined();
    if (!hasBinary && !hasDatabase && running.length === 0) {
      expect(result).toMatchObject({
        status: 'fail',
        summary: 'No anti-virus found on this device.',
        evidence: { products: [], errors: [] },
      });
      return;
    }
    const evidence = result.evidence as { products: { state: string; detail: string }[] };
    const clam = evidence.products[0];
    expect(clam?.state).toBe(
      running.includes('clamd') || running.includes('clamonacc') ? 'on' : 'off',
    );
    for (const name of ['clamd', 'freshclam']) {
      expect(clam?.detail).toContain(
        `${name} ${running.includes(name) ? 'running' : 'not running'}`,
      );
    }
    if (hasDatabase) {
      const names = readdirSync('/var/lib/clamav').filter((file) => /^daily\.c[lv]d$/.test(file));
      const header = readFileSync(`/var/lib/clamav/${names[0] ?? ''}`)
        .subarray(0, 512)
        .toString('latin1');
      expect(header.startsWith('ClamAV-VDB:')).toBe(true);
    }
  });
});
