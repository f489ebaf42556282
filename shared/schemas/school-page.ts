// The school page as the ICT API returns it (issue 16): one school's compliance per check, its
// daily trend, its silent and never-reported devices and its oldest current failures.
import { Type, type Static } from 'typebox';
import { CheckIdSchema } from './check-result.ts';
import { IsoDateTimeSchema, Text, UuidSchema } from './common.ts';
import { ChaseListSchema, StatusCountsSchema, TrendSchema } from './ict-api.ts';

const strict = { additionalProperties: false } as const;

/** Query of `GET /api/v1/ict/schools/:id/compliance`. */
export const SchoolPageQuerySchema = Type.Object(
  {
    staleDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, default: 7 })),
  },
  strict,
);
export type SchoolPageQuery = Static<typeof SchoolPageQuerySchema>;

/** A device of the school that has gone quiet or never reported. */
export const QuietDeviceSchema = Type.Object(
  {
    id: UuidSchema,
    hostname: Text(255),
    group: Text(200),
    enrolledAt: IsoDateTimeSchema,
    /** Last contact of any kind; null when it never spoke after enrolling. */
    lastSeenAt: Type.Union([IsoDateTimeSchema, Type.Null()]),
    /** Silent (since its last contact, or its enrolment) for longer than staleDays. */
    stale: Type.Boolean(),
    /** Enrolled but no check result yet. */
    neverReported: Type.Boolean(),
  },
  strict,
);
export type QuietDevice = Static<typeof QuietDeviceSchema>;

/** `GET /api/v1/ict/schools/:id/compliance`. */
export const SchoolPageSchema = Type.Object(
  {
    generatedAt: IsoDateTimeSchema,
    school: Type.Object({ id: UuidSchema, name: Text(200) }, strict),
    /** Active devices of the school. */
    devices: Type.Integer(),
    /** Devices by overall status. */
    overall: StatusCountsSchema,
    byCheck: Type.Array(
      Type.Object({ checkId: CheckIdSchema, counts: StatusCountsSchema }, strict),
    ),
    staleDays: Type.Integer({ description: 'Devices silent for longer count as stale.' }),
    /** How many are stale (as the overview and the device list's silentDays count them). */
    stale: Type.Integer(),
    /** How many never reported (overall.none). */
    neverReported: Type.Integer(),
    /** The stale or never-reported devices, longest silent first (at most `quietLimit`). */
    quiet: Type.Array(QuietDeviceSchema),
    quietLimit: Type.Integer(),
    /** The school's daily snapshots, oldest first. */
    trend: TrendSchema,
    /** The school's chase list, longest-failing first (at most `failuresLimit` devices). */
    failures: ChaseListSchema,
    failuresLimit: Type.Integer(),
  },
  strict,
);
export type SchoolPage = Static<typeof SchoolPageSchema>;
