// A subject access export (UK GDPR Article 15, issue 15): everything the server holds about one
// console user, as `GET /api/v1/ict/people/export` answers it and the file ICT hands over. The
// shape is stable: `format` and `formatVersion` name it, and a change that breaks a reader gets a
// new `formatVersion`. Every text field is what a device sent or a user typed: show it as text.
import { Type, type Static } from 'typebox';
import { AupDeclineReasonSchema } from './aup-register.ts';
import { IsoDateTimeSchema, Text, UuidSchema } from './common.ts';

const strict = { additionalProperties: false } as const;

/** Most AUP records one export lists (a user signs a few a year: never reached in practice). */
export const PERSON_EXPORT_MAX_AUP = 5000;
/** Most events one export lists; the rest come in further parts (`eventsFrom`). */
export const PERSON_EXPORT_MAX_EVENTS = 20_000;

/**
 * A console user name as devices record it: `DOMAIN\user` (Windows), a short name (macOS), a
 * login name or `user@domain` (Linux, SSSD). No control characters: no OS gives an account one.
 */
export const PersonNameSchema = Type.String({
  minLength: 1,
  maxLength: 256,
  pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f]+$',
  description:
    'The console user name as devices record it: DOMAIN\\user, user@domain or a plain name. ' +
    'Compared case-insensitively after Unicode NFC; never a pattern.',
});

/** Query of `GET /people/export`. */
export const PersonExportQuerySchema = Type.Object(
  {
    user: PersonNameSchema,
    /** Only events that occurred at or after this time: the next part of a long history. */
    eventsFrom: Type.Optional(IsoDateTimeSchema),
  },
  strict,
);
export type PersonExportQuery = Static<typeof PersonExportQuerySchema>;

/** A device as the export names it. */
const DeviceRefSchema = {
  deviceId: UuidSchema,
  hostname: Text(255),
  school: Text(200),
};

/** One AUP signature or decline, with every detail the device recorded. */
export const PersonAupRecordSchema = Type.Object(
  {
    eventId: UuidSchema,
    outcome: Type.Union([Type.Literal('accepted'), Type.Literal('declined')]),
    /** The name exactly as the device recorded it. */
    user: Text(256),
    /** `staff` or `pupil`: the document's role. */
    role: Text(20),
    documentId: Text(100),
    /** `aup` or `device-contract`. */
    kind: Text(50),
    version: Text(50),
    /** SHA-256 of the exact text the user was shown. */
    textSha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    /** Statement indexes ticked, from 0 (accepted only). */
    acknowledged: Type.Union([Type.Array(Type.Integer({ minimum: 0 })), Type.Null()]),
    fullName: Type.Union([Text(200), Type.Null()]),
    tutorGroup: Type.Union([Text(100), Type.Null()]),
    parentCarer: Type.Union([Text(200), Type.Null()]),
    /** What the device did about a decline, and why it failed if it did (declined only). */
    declineAction: Type.Union([Text(50), Type.Null()]),
    actionError: Type.Union([Text(1000), Type.Null()]),
    /**
     * Why the decline happened, as the AUP register's `declineReason` gives it: `declined`,
     * `no-tray`, `no-answer`, `not-given` (an older agent sent none); null for a signature.
     */
    declineReason: Type.Union([AupDeclineReasonSchema, Type.Null()]),
    occurredAt: IsoDateTimeSchema,
    receivedAt: IsoDateTimeSchema,
    ...DeviceRefSchema,
  },
  strict,
);
export type PersonAupRecord = Static<typeof PersonAupRecordSchema>;

/** The latest sighting of the user at one school (what the AUP register's "outstanding" reads). */
export const PersonSightingSchema = Type.Object(
  {
    user: Text(256),
    lastSeenAt: IsoDateTimeSchema,
    /** The event type that last named them there (aup.accepted, idle.locked, usb.blocked, …). */
    eventType: Text(50),
    ...DeviceRefSchema,
  },
  strict,
);
export type PersonSighting = Static<typeof PersonSightingSchema>;

/** A device whose latest screen-lock measurement read this user's settings as console user. */
export const PersonConsoleDeviceSchema = Type.Object(
  {
    user: Text(256),
    measuredAt: IsoDateTimeSchema,
    ...DeviceRefSchema,
  },
  strict,
);
export type PersonConsoleDevice = Static<typeof PersonConsoleDeviceSchema>;

/** One event naming the user, with its data as the device sent it. */
export const PersonEventSchema = Type.Object(
  {
    id: UuidSchema,
    /** `usb.blocked`, `idle.locked`, `aup.accepted`, … (shared/json-schema/agent-event.schema.json). */
    type: Text(50),
    occurredAt: IsoDateTimeSchema,
    receivedAt: IsoDateTimeSchema,
    data: Type.Record(Type.String(), Type.Unknown(), {
      description: "The event's data as the device sent it; its shape is the event type's.",
    }),
    ...DeviceRefSchema,
  },
  strict,
);
export type PersonEvent = Static<typeof PersonEventSchema>;

/** `GET /people/export`: everything the server holds about one console user. */
export const PersonExportSchema = Type.Object(
  {
    format: Type.Literal('hallpass-person-export'),
    formatVersion: Type.Literal(1),
    /** The name asked for, and the key every stored name was compared by. */
    user: Text(256),
    userKey: Text(256),
    /** How names were matched, in plain words. */
    matching: Text(1000),
    generatedAt: IsoDateTimeSchema,
    /** The ICT account that asked (the export is in the audit log under `person.export`). */
    generatedBy: Text(100),
    /** Every AUP signature and decline, oldest first. */
    aup: Type.Object(
      {
        total: Type.Integer({ minimum: 0 }),
        truncated: Type.Boolean(),
        items: Type.Array(PersonAupRecordSchema),
      },
      strict,
    ),
    /** The latest sighting at each school of the trust, newest first. */
    seen: Type.Array(PersonSightingSchema),
    /** Devices whose latest report names them as the console user. */
    consoleUserOf: Type.Array(PersonConsoleDeviceSchema),
    /** Every event naming them (oldest first, from `from` when asked), in parts of a bounded size. */
    events: Type.Object(
      {
        from: Type.Union([IsoDateTimeSchema, Type.Null()]),
        /** Events naming them from `from` on, listed or not. */
        total: Type.Integer({ minimum: 0 }),
        truncated: Type.Boolean(),
        /** When truncated: ask again with `eventsFrom` set to this for the next part. */
        nextFrom: Type.Union([IsoDateTimeSchema, Type.Null()]),
        items: Type.Array(PersonEventSchema),
      },
      strict,
    ),
    /** What this export does not hold, and why, in plain words. */
    notes: Type.Array(Text(1000)),
  },
  strict,
);
export type PersonExport = Static<typeof PersonExportSchema>;

/**
 * `GET /people/names` (admin): other names the server has seen with the same account part
 * (`OTHER\jsmith`, `jsmith@school.org` for `SCHOOL\jsmith`): perhaps the same person on another
 * system, perhaps someone else. For ICT's eyes, never in an export: another person's name is
 * their personal data. Export each separately once ICT knows it is the same person.
 */
export const PersonNamesSchema = Type.Object(
  {
    user: Text(256),
    names: Type.Array(Text(256)),
  },
  strict,
);
export type PersonNames = Static<typeof PersonNamesSchema>;
