// What the AUP window asks of the tray's preload (`window.hallpassAup`): the service's three AUP
// channels, nothing else. The preload forwards each to the service over IPC; the service, not
// this page, decides who signs and whether the text is the one in force.
import type { AupPending } from '../../shared/schemas/ipc.ts';
import type { AupSignature } from '../../shared/tray-bridge.ts';

/** A signature as the window sends it (checked again by the tray and by the service). */
export type { AupSignature };

/** The preload's AUP surface. A refusal rejects with an Error whose message says why. */
export interface AupBridge {
  pending(): Promise<AupPending>;
  sign(signature: AupSignature): Promise<AupPending>;
  decline(document: { documentId: string; textSha256: string }): Promise<AupPending>;
}

declare global {
  interface Window {
    hallpassAup?: AupBridge;
  }
}
