// Drops not yet told to ICT, kept across restarts (issue 12): the count of reports the bound
// deleted and of events it refused, with when the first and last went. In memory only, a SIGKILL
// or power cut between a drop and the next notice would lose the very fact ICT most needs. A
// small JSON file beside the outbox (whose every file must be an item), replaced atomically.
import { basename, dirname } from 'node:path';
import { Type, type Static } from 'typebox';
import { UuidSchema, parseJsonAs } from '../../../shared/index.ts';
import { readTrustedFile } from '../trusted-path.ts';
import { writeFileDurably } from './durable-fs.ts';

const PendingDropsSchema = Type.Object(
  {
    count: Type.Integer({ minimum: 1 }),
    firstAt: Type.Number({ minimum: 0 }),
    lastAt: Type.Number({ minimum: 0 }),
    /**
     * The id the notice for these drops will carry, fixed when the first drop is counted: a
     * notice stored just before a crash, and made again after it, has the same id, so the
     * outbox (or the server, idempotent by id) keeps one.
     */
    noticeId: UuidSchema,
  },
  { additionalProperties: false },
);
export type PendingDrops = Static<typeof PendingDropsSchema>;

const DropCountsSchema = Type.Object(
  {
    reports: Type.Union([PendingDropsSchema, Type.Null()]),
    events: Type.Union([PendingDropsSchema, Type.Null()]),
  },
  { additionalProperties: false },
);
export type DropCounts = Static<typeof DropCountsSchema>;

/** What reading the file found: the kept counts (none when absent), or why it was not usable. */
export type DropCountsRead = { ok: true; counts: DropCounts } | { ok: false; reason: string };

const MAX_BYTES = 4096;
const NONE: DropCounts = { reports: null, events: null };

/** Reads the kept counts; only the service's own file counts (owner `uid`; null on Windows). */
export async function readDropCounts(path: string, uid: number | null): Promise<DropCountsRead> {
  const read = await readTrustedFile(path, { uid, maxBytes: MAX_BYTES });
  if (read.kind === 'missing') {
    return { ok: true, counts: NONE };
  }
  if (read.kind !== 'ok') {
    return { ok: false, reason: `not trusted: ${read.reason}` };
  }
  const checked = parseJsonAs(DropCountsSchema, read.text);
  if (!checked.ok) {
    return checked;
  }
  for (const drops of [checked.value.reports, checked.value.events]) {
    if (drops !== null && drops.lastAt < drops.firstAt) {
      return { ok: false, reason: 'lastAt is before firstAt' };
    }
  }
  return { ok: true, counts: checked.value };
}

/** Replaces the kept counts atomically (written, fsync'd, renamed into place). */
export async function writeDropCounts(path: string, counts: DropCounts): Promise<void> {
  await writeFileDurably(
    dirname(path),
    basename(path),
    `.${basename(path)}.tmp`,
    JSON.stringify(counts),
  );
}
