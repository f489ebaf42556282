// Schemas of the ICT-facing JSON API (`/api/v1/ict/...`): what the dashboard pages read and
// what admin tools write. Session cookie auth; state-changing requests carry `x-csrf-token`.
import { Type, type Static } from 'typebox';
import {
  CheckIdSchema,
  CheckStatusSchema,
  EvidenceSchema,
  UnknownReasonSchema,
} from './check-result.ts';
import { DeviceFactsSchema } from './device-facts.ts';
import { IsoDateTimeSchema, Text, UuidSchema } from './common.ts';
import { PolicySchema } from './policy.ts';

const strict = { additionalProperties: false } as const;
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

/** Roles of ICT accounts. */
export const RoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('viewer')]);

/** `POST /api/v1/ict/session`: sign in. */
export const SignInRequestSchema = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 100 }),
    password: Type.String({ minLength: 1, maxLength: 200 }),
  },
  strict,
);
export type SignInRequest = Static<typeof SignInRequestSchema>;

/** The signed-in account, and the CSRF token to send as `x-csrf-token` on every change. */
export const SessionSchema = Type.Object(
  { username: Text(100), role: RoleSchema, csrfToken: Type.String({ maxLength: 100 }) },
  strict,
);
export type Session = Static<typeof SessionSchema>;

/** Counts of devices by overall or per-check status. */
export const StatusCountsSchema = Type.Object(
  {
    pass: Type.Integer(),
    fail: Type.Integer(),
    warn: Type.Integer(),
    unknown: Type.Integer(),
    /** Enrolled but no report yet. */
    none: Type.Integer(),
  },
  strict,
);
export type StatusCounts = Static<typeof StatusCountsSchema>;

/** `GET /api/v1/ict/summary`: compliance per check and per school. */
export const ComplianceSummarySchema = Type.Object(
  {
    generatedAt: IsoDateTimeSchema,
    devices: Type.Integer(),
    overall: StatusCountsSchema,
    staleDays: Type.Integer({ description: 'Devices silent for longer count as stale.' }),
    stale: Type.Integer(),
    byCheck: Type.Array(
      Type.Object({ checkId: CheckIdSchema, counts: StatusCountsSchema }, strict),
    ),
    bySchool: Type.Array(
      Type.Object(
        {
          schoolId: UuidSchema,
          school: Text(200),
          counts: StatusCountsSchema,
          /** Of these, silent for longer than staleDays (never-reported ones are counts.none). */
          stale: Type.Integer(),
        },
        strict,
      ),
    ),
    byGroup: Type.Array(
      Type.Object(
        {
          groupId: UuidSchema,
          group: Text(200),
          counts: StatusCountsSchema,
          stale: Type.Integer(),
        },
        strict,
      ),
    ),
  },
  strict,
);
export type ComplianceSummary = Static<typeof ComplianceSummarySchema>;

/** Whose compliance a trend follows: the whole trust, one school or one check. */
export const TrendScopeSchema = Type.Union([
  Type.Literal('trust'),
  Type.Literal('school'),
  Type.Literal('check'),
]);
export type TrendScope = Static<typeof TrendScopeSchema>;

/** Query of `GET /api/v1/ict/trends`. */
export const TrendQuerySchema = Type.Object(
  {
    scope: TrendScopeSchema,
    /** The school's id or the check's id; absent for the trust. */
    id: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    days: Type.Optional(Type.Integer({ minimum: 1, maximum: 800, default: 400 })),
  },
  strict,
);
export type TrendQuery = Static<typeof TrendQuerySchema>;

/** `GET /api/v1/ict/trends`: one row per day with a snapshot, oldest first. */
export const TrendSchema = Type.Object(
  {
    scope: TrendScopeSchema,
    id: Nullable(Type.String({ maxLength: 100 })),
    days: Type.Array(
      Type.Object(
        {
          day: Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'UTC day.' }),
          counts: StatusCountsSchema,
        },
        strict,
      ),
    ),
  },
  strict,
);
export type Trend = Static<typeof TrendSchema>;

