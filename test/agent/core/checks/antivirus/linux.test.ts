import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { antivirusCheck } from '../../../../../agent/core/checks/antivirus/index.ts';
import {
  impostorReason,
  parse,
  parsePasswd,
  parseStatusUids,
  parseVdbHeader,
  probe,
  type ClamProcess,
  type LinuxRaw,
} from '../../../../../agent/core/checks/antivirus/linux.ts';
import { evaluate } from '../../../../../agent/core/checks/antivirus/evaluate.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import { realHost, type FileStatus, type Host } from '../../../../../agent/core/host.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import { fixtureBytes } from './fixtures.ts';

const installed = ['/usr/bin/clamscan', '/usr/sbin/clamd', '/usr/bin/freshclam'];

// Machine state below is constructed, not recorded: uid 110 stands for Debian's `clamav`
// system account (its number differs per machine), 1001 for a pupil's ordinary account.
const CLAMAV_UID = 110;
const PUPIL_UID = 1001;
const accounts = { clamav: CLAMAV_UID };
const rootFile: FileStatus = { uid: 0, gid: 0, mode: 0o755, kind: 'file' };
const rootDir: FileStatus = { uid: 0, gid: 0, mode: 0o755, kind: 'directory' };
const PROGRAMS: Record<string, string> = {
  clamd: '/usr/sbin/clamd',
  clamonacc: '/usr/sbin/clamonacc',
  freshclam: '/usr/bin/freshclam',
};
const folders = (exe: string) => {
  const parts = exe.split('/').filter(Boolean).slice(0, -1);
  return ['/', ...parts.map((_, i) => `/${parts.slice(0, i + 1).join('/')}`)].map((path) => ({
    path,
    status: rootDir,
  }));
};
/** The package's daemon, started by its systemd unit: root-owned program, clamav user. */
const genuine = (name: string, over: Partial<ClamProcess> = {}): ClamProcess => ({
  pid: 812,
  name,
  exe: PROGRAMS[name] ?? null,
  exeFile: rootFile,
  exeFolders: folders(PROGRAMS[name] ?? '/'),
  uids: [CLAMAV_UID, CLAMAV_UID, CLAMAV_UID, CLAMAV_UID],
  error: null,
  ...over,
});
/** `cp /bin/sleep ~/clamd; ~/clamd 300 &` as the pupil (issue 12). */
const pupilsCopy: ClamProcess = {
  pid: 4242,
  name: 'clamd',
  exe: '/home/pupil/clamd',
  exeFile: { uid: PUPIL_UID, gid: PUPIL_UID, mode: 0o755, kind: 'file' },
  exeFolders: folders('/home/pupil/clamd').map((folder) =>
    folder.path === '/home/pupil'
      ? { path: folder.path, status: { ...rootDir, uid: PUPIL_UID, gid: PUPIL_UID } }
      : folder,
  ),
  uids: [PUPIL_UID, PUPIL_UID, PUPIL_UID, PUPIL_UID],
  error: null,
};

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
    accounts,
    ...over,
  });
  const db = (file: string, name: string) => ({ file, header: fixtureBytes('linux', name) });

  it.each([
    [
      'daemon, on-access scanner and updater running, cld',
      raw({
        databases: [db('daily.cld', 'daily-26165-2021.cld.header')],
        processes: [
          genuine('clamd'),
          genuine('clamonacc', { uids: [0, 0, 0, 0] }),
          genuine('freshclam'),
        ],
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
        processes: [genuine('clamd'), genuine('clamonacc', { uids: [0, 0, 0, 0] })],
      }),
      { state: 'on', version: 'daily 26165' },
    ],
    [
      // clamd scans only what it is asked to: no file is scanned as it is opened.
      'daemon without the on-access scanner: no real-time protection',
      raw({
        databases: [db('daily.cld', 'daily-26165-2021.cld.header')],
        processes: [genuine('clamd'), genuine('freshclam')],
      }),
      {
        state: 'off',
        version: 'daily 26165',
        detail: expect.stringContaining(
          'clamd running; freshclam running; on-access scanning off',
        ) as unknown,
      },
    ],
    [
      'installed, database present, no daemon',
      raw({
        databases: [db('daily.cvd', 'daily-25784-2020.cvd.header')],
        processes: [genuine('freshclam')],
      }),
      { state: 'off', signaturesUpdatedAt: '2020-04-16T11:58:59.000Z' },
    ],
    [
      'installed, no database at all',
      raw({ processes: [genuine('freshclam')] }),
      { state: 'off', signaturesOutOfDate: true, signaturesUpdatedAt: null },
    ],
    [
      // clamonacc hands every file to clamd: without clamd it has nothing to scan with.
      'on-access scanner without the daemon',
      raw({
        databases: [db('daily.cvd', 'test-6-2021.cvd.header')],
        processes: [genuine('clamonacc', { uids: [0, 0, 0, 0] })],
      }),
      { state: 'off', detail: expect.stringContaining('clamd not running') as unknown },
    ],
  ])('%s', (_label, input, expected) => {
    const parsed = parse(input);
    expect(parsed.ok).toBe(true);
    expect(parsed.ok && parsed.facts.products).toMatchObject([
      { name: 'ClamAV', source: 'clamav', ...expected },
    ]);
  });

  it('no ClamAV at all is a finding: no products, no errors', () => {
    expect(parse({ binaries: [], databases: [], processes: [], accounts: {} })).toEqual({
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

describe('a process named like ClamAV is judged by its program and user, not its name', () => {
  const database = {
    file: 'daily.cld',
    header: fixtureBytes('linux', 'daily-26165-2021.cld.header'),
  };
  const raw = (processes: ClamProcess[]): LinuxRaw => ({
    binaries: installed,
    databases: [database],
    processes,
    accounts,
  });
  const verdict = async (processes: ClamProcess[]) => {
    const parsed = parse(raw(processes));
    if (!parsed.ok) {
      throw new Error(parsed.detail);
    }
    return evaluate(parsed.facts, await readDefaultPolicy(), {
      os: 'linux',
      now: new Date('2021-05-10T00:00:00Z'),
    });
  };

  /** clamonacc, the on-access scanner, runs as root (Debian's clamav-clamonacc unit). */
  const scanner = genuine('clamonacc', { pid: 813, uids: [0, 0, 0, 0] });

  it('the genuine daemon with its on-access scanner protects', async () => {
    expect(await verdict([genuine('clamd'), scanner])).toMatchObject({ status: 'pass' });
  });

  it('the genuine daemon alone does not: nothing scans files as they are opened', async () => {
    expect(await verdict([genuine('clamd')])).toMatchObject({
      status: 'fail',
      summary: 'Anti-virus is installed but not protecting this device.',
      remediation: expect.stringContaining('clamav-clamonacc') as unknown,
    });
  });

  it('a pupil’s copy of sleep called clamd does not (issue 12)', async () => {
    expect(impostorReason(pupilsCopy, accounts)).toBe(
      'runs /home/pupil/clamd, not /usr/sbin/clamd',
    );
    expect(await verdict([pupilsCopy, scanner])).toMatchObject({
      status: 'fail',
      summary: 'Anti-virus is installed but not protecting this device.',
    });
    const parsed = parse(raw([pupilsCopy]));
    expect(parsed.ok && parsed.facts.products[0]?.detail).toContain(
      'ignored clamd (pid 4242): runs /home/pupil/clamd',
    );
  });

  it.each<[string, ClamProcess, string]>([
    [
      'the real program started by the pupil',
      genuine('clamd', { uids: [PUPIL_UID, PUPIL_UID, PUPIL_UID, PUPIL_UID] }),
      `runs as uid ${PUPIL_UID}, not as root or a ClamAV account`,
    ],
    [
      'a setuid-root program started by the pupil (real uid stays the pupil’s)',
      genuine('clamd', { uids: [PUPIL_UID, 0, 0, PUPIL_UID] }),
      `runs as uid ${PUPIL_UID}, not as root or a ClamAV account`,
    ],
    [
      'a program file owned by the pupil at the package path',
      genuine('clamd', { exeFile: { ...rootFile, uid: PUPIL_UID } }),
      'its program is not a root-owned file only root can change',
    ],
    [
      'a program file anyone can overwrite',
      genuine('clamd', { exeFile: { ...rootFile, mode: 0o757 } }),
      'its program is not a root-owned file only root can change',
    ],
    [
      'a program in a folder others can write to',
      genuine('clamd', {
        exeFolders: folders('/usr/sbin/clamd').map((folder) =>
          folder.path === '/usr/sbin'
            ? { path: folder.path, status: { ...rootDir, mode: 0o775, gid: 50 } }
            : folder,
        ),
      }),
      '/usr/sbin is not a root-owned folder only root can change',
    ],
    [
      'a root process running another program under the name',
      genuine('clamd', { exe: '/usr/bin/sleep', uids: [0, 0, 0, 0] }),
      'runs /usr/bin/sleep, not /usr/sbin/clamd',
    ],
    [
      'a process whose user could not be read',
      genuine('clamd', { uids: null }),
      'its user could not be read',
    ],
  ])('not protecting: %s', async (_label, process, reason) => {
    expect(impostorReason(process, accounts)).toBe(reason);
    // Beside a genuine on-access scanner, so that only the impostor can be what fails.
    expect(await verdict([process, scanner])).toMatchObject({ status: 'fail' });
    expect(await verdict([genuine('clamd'), scanner])).toMatchObject({ status: 'pass' });
  });

  it('a daemon whose program was replaced by an upgrade since it started still counts', async () => {
    const upgraded = genuine('clamd', { exe: '/usr/sbin/clamd (deleted)' });
    expect(impostorReason(upgraded, accounts)).toBeNull();
    expect(await verdict([upgraded, scanner])).toMatchObject({ status: 'pass' });
  });

  it('a daemon that could not be examined (not root) is unknown, never on or off', async () => {
    const hidden = genuine('clamd', { exe: null, exeFile: null, error: 'not allowed' });
    expect(await verdict([hidden, scanner])).toMatchObject({
      status: 'unknown',
      reason: {
        code: 'probe-failed',
        detail: expect.stringContaining('could not examine clamd') as unknown,
      },
    });
  });

  it('a fake daemon beside the genuine one changes nothing', async () => {
    expect(await verdict([pupilsCopy, genuine('clamd'), scanner])).toMatchObject({
      status: 'pass',
    });
  });

  it('a pupil’s fake on-access scanner beside the genuine daemon does not make it protect', async () => {
    const fakeScanner: ClamProcess = {
      ...pupilsCopy,
      name: 'clamonacc',
      exe: '/home/pupil/clamonacc',
    };
    expect(await verdict([genuine('clamd'), fakeScanner])).toMatchObject({ status: 'fail' });
  });

  it('with no ClamAV installed, a fake clamd is still no anti-virus', () => {
    expect(parse({ binaries: [], databases: [], processes: [pupilsCopy], accounts })).toEqual({
      ok: true,
      facts: { products: [], gatekeeper: null, errors: [] },
    });
  });
});

describe('Linux helpers', () => {
  it('reads the four uids of /proc/PID/status', () => {
    const text =
      'Name:\tclamd\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t110\t110\t110\t110\nGid:\t117\t117\t117\t117\n';
    expect(parseStatusUids(text)).toEqual([110, 110, 110, 110]);
    expect(parseStatusUids('Name:\tclamd\n')).toBeNull();
  });

  it('finds the ClamAV accounts in /etc/passwd', () => {
    const passwd = [
      'root:x:0:0:root:/root:/bin/bash',
      'clamav:x:110:117::/var/lib/clamav:/bin/false',
      'clamavx:x:1002:1002::/home/clamavx:/bin/sh',
    ].join('\n');
    expect(parsePasswd(passwd, ['clamav', 'clamscan'])).toEqual({ clamav: 110 });
  });
});

describe('Linux probe through a recorded host', () => {
  it('reads headers, /proc/*/comm, exe, status and /etc/passwd, never spawning a command', async () => {
    const files: Record<string, Uint8Array | string> = {
      '/var/lib/clamav/daily.cld': fixtureBytes('linux', 'daily-26165-2021.cld.header'),
      '/etc/passwd':
        'root:x:0:0:root:/root:/bin/bash\nclamav:x:110:117::/var/lib/clamav:/bin/false\n',
      '/proc/1/comm': 'init\n',
      '/proc/812/comm': 'clamd\n',
      '/proc/812/status': 'Name:\tclamd\nUid:\t110\t110\t110\t110\n',
      '/proc/813/comm': 'freshclam\n',
      '/proc/813/status': 'Name:\tfreshclam\nUid:\t110\t110\t110\t110\n',
      '/proc/814/comm': 'clamonacc\n',
      '/proc/814/status': 'Name:\tclamonacc\nUid:\t0\t0\t0\t0\n',
      '/proc/4242/comm': 'clamd\n',
      '/proc/4242/status': `Name:\tclamd\nUid:\t${PUPIL_UID}\t${PUPIL_UID}\t${PUPIL_UID}\t${PUPIL_UID}\n`,
    };
    const links: Record<string, string> = {
      '/proc/812/exe': '/usr/sbin/clamd',
      '/proc/813/exe': '/usr/bin/freshclam',
      '/proc/814/exe': '/usr/sbin/clamonacc',
      '/proc/4242/exe': '/home/pupil/clamd',
    };
    const statuses: Record<string, FileStatus> = {
      '/proc/812/exe': rootFile,
      '/proc/813/exe': rootFile,
      '/proc/814/exe': rootFile,
      '/proc/4242/exe': { uid: PUPIL_UID, gid: PUPIL_UID, mode: 0o755, kind: 'file' },
      '/': rootDir,
      '/usr': rootDir,
      '/usr/sbin': rootDir,
      '/usr/bin': rootDir,
      '/home': rootDir,
      '/home/pupil': { ...rootDir, uid: PUPIL_UID },
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
          Promise.resolve(
            path === '/proc' ? ['1', '812', '813', '814', '999', '4242', 'self', 'cpuinfo'] : null,
          ),
        status: (path) => Promise.resolve(statuses[path] ?? null),
        linkTarget: (path) => Promise.resolve(links[path] ?? null),
      },
      now: () => new Date('2021-05-10T00:00:00Z'),
    };
    const raw = await probe(host);
    expect(raw).toMatchObject({
      binaries: ['/usr/sbin/clamd'],
      databases: [{ file: 'daily.cld', header: files['/var/lib/clamav/daily.cld'] }],
      accounts: { clamav: 110 },
    });
    expect(raw.processes.map((p) => [p.pid, p.name, p.exe, p.uids?.[0], p.error])).toEqual([
      [812, 'clamd', '/usr/sbin/clamd', 110, null],
      [813, 'freshclam', '/usr/bin/freshclam', 110, null],
      [814, 'clamonacc', '/usr/sbin/clamonacc', 0, null],
      [4242, 'clamd', '/home/pupil/clamd', PUPIL_UID, null],
    ]);
    expect(raw.processes[0]?.exeFolders.map((f) => f.path)).toEqual(['/', '/usr', '/usr/sbin']);
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

  it('a host that cannot tell owners makes a clamd unverifiable, so unknown', async () => {
    const host: Host = {
      run: () => Promise.reject(new Error('the Linux probe must not spawn')),
      files: {
        readBytes: (path) =>
          Promise.resolve(
            path === '/var/lib/clamav/daily.cld'
              ? fixtureBytes('linux', 'daily-26165-2021.cld.header')
              : null,
          ),
        readText: (path) => Promise.resolve(path === '/proc/812/comm' ? 'clamd\n' : null),
        mtime: (path) => Promise.resolve(path === '/usr/sbin/clamd' ? new Date(0) : null),
        list: (path) => Promise.resolve(path === '/proc' ? ['812'] : null),
      },
      now: () => new Date('2021-05-10T00:00:00Z'),
    };
    const result = await runCheck(antivirusCheck, {
      os: 'linux',
      host,
      policy: await readDefaultPolicy(),
    });
    expect(result).toMatchObject({ status: 'unknown' });
  });
});

describe('Linux probe on this machine (real host)', () => {
  it('agrees with what ps and the file system say independently', async () => {
    const result = await runCheck(antivirusCheck, {
      os: 'linux',
      host: realHost,
      policy: await readDefaultPolicy(),
    });
    // Independent view: ps(1) for processes and their users, the package's program paths, fs
    // for databases and binaries. A process only named like ClamAV (issue 12) does not count.
    const ps = execFileSync('ps', ['-e', '-o', 'pid=,user:32=,comm='], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter(([pid, user, name]) => {
        const program = PROGRAMS[name ?? ''];
        if (
          program === undefined ||
          !['root', 'clamav', 'clamscan', 'clamupdate'].includes(user ?? '')
        ) {
          return false;
        }
        try {
          return readlinkSync(`/proc/${pid ?? ''}/exe`).replace(/ \(deleted\)$/, '') === program;
        } catch {
          return false;
        }
      })
      .map(([, , name]) => name);
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
      running.includes('clamd') && running.includes('clamonacc') ? 'on' : 'off',
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
