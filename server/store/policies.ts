import { createHash } from 'node:crypto';
import type { Policy } from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';
import { isoRequired } from './read-values.ts';

/** The policy in force for a device group, with its ETag. */
export interface StoredPolicy {
  document: Policy;
  version: number;
  etag: string;
}

/**
 * Stores a new version of a group's policy. The server owns `version`: whatever the upload says,
 * it becomes one more than the group's newest. Concurrent uploads are serialised by the unique key.
 * `restoredFrom` marks a rollback: the earlier version whose document this one republishes.
 */
export async function uploadPolicy(
  tx: Queryable,
  input: { groupId: string; policy: Policy; uploadedBy: string | null; restoredFrom?: number },
): Promise<StoredPolicy> {
  await tx.query('select id from device_groups where id = $1 for update', [input.groupId]);
  const rows = await tx.query<{ next: number }>(
    'select coalesce(max(version), 0) + 1 as next from policies where group_id = $1',
    [input.groupId],
  );
  const version = rows[0]?.next ?? 1;
  const document: Policy = { ...input.policy, version };
  const text = JSON.stringify(document);
  const etag = `"${createHash('sha256').update(text).digest('base64url').slice(0, 32)}"`;
  await tx.query(
    `insert into policies (group_id, version, document, etag, uploaded_by, restored_from)
     values ($1, $2, $3, $4, $5, $6)`,
    [input.groupId, version, text, etag, input.uploadedBy, input.restoredFrom ?? null],
  );
  return { document, version, etag };
}

/** The newest policy of a group, or null when ICT has not uploaded one. */
export async function currentPolicy(db: Queryable, groupId: string): Promise<StoredPolicy | null> {
  const rows = await db.query<{ document: Policy; version: number; etag: string }>(
    'select document, version, etag from policies where group_id = $1 order by version desc limit 1',
    [groupId],
  );
  return rows[0] ?? null;
}

/** One published version as the history lists it: when, by whom, and what it restored. */
export interface PolicyVersionRow {
  version: number;
  etag: string;
  publishedAt: string;
  /** The ICT account that published it; null when the server's command line did. */
  publishedBy: string | null;
  /** The earlier version this one republished (a rollback), or null. */
  restoredFrom: number | null;
}

interface VersionColumns {
  version: number;
  etag: string;
  created_at: Date;
  username: string | null;
  restored_from: number | null;
}

const VERSION_COLUMNS = `p.version, p.etag, p.created_at, u.username, p.restored_from
    from policies p left join users u on u.id = p.uploaded_by`;

const versionRow = (row: VersionColumns): PolicyVersionRow => ({
  version: row.version,
  etag: row.etag,
  publishedAt: isoRequired(row.created_at),
  publishedBy: row.username,
  restoredFrom: row.restored_from,
});

/** A group's versions, newest first (at most `limit`), and how many there are in all. */
export async function listPolicyVersions(
  db: Queryable,
  groupId: string,
  limit: number,
): Promise<{ total: number; items: PolicyVersionRow[] }> {
  const [rows, counts] = await Promise.all([
    db.query<VersionColumns>(
      `select ${VERSION_COLUMNS} where p.group_id = $1 order by p.version desc limit $2`,
      [groupId, limit],
    ),
    db.query<{ n: number }>('select count(*)::int as n from policies where group_id = $1', [
      groupId,
    ]),
  ]);
  return { total: counts[0]?.n ?? 0, items: rows.map(versionRow) };
}

/** One version of a group's policy with its document, or null when the group has no such one. */
export async function policyVersion(
  db: Queryable,
  groupId: string,
  version: number,
): Promise<(PolicyVersionRow & { document: Policy }) | null> {
  const rows = await db.query<VersionColumns & { document: Policy }>(
    `select p.document, ${VERSION_COLUMNS} where p.group_id = $1 and p.version = $2`,
    [groupId, version],
  );
  const row = rows[0];
  return row === undefined ? null : { ...versionRow(row), document: row.document };
}

/** Every device group, by name, with its active devices and the version in force (or null). */
export async function groupPolicies(db: Queryable): Promise<
  {
    groupId: string;
    group: string;
    devices: number;
    current: (PolicyVersionRow & { name: string }) | null;
  }[]
> {
  const rows = await db.query<
    { group_id: string; group_name: string; devices: number; name: string | null } & {
      [K in keyof VersionColumns]: VersionColumns[K] | null;
    }
  >(
    `select g.id as group_id, g.name as group_name,
            (select count(*)::int from devices d
              where d.group_id = g.id and d.retired_at is null) as devices,
            p.version, p.etag, p.created_at, u.username, p.restored_from,
            p.document ->> 'name' as name
       from device_groups g
       left join lateral (
         select * from policies where group_id = g.id order by version desc limit 1
       ) p on true
       left join users u on u.id = p.uploaded_by
      order by g.name`,
  );
  return rows.map((row) => ({
    groupId: row.group_id,
    group: row.group_name,
    devices: row.devices,
    current:
      row.version === null || row.etag === null || row.created_at === null
        ? null
        : {
            ...versionRow({
              version: row.version,
              etag: row.etag,
              created_at: row.created_at,
              username: row.username,
              restored_from: row.restored_from,
            }),
            name: row.name ?? '',
          },
  }));
}
