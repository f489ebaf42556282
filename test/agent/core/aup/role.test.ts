import { describe, expect, it } from 'vitest';
import { aupRoleDecision, aupRoleFor } from '../../../../agent/core/aup/role.ts';
import type { AupPolicy } from '../../../../shared/index.ts';

type Rules = Pick<AupPolicy, 'rules' | 'defaultRole'>;

// As the example policy has them: staff by group first, pupils by name, everyone else a pupil.
const example: Rules = {
  rules: [
    { id: 'staff-by-group', role: 'staff', groups: ['staff', 'SCHOOL\\Staff'] },
    { id: 'pupils-by-name', role: 'pupil', userPattern: '[0-9]{2}[a-z][a-z.-]*' },
  ],
  defaultRole: 'pupil',
};
// Names first: a pupil's name says it whatever the groups.
const namesFirst: Rules = {
  rules: [
    { id: 'pupils-by-name', role: 'pupil', userPattern: '[0-9]{2}[a-z][a-z.-]*' },
    { id: 'staff-by-group', role: 'staff', groups: ['staff'] },
    { id: 'lab-only', role: 'pupil', groups: ['lab users'], deviceGroups: ['Lab'] },
  ],
  defaultRole: 'none',
};

describe('aupRoleDecision', () => {
  it.each([
    // [case, rules, user, deviceGroup, role, ruleId, certain]
    [
      'complete, staff group',
      example,
      ['SCHOOL\\Staff'],
      true,
      'a.teacher',
      null,
      'staff',
      'staff-by-group',
      true,
    ],
    [
      'complete, no group: the default is certain',
      example,
      [],
      true,
      'a.teacher',
      null,
      'pupil',
      null,
      true,
    ],
    [
      'incomplete, staff group read: staff for certain',
      example,
      ['staff'],
      false,
      'a.teacher',
      null,
      'staff',
      'staff-by-group',
      true,
    ],
    [
      'incomplete, no staff group read: the default is not certain',
      example,
      ['Administrators'],
      false,
      'SCHOOL\\teacher.7',
      null,
      'pupil',
      null,
      false,
    ],
    [
      'incomplete, a pupil name after a group rule: not certain',
      example,
      [],
      false,
      '24jsmith',
      null,
      'pupil',
      'pupils-by-name',
      false,
    ],
    [
      'incomplete, a pupil name before any group rule: certain',
      namesFirst,
      [],
      false,
      '24jsmith',
      null,
      'pupil',
      'pupils-by-name',
      true,
    ],
    [
      'incomplete, a device-group rule on another device cannot match: still not certain (staff rule)',
      namesFirst,
      [],
      false,
      'a.teacher',
      'Office',
      null,
      null,
      false,
    ],
    ['absent flag means complete', example, [], undefined, 'a.teacher', null, 'pupil', null, true],
  ] as const)(
    '%s',
    (_case, rules, groups, groupsComplete, name, deviceGroup, role, ruleId, certain) => {
      const user = {
        name,
        groups,
        ...(groupsComplete === undefined ? {} : { groupsComplete }),
      };
      expect(aupRoleDecision(user, deviceGroup, rules)).toEqual({ role, ruleId, certain });
      // The role itself is aupRoleFor's: completeness only says whether to trust it.
      expect(aupRoleFor(user, deviceGroup, rules)).toEqual({ role, ruleId });
    },
  );

  it('a rule whose other condition already fails does not make the answer uncertain', () => {
    const rules: Rules = {
      rules: [
        { id: 'lab-only', role: 'staff', groups: ['lab staff'], deviceGroups: ['Lab'] },
        { id: 'pupils-by-name', role: 'pupil', userPattern: '[0-9]{2}[a-z][a-z.-]*' },
      ],
      defaultRole: 'none',
    };
    const user = { name: '24jsmith', groups: [], groupsComplete: false };
    expect(aupRoleDecision(user, 'Office', rules)).toEqual({
      role: 'pupil',
      ruleId: 'pupils-by-name',
      certain: true,
    });
    // On a lab device the unread groups might hold `lab staff`.
    expect(aupRoleDecision(user, 'Lab', rules).certain).toBe(false);
  });
});
