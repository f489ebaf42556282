// The macOS lock state read from recorded `ioreg -n Root -d1` lines, and darwinIdleDesktop on a
// host whose commands answer with recorded outputs (test/fixtures/darwin/idle-lock/README.md):
// the fake stands in for macOS's commands, never for the desktop's own decisions.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  darwinIdleDesktop,
  parseConsoleLock,
  SAC_LOCK_SCRIPT,
} from '../../../../agent/tray/idle/darwin.ts';
import type { CommandOutput } from '../../../../agent/core/runner.ts';
import { fakeHost } from '../../../helpers/fake-host.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../fixtures/darwin/idle-lock/${name}`, import.meta.url), 'utf8');
const locked = fixture('ioreg-root-locked.txt');
const unlocked = fixture('ioreg-root-unlocked.txt');
const ok = (stdout: string): CommandOutput => ({ stdout, stderr: '', exitCode: 0 });

describe('parseConsoleLock', () => {
  it('CGSSessionScreenIsLocked=Yes in the user’s session is locked', () => {
    expect(parseConsoleLock(locked, 501)).toEqual({ ok: true, value: true });
  });

  it('the key absent is unlocked', () => {
    expect(parseConsoleLock(unlocked, 501)).toEqual({ ok: true, value: false });
  });

  it('reads a line ioreg wrapped', () => {
    expect(parseConsoleLock(fixture('ioreg-secure-input-wrapped.txt'), 101)).toEqual({
      ok: true,
      value: false,
    });
  });

  it('another user’s session says nothing about ours', () => {
    expect(parseConsoleLock(locked, 502)).toEqual({
      ok: false,
      reason: 'no console session of uid 502 in IOConsoleUsers',
    });
  });

  it('of two sessions of the user, the one on the console decides', () => {
    const two =
      '"IOConsoleUsers" = ({"kCGSSessionOnConsoleKey"=No,"kCGSSessionUserIDKey"=501},' +
      '{"kCGSSessionOnConsoleKey"=Yes,"CGSSessionScreenIsLocked"=Yes,"kCGSSessionUserIDKey"=501})';
    expect(parseConsoleLock(two, 501)).toEqual({ ok: true, value: true });
  });

  it.each([
    ['nothing', ''],
    ['an error', 'ioreg: command not found'],
    [
      'the root without console users (a login window with nobody signed in)',
      '+-o Root  <class IORegistryEntry, id 0x100000100, retain 24>',
    ],
    ['a list cut short', '"IOConsoleUsers" = ({"kCGSSessionUserIDKey"=501,"CGSSession'],
    [
      'an unexpected value',
      locked.replace('"CGSSessionScreenIsLocked"=Yes', '"CGSSessionScreenIsLocked"=Maybe'),
    ],
  ])('%s is unknown, never unlocked', (_, text) => {
    expect(parseConsoleLock(text, 501).ok).toBe(false);
  });
});

describe('darwinIdleDesktop', () => {
  function mac(options: { osascript?: CommandOutput; lockTakes?: boolean; ioreg?: string }) {
    let lockedNow = false;
    const host = fakeHost({
      commands: {
        '/usr/bin/osascript': () => {
          lockedNow = options.lockTakes ?? true;
          return options.osascript ?? ok('');
        },
        '/usr/bin/pmset': (args) =>
          args[0] === '-g' ? ok(fixture('pmset-assertions-catalina.txt')) : ok(''),
        '/usr/sbin/ioreg': () => ok(options.ioreg ?? (lockedNow ? locked : unlocked)),
      },
    });
    const desktop = darwinIdleDesktop({
      run: host.run,
      uid: 501,
      sleep: () => Promise.resolve(),
      confirmEveryMs: 250,
      confirmTries: 4,
    });
    return { desktop, host };
  }

  it('locks through the login window’s lock and confirms it from ioreg', async () => {
    const { desktop, host } = mac({});
    expect(await desktop.lock()).toEqual({
      ok: true,
      via: 'SACLockScreenImmediate (osascript)',
      attempts: [
        {
          command: 'SACLockScreenImmediate (osascript)',
          ok: true,
          detail: 'the screen reads locked',
        },
      ],
    });
    expect(host.calls[0]).toEqual({
      command: '/usr/bin/osascript',
      args: ['-l', 'JavaScript', '-e', SAC_LOCK_SCRIPT],
    });
    expect(host.calls[1]).toEqual({
      command: '/usr/sbin/ioreg',
      args: ['-w', '0', '-n', 'Root', '-d1'],
    });
  });

  it('a private API gone is reported, and pmset that only sleeps the display is a failure too', async () => {
    const { desktop, host } = mac({
      osascript: {
        stdout: '',
        // Constructed: the shape of osascript's error line for a thrown JavaScript error.
        stderr: 'execution error: Error: login.framework did not load (-2700)',
        exitCode: 1,
      },
      lockTakes: false,
    });
    const outcome = await desktop.lock();
    expect(outcome).toEqual({
      ok: false,
      attempts: [
        {
          command: 'SACLockScreenImmediate (osascript)',
          ok: false,
          detail:
            '/usr/bin/osascript: exit 1: execution error: Error: login.framework did not load (-2700)',
        },
        {
          command: 'pmset displaysleepnow',
          ok: false,
          detail: 'ran, but the screen still read unlocked after 1 s',
        },
      ],
    });
    expect(
      host.calls.some((c) => c.command === '/usr/bin/pmset' && c.args[0] === 'displaysleepnow'),
    ).toBe(true);
  });

  it('a lock state it cannot read is a failed lock with the reason', async () => {
    const { desktop } = mac({ ioreg: '+-o Root  <class IORegistryEntry>' });
    const outcome = await desktop.lock();
    expect(outcome.ok).toBe(false);
    expect(outcome.attempts[0]?.detail).toMatch(/^ran, but ioreg listed no IOConsoleUsers/);
  });

  it('reads display-sleep assertions from pmset', async () => {
    const { desktop } = mac({});
    expect(await desktop.readInhibitors()).toEqual({
      ok: true,
      value: { inhibited: false, holders: [] },
    });
  });

  it('a missing command is unknown, not "not inhibited"', async () => {
    const host = fakeHost({ commands: {} });
    const desktop = darwinIdleDesktop({ run: host.run, uid: 501, sleep: () => Promise.resolve() });
    expect(await desktop.readInhibitors()).toEqual({
      ok: false,
      reason: '/usr/bin/pmset is not installed',
    });
    expect((await desktop.readIdleMs()).ok).toBe(false);
  });
});
