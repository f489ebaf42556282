// Peer proofs on Linux and macOS: a root-owned folder of mode 1733 beside the socket (sticky:
// a user can remove only their own files; write+search for all: anyone may create; no read:
// nobody may list, so a nonce in the folder is seen by its client and root only).
import { chmod, lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Runner } from '../runner.ts';
import {
  NONCE_PATTERN,
  PROOF_CLOCK_SLACK_MS,
  type PeerProofPlatform,
  type ProofVerdict,
} from './peer-proof.ts';

const FOLDER_MODE = 0o1733;
const UID = /^(0|[1-9][0-9]{0,9})$/;
const LOGIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,254}\$?$/;

/** Why an entry lstat'd in the peers folder proves nothing, or null when it proves its owner. */
export function proofFileProblem(
  info: { isFile(): boolean; isSymbolicLink(): boolean; nlink: number; ctimeMs: number },
  issuedAtMs: number,
): string | null {
  if (info.isSymbolicLink()) {
    return 'the proof is a symbolic link (its owner says nothing about the client)';
  }
  if (!info.isFile()) {
    return 'the proof is not a plain file';
  }
  if (info.nlink !== 1) {
    // A hard link to someone else's file would carry that user's uid.
    return `the proof file has ${String(info.nlink)} names (a hard link to another file)`;
  }
  if (info.ctimeMs < issuedAtMs - PROOF_CLOCK_SLACK_MS) {
    return 'the proof file is older than the challenge';
  }
  return null;
}

/** The POSIX peer-proof platform for the peers folder `folder` (the service runs as `serviceUid`). */
export function posixPeerProof(folder: string, run: Runner, serviceUid: number): PeerProofPlatform {
  return {
    folder,
    async prepare() {
      // The socket's folder above is the service's own and writable by nobody else
      // (prepareSocketFolder), so nobody can swap this path between these calls.
      await mkdir(folder, { mode: 0o700 }).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw error;
        }
      });
      const info = await lstat(folder);
      if (!info.isDirectory() || info.uid !== serviceUid) {
        throw new Error(`${folder} is not a folder of the service's own`);
      }
      // mkdir's mode passes through the umask; the sticky and others' bits are set here.
      await chmod(folder, FOLDER_MODE);
      for (const name of await readdir(folder)) {
        await unlink(join(folder, name)).catch(() => undefined);
      }
    },
    async inspect(nonce, issuedAtMs): Promise<ProofVerdict> {
      if (!NONCE_PATTERN.test(nonce)) {
        return { ok: false, reason: 'not a nonce' };
      }
      const path = join(folder, nonce);
      let info;
      try {
        info = await lstat(path);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        return {
          ok: false,
          reason:
            code === 'ENOENT' ? 'no proof file was made' : `cannot read the proof: ${String(code)}`,
        };
      }
      // Removed whatever it proves: a nonce is good for one look. unlink never follows a link.
      await unlink(path).catch(() => undefined);
      const problem = proofFileProblem(info, issuedAtMs);
      if (problem !== null) {
        return { ok: false, reason: problem };
      }
      return {
        ok: true,
        id: String(info.uid),
        privileged: info.uid === 0 || info.uid === serviceUid,
      };
    },
    async userName(id) {
      if (!UID.test(id)) {
        return null;
      }
      try {
        // `id -nu` resolves through NSS, so directory (sssd, winbind) accounts have names too.
        const answer = await run('id', ['-nu', id], { timeoutMs: 10_000 });
        const name = answer.stdout.trim();
        return answer.exitCode === 0 && LOGIN_NAME.test(name) ? name : null;
      } catch {
        return null;
      }
    },
    async sweep(olderThanMs) {
      const names = await readdir(folder).catch(() => [] as string[]);
      const cutoff = Date.now() - olderThanMs;
      for (const name of names) {
        const path = join(folder, name);
        const info = await lstat(path).catch(() => null);
        if (info !== null && info.ctimeMs < cutoff) {
          await unlink(path).catch(() => undefined);
        }
      }
    },
  };
}
