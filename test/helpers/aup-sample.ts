// AUP events as a device's service records them, over the documents the test server really
// stores (the example policy), and new document versions published the way ICT publishes them.
import { createHash, randomUUID } from 'node:crypto';
import { SCHEMA_VERSION, type AgentEvent, type Policy } from '../../shared/index.ts';
import type { Database } from '../../server/db/db.ts';
import { currentPolicy, uploadPolicy } from '../../server/store/policies.ts';

/** A document of a policy's `aup` section. */
export type AupDoc = Policy['aup']['documents'][number];

/** The SHA-256 the contract names: title, introduction and statements joined by newlines. */
export const textSha256 = (doc: Pick<AupDoc, 'title' | 'introduction' | 'statements'>): string =>
  createHash('sha256')
    .update([doc.title, doc.introduction, ...doc.statements].join('\n'))
    .digest('hex');

/** The documents of a group's policy in force. */
export async function documentsInForce(db: Database, groupId: string): Promise<AupDoc[]> {
  const policy = await currentPolicy(db, groupId);
  if (policy === null) {
    throw new Error('the group has no policy');
  }
  return policy.document.aup.documents;
}

/** The document of a role in force for a group. */
export async function documentFor(
  db: Database,
  groupId: string,
  role: 'staff' | 'pupil',
): Promise<AupDoc> {
  const doc = (await documentsInForce(db, groupId)).find(
    (d) => d.role === role && d.kind === 'aup',
  );
  if (doc === undefined) {
    throw new Error(`no ${role} AUP in the policy`);
  }
  return doc;
}

/** An `aup.accepted` event: every statement ticked unless `acknowledged` says otherwise. */
export function aupAccepted(
  doc: AupDoc,
  options: {
    user: string;
    at?: Date;
    fullName?: string;
    tutorGroup?: string | null;
    parentCarer?: string | null;
    acknowledged?: number[];
    textSha256?: string;
  },
): AgentEvent {
  return {
    schemaVersion: SCHEMA_VERSION,
    id: randomUUID(),
    occurredAt: (options.at ?? new Date()).toISOString(),
    type: 'aup.accepted',
    data: {
      user: options.user,
      role: doc.role,
      documentId: doc.id,
      kind: doc.kind,
      version: doc.version,
      textSha256: options.textSha256 ?? textSha256(doc),
      acknowledged: options.acknowledged ?? doc.statements.map((_, i) => i),
      fullName: options.fullName ?? options.user,
      tutorGroup: options.tutorGroup ?? (doc.askTutorGroup ? '7R' : null),
      parentCarer: options.parentCarer ?? (doc.askParentCarer ? 'A. Parent' : null),
    },
  };
}

/** An `aup.declined` event. */
export function aupDeclined(
  doc: AupDoc,
  options: {
    user: string;
    at?: Date;
    action?: 'sign-out' | 'lock' | 'record-only';
    reason?: 'declined' | 'no-tray' | 'no-answer';
    actionError?: string | null;
  },
): AgentEvent {
  return {
    schemaVersion: SCHEMA_VERSION,
    id: randomUUID(),
    occurredAt: (options.at ?? new Date()).toISOString(),
    type: 'aup.declined',
    data: {
      user: options.user,
      role: doc.role,
      documentId: doc.id,
      kind: doc.kind,
      version: doc.version,
      textSha256: textSha256(doc),
      action: options.action ?? 'sign-out',
      actionError: options.actionError ?? null,
      ...(options.reason === undefined ? {} : { reason: options.reason }),
    },
  };
}

/** An `idle.locked` event for a user. */
export function idleLocked(user: string, at = new Date()): AgentEvent {
  return {
    schemaVersion: SCHEMA_VERSION,
    id: randomUUID(),
    occurredAt: at.toISOString(),
    type: 'idle.locked',
    data: { user, idleSeconds: 300 },
  };
}

/**
 * Publishes a new version of one document in the group's policy, as ICT uploads a policy: the
 * text changes with it. Returns the new document.
 */
export async function publishVersion(
  db: Database,
  groupId: string,
  documentId: string,
  version: string,
): Promise<AupDoc> {
  const policy = await currentPolicy(db, groupId);
  if (policy === null) {
    throw new Error('the group has no policy');
  }
  const documents = policy.document.aup.documents.map((d) =>
    d.id === documentId
      ? { ...d, version, statements: [...d.statements, `Added in version ${version}.`] }
      : d,
  );
  const uploaded = await db.transaction((tx) =>
    uploadPolicy(tx, {
      groupId,
      policy: { ...policy.document, aup: { ...policy.document.aup, documents } },
      uploadedBy: null,
    }),
  );
  const doc = uploaded.document.aup.documents.find((d) => d.id === documentId);
  if (doc === undefined) {
    throw new Error(`no document ${documentId}`);
  }
  return doc;
}
