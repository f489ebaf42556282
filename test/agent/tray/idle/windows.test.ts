// The Windows idle desktop: windows-idle.ps1's answers read (constructed lines, see
// test/fixtures/windows/idle-lock/README.md), and windowsIdleDesktop driving a real child process
// through LineChild. powershell-standin.ts stands in for PowerShell the program; what is tested
// is the TypeScript side: its protocol, its reading of the answers and its lock confirmation.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { LineChild } from '../../../../agent/tray/idle/line-child.ts';
import { spawnLockCommand } from '../../../../agent/tray/idle/lock-command.ts';
import {
  parseLockReply,
  parseStateReply,
  sessionLockState,
  windowsIdleDesktop,
} from '../../../../agent/tray/idle/windows.ts';
import { printedShape } from '../../core/checks/powershell-shape.ts';

const standin = fileURLToPath(new URL('./powershell-standin.ts', import.meta.url));
const path = (name: string) =>
  fileURLToPath(new URL(`../../../fixtures/windows/idle-lock/${name}`, import.meta.url));
const reply = (name: string) =>
  JSON.parse(readFileSync(path(name), 'utf8')) as Record<string, unknown>;

describe('parseStateReply', () => {
  it('presentation mode inhibits; the session reads unlocked', () => {
    expect(parseStateReply(reply('constructed-state-presentation.json'))).toEqual({
      inhibitors: { ok: true, value: { inhibited: true, holders: ['QUNS_PRESENTATION_MODE'] } },
      locked: { ok: true, value: false },
    });
  });

  it('a locked session: not present, WTS_SESSIONSTATE_LOCK', () => {
    expect(parseStateReply(reply('constructed-state-locked.json'))).toEqual({
      inhibitors: { ok: true, value: { inhibited: false, holders: [] } },
      locked: { ok: true, value: true },
    });
  });

  it('reads Windows 7’s swapped flags the other way round', () => {
    expect(parseStateReply(reply('constructed-state-windows7-locked.json')).locked).toEqual({
      ok: true,
      value: true,
    });
    expect(parseStateReply(reply('constructed-state-unlocked.json')).locked).toEqual({
      ok: true,
      value: false,
    });
  });

  it('WTS_SESSIONSTATE_UNKNOWN is unknown, not unlocked', () => {
    expect(parseStateReply(reply('constructed-state-flags-unknown.json')).locked).toEqual({
      ok: false,
      reason: 'session lock state unknown (SessionFlags -1)',
    });
  });

  it('failed calls are unknown with the HRESULT and the Win32 error', () => {
    expect(parseStateReply(reply('constructed-state-calls-failed.json'))).toEqual({
      inhibitors: { ok: false, reason: 'SHQueryUserNotificationState failed: HRESULT 0x80004005' },
      locked: {
        ok: false,
        reason:
          'WTSSessionInfoEx level null, not 1: WTSQuerySessionInformation failed with Win32 error 5',
      },
    });
  });

  it.each([
    ['an empty object', {}, false, false],
    [
      'a notification state out of range',
      { quns: 9, level: 1, flags: 1, windows7: false },
      false,
      true,
    ],
    [
      'strings where numbers belong',
      { quns: '4', level: '1', flags: '0', windows7: 'no' },
      false,
      false,
    ],
    ['an unknown level', { quns: 5, level: 2, flags: 0, windows7: false }, true, false],
    ['no Windows 7 answer', { quns: 5, level: 1, flags: 0 }, true, false],
  ])(
    '%s: each half it does not cover is unknown, never "not inhibited"',
    (_, value, inhibitorsKnown, lockKnown) => {
      const state = parseStateReply(value);
      expect(state.inhibitors.ok).toBe(inhibitorsKnown);
      expect(state.locked.ok).toBe(lockKnown);
    },
  );

  it('sessionLockState refuses a fraction or a flag beyond the two it knows', () => {
    expect(sessionLockState(1, 0.5, false).ok).toBe(false);
    expect(sessionLockState(1, 2, false).ok).toBe(false);
  });
});

describe('parseLockReply', () => {
  it('TRUE is a request made; FALSE carries the Win32 error', () => {
    expect(parseLockReply(reply('constructed-lock-accepted.json'))).toEqual({
      command: 'LockWorkStation',
      ok: true,
      detail: 'returned TRUE',
    });
    expect(parseLockReply(reply('constructed-lock-refused.json'))).toEqual({
      command: 'LockWorkStation',
      ok: false,
      detail: 'returned FALSE, Win32 error 5',
    });
  });

  it('an answer with neither is a failure with the helper’s error', () => {
    expect(parseLockReply({ id: 1, error: 'unknown request' })).toEqual({
      command: 'LockWorkStation',
      ok: false,
      detail: 'unknown request',
    });
  });
});

