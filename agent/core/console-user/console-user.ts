// Who sits at the console, as root/SYSTEM sees it (PLATFORMS.md §7): the user exemptions
// and decisions are about. Never what a client says about itself.

/** The user signed in at the physical console, with the groups they belong to. */
export interface ConsoleUser {
  /** Login name (Windows `DOMAIN\user` as Windows writes it). */
  name: string;
  /** Group names (local and, where the OS says, directory groups); used for `exempt.groups`. */
  groups: string[];
}

/** Finds the console user; null when nobody is signed in at the console (login screen). */
export interface ConsoleUserSource {
  current(): Promise<ConsoleUser | null>;
}
