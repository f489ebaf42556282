import { Type, type Static } from 'typebox';
import { IsoDateTimeSchema, Text } from './common.ts';

/** Ids of the checks the agent runs; each equals its folder under agent/core/checks. */
export const CheckIdSchema = Type.Union([
  Type.Literal('disk-encryption'),
  Type.Literal('antivirus'),
  Type.Literal('os-updates'),
  Type.Literal('firewall'),
  Type.Literal('screen-lock'),
  Type.Literal('agent-health'),
]);
export type CheckId = Static<typeof CheckIdSchema>;

/** Closed set of outcomes. `unknown` is never counted as a pass. */
export const CheckStatusSchema = Type.Union([
  Type.Literal('pass'),
  Type.Literal('fail'),
  Type.Literal('warn'),
  Type.Literal('unknown'),
]);
export type CheckStatus = Static<typeof CheckStatusSchema>;

/** Why a check could not tell. */
export const UnknownCodeSchema = Type.Union([
  Type.Literal('unsupported-os'),
  Type.Literal('command-missing'),
  Type.Literal('timeout'),
  Type.Literal('permission-denied'),
  Type.Literal('unrecognised-output'),
  Type.Literal('probe-failed'),
  Type.Literal('not-measured'),
]);
export type UnknownCode = Static<typeof UnknownCodeSchema>;

/** Reason attached to every `unknown` result. */
export const UnknownReasonSchema = Type.Object(
  { code: UnknownCodeSchema, detail: Text(2000) },
  { additionalProperties: false },
);
export type UnknownReason = Static<typeof UnknownReasonSchema>;

/** Facts a check measured, kept as evidence for ICT. Plain JSON values only. */
export const EvidenceSchema = Type.Record(Type.String({ maxLength: 100 }), Type.Unknown());
export type Evidence = Static<typeof EvidenceSchema>;

/** One check's verdict on one device at one moment. */
export const CheckResultSchema = Type.Object(
  {
    checkId: CheckIdSchema,
    status: CheckStatusSchema,
    summary: Text(300),
    remediation: Type.Optional(Text(1000)),
    evidence: EvidenceSchema,
    measuredAt: IsoDateTimeSchema,
    durationMs: Type.Number({ minimum: 0 }),
    reason: Type.Optional(UnknownReasonSchema),
  },
  { additionalProperties: false },
);
export type CheckResult = Static<typeof CheckResultSchema>;
