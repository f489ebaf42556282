// idle:lock-failed from the tray, through a real socket to the recorder: the event names the
// console user the service found, never the client; the reason is inert clipped text; repeats
// fold into one event per window with the count; bad, oversized and flooding requests are
// refused or folded and the service keeps answering.
import { describe, expect, it } from 'vitest';
import { validate, AgentEventSchema, type AgentEvent } from '../../../shared/index.ts';
import { IdleLockFailureRecorder } from '../../../agent/service/idle-lock-failures.ts';
import { ipcRequest } from '../../../agent/service/ipc-server.ts';
import {
  answersById,
  exchange,
  firstAnswer,
  serviceSocketForTest,
} from '../../helpers/ipc-service.ts';
import type { ConsoleUser } from '../../../agent/core/console-user/console-user.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';

const WINDOW = 10 * 60_000;

function recorder(clock: ManualClock, user: () => Promise<ConsoleUser | null>) {
  const events: AgentEvent[] = [];
  const failures = new IdleLockFailureRecorder({
    consoleUser: { current: user },
    recordEvent: (event) => {
      events.push(event);
      return Promise.resolve();
    },
    now: () => clock.now(),
    timers: clock.timers,
    windowMs: WINDOW,
  });
  return { events, failures };
}

const pupil = () => Promise.resolve({ name: 'pupil1', groups: [] });

/** A service recording idle-lock failures with `failures` (none: the channel refused). */
async function serve(failures: IdleLockFailureRecorder | undefined) {
  const { path } = await serviceSocketForTest(
    failures === undefined
      ? {}
      : { idleLockFailed: (kind, reason) => failures.record(kind, reason) },
  );
  return path;
}

describe('IdleLockFailureRecorder', () => {
  it('sends the first report at once and folds repeats into one event per window', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { events, failures } = recorder(clock, pupil);
    expect(await failures.record('lock-failed', 'loginctl: exit 1')).toBe('recorded');
    await clock.advance(1000);
    expect(await failures.record('lock-failed', 'loginctl: exit 1')).toBe('folded');
    await clock.advance(1000);
    expect(await failures.record('lock-failed', 'xdg-screensaver: not found')).toBe('folded');
    expect(events).toHaveLength(1);
    await clock.advance(WINDOW);
    expect(events.map((e) => [e.type, e.occurredAt, e.data])).toEqual([
      [
        'idle.lock-failed',
        '2026-12-05T09:00:00.000Z',
        {
          user: 'pupil1',
          kind: 'lock-failed',
          reason: 'loginctl: exit 1',
          count: 1,
          firstAt: '2026-12-05T09:00:00.000Z',
        },
      ],
      [
        'idle.lock-failed',
        '2026-12-05T09:10:00.000Z',
        {
          user: 'pupil1',
          kind: 'lock-failed',
          reason: 'xdg-screensaver: not found',
          count: 2,
          firstAt: '2026-12-05T09:00:01.000Z',
        },
      ],
    ]);
    for (const event of events) {
      expect(validate(AgentEventSchema, event).ok).toBe(true);
    }
    // A quiet window ends the episode: the next report is sent at once again.
    await clock.advance(WINDOW);
    expect(clock.pending()).toBe(0);
    expect(await failures.record('lock-failed', 'again')).toBe('recorded');
    expect(events).toHaveLength(3);
  });

  it('folds per kind; the folded count names whoever is at the console when it is sent', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    let name = 'pupil1';
    let lookups = 0;
    const { events, failures } = recorder(clock, () => {
      lookups++;
      return Promise.resolve({ name, groups: [] });
    });
    await failures.record('idle-unreadable', 'no xprintidle');
    await failures.record('no-desktop', 'not built for aix');
    for (let i = 0; i < 200; i++) {
      await failures.record('idle-unreadable', 'no xprintidle');
    }
    name = 'pupil2';
    await clock.advance(WINDOW);
    expect(
      events.map((e) => e.type === 'idle.lock-failed' && [e.data.kind, e.data.user, e.data.count]),
    ).toEqual([
      ['idle-unreadable', 'pupil1', 1],
      ['no-desktop', 'pupil1', 1],
      ['idle-unreadable', 'pupil2', 200],
    ]);
    // One lookup per event sent, none per folded report: a flood cannot make the service spawn.
    expect(lookups).toBe(3);
  });

  it('keeps the reason as inert clipped text; no console user found still records', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { events, failures } = recorder(clock, () => Promise.reject(new Error('no loginctl')));
    await failures.record('lock-failed', `evil\u001b[31m\nline two\u2028${'x'.repeat(480)}`);
    const data = events[0]?.type === 'idle.lock-failed' ? events[0].data : null;
    expect(data?.user).toBeNull();
    expect(data?.reason.startsWith('evil?[31m?line two?xxx')).toBe(true);
    expect(data?.reason).toHaveLength(300);
    expect(validate(AgentEventSchema, events[0]).ok).toBe(true);
  });

  it('stop() sends the folded counts so a clean stop loses none', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { events, failures } = recorder(clock, pupil);
    await failures.record('fallback-used', 'loginctl: exit 1');
    await failures.record('fallback-used', 'loginctl: exit 1');
    await failures.stop();
    expect(events.map((e) => e.type === 'idle.lock-failed' && e.data.count)).toEqual([1, 1]);
    expect(clock.pending()).toBe(0);
  });
});

