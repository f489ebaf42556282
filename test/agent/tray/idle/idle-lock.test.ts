// The idle lock's rules on a fake clock: each row is a script of readings, resumes, policy
// changes and lock results with the phase and actions expected after each.
import { describe, expect, it } from 'vitest';
import type { IdleLockPolicy } from '../../../../shared/schemas/policy.ts';
import {
  IdleLockMachine,
  idleLockTimings,
  type IdleAction,
  type IdleEvent,
  type IdlePhase,
} from '../../../../agent/tray/idle/idle-lock.ts';

const MIN = 60_000;
const SEC = 1_000;

const policy = (over: Partial<IdleLockPolicy> = {}): IdleLockPolicy => ({
  enabled: true,
  minutes: 10,
  warningSeconds: 60,
  exempt: { users: [], groups: [] },
  ...over,
});

const pupil = { name: 'pupil1', groups: ['pupils'] };

type Step = [event: IdleEvent, phase: IdlePhase, actions?: IdleAction[]];

const read = (at: number, idleMs: number, inhibited = false): IdleEvent => ({
  type: 'reading',
  at,
  idleMs,
  inhibited,
});

// Times are on the injected clock; T is an arbitrary start far from zero.
const T = 1_000_000_000;

// The tray reads every few seconds; rows skip ahead in bigger steps, so the gap that counts as a
// suspend or a jump is raised for them, and the jump rows jump further than it.
const options = { gapMs: 40 * MIN };

