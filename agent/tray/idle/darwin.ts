// The idle lock's readings on macOS (PLATFORMS.md §5): idle time from IOHIDSystem's HIDIdleTime
// (`ioreg -c IOHIDSystem -d 4`, nanoseconds) and display-sleep assertions from
// `pmset -g assertions` (a presentation, a video: PreventUserIdleDisplaySleep). Parsers only so
// far; no lock command: `pmset displaysleepnow` locks only when a password is required at once,
// and the login window's own lock (SACLockScreenImmediate) is private API.
import { brief, type InhibitorState, type Reading } from './desktop.ts';

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