describe('idle:lock-failed over the service socket', () => {
  it('refuses invalid and oversized requests and a name sent by the client', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { events, failures } = recorder(clock, pupil);
    const path = await serve(failures);
    const answers = await exchange(
      path,
      'proven',
      [
        '{"id":1,"channel":"idle:lock-failed","kind":"lock-failed","reason":"x","user":"head"}\n',
        '{"id":2,"channel":"idle:lock-failed","kind":"everything-fine","reason":"x"}\n',
        '{"id":3,"channel":"idle:lock-failed","kind":"lock-failed"}\n',
        `{"id":4,"channel":"idle:lock-failed","kind":"lock-failed","reason":"${'y'.repeat(501)}"}\n`,
        '{"id":5,"channel":"idle:lock-failed","kind":"lock-failed","reason":42}\n',
        '{"id":6,"channel":"idle:lock-failed","kind":"lock-failed","reason":"loginctl: exit 1"}\n',
      ],
      6,
    );
    const byId = answersById(answers);
    for (const id of [1, 2, 3, 4, 5]) {
      expect(byId.get(id)).toMatch(/"ok":false.*invalid request/);
    }
    expect(byId.get(6)).toMatch(/"ok":true/);
    expect(events.map((e) => e.data)).toEqual([
      {
        user: 'pupil1',
        kind: 'lock-failed',
        reason: 'loginctl: exit 1',
        count: 1,
        firstAt: '2026-12-05T09:00:00.000Z',
      },
    ]);
  });

  it('a flood reaches the outbox as one event now and one with the count per window', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { events, failures } = recorder(clock, pupil);
    const path = await serve(failures);
    const flood = Array.from(
      { length: 500 },
      (_, i) =>
        `{"id":${i + 1},"channel":"idle:lock-failed","kind":"no-desktop","reason":"r${i}"}\n`,
    );
    const answers = await exchange(path, 'proven', flood, 500);
    expect(answers.filter((a) => a.includes('"ok":true'))).toHaveLength(500);
    expect(events).toHaveLength(1);
    expect(await ipcRequest(path, 'status:get')).toMatchObject({ ok: true });
    await clock.advance(WINDOW);
    expect(
      events.map((e) => e.type === 'idle.lock-failed' && [e.data.count, e.data.reason]),
    ).toEqual([
      [1, 'r0'],
      [499, 'r499'],
    ]);
  });

  it('an unproven connection is refused and records nothing', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { events, failures } = recorder(clock, pupil);
    const path = await serve(failures);
    const answer = await firstAnswer(
      path,
      'plain',
      '{"id":3,"channel":"idle:lock-failed","kind":"lock-failed","reason":"x"}\n',
    );
    expect(answer).toMatch(/"id":3,"ok":false.*needs a proven connection/);
    expect(events).toEqual([]);
  });

  it('a service without a recorder refuses the channel', async () => {
    const path = await serve(undefined);
    const [answer] = await exchange(
      path,
      'proven',
      ['{"id":9,"channel":"idle:lock-failed","kind":"lock-failed","reason":"x"}\n'],
      1,
    );
    expect(answer).toMatch(/"id":9,"ok":false.*does not record idle-lock failures/);
  });
});
