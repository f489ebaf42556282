// One school's AUP register for the e-safety lead: its signatures, who is outstanding and how each
// document version's (re-)sign cycle is going.
//
// Who counts ("seen"): a user named by an event from one of the school's devices since the cycle
// began (the start of the academic year when a policy re-signs yearly, else the last 365 days):
// an AUP signature or decline, an idle lock, a USB decision. Those are the only user names the
// server holds; device facts name no user. A user is outstanding when they hold no current
// signature: an acceptance, on any device of the trust, of an AUP version in force at the school
// with its exact text (any version of it when no policy re-signs on version change), made in this
// cycle or the fortnight before it: the rules the device applies before asking.
import type {
  AupCycle,
  AupOutstandingRow,
  AupRegister,
  AupSeenBy,
  AupSignatureRow,
  AupSignedCopy,
} from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import {
  academicYearStart,
  findSignedText,
  schoolAupPolicy,
  type SchoolAupPolicy,
  type StoredAupDocument,
} from './aup-documents.ts';
import { aupUserKey } from './aup-records.ts';
import type { NamedRow } from './organisation.ts';
import { DAY_MS, isoRequired } from './read-values.ts';

/** Most signatures one register lists (the newest). */
export const REGISTER_MAX_SIGNATURES = 5000;

/** Columns of a signature row; text cut to the API's lengths (rows stored by hand included). */
export const SIGNATURE_COLUMNS = `r.event_id, left(r.user_name, 256) as user_name,
  left(r.full_name, 200) as full_name, r.role, left(r.document_id, 100) as document_id, r.kind,
  left(r.version, 50) as version, r.text_sha256, r.occurred_at, r.device_id,
  left(d.hostname, 255) as hostname, r.acknowledged, left(r.tutor_group, 100) as tutor_group,
  left(r.parent_carer, 200) as parent_carer`;

/** A row of SIGNATURE_COLUMNS. */
export interface SignatureRow {
  event_id: string;
  user_name: string;
  full_name: string | null;
  role: 'staff' | 'pupil';
  document_id: string;
  kind: 'aup' | 'device-contract';
  version: string;
  text_sha256: string;
  occurred_at: Date;
  device_id: string;
  hostname: string;
  acknowledged: number[] | null;
  tutor_group: string | null;
  parent_carer: string | null;
}

/** Which signatures are current for a school: its documents in force and its cycle. */
export interface Currency {
  policy: SchoolAupPolicy;
  cycleStartsAt: Date | null;
}

/** The cycle of a school's policy at `now`. */
export function currencyAt(policy: SchoolAupPolicy, now: Date): Currency {
  return {
    policy,
    cycleStartsAt: policy.eachYear ? academicYearStart(now, policy.yearStarts) : null,
  };
}

/**
 * A signature made this long before the academic year starts counts for the new year too, as the
 * device decides (ACADEMIC_YEAR_GRACE_DAYS in agent/core/aup/due.ts): a teacher who starts on 25
 * August is not asked again on 1 September, so the register must not list them as outstanding.
 */
export const ACADEMIC_YEAR_GRACE_DAYS = 14;

/**
 * The document in force that a signature counts for, or null when it is not current: the rules
 * the device applies before asking a user to sign (agent/core/aup/due.ts). With re-signing on
 * version change, only the version and exact text in force count (the same version reworded is
 * a text the user never agreed to); a yearly AUP must have been signed this academic year.
 */
export function currentFor(
  currency: Currency,
  signed: { kind: string; documentId: string; version: string; textSha256: string; signedAt: Date },
): StoredAupDocument | null {
  const { policy, cycleStartsAt } = currency;
  if (
    signed.kind === 'aup' &&
    cycleStartsAt !== null &&
    signed.signedAt.getTime() < cycleStartsAt.getTime() - ACADEMIC_YEAR_GRACE_DAYS * DAY_MS
  ) {
    return null;
  }
  return (
    policy.documents.find(
      (d) =>
        d.id === signed.documentId &&
        d.kind === signed.kind &&
        (!policy.onVersionChange ||
          (d.version === signed.version && d.textSha256 === signed.textSha256)),
    ) ?? null
  );
}

