// The tray's failure reports, driven by the real idle controller on a manual clock with a
// scripted desktop (and the real session desktop where there is no OS desktop): what reaches the
// service on failure, nothing on success, and that every request is one the service accepts.
import { describe, expect, it } from 'vitest';
import { IpcRequestSchema, validate } from '../../../../shared/index.ts';
import { IdleLockController } from '../../../../agent/tray/idle/controller.ts';
import type { IdleDesktop, LockOutcome, Reading } from '../../../../agent/tray/idle/desktop.ts';
import {
  IdleFailureReporter,
  type LockFailureRequest,
} from '../../../../agent/tray/idle/failure-report.ts';
import { idleLockTimings } from '../../../../agent/tray/idle/idle-lock.ts';
import { sessionDesktop } from '../../../../agent/tray/session-desktop.ts';
import { ManualClock, settle } from '../../../helpers/manual-clock.ts';

const timings = idleLockTimings(
  { enabled: true, minutes: 1, warningSeconds: 10, exempt: { users: [], groups: [] } },
  null,
);

/** A reporter whose requests are checked against the IPC schema and kept. */
function reporter(fail: () => boolean = () => false) {
  const sent: LockFailureRequest[] = [];
  const logged: string[] = [];
  const failures = new IdleFailureReporter({
    send: (request) => {
      expect(validate(IpcRequestSchema, { id: 1, ...request }).ok).toBe(true);
      if (fail()) {
        return Promise.reject(new Error('the Hallpass service is not reachable'));
      }
      sent.push(request);
      return Promise.resolve();
    },
    log: (message) => logged.push(message),
  });
  return { sent, logged, failures };
}

/** A desktop idle since the start, whose lock answers from the script. */
function scriptedDesktop(clock: ManualClock, outcomes: LockOutcome[], idle?: Reading<number>) {
  const start = clock.now().getTime();
  const desktop: IdleDesktop = {
    readIdleMs: () => Promise.resolve(idle ?? { ok: true, value: clock.now().getTime() - start }),
    readInhibitors: () => Promise.resolve({ ok: false, reason: 'no logind here' }),
    lock: () =>
      Promise.resolve(outcomes.shift() ?? { ok: true, via: 'loginctl lock-session', attempts: [] }),
  };
  return desktop;
}

async function runFor(desktop: IdleDesktop, failures: IdleFailureReporter, clock: ManualClock) {
  const controller = new IdleLockController({
    desktop,
    timings,
    now: () => clock.now().getTime(),
    timers: clock.timers,
    listener: {
      warning: () => undefined,
      locked: () => undefined,
      lockFailed: (attempts, locked) => void failures.lockFailed(attempts, locked),
      readingFailed: (what, reason) => void failures.readingFailed(what, reason),
    },
  });
  controller.start();
  await settle();
  await clock.advance(5 * 60_000);
  await controller.stop();
  return controller;
}

describe('IdleFailureReporter with the idle controller', () => {
  it('sends nothing when the lock works first time', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { sent, failures } = reporter();
    const desktop = scriptedDesktop(clock, [
      {
        ok: true,
        via: 'loginctl lock-session',
        attempts: [{ command: 'loginctl lock-session', ok: true, detail: 'exit 0' }],
      },
    ]);
    const controller = await runFor(desktop, failures, clock);
    expect(controller.phase).toBe('locked');
    expect(sent).toEqual([]);
  });

  it('sends a failed lock, then the fallback that worked', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { sent, failures } = reporter();
    const desktop = scriptedDesktop(clock, [
      { ok: false, attempts: [{ command: 'loginctl lock-session', ok: false, detail: 'exit 1' }] },
      {
        ok: true,
        via: 'xdg-screensaver lock',
        attempts: [
          { command: 'loginctl lock-session', ok: false, detail: 'exit 1\nmore' },
          { command: 'xdg-screensaver lock', ok: true, detail: 'exit 0' },
        ],
      },
    ]);
    await runFor(desktop, failures, clock);
    expect(sent).toEqual([
      { channel: 'idle:lock-failed', kind: 'lock-failed', reason: 'loginctl lock-session: exit 1' },
      {
        channel: 'idle:lock-failed',
        kind: 'fallback-used',
        reason: 'loginctl lock-session: exit 1',
      },
    ]);
  });

  it('sends no-desktop when the session has no OS desktop to lock with', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { sent, failures } = reporter();
    const start = clock.now().getTime();
    const desktop = sessionDesktop(
      () => (clock.now().getTime() - start) / 1000,
      null,
      false,
      'the idle lock is not built for aix',
    );
    await runFor(desktop, failures, clock);
    expect(sent.length).toBeGreaterThan(0);
    expect(new Set(sent.map((r) => `${r.kind} ${r.reason}`))).toEqual(
      new Set(['no-desktop none: the idle lock is not built for aix']),
    );
  });

  it('sends unreadable idle time once; unreadable inhibitors stay in the log', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { sent, logged, failures } = reporter();
    const desktop = scriptedDesktop(clock, [], {
      ok: false,
      reason: "xprintidle: exit 1: couldn't open display",
    });
    await runFor(desktop, failures, clock);
    expect(sent).toEqual([
      {
        channel: 'idle:lock-failed',
        kind: 'idle-unreadable',
        reason: "xprintidle: exit 1: couldn't open display",
      },
    ]);
    expect(logged).toContain('idle lock: cannot read inhibitors: no logind here');
  });
});

describe('IdleFailureReporter on its own', () => {
  it('keeps the latest unsent report per kind and sends it on reconnect', async () => {
    let down = true;
    const { sent, failures } = reporter(() => down);
    for (let i = 0; i < 100; i++) {
      await failures.lockFailed([{ command: 'loginctl', ok: false, detail: `exit ${i}` }], false);
    }
    await failures.noDesktop('not built for aix');
    expect(failures.unsent()).toEqual(['lock-failed', 'no-desktop']);
    down = false;
    await failures.connected();
    expect(sent.map((r) => `${r.kind} ${r.reason}`)).toEqual([
      'lock-failed loginctl: exit 99',
      'no-desktop not built for aix',
    ]);
    expect(failures.unsent()).toEqual([]);
  });

  it('clips a long reason to what the service accepts and sends nothing for no attempts', async () => {
    const { sent, failures } = reporter();
    const attempts = Array.from({ length: 10 }, (_, i) => ({
      command: `cmd${i}`,
      ok: false,
      detail: 'e'.repeat(300),
    }));
    await failures.lockFailed(attempts, false);
    await failures.lockFailed([], true);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.reason).toHaveLength(500);
    expect(sent[0]?.reason.endsWith('…')).toBe(true);
  });
});
