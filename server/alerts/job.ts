// The alert job every server instance runs (issue 16): scan for new alert items and queue what is
// due (server/store/alert-items.ts), then send due deliveries (server/store/alerts.ts) by webhook
// or email. A bad destination costs one failed attempt, recorded in words, never the server.
import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/db.ts';
import { scanAlerts, type AlertSettings } from '../store/alert-items.ts';
import { claimDueDeliveries, recordAttempt, type ClaimedDelivery } from '../store/alerts.ts';
import type { AlertMailer } from './email.ts';
import { alertEmail } from './message.ts';
import type { WebhookClient } from './webhook.ts';

/** Deliveries one run sends at most, and how many at once. */
const BATCH = 20;
const CONCURRENCY = 4;

/** What the job needs. */
export interface AlertContext {
  db: Database;
  mailer: AlertMailer;
  webhooks: WebhookClient;
  settings: AlertSettings;
}

/** Sends one claimed delivery; null on success, else what went wrong. Never throws. */
async function send(
  context: AlertContext,
  delivery: ClaimedDelivery,
  now: Date,
): Promise<string | null> {
  try {
    if (delivery.kind === 'webhook') {
      const body = JSON.stringify({ deliveryId: delivery.id, ...delivery.payload });
      return await context.webhooks.send(
        delivery.target,
        delivery.secret ?? '',
        delivery.id,
        body,
        now,
      );
    }
    return await context.mailer.send(delivery.target, alertEmail(delivery.payload), delivery.id);
  } catch (error) {
    return `Sending failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Sends due deliveries (or only `only`); how each ended. */
export async function deliverDue(
  context: AlertContext,
  now: Date,
  only: string | null = null,
): Promise<{ delivered: number; retrying: number; failed: number }> {
  const claimed = await claimDueDeliveries(context.db, now, BATCH, only);
  const outcome = { delivered: 0, retrying: 0, failed: 0 };
  const queue = [...claimed];
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      const error = await send(context, next, now);
      const status = await recordAttempt(context.db, next, error, now);
      outcome[status === 'delivered' ? 'delivered' : status === 'failed' ? 'failed' : 'retrying'] +=
        1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return outcome;
}

/** One whole run: scan, queue, send. */
export async function runAlertJob(context: AlertContext, now: Date) {
  const scan = await scanAlerts(context.db, now, context.settings);
  const sent = await deliverDue(context, now);
  return { ...scan, ...sent };
}

/** The job on a timer: started with the server, stopped (waiting for its run) before the database closes. */
export class AlertJob {
  readonly #context: AlertContext;
  readonly #log: FastifyBaseLogger;
  readonly #now: () => Date;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(context: AlertContext, log: FastifyBaseLogger, now: () => Date = () => new Date()) {
    this.#context = context;
    this.#log = log;
    this.#now = now;
  }

  /** Runs every `intervalMs` (the first run after one interval). */
  start(intervalMs: number): void {
    this.#timer = setInterval(() => {
      void this.runOnce();
    }, intervalMs);
    this.#timer.unref();
  }

  /** Starts a run unless one is still going; resolves when the run in progress ends. */
  runOnce(): Promise<void> {
    if (this.#running !== null) {
      return this.#running;
    }
    this.#running = (async () => {
      try {
        const outcome = await runAlertJob(this.#context, this.#now());
        if (
          outcome.items + outcome.queued + outcome.delivered + outcome.retrying + outcome.failed >
          0
        ) {
          this.#log.info(outcome, 'alerts');
        }
      } catch (error) {
        this.#log.error({ err: error }, 'alert job failed');
      } finally {
        this.#running = null;
      }
    })();
    return this.#running;
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    if (this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
    await this.#running;
  }
}
