/** Where the effective idle lock comes from, for ICT's evidence. */
export type LockSource = 'machine-policy' | 'user-policy' | 'user-setting' | 'mdm-profile' | 'none';

/**
 * What the screen-lock probes measure on every OS. Plain JSON so it travels as evidence.
 * `lockAfterSeconds` is the idle time after which a password is needed again.
 */
export type ScreenLockFacts = {
  /** Whether a signed-in desktop user was found whose settings could be read. */
  session: 'present' | 'none';
  /** The console user whose settings were read, or null. */
  user: string | null;
  /** Whether the OS locks an idle session at all; null when it could not be told. */
  lockEnabled: boolean | null;
  /** Seconds idle before the lock; null when it never locks or could not be told. */
  lockAfterSeconds: number | null;
  /** Which setting decided `lockAfterSeconds`. */
  source: LockSource;
  /**
   * Whether the signed-in user can change the setting that decided this: on Linux a GNOME key no
   * system dconf database locks, on Windows the user's own HKCU screen saver values, on macOS
   * the user's own `defaults` (no configuration profile). Absent where the probe does not tell.
   */
  userCanChange?: boolean;
  /**
   * When the user can change the deciding setting: the latest the screen still locks by what they
   * cannot change (a machine or user policy, a profile), or null when nothing else locks it.
   */
  enforcedLockAfterSeconds?: number | null;
  /** The individual values read, by name, for ICT. */
  settings: Record<string, string | number | boolean | null>;
  /** Why the measurement is incomplete (no session, a section failed), or null. */
  problem: string | null;
};

/** Facts for a device where nobody is signed in at the console, so nothing can be read. */
export function noSession(problem: string): ScreenLockFacts {
  return {
    session: 'none',
    user: null,
    lockEnabled: null,
    lockAfterSeconds: null,
    source: 'none',
    settings: {},
    problem,
  };
}
