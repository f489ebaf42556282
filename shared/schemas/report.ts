import { Type, type Static } from 'typebox';
import { CheckResultSchema } from './check-result.ts';
import { DeviceFactsSchema } from './device-facts.ts';
import { IsoDateTimeSchema, SchemaVersionSchema, Text, UuidSchema } from './common.ts';

/** The overall verdict of a report: worst of its checks (fail > unknown > warn > pass). */
export const OverallStatusSchema = Type.Union([
  Type.Literal('pass'),
  Type.Literal('fail'),
  Type.Literal('warn'),
  Type.Literal('unknown'),
]);

/** A full compliance report: every check result plus the device facts. */
export const ComplianceReportSchema = Type.Object(
  {
    schemaVersion: SchemaVersionSchema,
    id: UuidSchema,
    createdAt: IsoDateTimeSchema,
    policy: Type.Object(
      { name: Text(200), version: Type.Integer({ minimum: 0, maximum: 2_147_483_647 }) },
      { additionalProperties: false },
    ),
    device: DeviceFactsSchema,
    overall: OverallStatusSchema,
    results: Type.Array(CheckResultSchema, { maxItems: 50 }),
  },
  { additionalProperties: false },
);
export type ComplianceReport = Static<typeof ComplianceReportSchema>;

/** SHA-256 of a report's canonical JSON (shared/canonical-json.ts), lower-case hex. */
export const ReportDigestSchema = Type.String({
  pattern: '^[0-9a-f]{64}$',
  description:
    "SHA-256 of a report's canonical JSON (sorted keys, no white space), lower-case hex.",
});

/**
 * A report sent as what changed since the one before it (issue 18): the outbox still holds the
 * full report with this id; on the wire only the results that differ from the previous report
 * (`base`) other than in `measuredAt` and `durationMs` travel. The server applies it only when it
 * holds `base` (or the digest of a delta of the same chain) for the device, and then holds
 * `digest`, the full report's own digest; otherwise it answers 409 and the device sends in full.
 * A change of facts, policy or the set of checks is never a delta: the device sends in full.
 */
export const ReportDeltaSchema = Type.Object(
  {
    id: UuidSchema,
    createdAt: IsoDateTimeSchema,
    base: ReportDigestSchema,
    digest: ReportDigestSchema,
    overall: OverallStatusSchema,
    results: Type.Array(CheckResultSchema, { maxItems: 50 }),
  },
  { additionalProperties: false },
);
export type ReportDelta = Static<typeof ReportDeltaSchema>;
