// Reports as deltas (issue 18): after a full report the server names its digest, and a report
// that changes nothing costs one device-row update; a changed result via a delta lands in history
// once; a delta whose base the server does not hold is refused whole (409) and the full report
// that follows loses nothing; hostile deltas get a clear 4xx. Real PGlite and PostgreSQL.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPORT_DIGEST_HEADER,
  SCHEMA_VERSION,
  type AgentEvent,
  type ComplianceReport,
  type ReportDelta,
} from '../../../../../shared/index.ts';
import { deltaFrom, reportDigest } from '../../../../../agent/core/report-delta.ts';
import { describeEachEngine } from '../../../../helpers/databases.ts';
import {
  report,
  result,
  TestDevice,
  usbBlocked,
  type Answer,
} from '../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../helpers/test-server.ts';

const MINUTE = 60_000;

function postDeltas(
  server: TestServer,
  device: TestDevice,
  deltas: unknown[],
  events: AgentEvent[] = [],
  extra: Record<string, unknown> = {},
): Promise<Answer> {
  return device.signed(
    server.app,
    'POST',
    '/api/v1/reports',
    JSON.stringify({ schemaVersion: SCHEMA_VERSION, reports: [], deltas, events, ...extra }),
  );
}

/** `next` as a delta from `previous`, which must be expressible as one. */
function delta(previous: ComplianceReport, next: ComplianceReport): ReportDelta {
  const made = deltaFrom(previous, reportDigest(previous), next);
  if (made === null) {
    throw new Error('not expressible as a delta');
  }
  return made;
}