/** Query of `GET /api/v1/ict/devices` (and `.csv`). */
export const DeviceListQuerySchema = Type.Object(
  {
    status: Type.Optional(Type.Union([CheckStatusSchema, Type.Literal('none')])),
    checkId: Type.Optional(CheckIdSchema),
    schoolId: Type.Optional(UuidSchema),
    groupId: Type.Optional(UuidSchema),
    silentDays: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 3650, description: 'Not reported for N days.' }),
    ),
    search: Type.Optional(
      Type.String({ maxLength: 100, description: 'Hostname or serial contains.' }),
    ),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000_000, default: 0 })),
    /**
     * Keyset paging, cheap at any depth (an OFFSET reads every row it skips): the page after the
     * device with this id in hostname order (the last one of the current page). Not with before
     * or offset.
     */
    after: Type.Optional(UuidSchema),
    /** The page before the device with this id (the first one of the current page). */
    before: Type.Optional(UuidSchema),
  },
  strict,
);
export type DeviceListQuery = Static<typeof DeviceListQuerySchema>;

/** One row of the device list. */
export const DeviceListItemSchema = Type.Object(
  {
    id: UuidSchema,
    hostname: Text(255),
    serial: Nullable(Text(200)),
    os: Text(300),
    school: Text(200),
    group: Text(200),
    overall: Nullable(CheckStatusSchema),
    lastSeenAt: Nullable(IsoDateTimeSchema),
    lastReportAt: Nullable(IsoDateTimeSchema),
    cloneSuspect: Type.Boolean(),
  },
  strict,
);
export type DeviceListItem = Static<typeof DeviceListItemSchema>;

/** `GET /api/v1/ict/devices`. */
export const DeviceListSchema = Type.Object(
  { total: Type.Integer(), items: Type.Array(DeviceListItemSchema) },
  strict,
);
export type DeviceList = Static<typeof DeviceListSchema>;

/** Latest state of one check on one device. */
export const CheckStateSchema = Type.Object(
  {
    checkId: CheckIdSchema,
    status: CheckStatusSchema,
    summary: Text(300),
    remediation: Nullable(Text(1000)),
    /** Why the agent could not tell, for `unknown`. */
    reason: Nullable(UnknownReasonSchema),
    evidence: EvidenceSchema,
    measuredAt: IsoDateTimeSchema,
    changedAt: IsoDateTimeSchema,
  },
  strict,
);

/** One recorded status change. */
export const CheckChangeSchema = Type.Object(
  {
    checkId: CheckIdSchema,
    from: Nullable(CheckStatusSchema),
    to: CheckStatusSchema,
    summary: Text(300),
    measuredAt: IsoDateTimeSchema,
  },
  strict,
);

/** One stored event, as ICT reads it. */
export const StoredEventSchema = Type.Object(
  {
    id: UuidSchema,
    deviceId: UuidSchema,
    hostname: Text(255),
    type: Text(100),
    occurredAt: IsoDateTimeSchema,
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  strict,
);
export type StoredEvent = Static<typeof StoredEventSchema>;

/** `GET /api/v1/ict/devices/:id`. */
export const DeviceDetailSchema = Type.Object(
  {
    device: DeviceListItemSchema,
    facts: DeviceFactsSchema,
    enrolledAt: IsoDateTimeSchema,
    policyVersion: Nullable(Type.Integer()),
    checks: Type.Array(CheckStateSchema),
    history: Type.Array(CheckChangeSchema),
    events: Type.Array(StoredEventSchema),
    identity: Type.Object(
      {
        retiredAt: Nullable(IsoDateTimeSchema),
        replacedBy: Nullable(UuidSchema),
        replaces: Nullable(UuidSchema),
        reenrolmentAllowedUntil: Nullable(IsoDateTimeSchema),
      },
      { ...strict, description: 'Replacement chain and any open ICT approval of re-enrolment.' },
    ),
  },
  strict,
);
export type DeviceDetail = Static<typeof DeviceDetailSchema>;

/** `POST /api/v1/ict/devices/:id/re-enrolment` (admin): allow one re-enrolment for a while. */
export const AllowReenrolmentRequestSchema = Type.Object(
  { hours: Type.Integer({ minimum: 1, maximum: 168 }) },
  strict,
);

/** The open approval: until when the device may be replaced with a token. */
export const ReenrolmentApprovalSchema = Type.Object(
  { deviceId: UuidSchema, allowedUntil: Nullable(IsoDateTimeSchema) },
  strict,
);

/** `GET /api/v1/ict/events`. */
export const EventListSchema = Type.Object(
  { total: Type.Integer(), items: Type.Array(StoredEventSchema) },
  strict,
);

/** A school or device group. */
export const NamedSchema = Type.Object({ id: UuidSchema, name: Text(200) }, strict);

/** `PUT /api/v1/ict/schools/:id/name` and `/groups/:id/name` (admin): the new name. */
export const RenameRequestSchema = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 200, pattern: '^\\S(.*\\S)?$' }) },
  strict,
);
export type RenameRequest = Static<typeof RenameRequestSchema>;

