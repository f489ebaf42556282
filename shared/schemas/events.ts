import { Type, type Static, type TSchema } from 'typebox';
import { IsoDateTimeSchema, SchemaVersionSchema, Text, UuidSchema } from './common.ts';
import { IdleLockFailureKindSchema } from './ipc.ts';
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

/**
 * Who signed (or declined) what. `user` is the console user the service found itself, never a
 * name the tray sent; `textSha256` is the SHA-256 of the exact text shown (see
 * `aupDocumentText` in shared/aup-text.ts once it exists: title, introduction and statements
 * joined by newlines, UTF-8).
 */
const aupData = Type.Object(
  {
    user: Text(256),
    role: Type.Union([Type.Literal('staff'), Type.Literal('pupil')]),
    documentId: Text(100),
    kind: Type.Union([Type.Literal('aup'), Type.Literal('device-contract')]),
    version: Text(50),
    textSha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
);

const aupAcceptedData = Type.Object(
  {
    ...aupData.properties,
    /** Indexes of the statements the user ticked one by one: every statement, in order. */
    acknowledged: Type.Array(Type.Integer({ minimum: 0, maximum: 99 }), { maxItems: 100 }),
    /** What the user typed; stored and shown as inert text. */
    fullName: Text(200),
    tutorGroup: Type.Union([Text(100), Type.Null()]),
    parentCarer: Type.Union([Text(200), Type.Null()]),
  },
  { additionalProperties: false },
);

const aupDeclinedData = Type.Object(
  {
    ...aupData.properties,
    /** What the service did about it, from the policy. */
    action: Type.Union([
      Type.Literal('sign-out'),
      Type.Literal('lock'),
      Type.Literal('record-only'),
      Type.Literal('hold-network'),
    ]),
    /** Null when the action ran; otherwise why it failed (a failed sign-out is never ignored). */
    actionError: Type.Union([Text(1000), Type.Null()]),
    /**
     * Why: `declined`, the user declined or closed the window; `no-tray`, the AUP was due and no
     * tray showed it within the policy's tray allowance, so the service applied the decline
     * action itself (a killed tray is a decline); `no-answer`, a tray was asked to show it and
     * no answer came within the policy's `aup.answerWithinMinutes` (a tray that shows nothing is
     * a decline). Absent (older agents): `declined`.
     */
    reason: Type.Optional(
      Type.Union([Type.Literal('declined'), Type.Literal('no-tray'), Type.Literal('no-answer')]),
    ),
  },
  { additionalProperties: false },
);

/** Every event the agent sends, as a union discriminated by `type`. */
export const AgentEventSchema = Type.Union([
  // A USB decision, with how many times the same device got the same decision in a row within
  // the guard's rate-limit window (a pupil plugging a stick in and out gets one event, counted).
  event('usb.blocked', usbData),
  event('usb.allowed', usbData),
  event('aup.accepted', aupAcceptedData),
  event('aup.declined', aupDeclinedData),
  event(
    'idle.locked',
    Type.Object(
      { user: Type.Union([Text(256), Type.Null()]), idleSeconds: Type.Integer({ minimum: 0 }) },
      { additionalProperties: false },
    ),
  ),
  // The tray's idle lock could not do its job (shared/schemas/ipc.ts, idle:lock-failed). `user`
  // is the console user the service found, never a name the tray sent; `reason` is the tray's
  // latest text, clipped and with control characters replaced. Repeats of the same kind within
  // the service's window are folded: `count` reports since `firstAt`.
  event(
    'idle.lock-failed',
    Type.Object(
      {
        user: Type.Union([Text(256), Type.Null()]),
        kind: IdleLockFailureKindSchema,
        reason: Text(300),
        count: Type.Integer({ minimum: 1, description: 'Reports folded into this event.' }),
        firstAt: IsoDateTimeSchema,
      },
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
  // A console session has had no tray connected for longer than the policy allows (the tray was
  // killed, uninstalled or blocked). One per session per episode: a tray that comes back ends
  // the episode. `user` is the console user the service found, `since` when it first saw the
  // session without a tray, `minutes` the policy's allowance that was passed.
  event(
    'tamper.tray-missing',
    Type.Object(
      {
        user: Text(256),
        since: IsoDateTimeSchema,
        minutes: Type.Integer({ minimum: 1 }),
      },
      { additionalProperties: false },
    ),
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
