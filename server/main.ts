import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { AlertJob } from './alerts/job.ts';
import { buildApp } from './app.ts';
import { databaseLocation, type ServerConfig } from './config.ts';
import type { Database } from './db/db.ts';
import { openDatabase } from './db/open-database.ts';
import { purgeLoginFailures } from './auth/login-limits.ts';
import { takeDailySnapshot } from './store/compliance-snapshots.ts';
import { ensureHistoryPartitions } from './store/history-partitions.ts';
import { purgeOldHistory } from './store/history-retention.ts';
import { purgeOldReports } from './store/ingest.ts';
import { purgeNonces } from './store/nonces.ts';

/** A running server: its address and a way to stop it cleanly. */
export interface RunningServer {
  app: FastifyInstance;
  db: Database;
  url: string;
  /** The alert job on its timer (tests run it at once with `runOnce`). */
  alerts: AlertJob;
  stop(): Promise<void>;
}

/**
 * Opens the database (migrating it), listens, and runs the housekeeping jobs: forgetting nonces
 * once they are outside the clock-skew window, deleting raw reports past their retention and
 * check history and events past theirs (the AUP register stays; whole months of history go as
 * partitions, and the partitions of this month and the next two are made ahead), and
 * forgetting sign-in attempts older than the throttle's window, and taking the day's compliance
 * snapshot for the trends; and the alert job (server/alerts/job.ts).
 * Every job is idempotent, so several instances against one database may all run them.
 */
/**
 * Connections the kernel may hold for the server before it accepts them. Node's default is 511:
 * in a Monday-morning storm thousands of devices connect within a second while the event loop is
 * busy reading requests, and every connection past the queue is dropped, so the device's TCP
 * waits 1, 3, 7 s to try again or gives up (a 30,000-device storm run measured 246,233 drops and
 * 11,467 resets). The kernel caps it at net.core.somaxconn (4096 by default since Linux 5.4).
 */
export const LISTEN_BACKLOG = 4096;

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const https =
    config.tlsCertFile !== null && config.tlsKeyFile !== null
      ? { cert: await readFile(config.tlsCertFile), key: await readFile(config.tlsKeyFile) }
      : null;
  const db = await openDatabase(databaseLocation(config));
  const app = await buildApp({ config, db, https });
  const housekeeping = async () => {
    try {
      const nonces = await purgeNonces(db, 2 * config.maxClockSkewSeconds);
      const reports = await purgeOldReports(db, config.reportRetentionDays);
      const partitions = await ensureHistoryPartitions(db, new Date());
      const history = await purgeOldHistory(db, config.historyRetentionDays, new Date());
      const signIns = await purgeLoginFailures(db, new Date());
      const snapshotRows = await takeDailySnapshot(db, new Date());
      const work = nonces + reports + history.changes + history.events + signIns + snapshotRows;
      if (work + partitions.length > 0) {
        app.log.info(
          { nonces, reports, history, partitions, signIns, snapshotRows },
          'housekeeping',
        );
      }
    } catch (error) {
      app.log.error({ err: error }, 'housekeeping failed');
    }
  };
  const timer = setInterval(() => void housekeeping(), 60_000);
  timer.unref();
  // Alerts: its own timer, so a slow receiver never holds up housekeeping.
  const alerts = new AlertJob(app.alerts, app.log, app.now);
  alerts.start(60_000);
  await app.listen({ host: config.host, port: config.port, backlog: LISTEN_BACKLOG });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    app,
    db,
    alerts,
    url: `${https ? 'https' : 'http'}://${host}:${port}`,
    async stop() {
      clearInterval(timer);
      await alerts.stop();
      await app.close();
      await db.close();
    },
  };
}

/** Stops the server on SIGINT/SIGTERM: finish in-flight requests, close the database, exit. */
export function stopOnSignals(server: RunningServer): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      return;
    }
    stopping = true;
    server.app.log.info({ signal }, 'shutting down');
    server.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        server.app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => {
    stop('SIGINT');
  });
  process.once('SIGTERM', () => {
    stop('SIGTERM');
  });
}