/** `PUT /api/v1/ict/groups/:id/name` (admin) answers with the group as renamed. */
export const RenamedGroupSchema = Type.Object(
  {
    id: UuidSchema,
    name: Text(200),
    /**
     * AUP rules of the groups' current policies that name the old name and not the new one.
     * Devices match those rules by the group's name, so these no longer apply to this group's
     * devices until the policies name it anew.
     */
    aupRulesNamingOldName: Type.Array(
      Type.Object({ groupId: UuidSchema, group: Text(200), ruleId: Text(200) }, strict),
    ),
  },
  strict,
);
export type RenamedGroup = Static<typeof RenamedGroupSchema>;

/** A school or device group with how many active (not retired) devices it holds. */
export const OrganisationUnitSchema = Type.Object(
  { id: UuidSchema, name: Text(200), createdAt: IsoDateTimeSchema, devices: Type.Integer() },
  strict,
);
export type OrganisationUnit = Static<typeof OrganisationUnitSchema>;

/** `GET /api/v1/ict/organisation`: every school and device group, by name, with device counts. */
export const OrganisationSchema = Type.Object(
  { schools: Type.Array(OrganisationUnitSchema), groups: Type.Array(OrganisationUnitSchema) },
  strict,
);
export type Organisation = Static<typeof OrganisationSchema>;

/** `POST /api/v1/ict/tokens` (admin). */
export const CreateTokenRequestSchema = Type.Object(
  {
    schoolId: UuidSchema,
    groupId: UuidSchema,
    label: Type.String({ maxLength: 200 }),
    expiresInDays: Type.Integer({ minimum: 1, maximum: 365 }),
    maxUses: Type.Integer({ minimum: 1, maximum: 100_000 }),
  },
  strict,
);

/** An enrolment token as listed (the secret is shown once, at creation). */
export const TokenSchema = Type.Object(
  {
    id: UuidSchema,
    label: Text(200),
    school: Text(200),
    group: Text(200),
    expiresAt: IsoDateTimeSchema,
    maxUses: Type.Integer(),
    uses: Type.Integer(),
    revokedAt: Nullable(IsoDateTimeSchema),
    createdAt: IsoDateTimeSchema,
  },
  strict,
);
export type Token = Static<typeof TokenSchema>;

/** `PUT /api/v1/ict/groups/:id/policy` (admin) answers with the stored version. */
export const PolicyUploadResponseSchema = Type.Object(
  { groupId: UuidSchema, version: Type.Integer(), etag: Type.String(), policy: PolicySchema },
  strict,
);

const versionSummaryFields = {
  version: Type.Integer(),
  etag: Type.String(),
  publishedAt: IsoDateTimeSchema,
  publishedBy: Nullable(Text(100, { description: "Null: the server's command line." })),
  restoredFrom: Nullable(
    Type.Integer({ description: 'A rollback: the earlier version it republished.' }),
  ),
};

/** One published version of a group's policy: when, by whom, and what it restored. */
export const PolicyVersionSummarySchema = Type.Object(versionSummaryFields, strict);
export type PolicyVersionSummary = Static<typeof PolicyVersionSummarySchema>;

/** `GET /api/v1/ict/policies`: every device group with the version in force (null: none yet). */
export const GroupPolicyListSchema = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          groupId: UuidSchema,
          group: Text(200),
          /** Enrolled devices of the group, replaced ones left out. */
          devices: Type.Integer(),
          /** The version in force, with its policy's own name. */
          current: Nullable(Type.Object({ ...versionSummaryFields, name: Text(200) }, strict)),
        },
        strict,
      ),
    ),
  },
  strict,
);
export type GroupPolicyList = Static<typeof GroupPolicyListSchema>;

