// Picks the idle lock's desktop for the OS the tray runs on, so the Electron main process only
// asks for one: Linux's commands, Windows' session helper (windows-idle.ps1, started once and
// kept), macOS's commands. Every command runs in the fixed probe environment (a PATH of
// admin-only folders), plus the session's own variables on Linux.
import { readAsset } from '../../core/assets.ts';
import { probeEnvironment } from '../../core/probe-environment.ts';
import { powershellArgs } from '../../core/powershell.ts';
import { execRunner, type Runner } from '../../core/runner.ts';
import { darwinIdleDesktop } from './darwin.ts';
import type { IdleDesktop, InhibitorState, Reading } from './desktop.ts';
import { LineChild } from './line-child.ts';
import { linuxIdleDesktop } from './linux.ts';
import { spawnLockCommand } from './lock-command.ts';
import { windowsIdleDesktop } from './windows.ts';

/** Beside the module (and, bundled, beside main.mjs: scripts/build-tray.ts copies it). */
export const WINDOWS_IDLE_SCRIPT = new URL('./windows-idle.ps1', import.meta.url);

/** The OS's desktop, or why there is none; `stop` ends any helper it started. */
export type OsDesktop =
  { ok: true; desktop: IdleDesktop; stop: () => void } | { ok: false; reason: string };

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/**
 * Builds the desktop for `platform`; `sessionEnv` is the Linux session's variables;
 * `displayRequests` asks the service for Windows' display power requests (windows.ts).
 */
export async function osIdleDesktop(
  platform: NodeJS.Platform,
  sessionEnv: Record<string, string>,
  run: Runner = execRunner,
  displayRequests?: () => Promise<Reading<InhibitorState>>,
): Promise<OsDesktop> {
  const none = () => undefined;
  switch (platform) {
    case 'linux':
      return {
        ok: true,
        desktop: linuxIdleDesktop({ run, runLock: spawnLockCommand, sessionEnv }),
        stop: none,
      };
    case 'darwin': {
      const uid = process.getuid?.();
      if (uid === undefined) {
        return { ok: false, reason: 'no user id for this process' };
      }
      return { ok: true, desktop: darwinIdleDesktop({ run, uid, sleep }), stop: none };
    }
    case 'win32': {
      let script: string;
      try {
        script = await readAsset(WINDOWS_IDLE_SCRIPT);
      } catch (error) {
        return { ok: false, reason: `cannot read windows-idle.ps1: ${String(error)}` };
      }
      const fixed = probeEnvironment(platform, process.env);
      const helper = new LineChild({
        command: 'powershell.exe',
        args: powershellArgs(script),
        env: fixed.env,
        cwd: fixed.cwd,
        now: () => Date.now(),
        // Add-Type compiles on the first request: seconds on a slow school laptop.
        timeoutMs: 30_000,
      });
      return {
        ok: true,
        desktop: windowsIdleDesktop({ helper, runLock: spawnLockCommand, sleep, displayRequests }),
        stop: () => {
          helper.stop();
        },
      };
    }
    default:
      return { ok: false, reason: `the idle lock is not built for ${platform}` };
  }
}
