// Property-based fuzz of the ingest route: signed requests whose bodies are valid batches with
// random damage. Whatever the body, the server answers 200 or a 4xx — never a 5xx — and a
// refused batch stores nothing.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SCHEMA_VERSION } from '../../../../../shared/index.ts';
import { describeEachEngine } from '../../../../helpers/databases.ts';
import { report, result, TestDevice, usbBlocked } from '../../../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../../../helpers/test-server.ts';

const hostile = fc.oneof(
  fc.string(),
  fc.constantFrom(
    "'; drop table devices; --",
    '\u0000',
    '%_\\',
    '\ud800',
    '${x}',
    '<script>',
    'null',
  ),
  fc.double(),
  fc.integer(),
  fc.bigInt().map((b) => Number(b)),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
);

/** Replaces the value at a random path of a JSON document. */
function damage(document: unknown, path: number[], value: unknown): unknown {
  if (path.length === 0 || document === null || typeof document !== 'object') {
    return value;
  }
  const entries = Array.isArray(document)
    ? document.map((v, i) => [String(i), v] as const)
    : Object.entries(document);
  if (entries.length === 0) {
    return value;
  }
  const [head = 0, ...rest] = path;
  const [key] = entries[head % entries.length] ?? ['0'];
  const copy: Record<string, unknown> | unknown[] = Array.isArray(document)
    ? [...(document as unknown[])]
    : { ...document };
  (copy as Record<string, unknown>)[key] = damage(
    (document as Record<string, unknown>)[key],
    rest,
    value,
  );
  return copy;
}

describeEachEngine('ingest fuzz', (engine) => {
  let server: TestServer;
  const device = new TestDevice();
  beforeAll(async () => {
    server = await startTestServer(engine);
    await device.enrol(server.app, server.token);
  });
  afterAll(() => server.close());

  /** What a batch can change: raw reports, events, check results and the device's contact. */
  const stored = () =>
    server.db.query(
      `select (select count(*) from reports where device_id = $1)::int as reports,
              (select count(*) from events where device_id = $1)::int as events,
              (select max(measured_at) from check_states where device_id = $1) as measured,
              (select last_seen_at from devices where id = $1) as seen`,
      [device.id],
    );

  it('never answers 5xx, and a refused batch stores nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat(), { maxLength: 6 }),
        hostile,
        fc.boolean(),
        async (path, value, dropKey) => {
          const batch = {
            schemaVersion: SCHEMA_VERSION,
            reports: [
              report(device.facts, [result('firewall', 'pass'), result('antivirus', 'fail')]),
            ],
            events: [usbBlocked()],
          };
          let body = damage(batch, path, value);
          if (dropKey && body !== null && typeof body === 'object' && !Array.isArray(body)) {
            const { reports: _dropped, ...rest } = body as Record<string, unknown>;
            body = rest;
          }
          const before = await stored();
          const answer = await device.signed(
            server.app,
            'POST',
            '/api/v1/reports',
            JSON.stringify(body),
          );
          expect(answer.status).toBeLessThan(500);
          if (answer.status !== 200) {
            expect(answer.status).toBeGreaterThanOrEqual(400);
            expect(await stored()).toEqual(before);
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});
