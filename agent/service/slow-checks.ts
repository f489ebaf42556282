import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckResultSchema, validate, type CheckResult } from '../../shared/index.ts';
import { writeFileDurably } from '../core/outbox/durable-fs.ts';

// Checks whose probes are slow and networked (Windows Update search, `softwareupdate --list`:
// minutes, and they contact Microsoft/Apple) run on their own cadence; between runs their last
// result is reused. PLATFORMS.md §3 and §10.
const FILE = 'slow-checks.json';

/** Ids of the slow checks. */
export const SLOW_CHECK_IDS: ReadonlySet<string> = new Set(['os-updates']);

/** Last results of slow checks, kept on disk so a restart does not rerun them at once. */
export class SlowCheckCache {
  readonly #dir: string;
  #results = new Map<string, CheckResult>();

  private constructor(stateDir: string) {
    this.#dir = stateDir;
  }

  /** Loads the cache; an unreadable or invalid file just means "run them again". */
  static async open(stateDir: string): Promise<SlowCheckCache> {
    const cache = new SlowCheckCache(stateDir);
    try {
      const parsed: unknown = JSON.parse(await readFile(join(cache.#dir, FILE), 'utf8'));
      if (Array.isArray(parsed)) {
        for (const entry of parsed) {
          const checked = validate(CheckResultSchema, entry);
          if (checked.ok) {
            cache.#results.set(checked.value.checkId, checked.value);
          }
        }
      }
    } catch {
      // Missing or corrupt: the slow checks simply run on this pass.
    }
    return cache;
  }

  /** A cached result still fresh at `now`, or undefined when the check is due. */
  fresh(checkId: string, now: Date, maxAgeHours: number): CheckResult | undefined {
    const result = this.#results.get(checkId);
    if (result === undefined || result.status === 'unknown') {
      return undefined;
    }
    const age = now.getTime() - Date.parse(result.measuredAt);
    return age >= 0 && age < maxAgeHours * 3_600_000 ? result : undefined;
  }

  /** The last stored result of a check, fresh or not: os-updates carries first-seen dates in it. */
  last(checkId: string): CheckResult | undefined {
    return this.#results.get(checkId);
  }

  /** Remembers new results of slow checks. */
  async store(results: readonly CheckResult[]): Promise<void> {
    const slow = results.filter((r) => SLOW_CHECK_IDS.has(r.checkId));
    if (slow.length === 0) {
      return;
    }
    for (const result of slow) {
      this.#results.set(result.checkId, result);
    }
    await writeFileDurably(
      this.#dir,
      FILE,
      `.tmp-${FILE}`,
      JSON.stringify([...this.#results.values()]),
    );
  }
}
