// idle:locked from the tray, through a real socket to the recorder: the event names the console
// user the service found, never the client; bad and flooding requests are refused and the
// service keeps answering.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  validate,
  AgentEventSchema,
  type AgentEvent,
  type AgentStatus,
} from '../../../shared/index.ts';
import { IdleLockRecorder } from '../../../agent/service/idle-locks.ts';
import { ipcRequest, startIpcServer } from '../../../agent/service/ipc-server.ts';
import { openProven } from '../../helpers/ipc-peer.ts';
import type { ConsoleUser } from '../../../agent/core/console-user/console-user.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';

const status: AgentStatus = {
  agentVersion: '0.1.0',
  enrolled: false,
  deviceId: null,
  serverUrl: null,
  policy: { name: 'Hallpass default', version: 0 },
  lastCheckAt: null,
  lastReportQueuedAt: null,
  lastDeliveryAt: null,
  lastDeliveryError: null,
  deliveryFailures: 0,
  nextDeliveryAttemptAt: null,
  passFailures: null,
  outbox: { reports: 0, events: 0 },
  results: [],
  usb: { mode: 'audit', problem: null, recent: [] },
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) {
    await cleanup();
  }
});

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

/** Writes lines on one connection, proven (the tray proves first), and collects `count` answers. */
async function exchange(path: string, lines: string[], count: number): Promise<string[]> {
  const socket = await openProven(path);
  return new Promise((resolve, reject) => {
    socket.write(lines.join(''));
    socket.resume();
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const answers = buffer.split('\n').filter((line) => line !== '');
      if (answers.length >= count) {
        socket.end();
        resolve(answers);
      }
    });
    socket.on('error', reject);
  });
}

async function serve(idleLocked: (s: number) => Promise<boolean>) {
  const folder = await mkdtemp(join(tmpdir(), 'hallpass-idle-'));
  const path = join(folder, 'agent.sock');
  const close = await startIpcServer(path, {
    status: () => status,
    runChecks: () => Promise.resolve(),
    idleLocked,
  });
  cleanups.push(async () => {
    await close();
    await rm(folder, { recursive: true, force: true });
  });
  return path;
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
    const path = await serve((s) => idleLocks.record(s));
    const answers = await exchange(
      path,
      [
        '{"id":1,"channel":"idle:locked","idleSeconds":600,"user":"headteacher"}\n',
        '{"id":2,"channel":"idle:locked","idleSeconds":-5}\n',
        '{"id":3,"channel":"idle:locked"}\n',
        '{"id":4,"channel":"idle:locked","idleSeconds":600}\n',
      ],
      4,
    );
    const byId = new Map(answers.map((a) => [(JSON.parse(a) as { id: number }).id, a]));
    expect(byId.get(1)).toMatch(/"ok":false.*invalid request/);
    expect(byId.get(2)).toMatch(/"ok":false.*invalid request/);
    expect(byId.get(3)).toMatch(/"ok":false.*invalid request/);
    expect(byId.get(4)).toMatch(/"ok":true/);
    expect(events.map((e) => e.data)).toEqual([{ user: 'pupil1', idleSeconds: 600 }]);
  });

  it('a flood of idle:locked records one event and the service keeps answering', async () => {
    const clock = new ManualClock('2026-12-05T09:00:00Z');
    const { events, idleLocks } = recorder(clock, () => Promise.resolve(null));
    const path = await serve((s) => idleLocks.record(s));
    const flood = Array.from(
      { length: 500 },
      (_, i) => `{"id":${i + 1},"channel":"idle:locked","idleSeconds":60}\n`,
    );
    const answers = await exchange(path, flood, 500);
    expect(answers.filter((a) => a.includes('"ok":true'))).toHaveLength(1);
    expect(answers.filter((a) => a.includes('recorded moments ago'))).toHaveLength(499);
    expect(events).toHaveLength(1);
    expect(await ipcRequest(path, 'status:get')).toMatchObject({ ok: true });
  });

  it('a service without a recorder refuses the channel', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'hallpass-idle-'));
    const path = join(folder, 'agent.sock');
    const close = await startIpcServer(path, {
      status: () => status,
      runChecks: () => Promise.resolve(),
    });
    cleanups.push(async () => {
      await close();
      await rm(folder, { recursive: true, force: true });
    });
    const [answer] = await exchange(
      path,
      ['{"id":9,"channel":"idle:locked","idleSeconds":1}\n'],
      1,
    );
    expect(answer).toMatch(/"id":9,"ok":false.*does not record idle locks/);
  });
});
