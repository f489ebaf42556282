import type { Policy } from '../../../../shared/index.ts';
import type { EvaluationContext, Verdict } from '../define-check.ts';
import type { OsUpdatesFacts } from './facts.ts';
import { compareDottedVersions } from './version.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

interface Finding {
  summary: string;
  remediation: string;
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

  if (facts.pendingSecurityUpdates === null) {
    missing.push('the number of pending security updates');
  } else if (facts.pendingSecurityUpdates > rules.maxPendingSecurityUpdates) {
    const titles = facts.pendingSecurityTitles.slice(0, 5).join('; ');
    failures.push({
      summary: 'This computer is missing security updates.',
      remediation: `Install the ${facts.pendingSecurityUpdates} pending security update(s) (policy allows ${rules.maxPendingSecurityUpdates})${titles === '' ? '' : `: ${titles}`}.`,
    });
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
  if (facts.rebootPending === true) {
    return {
      status: 'warn',
      summary: 'Please restart this computer to finish installing updates.',
      remediation: 'Updates are installed but wait for a restart; restart the computer.',
    };
  }
  return { status: 'pass', summary: 'This computer is up to date.' };
}