/** `GET /api/v1/ict/groups/:id/policy/versions`: newest first; `total` counts them all. */
export const PolicyVersionListSchema = Type.Object(
  {
    groupId: UuidSchema,
    group: Text(200),
    devices: Type.Integer(),
    total: Type.Integer(),
    items: Type.Array(PolicyVersionSummarySchema),
  },
  strict,
);
export type PolicyVersionList = Static<typeof PolicyVersionListSchema>;

/** `GET /api/v1/ict/groups/:id/policy/versions/:version`: one version, as stored and as YAML. */
export const PolicyVersionDetailSchema = Type.Object(
  {
    groupId: UuidSchema,
    ...versionSummaryFields,
    policy: Type.Unknown({
      description: "As stored: an old version may predate a change to today's policy schema.",
    }),
    yaml: Type.String({ description: 'The document as canonical YAML (schema key order).' }),
  },
  strict,
);
export type PolicyVersionDetail = Static<typeof PolicyVersionDetailSchema>;

/** One problem of a candidate policy, at its JSON pointer, with its line in the YAML sent. */
export const PolicyProblemSchema = Type.Object(
  {
    path: Type.String(),
    message: Type.String(),
    line: Nullable(Type.Integer({ minimum: 1 })),
  },
  strict,
);
export type PolicyProblem = Static<typeof PolicyProblemSchema>;

/** One line of a line diff of canonical YAML. */
export const PolicyDiffLineSchema = Type.Object(
  {
    change: Type.Union([Type.Literal('same'), Type.Literal('added'), Type.Literal('removed')]),
    text: Type.String(),
    oldLine: Nullable(Type.Integer()),
    newLine: Nullable(Type.Integer()),
  },
  strict,
);
export type PolicyDiffLine = Static<typeof PolicyDiffLineSchema>;

/** `POST /api/v1/ict/groups/:id/policy/check`: what publishing this body would do, without it. */
export const PolicyCheckResponseSchema = Type.Object(
  {
    groupId: UuidSchema,
    /** True when `PUT …/policy` with this body would publish it. */
    valid: Type.Boolean(),
    /** The PUT's refusal, word for word; null when valid. */
    message: Nullable(Type.String()),
    problems: Type.Array(PolicyProblemSchema),
    /** The version in force the diff is against; null when the group has none yet. */
    base: Nullable(Type.Object({ version: Type.Integer(), etag: Type.String() }, strict)),
    /** The version number publishing now would give it. */
    nextVersion: Type.Integer(),
    /** True when the candidate is the version in force apart from its version number. */
    unchanged: Type.Boolean(),
    /** The candidate as canonical YAML with `nextVersion`; null when it is not YAML at all. */
    yaml: Nullable(Type.String()),
    /** Canonical YAML of the version in force → of the candidate; null when it is not YAML. */
    diff: Nullable(
      Type.Object(
        {
          added: Type.Integer(),
          removed: Type.Integer(),
          /** False when too different to pair up: every old line removed, every new one added. */
          minimal: Type.Boolean(),
          lines: Type.Array(PolicyDiffLineSchema),
        },
        strict,
      ),
    ),
  },
  strict,
);
export type PolicyCheckResponse = Static<typeof PolicyCheckResponseSchema>;

/** `POST /api/v1/ict/groups/:id/policy/rollback` (admin): republish an earlier version. */
export const PolicyRollbackRequestSchema = Type.Object(
  { version: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) },
  strict,
);

/** The new version a rollback published. */
export const PolicyRollbackResponseSchema = Type.Object(
  { ...PolicyUploadResponseSchema.properties, restoredFrom: Type.Integer() },
  strict,
);

/** Where a USB approval applies: one device group, one school, or the whole trust. */
export const UsbApprovalScopeSchema = Type.Union([
  Type.Literal('group'),
  Type.Literal('school'),
  Type.Literal('trust'),
]);
export type UsbApprovalScope = Static<typeof UsbApprovalScopeSchema>;

