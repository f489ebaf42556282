// How the agent knows how long an update has been pending. Neither `softwareupdate --list` nor
// com.apple.SoftwareUpdate.plist (RecommendedUpdates: name, version, product key) gives a date
// for a pending update, and the Windows and apt lists used here do not either. So the agent keeps
// its own first-seen record: each os-updates result carries `pendingFirstSeen` in its evidence,
// the service keeps the last result on disk (the slow-check cache), and the next run carries the
// dates over. Fail closed: a pending title the agent has no earlier record of (first run, a lost
// or unreadable cache, a failed run in between, a title beyond the 20 kept) gets no date, and the
// evaluator counts it as overdue; only a title that an earlier complete observation showed was
// NOT pending starts its grace period now.
import type { CheckResult } from '../../../../shared/index.ts';
import type { OsUpdatesFacts } from './facts.ts';

interface Observation {
  titles: ReadonlySet<string>;
  /** The earlier list named every required update (none cut off at the 20 kept). */
  complete: boolean;
  firstSeen: ReadonlyMap<string, string>;
}

const isValidDate = (value: unknown): value is string =>
  typeof value === 'string' && !Number.isNaN(Date.parse(value));

/** What an earlier result observed, or null when it observed no list (unknown, other shape). */
function observationOf(previous: CheckResult | undefined): Observation | null {
  if (previous === undefined || previous.status === 'unknown') {
    return null;
  }
  const { pendingSecurityUpdates: count, pendingSecurityTitles: titles } = previous.evidence;
  if (
    typeof count !== 'number' ||
    !Array.isArray(titles) ||
    !titles.every((title) => typeof title === 'string')
  ) {
    return null;
  }
  const firstSeen = new Map<string, string>();
  const recorded = previous.evidence.pendingFirstSeen;
  if (typeof recorded === 'object' && recorded !== null && !Array.isArray(recorded)) {
    for (const [title, at] of Object.entries(recorded)) {
      if (isValidDate(at)) {
        firstSeen.set(title, at);
      }
    }
  }
  return { titles: new Set(titles), complete: count === titles.length, firstSeen };
}

/** Carries first-seen dates of pending required updates over from the previous result. */
export function carryFirstSeen(
  facts: OsUpdatesFacts,
  previous: CheckResult | undefined,
  now: Date,
): OsUpdatesFacts {
  const earlier = observationOf(previous);
  const firstSeen: Record<string, string> = {};
  for (const title of facts.pendingSecurityTitles) {
    const recorded = earlier?.firstSeen.get(title);
    if (recorded !== undefined && earlier?.titles.has(title) === true) {
      firstSeen[title] = recorded;
    } else if (earlier?.complete === true && !earlier.titles.has(title)) {
      firstSeen[title] = now.toISOString();
    }
  }
  return { ...facts, pendingFirstSeen: firstSeen };
}