describe('windowsIdleDesktop over a real child process', () => {
  const helpers: LineChild[] = [];
  afterEach(() => {
    for (const helper of helpers.splice(0)) {
      helper.stop();
    }
  });

  function desktop(args: string[], command = process.execPath) {
    const helper = new LineChild({
      command,
      args: [standin, ...args],
      env: { PATH: process.env.PATH ?? '' },
      now: () => 0,
      timeoutMs: 20_000,
    });
    helpers.push(helper);
    return windowsIdleDesktop({
      helper,
      runLock: spawnLockCommand,
      // Confirmation readings one after another: no wall-clock wait in the test.
      sleep: () => Promise.resolve(),
      confirmEveryMs: 250,
      confirmTries: 3,
    });
  }

  it('reads presentation mode as an inhibitor', async () => {
    const windows = desktop([
      'serve',
      path('constructed-state-presentation.json'),
      path('constructed-lock-accepted.json'),
    ]);
    expect(await windows.readInhibitors()).toEqual({
      ok: true,
      // Display requests come from the service (windows-display-requests.test.ts): none here.
      value: {
        inhibited: true,
        holders: ['QUNS_PRESENTATION_MODE'],
        unread: 'display power requests: not read: no service to ask',
      },
    });
  }, 30_000);

  it('a lock counts once the session reads locked', async () => {
    const windows = desktop([
      'serve',
      path('constructed-state-unlocked.json'),
      path('constructed-lock-accepted.json'),
      path('constructed-state-locked.json'),
    ]);
    expect(await windows.lock()).toEqual({
      ok: true,
      via: 'LockWorkStation',
      attempts: [
        { command: 'LockWorkStation', ok: true, detail: 'returned TRUE; the session reads locked' },
      ],
    });
  }, 30_000);

  it('LockWorkStation returning TRUE while the session stays unlocked is a failed lock', async () => {
    const windows = desktop([
      'serve',
      path('constructed-state-unlocked.json'),
      path('constructed-lock-accepted.json'),
    ]);
    expect(await windows.lock()).toEqual({
      ok: false,
      attempts: [
        {
          command: 'LockWorkStation',
          ok: false,
          detail: 'returned TRUE, but the session still read unlocked after 1 s',
        },
      ],
    });
  }, 30_000);

  it('an unknown lock state after the request is a failed lock with the reason', async () => {
    const windows = desktop([
      'serve',
      path('constructed-state-unlocked.json'),
      path('constructed-lock-accepted.json'),
      path('constructed-state-flags-unknown.json'),
    ]);
    const outcome = await windows.lock();
    expect(outcome.ok).toBe(false);
    expect(outcome.attempts[0]?.detail).toBe(
      'returned TRUE, but session lock state unknown (SessionFlags -1) after 1 s',
    );
  }, 30_000);

  it('a refused LockWorkStation is reported with its error', async () => {
    const windows = desktop([
      'serve',
      path('constructed-state-unlocked.json'),
      path('constructed-lock-refused.json'),
    ]);
    expect(await windows.lock()).toEqual({
      ok: false,
      attempts: [
        { command: 'LockWorkStation', ok: false, detail: 'returned FALSE, Win32 error 5' },
      ],
    });
  }, 30_000);

  it('with no helper, rundll32 is tried and both failures are reported', async () => {
    // Linux has no rundll32.exe: the real spawn fails, as it would on a broken Windows.
    const windows = desktop([], 'powershell-that-does-not-exist.exe');
    const outcome = await windows.lock();
    expect(outcome).toEqual({
      ok: false,
      attempts: [
        {
          command: 'LockWorkStation',
          ok: false,
          detail: 'the helper failed: powershell-that-does-not-exist.exe is not installed',
        },
        { command: 'rundll32.exe user32.dll,LockWorkStation', ok: false, detail: 'not installed' },
      ],
    });
    expect((await windows.readInhibitors()).ok).toBe(false);
  }, 30_000);
});

describe('windows-idle.ps1 and its constructed answers', () => {
  // Nothing here runs PowerShell: the script's own syntax tree (tree-sitter-powershell, through
  // powershell-shape.ts) says which keys it prints, and every constructed answer must have
  // exactly those, so a key renamed on one side fails here and not on a pupil's laptop.
  it('the fixtures carry exactly the keys the script prints', async () => {
    const source = readFileSync(
      new URL('../../../../agent/tray/idle/windows-idle.ps1', import.meta.url),
      'utf8',
    );
    const [shape] = await printedShape(source);
    expect(shape?.kind).toBe('object');
    const printed = shape?.kind === 'object' ? [...shape.keys.keys()].sort() : [];
    expect(printed).toContain('flags');
    for (const name of readdirSync(dirname(path('constructed-lock-accepted.json')))) {
      if (name.endsWith('.json')) {
        expect(Object.keys(reply(name)).sort(), name).toEqual(printed);
      }
    }
  });
});
