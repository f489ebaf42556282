// The AUP register as the ICT API returns it (issue 15): who signed which document version when and
// on which device, who is outstanding, how a re-sign cycle is going, and one user's signed copy.
// Every text field is what a device sent or a user typed: pages show it as text, never markup.
import { Type, type Static } from 'typebox';
import { IsoDateTimeSchema, Text, UuidSchema } from './common.ts';
import { AupRoleSchema } from './policy.ts';

const strict = { additionalProperties: false } as const;

const DocumentIdSchema = Type.String({ pattern: '^[a-z0-9-]{1,64}$' });
const Sha256Schema = Type.String({ pattern: '^[0-9a-f]{64}$' });
const KindSchema = Type.Union([Type.Literal('aup'), Type.Literal('device-contract')]);

/** Query of `GET /aup/register` and its CSV exports. */
export const AupRegisterQuerySchema = Type.Object(
  {
    school: UuidSchema,
    /** Only this document (and, with `version`, only that version). */
    document: Type.Optional(DocumentIdSchema),
    version: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
  },
  strict,
);
export type AupRegisterQuery = Static<typeof AupRegisterQuerySchema>;

/** One signature (an `aup.accepted` event) as the register lists it. */
export const AupSignatureRowSchema = Type.Object(
  {
    /** The event id: names this signature, e.g. for its signed copy. */
    id: UuidSchema,
    user: Text(256),
    fullName: Text(200),
    role: AupRoleSchema,
    documentId: Text(100),
    kind: KindSchema,
    version: Text(50),
    textSha256: Sha256Schema,
    signedAt: IsoDateTimeSchema,
    deviceId: UuidSchema,
    hostname: Text(255),
    /** Statement indexes ticked, from 0. */
    acknowledged: Type.Array(Type.Integer({ minimum: 0 })),
    /** Statements in the document signed, from the server's stored text; null when unknown. */
    statementCount: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
    tutorGroup: Type.Union([Text(100), Type.Null()]),
    parentCarer: Type.Union([Text(200), Type.Null()]),
    /** It is a signature of a document version in force, made in the current cycle. */
    current: Type.Boolean(),
  },
  strict,
);
export type AupSignatureRow = Static<typeof AupSignatureRowSchema>;

/** How a user was seen on the school's devices. */
export const AupSeenBySchema = Type.Union([
  Type.Literal('aup'),
  Type.Literal('idle-lock'),
  Type.Literal('usb'),
]);
export type AupSeenBy = Static<typeof AupSeenBySchema>;

/**
 * Why a decline happened: `declined`, the user declined or closed the window; `no-tray`, no
 * Hallpass tray of theirs showed the window within the policy's tray allowance, so the service
 * applied the decline action itself; `no-answer`, a tray was asked to show the window and no
 * answer came within the policy's answer deadline, so the service applied it; `not-given`, an
 * agent from before `reason` sent none.
 */
export const AupDeclineReasonSchema = Type.Union([
  Type.Literal('declined'),
  Type.Literal('no-tray'),
  Type.Literal('no-answer'),
  Type.Literal('not-given'),
]);
export type AupDeclineReason = Static<typeof AupDeclineReasonSchema>;

/** A user seen on the school's devices in this cycle without a current signature. */
export const AupOutstandingRowSchema = Type.Object(
  {
    user: Text(256),
    /** From the user's latest AUP event anywhere in the trust; null when they never had one. */
    role: Type.Union([AupRoleSchema, Type.Null()]),
    lastSeenAt: IsoDateTimeSchema,
    hostname: Text(255),
    seenBy: AupSeenBySchema,
    /** Their newest signature of any version, any time (an older version, last year). */
    lastSignedAt: Type.Union([IsoDateTimeSchema, Type.Null()]),
    /** Their newest decline in this cycle, and what the device did about it. */
    declinedAt: Type.Union([IsoDateTimeSchema, Type.Null()]),
    declineAction: Type.Union([Text(50), Type.Null()]),
    /** Why they declined (null when they did not decline this cycle). */
    declineReason: Type.Union([AupDeclineReasonSchema, Type.Null()]),
    /** Why the decline's action failed, as the device said it; null when it ran. */
    declineActionError: Type.Union([Text(1000), Type.Null()]),
  },
  strict,
);
export type AupOutstandingRow = Static<typeof AupOutstandingRowSchema>;

/** A document version in force at the school, with how its (re-)sign cycle is going. */
export const AupCycleSchema = Type.Object(
  {
    documentId: DocumentIdSchema,
    kind: KindSchema,
    role: AupRoleSchema,
    version: Text(50),
    title: Text(200),
    textSha256: Sha256Schema,
    /** When a policy holding this version was first uploaded. */
    publishedAt: IsoDateTimeSchema,
    /** Users seen at the school with a current signature of this version. */
    signed: Type.Integer({ minimum: 0 }),
    /** Users of this role seen at the school without a current signature; null for contracts. */
    outstanding: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  },
  strict,
);
export type AupCycle = Static<typeof AupCycleSchema>;

/** `GET /aup/register`: one school's register. */
export const AupRegisterSchema = Type.Object(
  {
    school: Type.Object({ id: UuidSchema, name: Text(200) }, strict),
    /** Start of the current academic year when policies re-sign each year; else null. */
    cycleStartsAt: Type.Union([IsoDateTimeSchema, Type.Null()]),
    /** Users seen since this time count (the cycle's start, or a year back). */
    seenSince: IsoDateTimeSchema,
    documents: Type.Array(AupCycleSchema),
    /** Users of unknown role (never shown a document) seen without a current signature. */
    outstandingRoleUnknown: Type.Integer({ minimum: 0 }),
    signatures: Type.Array(AupSignatureRowSchema),
    /** More signatures matched than the register lists (the newest are listed). */
    truncated: Type.Boolean(),
    outstanding: Type.Array(AupOutstandingRowSchema),
  },
  strict,
);
export type AupRegister = Static<typeof AupRegisterSchema>;

/** `GET /aup/signatures/:id`: a printable signed copy. */
export const AupSignedCopySchema = Type.Object(
  {
    signature: AupSignatureRowSchema,
    school: Text(200),
    /**
     * The text the user was shown, from a stored policy version whose text hashes to the
     * signature's textSha256; null when the server holds no such text.
     */
    document: Type.Union([
      Type.Object(
        {
          title: Text(200),
          introduction: Text(5000),
          statements: Type.Array(Text(1000)),
          askTutorGroup: Type.Boolean(),
          askParentCarer: Type.Boolean(),
        },
        strict,
      ),
      Type.Null(),
    ]),
    /** Why `document` is null. */
    documentProblem: Type.Union([Text(500), Type.Null()]),
  },
  strict,
);
export type AupSignedCopy = Static<typeof AupSignedCopySchema>;
