import { Type, type Static } from 'typebox';
import { IsoDateTimeSchema, SchemaVersionSchema, Text } from './common.ts';

const strict = { additionalProperties: false } as const;
const Days = (description: string) => Type.Integer({ minimum: 0, maximum: 3650, description });

/** A dotted version such as `10.0.19045.4412`, `14.6` or `12`. */
export const DottedVersionSchema = Type.String({ pattern: '^[0-9]+(\\.[0-9]+){0,3}$' });

/** Thresholds of the compliance checks. */
export const CheckThresholdsSchema = Type.Object(
  {
    diskEncryption: Type.Object(
      {
        required: Type.Boolean({ description: 'Fail when the system volume is not encrypted.' }),
        requireSwapEncrypted: Type.Boolean({ description: 'Linux: swap must be encrypted too.' }),
      },
      strict,
    ),
    antivirus: Type.Object(
      {
        required: Type.Boolean({
          description: 'Fail when no product is on with real-time protection.',
        }),
        maxSignatureAgeDays: Days('Signatures older than this fail.'),
      },
      strict,
    ),
    osUpdates: Type.Object(
      {
        requireAutomaticUpdates: Type.Boolean(),
        maxDaysSinceLastUpdate: Days('Last successful update older than this fails.'),
        maxPendingSecurityUpdates: Type.Integer({ minimum: 0, maximum: 10000 }),
        pendingUpdateGraceDays: Type.Optional(
          Days(
            'A required pending update (security-classified on Windows and Linux; on macOS every recommended update of the running major release) warns for this many days after the agent first saw it, then counts against maxPendingSecurityUpdates. Absent or 0: it counts at once.',
          ),
        ),
        rebootPendingWarnOnly: Type.Boolean({
          description: 'A pending reboot warns (true) or fails (false).',
        }),
        minimumVersion: Type.Object(
          {
            windows: Type.Optional(DottedVersionSchema),
            darwin: Type.Optional(DottedVersionSchema),
            linux: Type.Optional(
              Type.Record(Type.String({ pattern: '^[a-z0-9._-]{1,40}$' }), DottedVersionSchema, {
                description: 'By os-release ID, e.g. { debian: "12", ubuntu: "22.04" }.',
              }),
            ),
          },
          { ...strict, description: 'Minimum OS version per OS; Windows as 10.0.BUILD.UBR.' },
        ),
      },
      strict,
    ),
    firewall: Type.Object({ required: Type.Boolean() }, strict),
    screenLock: Type.Object(
      {
        required: Type.Boolean(),
        maxIdleMinutes: Type.Integer({ minimum: 1, maximum: 240 }),
      },
      strict,
    ),
  },
  strict,
);

/** Who is exempt from an enforcement, by user name or group/role. */
export const ExemptionSchema = Type.Object(
  {
    users: Type.Array(Text(256), { maxItems: 1000 }),
    groups: Type.Array(Text(256), { maxItems: 200 }),
  },
  strict,
);

/** Idle screen lock enforced by the tray. */
export const IdleLockSchema = Type.Object(
  {
    enabled: Type.Boolean(),
    minutes: Type.Integer({ minimum: 1, maximum: 240 }),
    warningSeconds: Type.Integer({ minimum: 0, maximum: 600 }),
    exempt: ExemptionSchema,
    honourInhibitors: Type.Optional(
      Type.Boolean({
        description:
          'When true, an OS idle inhibitor (a presentation, full-screen video) postpones the lock, ' +
          'but never past inhibitorCeilingMinutes of no input. Absent or false: inhibitors are ' +
          'ignored and the lock comes after `minutes`.',
      }),
    ),
    inhibitorCeilingMinutes: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 480,
        description:
          'Minutes of no input after which the lock comes even while an inhibitor is held (a ' +
          'video left playing all lunch still locks). Absent: 60. Below `minutes`: `minutes`.',
      }),
    ),
  },
  strict,
);
export type IdleLockPolicy = Static<typeof IdleLockSchema>;

