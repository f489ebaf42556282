// Which role a user has for the AUP (policy `aup.rules`, first match wins, then `defaultRole`).
// Pure: the console user and their groups come from the OS (console-user/), never the tray.
import { compileUserPattern, type AupPolicy, type AupRole } from '../../../shared/index.ts';

/** A user's role and the rule that gave it (null: the default). */
export interface AupRoleMatch {
  role: AupRole | null;
  ruleId: string | null;
}

/** Group and device-group names compare ignoring case: Windows and directories do. */
const same = (a: string, b: string) => a.localeCompare(b, 'en', { sensitivity: 'accent' }) === 0;

/**
 * The role of `user` on a device of `deviceGroup` (null when the device does not know its
 * group: a rule that needs one then does not match). A rule matches when each condition it
 * names matches; a pattern the policy checks refused never gets here, but one that throws is
 * treated as not matching rather than ending the service.
 */
export function aupRoleFor(
  user: { name: string; groups: readonly string[] },
  deviceGroup: string | null,
  aup: Pick<AupPolicy, 'rules' | 'defaultRole'>,
): AupRoleMatch {
  for (const rule of aup.rules ?? []) {
    if (
      rule.groups !== undefined &&
      !rule.groups.some((g) => user.groups.some((u) => same(g, u)))
    ) {
      continue;
    }
    if (rule.userPattern !== undefined && !patternMatches(rule.userPattern, user.name)) {
      continue;
    }
    if (
      rule.deviceGroups !== undefined &&
      (deviceGroup === null || !rule.deviceGroups.some((g) => same(g, deviceGroup)))
    ) {
      continue;
    }
    return { role: rule.role, ruleId: rule.id };
  }
  const fallback = aup.defaultRole ?? 'none';
  return { role: fallback === 'none' ? null : fallback, ruleId: null };
}

function patternMatches(pattern: string, name: string): boolean {
  try {
    return compileUserPattern(pattern).test(name);
  } catch {
    return false;
  }
}
