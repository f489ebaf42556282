// The service's side of the idle lock: the tray says it locked its session (`idle:locked`) and
// this records an `idle.locked` event. The tray is untrusted and any local user can connect, so
// the user named in the event is the console user the service finds itself, the tray's idle
// figure is only a bounded number, and events are rate-limited: a client repeating the request
// fills the outbox with at most one event per interval.
import { randomUUID } from 'node:crypto';
import { SCHEMA_VERSION, type AgentEvent } from '../../shared/index.ts';
import type { ConsoleUserSource } from '../core/console-user/console-user.ts';

/** What the recorder is built from. */
export interface IdleLockRecorderOptions {
  consoleUser: ConsoleUserSource;
  recordEvent(event: AgentEvent): Promise<void>;
  now(): Date;
  /**
   * At most one event per this long. A real idle lock needs at least a policy minute of no
   * input after the previous unlock, so a minute loses none.
   */
  minIntervalMs?: number;
}

/** Records idle locks the tray reports. */
export class IdleLockRecorder {
  readonly #options: IdleLockRecorderOptions;
  #last = Number.NEGATIVE_INFINITY;

  constructor(options: IdleLockRecorderOptions) {
    this.#options = options;
  }

  /** Records one lock; false when one was recorded less than the interval ago. */
  async record(idleSeconds: number): Promise<boolean> {
    const now = this.#options.now();
    const since = now.getTime() - this.#last;
    // A clock set back counts as "too soon" only until it passes the last one again.
    if (since >= 0 && since < (this.#options.minIntervalMs ?? 60_000)) {
      return false;
    }
    this.#last = now.getTime();
    let user: string | null;
    try {
      user = (await this.#options.consoleUser.current())?.name ?? null;
    } catch {
      // Who sat there could not be found out; the lock is still recorded, with no name.
      user = null;
    }
    await this.#options.recordEvent({
      schemaVersion: SCHEMA_VERSION,
      id: randomUUID(),
      occurredAt: now.toISOString(),
      type: 'idle.locked',
      data: { user: user === null ? null : user.slice(0, 256), idleSeconds },
    });
    return true;
  }
}
