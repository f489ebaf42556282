// The Linux idle-lock parsers on recorded outputs (test/fixtures/linux/idle-lock/README.md says
// where each came from), and the desktop's readings and lock chain through a recording runner.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  linuxIdleDesktop,
  logindIdleInhibitors,
  logindIdleMs,
  parseGnomeIsInhibited,
  parseLogindProperty,
  parseMutterIdletime,
  parseSystemdInhibitList,
  parseXprintidle,
} from '../../../../agent/tray/idle/linux.ts';
import type { LockCommandRunner } from '../../../../agent/tray/idle/lock-command.ts';
import { ProbeError, type CommandOutput, type Runner } from '../../../../agent/core/runner.ts';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../fixtures/linux/idle-lock/${name}`, import.meta.url), 'utf8');

describe('parseXprintidle', () => {
  it('reads the milliseconds xprintidle printed under Xvfb', () => {
    expect(parseXprintidle(fixture('xprintidle-debian12-xvfb.txt'))).toEqual({
      ok: true,
      value: 1733,
    });
  });

  it.each(['', "couldn't open display\n", '-5\n', '12.5\n', '1e9\n', '123 456\n'])(
    'refuses %j',
    (text) => {
      expect(parseXprintidle(text).ok).toBe(false);
    },
  );
});

describe('parseMutterIdletime', () => {
  it('reads the milliseconds of a GetIdletime reply', () => {
    expect(parseMutterIdletime(fixture('constructed-mutter-getidletime.txt'))).toEqual({
      ok: true,
      value: 48213,
    });
  });

  it.each([
    '',
    '(uint32 5,)',
    '(int64 -5,)',
    'Error: GDBus.Error:org.freedesktop.DBus.Error.ServiceUnknown',
  ])('refuses %j', (text) => {
    expect(parseMutterIdletime(text).ok).toBe(false);
  });
});

describe('parseSystemdInhibitList', () => {
  it.each([
    { file: 'systemd-inhibit-fedora39.txt', rows: 6, idle: [] },
    { file: 'systemd-inhibit-arch-261.txt', rows: 2, idle: [] },
    { file: 'systemd-inhibit-no-inhibitors.txt', rows: 0, idle: [] },
    { file: 'constructed-systemd-inhibit-idle-block.txt', rows: 5, idle: ['me'] },
    // logind applies only block locks to idle.
    { file: 'constructed-systemd-inhibit-idle-delay.txt', rows: 1, idle: [] },
  ])('$file: $rows rows, idle held by $idle', ({ file, rows, idle }) => {
    const parsed = parseSystemdInhibitList(fixture(file));
    if (!parsed.ok) {
      throw new Error(parsed.reason);
    }
    expect(parsed.value).toHaveLength(rows);
    expect(logindIdleInhibitors(parsed.value)).toEqual({
      inhibited: idle.length > 0,
      holders: idle,
    });
  });

  it('keeps spaces inside WHY and reads every column of a real row', () => {
    const parsed = parseSystemdInhibitList(fixture('systemd-inhibit-fedora39.txt'));
    expect(parsed.ok && parsed.value[4]).toEqual({
      who: 'gdm',
      uid: 42,
      pid: 1846,
      what: ['handle-lid-switch'],
      mode: 'block',
    });
  });

  it.each([
    { name: 'the pre-table Who:/What: blocks', text: fixture('systemd-inhibit-legacy.txt') },
    {
      name: 'a footer that disagrees with the rows',
      text: fixture('systemd-inhibit-fedora39.txt').replace('6 inhibitors', '7 inhibitors'),
    },
    {
      // format-table pads by display width: two double-width characters are four columns but
      // two UTF-16 units, so the rest of the row sits two places left of the header.
      name: 'a row shifted by a double-width WHO',
      text: fixture('constructed-systemd-inhibit-idle-block.txt').replace(
        'me             1000',
        '\u89c6\u9891           1000',
      ),
    },
    {
      name: 'an unknown WHAT word',
      text: fixture('constructed-systemd-inhibit-idle-delay.txt').replace(
        'idle:sleep',
        'idle:zzzzz',
      ),
    },
    { name: 'an error message', text: fixture('systemd-inhibit-debian12-container.stderr') },
    { name: 'nothing', text: '' },
  ])('refuses $name', ({ text }) => {
    expect(parseSystemdInhibitList(text).ok).toBe(false);
  });
});

describe('parseGnomeIsInhibited', () => {
  it.each([
    ['gnome-is-inhibited-false.txt', false],
    ['constructed-gnome-is-inhibited-true.txt', true],
  ] as const)('%s → %s', (file, value) => {
    expect(parseGnomeIsInhibited(fixture(file))).toEqual({ ok: true, value });
  });

  it.each(['', '(uint32 8,)', 'Error: GDBus.Error:org.freedesktop.DBus.Error.ServiceUnknown'])(
    'refuses %j',
    (text) => {
      expect(parseGnomeIsInhibited(text).ok).toBe(false);
    },
  );
});

function recordingRunner(outputs: Record<string, CommandOutput | Error>): Runner {
  return (command) => {
    const out = outputs[command];
    if (out === undefined) {
      return Promise.reject(new ProbeError('command-missing', `${command} is not installed`));
    }
    return out instanceof Error ? Promise.reject(out) : Promise.resolve(out);
  };
}

const ok = (stdout: string): CommandOutput => ({ stdout, stderr: '', exitCode: 0 });
const noLock: LockCommandRunner = () => Promise.reject(new Error('no lock in this test'));

describe('linuxIdleDesktop readings', () => {
  it('reads idle time with the session display', async () => {
    const seen: (Record<string, string> | undefined)[] = [];
    const desktop = linuxIdleDesktop({
      run: (command, args, options) => {
        seen.push(options.env);
        return Promise.resolve(ok(fixture('xprintidle-debian12-xvfb.txt')));
      },
      runLock: noLock,
      sessionEnv: { DISPLAY: ':5' },
    });
    expect(await desktop.readIdleMs()).toEqual({ ok: true, value: 1733 });
    expect(seen).toEqual([{ DISPLAY: ':5' }]);
  });

  it('asks Mutter, not the X server, in a Wayland session', async () => {
    const desktop = linuxIdleDesktop({
      run: recordingRunner({
        xprintidle: ok(fixture('xprintidle-debian12-xvfb.txt')),
        gdbus: ok(fixture('constructed-mutter-getidletime.txt')),
      }),
      runLock: noLock,
      sessionEnv: {
        XDG_SESSION_TYPE: 'wayland',
        WAYLAND_DISPLAY: 'wayland-0',
        DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus',
      },
    });
    expect(await desktop.readIdleMs()).toEqual({ ok: true, value: 48213 });
  });

  // The last fallback, for Wayland desktops without Mutter: logind's idle hint (a lower bound).
  describe("logind's idle hint", () => {
    const since = fixture('constructed-gdbus-logind-idlesincehint.txt');
    const sinceMs = 1568862489873730 / 1000;
    const logindRunner =
      (hint: string): Runner =>
      (command, args) => {
        if (command !== 'gdbus' || !args.includes('--system')) {
          return Promise.reject(new ProbeError('command-missing', `${command} is not installed`));
        }
        return Promise.resolve(ok(args.at(-1) === 'IdleHint' ? hint : since));
      };
    const wayland = { XDG_SESSION_TYPE: 'wayland', WAYLAND_DISPLAY: 'wayland-0' };

    it('reads the time since the desktop declared the session idle', async () => {
      const desktop = linuxIdleDesktop({
        run: logindRunner(fixture('gdbus-logind-idlehint-true.txt')),
        runLock: noLock,
        sessionEnv: wayland,
        now: () => sinceMs + 90_000,
      });
      expect(await desktop.readIdleMs()).toEqual({ ok: true, value: 90_000 });
    });

    it('an unset hint is unknown, never zero idle time', async () => {
      const desktop = linuxIdleDesktop({
        run: logindRunner(fixture('gdbus-logind-idlehint-false.txt')),
        runLock: noLock,
        sessionEnv: wayland,
        now: () => sinceMs + 90_000,
      });
      const reading = await desktop.readIdleMs();
      expect(reading.ok).toBe(false);
      expect(!reading.ok && reading.reason).toMatch(/IdleHint is not set/);
    });

    it.each([
      ['an error', 'Error: GDBus.Error:org.freedesktop.DBus.Error.UnknownObject'],
      ['a string', "(<'yes'>,)"],
      ['nothing', ''],
    ])('refuses %s', (_, text) => {
      expect(parseLogindProperty(text).ok).toBe(false);
    });

    it('a clock behind the hint is no idle time, not a negative one', () => {
      expect(logindIdleMs({ ok: true, value: true }, { ok: true, value: 2_000_000 }, 1000)).toEqual(
        { ok: true, value: 0 },
      );
    });
  });

  it('reports a display it cannot open as unknown, with the reason', async () => {
    const desktop = linuxIdleDesktop({
      run: recordingRunner({
        xprintidle: {
          stdout: '',
          stderr: fixture('xprintidle-debian12-no-display.stderr'),
          exitCode: 1,
        },
      }),
      runLock: noLock,
      sessionEnv: {},
    });
    expect(await desktop.readIdleMs()).toEqual({
      ok: false,
      reason:
        "xprintidle: exit 1: couldn't open display; no session bus (DBUS_SESSION_BUS_ADDRESS unset); gdbus is not installed",
    });
  });

  it('counts an idle inhibitor from either logind or GNOME', async () => {
    const desktop = linuxIdleDesktop({
      run: recordingRunner({
        'systemd-inhibit': ok(fixture('systemd-inhibit-fedora39.txt')),
        gdbus: ok(fixture('constructed-gnome-is-inhibited-true.txt')),
      }),
      runLock: noLock,
      sessionEnv: { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus' },
    });
    expect(await desktop.readInhibitors()).toEqual({
      ok: true,
      value: { inhibited: true, holders: ['GNOME'] },
    });
  });

  it('is unknown (and so never postpones a lock) when neither source answers', async () => {
    const desktop = linuxIdleDesktop({
      run: recordingRunner({
        'systemd-inhibit': {
          stdout: '',
          stderr: fixture('systemd-inhibit-debian12-container.stderr'),
          exitCode: 1,
        },
      }),
      runLock: noLock,
      sessionEnv: { DBUS_SESSION_BUS_ADDRESS: 'unix:path=/run/user/1000/bus' },
    });
    const reading = await desktop.readInhibitors();
    expect(reading).toEqual({
      ok: false,
      reason:
        'systemd-inhibit: exit 1: Failed to connect to bus: No such file or directory; gdbus is not installed',
    });
  });

  it('never runs gdbus without a session bus address (it would start a stray bus)', async () => {
    const ran: string[] = [];
    const desktop = linuxIdleDesktop({
      run: (command) => {
        ran.push(command);
        return Promise.resolve(ok(fixture('systemd-inhibit-no-inhibitors.txt')));
      },
      runLock: noLock,
      sessionEnv: { DISPLAY: ':0' },
    });
    expect(await desktop.readInhibitors()).toEqual({
      ok: true,
      value: { inhibited: false, holders: [] },
    });
    expect(ran).toEqual(['systemd-inhibit']);
  });
});

describe('linuxIdleDesktop lock chain', () => {
  it('tries logind, then xdg-screensaver, and keeps the failures when a fallback works', async () => {
    const tried: string[] = [];
    const runLock: LockCommandRunner = (command, args) => {
      tried.push([command, ...args].join(' '));
      const label = [command, ...args].join(' ');
      return Promise.resolve(
        command === 'loginctl'
          ? { command: label, ok: false, detail: 'exit 1' }
          : { command: label, ok: true, detail: 'exit 0' },
      );
    };
    const desktop = linuxIdleDesktop({ run: recordingRunner({}), runLock, sessionEnv: {} });
    expect(await desktop.lock()).toEqual({
      ok: true,
      via: 'xdg-screensaver lock',
      attempts: [
        { command: 'loginctl lock-session', ok: false, detail: 'exit 1' },
        { command: 'xdg-screensaver lock', ok: true, detail: 'exit 0' },
      ],
    });
    expect(tried).toEqual(['loginctl lock-session', 'xdg-screensaver lock']);
  });

  it('fails when every command fails', async () => {
    const runLock: LockCommandRunner = (command, args) =>
      Promise.resolve({ command: [command, ...args].join(' '), ok: false, detail: 'exit 4' });
    const desktop = linuxIdleDesktop({ run: recordingRunner({}), runLock, sessionEnv: {} });
    const outcome = await desktop.lock();
    expect(outcome.ok).toBe(false);
    expect(outcome.attempts).toHaveLength(2);
  });
});
