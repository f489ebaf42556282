// The idle lock's readings on Windows (PLATFORMS.md §5). The tray reads
// SHQueryUserNotificationState in the user's session; this maps the number it returns. Parser
// only so far: the probe (GetLastInputInfo, LockWorkStation's BOOL) is for the Electron tray.
import type { InhibitorState, Reading } from './desktop.ts';

// QUERY_USER_NOTIFICATION_STATE (shellapi.h, learn.microsoft.com "QUERY_USER_NOTIFICATION_STATE
// enumeration"): what each value says about whether the user is presenting or watching.
const STATES: Record<number, { name: string; inhibited: boolean }> = {
  1: { name: 'QUNS_NOT_PRESENT', inhibited: false }, // screen saver, locked, or switching users
  2: { name: 'QUNS_BUSY', inhibited: true }, // a full-screen application, or presentation settings
  3: { name: 'QUNS_RUNNING_D3D_FULL_SCREEN', inhibited: true }, // a full-screen Direct3D game/video
  4: { name: 'QUNS_PRESENTATION_MODE', inhibited: true }, // "presentation mode" switched on
  5: { name: 'QUNS_ACCEPTS_NOTIFICATIONS', inhibited: false }, // nothing special
  6: { name: 'QUNS_QUIET_TIME', inhibited: false }, // the first hour after a new user signs in
  7: { name: 'QUNS_APP', inhibited: false }, // a Windows Store app is running
};

/** Maps SHQueryUserNotificationState's value; an unknown value is refused. */
export function parseNotificationState(value: number): Reading<InhibitorState> {
  const state = Number.isInteger(value) ? STATES[value] : undefined;
  if (state === undefined) {
    return { ok: false, reason: `unknown QUERY_USER_NOTIFICATION_STATE ${String(value)}` };
  }
  return {
    ok: true,
    value: { inhibited: state.inhibited, holders: state.inhibited ? [state.name] : [] },
  };
}
