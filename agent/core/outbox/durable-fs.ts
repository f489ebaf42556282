// The few file operations the outbox needs, each crash-safe in the POSIX sense:
// a new file is written under a temporary name, fsync'd, renamed into place, and the
// directory is fsync'd so the rename itself survives a power cut (rename(2) is atomic
// but only durable once the directory entry is on disk).
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

const code = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

/** Writes `data` to `dir/name` so that the name either is absent or holds all of it. */
export async function writeFileDurably(
  dir: string,
  name: string,
  tempName: string,
  data: string,
): Promise<void> {
  const temp = join(dir, tempName);
  // `wx`: never write through a file (or link) that is already there.
  let handle: FileHandle;
  try {
    handle = await open(temp, 'wx', 0o600);
  } catch (error) {
    if (code(error) !== 'EEXIST') {
      throw error;
    }
    // A crash between creating and renaming a fixed temp name leaves it behind, and every later
    // write would fail: remove it (unlink removes a link, not its target) and create it afresh.
    await removeIfPresent(temp);
    handle = await open(temp, 'wx', 0o600);
  }
  try {
    await handle.writeFile(data, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await removeIfPresent(temp);
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, join(dir, name));
  } catch (error) {
    await removeIfPresent(temp);
    throw error;
  }
}

/**
 * Makes renames and unlinks in `dir` durable. Windows cannot open a directory for fsync
 * (EISDIR/EPERM); there NTFS journals the metadata change itself, so skipping is correct.
 */
export async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(dir, 'r');
  } catch (error) {
    if (['EISDIR', 'EPERM', 'EACCES'].includes(code(error) as string)) {
      return;
    }
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    // Some filesystems (and Windows) refuse fsync on a directory handle; nothing more to do.
    if (!['EINVAL', 'EPERM', 'EBADF', 'ENOTSUP'].includes(code(error) as string)) {
      throw error;
    }
  } finally {
    await handle.close();
  }
}

/** Deletes a file; already gone is fine (acknowledged twice, or dropped meanwhile). */
export async function removeIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (error) {
    if (code(error) === 'ENOENT') {
      return false;
    }
    throw error;
  }
}

/** Renames a file; false when it is already gone. */
export async function moveIfPresent(from: string, to: string): Promise<boolean> {
  try {
    await rename(from, to);
    return true;
  } catch (error) {
    if (code(error) === 'ENOENT') {
      return false;
    }
    throw error;
  }
}

/** Whether an error is a missing file. */
export const isMissing = (error: unknown): boolean => code(error) === 'ENOENT';
