// The delivery back-off kept across restarts (RetrySchedule.state()): a small JSON file beside
// the outbox, written atomically. Losing it costs nothing but an early retry, so a file that is
// not sound is reported and removed, never trusted and never fatal.
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { RetryState } from './backoff.ts';
import { isMissing, removeIfPresent, writeFileDurably } from './durable-fs.ts';

/** What reading the file found: the kept state (null when none), or why it was not usable. */
export type RetryStateRead = { ok: true; state: RetryState | null } | { ok: false; reason: string };

const MAX_BYTES = 4096;

/** Reads the kept back-off; a missing file is no state, anything unsound is a reason. */
export async function readRetryState(path: string): Promise<RetryStateRead> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isMissing(error)) {
      return { ok: true, state: null };
    }
    return { ok: false, reason: `cannot read: ${(error as Error).message}` };
  }
  if (text.length > MAX_BYTES) {
    return { ok: false, reason: `larger than ${MAX_BYTES} bytes` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  const record = value as { failures?: unknown; nextAt?: unknown } | null;
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return { ok: false, reason: 'not an object' };
  }
  const { failures, nextAt } = record;
  if (typeof failures !== 'number' || !Number.isSafeInteger(failures) || failures < 0) {
    return { ok: false, reason: 'failures is not a non-negative integer' };
  }
  if (nextAt !== null && (typeof nextAt !== 'number' || !Number.isFinite(nextAt) || nextAt < 0)) {
    return { ok: false, reason: 'nextAt is neither null nor a time' };
  }
  if ((failures === 0) !== (nextAt === null)) {
    return { ok: false, reason: 'failures and nextAt disagree' };
  }
  return { ok: true, state: { failures, nextAt } };
}

/** Replaces the kept back-off atomically (written, fsync'd, renamed into place). */
export async function writeRetryState(path: string, state: RetryState): Promise<void> {
  const dir = dirname(path);
  const temp = `.${basename(path)}.tmp`;
  // Only one service writes it, one write at a time; a temp file left by a crash goes first.
  await removeIfPresent(join(dir, temp));
  await writeFileDurably(dir, basename(path), temp, JSON.stringify(state));
}

/** Removes the file (after it was found unsound). */
export async function removeRetryState(path: string): Promise<void> {
  await removeIfPresent(path);
}
