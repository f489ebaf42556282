// The controller's wiring on a manual clock with a scripted desktop: what reaches the listener
// when readings or lock commands fail, and that it never locks without a reading.
import { describe, expect, it } from 'vitest';
import {
  IdleLockController,
  type IdleLockListener,
} from '../../../../agent/tray/idle/controller.ts';
import type {
  IdleDesktop,
  InhibitorState,
  LockOutcome,
  Reading,
} from '../../../../agent/tray/idle/desktop.ts';
import { idleLockTimings } from '../../../../agent/tray/idle/idle-lock.ts';
import { ManualClock, settle } from '../../../helpers/manual-clock.ts';

const timings = idleLockTimings(
  { enabled: true, minutes: 1, warningSeconds: 10, exempt: { users: [], groups: [] } },
  null,
);

/** A desktop whose idle counter follows the manual clock from the last `touch()`. */
function scriptedDesktop(clock: ManualClock, lockOutcomes: LockOutcome[]) {
  let lastInput = clock.now().getTime();
  let idle: Reading<number> | null = null;
  const locks: number[] = [];
  const reads = { count: 0 };
  const desktop: IdleDesktop = {
    readIdleMs: () => {
      reads.count++;
      return Promise.resolve(idle ?? { ok: true, value: clock.now().getTime() - lastInput });
    },
    readInhibitors: (): Promise<Reading<InhibitorState>> =>
      Promise.resolve({ ok: false, reason: 'no logind here' }),
    lock: () => {
      locks.push(clock.now().getTime());
      return Promise.resolve(
        lockOutcomes.shift() ?? { ok: false, attempts: [{ command: 'x', ok: false, detail: '?' }] },
      );
    },
  };
  return {
    desktop,
    locks,
    reads,
    touch: () => (lastInput = clock.now().getTime()),
    breakIdle: (reason: string) => (idle = { ok: false, reason }),
  };
}

function recordingListener() {
  const seen: string[] = [];
  const listener: IdleLockListener = {
    warning: (ms) => seen.push(ms === null ? 'warning hidden' : `warning ${ms}`),
    locked: (outcome) => seen.push(`locked via ${outcome.via}`),
    lockFailed: (attempts) =>
      seen.push(`lock failed: ${attempts.map((a) => `${a.command} ${a.detail}`).join(', ')}`),
    readingFailed: (what, reason) => seen.push(`${what} unknown: ${reason}`),
  };
  return { seen, listener };
}

describe('IdleLockController', () => {
  it('reports a failed lock command, retries, and reports the fallback that worked', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const script = scriptedDesktop(clock, [
      { ok: false, attempts: [{ command: 'loginctl lock-session', ok: false, detail: 'exit 1' }] },
      {
        ok: true,
        via: 'xdg-screensaver lock',
        attempts: [
          { command: 'loginctl lock-session', ok: false, detail: 'exit 1' },
          { command: 'xdg-screensaver lock', ok: true, detail: 'exit 0' },
        ],
      },
    ]);
    const { seen, listener } = recordingListener();
    const controller = new IdleLockController({
      desktop: script.desktop,
      timings,
      now: () => clock.now().getTime(),
      timers: clock.timers,
      listener,
    });
    controller.start();
    await settle();
    await clock.advance(60_000);
    expect(seen.filter((s) => !s.startsWith('inhibitors'))).toEqual(['warning 10000']);
    await clock.advance(10_000);
    expect(controller.phase).toBe('lock-failed');
    await clock.advance(30_000);
    expect(controller.phase).toBe('locked');
    expect(seen.filter((s) => !s.startsWith('inhibitors') && !/^warning \d/.test(s))).toEqual([
      'warning hidden',
      'lock failed: loginctl lock-session exit 1',
      'lock failed: loginctl lock-session exit 1',
      'locked via xdg-screensaver lock',
    ]);
    expect(script.locks).toHaveLength(2);
    // Unknown inhibitors are reported, and did not postpone anything.
    expect(seen).toContain('inhibitors unknown: no logind here');
    await controller.stop();
    expect(clock.pending()).toBe(0);
  });

  it('never locks when idle time cannot be read, and says why', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const script = scriptedDesktop(clock, []);
    script.breakIdle("xprintidle: exit 1: couldn't open display");
    const { seen, listener } = recordingListener();
    const controller = new IdleLockController({
      desktop: script.desktop,
      timings,
      now: () => clock.now().getTime(),
      timers: clock.timers,
      listener,
    });
    controller.start();
    await settle();
    expect(seen).toContain("idle unknown: xprintidle: exit 1: couldn't open display");
    // It keeps trying every few seconds, and tells each reason once.
    await clock.advance(10 * 60_000);
    expect(script.reads.count).toBeGreaterThan(100);
    expect(seen.filter((s) => s.startsWith('idle unknown'))).toHaveLength(1);
    expect(script.locks).toEqual([]);
    expect(controller.phase).toBe('active');
    await controller.stop();
  });

  it('a user who touches the keyboard during the warning is not locked', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const script = scriptedDesktop(clock, []);
    const { seen, listener } = recordingListener();
    const controller = new IdleLockController({
      desktop: script.desktop,
      timings,
      now: () => clock.now().getTime(),
      timers: clock.timers,
      listener,
    });
    controller.start();
    await settle();
    await clock.advance(65_000);
    script.touch();
    await clock.advance(10_000);
    expect(script.locks).toEqual([]);
    expect(seen.at(-1)).toBe('warning hidden');
    expect(seen.filter((s) => s.startsWith('inhibitors'))).toHaveLength(1);
    expect(controller.phase).toBe('active');
    await controller.stop();
  });
});