/** A USB storage device ICT has approved. */
export const UsbAllowEntrySchema = Type.Object(
  {
    vendorId: Type.String({ pattern: '^[0-9a-fA-F]{4}$' }),
    productId: Type.String({ pattern: '^[0-9a-fA-F]{4}$' }),
    serial: Type.Optional(
      Text(200, {
        description:
          'Absent: the entry approves the model (every stick with this vendor and product id). ' +
          'Bulk-bought sticks can share a serial: an entry with a serial admits each of them.',
      }),
    ),
    description: Text(200),
    /** Set by the server for approvals made on the dashboard; absent in a hand-written policy. */
    approvalId: Type.Optional(Type.String({ pattern: '^[0-9a-zA-Z-]{1,64}$' })),
    approvedBy: Type.Optional(Text(256, { description: 'The ICT admin who approved it.' })),
    reason: Type.Optional(Text(1000, { description: 'Why: an exam, a trip, a department.' })),
    expiresAt: Type.Optional(
      Type.Union([IsoDateTimeSchema, Type.Null()], {
        description:
          'After this instant the entry no longer approves anything; the device applies it on ' +
          'its own clock, offline too. Null or absent: no expiry.',
      }),
    ),
  },
  strict,
);
export type UsbAllowEntry = Static<typeof UsbAllowEntrySchema>;

/** What the guard does with storage that no entry approves. */
export const UsbModeSchema = Type.Union([
  Type.Literal('block', { description: 'Unapproved storage never gets a block device.' }),
  Type.Literal('read-only', { description: 'Unapproved storage is read-only before any mount.' }),
  Type.Literal('audit', { description: 'Everything is allowed and every device is reported.' }),
  Type.Literal('allow', { description: 'Everything is allowed; nothing is reported.' }),
]);
export type UsbMode = Static<typeof UsbModeSchema>;

/** USB storage guard. */
export const UsbPolicySchema = Type.Object(
  {
    mode: UsbModeSchema,
    allow: Type.Array(UsbAllowEntrySchema, { maxItems: 5000 }),
    exempt: ExemptionSchema,
    portableMediaIsStorage: Type.Optional(
      Type.Boolean({
        description:
          'Phones and cameras speaking MTP/PTP (not USB mass storage, class 08) are judged like ' +
          'sticks when true; left alone when false or absent.',
      }),
    ),
  },
  strict,
);
export type UsbPolicy = Static<typeof UsbPolicySchema>;

/** Roles an AUP document is written for. */
export const AupRoleSchema = Type.Union([Type.Literal('staff'), Type.Literal('pupil')]);

/** One document a user signs: an AUP, or a device responsibility contract. */
export const AupDocumentSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9-]{1,64}$' }),
    kind: Type.Union([Type.Literal('aup'), Type.Literal('device-contract')]),
    role: AupRoleSchema,
    version: Type.String({ minLength: 1, maxLength: 50 }),
    title: Text(200),
    introduction: Text(5000),
    statements: Type.Array(Text(1000), {
      minItems: 1,
      maxItems: 100,
      description: 'Each statement is acknowledged on its own ("initial each line").',
    }),
    askTutorGroup: Type.Boolean(),
    askParentCarer: Type.Boolean(),
  },
  strict,
);

/** What declining (or closing) an AUP does. */
export const AupDeclineActionSchema = Type.Union(
  [
    Type.Literal('sign-out'),
    Type.Literal('lock'),
    Type.Literal('record-only'),
    Type.Literal('hold-network'),
  ],
  {
    description:
      "hold-network: the device's outbound network is held to the Hallpass server and " +
      '`networkHold.allow` until the user signs (Linux: nftables; Windows: Windows Firewall block ' +
      'rules; macOS: a pf anchor); a hold that cannot be made is recorded with an actionError ' +
      'saying why.',
  },
);
export type AupDeclineAction = Static<typeof AupDeclineActionSchema>;

/**
 * Which role a user has, for the documents they sign. A rule matches when every condition it
 * names matches (any of its groups, its name pattern, any of its device groups); the first
 * rule that matches wins.
 */
export const AupRoleRuleSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9-]{1,64}$' }),
    role: AupRoleSchema,
    groups: Type.Optional(
      Type.Array(Text(256), {
        minItems: 1,
        maxItems: 50,
        description: 'OS or directory groups (as `id -Gn` or Windows name them), any of them.',
      }),
    ),
    userPattern: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'A regular expression matched against the whole login name, ignoring case ' +
          '(e.g. `^[0-9]{2}[a-z]+$` for pupil accounts).',
      }),
    ),
    deviceGroups: Type.Optional(
      Type.Array(Text(200), { minItems: 1, maxItems: 50, description: 'Any of these groups.' }),
    ),
  },
  strict,
);
export type AupRoleRule = Static<typeof AupRoleRuleSchema>;

/** Minutes to answer the AUP window when the policy does not say (`aup.answerWithinMinutes`). */
export const DEFAULT_AUP_ANSWER_WITHIN_MINUTES = 20;
/** Fewer would decline for a user still reading; more would let a fake tray hold it off a day. */
export const MIN_AUP_ANSWER_WITHIN_MINUTES = 2;
export const MAX_AUP_ANSWER_WITHIN_MINUTES = 240;

