// Who is on the other end of an IPC connection, from the OS (issue 12: the user is the
// adversary). Node exposes no SO_PEERCRED, so identity is proven by ownership: the service hands
// a connection a random 128-bit nonce, the client creates a file of that name in the service's
// peers folder (anyone may create there, nobody may list it, so nobody else learns a nonce
// from the folder), and the service reads the new file's owner from the OS without following
// links, then removes it. A client can only make a file it owns: its uid (SID) is the owner.
//
// The client asks for the challenge (`peer:challenge`) rather than the service sending one on
// connect: a client that only reads the status keeps its one-request-one-answer shape, and a
// connection that never proves costs the service no file work.
import { basename, dirname, join } from 'node:path';
import type { OsName } from '../platform.ts';

/** A nonce as the service hands it out: 128 random bits, lowercase hex. */
export const NONCE_PATTERN = /^[0-9a-f]{32}$/;

/**
 * How far a proof file's change time may lie before the challenge and still count: file times
 * come from the kernel's coarse clock (a tick behind `Date.now()`), and a file made earlier
 * than that could not have known the nonce anyway.
 */
export const PROOF_CLOCK_SLACK_MS = 1000;

/** The owner the OS reports for a proof file, or why the file proves nothing. */
export type ProofVerdict =
  | {
      ok: true;
      /** POSIX uid as decimal text, or the Windows SID. */
      id: string;
      /** The service's own account: root (uid 0), or SYSTEM / Administrators on Windows. */
      privileged: boolean;
    }
  | { ok: false; reason: string };

/** The per-OS half: the service's folder and the reading of a proof file. */
export interface PeerProofPlatform {
  /** The folder clients create proof files in. */
  readonly folder: string;
  /** Creates (or repairs) the folder with its create-but-not-list permissions; removes leftovers. */
  prepare(): Promise<void>;
  /**
   * Reads the owner of `<folder>/<nonce>` without following a link, checks it is a plain file
   * with one name made no earlier than `issuedAtMs`, and removes it whatever the verdict.
   */
  inspect(nonce: string, issuedAtMs: number): Promise<ProofVerdict>;
  /** The login name of an owner id; null when the OS has none. */
  userName(id: string): Promise<string | null>;
  /** Removes proof files older than `olderThanMs` (never answered, or left by a client). */
  sweep(olderThanMs: number): Promise<void>;
}

/** Where proof files go for the socket or pipe at `ipcPath`. */
export function peersFolderFor(os: OsName, ipcPath: string, programData?: string): string {
  if (os === 'windows') {
    // A named pipe has no folder: the service's ProgramData folder holds the peers folder.
    return join(programData ?? 'C:\\ProgramData', 'Hallpass', 'peers');
  }
  // Beside the socket and named after it (/run/hallpass/agent.peers, macOS
  // /var/run/hallpass-agent.peers): never a generic name in a shared folder such as /var/run.
  return join(dirname(ipcPath), `${basename(ipcPath, '.sock')}.peers`);
}
