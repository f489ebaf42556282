// What the tray does first on every connection to the service (the ServiceClient's connect
// hook): prove its user the way the service checks it (agent/core/ipc-peer: a nonce file in the
// service's peers folder, whose owner the service reads), then say `tray:hello` so the service's
// tray registry counts this session as having its tray. Without the proof the service refuses
// pushes, idle locks, AUP signing and the hello.
import { proveIpcPeer } from '../core/ipc-peer/client.ts';
import { peersFolderFor } from '../core/ipc-peer/peer-proof.ts';
import type { ConnectHook, HandshakeLines } from './service-client.ts';

/** The handshake's requests are answered in order before any other; id 0 is never the client's. */
const HANDSHAKE_ID = 0;

/**
 * The connect hook: proof, then hello. A proof that fails rejects (the client drops the
 * connection and backs off). A refused hello does not: a user who is not at the console (fast
 * user switching) still sees their status, their tray is only not counted as the console's.
 */
export function trayHandshake(
  os: Parameters<typeof peersFolderFor>[0],
  ipcPath: string,
  programData?: string,
): ConnectHook {
  const folder = peersFolderFor(os, ipcPath, programData);
  return async (lines: HandshakeLines) => {
    await proveIpcPeer(async (request) => {
      lines.write({ id: HANDSHAKE_ID, ...request });
      return lines.read();
    }, folder);
    lines.write({ id: HANDSHAKE_ID, channel: 'tray:hello' });
    await lines.read();
  };
}
