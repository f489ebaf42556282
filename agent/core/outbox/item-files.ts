// Reading item files back, setting unsound ones aside, and the one directory scan at open.
// Nothing here throws over a bad file: a torn, garbage or unreadable file becomes a reason
// string, because one bad file must never stop the service or block the items behind it.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readTrustedFile } from '../trusted-path.ts';
import { moveIfPresent, removeIfPresent } from './durable-fs.ts';
import {
  CORRUPT_MARK,
  MAX_RECORD_BYTES,
  TEMP_PREFIX,
  decodeRecord,
  parseItemFileName,
  type ItemName,
  type OutboxItem,
} from './record.ts';

/** A file that was not a sound item and was renamed out of the way (null: could not be). */
export interface SetAsideFile {
  file: string;
  movedTo: string | null;
  reason: string;
}

/** An item file read back: the item, or why it is unsound (`missing`: already gone). */
export type ReadResult =
  { ok: true; item: OutboxItem } | { ok: false; reason: string; missing: boolean };

/** What the directory held at open. */
export interface Scan {
  /** Sound items, oldest first, one per id. */
  names: ItemName[];
  setAside: SetAsideFile[];
  /** One past the highest sequence number seen on any item file, sound or not. */
  nextSeq: number;
}

// Reading thousands of files one at a time makes open slow; all at once can exhaust file
// descriptors.
const READ_CONCURRENCY = 64;

const errorCode = (error: unknown) => String((error as { code?: unknown } | null)?.code);

/**
 * Reads and checks one item file. Only the service's own file is read (issue 12): opened without
 * following a link and checked on the same handle for owner `uid` and no group or world write,
 * or a file someone else could have written would be sent to ICT as the device's. `uid` null
 * (Windows) skips the owner checks.
 */
export async function readItemFile(
  dir: string,
  name: ItemName,
  checkSchema: boolean,
  uid: number | null,
): Promise<ReadResult> {
  const read = await readTrustedFile(join(dir, name.file), { uid, maxBytes: MAX_RECORD_BYTES });
  switch (read.kind) {
    case 'ok': {
      const decoded = decodeRecord(read.text, name, checkSchema);
      return decoded.ok ? decoded : { ...decoded, missing: false };
    }
    case 'missing':
      return { ok: false, reason: 'unreadable (ENOENT)', missing: true };
    case 'untrusted':
      return { ok: false, reason: `not the service's own file: ${read.reason}`, missing: false };
    case 'unreadable':
      return { ok: false, reason: read.reason, missing: false };
    default:
      return read satisfies never;
  }
}

/** Renames `file` to `<file>.corrupt-<nowMs>`; null when it was already gone. */
export async function setAsideFile(
  dir: string,
  file: string,
  reason: string,
  nowMs: number,
): Promise<SetAsideFile | null> {
  const movedTo = `${file}${CORRUPT_MARK}${nowMs}`;
  try {
    return (await moveIfPresent(join(dir, file), join(dir, movedTo)))
      ? { file, movedTo, reason }
      : null;
  } catch (error) {
    // Left in place and not indexed: reported, and retried at the next open.
    return { file, movedTo: null, reason: `${reason}; could not set aside (${errorCode(error)})` };
  }
}

/**
 * Lists the outbox once: removes temp files a crash left (never renamed into place, so their
 * add() never resolved), sets aside foreign and unsound files, and keeps the oldest copy of
 * an id. Folders (`rejected/`) and files already set aside are left alone.
 */
export async function scanDir(dir: string, nowMs: number, uid: number | null): Promise<Scan> {
  const setAside: SetAsideFile[] = [];
  const putAside = async (file: string, reason: string) => {
    const result = await setAsideFile(dir, file, reason, nowMs);
    if (result !== null) {
      setAside.push(result);
    }
  };
  const candidates: ItemName[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const name = entry.isFile() ? parseItemFileName(entry.name) : null;
    if (entry.isSymbolicLink()) {
      // Never followed: the service writes only regular files here.
      await putAside(entry.name, 'a symbolic link, which another user may have planted');
    } else if (entry.isFile() && entry.name.startsWith(TEMP_PREFIX)) {
      await removeIfPresent(join(dir, entry.name));
    } else if (name !== null) {
      candidates.push(name);
    } else if (!entry.isDirectory() && !entry.name.includes(CORRUPT_MARK)) {
      await putAside(entry.name, 'not an outbox item file');
    }
  }
  const sound: ItemName[] = [];
  for (let i = 0; i < candidates.length; i += READ_CONCURRENCY) {
    const chunk = candidates.slice(i, i + READ_CONCURRENCY);
    const reads = await Promise.all(chunk.map((name) => readItemFile(dir, name, false, uid)));
    for (const [j, read] of reads.entries()) {
      const name = chunk[j];
      if (name === undefined || (!read.ok && read.missing)) {
        continue;
      }
      if (read.ok) {
        sound.push(name);
      } else {
        await putAside(name.file, read.reason);
      }
    }
  }
  sound.sort((a, b) => a.seq - b.seq);
  const seen = new Set<string>();
  const names: ItemName[] = [];
  for (const name of sound) {
    const key = name.id.toLowerCase();
    if (seen.has(key)) {
      await putAside(name.file, 'duplicate id (the older copy is kept)');
    } else {
      seen.add(key);
      names.push(name);
    }
  }
  const nextSeq = candidates.reduce((max, name) => Math.max(max, name.seq + 1), 0);
  return { names, setAside, nextSeq };
}
