// idle:display-requests through a real socket to the cache and the real parser: only a proven
// connection of the console user (or root) is answered, schema-invalid requests are refused, a
// flood runs powercfg once per interval, and on Linux the answer is unknown with nothing run.
// The Runner is recorded (Windows' powercfg cannot run here); everything behind it is real.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { IpcResponseSchema, validate, type DisplayRequestsView } from '../../../shared/index.ts';
import { displayRequestSourceFor } from '../../../agent/core/idle-lock/power-requests/index.ts';
import type { Runner } from '../../../agent/core/runner.ts';
import { DisplayRequestCache } from '../../../agent/service/display-requests.ts';
import { ipcRequest } from '../../../agent/service/ipc-server.ts';
import { exchangeJson, serviceSocketForTest } from '../../helpers/ipc-service.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';

const fixture = (name: string) =>
  readFileSync(
    new URL(`../../fixtures/windows/power-requests/${name}`, import.meta.url),
    'utf8',
  ).replace(/\n/g, '\r\n');

/** A Runner that answers `stdout` (switchable) and counts its runs; released on demand. */
function powercfg(stdout: string, exitCode = 0) {
  const state = { runs: 0, stdout, exitCode, hold: null as Promise<void> | null };
  const run: Runner = async (command, args) => {
    expect([command, ...args]).toEqual(['powercfg.exe', '/requests']);
    state.runs++;
    await state.hold;
    return { stdout: state.stdout, stderr: '', exitCode: state.exitCode };
  };
  return { state, run };
}

/** A service answering idle:display-requests with `displayRequests` (none: refused). */
async function serve(displayRequests?: () => Promise<DisplayRequestsView>) {
  const { path } = await serviceSocketForTest(
    displayRequests === undefined ? {} : { displayRequests },
  );
  return path;
}

describe('DisplayRequestCache', () => {
  it('reads once per interval, shares a reading in flight, and reads again after', async () => {
    const clock = new ManualClock('2026-12-06T09:00:00Z');
    const { state, run } = powercfg(fixture('homeassistant-video-wake-lock.txt'));
    const cache = new DisplayRequestCache({
      source: displayRequestSourceFor('windows', run),
      now: () => clock.now(),
    });
    let release: () => void = () => undefined;
    state.hold = new Promise<void>((resolve) => (release = resolve));
    const together = [cache.read(), cache.read(), cache.read()];
    release();
    const answers = await Promise.all(together);
    expect(state.runs).toBe(1);
    expect(answers[0]).toEqual({
      known: true,
      held: true,
      holders: ['Home Assistant Desktop.exe (Video Wake Lock)'],
      readAt: '2026-12-06T09:00:00.000Z',
    });
    expect(answers[1]).toBe(answers[0]);
    state.hold = null;
    await clock.advance(4_999);
    await cache.read();
    expect(state.runs).toBe(1);
    state.stdout = fixture('powerrequestwrapper-none.txt');
    await clock.advance(1);
    expect(await cache.read()).toMatchObject({ known: true, held: false });
    expect(state.runs).toBe(2);
  });

  it('a clock set back reads again rather than keeping an answer for longer', async () => {
    const clock = new ManualClock('2026-12-06T09:00:00Z');
    const { state, run } = powercfg(fixture('powerrequestwrapper-none.txt'));
    const cache = new DisplayRequestCache({
      source: displayRequestSourceFor('windows', run),
      now: () => clock.now(),
    });
    await cache.read();
    clock.set('2026-12-06T08:00:00Z');
    await cache.read();
    expect(state.runs).toBe(2);
  });

  it('a source that throws is an unknown answer, never a rejection', async () => {
    const clock = new ManualClock('2026-12-06T09:00:00Z');
    const cache = new DisplayRequestCache({
      source: { read: () => Promise.reject(new Error('boom')) },
      now: () => clock.now(),
    });
    expect(await cache.read()).toEqual({
      known: false,
      reason: 'display requests could not be read: boom',
      readAt: '2026-12-06T09:00:00.000Z',
    });
  });
});

