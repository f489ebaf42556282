import { Type, type Static } from 'typebox';
import { DeviceFactsSchema } from './device-facts.ts';
import { AgentEventSchema } from './events.ts';
import { ComplianceReportSchema, ReportDeltaSchema } from './report.ts';
import { IsoDateTimeSchema, SchemaVersionSchema, Text, UuidSchema } from './common.ts';

/** Largest batch a device sends in one request. */
export const MAX_BATCH_REPORTS = 50;
export const MAX_BATCH_EVENTS = 500;

/**
 * `POST /api/v1/enroll`: an enrolment token, the device's facts and its P-256 public key. A
 * replacement (`replaces`) is signed with the replaced device's current key (RFC 9421, `keyid` =
 * that device id) and needs no token; unsigned, it needs a token and ICT's approval.
 */
export const EnrollRequestSchema = Type.Object(
  {
    schemaVersion: SchemaVersionSchema,
    token: Type.Optional(Type.String({ minLength: 16, maxLength: 200 })),
    publicKey: Type.String({
      minLength: 40,
      maxLength: 400,
      pattern: '^[A-Za-z0-9_-]+$',
      description: 'P-256 public key, SubjectPublicKeyInfo DER, base64url.',
    }),
    facts: DeviceFactsSchema,
    replaces: Type.Optional(
      Type.String({
        ...UuidSchema,
        description:
          'Explicit re-enrolment: the id this device had before; it is retired. Needs a ' +
          "signature by that device's key, or a token and ICT's approval of its re-enrolment.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type EnrollRequest = Static<typeof EnrollRequestSchema>;

/** Answer to an enrolment: the device id is the device's identity from now on. */
export const EnrollResponseSchema = Type.Object(
  {
    deviceId: UuidSchema,
    serverTime: IsoDateTimeSchema,
    cloneSuspect: Type.Boolean({ description: 'Another enrolled device has this machine id.' }),
  },
  { additionalProperties: false },
);
export type EnrollResponse = Static<typeof EnrollResponseSchema>;

/**
 * `POST /api/v1/reports`: reports and events from the outbox, each with its own id. Reports go in
 * full (`reports`) or, once the server named the digest of the device's last report in the
 * `Hallpass-Report-Digest` answer header, as a chain of deltas from it (`deltas`); never both.
 */
export const ReportBatchSchema = Type.Object(
  {
    schemaVersion: SchemaVersionSchema,
    reports: Type.Array(ComplianceReportSchema, { maxItems: MAX_BATCH_REPORTS }),
    deltas: Type.Optional(Type.Array(ReportDeltaSchema, { maxItems: MAX_BATCH_REPORTS })),
    events: Type.Array(AgentEventSchema, { maxItems: MAX_BATCH_EVENTS }),
  },
  { additionalProperties: false },
);
export type ReportBatch = Static<typeof ReportBatchSchema>;

/**
 * Answer header naming the digest of the device's last report the server holds (lower-case hex),
 * on every 200 and 409 of `POST /api/v1/reports` when it takes deltas; absent otherwise (a server
 * that keeps every report raw wants every report in full).
 */
export const REPORT_DIGEST_HEADER = 'hallpass-report-digest';

/** Which ids the server now holds; a resent id is accepted again and stored once. */
export const IngestResponseSchema = Type.Object(
  {
    accepted: Type.Array(UuidSchema),
    serverTime: IsoDateTimeSchema,
  },
  { additionalProperties: false },
);
export type IngestResponse = Static<typeof IngestResponseSchema>;

/** Every 4xx/5xx body. `serverTime` lets a device with a wrong clock recover. */
export const ApiErrorSchema = Type.Object(
  {
    error: Type.String({ maxLength: 100 }),
    message: Text(1000),
    serverTime: Type.Optional(IsoDateTimeSchema),
  },
  { additionalProperties: false },
);
export type ApiError = Static<typeof ApiErrorSchema>;

/**
 * `GET /api/v1/aup/signatures?user=<name>` (a signed device request): the AUP documents this
 * user has already signed on any device of the trust, so a user who signed the current version
 * elsewhere is not asked again. User names compare case-insensitively, domain prefixes as sent
 * (`SCHOOL\jsmith`). Only what the device needs to decide: no typed details.
 */
export const AupSignaturesResponseSchema = Type.Object(
  {
    user: Text(256),
    signatures: Type.Array(
      Type.Object(
        {
          documentId: Text(100),
          version: Text(50),
          textSha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
          signedAt: IsoDateTimeSchema,
        },
        { additionalProperties: false },
      ),
      { maxItems: 1000 },
    ),
    serverTime: IsoDateTimeSchema,
  },
  { additionalProperties: false },
);
export type AupSignaturesResponse = Static<typeof AupSignaturesResponseSchema>;
