// The idle lock on Windows (PLATFORMS.md §5), in the user's own session. windows-idle.ps1 is
// started once and kept (line-child.ts): it reports SHQueryUserNotificationState (presentation
// mode, full-screen video or game) and the session's lock state (WTSSessionInfoEx SessionFlags),
// and calls LockWorkStation. That call only asks for a lock, which happens later, so the lock
// counts only once the session reads locked. Idle time comes from Electron's powerMonitor.
// Display power requests (a video keeping the screen on) come from the service: `powercfg
// /requests` needs an administrator and the tray runs as the pupil, so the service runs it
// (idle:display-requests) and an answer it could not read counts as no request.
import type { DisplayRequestsView } from '../../../shared/index.ts';
import {
  brief,
  mergeInhibitors,
  type IdleDesktop,
  type InhibitorState,
  type LockAttempt,
  type Reading,
} from './desktop.ts';
import type { LockCommandRunner } from './lock-command.ts';

// QUERY_USER_NOTIFICATION_STATE (shellapi.h, learn.microsoft.com "QUERY_USER_NOTIFICATION_STATE
// enumeration"): what each value says about whether the user is presenting or watching.
const STATES: Record<number, { name: string; inhibited: boolean }> = {
  1: { name: 'QUNS_NOT_PRESENT', inhibited: false }, // screen saver, locked, or switching users
  2: { name: 'QUNS_BUSY', inhibited: true }, // a full-screen application, or presentation settings
  3: { name: 'QUNS_RUNNING_D3D_FULL_SCREEN', inhibited: true }, // a full-screen Direct3D game/video
  4: { name: 'QUNS_PRESENTATION_MODE', inhibited: true }, // "presentation mode" switched on
  5: { name: 'QUNS_ACCEPTS_NOTIFICATIONS', inhibited: false }, // nothing special
  6: { name: 'QUNS_QUIET_TIME', inhibited: false }, // the first hour after a new user signs in
  7: { name: 'QUNS_APP', inhibited: false }, // a Windows Store app is running
};

/** Maps SHQueryUserNotificationState's value; an unknown value is refused. */
export function parseNotificationState(value: number): Reading<InhibitorState> {
  const state = Number.isInteger(value) ? STATES[value] : undefined;
  if (state === undefined) {
    return { ok: false, reason: `unknown QUERY_USER_NOTIFICATION_STATE ${String(value)}` };
  }
  return {
    ok: true,
    value: { inhibited: state.inhibited, holders: state.inhibited ? [state.name] : [] },
  };
}

/** What windows-idle.ps1 answered to `state`, read. */
export interface WindowsSessionState {
  inhibitors: Reading<InhibitorState>;
  locked: Reading<boolean>;
}

// wtsapi32.h: WTS_SESSIONSTATE_LOCK 0, WTS_SESSIONSTATE_UNLOCK 1, WTS_SESSIONSTATE_UNKNOWN
// 0xFFFFFFFF (read as a signed Int32: -1). Windows 7 reports the first two the other way round
// (the WTSINFOEX_LEVEL1 documentation's remark; Chromium's ui/base/win/lock_state.cc does too).
const WTS_SESSIONSTATE_LOCK = 0;
const WTS_SESSIONSTATE_UNLOCK = 1;

/** The lock state from WTSINFOEXW's Level and SessionFlags; anything else is unknown. */
export function sessionLockState(
  level: unknown,
  flags: unknown,
  windows7: unknown,
): Reading<boolean> {
  if (level !== 1) {
    return { ok: false, reason: `WTSSessionInfoEx level ${String(level)}, not 1` };
  }
  if (typeof windows7 !== 'boolean') {
    return { ok: false, reason: 'the helper did not say whether this is Windows 7' };
  }
  if (flags !== WTS_SESSIONSTATE_LOCK && flags !== WTS_SESSIONSTATE_UNLOCK) {
    return { ok: false, reason: `session lock state unknown (SessionFlags ${String(flags)})` };
  }
  const lockValue = windows7 ? WTS_SESSIONSTATE_UNLOCK : WTS_SESSIONSTATE_LOCK;
  return { ok: true, value: flags === lockValue };
}

/** Reads the helper's answer to `state`; each half can be unknown on its own. */
export function parseStateReply(reply: Record<string, unknown>): WindowsSessionState {
  const error = typeof reply.error === 'string' ? brief(reply.error) : null;
  let inhibitors: Reading<InhibitorState>;
  if (typeof reply.quns === 'number') {
    inhibitors = parseNotificationState(reply.quns);
  } else if (typeof reply.qunsResult === 'number' && reply.qunsResult !== 0) {
    const hr = (reply.qunsResult >>> 0).toString(16).toUpperCase().padStart(8, '0');
    inhibitors = { ok: false, reason: `SHQueryUserNotificationState failed: HRESULT 0x${hr}` };
  } else {
    inhibitors = {
      ok: false,
      reason: `no notification state in the answer${error ? `: ${error}` : ''}`,
    };
  }
  const lock = sessionLockState(reply.level, reply.flags, reply.windows7);
  const locked: Reading<boolean> =
    lock.ok || error === null ? lock : { ok: false, reason: `${lock.reason}: ${error}` };
  return { inhibitors, locked };
}