describeEachEngine('reports as deltas', (engine) => {
  describe('a server that keeps news only (the default)', () => {
    let server: TestServer;
    // The server's clock, set just before a request (a signature must be fresh by it).
    let clock = Date.now();
    beforeAll(async () => {
      server = await startTestServer(engine, {}, () => new Date(clock));
    });
    afterAll(() => server.close());

    const enrolled = async () => {
      const device = new TestDevice();
      expect((await device.enrol(server.app, server.token)).status).toBe(201);
      return device;
    };
    const start = Date.now() - 120 * MINUTE;
    const at = (minutes: number) => new Date(start + minutes * MINUTE);
    const checks = (minutes: number, firewall: 'pass' | 'fail' = 'pass') => [
      result('disk-encryption', 'pass', at(minutes)),
      result('firewall', firewall, at(minutes)),
    ];
    const deviceRow = async (id: string) => {
      const [row] = await server.db.query<{
        last_seen_at: Date;
        last_report_at: Date;
        overall_status: string;
        digest: string | null;
      }>(
        `select last_seen_at, last_report_at, overall_status, encode(report_digest, 'hex') as digest
           from devices where id = $1`,
        [id],
      );
      return row;
    };
    const rawCount = async (id: string) =>
      (await server.db.query('select 1 from reports where device_id = $1', [id])).length;
    const history = async (id: string) =>
      server.db.query<{ check_id: string; from_status: string | null; to_status: string }>(
        `select check_id, from_status, to_status from check_changes
          where device_id = $1 order by measured_at, id`,
        [id],
      );
    const sendFull = async (device: TestDevice, reports: ComplianceReport[]) => {
      const answer = await device.postBatch(server.app, reports);
      expect(answer.status).toBe(200);
      return answer;
    };

    it('names the digest of the last full report, and applies an unchanged report as a delta', async () => {
      const device = await enrolled();
      const first = report(device.facts, checks(0), at(0));
      clock = Date.now();
      const full = await sendFull(device, [first]);
      expect(full.headers[REPORT_DIGEST_HEADER]).toBe(reportDigest(first));
      expect(await rawCount(device.id)).toBe(1);

      const same = report(device.facts, checks(15), at(15));
      const unchanged = delta(first, same);
      expect(unchanged.results).toEqual([]);
      const contact = Date.now() + 1000;
      clock = contact;
      const answer = await postDeltas(server, device, [unchanged]);
      expect(answer.status).toBe(200);
      expect(answer.json()).toMatchObject({ accepted: [same.id] });
      expect(answer.headers[REPORT_DIGEST_HEADER]).toBe(reportDigest(same));
      // No new raw report and no history; the contact and report times moved.
      expect(await rawCount(device.id)).toBe(1);
      expect(await history(device.id)).toHaveLength(2);
      expect(await deviceRow(device.id)).toMatchObject({
        last_seen_at: new Date(contact),
        last_report_at: at(15),
        digest: reportDigest(same),
      });
    });

    it('lands a changed result in history exactly once, a replay of the delta changing nothing', async () => {
      const device = await enrolled();
      const first = report(device.facts, checks(0), at(0));
      await sendFull(device, [first]);
      const failing = report(device.facts, checks(15, 'fail'), at(15));
      const change = delta(first, failing);
      expect(change.results.map((r) => r.checkId)).toEqual(['firewall']);
      const event = usbBlocked(at(14));
      for (let attempt = 0; attempt < 3; attempt++) {
        // The answer is lost twice; the same batch comes again.
        const answer = await postDeltas(server, device, [change], [event]);
        expect(answer.status).toBe(200);
        expect(answer.json()).toMatchObject({ accepted: [failing.id, event.id] });
      }
      expect(await history(device.id)).toEqual([
        { check_id: 'disk-encryption', from_status: null, to_status: 'pass' },
        { check_id: 'firewall', from_status: null, to_status: 'pass' },
        { check_id: 'firewall', from_status: 'pass', to_status: 'fail' },
      ]);
      const events = await server.db.query('select 1 from events where device_id = $1', [
        device.id,
      ]);
      expect(events).toHaveLength(1);
      // The change is news: the delta is kept raw, once, as it came.
      const raw = await server.db.query<{ id: string; body: unknown }>(
        'select id, body from reports where device_id = $1 order by created_at',
        [device.id],
      );
      expect(raw.map((r) => r.id)).toEqual([first.id, failing.id]);
      expect(raw[1]?.body).toEqual(change);
      expect(await deviceRow(device.id)).toMatchObject({
        overall_status: 'fail',
        digest: reportDigest(failing),
      });

      // Back to pass in the next delta, which starts from the failing report: a second change.
      const passing = report(device.facts, checks(30), at(30));
      const back = delta(failing, passing);
      expect((await postDeltas(server, device, [back])).status).toBe(200);
      expect((await history(device.id)).slice(-1)).toEqual([
        { check_id: 'firewall', from_status: 'fail', to_status: 'pass' },
      ]);
      // A chain sent again after the server moved on (its answer was lost) is still a no-op.
      expect((await postDeltas(server, device, [change, back])).status).toBe(200);
      expect(await history(device.id)).toHaveLength(4);
      expect(await deviceRow(device.id)).toMatchObject({
        overall_status: 'pass',
        digest: reportDigest(passing),
      });
    });

    it('refuses a delta whose base it does not hold, applying nothing; the full report then loses nothing', async () => {
      const device = await enrolled();
      const first = report(device.facts, checks(0), at(0));
      await sendFull(device, [first]);
      // The database was restored from a backup taken before the first report.
      await server.db.query('update devices set report_digest = null where id = $1', [device.id]);
      const failing = report(device.facts, checks(15, 'fail'), at(15));
      const event = usbBlocked(at(14));
      const answer = await postDeltas(server, device, [delta(first, failing)], [event]);
      expect(answer.status).toBe(409);
      expect(answer.json()).toMatchObject({ error: 'report-base-mismatch' });
      expect(await history(device.id)).toHaveLength(2);
      expect(
        await server.db.query('select 1 from events where device_id = $1', [device.id]),
      ).toHaveLength(0);

      // The device sends the same items in full: all of them land, once.
      const full = await device.postBatch(server.app, [failing], [event]);
      expect(full.status).toBe(200);
      expect(full.json()).toMatchObject({ accepted: [failing.id, event.id] });
      expect(full.headers[REPORT_DIGEST_HEADER]).toBe(reportDigest(failing));
      expect((await history(device.id)).slice(-1)).toEqual([
        { check_id: 'firewall', from_status: 'pass', to_status: 'fail' },
      ]);
      expect(
        await server.db.query('select 1 from events where device_id = $1', [device.id]),
      ).toHaveLength(1);
    });

    it('refuses a delta from another base, and one from a device that never sent in full', async () => {
      const device = await enrolled();
      const first = report(device.facts, checks(0), at(0));
      const second = report(device.facts, checks(15), at(15));
      // Never sent in full: a re-enrolled device holding the base of its former identity.
      expect((await postDeltas(server, device, [delta(first, second)])).status).toBe(409);
      await sendFull(device, [first]);
      const other = report(device.facts, checks(5, 'fail'), at(5));
      const wrong = await postDeltas(server, device, [delta(other, second)]);
      expect(wrong.status).toBe(409);
      // The 409 names what the server does hold.
      expect(wrong.headers[REPORT_DIGEST_HEADER]).toBe(reportDigest(first));
    });

    it('refuses hostile deltas with a clear 400 or 413, applying nothing', async () => {
      const device = await enrolled();
      const first = report(device.facts, checks(0), at(0));
      await sendFull(device, [first]);
      const next = report(device.facts, checks(15, 'fail'), at(15));
      const good = delta(first, next);
      const refusals: [string, unknown[], Record<string, unknown>?][] = [
        [
          'an unknown check id',
          [{ ...good, results: [{ ...good.results[0], checkId: 'rootkit-hunter' }] }],
        ],
        ['a digest of the wrong length', [{ ...good, base: good.base.slice(2) }]],
        ['a digest that is not hex', [{ ...good, digest: 'z'.repeat(64) }]],
        ['a check named twice', [{ ...good, results: [...good.results, ...good.results] }]],
        [
          'a broken chain',
          [good, { ...good, id: randomUUID(), base: reportDigest(first).replace(/./, 'f') }],
        ],
        ['the same delta twice', [good, { ...good, base: good.digest }]],
        ['deltas beside full reports', [good], { reports: [next] }],
        ['more deltas than a batch holds', Array.from({ length: 51 }, () => good)],
        ['an unknown field', [{ ...good, facts: {} }]],
      ];
      for (const [what, deltas, extra] of refusals) {
        const answer = await postDeltas(server, device, deltas, [], extra);
        expect(answer.status, what).toBe(400);
        expect((answer.json() as { message: string }).message.length, what).toBeGreaterThan(0);
      }
      const huge = {
        ...good,
        results: [{ ...good.results[0], evidence: { blob: 'x'.repeat(2 * 1024 * 1024) } }],
      };
      expect((await postDeltas(server, device, [huge])).status).toBe(413);
      expect(await history(device.id)).toHaveLength(2);
      expect((await deviceRow(device.id))?.digest).toBe(reportDigest(first));
    });
  });

  describe('a server that keeps every report raw', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(engine, { reportStorage: 'all' });
    });
    afterAll(() => server.close());

    it('names no digest and refuses deltas, so every report comes in full', async () => {
      const device = new TestDevice();
      await device.enrol(server.app, server.token);
      const first = report(device.facts, [result('firewall', 'pass')]);
      const full = await device.postBatch(server.app, [first]);
      expect(full.status).toBe(200);
      expect(full.headers[REPORT_DIGEST_HEADER]).toBeUndefined();
      const next = report(device.facts, [result('firewall', 'pass')]);
      const made = deltaFrom(first, reportDigest(first), next);
      const answer = await postDeltas(server, device, [made]);
      expect(answer.status).toBe(409);
      expect((answer.json() as { message: string }).message).toMatch(/every report in full/);
    });
  });
});
