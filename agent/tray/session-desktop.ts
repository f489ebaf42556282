// The idle lock's desktop for the tray's own session: idle time from Electron's powerMonitor
// (passed in, so this module stays plain Node), inhibitors and the lock from the OS's desktop
// (idle/os-desktop.ts: Linux, Windows, macOS). Where there is none (another OS, or its helper
// script could not be read), every reading is "unknown" with the reason, and the controller
// never locks blind.
import type { IdleDesktop, Reading } from './idle/desktop.ts';

/** Seconds since the last input, as powerMonitor.getSystemIdleTime() gives them. */
export type SystemIdleSeconds = () => number;

/**
 * Idle time from powerMonitor, with the OS desktop's own reading as the fallback: on Wayland
 * powerMonitor can answer 0 for ever (Electron's docs: idle time needs the X screensaver
 * extension), and 0 for a whole warning period would mean no lock at all.
 */
export function sessionDesktop(
  systemIdleSeconds: SystemIdleSeconds,
  os: IdleDesktop | null,
  isWayland: boolean,
  missing = 'the idle lock is not built for this OS yet',
): IdleDesktop {
  const unsupported = { ok: false as const, reason: missing };
  return {
    readIdleMs: async (): Promise<Reading<number>> => {
      if (isWayland && os !== null) {
        return os.readIdleMs();
      }
      const seconds = systemIdleSeconds();
      if (!Number.isFinite(seconds) || seconds < 0) {
        return { ok: false, reason: `powerMonitor gave ${String(seconds)} seconds` };
      }
      return Promise.resolve({ ok: true, value: seconds * 1000 });
    },
    readInhibitors: () => (os === null ? Promise.resolve(unsupported) : os.readInhibitors()),
    lock: () =>
      os === null
        ? Promise.resolve({
            ok: false,
            attempts: [{ command: 'none', ok: false, detail: unsupported.reason }],
          })
        : os.lock(),
  };
}
