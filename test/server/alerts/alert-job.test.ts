// The alert job inside a real running server (server/main.ts): started with it, stopped with it,
// and never brought down by a bad destination — an unreachable host, an address that is not one,
// a receiver answering 500 with a huge body, a redirect, one that never answers, an SMTP server
// that is not there. Each costs one failed attempt, recorded in words; the server stays healthy.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultServerConfig } from '../../../server/config.ts';
import { startServer, type RunningServer } from '../../../server/main.ts';
import {
  queueTestDelivery,
  findDestination,
  listDeliveries,
} from '../../../server/store/alerts.ts';
import { WEBHOOK_TIMEOUT_MS } from '../../../server/alerts/webhook.ts';
import { describe } from 'vitest';

describe('the alert job in a running server', () => {
  let dir: string;
  let server: RunningServer;
  let bad: Server;
  let badUrl: string;
  let closedUrl: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hallpass-alert-job-'));
    // One receiver misbehaving by path: a 500 with 20 MB, a redirect, no answer at all.
    bad = createServer((request, response) => {
      if (request.url === '/huge') {
        response.writeHead(500, { 'content-type': 'text/plain' });
        const chunk = 'x'.repeat(1_000_000);
        let sent = 0;
        const more = () => {
          while (sent < 20 && response.write(chunk)) {
            sent += 1;
          }
          if (sent >= 20) {
            response.end();
          } else {
            response.once('drain', more);
          }
        };
        more();
      } else if (request.url === '/redirect') {
        response.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' });
        response.end();
      }
      // /hang: never answered.
    });
    await new Promise<void>((resolve) => bad.listen(0, '127.0.0.1', resolve));
    badUrl = `http://127.0.0.1:${String((bad.address() as AddressInfo).port)}`;
    // A port that was just in use and is closed now: nothing listens there.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    closedUrl = `http://127.0.0.1:${String((closed.address() as AddressInfo).port)}`;
    await new Promise<void>((resolve) => {
      closed.close(() => {
        resolve();
      });
    });
    server = await startServer({
      ...defaultServerConfig,
      port: 0,
      dataDir: dir,
      logLevel: 'silent',
      // Port 1: nothing listens there.
      smtpUrl: 'smtp://127.0.0.1:1',
      // The receivers below listen on loopback; everything else internal stays refused.
      webhookAllowedNetworks: '127.0.0.1',
    });
  });
  afterAll(async () => {
    bad.closeAllConnections();
    await new Promise<void>((resolve) => {
      bad.close(() => {
        resolve();
      });
    });
    await rm(dir, { recursive: true, force: true });
  });

  it('records every bad destination in words and keeps serving', async () => {
    const targets: [string, string, RegExp][] = [
      ['webhook', `${closedUrl}/hook`, /refused the connection: nothing is listening there\.$/],
      ['webhook', 'http://127.0.0.1:1/hook', /^Port 1 is on the list of ports/],
      ['webhook', 'http://[::1', /^The webhook address is not a valid URL\.$/],
      [
        'webhook',
        'http://169.254.169.254/latest/meta-data/',
        /^Not sent: 169\.254\.169\.254 is a link-local address \(such as a cloud metadata service\)/,
      ],
      ['webhook', `${badUrl}/huge`, /answered HTTP 500: x{100,}$/],
      ['webhook', `${badUrl}/redirect`, /answered with a redirect \(HTTP 302\)/],
      [
        'webhook',
        `${badUrl}/hang`,
        new RegExp(`did not answer within ${String(WEBHOOK_TIMEOUT_MS / 1000)} seconds`),
      ],
      ['email', 'not an address', /^not an address is not a valid email address\.$/],
      ['email', 'ict@northgate.example', /^The mail server could not be reached/],
    ];
    const { db } = server;
    const [school] = await db.query<{ id: string }>(
      `insert into schools (name) values ('Northgate Primary') returning id`,
    );
    for (const [kind, target] of targets) {
      // Straight into the table: the API would refuse some of these targets.
      const [row] = await db.query<{ id: string }>(
        `insert into alert_destinations (kind, target, school_id, secret)
         values ($1, $2, $3, $4) returning id`,
        [kind, target, school?.id, kind === 'webhook' ? 'secret' : null],
      );
      const destination = await findDestination(db, row?.id ?? '');
      if (destination === null) {
        throw new Error('no destination');
      }
      await queueTestDelivery(db, destination, new Date());
    }
    await server.alerts.runOnce();
    const deliveries = await listDeliveries(db, { limit: 100 });
    expect(deliveries).toHaveLength(targets.length);
    for (const [, target, error] of targets) {
      const delivery = deliveries.find((d) => d.destination === target);
      expect(delivery, target).toMatchObject({ status: 'pending', attempts: 1 });
      expect(delivery?.lastError, target).toMatch(error);
    }
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    await server.stop();
  });
});