const rows: { name: string; policy?: Partial<IdleLockPolicy>; steps: Step[] }[] = [
  {
    name: 'an idle user is warned, then locked when the countdown runs out',
    steps: [
      [read(T, 0), 'active', []],
      [read(T + 9 * MIN, 9 * MIN), 'active', []],
      [read(T + 10 * MIN, 10 * MIN), 'warning', [{ type: 'warn', msLeft: 60 * SEC }]],
      [
        read(T + 10 * MIN + 30 * SEC, 10 * MIN + 30 * SEC),
        'warning',
        [{ type: 'warn', msLeft: 30 * SEC }],
      ],
      [read(T + 11 * MIN, 11 * MIN), 'locking', [{ type: 'cancel-warning' }, { type: 'lock' }]],
      [{ type: 'lock-result', at: T + 11 * MIN, ok: true }, 'locked', [{ type: 'locked' }]],
      [read(T + 12 * MIN, 12 * MIN), 'locked', []],
      // Unlocking is input: the counter falls back and the machine is active again.
      [read(T + 13 * MIN, 2 * SEC), 'active', []],
    ],
  },
  {
    name: 'input during the warning cancels it and restarts the idle period',
    steps: [
      [read(T, 10 * MIN), 'warning', [{ type: 'warn', msLeft: 60 * SEC }]],
      [read(T + 20 * SEC, 1 * SEC), 'active', [{ type: 'cancel-warning' }]],
      [read(T + 5 * MIN, 5 * MIN), 'active', []],
    ],
  },
  {
    name: 'a warning of 0 seconds locks at once',
    policy: { warningSeconds: 0 },
    steps: [[read(T, 10 * MIN), 'locking', [{ type: 'lock' }]]],
  },
  {
    name: 'a failed lock command is reported, retried, and never taken as locked',
    steps: [
      [read(T, 10 * MIN), 'warning'],
      [read(T + 60 * SEC, 11 * MIN), 'locking'],
      [
        { type: 'lock-result', at: T + 60 * SEC, ok: false, reason: 'loginctl: exit 1' },
        'lock-failed',
        [{ type: 'lock-failed', reason: 'loginctl: exit 1' }],
      ],
      [read(T + 80 * SEC, 11 * MIN + 20 * SEC), 'lock-failed', []],
      [read(T + 90 * SEC, 11 * MIN + 30 * SEC), 'locking', [{ type: 'lock' }]],
    ],
  },
  {
    name: 'an honoured inhibitor postpones the lock up to the ceiling, then it locks',
    policy: { honourInhibitors: true, inhibitorCeilingMinutes: 45 },
    steps: [
      [read(T, 0, true), 'active', []],
      [read(T + 30 * MIN, 30 * MIN, true), 'active', []],
      [read(T + 45 * MIN, 45 * MIN, true), 'warning', [{ type: 'warn', msLeft: 60 * SEC }]],
      [
        read(T + 46 * MIN, 46 * MIN, true),
        'locking',
        [{ type: 'cancel-warning' }, { type: 'lock' }],
      ],
    ],
  },
  {
    name: 'an inhibitor is ignored unless the policy honours it',
    policy: { honourInhibitors: false, inhibitorCeilingMinutes: 45 },
    steps: [[read(T, 10 * MIN, true), 'warning', [{ type: 'warn', msLeft: 60 * SEC }]]],
  },
  {
    name: 'an honoured inhibitor without a ceiling stops at the 60-minute default',
    policy: { honourInhibitors: true },
    steps: [
      [read(T, 59 * MIN, true), 'active', []],
      [read(T + MIN, 60 * MIN, true), 'warning', [{ type: 'warn', msLeft: 60 * SEC }]],
    ],
  },
  {
    name: 'a ceiling below the idle minutes never hastens the lock',
    policy: { honourInhibitors: true, inhibitorCeilingMinutes: 2 },
    steps: [
      [read(T, 5 * MIN, true), 'active', []],
      [read(T + 5 * MIN, 10 * MIN, true), 'warning'],
    ],
  },
  {
    name: 'an inhibitor taken during the warning (under the ceiling) cancels it; released, the lock returns',
    policy: { honourInhibitors: true, inhibitorCeilingMinutes: 30 },
    steps: [
      [read(T, 10 * MIN), 'warning'],
      [read(T + 10 * SEC, 10 * MIN + 10 * SEC, true), 'active', [{ type: 'cancel-warning' }]],
      [
        read(T + 20 * SEC, 10 * MIN + 20 * SEC, false),
        'warning',
        [{ type: 'warn', msLeft: 60 * SEC }],
      ],
    ],
  },
  {
    name: 'an exempt user by name is never warned or locked',
    policy: { exempt: { users: ['PUPIL1'], groups: [] } },
    steps: [[read(T, 100 * MIN), 'off', []]],
  },
  {
    name: 'an exempt user by group is never warned or locked',
    policy: { exempt: { users: [], groups: ['Pupils'] } },
    steps: [[read(T, 100 * MIN), 'off', []]],
  },
  {
    name: 'a disabled policy never locks',
    policy: { enabled: false },
    steps: [[read(T, 100 * MIN), 'off', []]],
  },
  {
    name: 'a policy change mid-countdown to a longer idle time cancels the warning',
    steps: [
      [read(T, 10 * MIN), 'warning'],
      [
        {
          type: 'policy',
          at: T + 5 * SEC,
          timings: idleLockTimings(policy({ minutes: 20 }), pupil),
        },
        'active',
        [{ type: 'cancel-warning' }],
      ],
      [read(T + 10 * MIN, 20 * MIN), 'warning', [{ type: 'warn', msLeft: 60 * SEC }]],
    ],
  },
  {
    name: 'a policy change mid-countdown to a shorter warning keeps what already ran',
    steps: [
      [read(T, 10 * MIN), 'warning'],
      [read(T + 20 * SEC, 10 * MIN + 20 * SEC), 'warning', [{ type: 'warn', msLeft: 40 * SEC }]],
      [
        {
          type: 'policy',
          at: T + 20 * SEC,
          timings: idleLockTimings(policy({ warningSeconds: 30 }), pupil),
        },
        'warning',
        [{ type: 'warn', msLeft: 10 * SEC }],
      ],
      [read(T + 30 * SEC, 10 * MIN + 30 * SEC), 'locking'],
    ],
  },
  {
    name: 'a policy change mid-countdown whose warning already ran out locks now',
    steps: [
      [read(T, 10 * MIN), 'warning'],
      [read(T + 40 * SEC, 10 * MIN + 40 * SEC), 'warning'],
      [
        {
          type: 'policy',
          at: T + 40 * SEC,
          timings: idleLockTimings(policy({ warningSeconds: 15 }), pupil),
        },
        'locking',
        [{ type: 'cancel-warning' }, { type: 'lock' }],
      ],
    ],
  },
  {
    name: 'a policy change mid-countdown that exempts the user cancels the warning',
    steps: [
      [read(T, 10 * MIN), 'warning'],
      [
        {
          type: 'policy',
          at: T + 1 * SEC,
          timings: idleLockTimings(policy({ exempt: { users: ['pupil1'], groups: [] } }), pupil),
        },
        'off',
        [{ type: 'cancel-warning' }],
      ],
      [read(T + 20 * MIN, 30 * MIN), 'off', []],
    ],
  },
  {
    name: 'resume from sleep with the lock due warns first (the user may be back), then locks',
    steps: [
      [read(T, 9 * MIN), 'active'],
      [{ type: 'resume', at: T + 2 * 60 * MIN }, 'active', []],
      // The idle counter kept counting across the suspend.
      [read(T + 2 * 60 * MIN, 2 * 60 * MIN), 'warning', [{ type: 'warn', msLeft: 60 * SEC }]],
      [read(T + 2 * 60 * MIN + 60 * SEC, 2 * 60 * MIN + 60 * SEC), 'locking'],
    ],
  },
  {
    name: 'resume mid-warning restarts the countdown; input after it cancels',
    steps: [
      [read(T, 10 * MIN), 'warning'],
      [read(T + 55 * SEC, 10 * MIN + 55 * SEC), 'warning', [{ type: 'warn', msLeft: 5 * SEC }]],
      [{ type: 'resume', at: T + 3 * 60 * MIN }, 'warning', []],
      [read(T + 3 * 60 * MIN, 3 * 60 * MIN), 'warning', [{ type: 'warn', msLeft: 60 * SEC }]],
      [read(T + 3 * 60 * MIN + 5 * SEC, 0), 'active', [{ type: 'cancel-warning' }]],
    ],
  },
  {
    name: 'a clock jump forwards (no resume event) mid-warning is not elapsed countdown',
    steps: [
      [read(T, 10 * MIN), 'warning'],
      [read(T + 60 * MIN, 10 * MIN + 2 * SEC), 'warning', [{ type: 'warn', msLeft: 60 * SEC }]],
      [read(T + 60 * MIN + 60 * SEC, 11 * MIN + 2 * SEC), 'locking'],
    ],
  },
  {
    name: 'a clock jump forwards never makes an active user idle',
    steps: [
      [read(T, 1 * MIN), 'active'],
      [read(T + 24 * 60 * MIN, 1 * MIN + 5 * SEC), 'active', []],
    ],
  },
  {
    name: 'a clock jump backwards holds the countdown; the lock still comes',
    steps: [
      [read(T, 10 * MIN), 'warning'],
      [read(T + 30 * SEC, 10 * MIN + 30 * SEC), 'warning', [{ type: 'warn', msLeft: 30 * SEC }]],
      [read(T - 60 * MIN, 10 * MIN + 31 * SEC), 'warning', [{ type: 'warn', msLeft: 30 * SEC }]],
      [read(T - 60 * MIN + 30 * SEC, 11 * MIN + 1 * SEC), 'locking'],
    ],
  },
];

