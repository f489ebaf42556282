import { describe, expect, it } from 'vitest';
import type { IdleDesktop } from '../../../agent/tray/idle/desktop.ts';
import { sessionDesktop } from '../../../agent/tray/session-desktop.ts';

const os: IdleDesktop = {
  readIdleMs: () => Promise.resolve({ ok: true, value: 42_000 }),
  readInhibitors: () => Promise.resolve({ ok: true, value: { inhibited: true, holders: ['vlc'] } }),
  lock: () => Promise.resolve({ ok: true, via: 'loginctl lock-session', attempts: [] }),
};

describe('sessionDesktop', () => {
  it('reads idle time from powerMonitor on X11, in milliseconds', async () => {
    const desktop = sessionDesktop(() => 7, os, false);
    expect(await desktop.readIdleMs()).toEqual({ ok: true, value: 7000 });
    expect(await desktop.readInhibitors()).toEqual({
      ok: true,
      value: { inhibited: true, holders: ['vlc'] },
    });
  });

  it('on Wayland uses the desktop’s own idle reading (powerMonitor can answer 0 for ever)', async () => {
    const desktop = sessionDesktop(() => 0, os, true);
    expect(await desktop.readIdleMs()).toEqual({ ok: true, value: 42_000 });
  });

  it('a nonsense powerMonitor value is unknown, not idle', async () => {
    expect((await sessionDesktop(() => Number.NaN, os, false).readIdleMs()).ok).toBe(false);
    expect((await sessionDesktop(() => -1, os, false).readIdleMs()).ok).toBe(false);
  });

  it('without an OS desktop, inhibitors are unknown and a lock fails with the reason', async () => {
    const desktop = sessionDesktop(() => 3, null, false);
    expect(await desktop.readIdleMs()).toEqual({ ok: true, value: 3000 });
    expect(await desktop.readInhibitors()).toEqual({
      ok: false,
      reason: 'the idle lock is not built for this OS yet',
    });
    expect(await desktop.lock()).toEqual({
      ok: false,
      attempts: [
        { command: 'none', ok: false, detail: 'the idle lock is not built for this OS yet' },
      ],
    });
  });

  it('says why there is no OS desktop when it is told', async () => {
    const desktop = sessionDesktop(() => 3, null, false, 'cannot read windows-idle.ps1: ENOENT');
    expect(await desktop.readInhibitors()).toEqual({
      ok: false,
      reason: 'cannot read windows-idle.ps1: ENOENT',
    });
    expect((await desktop.lock()).attempts[0]?.detail).toBe('cannot read windows-idle.ps1: ENOENT');
  });
});