describe('idle:display-requests over the service socket', () => {
  it('answers a proven console connection with a valid answer; refuses bad requests', async () => {
    const clock = new ManualClock('2026-12-06T09:00:00Z');
    const { state, run } = powercfg(fixture('autowall-mpv-display.txt'));
    const cache = new DisplayRequestCache({
      source: displayRequestSourceFor('windows', run),
      now: () => clock.now(),
    });
    const path = await serve(() => cache.read());
    const answers = await exchangeJson(
      path,
      'proven',
      [
        '{"id":1,"channel":"idle:display-requests","held":false}\n',
        '{"id":2,"channel":"idle:display-request"}\n',
        '{"id":3,"channel":"idle:display-requests"}\n',
      ],
      3,
    );
    const byId = new Map(answers.map((a) => [a.id, a]));
    expect(byId.get(1)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^invalid request/) as unknown,
    });
    expect(byId.get(2)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^invalid request/) as unknown,
    });
    expect(validate(IpcResponseSchema, byId.get(3)).ok).toBe(true);
    expect(byId.get(3)).toMatchObject({
      ok: true,
      displayRequests: { known: true, held: true, holders: ['mpv.exe'] },
    });
    expect(state.runs).toBe(1);
  });

  it('an unproven connection is refused and nothing is run', async () => {
    const { state, run } = powercfg(fixture('autowall-mpv-display.txt'));
    const cache = new DisplayRequestCache({
      source: displayRequestSourceFor('windows', run),
      now: () => new Date(),
    });
    const path = await serve(() => cache.read());
    const [answer] = await exchangeJson(
      path,
      'plain',
      ['{"id":4,"channel":"idle:display-requests"}\n'],
      1,
    );
    expect(answer).toMatchObject({
      id: 4,
      ok: false,
      error: expect.stringMatching(/needs a proven connection/) as unknown,
    });
    expect(state.runs).toBe(0);
  });

  it('a flood from local clients runs powercfg once, and the service keeps answering', async () => {
    const clock = new ManualClock('2026-12-06T09:00:00Z');
    const { state, run } = powercfg(fixture('not-administrator.txt'), 1);
    const cache = new DisplayRequestCache({
      source: displayRequestSourceFor('windows', run),
      now: () => clock.now(),
    });
    const path = await serve(() => cache.read());
    const flood = Array.from(
      { length: 300 },
      (_, i) => `{"id":${i + 1},"channel":"idle:display-requests"}\n`,
    );
    const [first, second] = await Promise.all([
      exchangeJson(path, 'proven', flood, 300),
      exchangeJson(path, 'proven', flood, 300),
    ]);
    const all = [...first, ...second];
    expect(all).toHaveLength(600);
    expect(all.every((a) => validate(IpcResponseSchema, a).ok)).toBe(true);
    expect(new Set(all.map((a) => JSON.stringify(a.displayRequests)))).toEqual(
      new Set([
        JSON.stringify({
          known: false,
          reason:
            'powercfg /requests: exit 1: This command requires administrator privileges and must be executed from an elevated command prompt.',
          readAt: '2026-12-06T09:00:00.000Z',
        }),
      ]),
    );
    expect(state.runs).toBe(1);
    expect(await ipcRequest(path, 'status:get')).toMatchObject({ ok: true });
  });

  it('on Linux the service answers unknown with the reason, running nothing', async () => {
    const run: Runner = () => Promise.reject(new Error('nothing may run'));
    const cache = new DisplayRequestCache({
      source: displayRequestSourceFor('linux', run),
      now: () => new Date('2026-12-06T09:00:00Z'),
    });
    const path = await serve(() => cache.read());
    const [answer] = await exchangeJson(
      path,
      'proven',
      ['{"id":5,"channel":"idle:display-requests"}\n'],
      1,
    );
    expect(answer).toMatchObject({
      ok: true,
      displayRequests: {
        known: false,
        reason:
          'unsupported: display power requests (powercfg /requests) exist only on Windows, not linux',
      },
    });
  });

  it('a service without the reader refuses the channel', async () => {
    const path = await serve();
    const [answer] = await exchangeJson(
      path,
      'proven',
      ['{"id":6,"channel":"idle:display-requests"}\n'],
      1,
    );
    expect(answer).toMatchObject({
      id: 6,
      ok: false,
      error: 'this service does not read display requests',
    });
  });
});
