import { afterAll, beforeAll, expect, it } from 'vitest';
import { PolicySchema, validate } from '../../../../../shared/index.ts';
import { uploadPolicy } from '../../../../../server/store/policies.ts';
import { ensureDeviceGroup } from '../../../../../server/store/organisation.ts';
import { describeEachEngine } from '../../../../helpers/databases.ts';
import { send, TestDevice } from '../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../helpers/test-server.ts';

describeEachEngine('GET /api/v1/policy', (engine) => {
  let server: TestServer;
  const device = new TestDevice();
  beforeAll(async () => {
    server = await startTestServer(engine);
    await device.enrol(server.app, server.token);
  });
  afterAll(() => server.close());

  it("answers the device group's policy with an ETag, then 304 for that ETag", async () => {
    const first = await device.signed(server.app, 'GET', '/api/v1/policy');
    expect(first.status).toBe(200);
    const policy = first.json();
    expect(validate(PolicySchema, policy).ok).toBe(true);
    expect(policy).toMatchObject({ name: 'Pupil laptops', version: 1 });
    const etag = String(first.headers.etag);
    const again = await device.signed(server.app, 'GET', '/api/v1/policy', undefined, {
      'if-none-match': etag,
    });
    expect(again.status).toBe(304);
    // The device's group is named on both, for its AUP rules by device group.
    expect(first.headers['hallpass-device-group']).toBe('Pupil%20laptops');
    expect(again.headers['hallpass-device-group']).toBe('Pupil%20laptops');
  });

  it('a new upload bumps the version and the ETag', async () => {
    const before = await device.signed(server.app, 'GET', '/api/v1/policy');
    const policy = before.json() as Parameters<typeof uploadPolicy>[1]['policy'];
    await server.db.transaction((tx) =>
      uploadPolicy(tx, {
        groupId: server.groupId,
        policy: { ...policy, name: 'Pupil laptops v2' },
        uploadedBy: null,
      }),
    );
    const after = await device.signed(server.app, 'GET', '/api/v1/policy', undefined, {
      'if-none-match': String(before.headers.etag),
    });
    expect(after.status).toBe(200);
    expect(after.json()).toMatchObject({ name: 'Pupil laptops v2', version: 2 });
    expect(after.headers.etag).not.toBe(before.headers.etag);
  });

  it('a group without a policy answers 404 no-policy', async () => {
    const group = await ensureDeviceGroup(server.db, 'Staff laptops');
    const { token } = await server.newToken();
    const staff = new TestDevice();
    await staff.enrol(server.app, token);
    await server.db.query('update devices set group_id = $1 where id = $2', [group.id, staff.id]);
    const answer = await staff.signed(server.app, 'GET', '/api/v1/policy');
    expect(answer.status).toBe(404);
    expect(answer.json()).toMatchObject({ error: 'no-policy' });
  });

  it('an unsigned request is 401', async () => {
    const answer = await send(server.app, 'GET', '/api/v1/policy', undefined);
    expect(answer.status).toBe(401);
    expect(answer.json()).toMatchObject({ error: 'missing-signature' });
  });
});
