// What the schema cannot say about a policy: ids that must be unique, rules that must name a
// role some document is written for, patterns that must compile, dates that must exist. Used
// wherever a policy is accepted (the agent's parser, the ICT upload, the server's CLI), so a
// policy a device would refuse is refused at upload with the same words.
import { PolicySchema, type AupPolicy, type Policy } from './schemas/policy.ts';
import { validate, type SchemaProblem, type Validated } from './validate.ts';

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Compiles a rule's `userPattern`: anchored to the whole name, ignoring case. Throws a
 * SyntaxError for a pattern JavaScript refuses.
 */
export function compileUserPattern(pattern: string): RegExp {
  return new RegExp(`^(?:${pattern})$`, 'iu');
}

/** Problems in the AUP part of a policy the schema already accepted; empty when none. */
export function aupPolicyProblems(aup: AupPolicy): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const documentIds = new Set<string>();
  aup.documents.forEach((document, index) => {
    if (documentIds.has(document.id)) {
      problems.push({
        path: `/aup/documents/${index}/id`,
        message: `duplicate document id ${document.id}: each document needs its own id`,
      });
    }
    documentIds.add(document.id);
  });
  const rolesWithDocuments = new Set(aup.documents.map((document) => document.role));
  const ruleIds = new Set<string>();
  (aup.rules ?? []).forEach((rule, index) => {
    const at = `/aup/rules/${index}`;
    if (ruleIds.has(rule.id)) {
      problems.push({ path: `${at}/id`, message: `duplicate rule id ${rule.id}` });
    }
    ruleIds.add(rule.id);
    if (!rolesWithDocuments.has(rule.role)) {
      problems.push({
        path: `${at}/role`,
        message: `rule ${rule.id} gives the role ${rule.role}, but no document is written for ${rule.role}`,
      });
    }
    if (
      rule.groups === undefined &&
      rule.userPattern === undefined &&
      rule.deviceGroups === undefined
    ) {
      problems.push({
        path: at,
        message: `rule ${rule.id} names no groups, userPattern or deviceGroups; use defaultRole for everyone else`,
      });
    }
    if (rule.userPattern !== undefined) {
      try {
        compileUserPattern(rule.userPattern);
      } catch (error) {
        problems.push({
          path: `${at}/userPattern`,
          message: `not a regular expression: ${error instanceof Error ? error.message : String(error)}`,
        });
      }
    }
  });
  const defaultRole = aup.defaultRole ?? 'none';
  if (defaultRole !== 'none' && !rolesWithDocuments.has(defaultRole)) {
    problems.push({
      path: '/aup/defaultRole',
      message: `the default role ${defaultRole} has no document written for it`,
    });
  }
  const starts = aup.resign.academicYearStarts;
  if (starts !== undefined) {
    const [month, day] = starts.split('-').map(Number);
    if (month !== undefined && day !== undefined && day > (DAYS_IN_MONTH[month - 1] ?? 0)) {
      problems.push({
        path: '/aup/resign/academicYearStarts',
        message: `${starts} is not a day every year has`,
      });
    }
  }
  return problems;
}

/** The warnings of an accepted policy: what it asks that this version cannot yet do. */
export function aupPolicyWarnings(aup: AupPolicy): string[] {
  const actions = [aup.onDecline, aup.onDeclineByRole?.staff, aup.onDeclineByRole?.pupil];
  return actions.includes('hold-network')
    ? [
        'aup: hold-network on Windows (Windows Firewall) and macOS (pf) has been checked only ' +
          'against recorded command outputs, not on a real device: try it on one device first',
      ]
    : [];
}

/** Validates a policy document: the schema, then what the schema cannot say. */
export function validatePolicy(input: unknown): Validated<Policy> {
  const checked = validate(PolicySchema, input);
  if (!checked.ok) {
    return checked;
  }
  const problems = aupPolicyProblems(checked.value.aup);
  return problems.length === 0 ? checked : { ok: false, problems };
}
