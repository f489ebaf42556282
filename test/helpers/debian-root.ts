// A clean Debian 12 root for installing packages into (issue 17): `debootstrap --variant=minbase`
// from Debian's mirror once, kept as a tarball (about two minutes to make on these machines), and
// unpacked afresh for every test, so each test starts from a root that never saw Hallpass.
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

const MIRROR = 'http://deb.debian.org/debian';
const CACHE_DIR = join(tmpdir(), 'hallpass-test-cache');
const TARBALL = join(CACHE_DIR, 'debian-bookworm-minbase.tar');

/** A fresh root; `remove` deletes it. */
export interface DebianRoot {
  dir: string;
  remove(): Promise<void>;
}

/** Makes the cached minbase tarball if it is not there yet; returns its path. */
async function minbaseTarball(): Promise<string> {
  try {
    await access(TARBALL);
    return TARBALL;
  } catch {
    // made below
  }
  await mkdir(CACHE_DIR, { recursive: true });
  const work = await mkdtemp(join(CACHE_DIR, 'bootstrap-'));
  try {
    const target = join(work, 'root');
    await exec('debootstrap', ['--variant=minbase', 'bookworm', target, MIRROR], {
      maxBuffer: 64 * 1024 * 1024,
    });
    // Written beside, then renamed: two test runs at once never read half a tarball.
    await exec('tar', ['--numeric-owner', '-C', target, '-cf', join(work, 'root.tar'), '.']);
    await rename(join(work, 'root.tar'), TARBALL);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return TARBALL;
}

/** Unpacks a clean Debian 12 minbase root (needs root: device nodes and ownership). */
export async function freshDebianRoot(): Promise<DebianRoot> {
  const tarball = await minbaseTarball();
  const dir = await mkdtemp(join(tmpdir(), 'hallpass-root-'));
  await exec('tar', ['--numeric-owner', '-C', dir, '-xf', tarball]);
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs a command inside the root (chroot), failing with its output when it fails. */
export async function inRoot(
  root: DebianRoot,
  command: readonly string[],
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await exec('chroot', [root.dir, ...command], {
      maxBuffer: 16 * 1024 * 1024,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
    });
  } catch (error) {
    const failed = error as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `chroot ${command.join(' ')} failed: ${failed.message}\n${failed.stdout ?? ''}${failed.stderr ?? ''}`,
      { cause: error },
    );
  }
}
