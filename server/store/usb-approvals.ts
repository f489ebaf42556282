// USB storage approvals ICT makes on the dashboard (issue 13): created, listed, revoked, and the
// ones in force for one device. Rows are never deleted; a revocation is stamped on its row.
import type { UsbAllowEntry, UsbApproval, UsbApprovalScope } from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import { iso, isoRequired } from './read-values.ts';

/** What an admin asks for. Ids are lower-case hex, as the guard reports them. */
export interface NewUsbApproval {
  vendorId: string;
  productId: string;
  serial: string | null;
  description: string;
  scope: UsbApprovalScope;
  /** The group's id for `group`, the school's for `school`, null for `trust`. */
  scopeId: string | null;
  reason: string;
  expiresAt: Date | null;
  approvedBy: string;
}

interface ApprovalRow {
  id: string;
  vendor_id: string;
  product_id: string;
  serial: string | null;
  description: string;
  scope: UsbApprovalScope;
  group_id: string | null;
  school_id: string | null;
  scope_name: string | null;
  reason: string;
  expires_at: Date | null;
  approved_by: string;
  created_at: Date;
  revoked_at: Date | null;
  revoked_by: string | null;
}

const SELECT = `
  select a.id, a.vendor_id, a.product_id, a.serial, a.description, a.scope, a.group_id,
         a.school_id, coalesce(g.name, s.name) as scope_name, a.reason, a.expires_at,
         approver.username as approved_by, a.created_at, a.revoked_at,
         revoker.username as revoked_by
    from usb_approvals a
    join users approver on approver.id = a.approved_by
    left join users revoker on revoker.id = a.revoked_by
    left join device_groups g on g.id = a.group_id
    left join schools s on s.id = a.school_id`;

const toApproval = (row: ApprovalRow): UsbApproval => ({
  id: row.id,
  vendorId: row.vendor_id,
  productId: row.product_id,
  serial: row.serial,
  description: row.description,
  scope: row.scope,
  scopeId: row.group_id ?? row.school_id,
  scopeName: row.scope_name,
  reason: row.reason,
  expiresAt: iso(row.expires_at),
  approvedBy: row.approved_by,
  createdAt: isoRequired(row.created_at),
  revokedAt: iso(row.revoked_at),
  revokedBy: row.revoked_by,
});

/**
 * Records an approval; null when the scope's group or school does not exist. The scope row is
 * locked so that the check and the insert see the same organisation.
 */
export async function createUsbApproval(
  db: Queryable,
  input: NewUsbApproval,
): Promise<UsbApproval | null> {
  const rows = await db.query<{ id: string }>(
    `insert into usb_approvals (vendor_id, product_id, serial, description, scope, group_id,
                                school_id, reason, expires_at, approved_by)
     select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
      where $5 = 'trust'
         or ($5 = 'group' and exists (select 1 from device_groups where id = $6))
         or ($5 = 'school' and exists (select 1 from schools where id = $7))
     returning id`,
    [
      input.vendorId.toLowerCase(),
      input.productId.toLowerCase(),
      input.serial,
      input.description,
      input.scope,
      input.scope === 'group' ? input.scopeId : null,
      input.scope === 'school' ? input.scopeId : null,
      input.reason,
      input.expiresAt,
      input.approvedBy,
    ],
  );
  const id = rows[0]?.id;
  return id === undefined ? null : findUsbApproval(db, id);
}

/**
 * One approval, revoked or not; null when there is none with this id. In a transaction, `lock`
 * holds its row until the end.
 */
export async function findUsbApproval(
  db: Queryable,
  id: string,
  options: { lock?: boolean } = {},
): Promise<UsbApproval | null> {
  const rows = await db.query<ApprovalRow>(
    `${SELECT} where a.id = $1${options.lock === true ? ' for update of a' : ''}`,
    [id],
  );
  return rows[0] === undefined ? null : toApproval(rows[0]);
}

/** Every approval, newest first; revoked ones too unless `openOnly`. */
export async function listUsbApprovals(
  db: Queryable,
  options: { openOnly?: boolean; limit?: number } = {},
): Promise<UsbApproval[]> {
  const rows = await db.query<ApprovalRow>(
    `${SELECT} ${options.openOnly === true ? 'where a.revoked_at is null' : ''}
      order by a.created_at desc, a.id limit $1`,
    [options.limit ?? 1000],
  );
  return rows.map(toApproval);
}

/**
 * Revokes an approval; the approval as it now stands, or null when there is none. Revoking a
 * revoked one changes nothing: the first revocation and its admin stay on record.
 */
export async function revokeUsbApproval(
  db: Queryable,
  input: { id: string; revokedBy: string; at: Date },
): Promise<UsbApproval | null> {
  await db.query(
    `update usb_approvals set revoked_at = $2, revoked_by = $3
      where id = $1 and revoked_at is null`,
    [input.id, input.at, input.revokedBy],
  );
  return findUsbApproval(db, input.id);
}

/**
 * The unrevoked, unexpired approvals that apply to a device of this group and school, as
 * allowlist entries, oldest first (a stable order keeps the policy's ETag stable).
 */
export async function approvalsForDevice(
  db: Queryable,
  device: { groupId: string; schoolId: string },
  now: Date,
): Promise<UsbAllowEntry[]> {
  const rows = await db.query<ApprovalRow>(
    `${SELECT}
      where a.revoked_at is null
        and (a.expires_at is null or a.expires_at > $3)
        and (a.scope = 'trust' or (a.scope = 'group' and a.group_id = $1)
             or (a.scope = 'school' and a.school_id = $2))
      order by a.created_at, a.id`,
    [device.groupId, device.schoolId, now],
  );
  return rows.map((row) => ({
    vendorId: row.vendor_id,
    productId: row.product_id,
    ...(row.serial === null ? {} : { serial: row.serial }),
    description: row.description,
    approvalId: row.id,
    approvedBy: row.approved_by,
    reason: row.reason,
    expiresAt: iso(row.expires_at),
  }));
}
