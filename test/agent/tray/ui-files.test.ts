// The tray's windows' files: only the tray's folders of ui/, never a path out of them, scripts
// served with their types stripped, and a CSP that allows nothing but the tray's own files.
import { describe, expect, it } from 'vitest';
import { loadUiFile, TRAY_CSP } from '../../../agent/tray/ui-files.ts';

describe('loadUiFile', () => {
  it.each([
    '../package.json',
    'status/../../package.json',
    'status/%2e%2e/x.html',
    'dashboard/sign-in.html',
    'status/.hidden.html',
    'status/index.html.bak',
    '/etc/passwd',
    'status/missing.html',
  ])('refuses %s', async (path) => {
    expect(await loadUiFile(path)).toBeNull();
  });

  it('serves a page as HTML and a script with its types stripped', async () => {
    expect(await loadUiFile('status/index.html')).toMatchObject({
      contentType: 'text/html; charset=utf-8',
    });
    const script = await loadUiFile('status/status.ts');
    expect(script?.contentType).toBe('text/javascript; charset=utf-8');
    expect(script?.body).not.toMatch(/import type|: TrayView/);
    expect(script?.body).toContain("from '../tray-common/bridge.ts'");
  });

  it('serves the AUP window, whose script imports only its siblings', async () => {
    expect(await loadUiFile('aup/aup.html')).toMatchObject({
      contentType: 'text/html; charset=utf-8',
    });
    const script = await loadUiFile('aup/aup.ts');
    expect(script?.body).not.toMatch(/import type/);
    expect(await loadUiFile('aup/bridge.ts')).not.toBeNull();
  });

  it('the CSP allows no inline script, no network and no framing', () => {
    expect(TRAY_CSP).toContain("default-src 'none'");
    expect(TRAY_CSP).toContain("script-src 'self'");
    expect(TRAY_CSP).toContain("connect-src 'none'");
    expect(TRAY_CSP).toContain("frame-ancestors 'none'");
    expect(TRAY_CSP).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
  });
});
