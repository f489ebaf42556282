// The IPC channels without a socket: what each line gets back, and who may ask. The socket side
// (limits, proof over real accounts, eviction) is in ipc-server.test.ts and ipc-peers.test.ts.
import { describe, expect, it } from 'vitest';
import type { IpcPeer } from '../../../shared/index.ts';
import {
  answerLine,
  type IpcHandlers,
  type LineContext,
} from '../../../agent/service/ipc-channels.ts';
import { unenrolledStatus } from '../../helpers/ipc-service.ts';

const status = unenrolledStatus({
  trays: [{ user: 'j.smith', since: '2026-12-06T08:00:00.000Z' }],
});

const consoleUser: IpcPeer = { id: '1000', user: 'j.smith', privileged: false, console: true };
const otherUser: IpcPeer = { id: '1001', user: 'a.pupil', privileged: false, console: false };
const root: IpcPeer = { id: '0', user: 'root', privileged: true, console: false };

/** Handlers that record what reached them; every channel present. */
function recordingHandlers(): { handlers: IpcHandlers; calls: string[] } {
  const calls: string[] = [];
  const handlers: IpcHandlers = {
    status: () => status,
    runChecks: () => {
      calls.push('runChecks');
      return Promise.resolve([]);
    },
    idleLocked: (idleSeconds) => {
      calls.push(`idleLocked ${String(idleSeconds)}`);
      return Promise.resolve(true);
    },
    idleLockFailed: (kind) => {
      calls.push(`idleLockFailed ${kind}`);
      return Promise.resolve();
    },
    idlePolicy: () => {
      calls.push('idlePolicy');
      return Promise.resolve({
        minutes: 10,
        warningSeconds: 60,
        honourInhibitors: true,
        inhibitorCeilingMinutes: 60,
        user: 'j.smith',
        off: null,
      });
    },
  };
  return { handlers, calls };
}

function context(peer: IpcPeer | null, calls: string[] = []): LineContext {
  return {
    checkRun: () => {
      calls.push('checkRun');
      return Promise.resolve();
    },
    subscribe: () => {
      calls.push('subscribe');
    },
    connection: { peer },
    challenge: () => 'no proof here',
    prove: () => Promise.resolve('no proof here'),
    trayHello: () => {
      calls.push('trayHello');
    },
  };
}

describe('IPC channels', () => {
  it('answers a line that is not JSON, or not a request, with an error and the id it can trust', async () => {
    const { handlers } = recordingHandlers();
    expect(await answerLine('{"id": 4, "chan', handlers, context(null))).toEqual({
      id: 0,
      ok: false,
      error: 'not JSON',
    });
    const invalid = await answerLine(
      JSON.stringify({ id: 7, channel: 'idle:locked', idleSeconds: -1 }),
      handlers,
      context(consoleUser),
    );
    expect(invalid).toMatchObject({ id: 7, ok: false });
    expect(invalid).toHaveProperty('error', expect.stringMatching(/^invalid request: /));
    const hugeId = await answerLine(
      JSON.stringify({ id: 2 ** 40, channel: 'status:get' }),
      handlers,
      context(null),
    );
    expect(hugeId).toMatchObject({ id: 0, ok: false });
  });

  it('refuses every channel that acts for the console user on an unproven connection or another user’s, without reaching the handler', async () => {
    const lines = [
      { id: 1, channel: 'idle:locked', idleSeconds: 600 },
      { id: 2, channel: 'idle:lock-failed', kind: 'no-desktop', reason: 'no display' },
      { id: 3, channel: 'idle:policy' },
      { id: 4, channel: 'events:subscribe' },
    ];
    for (const peer of [null, otherUser]) {
      const { handlers, calls } = recordingHandlers();
      // Pushes must exist for events:subscribe to reach the proof check.
      handlers.pushes = () => () => undefined;
      for (const line of lines) {
        const answer = await answerLine(JSON.stringify(line), handlers, context(peer, calls));
        expect(answer).toMatchObject({ id: line.id, ok: false });
        expect(answer).toHaveProperty(
          'error',
          'this channel needs a proven connection of the console user (peer:challenge)',
        );
      }
      expect(calls).toEqual([]);
    }
  });

  it('lets the console user and root act, and says which channels this service lacks', async () => {
    for (const peer of [consoleUser, root]) {
      const { handlers, calls } = recordingHandlers();
      const locked = await answerLine(
        JSON.stringify({ id: 9, channel: 'idle:locked', idleSeconds: 600 }),
        handlers,
        context(peer, calls),
      );
      expect(locked).toMatchObject({ id: 9, ok: true });
      const policy = await answerLine(
        JSON.stringify({ id: 10, channel: 'idle:policy' }),
        handlers,
        context(peer, calls),
      );
      expect(policy).toMatchObject({ id: 10, ok: true, idleLock: { minutes: 10 } });
      expect(calls).toEqual(['idleLocked 600', 'idlePolicy']);
      expect(
        await answerLine(
          JSON.stringify({ id: 11, channel: 'aup:pending' }),
          handlers,
          context(peer),
        ),
      ).toEqual({ id: 11, ok: false, error: 'this service does not handle the AUP' });
    }
  });

  it('shows whose trays are connected to root and the console user only', async () => {
    const { handlers } = recordingHandlers();
    const line = JSON.stringify({ id: 1, channel: 'status:get' });
    for (const peer of [consoleUser, root]) {
      expect(await answerLine(line, handlers, context(peer))).toMatchObject({
        ok: true,
        status: { trays: [{ user: 'j.smith' }] },
      });
    }
    for (const peer of [null, otherUser]) {
      const answer = await answerLine(line, handlers, context(peer));
      expect(answer).toMatchObject({ id: 1, ok: true });
      expect(answer).not.toHaveProperty('status.trays');
    }
  });

  it('lets only the console user’s proven tray say hello', async () => {
    const { handlers } = recordingHandlers();
    handlers.trayHello = () => ({ release: () => undefined });
    const line = JSON.stringify({ id: 5, channel: 'tray:hello' });
    for (const peer of [null, otherUser, root]) {
      const calls: string[] = [];
      expect(await answerLine(line, handlers, context(peer, calls))).toMatchObject({
        id: 5,
        ok: false,
      });
      expect(calls).toEqual([]);
    }
    const calls: string[] = [];
    expect(await answerLine(line, handlers, context(consoleUser, calls))).toMatchObject({
      id: 5,
      ok: true,
    });
    expect(calls).toEqual(['trayHello']);
  });

  it('answers a handler that fails with an error, never a rejection', async () => {
    const { handlers } = recordingHandlers();
    handlers.idleLockFailed = () => Promise.reject(new Error('disk full'));
    const failing: LineContext = {
      ...context(consoleUser),
      checkRun: () => Promise.reject(new Error('the outbox is full')),
    };
    expect(
      await answerLine(JSON.stringify({ id: 3, channel: 'checks:run' }), handlers, failing),
    ).toEqual({ id: 3, ok: false, error: 'the service could not do that: the outbox is full' });
    expect(
      await answerLine(
        JSON.stringify({ id: 4, channel: 'idle:lock-failed', kind: 'no-desktop', reason: 'x' }),
        handlers,
        failing,
      ),
    ).toEqual({ id: 4, ok: false, error: 'the service could not do that: disk full' });
  });
});
