// A real server app on a real (fresh) database, with a school, a group, a policy and a token.
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../server/app.ts';
import { defaultServerConfig, type ServerConfig } from '../../server/config.ts';
import type { Database } from '../../server/db/db.ts';
import { ensureDeviceGroup, ensureSchool } from '../../server/store/organisation.ts';
import { uploadPolicy } from '../../server/store/policies.ts';
import { createEnrolmentToken } from '../../server/store/tokens.ts';
import { readPolicyFile } from '../../agent/core/policy/policy-file.ts';
import type { Engine } from './databases.ts';

/** What a server test works with. */
export interface TestServer {
  app: FastifyInstance;
  db: Database & { url: string | null };
  schoolId: string;
  groupId: string;
  /** A token for 1,000 enrolments, valid for a day. */
  token: string;
  /** Makes another token with its own limits. */
  newToken(options?: {
    maxUses?: number;
    expiresAt?: Date;
  }): Promise<{ id: string; token: string }>;
  close(): Promise<void>;
}

const examplePolicy = new URL('../../agent/core/policy/example-policy.yaml', import.meta.url)
  .pathname;

/** Builds the app over a fresh database of `engine`. */
export async function startTestServer(
  engine: Engine,
  config: Partial<ServerConfig> = {},
  now?: () => Date,
): Promise<TestServer> {
  const db = await engine.open();
  const app = await buildApp({
    config: { ...defaultServerConfig, logLevel: 'silent', ...config },
    db,
    logger: false,
    ...(now === undefined ? {} : { now }),
  });
  const school = await ensureSchool(db, 'Northgate Primary');
  const group = await ensureDeviceGroup(db, 'Pupil laptops');
  await db.transaction((tx) =>
    readPolicyFile(examplePolicy).then((policy) =>
      uploadPolicy(tx, { groupId: group.id, policy, uploadedBy: null }),
    ),
  );
  const newToken = (options: { maxUses?: number; expiresAt?: Date } = {}) =>
    createEnrolmentToken(db, {
      schoolId: school.id,
      groupId: group.id,
      label: 'test',
      expiresAt: options.expiresAt ?? new Date(Date.now() + 86_400_000),
      maxUses: options.maxUses ?? 1000,
      createdBy: null,
    });
  const { token } = await newToken();
  return {
    app,
    db,
    schoolId: school.id,
    groupId: group.id,
    token,
    newToken,
    close: async () => {
      await app.close();
      await db.close();
    },
  };
}
