// AUP signatures and declines as the server keeps them (table aup_records, filled at ingest from
// aup.accepted / aup.declined events): the key user names are compared by, one user's whole
// history in one query (subject access), and what a device needs to know about a user.
import type { AupDeclineReason, AupSignaturesResponse } from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import { isoRequired } from './read-values.ts';

/**
 * The key a user name is compared by: case-insensitive (`SCHOOL\JSmith` is `school\jsmith`) and
 * blind to Unicode composition (é typed as one or two code points). Computed here, not with the
 * database's lower(), whose answer for non-ASCII letters depends on the cluster's locale (PGlite
 * and Debian's PostgreSQL need not agree).
 */
export function aupUserKey(name: string): string {
  return name.normalize('NFC').toLowerCase();
}

/** Most signatures the device lookup answers with (its schema's bound). */
export const DEVICE_LOOKUP_MAX = 1000;

/**
 * What `GET /api/v1/aup/signatures` answers for `user` asked by `deviceId`: the newest signature
 * of each document version and text. AUPs count wherever they were signed; a device
 * responsibility contract is signed once per user per device, so only this device's count.
 */
export async function signaturesForDevice(
  db: Queryable,
  deviceId: string,
  user: string,
): Promise<AupSignaturesResponse['signatures']> {
  const rows = await db.query<{
    document_id: string;
    version: string;
    text_sha256: string;
    signed_at: Date;
  }>(
    `select document_id, version, text_sha256, signed_at from (
       select distinct on (document_id, version, text_sha256)
              document_id, version, text_sha256, occurred_at as signed_at
         from aup_records
        where user_key = $1 and outcome = 'accepted' and (kind = 'aup' or device_id = $2)
        order by document_id, version, text_sha256, occurred_at desc
     ) newest
     order by signed_at desc, document_id, version
     limit $3`,
    [aupUserKey(user), deviceId, DEVICE_LOOKUP_MAX],
  );
  return rows.map((row) => ({
    documentId: row.document_id,
    version: row.version,
    textSha256: row.text_sha256,
    signedAt: isoRequired(row.signed_at),
  }));
}

/** One signature or decline of a user's history. */
export interface AupHistoryEntry {
  eventId: string;
  outcome: 'accepted' | 'declined';
  user: string;
  role: string;
  documentId: string;
  kind: string;
  version: string;
  textSha256: string;
  acknowledged: number[] | null;
  fullName: string | null;
  tutorGroup: string | null;
  parentCarer: string | null;
  declineAction: string | null;
  actionError: string | null;
  /** As the AUP register gives it: `not-given` for a decline an older agent sent no reason for. */
  declineReason: AupDeclineReason | null;
  occurredAt: string;
  receivedAt: string;
  deviceId: string;
  hostname: string;
  school: string;
}

interface HistoryRow {
  event_id: string;
  outcome: 'accepted' | 'declined';
  user_name: string;
  role: string;
  document_id: string;
  kind: string;
  version: string;
  text_sha256: string;
  acknowledged: number[] | null;
  full_name: string | null;
  tutor_group: string | null;
  parent_carer: string | null;
  decline_action: string | null;
  action_error: string | null;
  decline_reason: 'declined' | 'no-tray' | 'no-answer' | null;
  occurred_at: Date;
  received_at: Date;
  device_id: string;
  hostname: string;
  school: string;
}

/**
 * Every signature and decline of one user, under any spelling of their name, on every device of
 * the trust, oldest first: one indexed query, as a subject access export needs it.
 */
export async function aupHistory(db: Queryable, user: string): Promise<AupHistoryEntry[]> {
  const rows = await db.query<HistoryRow>(
    `select r.event_id, r.outcome, r.user_name, r.role, r.document_id, r.kind, r.version,
            r.text_sha256, r.acknowledged, r.full_name, r.tutor_group, r.parent_carer,
            r.decline_action, r.action_error, r.decline_reason, r.occurred_at, r.received_at, r.device_id,
            d.hostname, s.name as school
       from aup_records r
       join devices d on d.id = r.device_id
       join schools s on s.id = r.school_id
      where r.user_key = $1
      order by r.occurred_at, r.event_id`,
    [aupUserKey(user)],
  );
  return rows.map((row) => ({
    eventId: row.event_id,
    outcome: row.outcome,
    user: row.user_name,
    role: row.role,
    documentId: row.document_id,
    kind: row.kind,
    version: row.version,
    textSha256: row.text_sha256,
    acknowledged: row.acknowledged,
    fullName: row.full_name,
    tutorGroup: row.tutor_group,
    parentCarer: row.parent_carer,
    declineAction: row.decline_action,
    actionError: row.action_error,
    declineReason: row.outcome === 'declined' ? (row.decline_reason ?? 'not-given') : null,
    occurredAt: isoRequired(row.occurred_at),
    receivedAt: isoRequired(row.received_at),
    deviceId: row.device_id,
    hostname: row.hostname,
    school: row.school,
  }));
}