/** When and how users sign. */
export const AupPolicySchema = Type.Object(
  {
    documents: Type.Array(AupDocumentSchema, { maxItems: 20 }),
    rules: Type.Optional(
      Type.Array(AupRoleRuleSchema, {
        maxItems: 100,
        description: 'First match wins. Absent: every user gets defaultRole.',
      }),
    ),
    defaultRole: Type.Optional(
      Type.Union([AupRoleSchema, Type.Literal('none')], {
        description: 'The role of a user no rule names; `none` (the default) asks nothing.',
      }),
    ),
    resign: Type.Object(
      {
        onVersionChange: Type.Boolean(),
        eachSeptember: Type.Boolean({
          description: 'Sign again each academic year, from academicYearStarts.',
        }),
        academicYearStarts: Type.Optional(
          Type.String({
            pattern: '^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$',
            description: 'MM-DD, local time of the device; default 09-01.',
          }),
        ),
      },
      strict,
    ),
    onDecline: AupDeclineActionSchema,
    networkHold: Type.Optional(
      Type.Object(
        {
          allow: Type.Array(
            Type.String({
              pattern:
                '^(\\[[0-9a-fA-F:.]+\\](:[0-9]{1,5})?|[0-9a-fA-F]*:[0-9a-fA-F:.]+|[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?)$',
            }),
            {
              maxItems: 50,
              description:
                'Hosts a held device may still reach besides the Hallpass server: `host`, ' +
                '`host:port`, an address, `[v6]:port` (e.g. the MIS, the DNS servers).',
            },
          ),
        },
        strict,
      ),
    ),
    onDeclineByRole: Type.Optional(
      Type.Object(
        {
          staff: Type.Optional(AupDeclineActionSchema),
          pupil: Type.Optional(AupDeclineActionSchema),
        },
        { ...strict, description: 'Per role; a role not named here gets onDecline.' },
      ),
    ),
    answerWithinMinutes: Type.Optional(
      Type.Integer({
        minimum: MIN_AUP_ANSWER_WITHIN_MINUTES,
        maximum: MAX_AUP_ANSWER_WITHIN_MINUTES,
        description:
          'Minutes the user has to answer (sign or decline) once a tray of theirs is asked to ' +
          "show the window; unanswered by then counts as declined (the role's action runs, " +
          'aup.declined with reason no-answer), so a program that poses as the tray and shows ' +
          'nothing cannot hold the decline off. Whole minutes, 2 to 240. Absent: 20.',
      }),
    ),
  },
  strict,
);
export type AupPolicy = Static<typeof AupPolicySchema>;
export type AupDocument = Static<typeof AupDocumentSchema>;
export type AupRole = Static<typeof AupRoleSchema>;

/** Reporting cadence. */
export const ReportingSchema = Type.Object(
  {
    intervalMinutes: Type.Integer({ minimum: 1, maximum: 1440 }),
    slowChecksIntervalHours: Type.Integer({ minimum: 1, maximum: 168 }),
  },
  strict,
);

/** The per-user tray, as the service watches for it (agent/service/tray-registry.ts). */
export const TrayPolicySchema = Type.Object(
  {
    missingAfterMinutes: Type.Integer({
      minimum: 1,
      maximum: 1440,
      description:
        'Minutes a console session may go without a connected tray before the service raises ' +
        'tamper.tray-missing (once per episode), and a due AUP no tray shows counts as ' +
        "declined (the role's action runs, aup.declined with reason no-tray). Absent: 10.",
    }),
  },
  strict,
);
export type TrayPolicy = Static<typeof TrayPolicySchema>;

/** Minutes without a tray before tamper.tray-missing when the policy does not say. */
export const DEFAULT_TRAY_MISSING_AFTER_MINUTES = 10;

/** The policy of one device group: thresholds, enforcement and reporting. */
export const PolicySchema = Type.Object(
  {
    schemaVersion: SchemaVersionSchema,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    version: Type.Integer({
      minimum: 0,
      maximum: 2_147_483_647,
      description: 'Set by the server on each upload.',
    }),
    checks: CheckThresholdsSchema,
    idleLock: IdleLockSchema,
    usb: UsbPolicySchema,
    aup: AupPolicySchema,
    reporting: ReportingSchema,
    /** Optional: policies written before the tray get the default. */
    tray: Type.Optional(TrayPolicySchema),
  },
  { ...strict, $id: 'https://hallpass.invalid/schemas/policy.json', title: 'Hallpass policy' },
);
export type Policy = Static<typeof PolicySchema>;
export type CheckThresholds = Static<typeof CheckThresholdsSchema>;
