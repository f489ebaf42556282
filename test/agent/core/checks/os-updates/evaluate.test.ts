import { describe, expect, it } from 'vitest';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import { evaluate } from '../../../../../agent/core/checks/os-updates/evaluate.ts';
import type { OsUpdatesFacts } from '../../../../../agent/core/checks/os-updates/facts.ts';
import { compareDottedVersions } from '../../../../../agent/core/checks/os-updates/version.ts';
import type { EvaluationContext } from '../../../../../agent/core/checks/define-check.ts';

const policy = await readDefaultPolicy();
const now = new Date('2026-11-23T12:00:00Z');
const linux: EvaluationContext = { os: 'linux', now };

const upToDate: OsUpdatesFacts = {
  osName: 'Debian GNU/Linux 12 (bookworm)',
  osReleaseId: 'debian',
  osVersion: '12',
  automaticUpdates: true,
  automaticUpdatesDetail: 'on',
  lastUpdateAt: '2026-11-20T03:00:00.000Z',
  lastUpdateSource: 'upgrade-stamp',
  pendingUpdates: 2,
  pendingSecurityUpdates: 0,
  pendingSecurityTitles: [],
  pendingFirstSeen: {},
  rebootPending: false,
  problems: [],
};

const facts = (changes: Partial<OsUpdatesFacts>): OsUpdatesFacts => ({ ...upToDate, ...changes });

describe('compareDottedVersions', () => {
  it.each([
    ['10.0.19045', '10.0.19045', 0],
    ['10.0.19045.4412', '10.0.19045', 1],
    ['10.0.14393.577', '10.0.19045', -1],
    ['14', '14.0', 0],
    ['13.6.1', '14.0', -1],
    ['22.04', '22.4', 0],
    ['12', '11.9', 1],
  ] as const)('%s vs %s is %i', (a, b, expected) => {
    expect(compareDottedVersions(a, b)).toBe(expected);
  });

  it('refuses what is not a dotted version', () => {
    expect(compareDottedVersions('trixie/sid', '12')).toBeNull();
    expect(compareDottedVersions('12', '')).toBeNull();
  });
});

