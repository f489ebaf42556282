// What the tray's windows are and what they may load, decided here (plain data, tested under
// Node) and applied by main.ts. Electron's security checklist
// (electronjs.org/docs/latest/tutorial/security): sandboxed renderers with context isolation
// and no Node, web security on; only the tray's own scheme may be navigated to, requested or ask
// over IPC; the AUP window covers the screen above everything and cannot be minimised, moved or
// resized away.
import type { BrowserWindowConstructorOptions } from 'electron';

/** The tray's own scheme, registered as standard and secure, so the CSP's 'self' means it. */
export const SCHEME = 'hallpass';
/** Where every tray page lives. */
export const ORIGIN = `${SCHEME}://ui`;

/** The windows the tray opens. */
export type TrayPage = 'status' | 'collects' | 'idle-warning' | 'aup';

/**
 * Whether `url` is one of the tray's own pages: scheme `hallpass:`, host exactly `ui`, no user,
 * password or port. Parsed, not matched as a prefix, so `hallpass://ui@elsewhere/` or
 * `hallpass://ui.elsewhere/` is not ours.
 */
export function isTrayUrl(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return (
    parsed.protocol === `${SCHEME}:` &&
    parsed.host === 'ui' &&
    parsed.username === '' &&
    parsed.password === '' &&
    parsed.pathname.startsWith('/')
  );
}

/** Whether a window may navigate to `url`: only to the tray's own pages. */
export function mayNavigate(url: string): boolean {
  return isTrayUrl(url);
}

/** Whether a request may leave a window: the tray's own pages, and DevTools' own (if opened). */
export function mayRequest(url: string): boolean {
  return isTrayUrl(url) || url.startsWith('devtools:');
}

/** Whether an IPC message comes from one of the tray's own pages (its frame's URL). */
export function maySendIpc(frameUrl: string | undefined): boolean {
  return frameUrl !== undefined && isTrayUrl(frameUrl);
}

/** The page a window loads. */
export function pageUrl(page: TrayPage): string {
  return `${ORIGIN}/${page}/${page === 'aup' ? 'aup.html' : 'index.html'}`;
}

/** Options of the window showing `page`, `size` from the tray's preferences. */
export function windowOptions(
  page: TrayPage,
  size: { width: number; height: number },
  preload: string,
): BrowserWindowConstructorOptions {
  return {
    ...size,
    show: false,
    title: 'Hallpass',
    alwaysOnTop: page === 'idle-warning' || page === 'aup',
    // The AUP comes before the desktop: the whole screen, above other windows, and it cannot be
    // minimised, moved or resized away. Closing it is declining (aup-prompt.ts).
    ...(page === 'aup'
      ? { fullscreen: true, minimizable: false, movable: false, resizable: false }
      : {}),
    webPreferences: {
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      spellcheck: false,
      navigateOnDragDrop: false,
      preload,
    },
  };
}
