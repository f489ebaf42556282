// The idle lock on a Linux session (PLATFORMS.md §5): idle time from the X server's
// MIT-SCREEN-SAVER counter via `xprintidle` (Mutter's IdleMonitor on Wayland), idle inhibitors from logind (`systemd-inhibit
// --list`) and GNOME's session manager (`IsInhibited 8`), and the lock through logind, then
// `xdg-screensaver`, then any extra locker the caller names.
import type { Runner } from '../../core/runner.ts';
import {
  brief,
  type IdleDesktop,
  type InhibitorState,
  type LockAttempt,
  type LockOutcome,
  type Reading,
} from './desktop.ts';
import type { LockCommandRunner } from './lock-command.ts';

const TIMEOUT_MS = 10_000;

/** `xprintidle` prints the X server's idle time in milliseconds on one line. */
export function parseXprintidle(stdout: string): Reading<number> {
  const match = /^\s*(\d{1,15})\s*$/.exec(stdout);
  if (match?.[1] === undefined) {
    return { ok: false, reason: `xprintidle printed something else: ${brief(stdout)}` };
  }
  return { ok: true, value: Number(match[1]) };
}

/**
 * Mutter's `org.gnome.Mutter.IdleMonitor.GetIdletime` through `gdbus call`: a GVariant tuple
 * `(uint64 N,)` in milliseconds. The Wayland fallback (PLATFORMS.md §5): no X server to ask.
 */
export function parseMutterIdletime(stdout: string): Reading<number> {
  const match = /^\(uint64 (\d{1,15}),\)$/.exec(stdout.trim());
  if (match?.[1] === undefined) {
    return { ok: false, reason: `unrecognised GetIdletime reply: ${brief(stdout)}` };
  }
  return { ok: true, value: Number(match[1]) };
}

/**
 * One logind session property through `gdbus call --system … Properties.Get`: a GVariant tuple
 * holding a variant, `(<true>,)` for IdleHint, `(<uint64 N>,)` for IdleSinceHint (µs since the
 * epoch).
 */
export function parseLogindProperty(stdout: string): Reading<boolean | number> {
  const text = stdout.trim();
  const flag = /^\(<(true|false)>,\)$/.exec(text)?.[1];
  if (flag !== undefined) {
    return { ok: true, value: flag === 'true' };
  }
  const number = /^\(<uint64 (\d{1,20})>,\)$/.exec(text)?.[1];
  if (number !== undefined) {
    return { ok: true, value: Number(number) };
  }
  return { ok: false, reason: `unrecognised logind property reply: ${brief(stdout)}` };
}

/**
 * Idle time from logind's hints for this session (PLATFORMS.md §5, the Wayland fallback beside
 * Mutter): only while IdleHint is true, and then the time since the desktop declared the session
 * idle, which it does only after its own idle delay — a lower bound on the real idle time, so it
 * can lock late by that delay, never early. IdleHint false says nothing about how long the user
 * has been away (a desktop that never sets the hint reads false for ever): unknown, not zero.
 */
export function logindIdleMs(
  hint: Reading<boolean | number>,
  since: Reading<boolean | number> | null,
  nowMs: number,
): Reading<number> {
  if (!hint.ok) {
    return hint;
  }
  if (hint.value !== true) {
    return { ok: false, reason: 'logind: IdleHint is not set, which gives no idle time' };
  }
  if (since === null || !since.ok || typeof since.value !== 'number' || since.value === 0) {
    return { ok: false, reason: 'logind: IdleHint is set without a usable IdleSinceHint' };
  }
  return { ok: true, value: Math.max(0, Math.floor(nowMs - since.value / 1000)) };
}

const WHAT_TOKENS = new Set([
  'shutdown',
  'sleep',
  'idle',
  'handle-power-key',
  'handle-suspend-key',
  'handle-hibernate-key',
  'handle-lid-switch',
  'handle-reboot-key',
]);

/** One row of `systemd-inhibit --list`. */
export interface LogindInhibitor {
  who: string;
  uid: number;
  pid: number;
  what: string[];
  mode: 'block' | 'delay' | 'block-weak';
}

/**
 * Parses the table `systemd-inhibit --list` prints (systemd's format-table: a header, left-aligned
 * columns padded to the widest cell, a blank line, `N inhibitors listed.`; `No inhibitors.` when
 * empty). WHO and WHY hold spaces, so cells are cut at the header's column starts, and every row
 * is checked (numeric UID and PID, known WHAT words and MODE) and the count against the footer:
 * output that does not fit, such as systemd before v240's `Who: … What: …` blocks or a cell
 * widened by non-ASCII text, is refused rather than half-read.
 */