/** A stored signature row as the API shows it. */
export function toSignatureRow(
  row: SignatureRow,
  currency: Currency,
  stored: readonly StoredAupDocument[],
): AupSignatureRow {
  const signedAt = new Date(row.occurred_at);
  const text = findSignedText(stored, {
    documentId: row.document_id,
    version: row.version,
    textSha256: row.text_sha256,
  });
  return {
    id: row.event_id,
    user: row.user_name,
    fullName: row.full_name ?? '',
    role: row.role,
    documentId: row.document_id,
    kind: row.kind,
    version: row.version,
    textSha256: row.text_sha256,
    signedAt: isoRequired(signedAt),
    deviceId: row.device_id,
    hostname: row.hostname,
    acknowledged: row.acknowledged ?? [],
    statementCount: text.document?.statements.length ?? null,
    tutorGroup: row.tutor_group,
    parentCarer: row.parent_carer,
    current:
      currentFor(currency, {
        kind: row.kind,
        documentId: row.document_id,
        version: row.version,
        textSha256: row.text_sha256,
        signedAt,
      }) !== null,
  };
}

interface SeenRow {
  user_key: string;
  user_name: string;
  last_seen_at: Date;
  hostname: string;
  event_type: string;
}

interface UserRecordRow {
  user_key: string;
  text_sha256: string;
  outcome: 'accepted' | 'declined';
  role: 'staff' | 'pupil';
  document_id: string;
  kind: string;
  version: string;
  occurred_at: Date;
  decline_action: string | null;
  decline_reason: 'declined' | 'no-tray' | 'no-answer' | null;
  action_error: string | null;
}

const seenBy = (type: string): AupSeenBy =>
  type.startsWith('aup.') ? 'aup' : type.startsWith('idle.') ? 'idle-lock' : 'usb';

/** Users seen on the school's devices since `since` (aup_seen_users, kept at ingest). */
async function seenUsers(
  db: Queryable,
  schoolId: string,
  since: Date,
): Promise<Map<string, AupOutstandingRow>> {
  const rows = await db.query<SeenRow>(
    `select s.user_key, left(s.user_name, 256) as user_name, s.last_seen_at,
            left(d.hostname, 255) as hostname, s.event_type
       from aup_seen_users s join devices d on d.id = s.device_id
      where s.school_id = $1 and s.last_seen_at >= $2`,
    [schoolId, since],
  );
  return new Map(
    rows.map((row) => [
      row.user_key,
      {
        user: row.user_name,
        role: null,
        lastSeenAt: isoRequired(row.last_seen_at),
        hostname: row.hostname,
        seenBy: seenBy(row.event_type),
        lastSignedAt: null,
        declinedAt: null,
        declineAction: null,
        declineReason: null,
        declineActionError: null,
      },
    ]),
  );
}

