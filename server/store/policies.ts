import { createHash } from 'node:crypto';
import type { Policy } from '../../shared/index.ts';
import type { Queryable } from '../db/db.ts';

/** The policy in force for a device group, with its ETag. */
export interface StoredPolicy {
  document: Policy;
  version: number;
  etag: string;
}

/**
 * Stores a new version of a group's policy. The server owns `version`: whatever the upload says,
 * it becomes one more than the group's newest. Concurrent uploads are serialised by the unique key.
 */
export async function uploadPolicy(
  tx: Queryable,
  input: { groupId: string; policy: Policy; uploadedBy: string | null },
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
    'insert into policies (group_id, version, document, etag, uploaded_by) values ($1, $2, $3, $4, $5)',
    [input.groupId, version, text, etag, input.uploadedBy],
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
