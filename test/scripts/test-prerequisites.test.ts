// The step `npm test` runs first: the Debian packages the suites need, asked of the real dpkg,
// and what it does about missing ones. Nothing here installs anything: the install path is
// only decided (table), and the script itself runs with HALLPASS_TEST_PACKAGES_INSTALL=never.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  LIST_FILE,
  decide,
  missingPackages,
  parsePackageList,
} from '../../scripts/test-prerequisites-lib.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const script = fileURLToPath(new URL('../../scripts/test-prerequisites.ts', import.meta.url));
const FAKE = 'hallpass-no-such-package';
const hasDpkg = existsSync('/usr/bin/dpkg-query');

/** dpkg's own answer for one package, asked on its own (the oracle for the script's batch). */
function installedByDpkg(name: string): boolean {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Status}', name], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .includes('install ok installed');
  } catch {
    return false;
  }
}

describe('the package list', () => {
  const listed = parsePackageList(readFileSync(LIST_FILE, 'utf8'));

  it('names the packages the suites need, one valid Debian name a line', () => {
    expect(listed).toEqual(
      expect.arrayContaining(['postgresql', 'chromium', 'qemu-system-x86', 'linux-image-amd64']),
    );
    // Debian Policy §5.6.1: lower case letters, digits, + - . ; at least two characters.
    expect(listed.filter((name) => !/^[a-z0-9][a-z0-9+.-]+$/.test(name))).toEqual([]);
  });

  it('reads names and ignores comments and blank lines', () => {
    expect(parsePackageList('# why\n\npostgresql   # the PG leg\n  chromium\n')).toEqual([
      'postgresql',
      'chromium',
    ]);
  });

  it('is what npm test checks first, and CI keeps no list of its own', () => {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      scripts: { test: string };
    };
    expect(pkg.scripts.test.startsWith('node scripts/test-prerequisites.ts && ')).toBe(true);
    const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    expect(ci).toMatch(/^npm test$/m);
    expect(ci).not.toMatch(/apt-get install/);
  });
});

describe('what to do about missing packages', () => {
  const base = { isRoot: false, hasAptGet: true, installAllowed: true };
  it.each([
    ['nothing missing', { ...base, missing: [] }, { kind: 'ready' }],
    ['dpkg cannot be asked', { ...base, missing: null }, { kind: 'not-debian' }],
    [
      'root with apt-get installs',
      { ...base, isRoot: true, missing: ['chromium'] },
      { kind: 'install', packages: ['chromium'] },
    ],
    [
      'a user is told the sudo command',
      { ...base, missing: ['chromium', 'postgresql'] },
      {
        kind: 'stop',
        packages: ['chromium', 'postgresql'],
        command: 'sudo apt-get install -y chromium postgresql',
      },
    ],
    [
      'root told not to install is told the command',
      { ...base, isRoot: true, installAllowed: false, missing: ['chromium'] },
      { kind: 'stop', packages: ['chromium'], command: 'apt-get install -y chromium' },
    ],
    [
      'root without apt-get is told the command',
      { ...base, isRoot: true, hasAptGet: false, missing: ['chromium'] },
      { kind: 'stop', packages: ['chromium'], command: 'apt-get install -y chromium' },
    ],
  ])('%s', (_name, situation, decision) => {
    expect(decide(situation)).toEqual(decision);
  });
});

describe.skipIf(!hasDpkg)('on this Debian machine (real dpkg-query)', () => {
  it('a package that is certainly missing is missing; dpkg itself is not', async () => {
    expect(await missingPackages(['dpkg', FAKE, 'coreutils'])).toEqual([FAKE]);
  });

  it('npm test stops at once naming the one command, when told not to install', async () => {
    const run = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [script],
        {
          cwd: root,
          env: {
            ...process.env,
            HALLPASS_TEST_PACKAGES_EXTRA: FAKE,
            HALLPASS_TEST_PACKAGES_INSTALL: 'never',
          },
        },
        (error, _stdout, stderr) => {
          resolve({ code: error ? Number(error.code ?? 1) : 0, stderr });
        },
      );
    });
    expect(run.code).toBe(1);
    const needed = [...parsePackageList(readFileSync(LIST_FILE, 'utf8')), FAKE];
    const missing = needed.filter((name) => !installedByDpkg(name));
    const sudo = process.getuid?.() === 0 ? '' : 'sudo ';
    expect(run.stderr).toContain(`run:  ${sudo}apt-get install -y ${missing.join(' ')}\n`);
  });
});
