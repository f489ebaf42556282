// The folding both rate-limited event sources share (USB decisions, idle-lock failures), on a
// manual clock: what a window sends, when, and that it keeps no timer or window it need not.
import { describe, expect, it } from 'vitest';
import { FoldWindows } from '../../../agent/core/fold-windows.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';

const MINUTE = 60_000;

function setup() {
  const clock = new ManualClock('2026-12-06T09:00:00.000Z');
  const sent: { key: string; latest: string; count: number; firstAt: string }[] = [];
  const windows = new FoldWindows<string, string>({
    now: () => clock.now(),
    windowMs: 10 * MINUTE,
    timers: clock.timers,
    flush: (key, latest, count, firstAt) => {
      sent.push({ key, latest, count, firstAt });
      return Promise.resolve();
    },
  });
  return { clock, sent, windows };
}

describe('FoldWindows', () => {
  it('folds nothing without an open window', () => {
    const { windows } = setup();
    expect(windows.fold('a', 'x', '2026-12-06T09:00:00.000Z')).toBe(false);
    expect(windows.size).toBe(0);
  });

  it('sends one count at the window end, with the latest item and the first time', async () => {
    const { clock, sent, windows } = setup();
    windows.open('a');
    await clock.advance(MINUTE);
    expect(windows.fold('a', 'first', clock.now().toISOString())).toBe(true);
    await clock.advance(MINUTE);
    expect(windows.fold('a', 'second', clock.now().toISOString())).toBe(true);
    expect(sent).toEqual([]);
    await clock.advance(8 * MINUTE);
    expect(sent).toEqual([
      { key: 'a', latest: 'second', count: 2, firstAt: '2026-12-06T09:01:00.000Z' },
    ]);
    // Still repeating: the next window is open at once; a quiet one then closes, timer and all.
    expect(windows.size).toBe(1);
    await clock.advance(10 * MINUTE);
    expect(sent).toHaveLength(1);
    expect(windows.size).toBe(0);
    expect(clock.pending()).toBe(0);
  });

  it('keeps one timer for the earliest window of many', async () => {
    const { clock, windows } = setup();
    windows.open('a');
    await clock.advance(MINUTE);
    windows.open('b');
    expect(clock.pending()).toBe(1);
    expect(clock.nextAt()?.toISOString()).toBe('2026-12-06T09:10:00.000Z');
  });

  it('stop sends every count still held and folds nothing after', async () => {
    const { clock, sent, windows } = setup();
    windows.open('a');
    windows.fold('a', 'x', clock.now().toISOString());
    await windows.stop();
    expect(sent.map((s) => s.count)).toEqual([1]);
    expect(clock.pending()).toBe(0);
    expect(windows.fold('a', 'y', clock.now().toISOString())).toBe(false);
    windows.open('b');
    expect(clock.pending()).toBe(0);
  });
});