/** Reads the helper's answer to `lock`: whether LockWorkStation accepted the request. */
export function parseLockReply(reply: Record<string, unknown>): LockAttempt {
  const command = 'LockWorkStation';
  if (reply.locked === true) {
    return { command, ok: true, detail: 'returned TRUE' };
  }
  if (reply.locked === false) {
    const code = typeof reply.win32 === 'number' ? reply.win32 : 'unknown';
    return { command, ok: false, detail: `returned FALSE, Win32 error ${code}` };
  }
  const error = typeof reply.error === 'string' ? brief(reply.error) : 'no result in the answer';
  return { command, ok: false, detail: error };
}

/** The service's display-request answer as an inhibitor reading; unknown says why. */
export function displayRequestsReading(
  view: DisplayRequestsView | undefined,
): Reading<InhibitorState> {
  if (view === undefined) {
    return { ok: false, reason: 'the service sent no display requests' };
  }
  if (!view.known) {
    return { ok: false, reason: brief(view.reason) };
  }
  return {
    ok: true,
    value: { inhibited: view.held, holders: view.holders.map((h) => `display: ${brief(h)}`) },
  };
}

/**
 * Asks the service (idle:display-requests); a refusal, no answer, or an answer slower than
 * `timeoutMs` is unknown with the reason. The limit keeps a slow powercfg (the service allows it
 * 10 s) from holding up the idle lock's once-a-second readings while its warning shows.
 */
export function serviceDisplayRequests(
  answer: (body: {
    channel: 'idle:display-requests';
  }) => Promise<{ displayRequests?: DisplayRequestsView }>,
  timeoutMs = 2_000,
): () => Promise<Reading<InhibitorState>> {
  return async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<Reading<InhibitorState>>((resolve) => {
      timer = setTimeout(() => {
        resolve({ ok: false, reason: `the service did not answer within ${timeoutMs} ms` });
      }, timeoutMs);
    });
    const asked = answer({ channel: 'idle:display-requests' }).then(
      (reply) => displayRequestsReading(reply.displayRequests),
      (error: unknown): Reading<InhibitorState> => ({
        ok: false,
        reason: `the service did not answer: ${brief(error instanceof Error ? error.message : String(error))}`,
      }),
    );
    try {
      return await Promise.race([asked, late]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/** The session helper as the desktop uses it (line-child.ts's LineChild). */
export interface SessionHelper {
  request(verb: 'state' | 'lock'): Promise<Reading<Record<string, unknown>>>;
}

/** What the Windows desktop is built from. */
export interface WindowsDesktopOptions {
  helper: SessionHelper;
  /** The fallback when the helper cannot be asked: `rundll32.exe user32.dll,LockWorkStation`. */
  runLock: LockCommandRunner;
  /** Waits between lock-state readings after a lock request. */
  sleep: (ms: number) => Promise<void>;
  /** How often and how many times to read the lock state before calling the lock failed. */
  confirmEveryMs?: number;
  confirmTries?: number;
  /**
   * Display power requests (the service reads them: serviceDisplayRequests). Absent: not read,
   * and the reason says so.
   */
  displayRequests?: () => Promise<Reading<InhibitorState>>;
}

/** The idle lock's view of the Windows session the tray runs in. */
export function windowsIdleDesktop(options: WindowsDesktopOptions): IdleDesktop {
  const { helper, runLock, sleep } = options;
  const every = options.confirmEveryMs ?? 250;
  const tries = options.confirmTries ?? 20;

  const readState = async (): Promise<Reading<WindowsSessionState>> => {
    const reply = await helper.request('state');
    return reply.ok ? { ok: true, value: parseStateReply(reply.value) } : reply;
  };

  /** Reads until the session says locked; the last reason when it never does. */
  const confirm = async (): Promise<string | null> => {
    let last = 'no reading';
    for (let i = 0; i < tries; i += 1) {
      await sleep(every);
      const state = await readState();
      const locked = state.ok ? state.value.locked : state;
      if (locked.ok && locked.value) {
        return null;
      }
      last = locked.ok ? 'the session still read unlocked' : locked.reason;
    }
    return `${last} after ${Math.round((every * tries) / 1000)} s`;
  };

  return {
    readIdleMs: () =>
      Promise.resolve({
        ok: false,
        reason: "idle time on Windows comes from Electron's powerMonitor",
      }),

    async readInhibitors() {
      const [state, display] = await Promise.all([
        readState(),
        options.displayRequests?.() ??
          Promise.resolve({ ok: false as const, reason: 'not read: no service to ask' }),
      ]);
      // Either holds the lock off (up to the ceiling); one unread counts as not held and says why.
      return mergeInhibitors([
        ['notification state', state.ok ? state.value.inhibitors : state],
        ['display power requests', display],
      ]);
    },

    async lock() {
      const attempts: LockAttempt[] = [];
      const asked = await helper.request('lock');
      let requested: LockAttempt;
      if (asked.ok) {
        requested = parseLockReply(asked.value);
      } else {
        // The helper is down: Windows' own command still asks for the lock from this session.
        // rundll32 says nothing about success, so only the confirmation below counts.
        attempts.push({ command: 'LockWorkStation', ok: false, detail: asked.reason });
        requested = await runLock('rundll32.exe', ['user32.dll,LockWorkStation'], {}, 10_000);
      }
      if (!requested.ok) {
        attempts.push(requested);
        return { ok: false, attempts };
      }
      const notLocked = await confirm();
      if (notLocked !== null) {
        attempts.push({ ...requested, ok: false, detail: `${requested.detail}, but ${notLocked}` });
        return { ok: false, attempts };
      }
      attempts.push({ ...requested, detail: `${requested.detail}; the session reads locked` });
      return { ok: true, via: requested.command, attempts };
    },
  };
}
