// Alerts end to end on each engine: real devices report a failing check and a tamper event, the job
// derives alert items from what ingest stored, and a daily digest per destination goes to a real
// webhook receiver on loopback (signature verified as the README says) and to a real SMTP server
// (message parsed). Retries are proven with a receiver that fails then succeeds, time moved by
// passing `now`; a delivery that keeps failing is given up and shown, in words, by the API.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  SCHEMA_VERSION,
  type AgentEvent,
  type AlertDelivery,
  type AlertDestination,
  type AlertPayload,
  type CreatedAlertDestination,
} from '../../../shared/index.ts';
import { runAlertJob, deliverDue } from '../../../server/alerts/job.ts';
import { openDatabase } from '../../../server/db/open-database.ts';
import { ALERT_RETENTION_DAYS, scanAlerts } from '../../../server/store/alert-items.ts';
import { MAX_ATTEMPTS, retryDelayMs } from '../../../server/store/alerts.ts';
import { ensureSchool } from '../../../server/store/organisation.ts';
import { createEnrolmentToken } from '../../../server/store/tokens.ts';
import { SmtpReceiver, WebhookReceiver } from '../../helpers/alert-receivers.ts';
import { describeEachEngine } from '../../helpers/databases.ts';
import { report, result, sampleFacts, TestDevice } from '../../helpers/device-client.ts';
import { startTestServer, type TestServer } from '../../helpers/test-server.ts';
import { newBrowser, type Browser } from '../routes/api/v1/ict/ict-session.ts';

const DAY = 86_400_000;

function tamper(at: Date): AgentEvent {
  return {
    schemaVersion: SCHEMA_VERSION,
    id: randomUUID(),
    occurredAt: at.toISOString(),
    type: 'tamper.agent-stopped',
    data: { detail: 'service stopped by a local administrator' },
  };
}

