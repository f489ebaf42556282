// Who sits at the console, as root/SYSTEM sees it (PLATFORMS.md §7): the user exemptions
// and decisions are about. Never what a client says about itself.

/** The user signed in at the physical console, with the groups they belong to. */
export interface ConsoleUser {
  /** Login name (Windows `DOMAIN\user` as Windows writes it). */
  name: string;
  /** Group names (local and, where the OS says, directory groups); used for `exempt.groups`. */
  groups: string[];
  /**
   * False when the OS could not read all of the user's groups (Windows with no domain
   * controller answering, an Entra ID account, `id` failing on Linux, a group macOS could not
   * name): `groups` then holds only those it read. Absent means complete.
   */
  groupsComplete?: boolean;
}

/** Finds the console user; null when nobody is signed in at the console (login screen). */
export interface ConsoleUserSource {
  current(): Promise<ConsoleUser | null>;
}