/** `POST /api/v1/ict/usb/approvals` (admin): approve a stick (with serial) or a model (without). */
export const CreateUsbApprovalRequestSchema = Type.Object(
  {
    vendorId: Type.String({ pattern: '^[0-9a-fA-F]{4}$' }),
    productId: Type.String({ pattern: '^[0-9a-fA-F]{4}$' }),
    serial: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()], {
      description: 'Null approves the model: every stick with this vendor and product id.',
    }),
    description: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
    scope: UsbApprovalScopeSchema,
    /** The group's or school's id; absent for the trust. */
    scopeId: Type.Optional(UuidSchema),
    reason: Type.String({ minLength: 1, maxLength: 1000, pattern: '\\S' }),
    expiresAt: Type.Union([IsoDateTimeSchema, Type.Null()]),
  },
  strict,
);
export type CreateUsbApprovalRequest = Static<typeof CreateUsbApprovalRequestSchema>;

/** An approval as ICT reads it, with who made it and, once revoked, who revoked it. */
export const UsbApprovalSchema = Type.Object(
  {
    id: UuidSchema,
    vendorId: Type.String(),
    productId: Type.String(),
    serial: Nullable(Text(200)),
    description: Text(200),
    scope: UsbApprovalScopeSchema,
    scopeId: Nullable(UuidSchema),
    /** The group's or school's name; null for the trust. */
    scopeName: Nullable(Text(200)),
    reason: Text(1000),
    expiresAt: Nullable(IsoDateTimeSchema),
    approvedBy: Text(100),
    createdAt: IsoDateTimeSchema,
    revokedAt: Nullable(IsoDateTimeSchema),
    revokedBy: Nullable(Text(100)),
  },
  strict,
);
export type UsbApproval = Static<typeof UsbApprovalSchema>;

/** One stick (vendor, product, serial) that was blocked, as the trust-wide USB page lists it. */
export const UsbBlockedDeviceSchema = Type.Object(
  {
    vendorId: Text(200),
    productId: Text(200),
    serial: Nullable(Text(200)),
    /** The names it gave (a shared serial can come with several), at most 10. */
    names: Type.Array(Text(200)),
    /** Blocked decisions, counting those folded into one event by the guard's rate limit. */
    blocks: Type.Integer(),
    devices: Type.Integer(),
    /** Console users seen with it, at most 20; null is nobody signed in. */
    users: Type.Array(Nullable(Text(256))),
    lastSeenAt: IsoDateTimeSchema,
    /** The same serial was also seen with another vendor, product or name: bulk-bought sticks. */
    sharedSerial: Type.Boolean(),
  },
  strict,
);
export type UsbBlockedDevice = Static<typeof UsbBlockedDeviceSchema>;

/** `GET /api/v1/ict/usb/blocked`. */
export const UsbBlockedListSchema = Type.Object(
  { days: Type.Integer(), items: Type.Array(UsbBlockedDeviceSchema) },
  strict,
);
export type UsbBlockedList = Static<typeof UsbBlockedListSchema>;

/** Query of `GET /api/v1/ict/chase-list`. */
export const ChaseListQuerySchema = Type.Object(
  {
    schoolId: Type.Optional(UuidSchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000, default: 1000 })),
  },
  strict,
);
export type ChaseListQuery = Static<typeof ChaseListQuerySchema>;

/** One failing device to chase: which checks fail and since when, who used it, when it spoke. */
export const ChaseItemSchema = Type.Object(
  {
    id: UuidSchema,
    hostname: Text(255),
    schoolId: UuidSchema,
    school: Text(200),
    group: Text(200),
    /** The latest status of every check the device reports. */
    checks: Type.Array(Type.Object({ checkId: CheckIdSchema, status: CheckStatusSchema }, strict)),
    /** Each failing check and when it turned to fail (from the history of changes). */
    failing: Type.Array(Type.Object({ checkId: CheckIdSchema, since: IsoDateTimeSchema }, strict)),
    /** The most recent user an event of this device named, if any did. */
    lastUser: Nullable(Text(256)),
    lastSeenAt: Nullable(IsoDateTimeSchema),
  },
  strict,
);
export type ChaseItem = Static<typeof ChaseItemSchema>;

/** `GET /api/v1/ict/chase-list`: failing devices, longest-failing first. */
export const ChaseListSchema = Type.Object(
  {
    /** Failing devices in all, of which `items` holds the first `limit`. */
    total: Type.Integer(),
    items: Type.Array(ChaseItemSchema),
  },
  strict,
);
export type ChaseList = Static<typeof ChaseListSchema>;

