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

/** A debootstrap minbase root, optionally with further packages, cached under its own name. */
export interface RootRecipe {
  /** The cached tarball's name (under the temp folder's hallpass-test-cache). */
  name: string;
  /** Packages besides minbase (`debootstrap --include`). */
  include: readonly string[];
}

/** Plain minbase: what the chroot package test installs into. */
export const MINBASE: RootRecipe = { name: 'debian-bookworm-minbase.tar', include: [] };

/** A fresh root; `remove` deletes it. */
export interface DebianRoot {
  dir: string;
  remove(): Promise<void>;
}

/** Makes the recipe's cached tarball if it is not there yet; returns its path. */
export async function rootTarball(recipe: RootRecipe): Promise<string> {
  const tarball = join(CACHE_DIR, recipe.name);
  try {
    await access(tarball);
    return tarball;
  } catch {
    // made below
  }
  await mkdir(CACHE_DIR, { recursive: true });
  const work = await mkdtemp(join(CACHE_DIR, 'bootstrap-'));
  try {
    const target = join(work, 'root');
    const include = recipe.include.length > 0 ? [`--include=${recipe.include.join(',')}`] : [];
    await exec('debootstrap', ['--variant=minbase', ...include, 'bookworm', target, MIRROR], {
      maxBuffer: 64 * 1024 * 1024,
    });
    // Written beside, then renamed: two test runs at once never read half a tarball.
    await exec('tar', ['--numeric-owner', '-C', target, '-cf', join(work, 'root.tar'), '.']);
    await rename(join(work, 'root.tar'), tarball);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return tarball;
}

/** Unpacks a clean Debian 12 root (needs root: device nodes and ownership); minbase by default. */
export async function freshDebianRoot(recipe: RootRecipe = MINBASE): Promise<DebianRoot> {
  const tarball = await rootTarball(recipe);
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
