import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PolicySchema,
  validate,
  type AgentEvent,
  type Policy,
  type UsbApproval,
  type UsbBlockedList,
} from '../../../../../../shared/index.ts';
import { insertServerEvent } from '../../../../../../server/store/devices.ts';
import { ensureSchool } from '../../../../../../server/store/organisation.ts';
import { BLOCKED_STICKS_SQL } from '../../../../../../server/store/usb-blocked.ts';
import { describeEachEngine } from '../../../../../helpers/databases.ts';
import { report, result, TestDevice } from '../../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../../helpers/test-server.ts';
import { usbBlockedData, usbBlockedEvent } from '../../../../../helpers/usb-sample.ts';
import { newBrowser, type Browser } from './ict-session.ts';

const APPROVALS = '/api/v1/ict/usb/approvals';

const blocked = usbBlockedEvent;

describeEachEngine('ICT USB API', (engine) => {
  let server: TestServer;
  let admin: Browser;
  let viewer: Browser;
  const device = new TestDevice();
  const elsewhere = new TestDevice();

  beforeAll(async () => {
    server = await startTestServer(engine);
    admin = await newBrowser(server.app, server.db, 'ada', 'admin');
    viewer = await newBrowser(server.app, server.db, 'vic', 'viewer');
    await device.enrol(server.app, server.token);
    // A device of another school, in the same group.
    const other = await ensureSchool(server.db, 'Riverside Academy');
    await elsewhere.enrol(server.app, server.token);
    await server.db.query('update devices set school_id = $1 where id = $2', [
      other.id,
      elsewhere.id,
    ]);
  });
  afterAll(() => server.close());

  const approve = (payload: Record<string, unknown>, browser = admin) =>
    browser.request({ method: 'POST', url: APPROVALS, payload });
  const valid = () => ({
    vendorId: '0781',
    productId: '5581',
    serial: '4C530001',
    description: 'SanDisk Ultra',
    scope: 'school',
    scopeId: server.schoolId,
    reason: 'Year 11 art exam: photos to the print room',
    expiresAt: null,
  });
  const fetchPolicy = async (who: TestDevice, etag?: string) => {
    const answer = await who.signed(
      server.app,
      'GET',
      '/api/v1/policy',
      undefined,
      etag === undefined ? {} : { 'if-none-match': etag },
    );
    return {
      status: answer.status,
      etag: String(answer.headers.etag),
      policy: answer.status === 200 ? (answer.json() as Policy) : null,
    };
  };
  const approved = (policy: Policy | null) =>
    (policy?.usb.allow ?? []).filter((entry) => entry.approvalId !== undefined);

  describe('approvals and the policy devices fetch', () => {
    it('an approval reaches the devices in scope under a new ETag; a revocation takes it back', async () => {
      const before = await fetchPolicy(device);
      expect(before.status).toBe(200);
      const handWritten = before.policy?.usb.allow.length ?? 0;

      const created = await approve(valid());
      expect(created.statusCode).toBe(201);
      const approval = created.json<UsbApproval>();
      expect(approval).toMatchObject({
        vendorId: '0781',
        serial: '4C530001',
        scope: 'school',
        scopeName: 'Northgate Primary',
        approvedBy: 'ada',
        revokedAt: null,
      });

      // The device's conditional fetch with its old ETag gets the new policy.
      const after = await fetchPolicy(device, before.etag);
      expect(after.status).toBe(200);
      expect(after.etag).not.toBe(before.etag);
      expect(validate(PolicySchema, after.policy).ok).toBe(true);
      expect(after.policy?.usb.allow).toHaveLength(handWritten + 1);
      expect(approved(after.policy)).toEqual([
        {
          vendorId: '0781',
          productId: '5581',
          serial: '4C530001',
          description: 'SanDisk Ultra',
          approvalId: approval.id,
          approvedBy: 'ada',
          reason: 'Year 11 art exam: photos to the print room',
          expiresAt: null,
        },
      ]);
      expect((await fetchPolicy(device, after.etag)).status).toBe(304);
      // The other school's device is out of scope: its policy and ETag are the group's.
      const other = await fetchPolicy(elsewhere, before.etag);
      expect(other.status).toBe(304);

      const revoked = await admin.request({
        method: 'POST',
        url: `${APPROVALS}/${approval.id}/revoke`,
      });
      expect(revoked.statusCode).toBe(200);
      expect(revoked.json()).toMatchObject({ id: approval.id, revokedBy: 'ada' });
      const gone = await fetchPolicy(device, after.etag);
      expect(gone.status).toBe(200);
      expect(approved(gone.policy)).toEqual([]);
      expect(gone.etag).toBe(before.etag);

      // Both stay on record, with their admins.
      const listed = (await viewer.request({ method: 'GET', url: APPROVALS })).json<
        UsbApproval[]
      >();
      expect(listed.find((a) => a.id === approval.id)).toMatchObject({
        approvedBy: 'ada',
        revokedBy: 'ada',
      });
      const open = (await viewer.request({ method: 'GET', url: `${APPROVALS}?open=true` })).json<
        UsbApproval[]
      >();
      expect(open.map((a) => a.id)).not.toContain(approval.id);
      // Revoking again keeps the first revocation.
      const again = await admin.request({
        method: 'POST',
        url: `${APPROVALS}/${approval.id}/revoke`,
      });
      expect(again.json<UsbApproval>().revokedAt).toBe(revoked.json<UsbApproval>().revokedAt);
    });

    it('a model approval for the trust reaches every device; one for a group only its own', async () => {
      const model = await approve({
        ...valid(),
        serial: null,
        scope: 'trust',
        scopeId: undefined,
        description: 'Kingston DataTraveler (model)',
        vendorId: '0951',
        productId: '1666',
        expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
      });
      expect(model.statusCode).toBe(201);
      for (const who of [device, elsewhere]) {
        const entries = approved((await fetchPolicy(who)).policy);
        expect(entries).toHaveLength(1);
        expect(entries[0]).not.toHaveProperty('serial');
        expect(entries[0]?.expiresAt).toBe(model.json<UsbApproval>().expiresAt);
      }
      await admin.request({
        method: 'POST',
        url: `${APPROVALS}/${model.json<UsbApproval>().id}/revoke`,
      });
    });

    it('an expired approval is left out of the policy', async () => {
      const created = await approve({
        ...valid(),
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
      });
      expect(created.statusCode).toBe(201);
      expect(approved((await fetchPolicy(device)).policy)).toHaveLength(1);
      await server.db.query(
        "update usb_approvals set expires_at = now() - interval '1 minute' where id = $1",
        [created.json<UsbApproval>().id],
      );
      expect(approved((await fetchPolicy(device)).policy)).toEqual([]);
    });
  });

  describe('refusals', () => {
    it.each([
      ['a viewer', {}, 'viewer', 403],
      ['no group id for a group', { scope: 'group', scopeId: undefined }, 'admin', 400],
      ['a school id for the trust', { scope: 'trust' }, 'admin', 400],
      ['an unknown group', { scope: 'group', scopeId: randomUUID() }, 'admin', 400],
      ['an expiry in the past', { expiresAt: '2020-01-01T00:00:00.000Z' }, 'admin', 400],
      ['an empty reason', { reason: '' }, 'admin', 400],
      ['a blank reason', { reason: '   ' }, 'admin', 400],
      ['a reason with a bidi control', { reason: 'exam \u202Emaxe' }, 'admin', 400],
      ['a description with a NUL', { description: 'a\u0000b' }, 'admin', 400],
      ['a bad vendor id', { vendorId: '07g1' }, 'admin', 400],
      ['a serial over 200 characters', { serial: 'x'.repeat(201) }, 'admin', 400],
      ['an unknown field', { extra: 1 }, 'admin', 400],
    ])('%s is refused and nothing is stored', async (_name, change, role, status) => {
      const before = await server.db.query('select id from usb_approvals');
      const response = await approve({ ...valid(), ...change }, role === 'admin' ? admin : viewer);
      expect(response.statusCode).toBe(status);
      expect(await server.db.query('select id from usb_approvals')).toHaveLength(before.length);
    });

    it('a change without the CSRF token is 403; an unknown approval is 404', async () => {
      const response = await admin.request({
        method: 'POST',
        url: APPROVALS,
        payload: valid(),
        csrf: false,
      });
      expect(response.statusCode).toBe(403);
      const unknown = await admin.request({
        method: 'POST',
        url: `${APPROVALS}/${randomUUID()}/revoke`,
      });
      expect(unknown.statusCode).toBe(404);
    });
  });

  describe('blocked sticks', () => {
    it('groups blocked events by stick, counts folded decisions, devices and users, flags shared serials', async () => {
      const now = new Date();
      const batch = (events: AgentEvent[]) =>
        device.postBatch(
          server.app,
          [report(device.facts, [result('antivirus', 'pass', now)], now)],
          events,
        );
      expect(
        (
          await batch([
            blocked({ serial: 'AA11' }, { count: 3, user: 'pupil.1' }),
            blocked({ serial: 'AA11' }, { user: 'pupil.2' }),
            // The same serial on another model: bulk-bought sticks.
            blocked({ vendorId: '090c', productId: '1000', serial: 'AA11', name: 'Generic' }),
            blocked({ serial: null, name: 'No serial' }, { user: null }),
            // A hostile count must not break the read.
            blocked({ vendorId: '1234', productId: '5678', serial: 'BIG' }, { count: 1e300 }),
          ])
        ).status,
      ).toBe(200);
      await elsewhere.postBatch(server.app, [], [blocked({ serial: 'AA11' }, { user: 'pupil.3' })]);

      const answer = await viewer.request({ method: 'GET', url: '/api/v1/ict/usb/blocked' });
      expect(answer.statusCode).toBe(200);
      const list = answer.json<UsbBlockedList>();
      expect(list.days).toBe(30);
      const stick = (vendorId: string, serial: string | null) =>
        list.items.find((s) => s.vendorId === vendorId && s.serial === serial);
      expect(stick('0781', 'AA11')).toMatchObject({
        productId: '5581',
        names: ['SanDisk Ultra'],
        blocks: 5,
        devices: 2,
        users: ['pupil.1', 'pupil.2', 'pupil.3'],
        sharedSerial: true,
      });
      expect(stick('090c', 'AA11')).toMatchObject({ blocks: 1, devices: 1, sharedSerial: true });
      expect(stick('0781', null)).toMatchObject({ users: [null], sharedSerial: false });
      expect(stick('1234', 'BIG')?.blocks).toBe(1_000_000);
      expect(list.items[0]?.serial).toBe('BIG');
    });

    it('answers for events stored with strings beyond the schema (10 kB), cut to its lengths', async () => {
      const huge = 'A'.repeat(10_000);
      const data = usbBlockedData({ serial: huge, user: huge });
      await insertServerEvent(server.db, device.id, 'usb.blocked', new Date(), {
        ...data,
        device: { ...data.device, vendorId: 'abcd', productId: 'ef01', name: huge },
      });
      const answer = await viewer.request({ method: 'GET', url: '/api/v1/ict/usb/blocked' });
      expect(answer.statusCode).toBe(200);
      const stick = answer.json<UsbBlockedList>().items.find((s) => s.vendorId === 'abcd');
      expect(stick?.serial).toHaveLength(200);
      expect(stick?.names[0]).toHaveLength(200);
      expect(stick?.users[0]).toHaveLength(256);
    });

    it('the blocked-stick read finds usb.blocked events through an index, not a scan of every event', async () => {
      // On a small table the planner rightly prefers a scan; with scans priced out, a plan that
      // still reads events sequentially would mean no index can answer the query.
      const plan = await server.db.transaction(async (tx) => {
        await tx.query('set local enable_seqscan = off');
        return tx.query<{ 'QUERY PLAN': string }>(`explain ${BLOCKED_STICKS_SQL}`, [
          new Date(Date.now() - 30 * 86_400_000),
          500,
        ]);
      });
      const text = plan.map((row) => row['QUERY PLAN']).join('\n');
      expect(text).toMatch(/Index (Only )?Scan using events_type|Bitmap Index Scan on events_type/);
      expect(text).not.toMatch(/Seq Scan on events/);
    });
  });
});
