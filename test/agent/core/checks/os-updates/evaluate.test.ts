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
    ['a pending security update', facts({ pendingSecurityUpdates: 1 }), 'missing security'],
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
