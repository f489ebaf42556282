// The idle lock on macOS (PLATFORMS.md §5): idle time from IOHIDSystem's HIDIdleTime
// (`ioreg -c IOHIDSystem -d 4`, nanoseconds; the tray itself uses Electron's powerMonitor),
// display-sleep assertions from `pmset -g assertions` (a presentation, a video:
// PreventUserIdleDisplaySleep), and the lock state from the console users the I/O registry's root
// lists (`ioreg -n Root -d1`: CGSSessionScreenIsLocked, the key CGSessionCopyCurrentDictionary
// reports, present only while locked). Every lock is confirmed by that state, because neither way
// to lock says whether it worked: the login window's own lock (SACLockScreenImmediate, private
// API in login.framework, called through JavaScript for Automation, which ships with macOS and
// needs no permission) may vanish in a release, and `pmset displaysleepnow` only sleeps the
// display, which locks only when a password is required at once. The Ctrl-Cmd-Q keystroke through
// System Events is not used: it needs Accessibility access for the tray (an MDM PPPC grant).
import type { Runner } from '../../core/runner.ts';
import {
  brief,
  type IdleDesktop,
  type InhibitorState,
  type LockAttempt,
  type Reading,
} from './desktop.ts';

/** HIDIdleTime from `ioreg -c IOHIDSystem`, in ms; the first one (one HID system per Mac). */
export function parseHidIdleTime(stdout: string): Reading<number> {
  const match = /"HIDIdleTime" = (\d{1,20})\b/.exec(stdout);
  if (match?.[1] === undefined) {
    return { ok: false, reason: 'ioreg printed no HIDIdleTime' };
  }
  return { ok: true, value: Math.floor(Number(match[1]) / 1_000_000) };
}

// Assertion types that keep the display awake on behalf of an app: the ones a presentation or
// a video takes (IOPMLib.h: kIOPMAssertPreventUserIdleDisplaySleep; NoDisplaySleepAssertion is
// its older name, still listed by Chrome's video wake lock).
const DISPLAY_TYPES = new Set(['PreventUserIdleDisplaySleep', 'NoDisplaySleepAssertion']);

/**
 * Whether an app holds the display awake, from `pmset -g assertions`: the system-wide summary
 * line `PreventUserIdleDisplaySleep N` decides; the per-process lines name the holders.
 * Output without that summary line is refused, not read as "nothing held".
 */
export function parsePmsetAssertions(stdout: string): Reading<InhibitorState> {
  const lines = stdout.split('\n');
  if (!lines.some((line) => line.trim() === 'Assertion status system-wide:')) {
    return { ok: false, reason: `unrecognised pmset output: ${brief(stdout)}` };
  }
  const summary = lines
    .map((line) => /^\s+PreventUserIdleDisplaySleep\s+(\d+)\s*$/.exec(line)?.[1])
    .find((value) => value !== undefined);
  if (summary === undefined) {
    return { ok: false, reason: 'pmset listed no PreventUserIdleDisplaySleep status' };
  }
  const holders = lines.flatMap((line) => {
    // `pid 158(coreaudiod): [0x…] 00:19:45 PreventUserIdleSystemSleep named: "…"`; the
    // process name may hold spaces and parentheses (`Google Chrome Helper (GPU)`).
    const match = /^\s*pid \d+\((.+)\): \[0x[0-9a-fA-F]+\] (?:[\d:]+ )?(\w+) named: /.exec(line);
    return match?.[1] !== undefined && match[2] !== undefined && DISPLAY_TYPES.has(match[2])
      ? [brief(match[1])]
      : [];
  });
  const inhibited = Number(summary) > 0;
  return { ok: true, value: { inhibited, holders: inhibited ? [...new Set(holders)] : [] } };
}

/**
 * Whether the console session of user `uid` is locked, from `ioreg -n Root -d1`: its
 * `"IOConsoleUsers" = ({…},{…})` line lists one dictionary per session. The user's own entry
 * decides (CGSSessionScreenIsLocked=Yes while locked, the key absent otherwise); no such entry,
 * or no such line, is unknown.
 */
