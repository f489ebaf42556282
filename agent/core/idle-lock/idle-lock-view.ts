// The idle-lock policy as it applies to one console user: the service resolves it (it reads the
// user's groups itself, PLATFORMS.md §7) and the tray turns it into durations. Pure.
import type { IdleLockView } from '../../../shared/schemas/ipc.ts';
import type { IdleLockPolicy } from '../../../shared/schemas/policy.ts';
import type { ConsoleUser } from '../console-user/console-user.ts';
import { userExempt } from '../usb/decide.ts';

/** The ceiling when the policy honours inhibitors but names none: one lesson. */
export const DEFAULT_INHIBITOR_CEILING_MINUTES = 60;

/** Resolves `policy` for `user` (null: nobody at the console, so nobody is exempt). */
export function idleLockView(policy: IdleLockPolicy, user: ConsoleUser | null): IdleLockView {
  const ceiling = policy.inhibitorCeilingMinutes ?? DEFAULT_INHIBITOR_CEILING_MINUTES;
  return {
    user: user?.name ?? null,
    off: !policy.enabled ? 'disabled' : userExempt(user, policy.exempt) ? 'exempt' : null,
    minutes: policy.minutes,
    warningSeconds: policy.warningSeconds,
    honourInhibitors: policy.honourInhibitors === true,
    // A ceiling below the lock time would make an inhibitor hasten the lock.
    inhibitorCeilingMinutes: Math.max(policy.minutes, ceiling),
  };
}
