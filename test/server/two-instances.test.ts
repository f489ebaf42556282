// ARCHITECTURE.md "Storage": several stateless instances share one PostgreSQL; all shared state
// (nonces, token uses) lives in the database. Two apps over one database must agree. On
// PostgreSQL the second app has its own connection pool; PGlite is embedded in one process, so
// there the two apps share its handle — still two apps with nothing in common but the database.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp } from '../../server/app.ts';
import { defaultServerConfig } from '../../server/config.ts';
import { openPostgres } from '../../server/db/postgres.ts';
import type { FastifyInstance } from 'fastify';
import { SCHEMA_VERSION } from '../../shared/index.ts';
import { describeEachEngine } from '../helpers/databases.ts';
import { send, TestDevice, usbBlocked } from '../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

describeEachEngine('two server instances sharing one database', (engine) => {
  let first: TestServer;
  let second: FastifyInstance;
  let closeSecond: () => Promise<void>;
  beforeAll(async () => {
    first = await startTestServer(engine);
    const url = first.db.url;
    const db = url === null ? first.db : openPostgres(url);
    second = await buildApp({
      config: { ...defaultServerConfig, logLevel: 'silent' },
      db,
      logger: false,
    });
    closeSecond = async () => {
      await second.close();
      if (db !== first.db) {
        await db.close();
      }
    };
  });
  afterAll(async () => {
    await closeSecond();
    await first.close();
  });

  it('a request replayed against the other instance is refused', async () => {
    const device = new TestDevice();
    await device.enrol(first.app, first.token);
    const body = JSON.stringify({
      schemaVersion: SCHEMA_VERSION,
      reports: [],
      events: [usbBlocked()],
    });
    const headers = device.sign('POST', '/api/v1/reports', body);
    expect((await send(first.app, 'POST', '/api/v1/reports', body, headers)).status).toBe(200);
    const replay = await send(second, 'POST', '/api/v1/reports', body, headers);
    expect(replay.json()).toMatchObject({ error: 'replayed' });
  });

  it('a one-use token enrols exactly one device across both instances', async () => {
    const { token } = await first.newToken({ maxUses: 1 });
    const answers = await Promise.all([
      new TestDevice().enrol(first.app, token),
      new TestDevice().enrol(second, token),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([201, 403]);
  });
});
