// Messages between the tray (per user, untrusted) and the service over local IPC: one JSON
// object per line. Both sides validate every message with these schemas.
import { Type, type Static } from 'typebox';
import { CheckResultSchema } from './check-result.ts';
import { IsoDateTimeSchema, Text } from './common.ts';
import { AupDocumentSchema, AupRoleSchema, UsbModeSchema } from './policy.ts';
import { UsbDecisionSchema } from './usb.ts';

/** Channels the service answers, `noun:verb` (STYLE.md §13). */
export const IpcChannelSchema = Type.Union([
  Type.Literal('status:get'),
  Type.Literal('checks:run'),
  // Asks for pushes on this connection (`usb:decision`, …); answered like status:get.
  Type.Literal('events:subscribe'),
  // The tray locked its session for idleness; the service records `idle.locked` with the
  // console user it finds itself (never a name the tray sends), rate-limited.
  Type.Literal('idle:locked'),
  // The tray's idle lock could not do its job (a lock command failed, no desktop to lock with,
  // idle time unreadable); the service records `idle.lock-failed` with the console user it
  // finds itself, the tray's text clipped, repeats folded into one event with a count.
  Type.Literal('idle:lock-failed'),
  // The idle-lock policy as it applies to the console user (the service resolves the policy's
  // exemptions with the groups it reads itself): what the tray's idle lock runs on.
  Type.Literal('idle:policy'),
  // Whether a program holds a display power request (a video, a presentation) on this machine:
  // read by the service (`powercfg /requests` needs an administrator on Windows), at most once
  // per few seconds however often it is asked; unknown elsewhere and when it cannot be read.
  Type.Literal('idle:display-requests'),
  // The AUP documents the console user must sign now, with the hash of each text; also pushed
  // unasked as `aup:required` when a console session starts with documents due.
  Type.Literal('aup:pending'),
  // The user signed (or declined) one document. The service records it with the console user
  // it finds itself, refuses a hash that is not the text in force, and runs the decline action.
  Type.Literal('aup:sign'),
  Type.Literal('aup:decline'),
  // Proof of who is on the other end, from the OS (agent/core/ipc-peer): the service hands out a
  // nonce, the client creates a file of that name in the service's peers folder, and the
  // service reads the file's owner. Channels that act for a user need a proven connection.
  Type.Literal('peer:challenge'),
  Type.Literal('peer:prove'),
  // The tray of the console user announces itself (needs a proven connection). The service
  // takes the user from the proof and the console-user module, never from the message.
  Type.Literal('tray:hello'),
]);
export type IpcChannel = Static<typeof IpcChannelSchema>;

const RequestIdSchema = Type.Integer({ minimum: 0, maximum: 2 ** 31 });

/** A signature as the AUP window sends it; the service adds the user, time and device. */
export const AupSignatureSchema = Type.Object(
  {
    documentId: Text(100),
    /** The hash of the text the window showed; refused unless it is the text in force. */
    textSha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    /** Indexes of the statements ticked: every statement, in order, or the service refuses. */
    acknowledged: Type.Array(Type.Integer({ minimum: 0, maximum: 99 }), { maxItems: 100 }),
    fullName: Text(200),
    tutorGroup: Type.Union([Text(100), Type.Null()]),
    parentCarer: Type.Union([Text(200), Type.Null()]),
  },
  { additionalProperties: false },
);
export type AupSignature = Static<typeof AupSignatureSchema>;

/** The document a user declines (or whose AUP window was closed unsigned). */
export const AupDeclineSchema = Type.Object(
  { documentId: Text(100), textSha256: Type.String({ pattern: '^[0-9a-f]{64}$' }) },
  { additionalProperties: false },
);
export type AupDecline = Static<typeof AupDeclineSchema>;

/**
 * Why the tray's idle lock could not do its job: `lock-failed` no lock command locked the
 * session; `fallback-used` one failed and a fallback locked it; `no-desktop` the tray has no
 * way to lock on this OS or session; `idle-unreadable` the idle time cannot be read, so the
 * session will never lock for idleness.
 */
export const IdleLockFailureKindSchema = Type.Union([
  Type.Literal('lock-failed'),
  Type.Literal('fallback-used'),
  Type.Literal('no-desktop'),
  Type.Literal('idle-unreadable'),
]);
export type IdleLockFailureKind = Static<typeof IdleLockFailureKindSchema>;

/** The longest reason text the tray may send with `idle:lock-failed`; longer is refused. */
export const IDLE_LOCK_FAILURE_REASON_MAX = 500;

