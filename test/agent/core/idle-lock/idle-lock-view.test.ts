// The idle-lock policy resolved for the console user: what the service answers on idle:policy.
import { describe, expect, it } from 'vitest';
import { idleLockView } from '../../../../agent/core/idle-lock/idle-lock-view.ts';
import type { ConsoleUser } from '../../../../agent/core/console-user/console-user.ts';
import type { IdleLockPolicy } from '../../../../shared/index.ts';

const policy: IdleLockPolicy = {
  enabled: true,
  minutes: 10,
  warningSeconds: 60,
  exempt: { users: ['Head.Teacher'], groups: ['Exam Invigilators'] },
};
const pupil = { name: 'pupil.0042', groups: ['domain users', 'year 7'] };

describe('idleLockView', () => {
  it.each([
    ['the lock for a pupil, with the default ceiling', policy, pupil, null, 60, false],
    ['nobody at the console: nobody is exempt', policy, null, null, 60, false],
    [
      'a user named in exempt, in any case',
      policy,
      { name: 'head.teacher', groups: [] },
      'exempt',
      60,
      false,
    ],
    [
      'a member of an exempt group, in any case',
      policy,
      { name: 'sam', groups: ['EXAM INVIGILATORS'] },
      'exempt',
      60,
      false,
    ],
    [
      'a disabled lock, before any exemption',
      { ...policy, enabled: false },
      pupil,
      'disabled',
      60,
      false,
    ],
    [
      'a ceiling below the lock time, raised to it',
      { ...policy, honourInhibitors: true, inhibitorCeilingMinutes: 5 },
      pupil,
      null,
      10,
      true,
    ],
    [
      'a ceiling the policy names',
      { ...policy, honourInhibitors: true, inhibitorCeilingMinutes: 90 },
      pupil,
      null,
      90,
      true,
    ],
  ] as const)('%s', (_name, given, user, off, ceiling, honour) => {
    const consoleUser: ConsoleUser | null =
      user === null ? null : { name: user.name, groups: [...user.groups] };
    expect(idleLockView(given, consoleUser)).toEqual({
      user: user?.name ?? null,
      off,
      minutes: 10,
      warningSeconds: 60,
      honourInhibitors: honour,
      inhibitorCeilingMinutes: ceiling,
    });
  });
});
