// idle:locked from the tray, through a real socket to the recorder: the event names the console
// user the service found, never the client; bad and flooding requests are refused and the
// service keeps answering.
import { describe, expect, it } from 'vitest';
import { validate, AgentEventSchema, type AgentEvent } from '../../../shared/index.ts';
import { IdleLockRecorder } from '../../../agent/service/idle-locks.ts';
import { ipcRequest } from '../../../agent/service/ipc-server.ts';
import { answersById, exchange, serviceSocketForTest } from '../../helpers/ipc-service.ts';
import type { ConsoleUser } from '../../../agent/core/console-user/console-user.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';

function recorder(clock: ManualClock, user: () => Promise<ConsoleUser | null>) {
  const events: AgentEvent[] = [];
  const idleLocks = new IdleLockRecorder({
    consoleUser: { current: user },
    recordEvent: (event) => {
      events.push(event);
      return Promise.resolve();
    },
    now: () => clock.now(),
  });
  return { events, idleLocks };
}

describe('IdleLockRecorder', () => {
  it('records the console user it finds, one event per minute at most', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { events, idleLocks } = recorder(clock, () =>
      Promise.resolve({ name: 'pupil1', groups: [] }),
    );
    expect(await idleLocks.record(600)).toBe(true);
    await clock.advance(59_999);
    expect(await idleLocks.record(600)).toBe(false);
    await clock.advance(1);
    expect(await idleLocks.record(660)).toBe(true);
    expect(events.map((e) => [e.type, e.occurredAt, e.data])).toEqual([
      ['idle.locked', '2026-12-05T09:00:00.000Z', { user: 'pupil1', idleSeconds: 600 }],
      ['idle.locked', '2026-12-05T09:01:00.000Z', { user: 'pupil1', idleSeconds: 660 }],
    ]);
    for (const event of events) {
      expect(validate(AgentEventSchema, event).ok).toBe(true);
    }
  });

  it('still records the lock when the console user cannot be found', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { events, idleLocks } = recorder(clock, () => Promise.reject(new Error('no loginctl')));
    expect(await idleLocks.record(5)).toBe(true);
    expect(events[0]?.data).toEqual({ user: null, idleSeconds: 5 });
  });

  it('a clock set back does not hold the next lock off for longer than the interval', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { events, idleLocks } = recorder(clock, () => Promise.resolve(null));
    await idleLocks.record(5);
    clock.set('2026-12-05T08:00:00Z');
    expect(await idleLocks.record(5)).toBe(true);
    expect(events).toHaveLength(2);
  });
});

describe('idle:locked over the service socket', () => {
  it('records with the service-found user; a name sent by the client is refused', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { events, idleLocks } = recorder(clock, () =>
      Promise.resolve({ name: 'pupil1', groups: [] }),
    );
    const { path } = await serviceSocketForTest({ idleLocked: (s) => idleLocks.record(s) });
    const answers = await exchange(
      path,
      'proven',
      [
        '{"id":1,"channel":"idle:locked","idleSeconds":600,"user":"headteacher"}\n',
        '{"id":2,"channel":"idle:locked","idleSeconds":-5}\n',
        '{"id":3,"channel":"idle:locked"}\n',
        '{"id":4,"channel":"idle:locked","idleSeconds":600}\n',
      ],
      4,
    );
    const byId = answersById(answers);
    expect(byId.get(1)).toMatch(/"ok":false.*invalid request/);
    expect(byId.get(2)).toMatch(/"ok":false.*invalid request/);
    expect(byId.get(3)).toMatch(/"ok":false.*invalid request/);
    expect(byId.get(4)).toMatch(/"ok":true/);
    expect(events.map((e) => e.data)).toEqual([{ user: 'pupil1', idleSeconds: 600 }]);
  });

  it('a flood of idle:locked records one event and the service keeps answering', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { events, idleLocks } = recorder(clock, () => Promise.resolve(null));
    const { path } = await serviceSocketForTest({ idleLocked: (s) => idleLocks.record(s) });
    const flood = Array.from(
      { length: 500 },
      (_, i) => `{"id":${i + 1},"channel":"idle:locked","idleSeconds":60}\n`,
    );
    const answers = await exchange(path, 'proven', flood, 500);
    expect(answers.filter((a) => a.includes('"ok":true'))).toHaveLength(1);
    expect(answers.filter((a) => a.includes('recorded moments ago'))).toHaveLength(499);
    expect(events).toHaveLength(1);
    expect(await ipcRequest(path, 'status:get')).toMatchObject({ ok: true });
  });

  it('a service without a recorder refuses the channel', async () => {
    const { path } = await serviceSocketForTest();
    const [answer] = await exchange(
      path,
      'proven',
      ['{"id":9,"channel":"idle:locked","idleSeconds":1}\n'],
      1,
    );
    expect(answer).toMatch(/"id":9,"ok":false.*does not record idle locks/);
  });
});
