import type { Policy } from '../../../../shared/index.ts';
import type { OsName } from '../../platform.ts';
import { assertNever, type EvaluationContext, type Verdict } from '../define-check.ts';
import type { ScreenLockFacts } from './facts.ts';

const minutesText = (minutes: number): string =>
  minutes === 1 ? '1 minute' : `${minutes} minutes`;

/** Where ICT staff set the idle lock on each OS. */
function remediationFor(os: OsName, maxIdleMinutes: number): string {
  const seconds = maxIdleMinutes * 60;
  switch (os) {
    case 'windows':
      return `Set "Interactive logon: Machine inactivity limit" (InactivityTimeoutSecs) to ${seconds} seconds or less by Group Policy or Intune.`;
    case 'darwin':
      return `Deploy a com.apple.screensaver profile with idleTime of ${seconds} seconds or less and askForPassword on, with a short delay.`;
    case 'linux':
      return `Set org/gnome/desktop/session idle-delay to ${seconds} or less, screensaver lock-enabled=true and lock-delay in a keyfile in /etc/dconf/db/local.d/, lock all three keys in /etc/dconf/db/local.d/locks/, make sure /etc/dconf/profile/user lists system-db:local, then run dconf update.`;
    default:
      return assertNever(os);
  }
}

/** Turns screen-lock facts and the policy into a verdict; unknown is never a pass. */
export function evaluate(
  facts: ScreenLockFacts,
  policy: Policy,
  context: EvaluationContext,
): Verdict {
  const { required, maxIdleMinutes } = policy.checks.screenLock;
  if (!required) {
    return {
      status: 'pass',
      summary: 'Your school does not require this screen to lock by itself, so it was not checked.',
    };
  }
  if (facts.session === 'none') {
    // Only probes that observed the console empty report `none`; failures to look are unknown
    // from the parser with their own reason, so this sentence is what was seen.
    const detail = facts.problem ?? 'no console user was found';
    return {
      status: 'unknown',
      summary: `Could not check the screen lock because nobody is signed in (${detail}).`,
      reason: { code: 'not-measured', detail },
    };
  }
  if (facts.lockEnabled === null) {
    const detail = facts.problem ?? 'the screen lock settings could not be read';
    return {
      status: 'unknown',
      summary: `Could not tell whether this screen locks by itself: ${detail}`,
      reason: { code: 'unrecognised-output', detail },
    };
  }
  const remediation = remediationFor(context.os, maxIdleMinutes);
  if (!facts.lockEnabled || facts.lockAfterSeconds === null) {
    return {
      status: 'fail',
      summary: 'This screen never locks by itself when it is left alone.',
      remediation,
    };
  }
  const minutes = Math.ceil(facts.lockAfterSeconds / 60);
  if (minutes <= maxIdleMinutes && facts.userCanChange === true) {
    // The user's own setting passes, but they can undo it at any moment (or made the probe of
    // it say so): not enforced, so a pass only when what they cannot change passes by itself.
    const enforced = facts.enforcedLockAfterSeconds ?? null;
    const enforcedMinutes = enforced === null ? null : Math.ceil(enforced / 60);
    if (enforcedMinutes !== null && enforcedMinutes <= maxIdleMinutes) {
      return {
        status: 'pass',
        summary: `This screen locks by itself after ${minutesText(minutes)} without use, and a policy the user cannot change locks it after ${minutesText(enforcedMinutes)} at the latest.`,
      };
    }
    return {
      status: 'warn',
      summary: `This screen locks by itself after ${minutesText(minutes)} without use, but the signed-in user can change that setting.`,
      remediation,
    };
  }
  if (minutes <= maxIdleMinutes) {
    return {
      status: 'pass',
      summary: `This screen locks by itself after ${minutesText(minutes)} without use.`,
    };
  }
  return {
    status: 'fail',
    summary: `This screen only locks after ${minutesText(minutes)}; your school asks for ${minutesText(maxIdleMinutes)} or less.`,
    remediation,
  };
}
