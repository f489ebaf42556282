import { Type, type Static, type TSchema } from 'typebox';
import { IsoDateTimeSchema, SchemaVersionSchema, Text, UuidSchema } from './common.ts';
import { UsbDecisionSchema } from './usb.ts';

const event = <K extends string, D extends TSchema>(type: K, data: D) =>
  Type.Object(
    {
      schemaVersion: SchemaVersionSchema,
      id: UuidSchema,
      occurredAt: IsoDateTimeSchema,
      type: Type.Literal(type),
      data,
    },
    { additionalProperties: false },
  );

const dropData = Type.Object(
  {
    count: Type.Integer({ minimum: 1 }),
    firstDroppedAt: IsoDateTimeSchema,
    lastDroppedAt: IsoDateTimeSchema,
  },
  { additionalProperties: false },
);

const usbData = Type.Object(
  {
    ...UsbDecisionSchema.properties,
    count: Type.Integer({ minimum: 1, description: 'Decisions folded into this event.' }),
    firstAt: IsoDateTimeSchema,
  },
  { additionalProperties: false },
);

const aupData = Type.Object(
  {
    user: Text(256),
    role: Type.Union([Type.Literal('staff'), Type.Literal('pupil')]),
    documentId: Text(100),
    version: Text(50),
    textSha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
);

/** Every event the agent sends, as a union discriminated by `type`. */
export const AgentEventSchema = Type.Union([
  // A USB decision, with how many times the same device got the same decision in a row within
  // the guard's rate-limit window (a pupil plugging a stick in and out gets one event, counted).
  event('usb.blocked', usbData),
  event('usb.allowed', usbData),
  event('aup.accepted', aupData),
  event('aup.declined', Type.Object({ ...aupData.properties }, { additionalProperties: false })),
  event(
    'idle.locked',
    Type.Object(
      { user: Type.Union([Text(256), Type.Null()]), idleSeconds: Type.Integer({ minimum: 0 }) },
      { additionalProperties: false },
    ),
  ),
  event(
    'tamper.antivirus-disabled',
    Type.Object({ product: Text(200) }, { additionalProperties: false }),
  ),
  event(
    'tamper.agent-stopped',
    Type.Object({ detail: Text(500) }, { additionalProperties: false }),
  ),
  event(
    'tamper.policy-rejected',
    Type.Object({ reason: Text(2000) }, { additionalProperties: false }),
  ),
  // A state file was found corrupt or not the service's own (another owner, writable by others,
  // a link) at start-up and set aside or ignored: a failing disk, someone with root, or a file
  // planted where the folder was left loose. The service carried on; ICT should know.
  event(
    'tamper.state-corrupt',
    Type.Object(
      {
        store: Type.Union([
          Type.Literal('outbox'),
          Type.Literal('policy-cache'),
          Type.Literal('slow-check-cache'),
          Type.Literal('managed-settings'),
        ]),
        detail: Text(2000),
      },
      { additionalProperties: false },
    ),
  ),
  // The outbox was at its bound of events and refused new ones (a flood: a broken loop, USB
  // plugged over and over, a user calling the service without end). The oldest were kept.
  event('tamper.events-dropped', dropData),
  // The outbox was at its bound of reports (weeks offline) and deleted the oldest: a gap in the
  // device's history from the first to the last drop.
  event(
    'outbox.reports-dropped',
    Type.Object({ ...dropData.properties }, { additionalProperties: false }),
  ),
]);
export type AgentEvent = Static<typeof AgentEventSchema>;
export type AgentEventType = AgentEvent['type'];
