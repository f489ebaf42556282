// The peer-proof platform of each OS, chosen once (macOS shares the POSIX proof).
import type { Host } from '../host.ts';
import type { OsName } from '../platform.ts';
import { peersFolderFor, type PeerProofPlatform } from './peer-proof.ts';
import { posixPeerProof } from './posix.ts';
import { windowsPeerProof } from './windows.ts';

/** The peer-proof platform for the service's socket or pipe at `ipcPath`. */
export function peerProofFor(os: OsName, host: Host, ipcPath: string): PeerProofPlatform {
  if (os === 'windows') {
    return windowsPeerProof(peersFolderFor(os, ipcPath, process.env.ProgramData), host);
  }
  return posixPeerProof(peersFolderFor(os, ipcPath), host.run, process.getuid?.() ?? 0);
}