describe('IdleLockMachine', () => {
  it.each(rows)('$name', ({ policy: over, steps }) => {
    const machine = new IdleLockMachine(idleLockTimings(policy(over), pupil), options);
    steps.forEach(([event, phase, actions], index) => {
      const got = machine.handle(event);
      expect({ index, phase: machine.phase }).toEqual({ index, phase });
      if (actions !== undefined) {
        expect({ index, actions: got }).toEqual({ index, actions });
      }
    });
  });

  it('asks for a reading no sooner than the idle threshold can be reached, and at most every 5 s', () => {
    const machine = new IdleLockMachine(idleLockTimings(policy({ minutes: 1 }), pupil), options);
    machine.handle(read(T, 58 * SEC));
    expect(machine.nextReadingInMs()).toBe(2 * SEC);
    machine.handle(read(T + 1, 0));
    expect(machine.nextReadingInMs()).toBe(5 * SEC);
    machine.handle(read(T + 2, 60 * SEC));
    expect(machine.phase).toBe('warning');
    expect(machine.nextReadingInMs()).toBe(1 * SEC);
    machine.handle(read(T + 3, 60 * SEC + 1));
    expect(machine.handle(read(T + 60 * SEC + 2, 2 * 60 * SEC))).toEqual([
      { type: 'cancel-warning' },
      { type: 'lock' },
    ]);
    expect(machine.nextReadingInMs()).toBeNull();
  });

  it('a user nobody could identify is not exempt', () => {
    const timings = idleLockTimings(policy({ exempt: { users: [], groups: ['pupils'] } }), null);
    expect(timings.off).toBeNull();
  });
});
