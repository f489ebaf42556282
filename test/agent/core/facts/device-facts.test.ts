import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseOsRelease } from '../../../../agent/core/facts/linux.ts';
import { runCli } from '../../../helpers/run-cli.ts';

// Every command systeminformation and node-machine-id ran on Linux to build the facts; each fake
// prints a lie, so any fact that still came from a command would change.
const FAKES = ['cat', 'head', 'hostname', 'uname', 'dmidecode', 'lsb_release', 'date', 'ls'];
const FAKE_SCRIPT = `#!/bin/sh
echo 'NAME="Pwned OS"'
echo 'VERSION_ID="99"'
echo 'ffffffffffffffffffffffffffffffff'
echo 'pwned-host'
`;

describe.skipIf(process.platform !== 'linux')('device facts with a planted PATH', () => {
  let fakes = '';
  beforeAll(async () => {
    fakes = await mkdtemp(join(tmpdir(), 'hallpass-fake-path-'));
    for (const name of FAKES) {
      await writeFile(join(fakes, name), FAKE_SCRIPT);
      await chmod(join(fakes, name), 0o755);
    }
  });
  afterAll(async () => {
    await rm(fakes, { recursive: true, force: true });
  });

  it('reports the same facts as with a clean PATH', async () => {
    const clean = await runCli(['facts', '--json'], { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' });
    const planted = await runCli(['facts', '--json'], {
      PATH: `${fakes}:/usr/sbin:/usr/bin:/sbin:/bin`,
    });
    expect(clean.code).toBe(0);
    expect(planted.code).toBe(0);
    expect(planted.stdout).not.toMatch(/pwned/i);
    expect(JSON.parse(planted.stdout)).toEqual(JSON.parse(clean.stdout));
  }, 120_000);
});

describe('parseOsRelease', () => {
  // Debian 12's /etc/os-release as shipped (base-files 12.4+deb12u11), recorded on this machine.
  const debian12 = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`;

  it('reads quoted and bare values', () => {
    const values = parseOsRelease(debian12);
    expect(values.get('NAME')).toBe('Debian GNU/Linux');
    expect(values.get('VERSION_ID')).toBe('12');
    expect(values.get('ID')).toBe('debian');
  });

  it('undoes backslash escapes in double quotes and skips comments and junk', () => {
    const values = parseOsRelease(
      '# comment\nNAME="Say \\"hi\\""\nnot an assignment\nID=\'single\'\n',
    );
    expect([...values]).toEqual([
      ['NAME', 'Say "hi"'],
      ['ID', 'single'],
    ]);
  });
});