describe('evaluate os-updates', () => {
  it('passes when everything is fine', () => {
    expect(evaluate(upToDate, policy, linux)).toEqual({
      status: 'pass',
      summary: 'This computer is up to date.',
    });
  });

  it.each([
    ['version below the minimum', facts({ osReleaseId: 'ubuntu', osVersion: '20.04' }), 'too old'],
    ['a pending security update', facts({ pendingSecurityUpdates: 1 }), 'missing updates'],
    ['no update for 36 days', facts({ lastUpdateAt: '2026-10-18T11:00:00.000Z' }), 'not updated'],
    ['automatic updates off', facts({ automaticUpdates: false }), 'Automatic updates'],
  ])('fails on %s', (_name, input, summary) => {
    const verdict = evaluate(input, policy, linux);
    expect(verdict.status).toBe('fail');
    expect(verdict.summary).toContain(summary);
    expect(verdict.remediation).toBeTruthy();
  });

  it('allows exactly the policy number of days and pending security updates', () => {
    const lenient = structuredClone(policy);
    lenient.checks.osUpdates.maxPendingSecurityUpdates = 2;
    const edge = facts({ pendingSecurityUpdates: 2, lastUpdateAt: '2026-10-19T12:00:00.000Z' });
    expect(evaluate(edge, lenient, linux).status).toBe('pass');
    expect(evaluate(facts({ pendingSecurityUpdates: 3 }), lenient, linux).status).toBe('fail');
  });

  it('uses the Windows and macOS minimums for those OSes', () => {
    const old = facts({ osReleaseId: null, osVersion: '10.0.14393.577' });
    expect(evaluate(old, policy, { os: 'windows', now }).status).toBe('fail');
    const win11 = facts({ osReleaseId: null, osVersion: '10.0.26100.8655' });
    expect(evaluate(win11, policy, { os: 'windows', now }).status).toBe('pass');
    const catalina = facts({ osReleaseId: null, osVersion: '10.15.7', rebootPending: null });
    expect(evaluate(catalina, policy, { os: 'darwin', now }).status).toBe('fail');
  });

  it('has no minimum for a distribution the policy does not name', () => {
    expect(
      evaluate(facts({ osReleaseId: 'linuxmint', osVersion: '1' }), policy, linux).status,
    ).toBe('pass');
  });

  it('warns on a pending restart, or fails when the policy says so', () => {
    const rebooting = facts({ rebootPending: true });
    expect(evaluate(rebooting, policy, linux).status).toBe('warn');
    const strict = structuredClone(policy);
    strict.checks.osUpdates.rebootPendingWarnOnly = false;
    expect(evaluate(rebooting, strict, linux).status).toBe('fail');
  });

  it('does not require automatic updates when the policy does not', () => {
    const relaxed = structuredClone(policy);
    relaxed.checks.osUpdates.requireAutomaticUpdates = false;
    expect(evaluate(facts({ automaticUpdates: false }), relaxed, linux).status).toBe('pass');
    expect(evaluate(facts({ automaticUpdates: null }), relaxed, linux).status).toBe('pass');
  });

  it.each([
    ['last update date', { lastUpdateAt: null }],
    ['unreadable last update date', { lastUpdateAt: 'yesterday' }],
    ['pending security count', { pendingSecurityUpdates: null }],
    ['automatic updates setting', { automaticUpdates: null }],
    ['OS version', { osVersion: null }],
  ] satisfies [string, Partial<OsUpdatesFacts>][])(
    'is unknown, never pass, without the %s',
    (_n, change) => {
      const verdict = evaluate(facts(change), policy, linux);
      expect(verdict.status).toBe('unknown');
      expect(verdict.status === 'unknown' && verdict.reason.code).toBe('not-measured');
    },
  );

  it('is unknown without the restart flag only when a pending restart would fail', () => {
    expect(evaluate(facts({ rebootPending: null }), policy, linux).status).toBe('pass');
    const strict = structuredClone(policy);
    strict.checks.osUpdates.rebootPendingWarnOnly = false;
    expect(evaluate(facts({ rebootPending: null }), strict, linux).status).toBe('unknown');
  });

  it('still fails on what it did measure when something else is unknown', () => {
    const verdict = evaluate(
      facts({ pendingSecurityUpdates: 4, lastUpdateAt: null }),
      policy,
      linux,
    );
    expect(verdict.status).toBe('fail');
  });

  describe('pending updates and the grace period', () => {
    const darwin: EvaluationContext = { os: 'darwin', now };
    const withGrace = (days: number | undefined) => {
      const copy = structuredClone(policy);
      if (days === undefined) {
        delete copy.checks.osUpdates.pendingUpdateGraceDays;
      } else {
        copy.checks.osUpdates.pendingUpdateGraceDays = days;
      }
      return copy;
    };
    const pending = (firstSeen: Record<string, string>, titles = ['Safari 18.2']) =>
      facts({
        osReleaseId: null,
        osVersion: '15.1',
        pendingSecurityUpdates: titles.length,
        pendingSecurityTitles: titles,
        pendingFirstSeen: firstSeen,
      });

    it('fails at once when the policy sets no grace period (fails closed)', () => {
      const verdict = evaluate(
        pending({ 'Safari 18.2': now.toISOString() }),
        withGrace(undefined),
        darwin,
      );
      expect(verdict.status).toBe('fail');
      expect(verdict.summary).toBe('This computer is missing updates: Safari 18.2.');
    });

    it('warns inside the grace period, naming what waits', () => {
      const seen = { 'Safari 18.2': '2026-11-20T12:00:00.000Z' };
      const verdict = evaluate(pending(seen), withGrace(7), darwin);
      expect(verdict).toMatchObject({
        status: 'warn',
        summary: 'Updates are waiting to be installed: Safari 18.2.',
      });
      expect(verdict.remediation).toContain('Safari 18.2 (pending 3 days)');
    });

    it('fails once the grace period is over', () => {
      const seen = { 'Safari 18.2': '2026-11-16T11:59:59.000Z' };
      expect(evaluate(pending(seen), withGrace(7), darwin).status).toBe('fail');
    });

    it('counts an update with no first-seen record as overdue', () => {
      const verdict = evaluate(pending({}), withGrace(30), darwin);
      expect(verdict.status).toBe('fail');
      expect(verdict.remediation).toContain("since before the agent's first record");
    });

    it('names a few and counts the rest', () => {
      const titles = ['a 1', 'b 2', 'c 3', 'd 4', 'e 5'];
      expect(evaluate(pending({}, titles), withGrace(0), darwin).summary).toBe(
        'This computer is missing updates: a 1, b 2, c 3 and 2 more.',
      );
    });
  });

  it('names the problems the probe reported in the unknown reason', () => {
    const verdict = evaluate(
      facts({ pendingSecurityUpdates: null, problems: ['search: 0x8024401C'] }),
      policy,
      linux,
    );
    expect(verdict.status === 'unknown' && verdict.reason.detail).toContain('0x8024401C');
    // The summary says what could not be measured, not just "could not tell".
    expect(verdict.summary).toContain('the number of pending security updates');
    expect(verdict.summary).toContain('0x8024401C');
  });
});