/** An ICT account as listed: never its password or hash. */
export const AccountSchema = Type.Object(
  {
    id: UuidSchema,
    username: Text(100),
    role: RoleSchema,
    createdAt: IsoDateTimeSchema,
    /** When it was disabled; null while it may sign in. */
    disabledAt: Nullable(IsoDateTimeSchema),
    /** When its password was last set (at creation, or by an admin's reset). */
    passwordChangedAt: IsoDateTimeSchema,
    /**
     * Its latest successful sign-in; null when none was recorded (accounts that have not signed
     * in since this was first recorded, migration 014). Given to admins only, like the audit log:
     * when a named colleague signs in is not a viewer's business.
     */
    lastSignInAt: Type.Optional(Nullable(IsoDateTimeSchema)),
  },
  strict,
);
export type Account = Static<typeof AccountSchema>;

/** `PUT /api/v1/ict/users/:id/role` (admin). */
export const SetRoleRequestSchema = Type.Object({ role: RoleSchema }, strict);

/** `PUT /api/v1/ict/users/:id/password` (admin): the new password (12–200 characters). */
export const SetPasswordRequestSchema = Type.Object(
  { password: Type.String({ minLength: 1, maxLength: 200 }) },
  strict,
);

/** What an admin's change to an account did: the account after it, and the sessions it ended. */
export const AccountChangeSchema = Type.Object(
  { account: AccountSchema, sessionsEnded: Type.Integer({ minimum: 0 }) },
  strict,
);
export type AccountChange = Static<typeof AccountChangeSchema>;

/** Every admin action the audit log records: `noun.verb`, like device events. */
export const AuditActionSchema = Type.Union([
  Type.Literal('token.create'),
  Type.Literal('token.revoke'),
  Type.Literal('user.create'),
  Type.Literal('user.disable'),
  Type.Literal('user.enable'),
  Type.Literal('user.change-role'),
  Type.Literal('user.reset-password'),
  Type.Literal('usb.approve'),
  Type.Literal('usb.revoke'),
  Type.Literal('policy.upload'),
  Type.Literal('policy.rollback'),
  Type.Literal('school.create'),
  Type.Literal('school.rename'),
  Type.Literal('group.create'),
  Type.Literal('group.rename'),
  Type.Literal('re-enrolment.allow'),
  Type.Literal('re-enrolment.withdraw'),
  Type.Literal('alert-destination.create'),
  Type.Literal('alert-destination.enable'),
  Type.Literal('alert-destination.disable'),
  Type.Literal('alert-destination.remove'),
  Type.Literal('alert-destination.test'),
  Type.Literal('alert-delivery.retry'),
  Type.Literal('person.export'),
]);
export type AuditAction = Static<typeof AuditActionSchema>;

/** A calendar day, `YYYY-MM-DD` (UTC). */
const DaySchema = Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])$' });

/** `GET /api/v1/ict/audit` (admin): filters; each absent one lets everything through. */
export const AuditQuerySchema = Type.Object(
  {
    action: Type.Optional(AuditActionSchema),
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    from: Type.Optional(DaySchema),
    to: Type.Optional(DaySchema),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 500 })),
  },
  strict,
);
export type AuditQuery = Static<typeof AuditQuerySchema>;

/** One admin action: who, what, to what, when, and the target before and after it. */
export const AuditEntrySchema = Type.Object(
  {
    id: Type.String({ maxLength: 20 }),
    at: IsoDateTimeSchema,
    actor: Text(100),
    action: Text(100),
    targetType: Text(50),
    targetId: Text(200),
    before: Type.Unknown(),
    after: Type.Unknown(),
  },
  strict,
);
export type AuditEntry = Static<typeof AuditEntrySchema>;

/** `GET /api/v1/ict/audit`: newest first; `total` counts every match, `actors` everyone who acted. */
export const AuditListSchema = Type.Object(
  {
    total: Type.Integer(),
    items: Type.Array(AuditEntrySchema),
    actors: Type.Array(Text(100)),
  },
  strict,
);
export type AuditList = Static<typeof AuditListSchema>;
