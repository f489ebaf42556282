// Whether a path the root service trusts could have been written by someone else (issue 12: the
// pupil is the adversary). A state file or folder is trusted only when it is owned by the
// service's user, is not writable by group or others, and is not a symbolic link; each folder
// above it must be owned by root or the service's user and not writable by others, or a pupil
// could rename the whole folder away and put their own in its place. POSIX only: on Windows the
// state lives under an ACL'd ProgramData folder and Node reports no owner (stat uid is 0).
import { constants, type Stats } from 'node:fs';
import { lstat, open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join, parse as parsePath, resolve, sep } from 'node:path';

/** The kind of entry a trusted path must be. */
export type EntryKind = 'file' | 'directory';

/** A state path that must not be trusted; the service refuses to start and names the path. */
export class UntrustedStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UntrustedStateError';
  }
}

const WRITABLE_BY_GROUP = 0o020;
const WRITABLE_BY_OTHERS = 0o002;
const STICKY = 0o1000;

/** A mode as `0755`, for messages. */
export function modeText(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

/**
 * Why one entry (already lstat'd or fstat'd, never followed) is not the service's own, or null.
 * Group- and world-readable is allowed here: it is not a way to change what the service reads
 * (the credential has its own, stricter 0600 check for secrecy).
 */
export function entryProblem(
  path: string,
  stats: Stats,
  expect: { uid: number; kind: EntryKind },
): string | null {
  if (stats.isSymbolicLink()) {
    return `${path} is a symbolic link, which another user may have planted`;
  }
  if (expect.kind === 'directory' ? !stats.isDirectory() : !stats.isFile()) {
    return `${path} is not a ${expect.kind === 'directory' ? 'folder' : 'regular file'}`;
  }
  if (stats.uid !== expect.uid) {
    return `${path} is owned by uid ${stats.uid}, not by the service's user (uid ${expect.uid})`;
  }
  if ((stats.mode & (WRITABLE_BY_GROUP | WRITABLE_BY_OTHERS)) !== 0) {
    return `${path} has mode ${modeText(stats.mode)}, so other users can write to it`;
  }
  return null;
}

/**
 * Why a folder above a trusted path lets another user replace what is below it, or null.
 * Owned by root or the service's user; group-writable only for group root (gid 0); world-
 * writable only with the sticky bit, under which nobody but the owner may rename or remove our
 * entry (unlink(2), "EPERM … sticky") — /tmp is such a folder.
 */
export function ancestorProblem(path: string, stats: Stats, uid: number): string | null {
  if (!stats.isDirectory()) {
    return `${path} is not a folder`;
  }
  if (stats.uid !== 0 && stats.uid !== uid) {
    return `${path} is owned by uid ${stats.uid}, who could replace what is inside it`;
  }
  const sticky = (stats.mode & STICKY) !== 0;
  if ((stats.mode & WRITABLE_BY_GROUP) !== 0 && stats.gid !== 0 && !sticky) {
    return `${path} has mode ${modeText(stats.mode)}: group ${stats.gid} can replace what is inside it`;
  }
  if ((stats.mode & WRITABLE_BY_OTHERS) !== 0 && !sticky) {
    return `${path} has mode ${modeText(stats.mode)}: every user can replace what is inside it`;
  }
  return null;
}

/** Every folder above `path`, from the root down (not `path` itself). */
function ancestors(path: string): string[] {
  const absolute = resolve(path);
  const { root } = parsePath(absolute);
  const parts = absolute.slice(root.length).split(sep).filter(Boolean);
  const chain: string[] = [root];
  for (const part of parts.slice(0, -1)) {
    chain.push(join(chain[chain.length - 1] ?? root, part));
  }
  return chain;
}

/**
 * Checks the folders above `path` as written and, when one of them is a link (macOS `/var` →
 * `/private/var`), the folders of the real path too. A link itself must be owned by root or the
 * service's user; its folder is checked as the previous step.
 */
export async function ancestorsProblem(path: string, uid: number): Promise<string | null> {
  let followed = false;
  for (const folder of ancestors(path)) {
    const entry = await lstat(folder);
    if (entry.isSymbolicLink()) {
      if (entry.uid !== 0 && entry.uid !== uid) {
        return `${folder} is a symbolic link owned by uid ${entry.uid}`;
      }
      followed = true;
      continue;
    }
    const problem = ancestorProblem(folder, entry, uid);
    if (problem !== null) {
      return problem;
    }
  }
  if (followed) {
    const real = await realpath(dirname(resolve(path)));
    for (const folder of ancestors(join(real, 'x'))) {
      const problem = ancestorProblem(folder, await stat(folder), uid);
      if (problem !== null) {
        return problem;
      }
    }
  }
  return null;
}

/**
 * Checks a state folder the service is about to trust: itself (never followed) and every folder
 * above it. Null when it is sound or absent (`missingOk`), else the problem in words.
 */
export async function folderProblem(
  path: string,
  uid: number,
  options: { missingOk: boolean },
): Promise<string | null> {
  let stats: Stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT' && options.missingOk) {
      return null;
    }
    return `${path} cannot be examined (${errorCode(error)})`;
  }
  const own = entryProblem(path, stats, { uid, kind: 'directory' });
  if (own !== null) {
    return own;
  }
  try {
    return await ancestorsProblem(path, uid);
  } catch (error) {
    // A folder above that cannot even be looked at cannot be vouched for either.
    return `the folders above ${path} cannot be examined (${errorCode(error)})`;
  }
}