/** One school's register at `now`, optionally of one document (and version). */
export async function aupRegister(
  db: Queryable,
  school: NamedRow,
  filter: { document?: string | undefined; version?: string | undefined },
  now: Date,
): Promise<AupRegister> {
  const policy = await schoolAupPolicy(db, school.id);
  const currency = currencyAt(policy, now);
  const seenSince = currency.cycleStartsAt ?? new Date(now.getTime() - 365 * DAY_MS);
  const [seen, signatures] = await Promise.all([
    seenUsers(db, school.id, seenSince),
    db.query<SignatureRow>(
      `select ${SIGNATURE_COLUMNS}
         from aup_records r join devices d on d.id = r.device_id
        where r.school_id = $1 and r.outcome = 'accepted'
          and ($2::text is null or r.document_id = $2) and ($3::text is null or r.version = $3)
        order by r.occurred_at desc, r.event_id
        limit $4`,
      [school.id, filter.document ?? null, filter.version ?? null, REGISTER_MAX_SIGNATURES + 1],
    ),
  ]);
  const records = await db.query<UserRecordRow>(
    `select user_key, outcome, role, document_id, kind, version, text_sha256, occurred_at,
            decline_action, decline_reason, left(action_error, 1000) as action_error
       from aup_records where user_key = any($1::text[]) order by occurred_at, event_id`,
    [[...seen.keys()]],
  );

  // Per user: role from their latest AUP event, their current signatures, their latest decline.
  const signedDocs = new Map<string, Set<StoredAupDocument>>();
  for (const record of records) {
    const user = seen.get(record.user_key);
    if (user === undefined) {
      continue;
    }
    user.role = record.role;
    const at = new Date(record.occurred_at);
    if (record.outcome === 'declined') {
      if (at >= seenSince) {
        user.declinedAt = isoRequired(at);
        user.declineAction = record.decline_action;
        // No reason stored: an agent from before aup.declined carried one.
        user.declineReason = record.decline_reason ?? 'not-given';
        user.declineActionError = record.action_error;
      }
      continue;
    }
    if (record.kind === 'aup') {
      user.lastSignedAt = isoRequired(at);
    }
    const document = currentFor(currency, {
      kind: record.kind,
      documentId: record.document_id,
      version: record.version,
      textSha256: record.text_sha256,
      signedAt: at,
    });
    if (document !== null) {
      const docs = signedDocs.get(record.user_key) ?? new Set();
      signedDocs.set(record.user_key, docs.add(document));
    }
  }
  const hasAups = policy.documents.some((d) => d.kind === 'aup');
  const outstanding = [...seen.entries()]
    .filter(([key]) => hasAups && ![...(signedDocs.get(key) ?? [])].some((d) => d.kind === 'aup'))
    .map(([, user]) => user);

  const documents: AupCycle[] = policy.documents.map((d) => ({
    documentId: d.id,
    kind: d.kind,
    role: d.role,
    version: d.version,
    title: d.title,
    textSha256: d.textSha256,
    publishedAt: isoRequired(d.publishedAt),
    signed: [...signedDocs.values()].filter((docs) => docs.has(d)).length,
    outstanding: d.kind === 'aup' ? outstanding.filter((u) => u.role === d.role).length : null,
  }));
  // A document filter narrows the outstanding list to the users that document is for.
  const role = policy.documents.find((d) => d.id === filter.document)?.role;
  const listed = outstanding
    .filter((u) => role === undefined || u.role === role || u.role === null)
    .sort((a, b) => (aupUserKey(a.user) < aupUserKey(b.user) ? -1 : 1));
  return {
    school: { id: school.id, name: school.name },
    cycleStartsAt: currency.cycleStartsAt === null ? null : isoRequired(currency.cycleStartsAt),
    seenSince: isoRequired(seenSince),
    documents,
    outstandingRoleUnknown: outstanding.filter((u) => u.role === null).length,
    signatures: signatures
      .slice(0, REGISTER_MAX_SIGNATURES)
      .map((row) => toSignatureRow(row, currency, policy.stored)),
    truncated: signatures.length > REGISTER_MAX_SIGNATURES,
    outstanding: listed,
  };
}

/** One signature with the text it was made on, for a printable copy; null when unknown. */
export async function aupSignedCopy(
  db: Queryable,
  eventId: string,
  now: Date,
): Promise<AupSignedCopy | null> {
  const rows = await db.query<SignatureRow & { school_id: string; school: string }>(
    `select ${SIGNATURE_COLUMNS}, r.school_id, s.name as school
       from aup_records r join devices d on d.id = r.device_id join schools s on s.id = r.school_id
      where r.event_id = $1 and r.outcome = 'accepted'`,
    [eventId],
  );
  const row = rows[0];
  if (row === undefined) {
    return null;
  }
  const policy = await schoolAupPolicy(db, row.school_id);
  const signature = toSignatureRow(row, currencyAt(policy, now), policy.stored);
  const text = findSignedText(policy.stored, signature);
  return {
    signature,
    school: row.school,
    document:
      text.document === null
        ? null
        : {
            title: text.document.title,
            introduction: text.document.introduction,
            statements: text.document.statements,
            askTutorGroup: text.document.askTutorGroup,
            askParentCarer: text.document.askParentCarer,
          },
    documentProblem: text.problem,
  };
}
