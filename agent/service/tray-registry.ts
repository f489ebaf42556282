// Which console session has its tray (issue 14): a tray that says `tray:hello` on a proven
// connection is recorded under the user the proof and the console-user module name (never a
// name from the message), until that connection closes. Every minute the registry looks at
// who sits at the console; a console user without a tray for longer than the policy allows
// raises `tamper.tray-missing`, once per episode: a tray that connects again, or a different
// user at the console, ends it. The console-user module reports one user per device, so a
// session is the console user here; fast user switching to another user starts a new episode.
import { randomUUID } from 'node:crypto';
import {
  DEFAULT_TRAY_MISSING_AFTER_MINUTES,
  SCHEMA_VERSION,
  type AgentEvent,
  type IpcPeer,
  type Policy,
} from '../../shared/index.ts';
import type { ConsoleUserSource } from '../core/console-user/console-user.ts';

/** What the registry is built from. */
export interface TrayRegistryOptions {
  consoleUser: ConsoleUserSource;
  policy: { current(): Policy };
  recordEvent(event: AgentEvent): Promise<void>;
  now(): Date;
  log?: { warn(details: Record<string, unknown>, message: string): void };
  /** How often the console is looked at; a minute by default. */
  pollMs?: number;
}

/** A connected tray as the status shows it. */
export interface ConnectedTray {
  user: string | null;
  since: string;
}

/** The trays connected now, and the console sessions that have gone without one. */
export class TrayRegistry {
  readonly #options: TrayRegistryOptions;
  readonly #trays = new Map<number, { user: string | null; since: Date }>();
  #next = 1;
  /** The console user last seen without a tray, since when, and whether ICT was told. */
  #missing: { user: string; since: Date; raised: boolean } | null = null;
  #timer: NodeJS.Timeout | null = null;
  #checking: Promise<void> | null = null;

  constructor(options: TrayRegistryOptions) {
    this.#options = options;
  }

  /** Records a tray on a proven console connection; returns what to call when it closes. */
  connected(peer: IpcPeer): { release(): void } {
    const key = this.#next++;
    this.#trays.set(key, { user: peer.user, since: this.#options.now() });
    // A tray back ends the episode at once; the next look confirms it is the console user's.
    if (this.#missing !== null && this.#missing.user === peer.user) {
      this.#missing = null;
    }
    return {
      release: () => {
        this.#trays.delete(key);
      },
    };
  }

  /** Whether a tray of `user` is connected now (the AUP module waits for it to show the AUP). */
  connectedFor(user: string): boolean {
    const name = user.toLowerCase();
    return [...this.#trays.values()].some((tray) => tray.user?.toLowerCase() === name);
  }

  /** The trays connected now, oldest first. */
  list(): ConnectedTray[] {
    return [...this.#trays.values()]
      .slice(0, 64)
      .map((tray) => ({ user: tray.user, since: tray.since.toISOString() }));
  }

  /** Looks at the console once: starts, ends or reports an episode without a tray. */
  check(): Promise<void> {
    // One look at a time: a console-user command slower than the poll must not pile up.
    this.#checking ??= this.#look().finally(() => {
      this.#checking = null;
    });
    return this.#checking;
  }

  async #look(): Promise<void> {
    let user: string | null;
    try {
      user = (await this.#options.consoleUser.current())?.name ?? null;
    } catch (error) {
      this.#options.log?.warn(
        { error: error instanceof Error ? error.message : String(error) },
        'tray registry: cannot tell who is at the console',
      );
      return;
    }
    const now = this.#options.now();
    const hasTray = [...this.#trays.values()].some((tray) => tray.user === user);
    if (user === null || hasTray) {
      this.#missing = null;
      return;
    }
    if (this.#missing?.user !== user) {
      this.#missing = { user, since: now, raised: false };
      return;
    }
    const minutes =
      this.#options.policy.current().tray?.missingAfterMinutes ??
      DEFAULT_TRAY_MISSING_AFTER_MINUTES;
    const missing = this.#missing;
    // A clock set back makes the gap negative: no event until it has really been that long.
    if (missing.raised || now.getTime() - missing.since.getTime() < minutes * 60_000) {
      return;
    }
    missing.raised = true;
    await this.#options.recordEvent({
      schemaVersion: SCHEMA_VERSION,
      id: randomUUID(),
      occurredAt: now.toISOString(),
      type: 'tamper.tray-missing',
      data: { user: user.slice(0, 256), since: missing.since.toISOString(), minutes },
    });
  }

  /** Looks at the console every poll interval until stopped. */
  start(): void {
    if (this.#timer !== null) {
      return;
    }
    this.#timer = setInterval(() => {
      void this.check().catch((error: unknown) => {
        this.#options.log?.warn(
          { error: error instanceof Error ? error.message : String(error) },
          'tray registry: could not record tamper.tray-missing',
        );
      });
    }, this.#options.pollMs ?? 60_000);
    this.#timer.unref();
  }

  /** Stops looking and waits for a look under way. */
  async stop(): Promise<void> {
    if (this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
    await this.#checking?.catch(() => undefined);
  }
}
