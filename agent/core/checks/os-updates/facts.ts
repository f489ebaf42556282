/** What the os-updates check measured, the same shape on every OS (plain JSON). */
export type OsUpdatesFacts = {
  /** Human name of the OS, e.g. "Windows 11 (registry: Windows 10 Pro)", "macOS", "debian". */
  osName: string | null;
  /** Linux os-release ID (policy's minimumVersion.linux is keyed by it); null elsewhere. */
  osReleaseId: string | null;
  /** Dotted version compared with the policy: 10.0.BUILD.UBR, 14.6.1, or VERSION_ID. */
  osVersion: string | null;
  /** Whether updates install without anyone acting; null when it could not be told. */
  automaticUpdates: boolean | null;
  /** Why automaticUpdates has its value, for ICT staff. */
  automaticUpdatesDetail: string;
  /** ISO time of the last successful update (see lastUpdateSource); null when unknown. */
  lastUpdateAt: string | null;
  /** Where lastUpdateAt came from. */
  lastUpdateSource: string;
  /** Updates waiting to be installed; null when the list could not be read. */
  pendingUpdates: number | null;
  /**
   * Of those, the ones the policy requires installed; null when unknown. Windows and Linux: the
   * security-classified ones. macOS: every recommended update of the running major release,
   * because `softwareupdate` labels none as security (a Safari update carries WebKit fixes).
   */
  pendingSecurityUpdates: number | null;
  /** Titles of those required updates (at most 20), as the OS names them. */
  pendingSecurityTitles: string[];
  /**
   * When the agent first saw each title in pendingSecurityTitles pending (ISO), carried from its
   * earlier results (first-seen.ts). A title without an entry has no earlier record: its age is
   * unknown and it counts as overdue.
   */
  pendingFirstSeen: Record<string, string>;
  /** A restart is needed to finish installing updates; null when unknown. */
  rebootPending: boolean | null;
  /** Parts of the probe that failed, kept as evidence. */
  problems: string[];
};

/** Most titles kept as evidence. */
export const MAX_TITLES = 20;
