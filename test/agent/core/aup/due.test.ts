import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parsePolicyText } from '../../../../agent/core/policy/policy-file.ts';
import {
  academicYearStart,
  aupDocumentsDue,
  aupRoleFor,
  type LocalAupSignature,
} from '../../../../agent/core/aup/index.ts';
import {
  aupTextSha256,
  type AupPolicy,
  type AupSignaturesResponse,
} from '../../../../shared/index.ts';

const policy = parsePolicyText(
  await readFile(
    new URL('../../../../agent/core/policy/example-policy.yaml', import.meta.url),
    'utf8',
  ),
  'example-policy.yaml',
);
const aup = policy.aup;
const doc = (id: string) => {
  const found = aup.documents.find((d) => d.id === id);
  if (found === undefined) {
    throw new Error(`no ${id} in the example`);
  }
  return found;
};
const pupilAup = doc('pupil-aup');
const staffAup = doc('staff-aup');
const contract = doc('staff-device-contract');
const sha = {
  pupil: aupTextSha256(pupilAup),
  staff: aupTextSha256(staffAup),
  contract: aupTextSha256(contract),
};

// Local time of the device, as schools keep it: months are 0-based.
const at = (y: number, m: number, d: number, h = 9) => new Date(y, m - 1, d, h);

const pupil = { name: '24jsmith', groups: ['domain users'] };
const teacher = { name: 'a.teacher', groups: ['Teachers'] };

const signed = (
  user: string,
  documentId: string,
  when: Date,
  version = '2026.1',
  textSha256?: string,
): LocalAupSignature => ({
  user,
  documentId,
  version,
  textSha256:
    textSha256 ??
    (documentId === 'pupil-aup'
      ? sha.pupil
      : documentId === 'staff-aup'
        ? sha.staff
        : sha.contract),
  signedAt: when.toISOString(),
});

const remote = (user: string, signatures: LocalAupSignature[]): AupSignaturesResponse => ({
  user,
  signatures: signatures.map(({ documentId, version, textSha256, signedAt }) => ({
    documentId,
    version,
    textSha256,
    signedAt,
  })),
  serverTime: new Date().toISOString(),
});

describe('AUP roles', () => {
  const cases: {
    name: string;
    user: { name: string; groups: string[] };
    deviceGroup?: string | null;
    rules?: AupPolicy['rules'];
    defaultRole?: AupPolicy['defaultRole'];
    role: 'staff' | 'pupil' | null;
    ruleId: string | null;
  }[] = [
    {
      name: 'a group names staff (ignoring case)',
      user: teacher,
      role: 'staff',
      ruleId: 'staff-by-group',
    },
    {
      name: 'a Windows directory group',
      user: { name: 'SCHOOL\\jb', groups: ['SCHOOL\\staff'] },
      role: 'staff',
      ruleId: 'staff-by-group',
    },
    { name: 'the pupil name pattern', user: pupil, role: 'pupil', ruleId: 'pupils-by-name' },
    {
      name: 'first match wins: a pupil-shaped name in the staff group',
      user: { name: '24jsmith', groups: ['staff'] },
      role: 'staff',
      ruleId: 'staff-by-group',
    },
    {
      name: 'nobody named: the default role',
      user: { name: 'visitor', groups: [] },
      role: 'pupil',
      ruleId: null,
    },
    {
      name: 'default none: asked nothing',
      user: { name: 'visitor', groups: [] },
      defaultRole: 'none',
      role: null,
      ruleId: null,
    },
    {
      name: 'no rules and no default (an old policy): nobody',
      user: teacher,
      rules: [],
      defaultRole: undefined,
      role: null,
      ruleId: null,
    },
    {
      name: 'every condition of a rule must match',
      user: { name: 'a.teacher', groups: ['staff'] },
      rules: [{ id: 'lab-staff', role: 'staff', groups: ['staff'], deviceGroups: ['Science lab'] }],
      deviceGroup: 'library',
      defaultRole: 'none',
      role: null,
      ruleId: null,
    },
    {
      name: 'a device group rule on a device of that group',
      user: { name: 'x', groups: [] },
      rules: [{ id: 'lab', role: 'pupil', deviceGroups: ['Science lab'] }],
      deviceGroup: 'science LAB',
      defaultRole: 'none',
      role: 'pupil',
      ruleId: 'lab',
    },
    {
      name: 'a device group rule when the device does not know its group',
      user: { name: 'x', groups: [] },
      rules: [{ id: 'lab', role: 'pupil', deviceGroups: ['Science lab'] }],
      deviceGroup: null,
      defaultRole: 'none',
      role: null,
      ruleId: null,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const rules = 'rules' in c ? c.rules : aup.rules;
      const defaultRole = 'defaultRole' in c ? c.defaultRole : aup.defaultRole;
      expect(aupRoleFor(c.user, c.deviceGroup ?? null, { rules, defaultRole })).toEqual({
        role: c.role,
        ruleId: c.ruleId,
      });
    });
  }
});