export function parseSystemdInhibitList(stdout: string): Reading<LogindInhibitor[]> {
  const lines = stdout.split('\n').map((line) => line.trimEnd());
  const body = lines.filter((line) => line !== '');
  if (body.length === 1 && body[0] === 'No inhibitors.') {
    return { ok: true, value: [] };
  }
  const header = body[0] ?? '';
  const names = ['WHO', 'UID', 'USER', 'PID', 'COMM', 'WHAT', 'WHY', 'MODE'] as const;
  const starts = names.map((name) => new RegExp(`(^| )${name}( |$)`).exec(header));
  if (starts.some((match) => match === null)) {
    return { ok: false, reason: `unrecognised systemd-inhibit output: ${brief(header)}` };
  }
  const at = starts.map((match) => (match === null ? 0 : match.index + (match[1] ?? '').length));
  if (at.some((start, i) => i > 0 && start <= (at[i - 1] ?? 0))) {
    return { ok: false, reason: 'systemd-inhibit columns out of order' };
  }
  const footer = /^(\d+) inhibitors listed\.$/.exec(body[body.length - 1] ?? '');
  if (footer?.[1] === undefined) {
    return { ok: false, reason: 'systemd-inhibit output has no "inhibitors listed" line' };
  }
  const rows = body.slice(1, -1);
  if (rows.length !== Number(footer[1])) {
    return { ok: false, reason: `systemd-inhibit listed ${rows.length} of ${footer[1]} rows` };
  }
  const cell = (row: string, i: number) => row.slice(at[i], at[i + 1]).trim();
  const inhibitors: LogindInhibitor[] = [];
  for (const row of rows) {
    const [who, uid, , pid, , what, , mode] = names.map((_, i) => cell(row, i));
    const tokens = (what ?? '').split(':');
    if (
      !/^\d+$/.test(uid ?? '') ||
      !/^\d+$/.test(pid ?? '') ||
      !tokens.every((token) => WHAT_TOKENS.has(token)) ||
      (mode !== 'block' && mode !== 'delay' && mode !== 'block-weak')
    ) {
      return { ok: false, reason: `unrecognised systemd-inhibit row: ${brief(row)}` };
    }
    inhibitors.push({ who: who ?? '', uid: Number(uid), pid: Number(pid), what: tokens, mode });
  }
  return { ok: true, value: inhibitors };
}

/** Whether logind holds an idle inhibitor that blocks (delay locks do not apply to idle). */
export function logindIdleInhibitors(inhibitors: readonly LogindInhibitor[]): InhibitorState {
  const holders = inhibitors
    .filter((i) => i.what.includes('idle') && i.mode !== 'delay')
    .map((i) => brief(i.who));
  return { inhibited: holders.length > 0, holders };
}

/** `gdbus call … org.gnome.SessionManager.IsInhibited 8` prints a GVariant tuple: `(true,)`. */
export function parseGnomeIsInhibited(stdout: string): Reading<boolean> {
  const match = /^\(\s*(true|false)\s*,\s*\)$/.exec(stdout.trim());
  if (match === null) {
    return { ok: false, reason: `unrecognised IsInhibited reply: ${brief(stdout)}` };
  }
  return { ok: true, value: match[1] === 'true' };
}

/** A command line the lock tries. */
export interface LockCommand {
  command: string;
  args: string[];
}

/** logind first (the desktop's own locker, and LockedHint), then xdg-screensaver (PLATFORMS.md §5). */
export const LINUX_LOCK_COMMANDS: readonly LockCommand[] = [
  { command: 'loginctl', args: ['lock-session'] },
  { command: 'xdg-screensaver', args: ['lock'] },
];

/** What the Linux desktop needs from the tray's own session. */
export interface LinuxDesktopOptions {
  run: Runner;
  runLock: LockCommandRunner;
  /** DISPLAY, XAUTHORITY, DBUS_SESSION_BUS_ADDRESS, XDG_SESSION_ID… of the tray's session. */
  sessionEnv: Record<string, string>;
  /** Tried in order until one succeeds. */
  lockCommands?: readonly LockCommand[];
  /** The wall clock, in ms (logind's IdleSinceHint is wall-clock µs). */
  now?: () => number;
}

