import { describe, expect, it } from 'vitest';
import type { OsUpdatesFacts } from '../../../../../agent/core/checks/os-updates/facts.ts';
import { carryFirstSeen } from '../../../../../agent/core/checks/os-updates/first-seen.ts';
import type { CheckResult } from '../../../../../shared/index.ts';

const now = new Date('2026-11-23T12:00:00.000Z');
const facts = (titles: string[], count = titles.length): OsUpdatesFacts => ({
  osName: 'macOS',
  osReleaseId: null,
  osVersion: '14.6.1',
  automaticUpdates: true,
  automaticUpdatesDetail: '',
  lastUpdateAt: null,
  lastUpdateSource: '',
  pendingUpdates: count,
  pendingSecurityUpdates: count,
  pendingSecurityTitles: titles,
  pendingFirstSeen: {},
  rebootPending: null,
  problems: [],
});
const result = (status: CheckResult['status'], evidence: Record<string, unknown>): CheckResult => ({
  checkId: 'os-updates',
  status,
  summary: '',
  evidence,
  measuredAt: '2026-11-22T12:00:00.000Z',
  durationMs: 1,
});

describe('carryFirstSeen', () => {
  it('records nothing without an earlier result: the age is unknown', () => {
    expect(carryFirstSeen(facts(['Safari 18.2']), undefined, now).pendingFirstSeen).toEqual({});
  });

  it('records nothing after an unknown result, which observed no list', () => {
    const previous = result('unknown', {});
    expect(carryFirstSeen(facts(['Safari 18.2']), previous, now).pendingFirstSeen).toEqual({});
  });

  it('starts the clock now for an update an earlier complete list did not have', () => {
    const previous = result('pass', { pendingSecurityUpdates: 0, pendingSecurityTitles: [] });
    expect(carryFirstSeen(facts(['Safari 18.2']), previous, now).pendingFirstSeen).toEqual({
      'Safari 18.2': now.toISOString(),
    });
  });

  it('keeps the recorded date while the update stays pending, and drops installed ones', () => {
    const previous = result('fail', {
      pendingSecurityUpdates: 2,
      pendingSecurityTitles: ['Safari 18.2', 'macOS Sonoma 14.7.2'],
      pendingFirstSeen: {
        'Safari 18.2': '2026-11-01T00:00:00.000Z',
        'macOS Sonoma 14.7.2': '2026-11-02T00:00:00.000Z',
      },
    });
    expect(carryFirstSeen(facts(['Safari 18.2']), previous, now).pendingFirstSeen).toEqual({
      'Safari 18.2': '2026-11-01T00:00:00.000Z',
    });
  });

  it('gives no date to what the earlier result listed without a date, or may have cut off', () => {
    const undated = result('fail', {
      pendingSecurityUpdates: 1,
      pendingSecurityTitles: ['Safari 18.2'],
      pendingFirstSeen: { 'Safari 18.2': 'not a date' },
    });
    expect(carryFirstSeen(facts(['Safari 18.2']), undated, now).pendingFirstSeen).toEqual({});
    // 25 pending but only 20 titles kept: a title not among them may have been pending too.
    const truncated = result('fail', {
      pendingSecurityUpdates: 25,
      pendingSecurityTitles: ['a'],
      pendingFirstSeen: {},
    });
    expect(carryFirstSeen(facts(['b']), truncated, now).pendingFirstSeen).toEqual({});
  });
});