export function parseConsoleLock(stdout: string, uid: number): Reading<boolean> {
  const start = stdout.indexOf('"IOConsoleUsers" = (');
  if (start === -1) {
    return { ok: false, reason: `ioreg listed no IOConsoleUsers: ${brief(stdout)}` };
  }
  const end = stdout.indexOf('})', start);
  if (end === -1) {
    return { ok: false, reason: 'ioreg cut the IOConsoleUsers list short' };
  }
  // A long line may be wrapped (ioreg without -w 0 wraps at the terminal's width).
  const list = stdout.slice(start, end + 1).replace(/\s*\n\s*/g, '');
  const sessions = [...list.matchAll(/\{([^{}]*)\}/g)].map((match) => {
    const keys = new Map<string, string>();
    for (const pair of (match[1] ?? '').matchAll(/"(\w+)"=("[^"]*"|[^,]*)/g)) {
      keys.set(pair[1] ?? '', pair[2] ?? '');
    }
    return keys;
  });
  const mine = sessions.filter((keys) => keys.get('kCGSSessionUserIDKey') === String(uid));
  if (mine.length === 0) {
    return { ok: false, reason: `no console session of uid ${uid} in IOConsoleUsers` };
  }
  // Should the user appear twice, the session on the console is the one the tray shows in.
  const session = mine.find((keys) => keys.get('kCGSSessionOnConsoleKey') === 'Yes') ?? mine[0];
  const locked = session?.get('CGSSessionScreenIsLocked');
  if (locked === undefined || locked === 'No') {
    return { ok: true, value: false };
  }
  if (locked === 'Yes') {
    return { ok: true, value: true };
  }
  return { ok: false, reason: `CGSSessionScreenIsLocked=${brief(locked)}` };
}

/** JavaScript for Automation calling the login window's lock (see the top of this file). */
export const SAC_LOCK_SCRIPT =
  "ObjC.import('Foundation'); " +
  "if (!$.NSBundle.bundleWithPath('/System/Library/PrivateFrameworks/login.framework').load) " +
  "{ throw new Error('login.framework did not load'); } " +
  "ObjC.bindFunction('SACLockScreenImmediate', ['int', []]); " +
  '$.SACLockScreenImmediate();';

/** The ways to lock, in order: each one counts only once the session reads locked. */
export const DARWIN_LOCK_COMMANDS: readonly { command: string; args: string[]; label: string }[] = [
  {
    command: '/usr/bin/osascript',
    args: ['-l', 'JavaScript', '-e', SAC_LOCK_SCRIPT],
    label: 'SACLockScreenImmediate (osascript)',
  },
  { command: '/usr/bin/pmset', args: ['displaysleepnow'], label: 'pmset displaysleepnow' },
];

/** What the macOS desktop is built from. */
export interface DarwinDesktopOptions {
  run: Runner;
  /** The tray's user, whose console session is the one to read. */
  uid: number;
  sleep: (ms: number) => Promise<void>;
  confirmEveryMs?: number;
  confirmTries?: number;
}

/** The idle lock's view of the macOS session the tray runs in. */
export function darwinIdleDesktop(options: DarwinDesktopOptions): IdleDesktop {
  const { run, uid, sleep } = options;
  const every = options.confirmEveryMs ?? 250;
  const tries = options.confirmTries ?? 20;
  const runOptions = { timeoutMs: 10_000 };

  const command = async <T>(
    file: string,
    args: string[],
    parse: (stdout: string) => Reading<T>,
  ): Promise<Reading<T>> => {
    try {
      const out = await run(file, args, runOptions);
      if (out.exitCode !== 0) {
        return { ok: false, reason: `${file}: exit ${out.exitCode}: ${brief(out.stderr)}` };
      }
      return parse(out.stdout);
    } catch (error) {
      return { ok: false, reason: error instanceof Error ? brief(error.message) : 'failed' };
    }
  };

  const lockState = () =>
    // -w 0: ioreg clips lines to a width otherwise, and the console users are one long line.
    command('/usr/sbin/ioreg', ['-w', '0', '-n', 'Root', '-d1'], (out) =>
      parseConsoleLock(out, uid),
    );

  const confirm = async (): Promise<string | null> => {
    let last = 'no reading';
    for (let i = 0; i < tries; i += 1) {
      await sleep(every);
      const locked = await lockState();
      if (locked.ok && locked.value) {
        return null;
      }
      last = locked.ok ? 'the screen still read unlocked' : locked.reason;
    }
    return `${last} after ${Math.round((every * tries) / 1000)} s`;
  };

  return {
    readIdleMs: () =>
      command('/usr/sbin/ioreg', ['-w', '0', '-c', 'IOHIDSystem', '-d', '4'], parseHidIdleTime),
    readInhibitors: () => command('/usr/bin/pmset', ['-g', 'assertions'], parsePmsetAssertions),
    async lock() {
      const attempts: LockAttempt[] = [];
      for (const way of DARWIN_LOCK_COMMANDS) {
        const ran = await command(way.command, way.args, () => ({ ok: true, value: null }));
        if (!ran.ok) {
          attempts.push({ command: way.label, ok: false, detail: ran.reason });
          continue;
        }
        const notLocked = await confirm();
        if (notLocked === null) {
          attempts.push({ command: way.label, ok: true, detail: 'the screen reads locked' });
          return { ok: true, via: way.label, attempts };
        }
        attempts.push({ command: way.label, ok: false, detail: `ran, but ${notLocked}` });
      }
      return { ok: false, attempts };
    },
  };
}
