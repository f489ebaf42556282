import { describe, expect, it } from 'vitest';
import { UsbDecisionEvents } from '../../../../agent/core/usb/decision-events.ts';
import {
  AgentEventSchema,
  validate,
  type AgentEvent,
  type UsbDecision,
} from '../../../../shared/index.ts';
import { ManualClock } from '../../../helpers/manual-clock.ts';

const MINUTE = 60_000;

function decision(
  clock: ManualClock,
  over: Partial<UsbDecision> & { serial?: string | null } = {},
): UsbDecision {
  const { serial, ...rest } = over;
  return {
    at: clock.now().toISOString(),
    device: {
      vendorId: '0781',
      productId: '5581',
      serial: serial === undefined ? '4C530001' : serial,
      name: 'SanDisk Ultra',
      kind: 'mass-storage',
    },
    action: 'blocked',
    basis: 'not-approved',
    mode: 'block',
    user: 'pupil.0042',
    approvalId: null,
    ...rest,
  };
}

function setup(options: { maxTracked?: number; fail?: boolean } = {}) {
  const clock = new ManualClock('2026-11-23T09:00:00.000Z');
  const events: AgentEvent[] = [];
  const errors: unknown[] = [];
  const sink = new UsbDecisionEvents({
    record: (event) => {
      if (options.fail === true) {
        return Promise.reject(new Error('ENOSPC: no space left on device'));
      }
      const checked = validate(AgentEventSchema, event);
      if (!checked.ok) {
        throw new Error(`invalid event: ${JSON.stringify(checked.problems)}`);
      }
      events.push(event);
      return Promise.resolve();
    },
    now: clock.now,
    timers: clock.timers,
    windowMs: 10 * MINUTE,
    ...(options.maxTracked === undefined ? {} : { maxTracked: options.maxTracked }),
    onError: (error) => errors.push(error),
  });
  return { clock, events, errors, sink };
}

const data = (event: AgentEvent | undefined) => {
  if (event === undefined || (event.type !== 'usb.blocked' && event.type !== 'usb.allowed')) {
    throw new Error(`not a USB event: ${JSON.stringify(event)}`);
  }
  return event.data;
};

describe('UsbDecisionEvents', () => {
  it('sends the first decision at once, folds repeats and sends their count when the window ends', async () => {
    const { clock, events, sink } = setup();
    await sink.note(decision(clock));
    expect(events).toHaveLength(1);
    expect(events[0]?.type).toBe('usb.blocked');
    expect(data(events[0])).toMatchObject({ count: 1, firstAt: '2026-11-23T09:00:00.000Z' });

    for (let i = 0; i < 30; i++) {
      await clock.advance(10_000);
      await sink.note(decision(clock));
    }
    expect(events).toHaveLength(1);
    await clock.advance(10 * MINUTE);
    expect(events).toHaveLength(2);
    expect(data(events[1])).toMatchObject({
      count: 30,
      // The first folded decision, ten seconds after the first one sent.
      firstAt: '2026-11-23T09:00:10.000Z',
      at: '2026-11-23T09:05:00.000Z',
    });
  });

  it('forgets a device after a quiet window and reports it afresh later', async () => {
    const { clock, events, sink } = setup();
    await sink.note(decision(clock));
    await clock.advance(11 * MINUTE);
    expect(sink.tracked()).toBe(0);
    await sink.note(decision(clock));
    expect(events.map((e) => data(e).count)).toEqual([1, 1]);
  });

  it('keeps folding across windows while the plugging goes on: one event per window', async () => {
    const { clock, events, sink } = setup();
    for (let minute = 0; minute < 35; minute++) {
      await sink.note(decision(clock));
      await clock.advance(MINUTE);
    }
    await sink.stop();
    const counts = events.map((e) => data(e).count);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(35);
    expect(events.length).toBeLessThanOrEqual(5);
  });

  it('reports a different action or basis for the same device separately', async () => {
    const { clock, events, sink } = setup();
    await sink.note(decision(clock));
    await sink.note(
      decision(clock, { action: 'read-write', basis: 'approved', approvalId: 'apr-1' }),
    );
    await sink.note(
      decision(clock, { action: 'read-only', basis: 'not-approved', mode: 'read-only' }),
    );
    expect(events.map((e) => [e.type, data(e).action, data(e).basis])).toEqual([
      ['usb.blocked', 'blocked', 'not-approved'],
      ['usb.allowed', 'read-write', 'approved'],
      ['usb.blocked', 'read-only', 'not-approved'],
    ]);
  });

  it('sends nothing in mode allow, but reports audit mode', async () => {
    const { clock, events, sink } = setup();
    await sink.note(decision(clock, { action: 'read-write', basis: 'mode', mode: 'allow' }));
    expect(events).toHaveLength(0);
    await sink.note(decision(clock, { action: 'read-write', basis: 'mode', mode: 'audit' }));
    expect(events.map((e) => e.type)).toEqual(['usb.allowed']);
  });

  it('reports a system disk once', async () => {
    const { clock, events, sink } = setup();
    for (let i = 0; i < 5; i++) {
      await sink.note(
        decision(clock, { action: 'left-alone', basis: 'system-disk', serial: 'ROOT' }),
      );
      await clock.advance(20 * MINUTE);
    }
    await sink.stop();
    expect(events.map((e) => [data(e).action, data(e).count])).toEqual([['left-alone', 1]]);
  });

  it('holds at most maxTracked devices and folds further ones, whatever a pupil plugs', async () => {
    const { clock, events, sink } = setup({ maxTracked: 3 });
    for (let i = 0; i < 100; i++) {
      await sink.note(decision(clock, { serial: `CHANGING-${String(i)}` }));
      expect(sink.tracked()).toBeLessThanOrEqual(3);
    }
    expect(events.map((e) => data(e).device.serial)).toEqual([
      'CHANGING-0',
      'CHANGING-1',
      'CHANGING-2',
    ]);
    await clock.advance(10 * MINUTE);
    expect(events).toHaveLength(4);
    expect(data(events[3])).toMatchObject({ count: 97, device: { serial: 'CHANGING-99' } });
    expect(clock.pending()).toBeLessThanOrEqual(1);
  });

  it('sends folded counts on stop, so a clean stop loses none', async () => {
    const { clock, events, sink } = setup();
    await sink.note(decision(clock));
    await clock.advance(MINUTE);
    await sink.note(decision(clock));
    await sink.note(decision(clock));
    await sink.stop();
    expect(events.map((e) => data(e).count)).toEqual([1, 2]);
    expect(clock.pending()).toBe(0);
    await sink.note(decision(clock));
    expect(events).toHaveLength(2);
  });

  it('carries on when the outbox refuses an event', async () => {
    const { clock, errors, sink } = setup({ fail: true });
    await sink.note(decision(clock));
    await sink.note(decision(clock));
    await sink.stop();
    expect(errors.map((e) => (e as Error).message)).toEqual([
      'ENOSPC: no space left on device',
      'ENOSPC: no space left on device',
    ]);
  });
});