/** A request from the tray. */
export const IpcRequestSchema = Type.Union([
  Type.Object(
    {
      id: RequestIdSchema,
      channel: Type.Union([
        Type.Literal('status:get'),
        Type.Literal('checks:run'),
        Type.Literal('events:subscribe'),
        Type.Literal('idle:policy'),
        Type.Literal('idle:display-requests'),
        Type.Literal('aup:pending'),
        Type.Literal('peer:challenge'),
        Type.Literal('peer:prove'),
        Type.Literal('tray:hello'),
      ]),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { id: RequestIdSchema, channel: Type.Literal('aup:sign'), ...AupSignatureSchema.properties },
    { additionalProperties: false },
  ),
  Type.Object(
    { id: RequestIdSchema, channel: Type.Literal('aup:decline'), ...AupDeclineSchema.properties },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      id: RequestIdSchema,
      channel: Type.Literal('idle:locked'),
      /** How long the session had been idle when it locked, as the tray measured it. */
      idleSeconds: Type.Integer({ minimum: 0, maximum: 366 * 24 * 3600 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      id: RequestIdSchema,
      channel: Type.Literal('idle:lock-failed'),
      kind: IdleLockFailureKindSchema,
      /** The tray's own words (commands and their errors): untrusted, stored as inert text. */
      reason: Text(IDLE_LOCK_FAILURE_REASON_MAX),
    },
    { additionalProperties: false },
  ),
]);
export type IpcRequest = Static<typeof IpcRequestSchema>;

/** What the service knows about itself and the device. */
export const AgentStatusSchema = Type.Object(
  {
    agentVersion: Text(50),
    enrolled: Type.Boolean(),
    deviceId: Type.Union([Text(100), Type.Null()]),
    serverUrl: Type.Union([Text(500), Type.Null()]),
    policy: Type.Object(
      { name: Text(200), version: Type.Integer() },
      { additionalProperties: false },
    ),
    lastCheckAt: Type.Union([IsoDateTimeSchema, Type.Null()]),
    lastReportQueuedAt: Type.Union([IsoDateTimeSchema, Type.Null()]),
    lastDeliveryAt: Type.Union([IsoDateTimeSchema, Type.Null()]),
    lastDeliveryError: Type.Union([Text(1000), Type.Null()]),
    /** Failed sends in a row, kept across restarts; with the time of the next attempt. */
    deliveryFailures: Type.Integer({ minimum: 0 }),
    nextDeliveryAttemptAt: Type.Union([IsoDateTimeSchema, Type.Null()]),
    /**
     * Check passes that ran but could not be stored (a full or failing disk), in a row, since
     * when, and the last error; null while passes are stored.
     */
    passFailures: Type.Union([
      Type.Object(
        { count: Type.Integer({ minimum: 1 }), since: IsoDateTimeSchema, lastError: Text(1000) },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
    outbox: Type.Object(
      { reports: Type.Integer(), events: Type.Integer() },
      { additionalProperties: false },
    ),
    results: Type.Array(CheckResultSchema),
    /** The USB guard: its mode, whether it runs on this OS, and its latest decisions. */
    usb: Type.Object(
      {
        mode: UsbModeSchema,
        /** Null while the guard works; otherwise why it cannot enforce (e.g. no udev). */
        problem: Type.Union([Text(1000), Type.Null()]),
        recent: Type.Array(UsbDecisionSchema, { maxItems: 50 }),
      },
      { additionalProperties: false },
    ),
    /**
     * Trays connected now (tray:hello on a proven connection): whose and since when. Absent from
     * a service without the tray registry.
     */
    trays: Type.Optional(
      Type.Array(
        Type.Object(
          { user: Type.Union([Text(256), Type.Null()]), since: IsoDateTimeSchema },
          { additionalProperties: false },
        ),
        { maxItems: 64 },
      ),
    ),
  },
  { additionalProperties: false },
);
export type AgentStatus = Static<typeof AgentStatusSchema>;

/** A document the console user must sign, as the window shows it. */
export const AupPendingDocumentSchema = Type.Object(
  {
    ...AupDocumentSchema.properties,
    /** SHA-256 of `aupDocumentText` of this document: sent back with the signature. */
    textSha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    reason: Type.Union([
      Type.Literal('first-time'),
      Type.Literal('new-version'),
      Type.Literal('text-changed'),
      Type.Literal('new-academic-year'),
    ]),
  },
  { additionalProperties: false },
);
export type AupPendingDocument = Static<typeof AupPendingDocumentSchema>;

/** What the console user must sign now; `user` null when nobody sits at the console. */
export const AupPendingSchema = Type.Object(
  {
    user: Type.Union([Text(256), Type.Null()]),
    /**
     * The role the policy's AUP rules give that user (whose words the tray uses); null when no
     * rule gives one. Absent from a service that predates it.
     */
    role: Type.Optional(Type.Union([AupRoleSchema, Type.Null()])),
    documents: Type.Array(AupPendingDocumentSchema, { maxItems: 20 }),
    /** Set after a decline: what the service did about it, and whether it worked. */
    declined: Type.Optional(
      Type.Object(
        {
          action: Type.Union([
            Type.Literal('sign-out'),
            Type.Literal('lock'),
            Type.Literal('record-only'),
            Type.Literal('hold-network'),
          ]),
          actionError: Type.Union([Text(1000), Type.Null()]),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type AupPending = Static<typeof AupPendingSchema>;

/**
 * The idle-lock policy resolved for the console user, in the policy's own units: whether it
 * applies (`off` says why not) and its durations, with the inhibitor ceiling already filled in.
 */
export const IdleLockViewSchema = Type.Object(
  {
    /** The console user it was resolved for; null when nobody sits at the console. */
    user: Type.Union([Text(256), Type.Null()]),
    /** Null when the lock applies; `disabled` by the policy, `exempt` for this user. */
    off: Type.Union([Type.Literal('disabled'), Type.Literal('exempt'), Type.Null()]),
    minutes: Type.Integer({ minimum: 1, maximum: 240 }),
    warningSeconds: Type.Integer({ minimum: 0, maximum: 600 }),
    honourInhibitors: Type.Boolean(),
    /** Never below `minutes`. */
    inhibitorCeilingMinutes: Type.Integer({ minimum: 1, maximum: 480 }),
  },
  { additionalProperties: false },
);
export type IdleLockView = Static<typeof IdleLockViewSchema>;

/** The longest list of display-request holders the service sends. */
export const DISPLAY_REQUEST_HOLDERS_MAX = 16;

/**
 * Display power requests as the service read them (idle:display-requests): held or not, with
 * who holds them (program file names, never paths), or unknown with the reason. `readAt` is when
 * the answer was read: answers are shared for a few seconds.
 */
export const DisplayRequestsViewSchema = Type.Union([
  Type.Object(
    {
      known: Type.Literal(true),
      held: Type.Boolean(),
      holders: Type.Array(Text(200), { maxItems: DISPLAY_REQUEST_HOLDERS_MAX }),
      readAt: IsoDateTimeSchema,
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { known: Type.Literal(false), reason: Text(500), readAt: IsoDateTimeSchema },
    { additionalProperties: false },
  ),
]);
export type DisplayRequestsView = Static<typeof DisplayRequestsViewSchema>;

/** Who the service found on the other end of a connection, from the OS. */
export const IpcPeerSchema = Type.Object(
  {
    /** POSIX uid as decimal text, or the Windows account's SID. */
    id: Text(200),
    /** Login name the id maps to; null when the OS has no name for it. */
    user: Type.Union([Text(256), Type.Null()]),
    /** The service's own account (root, SYSTEM). */
    privileged: Type.Boolean(),
    /** The user signed in at the console when the proof was taken. */
    console: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type IpcPeer = Static<typeof IpcPeerSchema>;

/** The service's answer to a request on every channel but the peer:* ones. */
export const IpcResponseSchema = Type.Union([
  Type.Object(
    {
      id: Type.Integer(),
      ok: Type.Literal(true),
      status: AgentStatusSchema,
      /** aup:pending, aup:sign and aup:decline: what is still to sign afterwards. */
      aup: Type.Optional(AupPendingSchema),
      /** idle:policy: the idle lock as it applies to the console user. */
      idleLock: Type.Optional(IdleLockViewSchema),
      /** idle:display-requests: the machine's display power requests. */
      displayRequests: Type.Optional(DisplayRequestsViewSchema),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { id: Type.Integer(), ok: Type.Literal(false), error: Text(500) },
    { additionalProperties: false },
  ),
]);
export type IpcResponse = Static<typeof IpcResponseSchema>;

/**
 * The service's answer on peer:challenge and peer:prove: its own schema, so that a client that
 * only ever asks for the status keeps one answer shape (`ok` then `status`).
 */
export const IpcPeerResponseSchema = Type.Union([
  // peer:challenge: the name of the file to create in the peers folder (128 random bits, hex).
  Type.Object(
    {
      id: Type.Integer(),
      ok: Type.Literal(true),
      nonce: Type.String({ pattern: '^[0-9a-f]{32}$' }),
    },
    { additionalProperties: false },
  ),
  // peer:prove: who the connection now is.
  Type.Object(
    { id: Type.Integer(), ok: Type.Literal(true), peer: IpcPeerSchema },
    { additionalProperties: false },
  ),
  Type.Object(
    { id: Type.Integer(), ok: Type.Literal(false), error: Text(500) },
    { additionalProperties: false },
  ),
]);
export type IpcPeerResponse = Static<typeof IpcPeerResponseSchema>;

/**
 * Sent by the service, unasked, to connections that sent `events:subscribe`: a line with
 * `push` instead of `id`. Pushes are dropped (never queued without bound) when the connection
 * is not reading.
 */
export const IpcPushSchema = Type.Union([
  Type.Object(
    { push: Type.Literal('usb:decision'), decision: UsbDecisionSchema },
    { additionalProperties: false },
  ),
  Type.Object(
    { push: Type.Literal('aup:required'), aup: AupPendingSchema },
    { additionalProperties: false },
  ),
]);
export type IpcPush = Static<typeof IpcPushSchema>;
