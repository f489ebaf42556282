import type { Policy } from '../../../../shared/index.ts';
import type { EvaluationContext, Verdict } from '../define-check.ts';
import type { OsUpdatesFacts } from './facts.ts';
import { compareDottedVersions } from './version.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

interface Finding {
  summary: string;
  remediation: string;
}

interface PendingJudgement {
  /** Required updates past the grace period, or of unknown age (fail closed). */
  overdue: number;
  /** Required updates first seen less than the grace period ago. */
  inGrace: number;
  /** A few titles for the summary, "and N more" after them. */
  names: string;
  /** Every kept title with how long it has been pending, for staff. */
  detail: string;
}

/**
 * Splits the pending required updates into overdue and still in their grace period, by the
 * first-seen dates the agent carried (first-seen.ts). An update without a date, or beyond the
 * titles kept, counts as overdue: its age is unknown.
 */
function judgePending(
  facts: OsUpdatesFacts,
  graceDays: number,
  context: EvaluationContext,
): PendingJudgement {
  const total = facts.pendingSecurityUpdates ?? 0;
  let inGrace = 0;
  const described = facts.pendingSecurityTitles.map((title) => {
    const seen = facts.pendingFirstSeen[title];
    const at = seen === undefined ? Number.NaN : Date.parse(seen);
    if (Number.isNaN(at)) {
      return `${title} (pending since before the agent's first record)`;
    }
    const age = context.now.getTime() - at;
    if (age < graceDays * DAY_MS) {
      inGrace += 1;
    }
    const days = Math.max(0, Math.floor(age / DAY_MS));
    return `${title} (pending ${days === 1 ? '1 day' : `${days} days`})`;
  });
  const unnamed = total - facts.pendingSecurityTitles.length;
  const shown = facts.pendingSecurityTitles.slice(0, 3);
  const more = total - shown.length;
  const names = shown.length === 0 ? `${total} update(s)` : shown.join(', ');
  return {
    overdue: total - inGrace,
    inGrace,
    names: more > 0 && shown.length > 0 ? `${names} and ${more} more` : names,
    detail:
      described.join('; ') + (unnamed > 0 ? `; and ${unnamed} more not listed` : '') || 'none',
  };
}

/** The minimum version the policy sets for this device, or undefined when it sets none. */
function minimumFor(facts: OsUpdatesFacts, policy: Policy, context: EvaluationContext) {
  const minimum = policy.checks.osUpdates.minimumVersion;
  switch (context.os) {
    case 'windows':
      return minimum.windows;
    case 'darwin':
      return minimum.darwin;
    case 'linux':
      return facts.osReleaseId === null ? undefined : minimum.linux?.[facts.osReleaseId];
  }
}

/**
 * Turns os-updates facts into a verdict. Any definite failure fails; otherwise a fact the
 * policy needs but the probe could not measure makes the result unknown, never a pass; a
 * pending restart warns (or fails when the policy says so); everything else passes.
 */
export function evaluate(
  facts: OsUpdatesFacts,
  policy: Policy,
  context: EvaluationContext,
): Verdict {
  const rules = policy.checks.osUpdates;
  const failures: Finding[] = [];
  const missing: string[] = [];

  const minimum = minimumFor(facts, policy, context);
  if (minimum !== undefined) {
    const order = facts.osVersion === null ? null : compareDottedVersions(facts.osVersion, minimum);
    if (order === null) {
      missing.push(`the OS version (needed to compare with the minimum ${minimum})`);
    } else if (order < 0) {
      failures.push({
        summary: "This computer's operating system is too old and needs upgrading.",
        remediation: `Upgrade ${facts.osName ?? 'the OS'} from ${facts.osVersion ?? '?'} to at least ${minimum}.`,
      });
    }
  }

  let waiting: Finding | null = null;
  if (facts.pendingSecurityUpdates === null) {
    missing.push('the number of pending security updates');
  } else {
    const pending = judgePending(facts, rules.pendingUpdateGraceDays ?? 0, context);
    const kind = context.os === 'darwin' ? 'update(s)' : 'security update(s)';
    if (pending.overdue > rules.maxPendingSecurityUpdates) {
      failures.push({
        summary: `This computer is missing updates: ${pending.names}.`,
        remediation: `Install the ${facts.pendingSecurityUpdates} pending ${kind} (policy allows ${rules.maxPendingSecurityUpdates} past a grace of ${rules.pendingUpdateGraceDays ?? 0} days): ${pending.detail}.`,
      });
    } else if (pending.inGrace > 0) {
      waiting = {
        summary: `Updates are waiting to be installed: ${pending.names}.`,
        remediation: `Install the ${facts.pendingSecurityUpdates} pending ${kind} before the policy's grace of ${rules.pendingUpdateGraceDays ?? 0} days runs out: ${pending.detail}.`,
      };
    }
  }

  if (facts.lastUpdateAt === null) {
    missing.push('when the computer last updated');
  } else {
    const at = Date.parse(facts.lastUpdateAt);
    if (Number.isNaN(at)) {
      missing.push('when the computer last updated (unreadable date)');
    } else {
      const days = Math.floor((context.now.getTime() - at) / DAY_MS);
      if (days > rules.maxDaysSinceLastUpdate) {
        failures.push({
          summary: 'This computer has not updated for too long.',
          remediation: `Last successful update ${days} days ago (${facts.lastUpdateSource}); the policy allows ${rules.maxDaysSinceLastUpdate}. Run updates and check why they stopped.`,
        });
      }
    }
  }

  if (rules.requireAutomaticUpdates) {
    if (facts.automaticUpdates === null) {
      missing.push('whether automatic updates are on');
    } else if (!facts.automaticUpdates) {
      failures.push({
        summary: 'Automatic updates are turned off on this computer.',
        remediation: `Turn automatic updates back on: ${facts.automaticUpdatesDetail}`,
      });
    }
  }

  if (facts.rebootPending === null) {
    // Only a blocker when a pending restart would fail; macOS records no such flag.
    if (!rules.rebootPendingWarnOnly) {
      missing.push('whether a restart is pending');
    }
  } else if (facts.rebootPending && !rules.rebootPendingWarnOnly) {
    failures.push({
      summary: 'This computer needs a restart to finish installing updates.',
      remediation: 'Restart the computer to finish installing updates.',
    });
  }

  const first = failures[0];
  if (first !== undefined) {
    return {
      status: 'fail',
      summary: first.summary,
      remediation: failures.map((failure) => failure.remediation).join(' '),
    };
  }
  if (missing.length > 0) {
    const problems = facts.problems.length > 0 ? ` (${facts.problems.join('; ')})` : '';
    return {
      status: 'unknown',
      summary: `Could not tell whether this computer is up to date: could not measure ${missing.join(', ')}${problems}.`,
      remediation: 'Check the update settings and history on this computer by hand.',
      reason: {
        code: 'not-measured',
        detail: `Could not measure ${missing.join(', ')}${problems}.`,
      },
    };
  }
  if (waiting !== null) {
    return { status: 'warn', ...waiting };
  }
  if (facts.rebootPending === true) {
    return {
      status: 'warn',
      summary: 'Please restart this computer to finish installing updates.',
      remediation: 'Updates are installed but wait for a restart; restart the computer.',
    };
  }
  return { status: 'pass', summary: 'This computer is up to date.' };
}
