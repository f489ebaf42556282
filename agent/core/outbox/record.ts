// The on-disk form of one outbox item: one small file per item.
//
// Why one file per item rather than an append-only log: an item leaves the outbox
// individually (acknowledged by id, dropped when the bound is hit, moved to `rejected/`),
// and with one file each of those is a single unlink or rename; a log would need
// tombstones and compaction, and compaction is itself a crash-safety problem. A file
// becomes visible under its final name only after it was written and fsync'd under a
// temporary name (see durable-fs.ts), so a torn write can only ever be a temp file.
//
// File name: `<seq:12 digits>-<kind>-<uuid>.json`. The sequence number, not a clock,
// orders the outbox, so a clock that jumps cannot reorder it.
// Content: a header line, then the payload as JSON, then a newline:
//   {"format":"hallpass-outbox/1","kind":"event","id":"…","bytes":412,"sha256":"…"}
//   {…the report or event exactly as it will be sent…}
// The checksum over the payload bytes catches what rename-after-fsync cannot: a disk or
// a copy tool that changes bytes while the JSON still parses.
import { createHash } from 'node:crypto';
import {
  AgentEventSchema,
  ComplianceReportSchema,
  describeProblems,
  validate,
  type AgentEvent,
  type ComplianceReport,
} from '../../../shared/index.ts';

/** One report or event waiting to be delivered, identified by the payload's own UUID. */
export type OutboxItem =
  | { kind: 'report'; id: string; payload: ComplianceReport }
  | { kind: 'event'; id: string; payload: AgentEvent };

/** Whether an item is a report (droppable when full) or an event (never dropped). */
export type OutboxKind = OutboxItem['kind'];

/** What an item's file name says about it. */
export interface ItemName {
  file: string;
  seq: number;
  kind: OutboxKind;
  id: string;
}

/** Outcome of reading an item file back. */
export type Decoded = { ok: true; item: OutboxItem } | { ok: false; reason: string };

const FORMAT = 'hallpass-outbox/1';
const NAME =
  /^(\d{12})-(report|event)-([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})\.json$/;

/** Prefix of files still being written; any left at open are from a crash and are removed. */
export const TEMP_PREFIX = '.tmp-';

/** Marker of a file set aside as corrupt (`<name>.corrupt-<epoch ms>`); ignored at open. */
export const CORRUPT_MARK = '.corrupt-';

/** Largest item file read back; anything bigger is not ours (a report is a few KB). */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;

/** The file name for an item at position `seq`. */
export function itemFileName(seq: number, kind: OutboxKind, id: string): string {
  return `${String(seq).padStart(12, '0')}-${kind}-${id}.json`;
}

/** Parses an item file name, or null for anything else. */
export function parseItemFileName(file: string): ItemName | null {
  const match = NAME.exec(file);
  if (match === null) {
    return null;
  }
  const [, seq = '', kind, id = ''] = match;
  return { file, seq: Number(seq), kind: kind === 'report' ? 'report' : 'event', id };
}

/** Schema problems of an item, or null when it is fit to send. */
export function itemProblem(item: OutboxItem): string | null {
  const checked =
    item.kind === 'report'
      ? validate(ComplianceReportSchema, item.payload)
      : validate(AgentEventSchema, item.payload);
  if (!checked.ok) {
    return `payload does not match the ${item.kind} schema: ${describeProblems(checked.problems)}`;
  }
  if (item.payload.id.toLowerCase() !== item.id.toLowerCase()) {
    return `item id ${item.id} differs from payload id ${item.payload.id}`;
  }
  return null;
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** The file content for an item. */
export function encodeRecord(item: OutboxItem): string {
  const body = JSON.stringify(item.payload);
  const header = {
    format: FORMAT,
    kind: item.kind,
    id: item.id,
    bytes: Buffer.byteLength(body, 'utf8'),
    sha256: sha256(body),
  };
  return `${JSON.stringify(header)}\n${body}\n`;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads an item back from its file content, checking that it is whole (checksum) and that
 * it is the item its name says. `checkSchema` also validates the payload against its schema
 * (the outbox does that once per item, the first time it is about to be sent).
 */
export function decodeRecord(text: string, name: ItemName, checkSchema: boolean): Decoded {
  const newline = text.indexOf('\n');
  if (text.length === 0) {
    return { ok: false, reason: 'empty file' };
  }
  if (newline < 0 || !text.endsWith('\n')) {
    return { ok: false, reason: 'truncated record (no terminating newline)' };
  }
  let header: unknown;
  try {
    header = JSON.parse(text.slice(0, newline));
  } catch {
    return { ok: false, reason: 'header is not JSON' };
  }
  if (!isRecord(header) || header.format !== FORMAT) {
    return { ok: false, reason: `not a ${FORMAT} record` };
  }
  if (header.kind !== name.kind || header.id !== name.id) {
    return { ok: false, reason: 'header does not match the file name' };
  }
  const body = text.slice(newline + 1, -1);
  if (header.bytes !== Buffer.byteLength(body, 'utf8') || header.sha256 !== sha256(body)) {
    return { ok: false, reason: 'checksum mismatch (torn or altered payload)' };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    return { ok: false, reason: 'payload is not JSON' };
  }
  // The checksum vouches that these are the bytes add() wrote after validating them.
  const item = { kind: name.kind, id: name.id, payload } as OutboxItem;
  const problem = checkSchema ? itemProblem(item) : null;
  return problem === null ? { ok: true, item } : { ok: false, reason: problem };
}