describeEachEngine('alerts', (engine) => {
  let server: TestServer;
  let admin: Browser;
  let viewer: Browser;
  let hook: WebhookReceiver;
  let smtp: SmtpReceiver;
  let riversideId: string;
  const devices: Record<string, TestDevice> = {};

  const api = (who: Browser, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    who.request({
      method,
      url: `/api/v1/ict${url}`,
      ...(payload === undefined ? {} : { payload }),
    });

  async function addDestination(body: object): Promise<CreatedAlertDestination> {
    const answer = await api(admin, 'POST', '/alerts/destinations', body);
    expect(answer.statusCode, answer.body).toBe(201);
    return answer.json<CreatedAlertDestination>();
  }

  const deliveries = async () =>
    (await api(viewer, 'GET', '/alerts/deliveries')).json<AlertDelivery[]>();

  /** Removes every destination, so each test starts with its own. */
  async function clearDestinations() {
    const list = (await api(admin, 'GET', '/alerts/destinations')).json<AlertDestination[]>();
    for (const d of list) {
      expect((await api(admin, 'DELETE', `/alerts/destinations/${d.id}`)).statusCode).toBe(204);
    }
  }

  beforeAll(async () => {
    smtp = await new SmtpReceiver().start();
    hook = await new WebhookReceiver().start();
    server = await startTestServer(engine, {
      smtpUrl: smtp.url,
      alertDigestHourUtc: 0,
      // The test's receivers listen on loopback, which webhooks may reach only when allowed.
      webhookAllowedNetworks: '127.0.0.1',
    });
    admin = await newBrowser(server.app, server.db, 'ada', 'admin');
    viewer = await newBrowser(server.app, server.db, 'vic', 'viewer');
    const riverside = await ensureSchool(server.db, 'Riverside Academy');
    riversideId = riverside.id;
    const riversideToken = await createEnrolmentToken(server.db, {
      schoolId: riverside.id,
      groupId: server.groupId,
      label: 'riverside',
      expiresAt: new Date(Date.now() + DAY),
      maxUses: 10,
      createdBy: null,
    });
    for (const [hostname, token] of [
      ['ng-lt-001', server.token],
      ['ng-lt-002', server.token],
      ['rv-pc-001', riversideToken.token],
    ] as const) {
      const device = new TestDevice(sampleFacts({ hostname }));
      expect((await device.enrol(server.app, token)).status).toBe(201);
      devices[hostname] = device;
    }
  });
  afterAll(async () => {
    await server.close();
    await hook.close();
    await smtp.close();
  });
  beforeEach(async () => {
    await clearDestinations();
    hook.received.length = 0;
    hook.script.length = 0;
    smtp.messages.length = 0;
  });

  const post = async (hostname: string, status: 'pass' | 'fail', events: AgentEvent[] = []) => {
    const device = devices[hostname];
    if (device === undefined) {
      throw new Error(hostname);
    }
    const at = new Date();
    const answer = await device.postBatch(
      server.app,
      [report(device.facts, [result('disk-encryption', status, at)], at)],
      events,
    );
    expect(answer.status).toBe(200);
  };

  it('sends one signed daily digest per destination, grouped by school, once a day', async () => {
    const trust = await addDestination({ kind: 'webhook', target: hook.url, label: 'Trust SIEM' });
    expect(trust.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    hook.secret = trust.secret ?? '';
    const riversideOnly = await addDestination({
      kind: 'email',
      target: 'ict@riverside.example',
      schoolId: riversideId,
    });
    expect(riversideOnly.secret).toBeNull();
    // The secret is never listed again, only masked.
    const listed = await api(viewer, 'GET', '/alerts/destinations');
    expect(listed.body).not.toContain(trust.secret);
    expect(listed.json<AlertDestination[]>()[0]?.secretMasked).toBe(
      `whsec_…${(trust.secret ?? '').slice(-4)}`,
    );

    await post('ng-lt-001', 'pass');
    await post('ng-lt-001', 'fail', [tamper(new Date())]);
    await post('rv-pc-001', 'fail');
    await post('ng-lt-002', 'pass');

    // Two runs at once (two instances on PostgreSQL, each its own pool) and another later that day.
    // Noon UTC of today, so "later that day" (+1 h, +2 h) never crosses midnight: with the digest
    // hour at 0, a run just after midnight is the next day's digest (empty, so nothing is sent)
    // and the test's "next day" would find that day's digest already done.
    const now = new Date(Math.floor(Date.now() / DAY) * DAY + 12 * 3_600_000);
    const others =
      server.db.url === null
        ? []
        : await Promise.all(
            [1, 2].map(() => openDatabase({ kind: 'postgresql', url: server.db.url ?? '' })),
          );
    try {
      const scans = await Promise.all(
        [server.db, server.db, ...others].map((db) =>
          scanAlerts(db, now, server.app.alerts.settings),
        ),
      );
      expect(scans.reduce((n, s) => n + s.queued, 0)).toBe(2);
    } finally {
      await Promise.all(others.map((db) => db.close()));
    }
    expect(await runAlertJob(server.app.alerts, new Date(now.getTime() + 3_600_000))).toMatchObject(
      { queued: 0, delivered: 2 },
    );
    expect((await runAlertJob(server.app.alerts, new Date(now.getTime() + 7_200_000))).queued).toBe(
      0,
    );

    expect(hook.received).toHaveLength(1);
    const [received] = hook.received;
    expect(received?.signatureValid).toBe(true);
    const payload = received?.json as AlertPayload;
    expect(payload.deliveryId).toBe(received?.deliveryId);
    expect(payload.type).toBe('hallpass.alert.digest');
    expect(payload.scope).toEqual({ schoolId: null, school: null });
    expect(payload.schools.map((s) => [s.school, s.counts])).toEqual([
      ['Northgate Primary', { checkFailed: 1, tamper: 1, deviceSilent: 0 }],
      ['Riverside Academy', { checkFailed: 1, tamper: 0, deviceSilent: 0 }],
    ]);
    expect(payload.schools[0]?.items).toEqual([
      expect.objectContaining({
        kind: 'check-failed',
        hostname: 'ng-lt-001',
        checkId: 'disk-encryption',
      }),
      expect.objectContaining({
        kind: 'tamper',
        hostname: 'ng-lt-001',
        eventType: 'tamper.agent-stopped',
      }),
    ]);

    expect(smtp.messages).toHaveLength(1);
    const mail = smtp.messages[0];
    expect(mail?.envelopeTo).toEqual(['ict@riverside.example']);
    expect(mail?.subject).toBe(
      `Hallpass daily alerts for Riverside Academy, ${now.toISOString().slice(0, 10)}: 1 check failing`,
    );
    expect(mail?.text).toContain('rv-pc-001: disk-encryption now fails');
    expect(mail?.text).not.toContain('ng-lt-001');
    expect(mail?.html).toContain('<h2>Riverside Academy</h2>');

    // The next day: only what is new since, so a device still failing is not told again.
    await post('ng-lt-002', 'fail');
    expect(await runAlertJob(server.app.alerts, new Date(now.getTime() + DAY))).toMatchObject({
      queued: 1,
      delivered: 1,
    });
    const second = hook.received[1]?.json as AlertPayload;
    expect(second.schools.map((s) => [s.school, s.items.map((i) => i.hostname)])).toEqual([
      ['Northgate Primary', ['ng-lt-002']],
    ]);
    expect((await deliveries()).map((d) => [d.kind, d.status, d.attempts])).toEqual([
      ['digest', 'delivered', 1],
      ['digest', 'delivered', 1],
      ['digest', 'delivered', 1],
    ]);
  });

  it('retries a receiver that fails, with back-off, until it answers', async () => {
    const created = await addDestination({ kind: 'webhook', target: hook.url, mode: 'immediate' });
    hook.secret = created.secret ?? '';
    hook.script.push({ status: 503, body: 'maintenance until 9' }, { status: 500 });
    await post('ng-lt-002', 'pass');
    await post('ng-lt-002', 'fail');
    const t0 = new Date();
    expect(await runAlertJob(server.app.alerts, t0)).toMatchObject({ queued: 1, retrying: 1 });
    let [delivery] = await deliveries();
    expect(delivery).toMatchObject({ status: 'pending', attempts: 1, kind: 'immediate' });
    expect(delivery?.lastError).toBe(
      `${new URL(hook.url).host} answered HTTP 503: maintenance until 9`,
    );
    expect(delivery?.nextAttemptAt).toBe(new Date(t0.getTime() + retryDelayMs(1)).toISOString());
    // Not due yet: nothing is sent.
    expect(await deliverDue(server.app.alerts, new Date(t0.getTime() + 30_000))).toEqual({
      delivered: 0,
      retrying: 0,
      failed: 0,
    });
    const t1 = new Date(t0.getTime() + retryDelayMs(1));
    expect((await deliverDue(server.app.alerts, t1)).retrying).toBe(1);
    const t2 = new Date(t1.getTime() + retryDelayMs(2));
    expect((await deliverDue(server.app.alerts, t2)).delivered).toBe(1);
    [delivery] = await deliveries();
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 3, lastError: null });
    expect(hook.received.map((r) => r.signatureValid)).toEqual([true, true, true]);
    // Every attempt is the same delivery, so a receiver can drop a repeat.
    expect(new Set(hook.received.map((r) => r.deliveryId)).size).toBe(1);
  });

  it('gives up after the last attempt and shows why; an admin can queue it again', async () => {
    const created = await addDestination({ kind: 'webhook', target: hook.url, mode: 'immediate' });
    hook.secret = created.secret ?? '';
    // A huge answer: only its first few hundred bytes are read.
    for (let i = 0; i < MAX_ATTEMPTS; i += 1) {
      hook.script.push({ status: 500, body: 'x'.repeat(5_000_000) });
    }
    await post('rv-pc-001', 'pass');
    await post('rv-pc-001', 'fail');
    let at = new Date();
    await runAlertJob(server.app.alerts, at);
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt += 1) {
      at = new Date(at.getTime() + retryDelayMs(attempt));
      await deliverDue(server.app.alerts, at);
    }
    const [delivery] = (await api(viewer, 'GET', '/alerts/deliveries?status=failed')).json<
      AlertDelivery[]
    >();
    expect(delivery).toMatchObject({
      status: 'failed',
      attempts: MAX_ATTEMPTS,
      nextAttemptAt: null,
    });
    expect(delivery?.lastError).toMatch(/answered HTTP 500: x+$/);
    expect(delivery?.lastError?.length).toBeLessThan(400);
    expect(hook.received).toHaveLength(MAX_ATTEMPTS);

    // A viewer may not retry; an admin may, and it is audited.
    expect(
      (await api(viewer, 'POST', `/alerts/deliveries/${delivery?.id ?? ''}/retry`)).statusCode,
    ).toBe(403);
    const retried = await api(admin, 'POST', `/alerts/deliveries/${delivery?.id ?? ''}/retry`);
    expect(retried.json()).toMatchObject({ status: 'pending', attempts: 0 });
    expect((await deliverDue(server.app.alerts, new Date())).delivered).toBe(1);
    const audit = await server.db.query<{ action: string }>(
      `select action from audit_log where action like 'alert-%' order by id`,
    );
    expect(audit.map((r) => r.action)).toContain('alert-delivery.retry');
  });

  it('records unreachable receivers and refused mail in words, and the job carries on', async () => {
    // A port nothing listens on: the receiver's own, once closed.
    const gone = await new WebhookReceiver().start();
    await gone.close();
    const dead = await addDestination({ kind: 'webhook', target: gone.url });
    const refused = await addDestination({ kind: 'email', target: 'nobody@northgate.example' });
    smtp.refuse.add('nobody@northgate.example');
    const tests = await Promise.all(
      [dead, refused].map((d) =>
        api(admin, 'POST', `/alerts/destinations/${d.destination.id}/test`),
      ),
    );
    const [deadTest, refusedTest] = tests.map((t) => t.json<AlertDelivery>());
    expect(deadTest).toMatchObject({ kind: 'test', status: 'pending', attempts: 1 });
    expect(deadTest?.lastError).toBe(
      `${new URL(gone.url).host} refused the connection: nothing is listening there.`,
    );
    expect(refusedTest?.lastError).toMatch(/^The mail server refused/);
    expect(refusedTest?.lastError).toContain('nobody@northgate.example');

    // A working destination next to them is still served.
    const good = await addDestination({ kind: 'webhook', target: hook.url });
    hook.secret = good.secret ?? '';
    const ok = await api(admin, 'POST', `/alerts/destinations/${good.destination.id}/test`);
    expect(ok.json()).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(hook.received[0]?.signatureValid).toBe(true);
    expect((hook.received[0]?.json as AlertPayload).type).toBe('hallpass.alert.test');
  });

  it('reports a device gone silent once per silence', async () => {
    const created = await addDestination({ kind: 'webhook', target: hook.url, mode: 'immediate' });
    hook.secret = created.secret ?? '';
    const device = devices['ng-lt-002'];
    await server.db.query('update devices set last_seen_at = $2 where id = $1', [
      device?.id,
      new Date(Date.now() - 10 * DAY),
    ]);
    const now = new Date();
    expect((await runAlertJob(server.app.alerts, now)).delivered).toBe(1);
    expect((await runAlertJob(server.app.alerts, new Date(now.getTime() + 60_000))).queued).toBe(0);
    const payload = hook.received[0]?.json as AlertPayload;
    expect(payload.schools[0]?.items).toEqual([
      expect.objectContaining({ kind: 'device-silent', hostname: 'ng-lt-002' }),
    ]);
    await post('ng-lt-002', 'pass');
  });

  it('forgets items and finished deliveries after the retention', async () => {
    const created = await addDestination({ kind: 'webhook', target: hook.url });
    hook.secret = created.secret ?? '';
    await api(admin, 'POST', `/alerts/destinations/${created.destination.id}/test`);
    // Past the retention of everything the file's tests made, whatever the time of day: the
    // digest test's items are at noon today and tomorrow (at 01:40, "now + retention + 1 day"
    // kept tomorrow's noon item). A noon scan, so that day's digest is due.
    const later = new Date(
      Math.floor(Date.now() / DAY) * DAY + (ALERT_RETENTION_DAYS + 3) * DAY + DAY / 2,
    );
    expect(await deliveries()).toHaveLength(1);
    const [items] = await server.db.query<{ n: number }>(
      'select count(*)::int as n from alert_items',
    );
    expect(items?.n).toBeGreaterThan(0);
    await scanAlerts(server.db, later, server.app.alerts.settings);
    // The old test is gone; what is left is that day's digest (every device silent by then).
    expect((await deliveries()).map((d) => [d.kind, d.status])).toEqual([['digest', 'pending']]);
    const left = await server.db.query<{ detected_at: Date }>(
      'select detected_at from alert_items',
    );
    // Only what this scan found itself (devices silent by then) is left.
    expect(left.every((r) => new Date(r.detected_at).getTime() === later.getTime())).toBe(true);
  });

  it('lets viewers read but not change; refuses bad targets in words; audits every change', async () => {
    expect(
      (await api(viewer, 'POST', '/alerts/destinations', { kind: 'webhook', target: hook.url }))
        .statusCode,
    ).toBe(403);
    for (const [body, message] of [
      [
        { kind: 'email', target: 'not an address' },
        'Enter one email address, like ict@school.example.',
      ],
      [
        { kind: 'webhook', target: 'ftp://x.example/' },
        'A webhook address starts with https:// or http://.',
      ],
      [{ kind: 'webhook', target: 'nowhere' }, 'Enter the full webhook address, from https://.'],
      [{ kind: 'webhook', target: hook.url, schoolId: randomUUID() }, 'No school has that id.'],
      [
        // Loopback is allowed in this test (127.0.0.1); the rest of the LAN is not.
        { kind: 'webhook', target: 'http://192.168.1.20/hook' },
        '192.168.1.20 is a private network address. Webhooks go only to public addresses ' +
          "unless the server's webhookAllowedNetworks (HALLPASS_WEBHOOK_ALLOWED_NETWORKS) includes it.",
      ],
    ] as const) {
      const answer = await api(admin, 'POST', '/alerts/destinations', body);
      expect(answer.statusCode).toBe(400);
      expect(answer.json<{ message: string }>().message).toBe(message);
    }
    const created = await addDestination({ kind: 'webhook', target: hook.url });
    const id = created.destination.id;
    expect((await api(viewer, 'POST', `/alerts/destinations/${id}/disable`)).statusCode).toBe(403);
    expect((await api(viewer, 'DELETE', `/alerts/destinations/${id}`)).statusCode).toBe(403);
    expect((await api(viewer, 'POST', `/alerts/destinations/${id}/test`)).statusCode).toBe(403);
    const disabled = await api(admin, 'POST', `/alerts/destinations/${id}/disable`);
    expect(disabled.json()).toMatchObject({ enabled: false });
    // A disabled destination is queued nothing.
    await post('ng-lt-001', 'pass');
    await post('ng-lt-001', 'fail');
    expect((await runAlertJob(server.app.alerts, new Date())).queued).toBe(0);
    expect((await api(admin, 'POST', `/alerts/destinations/${id}/enable`)).json()).toMatchObject({
      enabled: true,
    });
    expect((await api(admin, 'DELETE', `/alerts/destinations/${id}`)).statusCode).toBe(204);
    expect((await api(admin, 'DELETE', `/alerts/destinations/${id}`)).statusCode).toBe(404);
    const audit = await server.db.query<{ action: string; after: unknown; before: unknown }>(
      `select action, after, before from audit_log where target_id = $1 order by id`,
      [id],
    );
    expect(audit.map((r) => r.action)).toEqual([
      'alert-destination.create',
      'alert-destination.disable',
      'alert-destination.enable',
      'alert-destination.remove',
    ]);
    expect(JSON.stringify(audit)).not.toContain(created.secret);
  });
});

describe('alerts without SMTP settings', () => {
  it('refuses an email destination, saying what to set', async () => {
    const { testEngines } = await import('../../helpers/databases.ts');
    const pglite = testEngines.find((e) => e.name === 'pglite');
    if (pglite === undefined) {
      throw new Error('no PGlite');
    }
    const server = await startTestServer(pglite);
    try {
      const admin = await newBrowser(server.app, server.db, 'ada', 'admin');
      const answer = await admin.request({
        method: 'POST',
        url: '/api/v1/ict/alerts/destinations',
        payload: { kind: 'email', target: 'ict@northgate.example' },
      });
      expect(answer.statusCode).toBe(400);
      expect(answer.json()).toMatchObject({ error: 'email-not-configured' });
    } finally {
      await server.close();
    }
  });
});
