// LineChild, the client of the Windows idle helper's line protocol, against real child processes
// (powershell-standin.ts stands in for PowerShell the program; the client is what is tested).
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { LineChild } from '../../../../agent/tray/idle/line-child.ts';

const standin = fileURLToPath(new URL('./powershell-standin.ts', import.meta.url));
const fixture = (name: string) =>
  fileURLToPath(new URL(`../../../fixtures/windows/idle-lock/${name}`, import.meta.url));

const children: LineChild[] = [];
function child(args: string[], now: () => number = () => 0, timeoutMs = 20_000): LineChild {
  const made = new LineChild({
    command: process.execPath,
    args: [standin, ...args],
    env: { PATH: process.env.PATH ?? '' },
    now,
    timeoutMs,
    firstBackoffMs: 1000,
    maxBackoffMs: 8000,
  });
  children.push(made);
  return made;
}

afterEach(() => {
  for (const made of children.splice(0)) {
    made.stop();
  }
});

describe('LineChild', () => {
  it('starts the helper once and matches each answer to its request', async () => {
    const helper = child([
      'serve',
      fixture('constructed-state-presentation.json'),
      fixture('constructed-lock-accepted.json'),
    ]);
    const [a, b, c] = await Promise.all([
      helper.request('state'),
      helper.request('lock'),
      helper.request('state'),
    ]);
    expect(a).toMatchObject({ ok: true, value: { id: 1, quns: 4 } });
    expect(b).toMatchObject({ ok: true, value: { id: 2, locked: true } });
    expect(c).toMatchObject({ ok: true, value: { id: 3, quns: 4 } });
    expect(helper.running).toBe(true);
  }, 30_000);

  it('skips a byte order mark, warnings, non-objects and answers to other ids', async () => {
    const helper = child(['noise', fixture('constructed-state-unlocked.json')]);
    expect(await helper.request('state')).toMatchObject({ ok: true, value: { id: 1, quns: 5 } });
    expect(await helper.request('state')).toMatchObject({ ok: true, value: { id: 2, quns: 5 } });
  }, 30_000);

  it('a helper that dies fails the request with its message, then restarts after a back-off', async () => {
    let clock = 0;
    const helper = child(['die-after', '1'], () => clock);
    expect((await helper.request('state')).ok).toBe(true);
    const died = await helper.request('state');
    expect(died).toEqual({
      ok: false,
      reason: 'the helper failed: exit 3: Add-Type : Cannot add type. Compilation errors occurred.',
    });
    expect(helper.running).toBe(false);
    // Within the back-off nothing is started: the answer says when it will be.
    const waiting = await helper.request('state');
    expect(waiting.ok).toBe(false);
    expect(!waiting.ok && waiting.reason).toMatch(/exit 3.*next start in 1 s$/);
    clock = 1000;
    expect((await helper.request('state')).ok).toBe(true);
    expect(helper.running).toBe(true);
  }, 30_000);

  it('doubles the back-off while the helper keeps failing, up to the ceiling', async () => {
    let clock = 0;
    const helper = child(['die-after', '0'], () => clock);
    const waits: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      expect((await helper.request('state')).ok).toBe(false); // dies on the request
      const waiting = await helper.request('state');
      waits.push(!waiting.ok ? (/next start in (\d+) s/.exec(waiting.reason)?.[1] ?? '') : '');
      clock += 60_000;
    }
    expect(waits).toEqual(['1', '2', '4', '8', '8']);
  }, 60_000);

  it('a helper that stops answering is killed after the time-out and started afresh', async () => {
    let clock = 0;
    const helper = child(['hang'], () => clock, 1500);
    const hung = await helper.request('state');
    expect(hung).toEqual({ ok: false, reason: 'the helper gave no answer within 1500 ms' });
    expect(helper.running).toBe(false);
    clock = 1000;
    expect((await helper.request('state')).ok).toBe(false); // a new one, which hangs too
  }, 30_000);

  it('a helper printing an endless line is killed, not buffered', async () => {
    const helper = child(['flood']);
    const flooded = await helper.request('state');
    expect(flooded).toEqual({
      ok: false,
      reason: 'the helper failed: it printed a line longer than the protocol allows',
    });
    expect(helper.running).toBe(false);
  }, 30_000);

  it('a helper that is not installed is a reason, not a crash', async () => {
    const helper = new LineChild({
      command: 'powershell-that-does-not-exist.exe',
      args: [],
      env: {},
      now: () => 0,
      timeoutMs: 20_000,
    });
    children.push(helper);
    expect(await helper.request('state')).toEqual({
      ok: false,
      reason: 'the helper failed: powershell-that-does-not-exist.exe is not installed',
    });
  }, 30_000);

  it('answers nothing once stopped', async () => {
    const helper = child(['hang']);
    const pending = helper.request('state');
    helper.stop();
    expect(await pending).toEqual({ ok: false, reason: 'the helper was stopped' });
    expect(await helper.request('state')).toEqual({ ok: false, reason: 'the helper was stopped' });
  }, 30_000);
});
