import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEVICE_KEY_TTL_MS, DeviceKeyCache } from '../../../server/auth/device-keys.ts';
import { describeEachEngine } from '../../helpers/databases.ts';
import { TestDevice } from '../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';

describeEachEngine('DeviceKeyCache', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(engine);
  });
  afterAll(() => server.close());

  /** A device enrolled through the real route, and a cache on a clock the test moves. */
  async function setUp() {
    const device = new TestDevice();
    expect((await device.enrol(server.app, server.token)).status).toBe(201);
    let now = 1_000_000;
    const cache = new DeviceKeyCache(() => now);
    return { device, cache, advance: (ms: number) => (now += ms) };
  }

  const retire = (id: string) =>
    server.db.query('update devices set retired_at = now() where id = $1', [id]);

  it('returns the enrolled public key, imported', async () => {
    const { device, cache } = await setUp();
    const key = await cache.lookup(server.db, device.id);
    expect(key?.asymmetricKeyType).toBe('ec');
    expect(key?.export({ format: 'der', type: 'spki' }).toString('base64url')).toBe(
      device.publicKey,
    );
  });

  it('a device retired elsewhere is refused once its entry expires (another instance retired it)', async () => {
    const { device, cache, advance } = await setUp();
    expect(await cache.lookup(server.db, device.id)).not.toBeNull();
    await retire(device.id);
    // Within the TTL this instance still trusts what it read: the documented bound.
    advance(DEVICE_KEY_TTL_MS - 1);
    expect(await cache.lookup(server.db, device.id)).not.toBeNull();
    advance(1);
    expect(await cache.lookup(server.db, device.id)).toBeNull();
  });

  it('forget drops a device at once', async () => {
    const { device, cache } = await setUp();
    expect(await cache.lookup(server.db, device.id)).not.toBeNull();
    await retire(device.id);
    cache.forget(device.id);
    expect(await cache.lookup(server.db, device.id)).toBeNull();
  });

  it('never caches an unknown device, so one enrolled a moment later is accepted', async () => {
    const cache = new DeviceKeyCache(() => 0);
    const device = new TestDevice();
    const unknownId = '00000000-0000-4000-8000-000000000000';
    expect(await cache.lookup(server.db, unknownId)).toBeNull();
    expect(await cache.lookup(server.db, 'not-a-uuid')).toBeNull();
    expect((await device.enrol(server.app, server.token)).status).toBe(201);
    expect(await cache.lookup(server.db, device.id)).not.toBeNull();
  });
});
