// The delivery back-off kept across restarts (RetrySchedule.state()): a small JSON file beside
// the outbox, written atomically. Losing it costs nothing but an early retry, so a file that is
// not sound is reported and removed by the outbox, never trusted and never fatal.
import { basename, dirname } from 'node:path';
import { Type } from 'typebox';
import { parseJsonAs } from '../../../shared/index.ts';
import type { RetryState } from './backoff.ts';
import { readTrustedFile } from '../trusted-path.ts';
import { writeFileDurably } from './durable-fs.ts';

const RetryStateSchema = Type.Object(
  {
    failures: Type.Integer({ minimum: 0 }),
    nextAt: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
  },
  { additionalProperties: false },
);

/** What reading the file found: the kept state (null when none), or why it was not usable. */
export type RetryStateRead = { ok: true; state: RetryState | null } | { ok: false; reason: string };

const MAX_BYTES = 4096;

/**
 * Reads the kept back-off; a missing file is no state, anything unsound is a reason. Only the
 * service's own file counts (owner `uid`, not writable by others, not a link; null on Windows):
 * one planted by someone else could hold every send back for as long as it names.
 */
export async function readRetryState(path: string, uid: number | null): Promise<RetryStateRead> {
  const read = await readTrustedFile(path, { uid, maxBytes: MAX_BYTES });
  if (read.kind === 'missing') {
    return { ok: true, state: null };
  }
  if (read.kind !== 'ok') {
    return { ok: false, reason: `not trusted: ${read.reason}` };
  }
  const checked = parseJsonAs(RetryStateSchema, read.text);
  if (!checked.ok) {
    return checked;
  }
  const state = checked.value;
  if ((state.failures === 0) !== (state.nextAt === null)) {
    return { ok: false, reason: 'failures and nextAt disagree' };
  }
  return { ok: true, state };
}

/** Replaces the kept back-off atomically (written, fsync'd, renamed into place). */
export async function writeRetryState(path: string, state: RetryState): Promise<void> {
  await writeFileDurably(
    dirname(path),
    basename(path),
    `.${basename(path)}.tmp`,
    JSON.stringify(state),
  );
}
