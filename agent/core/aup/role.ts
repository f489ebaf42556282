// Which role a user has for the AUP (policy `aup.rules`, first match wins, then `defaultRole`).
// Pure: the console user and their groups come from the OS (console-user/), never the tray.
import { compileUserPattern, type AupPolicy, type AupRole } from '../../../shared/index.ts';

/** A user's role and the rule that gave it (null: the default). */
export interface AupRoleMatch {
  role: AupRole | null;
  ruleId: string | null;
}

/**
 * A role, and whether the groups the OS could not read might have given another one. `certain`
 * is false only when the group list is incomplete and a rule that names groups comes before
 * the one that matched (or before the default): a group that was not read might match it.
 */
export interface AupRoleDecision extends AupRoleMatch {
  certain: boolean;
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

/**
 * The role of `user` as aupRoleFor gives it, and whether the missing groups of an incomplete
 * read (`groupsComplete: false`) could change it. The groups that were read are the user's
 * (Windows lists local groups even without a domain controller), so a rule they match matches;
 * a rule naming groups none of them match is undecided, unless another of its conditions
 * already fails, and an undecided rule before the first match makes the answer uncertain.
 */
export function aupRoleDecision(
  user: { name: string; groups: readonly string[]; groupsComplete?: boolean },
  deviceGroup: string | null,
  aup: Pick<AupPolicy, 'rules' | 'defaultRole'>,
): AupRoleDecision {
  const match = aupRoleFor(user, deviceGroup, aup);
  if (user.groupsComplete !== false) {
    return { ...match, certain: true };
  }
  for (const rule of aup.rules ?? []) {
    if (rule.id === match.ruleId) {
      break;
    }
    const otherwiseMatches =
      (rule.userPattern === undefined || patternMatches(rule.userPattern, user.name)) &&
      (rule.deviceGroups === undefined ||
        (deviceGroup !== null && rule.deviceGroups.some((g) => same(g, deviceGroup))));
    // It did not match; with its other conditions met, only an unread group could make it.
    if (rule.groups !== undefined && otherwiseMatches) {
      return { ...match, certain: false };
    }
  }
  return { ...match, certain: true };
}

function patternMatches(pattern: string, name: string): boolean {
  try {
    return compileUserPattern(pattern).test(name);
  } catch {
    return false;
  }
}
