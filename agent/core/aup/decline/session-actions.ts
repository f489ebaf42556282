// What declining the AUP does to the console session, per OS: sign the user out or lock the
// session, from root/SYSTEM. Each action checks the session it acts on is still the user's who
// declined (a pupil who declined and a teacher who logged in a moment later must not be signed
// out), and answers null when it worked or why not: a failure is recorded in `actionError`,
// never ignored.

/** A sign-out or lock of the console session of one user. */
export interface SessionActions {
  /** Ends the user's console session; null when done, else the reason it was not. */
  signOut(user: string): Promise<string | null>;
  /** Locks the user's console session; null when done, else the reason it was not. */
  lock(user: string): Promise<string | null>;
}

/** The first line of a command's complaint, bounded. */
export function firstLine(text: string): string {
  return (text.trim().split('\n')[0] ?? '').slice(0, 300);
}

/** An error's message, bounded. */
export function errorText(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 500);
}
