// What the idle lock needs from the user's desktop session, one implementation per OS
// (linux.ts, windows.ts, darwin.ts) chosen once at start-up. Every reading can come back as
// "unknown" with a reason: the controller reports it and never guesses.

/** A reading, or why there is none. */
export type Reading<T> = { ok: true; value: T } | { ok: false; reason: string };

/** The OS idle inhibitors held now (a presentation, a full-screen video). */
export interface InhibitorState {
  inhibited: boolean;
  /** Who holds them, for the log (program names as the OS lists them). */
  holders: string[];
  /**
   * Sources that could not be read while others could, with why: they count as not held (an
   * unread inhibitor never postpones a lock), and the controller reports the reason.
   */
  unread?: string;
}

/**
 * One reading from several inhibitor sources: held when any known source holds one; unknown only
 * when none could be read. Each source is named in the reasons.
 */
export function mergeInhibitors(
  readings: readonly (readonly [string, Reading<InhibitorState>])[],
): Reading<InhibitorState> {
  const known = readings.flatMap(([, r]) => (r.ok ? [r.value] : []));
  const reasons = readings.flatMap(([name, r]) => {
    const inner = r.ok ? r.value.unread : r.reason;
    return inner === undefined ? [] : [`${name}: ${inner}`];
  });
  if (known.length === 0) {
    return { ok: false, reason: reasons.join('; ') };
  }
  const value: InhibitorState = {
    inhibited: known.some((k) => k.inhibited),
    holders: known.flatMap((k) => k.holders),
  };
  return { ok: true, value: reasons.length > 0 ? { ...value, unread: reasons.join('; ') } : value };
}

/** One lock command tried. */
export interface LockAttempt {
  command: string;
  ok: boolean;
  /** Exit code or error, for the report when it failed. */
  detail: string;
}

/** How a lock request ended; failed attempts are kept even when a fallback worked. */
export type LockOutcome =
  { ok: true; via: string; attempts: LockAttempt[] } | { ok: false; attempts: LockAttempt[] };

/** The desktop session the tray runs in. */
export interface IdleDesktop {
  /** Milliseconds since the last keyboard or pointer input in this session. */
  readIdleMs(): Promise<Reading<number>>;
  /** Whether an OS idle inhibitor is held. */
  readInhibitors(): Promise<Reading<InhibitorState>>;
  /** Locks the session with the OS's own mechanism. */
  lock(): Promise<LockOutcome>;
}

/** Cuts command output for a report: one line, at most 200 characters. */
export function brief(text: string): string {
  const line = text.trim().split('\n')[0] ?? '';
  // Control characters from a hostile program name must not reach a log line raw.
  // eslint-disable-next-line no-control-regex
  const clean = line.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 199)}…` : clean;
}
