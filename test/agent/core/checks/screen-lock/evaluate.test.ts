import { beforeAll, describe, expect, it } from 'vitest';
import { evaluate } from '../../../../../agent/core/checks/screen-lock/evaluate.ts';
import {
  noSession,
  type ScreenLockFacts,
} from '../../../../../agent/core/checks/screen-lock/facts.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import type { Policy } from '../../../../../shared/index.ts';

const context = { os: 'linux', now: new Date('2025-01-01T00:00:00Z') } as const;

const locksAfter = (
  seconds: number | null,
  lockEnabled: boolean | null = true,
): ScreenLockFacts => ({
  session: 'present',
  user: 'pupil',
  lockEnabled,
  lockAfterSeconds: seconds,
  source: 'machine-policy',
  settings: {},
  problem: null,
});

let policy: Policy;
const withLimit = (maxIdleMinutes: number, required = true): Policy => ({
  ...policy,
  checks: { ...policy.checks, screenLock: { required, maxIdleMinutes } },
});

beforeAll(async () => {
  policy = await readDefaultPolicy();
});

describe('screen-lock evaluate', () => {
  it.each([
    { seconds: 300, max: 15, status: 'pass', words: '5 minutes' },
    { seconds: 900, max: 15, status: 'pass', words: '15 minutes' },
    // 900 s + a 1 s lock delay is past 15 minutes: minutes round up, never down.
    { seconds: 901, max: 15, status: 'fail', words: '16 minutes' },
    { seconds: 605, max: 10, status: 'fail', words: '11 minutes' },
    { seconds: 60, max: 1, status: 'pass', words: '1 minute ' },
    { seconds: 1830, max: 15, status: 'fail', words: 'asks for 15 minutes' },
  ])('$seconds s against $max min is $status', ({ seconds, max, status, words }) => {
    const verdict = evaluate(locksAfter(seconds), withLimit(max), context);
    expect(verdict.status).toBe(status);
    expect(verdict.summary).toContain(words);
    expect(verdict.remediation === undefined).toBe(status === 'pass');
  });

  it('warns, never passes, when the user can change a passing setting', () => {
    const facts = { ...locksAfter(60), source: 'user-setting', userCanChange: true } as const;
    const verdict = evaluate(facts, withLimit(15), context);
    expect(verdict.status).toBe('warn');
    expect(verdict.summary).toContain('the signed-in user can change that setting');
    expect(verdict.remediation).toContain('/etc/dconf/db/local.d/locks/');
  });

  it('fails a user-changeable setting that already fails', () => {
    const facts = { ...locksAfter(1830), source: 'user-setting', userCanChange: true } as const;
    expect(evaluate(facts, withLimit(15), context).status).toBe('fail');
  });

  it('fails when the lock is off', () => {
    const verdict = evaluate(locksAfter(null, false), withLimit(15), context);
    expect(verdict.status).toBe('fail');
    expect(verdict.summary).toContain('never locks');
    expect(verdict.remediation).toContain('idle-delay to 900');
  });

  it('fails when the lock is on but nothing ever triggers it', () => {
    expect(evaluate(locksAfter(null, true), withLimit(15), context).status).toBe('fail');
  });

  it('is unknown, not-measured, with nobody signed in', () => {
    const verdict = evaluate(
      noSession('no graphical session: host is down'),
      withLimit(15),
      context,
    );
    expect(verdict).toMatchObject({
      status: 'unknown',
      summary:
        'Could not check the screen lock because nobody is signed in (no graphical session: host is down).',
      reason: { code: 'not-measured', detail: 'no graphical session: host is down' },
    });
  });

  it('is unknown when it cannot tell whether the screen locks', () => {
    const facts = { ...locksAfter(null, null), problem: 'idleTime not set' };
    expect(evaluate(facts, withLimit(240), context)).toMatchObject({
      status: 'unknown',
      summary: 'Could not tell whether this screen locks by itself: idleTime not set',
      reason: { code: 'unrecognised-output', detail: 'idleTime not set' },
    });
  });

  it('never passes unknown or bad facts, whatever the limit', () => {
    for (const facts of [noSession('x'), locksAfter(null, null), locksAfter(null, false)]) {
      expect(evaluate(facts, withLimit(240), context).status).not.toBe('pass');
    }
  });

  it('passes honestly when the policy does not require a lock', () => {
    const verdict = evaluate(locksAfter(null, false), withLimit(15, false), context);
    expect(verdict.status).toBe('pass');
    expect(verdict.summary).toContain('does not require');
  });

  it('names the OS setting in the remediation', () => {
    const off = locksAfter(null, false);
    expect(evaluate(off, withLimit(10), { ...context, os: 'windows' }).remediation).toContain(
      'InactivityTimeoutSecs',
    );
    expect(evaluate(off, withLimit(10), { ...context, os: 'darwin' }).remediation).toContain('600');
  });
});
