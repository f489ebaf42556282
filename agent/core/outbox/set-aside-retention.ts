// How long the outbox keeps what it set aside: files found corrupt (`<name>.corrupt-<epoch ms>`)
// and items the server refused for good (`rejected/<name>` with `<name>.reason`). Both are kept
// for someone to look at, and both were logged and reported when they happened; without a limit
// a device with a failing disk or a long-running server bug would fill its state folder.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isMissing, removeIfPresent } from './durable-fs.ts';
import { CORRUPT_MARK, TEMP_PREFIX } from './record.ts';

/** Set-aside files are kept this long, then removed when the outbox opens. */
export const SET_ASIDE_RETENTION_DAYS = 30;
const DAY_MS = 86_400_000;
const REASON_SUFFIX = '.reason';

/** When a `.corrupt-<ms>` name was set aside, or null when the name is not one. */
export function setAsideAt(name: string): number | null {
  const at = name.lastIndexOf(CORRUPT_MARK);
  const stamp = at < 0 ? '' : name.slice(at + CORRUPT_MARK.length);
  return /^\d{1,15}$/.test(stamp) ? Number(stamp) : null;
}

async function listOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (isMissing(error)) {
      return [];
    }
    throw error;
  }
}

/** When an item was rejected: the `at` its note records, else the note's modification time. */
async function rejectedAt(path: string): Promise<number | null> {
  try {
    const note: unknown = JSON.parse(await readFile(path, 'utf8'));
    const at = (note as { at?: unknown } | null)?.at;
    if (typeof at === 'number' && Number.isFinite(at)) {
      return at;
    }
  } catch {
    // Unreadable or not JSON: fall back to when the file was written.
  }
  return stat(path).then(
    (info) => info.mtimeMs,
    () => null,
  );
}

/**
 * Removes set-aside files older than the retention from the outbox folder and its `rejected/`
 * folder, and reason notes a crash left half-written; returns the names removed (relative to
 * `dir`). A rejected item is dated by its `.reason` note, written when the server refused it.
 */
export async function pruneSetAside(
  dir: string,
  rejectedDir: string,
  nowMs: number,
  retentionDays = SET_ASIDE_RETENTION_DAYS,
): Promise<string[]> {
  const cutoff = nowMs - retentionDays * DAY_MS;
  const removed: string[] = [];
  for (const name of await listOrEmpty(dir)) {
    const at = setAsideAt(name);
    if (at !== null && at < cutoff && (await removeIfPresent(join(dir, name)))) {
      removed.push(name);
    }
  }
  const rejected = await listOrEmpty(join(dir, rejectedDir));
  for (const name of rejected.filter((entry) => entry.startsWith(TEMP_PREFIX))) {
    // A reason note a crash left half-written (this runs at open, before any new rejection).
    if (await removeIfPresent(join(dir, rejectedDir, name))) {
      removed.push(join(rejectedDir, name));
    }
  }
  for (const reason of rejected.filter((name) => name.endsWith(REASON_SUFFIX))) {
    const path = join(dir, rejectedDir, reason);
    const at = await rejectedAt(path);
    if (at === null || at >= cutoff) {
      continue;
    }
    const item = reason.slice(0, -REASON_SUFFIX.length);
    // The item first: a crash in between leaves a reason without an item, never the reverse.
    if (await removeIfPresent(join(dir, rejectedDir, item))) {
      removed.push(join(rejectedDir, item));
    }
    if (await removeIfPresent(path)) {
      removed.push(join(rejectedDir, reason));
    }
  }
  return removed;
}
