// AUP documents as the server knows them: every version ICT ever uploaded in a group's policy
// (the policies table keeps each upload), with the SHA-256 of its text, so a signature's
// textSha256 finds the exact words the user was shown; and which versions are in force at a school.
import { createHash } from 'node:crypto';
import { aupDocumentText } from '../../shared/aup-text.ts';
import type { Queryable } from '../db/db.ts';

/** One document version as stored in a policy upload. */
export interface StoredAupDocument {
  id: string;
  kind: 'aup' | 'device-contract';
  role: 'staff' | 'pupil';
  version: string;
  title: string;
  introduction: string;
  statements: string[];
  askTutorGroup: boolean;
  askParentCarer: boolean;
  textSha256: string;
  /** When a policy holding this exact text was first uploaded. */
  publishedAt: Date;
}

/**
 * SHA-256 (hex) of the text a user is shown (`aupDocumentText`, the device's own rule), by
 * node:crypto: the server hashes every document of every stored policy. Node's UTF-8 encoder
 * turns a lone surrogate into U+FFFD as shared/aup-text.ts does.
 */
export function aupTextSha256(
  document: Pick<StoredAupDocument, 'title' | 'introduction' | 'statements'>,
): string {
  return createHash('sha256').update(aupDocumentText(document), 'utf8').digest('hex');
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A document from a stored policy's `aup.documents`, or null when it is not one. Uploads were
 * validated against the schema of their day; this still refuses what it cannot read rather than
 * show a wrong text as what someone signed.
 */
function readDocument(value: unknown, publishedAt: Date): StoredAupDocument | null {
  if (!isRecord(value)) {
    return null;
  }
  const { id, kind, role, version, title, introduction, statements } = value;
  if (
    typeof id !== 'string' ||
    (kind !== 'aup' && kind !== 'device-contract') ||
    (role !== 'staff' && role !== 'pupil') ||
    typeof version !== 'string' ||
    typeof title !== 'string' ||
    typeof introduction !== 'string' ||
    !Array.isArray(statements) ||
    !statements.every((s): s is string => typeof s === 'string')
  ) {
    return null;
  }
  const document: Omit<StoredAupDocument, 'textSha256'> = {
    id,
    kind,
    role,
    version,
    title,
    introduction,
    statements,
    askTutorGroup: value.askTutorGroup === true,
    askParentCarer: value.askParentCarer === true,
    publishedAt,
  };
  return { ...document, textSha256: aupTextSha256(document) };
}

/** The documents of a stored policy's `aup` section. */
function documentsOf(aup: unknown, publishedAt: Date): StoredAupDocument[] {
  const documents = isRecord(aup) && Array.isArray(aup.documents) ? aup.documents : [];
  return documents.flatMap((d: unknown) => readDocument(d, publishedAt) ?? []);
}

/** Keeps the first of each (id, version, text) in `documents`, which are oldest first. */
function firstOfEach(documents: StoredAupDocument[]): StoredAupDocument[] {
  const seen = new Map<string, StoredAupDocument>();
  for (const document of documents) {
    const key = `${document.id}\n${document.version}\n${document.textSha256}`;
    if (!seen.has(key)) {
      seen.set(key, document);
    }
  }
  return [...seen.values()];
}

/** Every document version in every policy upload of the trust, oldest publication first. */
export async function allAupDocuments(db: Queryable): Promise<StoredAupDocument[]> {
  const rows = await db.query<{ aup: unknown; created_at: Date }>(
    "select document -> 'aup' as aup, created_at from policies order by created_at, version",
  );
  return firstOfEach(rows.flatMap((row) => documentsOf(row.aup, new Date(row.created_at))));
}

/** The stored text a signature of (id, version, textSha256) was made on, or why there is none. */
export function findSignedText(
  documents: readonly StoredAupDocument[],
  signed: { documentId: string; version: string; textSha256: string },
): { document: StoredAupDocument; problem: null } | { document: null; problem: string } {
  const document = documents.find(
    (d) =>
      d.id === signed.documentId &&
      d.version === signed.version &&
      d.textSha256 === signed.textSha256,
  );
  if (document !== undefined) {
    return { document, problem: null };
  }
  const sameVersion = documents.some(
    (d) => d.id === signed.documentId && d.version === signed.version,
  );
  return {
    document: null,
    problem: sameVersion
      ? 'The text stored for this version does not match the fingerprint of what was signed: ' +
        'it was edited without a new version number, or the device showed other words. ' +
        'The signed text cannot be reproduced.'
      : 'No policy stored on the server holds this document version, so the text signed ' +
        'cannot be shown.',
  };
}

/** The AUP settings in force at a school: from the newest policy of each group it has devices in. */
export interface SchoolAupPolicy {
  /** Document versions in force (each group's newest policy), first publication first. */
  documents: StoredAupDocument[];
  /** Some group re-signs each academic year. */
  eachYear: boolean;
  /** Some group re-signs on a version change; else any version of a document counts. */
  onVersionChange: boolean;
  /** MM-DD the academic year starts on (the earliest any group sets; default 09-01). */
  yearStarts: string;
  /** Every document version ever uploaded (allAupDocuments), for signed texts. */
  stored: StoredAupDocument[];
}

const YEAR_STARTS = /^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/;

/** The AUP settings of the policies in force for a school's active devices. */
export async function schoolAupPolicy(db: Queryable, schoolId: string): Promise<SchoolAupPolicy> {
  const [inForce, history] = await Promise.all([
    db.query<{ aup: unknown }>(
      `select distinct on (p.group_id) p.document -> 'aup' as aup
         from policies p
        where p.group_id in (select group_id from devices
                              where school_id = $1 and retired_at is null)
        order by p.group_id, p.version desc`,
      [schoolId],
    ),
    allAupDocuments(db),
  ]);
  const published = new Map(
    history.map((d) => [`${d.id}\n${d.version}\n${d.textSha256}`, d.publishedAt]),
  );
  const current = firstOfEach(inForce.flatMap((row) => documentsOf(row.aup, new Date(0)))).map(
    (d) => ({
      ...d,
      publishedAt: published.get(`${d.id}\n${d.version}\n${d.textSha256}`) ?? d.publishedAt,
    }),
  );
  const resigns = inForce.map((row) =>
    isRecord(row.aup) && isRecord(row.aup.resign) ? row.aup.resign : {},
  );
  const starts = resigns
    .map((r) => r.academicYearStarts)
    .filter((s): s is string => typeof s === 'string' && YEAR_STARTS.test(s))
    .sort();
  return {
    documents: current.sort((a, b) => a.publishedAt.getTime() - b.publishedAt.getTime()),
    eachYear: resigns.some((r) => r.eachSeptember === true),
    onVersionChange: resigns.some((r) => r.onVersionChange === true),
    yearStarts: starts[0] ?? '09-01',
    stored: history,
  };
}

/** The earliest UTC offset in use (UTC+14, Kiribati): when a date first begins anywhere. */
const EARLIEST_OFFSET_MS = 14 * 3_600_000;

/**
 * Start of the academic year `now` falls in: the latest `MM-DD` not after now, from the moment
 * that date begins in the earliest time zone. Devices start the year at their own local midnight
 * and the server does not know their zones; starting this early means a signature a device counts
 * as this year's is never shown as outstanding here.
 */
export function academicYearStart(now: Date, yearStarts: string): Date {
  const [month, day] = yearStarts.split('-').map(Number) as [number, number];
  const startIn = (year: number) => new Date(Date.UTC(year, month - 1, day) - EARLIEST_OFFSET_MS);
  const thisYear = startIn(now.getUTCFullYear() + 1);
  if (thisYear.getTime() <= now.getTime()) {
    return thisYear;
  }
  const start = startIn(now.getUTCFullYear());
  return start.getTime() <= now.getTime() ? start : startIn(now.getUTCFullYear() - 1);
}