describe('academic year', () => {
  it.each([
    [at(2026, 9, 1, 0), '09-01', at(2026, 9, 1, 0)],
    [at(2026, 8, 31, 23), '09-01', at(2025, 9, 1, 0)],
    [at(2027, 1, 15), '09-01', at(2026, 9, 1, 0)],
    [at(2027, 8, 20), '08-15', at(2027, 8, 15, 0)],
  ])('%s with the year starting %s began %s', (now, starts, expected) => {
    expect(academicYearStart(now, starts).getTime()).toBe(expected.getTime());
  });
});

describe('what a user must sign now', () => {
  const bumped: AupPolicy = {
    ...aup,
    documents: aup.documents.map((d) => (d.id === 'pupil-aup' ? { ...d, version: '2026.2' } : d)),
  };
  const reworded: AupPolicy = {
    ...aup,
    documents: aup.documents.map((d) =>
      d.id === 'pupil-aup' ? { ...d, statements: [...d.statements, 'I will sit up straight.'] } : d,
    ),
  };
  const noYearly: AupPolicy = { ...aup, resign: { ...aup.resign, eachSeptember: false } };
  const noVersion: AupPolicy = { ...aup, resign: { ...aup.resign, onVersionChange: false } };

  const cases: {
    name: string;
    user?: { name: string; groups: string[] };
    policy?: AupPolicy;
    local?: LocalAupSignature[];
    remote?: AupSignaturesResponse | null;
    now: Date;
    due: [string, string][];
  }[] = [
    {
      name: 'first login: a pupil signs the pupil AUP',
      now: at(2026, 10, 5),
      due: [['pupil-aup', 'first-time']],
    },
    {
      name: 'first login: a teacher signs the staff AUP and the device contract',
      user: teacher,
      now: at(2026, 10, 5),
      due: [
        ['staff-aup', 'first-time'],
        ['staff-device-contract', 'first-time'],
      ],
    },
    {
      name: 'signed this year: nothing',
      local: [signed('24jsmith', 'pupil-aup', at(2026, 9, 3))],
      now: at(2026, 10, 5),
      due: [],
    },
    {
      name: 'the name compares ignoring case',
      local: [signed('24JSMITH', 'pupil-aup', at(2026, 9, 3))],
      now: at(2026, 10, 5),
      due: [],
    },
    {
      name: 'another user signed, not this one',
      local: [signed('24other', 'pupil-aup', at(2026, 9, 3))],
      now: at(2026, 10, 5),
      due: [['pupil-aup', 'first-time']],
    },
    {
      name: 'version bump',
      policy: bumped,
      local: [signed('24jsmith', 'pupil-aup', at(2026, 9, 3))],
      now: at(2026, 10, 5),
      due: [['pupil-aup', 'new-version']],
    },
    {
      name: 'version bump ignored when the policy says so',
      policy: { ...bumped, resign: { ...aup.resign, onVersionChange: false } },
      local: [signed('24jsmith', 'pupil-aup', at(2026, 9, 3))],
      now: at(2026, 10, 5),
      due: [],
    },
    {
      name: 'same version, other words',
      policy: reworded,
      local: [signed('24jsmith', 'pupil-aup', at(2026, 9, 3))],
      now: at(2026, 10, 5),
      due: [['pupil-aup', 'text-changed']],
    },
    {
      name: '1 September rollover',
      local: [signed('24jsmith', 'pupil-aup', at(2026, 3, 10))],
      now: at(2026, 9, 1, 8),
      due: [['pupil-aup', 'new-academic-year']],
    },
    {
      name: 'the day before the rollover: still fine',
      local: [signed('24jsmith', 'pupil-aup', at(2026, 3, 10))],
      now: at(2026, 8, 31, 16),
      due: [],
    },
    {
      name: 'no yearly re-sign when the policy says so',
      policy: noYearly,
      local: [signed('24jsmith', 'pupil-aup', at(2025, 3, 10))],
      now: at(2026, 10, 1),
      due: [],
    },
    {
      name: 'a configured start date (15 August)',
      policy: { ...aup, resign: { ...aup.resign, academicYearStarts: '08-15' } },
      local: [signed('24jsmith', 'pupil-aup', at(2026, 3, 10))],
      now: at(2026, 8, 20),
      due: [['pupil-aup', 'new-academic-year']],
    },
    {
      name: 'mid-year starter: signed in January, fine in July',
      user: teacher,
      local: [
        signed('a.teacher', 'staff-aup', at(2027, 1, 11)),
        signed('a.teacher', 'staff-device-contract', at(2027, 1, 11)),
      ],
      now: at(2027, 7, 10),
      due: [],
    },
    {
      name: 'mid-year starter: again next September',
      user: teacher,
      local: [
        signed('a.teacher', 'staff-aup', at(2027, 1, 11)),
        signed('a.teacher', 'staff-device-contract', at(2027, 1, 11)),
      ],
      now: at(2027, 9, 2),
      due: [['staff-aup', 'new-academic-year']],
    },
    {
      name: 'late-August starter: not twice in a fortnight',
      user: teacher,
      local: [
        signed('a.teacher', 'staff-aup', at(2027, 8, 25)),
        signed('a.teacher', 'staff-device-contract', at(2027, 8, 25)),
      ],
      now: at(2027, 9, 1, 8),
      due: [],
    },
    {
      name: 'signed a month before the year: asked again',
      user: teacher,
      local: [
        signed('a.teacher', 'staff-aup', at(2027, 7, 20)),
        signed('a.teacher', 'staff-device-contract', at(2027, 7, 20)),
      ],
      now: at(2027, 9, 1, 8),
      due: [['staff-aup', 'new-academic-year']],
    },
    {
      name: 'the device contract is not re-signed each year',
      user: teacher,
      local: [
        signed('a.teacher', 'staff-aup', at(2027, 9, 2)),
        signed('a.teacher', 'staff-device-contract', at(2025, 9, 2)),
      ],
      now: at(2027, 9, 3),
      due: [],
    },
    {
      name: 'signed on another device (the server says so)',
      remote: remote('24jsmith', [signed('24jsmith', 'pupil-aup', at(2026, 9, 4))]),
      now: at(2026, 10, 5),
      due: [],
    },
    {
      name: 'offline: the cached answer still counts',
      remote: remote('24jsmith', [signed('24jsmith', 'pupil-aup', at(2026, 9, 4))]),
      now: at(2027, 6, 5),
      due: [],
    },
    {
      name: 'offline with no answer ever: local record only',
      remote: null,
      now: at(2026, 10, 5),
      due: [['pupil-aup', 'first-time']],
    },
    {
      name: 'an older version signed elsewhere does not count',
      policy: bumped,
      remote: remote('24jsmith', [signed('24jsmith', 'pupil-aup', at(2026, 9, 4))]),
      now: at(2026, 10, 5),
      due: [['pupil-aup', 'new-version']],
    },
    {
      name: "another user's answer is not this user's",
      remote: remote('24other', [signed('24jsmith', 'pupil-aup', at(2026, 9, 4))]),
      now: at(2026, 10, 5),
      due: [['pupil-aup', 'first-time']],
    },
    {
      name: 'a device contract signed on another device does not count here',
      user: teacher,
      local: [signed('a.teacher', 'staff-aup', at(2026, 9, 4))],
      remote: remote('a.teacher', [signed('a.teacher', 'staff-device-contract', at(2026, 9, 4))]),
      now: at(2026, 10, 5),
      due: [['staff-device-contract', 'first-time']],
    },
    {
      name: 'an unreadable signing time counts as not this year',
      local: [{ ...signed('24jsmith', 'pupil-aup', at(2026, 9, 3)), signedAt: 'yesterday' }],
      now: at(2026, 10, 5),
      due: [['pupil-aup', 'new-academic-year']],
    },
    {
      name: 'without the version rule, any version this year will do',
      policy: { ...noVersion, documents: bumped.documents },
      local: [signed('24jsmith', 'pupil-aup', at(2026, 9, 3))],
      now: at(2026, 10, 5),
      due: [],
    },
    {
      name: 'a user with no role signs nothing',
      user: { name: 'visitor', groups: [] },
      policy: { ...aup, defaultRole: 'none' },
      now: at(2026, 10, 5),
      due: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const answer = aupDocumentsDue({
        user: c.user ?? pupil,
        deviceGroup: null,
        aup: c.policy ?? aup,
        local: c.local ?? [],
        remote: c.remote ?? null,
        now: c.now,
      });
      expect(answer.due.map((d) => [d.document.id, d.reason])).toEqual(c.due);
      for (const d of answer.due) {
        expect(d.textSha256).toBe(aupTextSha256(d.document));
      }
    });
  }
});
