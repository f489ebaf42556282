// `window.hallpass`, the only way a tray window reaches anything: the preload exposes it in
// Electron; the page tests put a test bridge in the same place.
import type { HallpassBridge } from '../../shared/tray-bridge.ts';

declare global {
  interface Window {
    hallpass?: HallpassBridge;
  }
}

/** The bridge; a page opened outside the tray has none and says so. */
export function bridge(): HallpassBridge {
  const found = window.hallpass;
  if (found === undefined) {
    throw new Error('This page only works inside the Hallpass tray.');
  }
  return found;
}
