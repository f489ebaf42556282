// One delivery round: send the oldest batch, acknowledge what the server says it holds,
// repeat until the outbox is empty or a send fails. The transport (signing, HTTP) is the
// caller's `send`; this module only decides what leaves the outbox and when to try again.
import { assertNever } from '../checks/define-check.ts';
import type { Outbox, OutboxItem, RejectedItem } from './outbox.ts';

/** What the server made of one batch, as the transport reads its answer. */
export type SendOutcome =
  /**
   * 2xx `{accepted}`: the server now holds these ids (others in the batch stay and are resent);
   * `reportDigest`: the digest of the device's last report it holds, when it takes deltas.
   */
  | { kind: 'accepted'; ids: readonly string[]; reportDigest?: string | null }
  /** 429 / 503 with Retry-After, in milliseconds (see parseRetryAfter). */
  | { kind: 'retry-after'; ms: number }
  /** Network error, timeout, 5xx, unreadable answer: try again later. */
  | { kind: 'failed'; error: unknown }
  /** A permanent refusal of these items (a 4xx naming them): set aside, never retried. */
  | { kind: 'rejected'; ids: readonly string[]; reason: string };

/** Sends one batch; a throw is treated as `failed`. */
export type Send = (batch: OutboxItem[]) => Promise<SendOutcome>;

/** Batch sizes for a round (defaults: the server's batch limits). */
export interface DeliverOptions {
  maxReports?: number;
  maxEvents?: number;
}

/** How a round ended and what it moved. */
export interface DeliveryResult {
  /** `drained`: outbox empty; `not-due`: still backing off, nothing sent; `backing-off`: a send failed. */
  status: 'drained' | 'not-due' | 'backing-off';
  delivered: number;
  batches: number;
  rejected: RejectedItem[];
  nextAttemptAt: number | null;
  error?: unknown;
}

/** Runs one delivery round; only ids the server accepted leave the outbox. */
export async function deliver(
  outbox: Outbox,
  send: Send,
  options: DeliverOptions = {},
): Promise<DeliveryResult> {
  const result: DeliveryResult = {
    status: 'drained',
    delivered: 0,
    batches: 0,
    rejected: [],
    nextAttemptAt: outbox.nextAttemptAt(),
  };
  if (!outbox.isDue()) {
    return { ...result, status: 'not-due' };
  }
  const backOff = async (error: unknown, retryAfterMs?: number): Promise<DeliveryResult> => {
    await outbox.recordFailure(retryAfterMs);
    return { ...result, status: 'backing-off', error, nextAttemptAt: outbox.nextAttemptAt() };
  };
  for (;;) {
    const batch = await outbox.peekBatch(options.maxReports, options.maxEvents);
    if (batch.length === 0) {
      return { ...result, nextAttemptAt: outbox.nextAttemptAt() };
    }
    result.batches++;
    let outcome: SendOutcome;
    try {
      outcome = await send(batch);
    } catch (error) {
      outcome = { kind: 'failed', error };
    }
    // Only ids that were in this batch count: a confused or hostile answer naming other
    // ids must not remove items the server never saw.
    const inBatch = new Set(batch.map((item) => item.id.toLowerCase()));
    const fromBatch = (ids: readonly string[]) => ids.filter((id) => inBatch.has(id.toLowerCase()));
    switch (outcome.kind) {
      case 'accepted': {
        const removed = await outbox.acknowledge(fromBatch(outcome.ids));
        if (removed === 0) {
          // Without progress the next peek would send the same batch again at once.
          return backOff(new Error('the server accepted none of the batch'));
        }
        result.delivered += removed;
        await outbox.recordSuccess();
        break;
      }
      case 'retry-after':
        return backOff(new Error('the server asked to retry later'), outcome.ms);
      case 'failed':
        return backOff(outcome.error);
      case 'rejected': {
        const rejected = await outbox.reject(fromBatch(outcome.ids), outcome.reason);
        if (rejected.length === 0) {
          return backOff(new Error(`the server rejected the batch: ${outcome.reason}`));
        }
        // A refusal is an answer, not an outage: the rest of the batch goes on at once.
        result.rejected.push(...rejected);
        break;
      }
      default:
        assertNever(outcome);
    }
  }
}
