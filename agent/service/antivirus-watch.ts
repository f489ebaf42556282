// The service's watch on the anti-virus while it runs (REQUIREMENTS.md, anti-virus: "disabling
// it while the agent runs raises a `tamper` event"). It reads each pass's `antivirus` result
// (the check's evidence lists the products and their real-time state on every OS, and
// Gatekeeper on macOS) and records one `tamper.antivirus-disabled` event per product whose
// protection was on at the last observation and is now off (snoozed, expired, passive, or gone
// from a list the probe read in full, having been seen on in one: on Windows Defender's name
// differs when Security Center cannot be read, and a name only seen in such a partial list
// proves nothing by its absence). A product that comes back on arms it again. A result
// that could not tell (`unknown`) is no observation: the last known state stands. The products
// last known on are kept in the state folder, so stopping the service, turning the anti-virus
// off and starting it again is noticed by the first pass after the start. Root-only like every
// state file: one that is not the service's own or does not parse is moved aside and reported,
// and the watch starts with no previous state (it raises nothing until it has seen a product on).
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Type } from 'typebox';
import {
  parseJsonAs,
  SCHEMA_VERSION,
  Text,
  type AgentEvent,
  type CheckResult,
} from '../../shared/index.ts';
import { moveIfPresent, writeFileDurably } from '../core/outbox/durable-fs.ts';
import { readTrustedFile, serviceUid } from '../core/trusted-path.ts';

const FILE = 'antivirus-watch.json';
const MAX_BYTES = 16 * 1024;
/** The event's `product` is Text(200); longer names are clipped to it everywhere. */
export const PRODUCT_NAME_KEPT = 200;
/** More products on at once than any device has; beyond it the rest are not remembered. */
export const MAX_PRODUCTS_KEPT = 16;
/** macOS Gatekeeper, watched as a product: turning it off is how a Mac's protection is disabled. */
export const GATEKEEPER = 'Gatekeeper';

