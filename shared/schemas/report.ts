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
