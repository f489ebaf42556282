// A subject access export (UK GDPR Article 15): everything the server holds about one console
// user, gathered for `GET /api/v1/ict/people/export`.
//
// Where the server stores a console user's name (keep this list whole: a new place that stores a
// user name must be read here, or named below as not included, and why):
//   - events.data->>'user' of aup.accepted, aup.declined, idle.locked, idle.lock-failed,
//     usb.blocked, usb.allowed and tamper.tray-missing (namedUser in server/store/ingest.ts sorts every event type; its switch
//     fails to compile when a new type is added): read through person_events (migration 021),
//     the index by user key that ingest fills.
//   - aup_records (migration 009): every signature and decline, typed: aupHistory.
//   - aup_seen_users (migration 009): the latest sighting per school.
//   - check_states.evidence->>'user' of the screen-lock check: the console user whose settings the
//     latest measurement read, per device.
//   - reports.body (raw reports, kept `reportRetentionDays`): the same screen-lock evidence as
//     check_states, at each report. NOT searched: the latest is in check_states, and the raw
//     copies are deleted at the end of their retention (said in the export's notes).
//   - Free text ICT typed (a USB approval's reason or description, an account name) may name a
//     person: not searched, as no rule can tell a name in free text (said in the notes).
//   - users, sessions, audit_log, login_failures hold ICT dashboard accounts: another identity,
//     the staff member's own sign-in to Hallpass, not a console user (said in the notes).
// Device facts (devices.facts) name no user; a hostname may contain a name, and devices are
// listed here only where a record of the user names them.
//
// Matching: a stored name is this user's when its key equals the asked name's key (aupUserKey:
// Unicode NFC, then lower case, computed by the server, never by the database's locale-dependent
// lower()). Whole names only: `SCHOOL\jsmith` is not `jsmith`, `jsmith@school.org` nor
// `SCHOOL\jsmith2`, and characters such as `%`, `_` and `\` are only characters (every comparison
// is an equality on a bound parameter, never LIKE or a regular expression). Windows and macOS
// compare account names without regard to case; Linux does not, but the trust's register treats
// `JSmith` and `jsmith` as one person already (aup_records.user_key), and Linux tools refuse upper
// case in new names by default (adduser's NAME_REGEX), so the export follows the register. Each
// record carries the exact spelling it was stored with.
import {
  PERSON_EXPORT_MAX_AUP,
  PERSON_EXPORT_MAX_EVENTS,
  type PersonConsoleDevice,
  type PersonEvent,
  type PersonExport,
  type PersonSighting,
} from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import { aupHistory, aupUserKey } from './aup-records.ts';
import { isoRequired } from './read-values.ts';

/** How names are matched, as the export states it. */
export const MATCHING_WORDS =
  'A record is included when its user name, in Unicode NFC and lower case, equals the name asked ' +
  'for, likewise: the whole name, without regard to case (as Windows and macOS compare account ' +
  'names). A name in another form (DOMAIN\\user, user@domain or a plain name) is another name, ' +
  'exported on its own.';

/** What the export does not hold, and why. */
export const EXPORT_NOTES: readonly string[] = [
  'Raw device reports kept for the report retention period repeat the screen-lock evidence ' +
    'that consoleUserOf shows from the latest report; they are not searched.',
  'Free text typed by ICT staff (USB approval reasons and descriptions) is not searched for ' +
    'names.',
  'An ICT dashboard account (its sign-ins and the audit log of its actions) is a separate ' +
    'identity and is not part of this export.',
  'Events are kept for the history retention period; AUP signatures and declines are kept for ' +
    'good.',
];

/** The account part of a name: `jsmith` of `SCHOOL\jsmith`, of `jsmith@school.org` and of `jsmith`. */
export function accountPart(name: string): string {
  const afterDomain = name.slice(name.lastIndexOf('\\') + 1);
  const at = afterDomain.lastIndexOf('@');
  return at > 0 ? afterDomain.slice(0, at) : afterDomain;
}

/** Most related names listed. */
const RELATED_MAX = 100;

interface DeviceRow {
  device_id: string;
  hostname: string;
  school: string;
}

const deviceRef = (row: DeviceRow) => ({
  deviceId: row.device_id,
  hostname: row.hostname,
  school: row.school,
});

/** The latest sighting of the user at each school, newest first. */
async function sightings(db: Queryable, key: string): Promise<PersonSighting[]> {
  const rows = await db.query<
    DeviceRow & { user_name: string; last_seen_at: Date; event_type: string }
  >(
    `select u.user_name, u.last_seen_at, u.event_type, u.device_id, d.hostname, s.name as school
       from aup_seen_users u
       join devices d on d.id = u.device_id
       join schools s on s.id = u.school_id
      where u.user_key = $1
      order by u.last_seen_at desc, s.name`,
    [key],
  );
  return rows.map((row) => ({
    user: row.user_name,
    lastSeenAt: isoRequired(row.last_seen_at),
    eventType: row.event_type,
    ...deviceRef(row),
  }));
}

/**
 * Devices whose latest screen-lock result read this user's settings. One row per device, so the
 * whole table's screen-lock rows are read and compared by key here, exactly as everywhere else.
 */
