// The service's network hold for the AUP's hold-network action: what a held device may still
// reach (the Hallpass server and the policy's allowlist, names resolved now), the OS hold
// itself (agent/core/network-hold), and whose decline it is for. Stopped with the service, which
// releases it; a service that dies without stopping releases it too on Linux (the hold is owned
// by it) and, on Windows and macOS, when it starts again (start() clears what is left).
import type { NetworkHold } from '../core/network-hold/index.ts';
import {
  parseHoldEntry,
  resolveHoldTargets,
  serverEntry,
  type HoldEntry,
  type ResolveName,
} from '../core/network-hold/targets.ts';
import type { AupNetworkHold } from './aup-sessions.ts';

/** What one duty is built from. */
export interface NetworkHoldDutyOptions {
  hold: NetworkHold;
  /** The Hallpass server's URL; null before enrolment (then only the allowlist stays open). */
  serverUrl: () => string | null;
  /** The policy's `aup.networkHold.allow`. */
  allow: () => string[];
  resolve: ResolveName;
  log: {
    warn(details: Record<string, unknown>, message: string): void;
    info(details: Record<string, unknown>, message: string): void;
    error(details: Record<string, unknown>, message: string): void;
  };
}

/** Holds the network for one decliner at a time. */
export class NetworkHoldDuty implements AupNetworkHold {
  readonly #o: NetworkHoldDutyOptions;
  #heldFor: string | null = null;
  /** Holds and releases one at a time, in order. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: NetworkHoldDutyOptions) {
    this.#o = options;
  }

  heldFor(): string | null {
    return this.#o.hold.held() ? this.#heldFor : null;
  }

  /** Holds for `user`; the actionError (what is wrong with the hold), or null. */
  hold(user: string): Promise<string | null> {
    return this.#serially(async () => {
      const problems: string[] = [];
      const entries: HoldEntry[] = [];
      const url = this.#o.serverUrl();
      const server = url === null ? null : serverEntry(url);
      if (server === null) {
        problems.push('no Hallpass server address to keep open');
      } else {
        entries.push(server);
      }
      for (const text of this.#o.allow()) {
        const entry = parseHoldEntry(text);
        if (entry === null) {
          problems.push(`not a host: ${text}`);
        } else {
          entries.push(entry);
        }
      }
      const resolved = await resolveHoldTargets(entries, this.#o.resolve);
      problems.push(...resolved.problems.map((problem) => `not resolved: ${problem}`));
      try {
        await this.#o.hold.hold(resolved.targets);
      } catch (error) {
        this.#heldFor = null;
        const reason = error instanceof Error ? error.message : String(error);
        return reason.slice(0, 1000);
      }
      this.#heldFor = user;
      this.#o.log.info(
        { targets: resolved.targets.length },
        'network held until the AUP is signed',
      );
      // Held, but not to everything it should stay open to: ICT hears which.
      return problems.length === 0 ? null : `held; ${problems.join('; ')}`.slice(0, 1000);
    });
  }

  /**
   * Lifts the hold. When the OS refuses (a Windows or macOS firewall command failing), the hold
   * stays recorded as this user's, so the next look at the console tries again.
   */
  release(): Promise<void> {
    return this.#serially(async () => {
      await this.#o.hold.release();
      this.#heldFor = null;
    });
  }

  /**
   * Clears a hold a crashed run of the service left (Windows Firewall rules and pf anchors
   * outlive their maker). Runs before any hold of this run, in the same queue; never rejects.
   */
  start(): Promise<void> {
    return this.#serially(async () => {
      try {
        await this.#o.hold.clearLeftover();
      } catch (error) {
        this.#o.log.error(
          { error: error instanceof Error ? error.message : String(error) },
          'a network hold left by an earlier run could not be cleared',
        );
      }
    });
  }

  /** Releases any hold: the service is stopping. Never rejects; a failure is logged. */
  async stop(): Promise<void> {
    try {
      await this.release();
    } catch (error) {
      this.#o.log.error(
        { error: error instanceof Error ? error.message : String(error) },
        'the network hold could not be released as the service stopped',
      );
    }
  }

  #serially<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(task, task);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}