/**
 * Checks the state folder and the folders inside it that exist; throws UntrustedStateError
 * naming every problem. Refused rather than tightened: a folder that was writable by others may
 * already have had files replaced, renamed or removed, and a quiet chmod would hide that. Only
 * root can have loosened a root-owned folder, so the fix is an admin's, and the message says it.
 */
export async function assertTrustedStateFolders(
  stateDir: string,
  subfolders: readonly string[],
  uid: number | null,
): Promise<void> {
  if (uid === null) {
    return;
  }
  const problems: string[] = [];
  const top = await folderProblem(stateDir, uid, { missingOk: false });
  if (top !== null) {
    problems.push(top);
  } else {
    for (const sub of subfolders) {
      const path = join(stateDir, sub);
      let stats: Stats;
      try {
        stats = await lstat(path);
      } catch (error) {
        if (errorCode(error) === 'ENOENT') {
          continue;
        }
        problems.push(`${path} cannot be examined (${errorCode(error)})`);
        continue;
      }
      const problem = entryProblem(path, stats, { uid, kind: 'directory' });
      if (problem !== null) {
        problems.push(problem);
      }
    }
  }
  if (problems.length > 0) {
    throw new UntrustedStateError(
      `refusing to run on state another user could have changed: ${problems.join('; ')}. ` +
        `Every state folder must be a real folder owned by uid ${uid} and not writable by ` +
        `others (fix: check its contents, then chown ${uid} and chmod 700 it; enrol again if ` +
        'the device credential may have been copied).',
    );
  }
}

/** What reading a trusted state file found. */
export type TrustedRead =
  | { kind: 'ok'; text: string; stats: Pick<Stats, 'uid' | 'mode'> }
  | { kind: 'missing' }
  | { kind: 'untrusted'; reason: string }
  | { kind: 'unreadable'; reason: string };

// O_NOFOLLOW is POSIX; Windows has no such flag (and no symlinks a user may plant in ProgramData).
// Node's typings declare it always present; on Windows it is undefined at run time.
const NO_FOLLOW = (constants as { O_NOFOLLOW?: number }).O_NOFOLLOW ?? 0;

/**
 * Reads a state file only if it is the service's own: opened without following a link (a
 * planted link fails with ELOOP) and checked with fstat on the same handle it is read from, so
 * the check and the read are about one file. `uid` null (Windows) skips the owner checks.
 */
export async function readTrustedFile(
  path: string,
  options: { uid: number | null; maxBytes: number },
): Promise<TrustedRead> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | NO_FOLLOW);
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT') {
      return { kind: 'missing' };
    }
    if (code === 'ELOOP') {
      return { kind: 'untrusted', reason: `${path} is a symbolic link, not the service's file` };
    }
    return { kind: 'unreadable', reason: `${path} cannot be opened (${code})` };
  }
  try {
    const stats = await handle.stat();
    const problem =
      options.uid === null
        ? stats.isFile()
          ? null
          : `${path} is not a regular file`
        : entryProblem(path, stats, { uid: options.uid, kind: 'file' });
    if (problem !== null) {
      return { kind: 'untrusted', reason: problem };
    }
    if (stats.size > options.maxBytes) {
      return { kind: 'unreadable', reason: `${path} is larger than ${options.maxBytes} bytes` };
    }
    return { kind: 'ok', text: await handle.readFile('utf8'), stats };
  } catch (error) {
    return { kind: 'unreadable', reason: `${path} cannot be read (${errorCode(error)})` };
  } finally {
    await handle.close();
  }
}

/** The service's own uid, or null where the OS has none (Windows). */
export function serviceUid(): number | null {
  return typeof process.getuid === 'function' ? process.getuid() : null;
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
}
