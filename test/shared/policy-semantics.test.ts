import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import {
  aupPolicyProblems,
  aupPolicyWarnings,
  compileUserPattern,
  validatePolicy,
  type AupPolicy,
  type Policy,
} from '../../shared/index.ts';
import { parsePolicyText, PolicyError } from '../../agent/core/policy/policy-file.ts';

const exampleText = await readFile(
  new URL('../../agent/core/policy/example-policy.yaml', import.meta.url),
  'utf8',
);
const example = parseYaml(exampleText) as Policy;

const first = <T>(items: readonly T[] | undefined): T => {
  const item = items?.[0];
  if (item === undefined) {
    throw new Error('the example has none');
  }
  return item;
};

const withAup = (change: (aup: AupPolicy) => AupPolicy): Policy => ({
  ...example,
  aup: change(structuredClone(example.aup)),
});

describe('AUP policy semantics', () => {
  it('accepts the example policy', () => {
    expect(aupPolicyProblems(example.aup)).toEqual([]);
    expect(validatePolicy(example).ok).toBe(true);
  });

  it('accepts a policy written before rules existed (no rules, no default role)', () => {
    const old = withAup(({ documents, resign }) => ({
      documents,
      resign: { onVersionChange: resign.onVersionChange, eachSeptember: resign.eachSeptember },
      onDecline: 'record-only',
    }));
    expect(validatePolicy(old).ok).toBe(true);
  });

  const cases: {
    name: string;
    change: (aup: AupPolicy) => AupPolicy;
    path: string;
    says: RegExp;
  }[] = [
    {
      name: 'a rule naming a role with no document',
      change: (aup) => ({ ...aup, documents: aup.documents.filter((d) => d.role !== 'staff') }),
      path: '/aup/rules/0/role',
      says: /no document is written for staff/,
    },
    {
      name: 'a default role with no document',
      change: (aup) => ({
        ...aup,
        rules: [],
        documents: aup.documents.filter((d) => d.role !== 'pupil'),
      }),
      path: '/aup/defaultRole',
      says: /default role pupil has no document/,
    },
    {
      name: 'duplicate document ids',
      change: (aup) => ({ ...aup, documents: [...aup.documents, first(aup.documents)] }),
      path: '/aup/documents/3/id',
      says: /duplicate document id pupil-aup/,
    },
    {
      name: 'duplicate rule ids',
      change: (aup) => ({ ...aup, rules: [...(aup.rules ?? []), first(aup.rules)] }),
      path: '/aup/rules/2/id',
      says: /duplicate rule id staff-by-group/,
    },
    {
      name: 'a rule with no condition',
      change: (aup) => ({ ...aup, rules: [{ id: 'everyone', role: 'pupil' }] }),
      path: '/aup/rules/0',
      says: /names no groups, userPattern or deviceGroups/,
    },
    {
      name: 'a pattern that is not a regular expression',
      change: (aup) => ({ ...aup, rules: [{ id: 'bad', role: 'pupil', userPattern: '([a-z' }] }),
      path: '/aup/rules/0/userPattern',
      says: /not a regular expression/,
    },
    {
      name: 'an academic year starting on a day not every year has',
      change: (aup) => ({ ...aup, resign: { ...aup.resign, academicYearStarts: '02-30' } }),
      path: '/aup/resign/academicYearStarts',
      says: /02-30 is not a day every year has/,
    },
  ];
  for (const { name, change, path, says } of cases) {
    it(`refuses ${name}, naming the key`, () => {
      const checked = validatePolicy(withAup(change));
      expect(checked.ok).toBe(false);
      const problem = checked.ok ? undefined : checked.problems.find((p) => p.path === path);
      expect(problem?.message).toMatch(says);
    });
  }

  it('refuses an unknown role through the schema, not a silent default', () => {
    const checked = validatePolicy(
      withAup((aup) => ({
        ...aup,
        rules: [{ id: 'x', role: 'governor' as 'staff', groups: ['g'] }],
      })),
    );
    expect(checked.ok).toBe(false);
    expect(checked.ok ? [] : checked.problems.map((p) => p.path)).toContain('/aup/rules/0/role');
  });

  it('the agent refuses a semantically wrong policy with the reason', () => {
    const bad = withAup((aup) => ({
      ...aup,
      rules: [{ id: 'bad', role: 'pupil', userPattern: '(' }],
    }));
    expect(() => parsePolicyText(JSON.stringify(bad), 'p.json')).toThrow(PolicyError);
    expect(() => parsePolicyText(JSON.stringify(bad), 'p.json')).toThrow(/userPattern/);
  });

  it('accepts an answer deadline from 2 to 240 whole minutes, and a policy without one', () => {
    for (const minutes of [2, 20, 240]) {
      expect(validatePolicy(withAup((aup) => ({ ...aup, answerWithinMinutes: minutes }))).ok).toBe(
        true,
      );
    }
    expect(example.aup.answerWithinMinutes).toBe(20);
    const { answerWithinMinutes: _, ...without } = example.aup;
    expect(validatePolicy({ ...example, aup: without }).ok).toBe(true);
  });

  it.each([
    ['0 (declining the moment the window opens)', 0, /must be >= 2/],
    ['1 minute (too short to read the document)', 1, /must be >= 2/],
    ['negative', -20, /must be >= 2/],
    ['241 minutes (a fake tray holding it off half a school day)', 241, /must be <= 240/],
    ['a year of minutes', 525_600, /must be <= 240/],
    ['a number past any integer', 1e308, /must be <= 240/],
    ['a fraction', 2.5, /must be integer/],
    ['a string', '20', /must be integer/],
    ['null', null, /must be integer/],
    ['an object', { minutes: 20 }, /must be integer/],
  ])('refuses an answer deadline of %s, naming the key', (_name, value, says) => {
    const bad = withAup((aup) => ({ ...aup, answerWithinMinutes: value as number }));
    const checked = validatePolicy(bad);
    expect(checked.ok).toBe(false);
    const problem = checked.ok
      ? undefined
      : checked.problems.find((p) => p.path === '/aup/answerWithinMinutes');
    expect(problem?.message).toMatch(says);
    // The agent refuses the policy file with the key in its words.
    expect(() => parsePolicyText(JSON.stringify(bad), 'p.json')).toThrow(/answerWithinMinutes/);
  });

  it('accepts hold-network, warning that Windows and macOS were checked on recordings only', () => {
    const aup = { ...example.aup, onDecline: 'hold-network' as const };
    expect(aupPolicyProblems(aup)).toEqual([]);
    expect(aupPolicyWarnings(aup)[0]).toMatch(/checked only against recorded command outputs/);
    expect(aupPolicyWarnings(example.aup)).toEqual([]);
  });

  it('matches user patterns against the whole name, ignoring case', () => {
    const pattern = compileUserPattern('[0-9]{2}[a-z]+');
    expect(pattern.test('24JSmith')).toBe(true);
    expect(pattern.test('x24jsmith')).toBe(false);
    expect(pattern.test('24jsmith2')).toBe(false);
  });
});
