// AUP test helpers: a policy in force in a state folder as the server would have left it, and
// a complete signature of a pending document as a user who ticked everything would send it.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AupNetworkHold } from '../../agent/service/aup-sessions.ts';
import type { AupPendingDocument, AupSignature, Policy } from '../../shared/index.ts';

/** Writes `policy` as the cached server policy of the service whose state is `stateDir`. */
export async function writeCachedPolicy(stateDir: string, policy: Policy): Promise<void> {
  await mkdir(join(stateDir, 'policy'), { recursive: true, mode: 0o700 });
  await writeFile(
    join(stateDir, 'policy', 'policy.json'),
    JSON.stringify({ etag: null, receivedAt: new Date().toISOString(), policy }),
    { mode: 0o600 },
  );
}

/** Every statement ticked, a name, and the details the document asks for. */
export function completeSignature(document: AupPendingDocument): AupSignature {
  return {
    documentId: document.id,
    textSha256: document.textSha256,
    acknowledged: document.statements.map((_, i) => i),
    fullName: 'Jo Smith',
    tutorGroup: document.askTutorGroup ? '3B' : null,
    parentCarer: document.askParentCarer ? 'Sam Smith' : null,
  };
}

/**
 * A network hold that remembers whose hold is in force and every user it held: for tests of when
 * the AUP module holds and lifts it (the OS hold itself: test/agent/service/network-hold.test.ts).
 */
export function recordingNetworkHold(): AupNetworkHold & { readonly holds: string[] } {
  let heldFor: string | null = null;
  const holds: string[] = [];
  return {
    holds,
    hold: (user) => {
      holds.push(user);
      heldFor = user;
      return Promise.resolve(null);
    },
    release: () => {
      heldFor = null;
      return Promise.resolve();
    },
    heldFor: () => heldFor,
  };
}
