// Schemas of alerts (issue 16): where ICT's alerts go (`/api/v1/ict/alerts/...`), what each
// delivery became, and the JSON body a webhook receives.
import { Type, type Static } from 'typebox';
import { IsoDateTimeSchema, Text, UuidSchema } from './common.ts';

const strict = { additionalProperties: false } as const;
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

/** How an alert travels. */
export const AlertKindSchema = Type.Union([Type.Literal('webhook'), Type.Literal('email')]);
export type AlertKind = Static<typeof AlertKindSchema>;

/** One digest a day (the default), or each run's new items as soon as they are found. */
export const AlertModeSchema = Type.Union([Type.Literal('digest'), Type.Literal('immediate')]);
export type AlertMode = Static<typeof AlertModeSchema>;

/** `POST /api/v1/ict/alerts/destinations` (admin). */
export const CreateAlertDestinationSchema = Type.Object(
  {
    kind: AlertKindSchema,
    /** An http(s) URL for a webhook, an email address for email. */
    target: Type.String({ minLength: 3, maxLength: 2000 }),
    label: Type.Optional(Type.String({ maxLength: 200 })),
    /** One school's alerts only; null or absent: the whole trust. */
    schoolId: Type.Optional(Nullable(UuidSchema)),
    mode: Type.Optional(AlertModeSchema),
  },
  strict,
);
export type CreateAlertDestination = Static<typeof CreateAlertDestinationSchema>;

/** A destination as ICT sees it: a webhook's secret only masked. */
export const AlertDestinationSchema = Type.Object(
  {
    id: UuidSchema,
    kind: AlertKindSchema,
    target: Text(2000),
    label: Text(200),
    schoolId: Nullable(UuidSchema),
    /** The school's name; null for the whole trust. */
    school: Nullable(Text(200)),
    mode: AlertModeSchema,
    /** `whsec_…` and the secret's last four characters; null for email. */
    secretMasked: Nullable(Text(40)),
    enabled: Type.Boolean(),
    createdAt: IsoDateTimeSchema,
  },
  strict,
);
export type AlertDestination = Static<typeof AlertDestinationSchema>;

/** Answer to a creation: the destination, and a webhook's signing secret this once. */
export const CreatedAlertDestinationSchema = Type.Object(
  { destination: AlertDestinationSchema, secret: Nullable(Type.String({ maxLength: 100 })) },
  strict,
);
export type CreatedAlertDestination = Static<typeof CreatedAlertDestinationSchema>;

/** What became of a delivery. */
export const AlertDeliveryStatusSchema = Type.Union([
  Type.Literal('pending'),
  Type.Literal('delivered'),
  Type.Literal('failed'),
]);
export type AlertDeliveryStatus = Static<typeof AlertDeliveryStatusSchema>;

/** One message queued for a destination and what became of it. */
export const AlertDeliverySchema = Type.Object(
  {
    id: UuidSchema,
    destinationId: UuidSchema,
    destination: Text(2000),
    kind: Type.Union([Type.Literal('digest'), Type.Literal('immediate'), Type.Literal('test')]),
    /** The digest's UTC day. */
    day: Nullable(Type.String({ maxLength: 10 })),
    itemCount: Type.Integer(),
    status: AlertDeliveryStatusSchema,
    attempts: Type.Integer(),
    maxAttempts: Type.Integer(),
    /** In plain words, from the last failed attempt. */
    lastError: Nullable(Text(1000)),
    createdAt: IsoDateTimeSchema,
    lastAttemptAt: Nullable(IsoDateTimeSchema),
    /** When a pending delivery is tried next. */
    nextAttemptAt: Nullable(IsoDateTimeSchema),
    deliveredAt: Nullable(IsoDateTimeSchema),
  },
  strict,
);
export type AlertDelivery = Static<typeof AlertDeliverySchema>;

/** Query of `GET /api/v1/ict/alerts/deliveries`. */
export const AlertDeliveriesQuerySchema = Type.Object(
  {
    status: Type.Optional(AlertDeliveryStatusSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  strict,
);

/** What an alert item is about. */
export const AlertItemKindSchema = Type.Union([
  Type.Literal('check-failed'),
  Type.Literal('tamper'),
  Type.Literal('device-silent'),
]);
export type AlertItemKind = Static<typeof AlertItemKindSchema>;

/** One thing that happened, as a webhook receives it. */
export const AlertItemSchema = Type.Object(
  {
    kind: AlertItemKindSchema,
    deviceId: UuidSchema,
    hostname: Text(255),
    occurredAt: IsoDateTimeSchema,
    /** check-failed: the check and its summary. */
    checkId: Type.Optional(Text(100)),
    summary: Type.Optional(Text(2000)),
    /** tamper: the event's type (`tamper.agent-stopped`, …) and data. */
    eventType: Type.Optional(Text(100)),
    detail: Type.Optional(Type.Unknown()),
  },
  strict,
);
export type AlertItem = Static<typeof AlertItemSchema>;

/** A school's part of an alert: counts by kind, and the items (at most 200 per school). */
export const AlertSchoolSectionSchema = Type.Object(
  {
    schoolId: UuidSchema,
    school: Text(200),
    counts: Type.Object(
      { checkFailed: Type.Integer(), tamper: Type.Integer(), deviceSilent: Type.Integer() },
      strict,
    ),
    items: Type.Array(AlertItemSchema),
    /** True when there were more items than `items` holds. */
    truncated: Type.Boolean(),
  },
  strict,
);
export type AlertSchoolSection = Static<typeof AlertSchoolSectionSchema>;

/** The JSON body a webhook receives (and the email is written from). */
export const AlertPayloadSchema = Type.Object(
  {
    type: Type.Union([
      Type.Literal('hallpass.alert.digest'),
      Type.Literal('hallpass.alert.immediate'),
      Type.Literal('hallpass.alert.test'),
    ]),
    deliveryId: UuidSchema,
    generatedAt: IsoDateTimeSchema,
    /** The digest's UTC day; null for others. */
    day: Nullable(Type.String({ maxLength: 10 })),
    /** The destination's school, or null for the whole trust. */
    scope: Type.Object({ schoolId: Nullable(UuidSchema), school: Nullable(Text(200)) }, strict),
    schools: Type.Array(AlertSchoolSectionSchema),
  },
  strict,
);
export type AlertPayload = Static<typeof AlertPayloadSchema>;