async function consoleDevices(db: Queryable, key: string): Promise<PersonConsoleDevice[]> {
  const rows = await db.query<DeviceRow & { user_name: string; measured_at: Date }>(
    `select c.evidence->>'user' as user_name, c.measured_at, c.device_id, d.hostname,
            s.name as school
       from check_states c
       join devices d on d.id = c.device_id
       join schools s on s.id = d.school_id
      where c.check_id = 'screen-lock' and jsonb_typeof(c.evidence->'user') = 'string'
      order by c.measured_at desc, c.device_id`,
  );
  return rows
    .filter((row) => aupUserKey(row.user_name) === key)
    .map((row) => ({
      user: row.user_name,
      measuredAt: isoRequired(row.measured_at),
      ...deviceRef(row),
    }));
}

/** Events naming the user from `from` on, oldest first, at most `max`. */
async function namingEvents(
  db: Queryable,
  key: string,
  from: Date | null,
  max: number,
): Promise<PersonExport['events']> {
  const [rows, counts] = await Promise.all([
    db.query<
      DeviceRow & { id: string; type: string; occurred_at: Date; received_at: Date; data: unknown }
    >(
      `select e.id, e.type, e.occurred_at, e.received_at, e.data, e.device_id, d.hostname,
              s.name as school
         from person_events p
         join events e on e.id = p.event_id
         join devices d on d.id = e.device_id
         join schools s on s.id = d.school_id
        where p.user_key = $1 and ($2::timestamptz is null or p.occurred_at >= $2)
        order by p.occurred_at, p.event_id
        limit $3`,
      [key, from, max + 1],
    ),
    db.query<{ n: number }>(
      `select count(*)::int as n from person_events
        where user_key = $1 and ($2::timestamptz is null or occurred_at >= $2)`,
      [key, from],
    ),
  ]);
  const listed = rows.slice(0, max);
  const next = rows[max];
  return {
    from: from === null ? null : isoRequired(from),
    total: counts[0]?.n ?? 0,
    truncated: next !== undefined,
    nextFrom: next === undefined ? null : isoRequired(next.occurred_at),
    items: listed.map((row): PersonEvent => ({
      id: row.id,
      type: row.type,
      occurredAt: isoRequired(row.occurred_at),
      receivedAt: isoRequired(row.received_at),
      data:
        typeof row.data === 'object' && row.data !== null && !Array.isArray(row.data)
          ? (row.data as Record<string, unknown>)
          : { value: row.data },
      ...deviceRef(row),
    })),
  };
}

/**
 * Other names whose account part is this name's (`OTHER\jsmith`, `jsmith@school.org` for
 * `SCHOOL\jsmith`), from the names the server has seen. `strpos` finds candidates (a literal
 * substring, so `%` or `_` in a name match only themselves); the key comparison decides.
 */
export async function relatedNames(db: Queryable, user: string): Promise<string[]> {
  const key = aupUserKey(user);
  const account = aupUserKey(accountPart(key));
  if (account === '') {
    return [];
  }
  const rows = await db.query<{ user_key: string; user_name: string }>(
    `select distinct on (user_key) user_key, user_name from aup_seen_users
      where strpos(user_key, $1) > 0 and user_key <> $2
      order by user_key, last_seen_at desc`,
    [account, key],
  );
  return rows
    .filter((row) => aupUserKey(accountPart(row.user_key)) === account)
    .map((row) => row.user_name)
    .slice(0, RELATED_MAX);
}

/** Everything the server holds about `user`; call it inside the transaction that audits it. */
export async function personExport(
  db: Queryable,
  request: {
    user: string;
    eventsFrom: Date | null;
    askedBy: string;
    now: Date;
    /** Most events one part lists (tests set it small). */
    maxEvents?: number;
  },
): Promise<PersonExport> {
  const key = aupUserKey(request.user);
  // One after another: the caller's transaction is one connection.
  const history = await aupHistory(db, request.user);
  const seen = await sightings(db, key);
  const consoleUserOf = await consoleDevices(db, key);
  const events = await namingEvents(
    db,
    key,
    request.eventsFrom,
    request.maxEvents ?? PERSON_EXPORT_MAX_EVENTS,
  );
  return {
    format: 'hallpass-person-export',
    formatVersion: 1,
    user: request.user,
    userKey: key,
    matching: MATCHING_WORDS,
    generatedAt: isoRequired(request.now),
    generatedBy: request.askedBy,
    aup: {
      total: history.length,
      truncated: history.length > PERSON_EXPORT_MAX_AUP,
      items: history.slice(0, PERSON_EXPORT_MAX_AUP).map((entry) => ({
        eventId: entry.eventId,
        outcome: entry.outcome,
        user: entry.user,
        role: entry.role,
        documentId: entry.documentId,
        kind: entry.kind,
        version: entry.version,
        textSha256: entry.textSha256,
        acknowledged: entry.acknowledged,
        fullName: entry.fullName,
        tutorGroup: entry.tutorGroup,
        parentCarer: entry.parentCarer,
        declineAction: entry.declineAction,
        actionError: entry.actionError,
        declineReason: entry.declineReason,
        occurredAt: entry.occurredAt,
        receivedAt: entry.receivedAt,
        deviceId: entry.deviceId,
        hostname: entry.hostname,
        school: entry.school,
      })),
    },
    seen,
    consoleUserOf,
    events,
    notes: [...EXPORT_NOTES],
  };
}