const StateFileSchema = Type.Object(
  {
    /** Products whose protection was on at the last observation. */
    on: Type.Array(
      Type.Object(
        {
          name: Text(PRODUCT_NAME_KEPT),
          /** Seen on in a list the probe read in full: its absence from one means it is gone. */
          fullList: Type.Boolean(),
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_PRODUCTS_KEPT },
    ),
  },
  { additionalProperties: false },
);

/** Products last known on, by name: whether one was seen on in a list read in full. */
export type LastKnownOn = ReadonlyMap<string, boolean>;

/** One product's protection as a pass saw it. */
export type SeenState = 'on' | 'off' | 'unknown';

/** What one pass's antivirus result says. */
export interface AntivirusObservation {
  /** Each product named, by its (clipped) name. */
  products: ReadonlyMap<string, SeenState>;
  /** The probe read everything: a product missing from the list is gone, not unseen. */
  complete: boolean;
}

const STATES: Readonly<Record<string, SeenState>> = {
  on: 'on',
  off: 'off',
  snoozed: 'off',
  expired: 'off',
  // Another product is primary: this one no longer protects in real time.
  passive: 'off',
  unknown: 'unknown',
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A product's name as kept and sent: one line, trimmed, at most PRODUCT_NAME_KEPT characters. */
export function productName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const oneLine = name.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  return oneLine.trim().slice(0, PRODUCT_NAME_KEPT);
}

/**
 * What a pass's `antivirus` result says of each product: an observation, or why it is none.
 * A result that could not tell (`unknown`) says nothing; so does evidence of another shape
 * than the check's facts (agent/core/checks/antivirus/facts.ts), which is never guessed at.
 */
export function observeAntivirus(result: CheckResult): AntivirusObservation | string {
  if (result.checkId !== 'antivirus') {
    return `not an antivirus result (${result.checkId})`;
  }
  if (result.status === 'unknown') {
    return `the antivirus check could not tell (${result.reason?.code ?? 'no reason'})`;
  }
  const { products, errors, gatekeeper } = result.evidence;
  if (!Array.isArray(products) || !Array.isArray(errors)) {
    return 'the antivirus evidence has no products or errors list';
  }
  const seen = new Map<string, SeenState>();
  const note = (name: string, state: SeenState): void => {
    const before = seen.get(name);
    // Two entries of one name: on if either is on; unknown beats off (it may be the one on).
    if (before === 'on' || (before === 'unknown' && state === 'off')) {
      return;
    }
    seen.set(name, state);
  };
  for (const item of products) {
    if (!isRecord(item) || typeof item.name !== 'string' || typeof item.state !== 'string') {
      return 'an antivirus product in the evidence has no name or state';
    }
    const state = STATES[item.state];
    const name = productName(item.name);
    if (state === undefined || name === '') {
      return `antivirus product ${JSON.stringify(name)} has an unexpected state`;
    }
    note(name, state);
  }
  if (gatekeeper === 'enabled' || gatekeeper === 'disabled') {
    note(GATEKEEPER, gatekeeper === 'enabled' ? 'on' : 'off');
  } else if (gatekeeper !== null && gatekeeper !== undefined) {
    return 'the antivirus evidence has an unexpected Gatekeeper state';
  }
  return { products: seen, complete: errors.length === 0 };
}

/**
 * From the products last known on and a new observation: which are on now and which were
 * turned off since. A product in an unknown state keeps its last known state; so does one
 * missing from an incomplete list, or missing from a full one when it was only ever seen on in
 * incomplete lists (a name that may have changed, never proof that it is gone).
 */
export function antivirusTransition(
  lastOn: LastKnownOn,
  seen: AntivirusObservation,
): { on: Map<string, boolean>; disabled: string[] } {
  const on = new Map<string, boolean>();
  const disabled: string[] = [];
  for (const [name, fullList] of lastOn) {
    const state = seen.products.get(name);
    if (state === 'off' || (state === undefined && seen.complete && fullList)) {
      disabled.push(name);
    } else {
      on.set(name, fullList || (state === 'on' && seen.complete));
    }
  }
  for (const [name, state] of seen.products) {
    if (state === 'on' && !on.has(name) && on.size < MAX_PRODUCTS_KEPT) {
      on.set(name, seen.complete);
    }
  }
  return { on, disabled };
}

/** The service's structured logger (pino's shape), as much as the watch uses. */
export interface WatchLog {
  warn(details: Record<string, unknown>, message: string): void;
  error(details: Record<string, unknown>, message: string): void;
}

/** What the watch is built from. */
export interface AntivirusWatchOptions {
  recordEvent(event: AgentEvent): Promise<void>;
  log: WatchLog;
  /** The file's expected owner; default this process's uid (null: Windows, no owner check). */
  uid?: number | null;
  now?: () => Date;
}

/** Watches each pass's antivirus result for protection turned off; call observe() per pass. */
export class AntivirusWatch {
  readonly #dir: string;
  readonly #options: AntivirusWatchOptions;
  readonly #problems: string[];
  #on: Map<string, boolean>;
  /** Observations are handled one after another, in the order of the passes. */
  #work: Promise<void> = Promise.resolve();
  #stopped = false;

  private constructor(
    dir: string,
    on: Map<string, boolean>,
    problems: string[],
    options: AntivirusWatchOptions,
  ) {
    this.#dir = dir;
    this.#on = on;
    this.#problems = problems;
    this.#options = options;
  }

  /**
   * Loads the products last known on. A file that cannot be trusted or parsed is moved aside
   * and named in problems(); the watch then starts with no previous state.
   */
  static async open(stateDir: string, options: AntivirusWatchOptions): Promise<AntivirusWatch> {
    const path = join(stateDir, FILE);
    const uid = options.uid === undefined ? serviceUid() : options.uid;
    const read = await readTrustedFile(path, { uid, maxBytes: MAX_BYTES });
    if (read.kind === 'missing') {
      return new AntivirusWatch(stateDir, new Map(), [], options);
    }
    let refused: string;
    if (read.kind === 'ok') {
      const loaded = parseStateFile(read.text);
      if (typeof loaded !== 'string') {
        return new AntivirusWatch(stateDir, loaded, [], options);
      }
      refused = loaded;
    } else {
      refused = read.reason;
    }
    const now = (options.now ?? (() => new Date()))();
    const aside = `${path}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
    let problem = `anti-virus watch state ${path} refused (${refused}); starting with no previous state`;
    try {
      await moveIfPresent(path, aside);
      problem += `; moved aside to ${aside}`;
    } catch (error) {
      problem += `; could not move it aside (${errorText(error)})`;
    }
    return new AntivirusWatch(stateDir, new Map(), [problem], options);
  }

  /** What was wrong with the file at open, for the log. */
  problems(): readonly string[] {
    return this.#problems;
  }

  /** The products last known on, sorted (status and tests). */
  lastKnownOn(): string[] {
    return [...this.#on.keys()].sort();
  }

  /**
   * Takes one pass's results; only the antivirus result is read. Returns at once: the events
   * and the state file are written in the background, in order (settled() waits for them).
   */
  observe(results: readonly CheckResult[]): void {
    const result = results.find((r) => r.checkId === 'antivirus');
    if (this.#stopped || result === undefined) {
      return;
    }
    this.#work = this.#work
      .then(() => this.#apply(result))
      .catch((error: unknown) => {
        this.#options.log.error({ error: errorText(error) }, 'anti-virus watch failed');
      });
  }

  /** Waits for the observations taken so far. */
  settled(): Promise<void> {
    return this.#work;
  }

  /** Takes no more observations and waits for those taken (before the outbox closes). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#work;
  }

  async #apply(result: CheckResult): Promise<void> {
    const seen = observeAntivirus(result);
    if (typeof seen === 'string') {
      if (result.status !== 'unknown') {
        // Our own check wrote this evidence: a shape it does not have is a bug worth a line.
        this.#options.log.warn({ problem: seen }, 'anti-virus watch: result not understood');
      }
      return;
    }
    const next = antivirusTransition(this.#on, seen);
    for (const product of next.disabled) {
      try {
        await this.#options.recordEvent({
          schemaVersion: SCHEMA_VERSION,
          id: randomUUID(),
          occurredAt: result.measuredAt,
          type: 'tamper.antivirus-disabled',
          data: { product },
        });
      } catch (error) {
        // Not queued (a full disk): it stays "on", so the next pass that sees it off tries again.
        next.on.set(product, this.#on.get(product) ?? false);
        this.#options.log.error(
          { product, error: errorText(error) },
          'could not queue tamper.antivirus-disabled',
        );
      }
    }
    const changed =
      next.on.size !== this.#on.size ||
      [...next.on].some(([name, fullList]) => this.#on.get(name) !== fullList);
    this.#on = next.on;
    if (changed) {
      try {
        await writeFileDurably(
          this.#dir,
          FILE,
          `.tmp-${FILE}`,
          JSON.stringify({
            on: [...next.on]
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              .map(([name, fullList]) => ({ name, fullList })),
          }),
        );
      } catch (error) {
        // Kept in memory: only a restart before the next good write could repeat or miss one.
        this.#options.log.error(
          { error: errorText(error) },
          'anti-virus watch state not written; kept in memory',
        );
      }
    }
  }
}

/** The products last known on in a file's text, or why it is refused. */
function parseStateFile(text: string): Map<string, boolean> | string {
  const checked = parseJsonAs(StateFileSchema, text);
  if (!checked.ok) {
    return checked.reason;
  }
  const on = new Map<string, boolean>();
  for (const entry of checked.value.on) {
    const name = productName(entry.name);
    if (name === '' || on.has(name)) {
      return 'an empty or repeated product name';
    }
    on.set(name, entry.fullList);
  }
  return on;
}

function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 1000);
}
