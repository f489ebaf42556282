// The idle lock for real on an X session: Xvfb, the real desktop parts (xprintidle, systemd-inhibit,
// gdbus, the lock chain), xdotool as the user and i3lock as the session's locker. Policy minutes
// are shrunk by an injected scale; no verdict depends on how fast this machine is: each step
// waits for an observed event, and the warning that input must cancel is a minute long.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execRunner } from '../../../../agent/core/runner.ts';
import {
  IdleLockController,
  type IdleLockListener,
} from '../../../../agent/tray/idle/controller.ts';
import type { LockAttempt } from '../../../../agent/tray/idle/desktop.ts';
import { idleLockTimings } from '../../../../agent/tray/idle/idle-lock.ts';
import { linuxIdleDesktop } from '../../../../agent/tray/idle/linux.ts';
import { spawnLockCommand } from '../../../../agent/tray/idle/lock-command.ts';
import { startXvfb, type Xvfb } from '../../../helpers/xvfb.ts';

const exec = promisify(execFile);
const user = { name: 'pupil1', groups: ['pupils'] };
// One policy minute is three seconds; policy seconds stay seconds.
const scale = { msPerMinute: 3_000, msPerSecond: 1_000 };
const policy = (warningSeconds: number) => ({
  enabled: true,
  minutes: 1,
  warningSeconds,
  exempt: { users: [], groups: [] },
});

/** Resolves when `test` holds, checking every 100 ms; the limit only catches a hang. */
async function until(what: string, test: () => boolean, limitMs = 120_000): Promise<void> {
  const start = Date.now();
  while (!test()) {
    if (Date.now() - start > limitMs) {
      throw new Error(`gave up waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface Seen {
  warnings: (number | null)[];
  locked: string[];
  lockFailures: LockAttempt[];
  readFailures: string[];
}

describe.skipIf(process.platform !== 'linux')('idle lock on a real X session', () => {
  let x: Xvfb;
  beforeAll(async () => {
    x = await startXvfb();
  });
  afterAll(async () => {
    // i3lock exits when its X server goes away.
    await x.stop();
  });

  it('warns on real idle time, xdotool input cancels it, and after the idle period i3lock covers the screen', async () => {
    const env = { DISPLAY: x.display };
    const seen: Seen = { warnings: [], locked: [], lockFailures: [], readFailures: [] };
    const listener: IdleLockListener = {
      warning: (ms) => seen.warnings.push(ms),
      locked: (outcome) => seen.locked.push(outcome.via),
      lockFailed: (attempts) => seen.lockFailures.push(...attempts),
      readingFailed: (what, reason) => seen.readFailures.push(`${what}: ${reason}`),
    };
    const desktop = linuxIdleDesktop({
      run: execRunner,
      runLock: spawnLockCommand,
      sessionEnv: env,
      lockCommands: [
        // A real logind call that cannot succeed (no such session, or no logind at all in a
        // container), so the failure path runs for real and never locks a developer's desktop.
        { command: 'loginctl', args: ['lock-session', 'hallpass-test-no-such-session'] },
        { command: 'i3lock', args: ['--color', '203040'] },
      ],
    });
    const controller = new IdleLockController({
      desktop,
      timings: idleLockTimings(policy(60), user, scale),
      now: Date.now,
      timers: { setTimeout, clearTimeout },
      listener,
      machine: { maxPollMs: 500, warningTickMs: 500, gapMs: 10 * 60_000 },
    });
    controller.start();
    try {
      // 1. Untouched, the session reaches the idle period: a warning with a minute to run.
      await until('the warning', () => seen.warnings.some((w) => w !== null));
      expect(controller.phase).toBe('warning');

      // 2. The user moves the mouse: the X idle counter falls back and the warning goes.
      await exec('xdotool', ['mousemove', '--sync', '123', '77'], {
        env: { ...process.env, ...env },
      });
      await until('the warning to be cancelled', () => seen.warnings.at(-1) === null);
      expect(controller.phase).toBe('active');
      expect(seen.locked).toEqual([]);

      // 3. A policy change to a one-second warning; left alone again, the session locks.
      controller.setTimings(idleLockTimings(policy(1), user, scale));
      await until('the lock', () => seen.locked.length > 0);
      expect(seen.locked).toEqual(['i3lock --color 203040']);
      expect(controller.phase).toBe('locked');

      // The failed logind call was reported, not ignored.
      expect(seen.lockFailures).toHaveLength(1);
      expect(seen.lockFailures[0]).toMatchObject({
        command: 'loginctl lock-session hallpass-test-no-such-session',
        ok: false,
      });
      expect(seen.readFailures.filter((f) => f.startsWith('idle'))).toEqual([]);
    } finally {
      await controller.stop();
    }

    // 4. The real locker is mapped over the whole screen.
    const tree = await exec('xwininfo', ['-root', '-children'], {
      env: { ...process.env, ...env },
    });
    const id = /^\s+(0x[0-9a-f]+) "i3lock"/m.exec(tree.stdout)?.[1];
    expect(id, tree.stdout).toBeDefined();
    const info = await exec('xwininfo', ['-id', id ?? ''], { env: { ...process.env, ...env } });
    expect(info.stdout).toMatch(/Map State: IsViewable/);
    expect(info.stdout).toMatch(new RegExp(`Width: ${x.width}\\n`));
    expect(info.stdout).toMatch(new RegExp(`Height: ${x.height}\\n`));
    expect(info.stdout).toMatch(/Absolute upper-left X:\s+0\n/);
    expect(info.stdout).toMatch(/Absolute upper-left Y:\s+0\n/);
  });
});
