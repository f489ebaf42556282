// One process at a time on a PGlite folder. PGlite is PostgreSQL compiled to WebAssembly inside
// one process, with no postmaster to arbitrate: a second process that opens the same folder works
// on its own copy in memory, and whatever it writes is lost or, worse, corrupts the folder when
// both flush. So the first opener writes a lock file beside the folder naming its pid, and every
// later opener refuses at once while that process lives. A lock whose process is gone (killed,
// crashed, power cut) is taken over.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
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

/**
 * Takes the lock of a PGlite folder (`<folder>.lock`), or throws `DatabaseInUseError` naming the
 * process that holds it. Safe against concurrent openers: the file appears complete and at once
 * (a hard link of a written temporary file), and a stale lock is moved aside and checked before
 * it is removed, so two openers cannot both take it over.
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
    for (let attempt = 0; attempt < 5; attempt++) {
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
      // Stale. Move it aside, then look at what was moved: if another opener replaced it in the
      // meantime, that was a live lock, so put it back and give up.
      const aside = `${path}.stale.${mine.nonce}`;
      try {
        await rename(path, aside);
      } catch (error) {
        if (errorCode(error) === 'ENOENT') {
          continue;
        }
        throw error;
      }
      const moved = await readFile(aside, 'utf8');
      if (moved !== seen) {
        await link(aside, path).catch(() => undefined);
        await unlink(aside);
        throw inUse(dataDir, path, parseHolder(moved));
      }
      await unlink(aside);
    }
    throw inUse(dataDir, path, null);
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}
