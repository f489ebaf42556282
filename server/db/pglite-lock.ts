// One process at a time on a PGlite folder. PGlite is PostgreSQL compiled to WebAssembly inside
// one process, with no postmaster to arbitrate: a second process that opens the same folder works
// on its own copy in memory, and whatever it writes is lost or, worse, corrupts the folder when
// both flush. So the first opener writes a lock file beside the folder naming its pid, and every
// later opener refuses at once while that process lives. A lock whose process is gone (killed,
// crashed, power cut) is taken over.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';

/** Another live process holds the folder. */
export class DatabaseInUseError extends Error {}

/** A held lock. */
export interface FolderLock {
  /** The lock file's path. */
  readonly path: string;
  /** Removes the lock file if it is still ours. */
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  host: string;
  since: string;
  nonce: string;
}

function parseHolder(text: string): Holder | null {
  try {
    const value = JSON.parse(text) as Partial<Holder>;
    return typeof value.pid === 'number' &&
      typeof value.host === 'string' &&
      typeof value.since === 'string' &&
      typeof value.nonce === 'string'
      ? (value as Holder)
      : null;
  } catch {
    return null;
  }
}

/** True while `pid` names a live process (one of another user's counts: EPERM). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException).code;

function inUse(dataDir: string, path: string, holder: Holder | null): DatabaseInUseError {
  const who =
    holder === null
      ? 'another process'
      : `process ${String(holder.pid)}${holder.host === hostname() ? '' : ` on ${holder.host}`} (since ${holder.since})`;
  return new DatabaseInUseError(
    `the database folder ${dataDir} is in use by ${who}, most likely a running hallpass-server. ` +
      'PGlite allows one process per folder: stop the server first, or make the change in the ' +
      `dashboard or through the ICT API while it runs. If no such process is running, delete ${path}.`,
  );
}

// A takeover file older than this was left by an opener killed in the middle of a takeover,
// which lasts a few milliseconds: it no longer stops others.
const TAKEOVER_STALE_MS = 10_000;

/**
 * Removes the lock at `path` if it still holds `stale`, while holding the `.takeover` file
 * (created exclusively, so exactly one opener holds it). Returns when the caller may try again:
 * the stale lock is gone, or another opener is busy clearing it.
 */
async function clearStale(path: string, stale: string): Promise<void> {
  const takeover = `${path}.takeover`;
  try {
    await writeFile(takeover, '', { flag: 'wx' });
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') {
      throw error;
    }
    const since = await stat(takeover).then(
      (s) => s.mtimeMs,
      () => null,
    );
    if (since !== null && Date.now() - since > TAKEOVER_STALE_MS) {
      await unlink(takeover).catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    return;
  }
  try {
    const now = await readFile(path, 'utf8').catch(() => null);
    if (now === stale) {
      await unlink(path);
    }
  } finally {
    await unlink(takeover).catch(() => undefined);
  }
}

/**
 * Takes the lock of a PGlite folder (`<folder>.lock`), or throws `DatabaseInUseError` naming the
 * process that holds it. Safe against concurrent openers: the file appears complete and at once
 * (a hard link of a written temporary file), and a stale lock is removed only by the one opener
 * holding the takeover file, and only if it is still the lock judged stale.
 */
export async function lockDataDir(dataDir: string): Promise<FolderLock> {
  const path = `${resolve(dataDir)}.lock`;
  await mkdir(dirname(path), { recursive: true });
  const mine: Holder = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    nonce: randomBytes(12).toString('hex'),
  };
  const text = JSON.stringify(mine) + '\n';
  const temporary = `${path}.${mine.nonce}`;
  await writeFile(temporary, text, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        await link(temporary, path);
        return {
          path,
          async release() {
            const now = await readFile(path, 'utf8').catch(() => null);
            if (now === text) {
              await unlink(path).catch(() => undefined);
            }
          },
        };
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') {
          throw error;
        }
      }
      const seen = await readFile(path, 'utf8').catch((error: unknown) => {
        if (errorCode(error) === 'ENOENT') {
          return null; // released meanwhile: try again
        }
        throw error;
      });
      if (seen === null) {
        continue;
      }
      const holder = parseHolder(seen);
      // A lock from another machine (a folder on a network share) cannot be checked: it stands.
      if (holder === null || holder.host !== mine.host || alive(holder.pid)) {
        throw inUse(dataDir, path, holder);
      }
      // Stale. Only one opener at a time may clear a stale lock (holding `.takeover`), and only
      // if it is still the very file judged stale: a lock is never removed unless dead.
      await clearStale(path, seen);
    }
    throw inUse(dataDir, path, null);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}
