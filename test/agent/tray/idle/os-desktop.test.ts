// The per-OS choice of the idle lock's desktop, as the tray's main process makes it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { powershellArgs } from '../../../../agent/core/powershell.ts';
import { osIdleDesktop, WINDOWS_IDLE_SCRIPT } from '../../../../agent/tray/idle/os-desktop.ts';

describe('osIdleDesktop', () => {
  it('on Windows starts the session helper from the shipped script, and says why when it cannot', async () => {
    // Linux has no powershell.exe: the real spawn fails, and the reading says so.
    const windows = await osIdleDesktop('win32', {});
    expect(windows.ok).toBe(true);
    if (windows.ok) {
      expect(await windows.desktop.readInhibitors()).toEqual({
        ok: false,
        reason:
          'notification state: the helper failed: powershell.exe is not installed; ' +
          'display power requests: not read: no service to ask',
      });
      windows.stop();
    }
  }, 30_000);

  it('the helper script fits on a Windows command line as -EncodedCommand', () => {
    // CreateProcess takes at most 32,767 characters; the script travels base64 in UTF-16LE.
    const args = powershellArgs(readFileSync(WINDOWS_IDLE_SCRIPT, 'utf8'));
    expect(['powershell.exe', ...args].join(' ').length).toBeLessThan(32_767);
  });

  it('has no desktop for an OS it does not know, with the reason', async () => {
    expect(await osIdleDesktop('freebsd', {})).toEqual({
      ok: false,
      reason: 'the idle lock is not built for freebsd',
    });
  });

  it('builds Linux and macOS desktops from their commands', async () => {
    expect((await osIdleDesktop('linux', {})).ok).toBe(true);
    expect((await osIdleDesktop('darwin', {})).ok).toBe(true);
  });
});
