// The tray's windows and what they may load (agent/tray/window-policy.ts), as main.ts applies
// them: every page sandboxed, isolated and without Node; the AUP window over the whole screen,
// not to be minimised, moved or resized; only the tray's own scheme navigated to, requested or
// heard over IPC, whatever a hostile URL looks like.
import { describe, expect, it } from 'vitest';
import {
  mayNavigate,
  mayRequest,
  maySendIpc,
  pageUrl,
  windowOptions,
  type TrayPage,
} from '../../../agent/tray/window-policy.ts';

const PAGES: TrayPage[] = ['status', 'collects', 'idle-warning', 'aup'];
const SIZE = { width: 560, height: 680 };

describe('windowOptions', () => {
  it.each(PAGES)('%s: sandboxed, context-isolated, no Node, web security on', (page) => {
    const options = windowOptions(page, SIZE, '/opt/hallpass/preload.cjs');
    expect(options.webPreferences).toMatchObject({
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      preload: '/opt/hallpass/preload.cjs',
    });
    expect(options.show).toBe(false);
  });

  it('the AUP window covers the screen above everything and cannot be put away', () => {
    expect(windowOptions('aup', SIZE, 'p')).toMatchObject({
      fullscreen: true,
      alwaysOnTop: true,
      minimizable: false,
      movable: false,
      resizable: false,
    });
  });

  it('the idle warning is above other windows; status and collects are ordinary windows', () => {
    expect(windowOptions('idle-warning', SIZE, 'p').alwaysOnTop).toBe(true);
    for (const page of ['status', 'collects'] as const) {
      const options = windowOptions(page, SIZE, 'p');
      expect(options.alwaysOnTop).toBe(false);
      expect(options).toMatchObject(SIZE);
      expect(options.fullscreen).toBeUndefined();
      expect(options.minimizable).toBeUndefined();
    }
  });
});

describe('what a window may load and who may ask over IPC', () => {
  it.each(PAGES)('its own page %s is allowed everywhere', (page) => {
    const url = pageUrl(page);
    expect(url).toMatch(/^hallpass:\/\/ui\/[a-z-]+\/[a-z]+\.html$/);
    expect(mayNavigate(url)).toBe(true);
    expect(mayRequest(url)).toBe(true);
    expect(maySendIpc(url)).toBe(true);
  });

  it.each([
    'https://example.org/',
    'http://127.0.0.1:8080/',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'data:text/html,<script>1</script>',
    'hallpass://ui@example.org/status/index.html',
    'hallpass://ui.example.org/status/index.html',
    'hallpass://user:pass@ui/status/index.html',
    'hallpass://other/status/index.html',
    'hallpass:ui/status/index.html',
    'hallpass://ui:8080/status/index.html',
    'HALLPASS://evil/',
    'not a url',
    '',
  ])('refuses %j', (url) => {
    expect(mayNavigate(url)).toBe(false);
    expect(mayRequest(url)).toBe(false);
    expect(maySendIpc(url)).toBe(false);
  });

  it('lets DevTools fetch its own resources, never navigate or send IPC', () => {
    expect(mayRequest('devtools://devtools/bundled/inspector.html')).toBe(true);
    expect(mayNavigate('devtools://devtools/bundled/inspector.html')).toBe(false);
    expect(maySendIpc('devtools://devtools/bundled/inspector.html')).toBe(false);
  });

  it('an IPC message from a frame without a URL is refused', () => {
    expect(maySendIpc(undefined)).toBe(false);
  });
});