/** The idle lock's view of a Linux X11 session. */
export function linuxIdleDesktop(options: LinuxDesktopOptions): IdleDesktop {
  const { run, runLock, sessionEnv } = options;
  const runOptions = { timeoutMs: TIMEOUT_MS, env: sessionEnv };
  const failure = (error: unknown): { ok: false; reason: string } => ({
    ok: false,
    reason: error instanceof Error ? brief(error.message) : 'failed',
  });

  const logind = async (): Promise<Reading<InhibitorState>> => {
    try {
      const out = await run('systemd-inhibit', ['--list', '--no-pager'], runOptions);
      if (out.exitCode !== 0) {
        return { ok: false, reason: `systemd-inhibit: exit ${out.exitCode}: ${brief(out.stderr)}` };
      }
      const parsed = parseSystemdInhibitList(out.stdout);
      return parsed.ok ? { ok: true, value: logindIdleInhibitors(parsed.value) } : parsed;
    } catch (error) {
      return failure(error);
    }
  };

  // Without a session bus address gdbus "autolaunches" one through dbus-launch on X11, leaving
  // a stray bus daemon per call; the tray always has its session's address, so none is no bus.
  const noBus =
    sessionEnv.DBUS_SESSION_BUS_ADDRESS === undefined
      ? { ok: false as const, reason: 'no session bus (DBUS_SESSION_BUS_ADDRESS unset)' }
      : null;

  const gnome = async (): Promise<Reading<InhibitorState>> => {
    if (noBus !== null) {
      return noBus;
    }
    try {
      const out = await run(
        'gdbus',
        [
          'call',
          '--session',
          '--dest',
          'org.gnome.SessionManager',
          '--object-path',
          '/org/gnome/SessionManager',
          '--method',
          'org.gnome.SessionManager.IsInhibited',
          // GsmInhibitorFlag: 8 = GSM_INHIBITOR_FLAG_IDLE (gnome-session's gsm-inhibitor-flag.h).
          '8',
        ],
        runOptions,
      );
      if (out.exitCode !== 0) {
        return { ok: false, reason: `gdbus: exit ${out.exitCode}: ${brief(out.stderr)}` };
      }
      const parsed = parseGnomeIsInhibited(out.stdout);
      return parsed.ok
        ? { ok: true, value: { inhibited: parsed.value, holders: parsed.value ? ['GNOME'] : [] } }
        : parsed;
    } catch (error) {
      return failure(error);
    }
  };

  const xprintidle = async (): Promise<Reading<number>> => {
    try {
      const out = await run('xprintidle', [], runOptions);
      if (out.exitCode !== 0) {
        return { ok: false, reason: `xprintidle: exit ${out.exitCode}: ${brief(out.stderr)}` };
      }
      return parseXprintidle(out.stdout);
    } catch (error) {
      return failure(error);
    }
  };

  const mutter = async (): Promise<Reading<number>> => {
    if (noBus !== null) {
      return noBus;
    }
    try {
      const out = await run(
        'gdbus',
        [
          'call',
          '--session',
          '--dest',
          'org.gnome.Mutter.IdleMonitor',
          '--object-path',
          '/org/gnome/Mutter/IdleMonitor/Core',
          '--method',
          'org.gnome.Mutter.IdleMonitor.GetIdletime',
        ],
        runOptions,
      );
      if (out.exitCode !== 0) {
        return {
          ok: false,
          reason: `Mutter IdleMonitor: exit ${out.exitCode}: ${brief(out.stderr)}`,
        };
      }
      return parseMutterIdletime(out.stdout);
    } catch (error) {
      return failure(error);
    }
  };

  // The caller's own session (`auto`), on the system bus: no session bus needed.
  const logindProperty = async (name: string): Promise<Reading<boolean | number>> => {
    const out = await run(
      'gdbus',
      [
        'call',
        '--system',
        '--dest',
        'org.freedesktop.login1',
        '--object-path',
        '/org/freedesktop/login1/session/auto',
        '--method',
        'org.freedesktop.DBus.Properties.Get',
        'org.freedesktop.login1.Session',
        name,
      ],
      runOptions,
    );
    if (out.exitCode !== 0) {
      return { ok: false, reason: `logind ${name}: exit ${out.exitCode}: ${brief(out.stderr)}` };
    }
    return parseLogindProperty(out.stdout);
  };

  const logindIdle = async (): Promise<Reading<number>> => {
    try {
      const hint = await logindProperty('IdleHint');
      const since = hint.ok && hint.value === true ? await logindProperty('IdleSinceHint') : null;
      return logindIdleMs(hint, since, (options.now ?? Date.now)());
    } catch (error) {
      return failure(error);
    }
  };

  return {
    async readIdleMs() {
      // A Wayland session has no X idle counter worth reading (XWayland's counts only X
      // clients' input); an X11 session falls back to Mutter when xprintidle is missing, and
      // any session to logind's idle hint last (a lower bound: see logindIdleMs).
      const sources =
        sessionEnv.XDG_SESSION_TYPE === 'wayland'
          ? [mutter, logindIdle]
          : [xprintidle, mutter, logindIdle];
      const reasons: string[] = [];
      for (const source of sources) {
        const reading = await source();
        if (reading.ok) {
          return reading;
        }
        reasons.push(reading.reason);
      }
      return { ok: false, reason: reasons.join('; ') };
    },

    async readInhibitors() {
      const readings = await Promise.all([logind(), gnome()]);
      const known = readings.flatMap((r) => (r.ok ? [r.value] : []));
      if (known.length === 0) {
        // Neither source answered: unknown, which the controller treats as "not inhibited".
        return { ok: false, reason: readings.map((r) => (r.ok ? '' : r.reason)).join('; ') };
      }
      const holders = known.flatMap((k) => k.holders);
      return { ok: true, value: { inhibited: known.some((k) => k.inhibited), holders } };
    },

    async lock(): Promise<LockOutcome> {
      const attempts: LockAttempt[] = [];
      for (const { command, args } of options.lockCommands ?? LINUX_LOCK_COMMANDS) {
        const attempt = await runLock(command, args, sessionEnv, TIMEOUT_MS);
        attempts.push(attempt);
        if (attempt.ok) {
          return { ok: true, via: attempt.command, attempts };
        }
      }
      return { ok: false, attempts };
    },
  };
}
