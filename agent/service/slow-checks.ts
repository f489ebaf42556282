import { join } from 'node:path';
import { CheckResultSchema, validate, type CheckResult } from '../../shared/index.ts';
import { writeFileDurably } from '../core/outbox/durable-fs.ts';
import { readTrustedFile, serviceUid } from '../core/trusted-path.ts';

// Checks whose probes are slow and networked (Windows Update search, `softwareupdate --list`:
// minutes, and they contact Microsoft/Apple) run on their own cadence; between runs their last
// result is reused. PLATFORMS.md §3 and §10.
const FILE = 'slow-checks.json';
// A few results of a few KiB each; anything far larger is not ours.
const MAX_BYTES = 1024 * 1024;

/** Ids of the slow checks. */
export const SLOW_CHECK_IDS: ReadonlySet<string> = new Set(['os-updates']);

/** Last results of slow checks, kept on disk so a restart does not rerun them at once. */
export class SlowCheckCache {
  readonly #dir: string;
  #results = new Map<string, CheckResult>();
  #problems: string[] = [];

  private constructor(stateDir: string) {
    this.#dir = stateDir;
  }

  /**
   * Loads the cache. A file that is not the service's own (owner other than `uid`, default this
   * process's; writable by others; a link) is ignored and listed in problems(): a planted cache
   * would otherwise stand in for an os-updates pass for a whole interval. An unreadable or
   * corrupt one is ignored and listed too; either way the slow checks run on this pass.
   */
  static async open(
    stateDir: string,
    options: { uid?: number | null } = {},
  ): Promise<SlowCheckCache> {
    const cache = new SlowCheckCache(stateDir);
    const path = join(stateDir, FILE);
    const uid = options.uid === undefined ? serviceUid() : options.uid;
    const read = await readTrustedFile(path, { uid, maxBytes: MAX_BYTES });
    if (read.kind === 'untrusted') {
      cache.#problems.push(`slow-check cache not trusted, ignored: ${read.reason}`);
      return cache;
    }
    if (read.kind === 'unreadable') {
      cache.#problems.push(`slow-check cache ignored: ${read.reason}`);
      return cache;
    }
    if (read.kind === 'missing') {
      return cache;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(read.text);
    } catch {
      cache.#problems.push(`slow-check cache ${path} is not JSON; ignored`);
      return cache;
    }
    if (!Array.isArray(parsed)) {
      cache.#problems.push(`slow-check cache ${path} is not a list; ignored`);
      return cache;
    }
    for (const entry of parsed) {
      const checked = validate(CheckResultSchema, entry);
      if (checked.ok && SLOW_CHECK_IDS.has(checked.value.checkId)) {
        cache.#results.set(checked.value.checkId, checked.value);
      }
    }
    return cache;
  }

  /** What was wrong with the file at open (not trusted, corrupt), for the log and ICT. */
  problems(): readonly string[] {
    return this.#problems;
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
