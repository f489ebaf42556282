// Keeps the tray's idle lock on the policy the service holds, resolved for the console user
// (idle:policy): asked on every new connection and whenever the policy in the status changes.
// Until the first answer, and whenever asking fails, the lock keeps what it runs on (the
// built-in default at start, which locks): a service that cannot be reached never turns the lock
// off. Pure apart from the injected `ask`, so it is tested against a real service under Node.
import type { AgentStatus, IdleLockView } from '../../../shared/schemas/ipc.ts';
import type { ConnectionState } from '../service-client.ts';
import {
  idleLockViewTimings,
  REAL_TIME,
  type IdleLockTimings,
  type TimeScale,
} from './idle-lock.ts';

/** What one sync is built from. */
export interface IdlePolicySyncOptions {
  /** Asks the service (idle:policy on the tray's proven connection). */
  ask(): Promise<IdleLockView>;
  /** Hands new durations to the idle lock; called only when they differ from the last. */
  apply(timings: IdleLockTimings, view: IdleLockView): void;
  /** Asking failed; the lock keeps what it had. Told once per reason in a row. */
  failed(reason: string): void;
  scale?: TimeScale;
}

/** The policy's identity in a status: a new name or version means a new idle policy, maybe. */
function policyKey(status: AgentStatus): string {
  return `${String(status.policy.version)}\u0000${status.policy.name}`;
}

/** Follows the service's statuses and connection; asks again when either says so. */
export class IdlePolicySync {
  readonly #options: IdlePolicySyncOptions;
  /** The policy key the applied view was asked under; null: ask at the next status. */
  #askedFor: string | null = null;
  #asking = false;
  /** The last view applied, as JSON, so an unchanged answer does not disturb a countdown. */
  #applied: string | null = null;
  #lastFailure: string | null = null;
  /** Requests go only on a connection the client has finished setting up. */
  #connected = false;
  /** The policy key of the latest status, asked for once connected. */
  #latest: string | null = null;

  constructor(options: IdlePolicySyncOptions) {
    this.#options = options;
  }

  /** From the client's listener: a new connection (the user or the service may have changed). */
  connection(state: ConnectionState): void {
    this.#connected = state === 'connected';
    if (this.#connected) {
      // The client hands over its first status before it says connected.
      this.#maybeAsk();
    } else {
      this.#askedFor = null;
    }
  }

  /** From the client's listener: every status the service sent. */
  status(status: AgentStatus): void {
    this.#latest = policyKey(status);
    this.#maybeAsk();
  }

  #maybeAsk(): void {
    const key = this.#latest;
    if (!this.#connected || key === null || key === this.#askedFor || this.#asking) {
      return;
    }
    this.#asking = true;
    void this.#ask(key);
  }

  /** The view last applied; null until the service first answered. */
  current(): IdleLockView | null {
    return this.#applied === null ? null : (JSON.parse(this.#applied) as IdleLockView);
  }

  async #ask(key: string): Promise<void> {
    try {
      const view = await this.#options.ask();
      this.#askedFor = key;
      this.#lastFailure = null;
      const json = JSON.stringify(view);
      if (json !== this.#applied) {
        this.#applied = json;
        this.#options.apply(idleLockViewTimings(view, this.#options.scale ?? REAL_TIME), view);
      }
    } catch (error) {
      // Left unasked: the next status (the client polls) tries again.
      const reason = error instanceof Error ? error.message : String(error);
      if (reason !== this.#lastFailure) {
        this.#lastFailure = reason;
        this.#options.failed(reason);
      }
    } finally {
      this.#asking = false;
    }
  }
}
