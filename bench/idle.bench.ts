// Benchmark: the tray's idle lock controller (agent/tray/idle/controller.ts) on the real clock
// with real timers. (1) What it costs while watching: CPU time and timers armed per second over a
// window with the user active (input every second) and over a window inside a long warning; the
// desktop here answers from memory, as powerMonitor does, so the figure is the controller's own
// (the Linux inhibitor probes it also runs are commands, measured by the checks' benchmark).
// (2) Deadline → lock: the time from the end of the warning countdown to the moment a real lock
// command (`sh -c 'date +%s%N >> file'`, spawned by the production runner) records that it ran,
// over BENCH_IDLE_LOCKS locks (default 30). Writes bench/RESULTS.md.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { IdleLockController, type Timers } from '../agent/tray/idle/controller.ts';
import type { IdleDesktop } from '../agent/tray/idle/desktop.ts';
import { idleLockTimings } from '../agent/tray/idle/idle-lock.ts';
import { spawnLockCommand } from '../agent/tray/idle/lock-command.ts';
import { recordResults } from './results-file.ts';

const WINDOW_S = Number(process.env.BENCH_IDLE_WINDOW_S ?? 30);
const LOCKS = Number(process.env.BENCH_IDLE_LOCKS ?? 30);
const exemptNone = { users: [], groups: [] };

/** Real timers that count how many were armed. */
function countingTimers(): Timers & { armed: () => number } {
  let armed = 0;
  return {
    setTimeout: (task, ms) => {
      armed++;
      return setTimeout(task, ms);
    },
    clearTimeout: (handle) => {
      clearTimeout(handle as NodeJS.Timeout);
    },
    armed: () => armed,
  };
}

const quiet = {
  warning: () => undefined,
  locked: () => undefined,
  lockFailed: () => undefined,
  readingFailed: () => undefined,
};

/** CPU ms and timers per second of one controller over the window. */
async function watch(
  phase: 'active' | 'warning',
): Promise<{ cpuMs: number; cpuPercent: number; timersPerSecond: number; readings: number }> {
  let lastInput = Date.now();
  let readings = 0;
  const input =
    phase === 'active'
      ? setInterval(() => {
          lastInput = Date.now();
        }, 1000)
      : null;
  const desktop: IdleDesktop = {
    readIdleMs: () => {
      readings++;
      return Promise.resolve({ ok: true, value: Date.now() - lastInput });
    },
    readInhibitors: () => Promise.resolve({ ok: true, value: { inhibited: false, holders: [] } }),
    lock: () => Promise.resolve({ ok: false, attempts: [] }),
  };
  // Active: the school default (15 minutes, 60 s warning). Warning: a 1-minute idle time already
  // passed, with a countdown longer than the window.
  if (phase === 'warning') {
    lastInput = Date.now() - 61_000;
  }
  const timings = idleLockTimings(
    phase === 'active'
      ? { enabled: true, minutes: 15, warningSeconds: 60, exempt: exemptNone }
      : { enabled: true, minutes: 1, warningSeconds: 600, exempt: exemptNone },
    null,
  );
  const timers = countingTimers();
  const controller = new IdleLockController({
    desktop,
    timings,
    now: () => Date.now(),
    timers,
    listener: quiet,
  });
  controller.start();
  // Let it settle into the phase before measuring.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  if (controller.phase !== phase) {
    throw new Error(`controller is ${controller.phase}, not ${phase}`);
  }
  const armedBefore = timers.armed();
  const readingsBefore = readings;
  const cpu = process.cpuUsage();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, WINDOW_S * 1000));
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - started) / 1000;
  if (input !== null) {
    clearInterval(input);
  }
  await controller.stop();
  const cpuMs = (used.user + used.system) / 1000;
  return {
    cpuMs,
    cpuPercent: (cpuMs / (seconds * 1000)) * 100,
    timersPerSecond: (timers.armed() - armedBefore) / seconds,
    readings: readings - readingsBefore,
  };
}

/** Deadline → lock command ran, in ms, for one lock. */
async function oneLock(record: string): Promise<number> {
  const idleSince = Date.now();
  const mark: { deadline: number | null } = { deadline: null };
  let done: (() => void) | null = null;
  const locked = new Promise<void>((resolve) => {
    done = resolve;
  });
  const desktop: IdleDesktop = {
    readIdleMs: () => Promise.resolve({ ok: true, value: Date.now() - idleSince }),
    readInhibitors: () => Promise.resolve({ ok: true, value: { inhibited: false, holders: [] } }),
    lock: async () => {
      const attempt = await spawnLockCommand('sh', ['-c', `date +%s%N >> '${record}'`], {}, 10_000);
      return attempt.ok
        ? { ok: true, via: attempt.command, attempts: [attempt] }
        : { ok: false, attempts: [attempt] };
    },
  };
  const controller = new IdleLockController({
    desktop,
    // 2 s of idleness, then a 3 s warning: the real machine, shortened.
    timings: idleLockTimings(
      { enabled: true, minutes: 1, warningSeconds: 3, exempt: exemptNone },
      null,
      { msPerMinute: 2000, msPerSecond: 1000 },
    ),
    now: () => Date.now(),
    timers: countingTimers(),
    listener: {
      ...quiet,
      warning: (msLeft) => {
        if (msLeft !== null && mark.deadline === null) {
          mark.deadline = Date.now() + msLeft;
        }
      },
      locked: () => done?.(),
      lockFailed: (attempts) => {
        throw new Error(`lock failed: ${JSON.stringify(attempts)}`);
      },
    },
  });
  const recorded = async () =>
    (await readFile(record, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '');
  const before = (await recorded()).length;
  controller.start();
  await locked;
  await controller.stop();
  const lines = await recorded();
  if (lines.length !== before + 1 || mark.deadline === null) {
    throw new Error('the lock command did not record once, or no warning came first');
  }
  const ranAtMs = Number(BigInt(lines.at(-1) ?? '0') / 1_000_000n);
  return ranAtMs - mark.deadline;
}

const percentile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
};

const active = await watch('active');
const warning = await watch('warning');
const dir = await mkdtemp(join(os.tmpdir(), 'hallpass-idle-bench-'));
const latencies: number[] = [];
try {
  for (let i = 0; i < LOCKS; i++) {
    latencies.push(await oneLock(join(dir, 'locks')));
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const cpus = os.cpus();
const row = (name: string, r: Awaited<ReturnType<typeof watch>>) =>
  `| ${name} | ${r.cpuMs.toFixed(1)} ms | ${r.cpuPercent.toFixed(3)} % | ${r.timersPerSecond.toFixed(2)} | ${String(r.readings)} |`;
const fmt = (n: number) => n.toFixed(1);
const markdown = `
## Idle lock controller (\`bench/idle.bench.ts\`, ${new Date().toISOString().slice(0, 10)})

Machine: ${String(cpus.length)} × ${cpus[0]?.model.trim() ?? 'CPU'}, ${process.platform}, Node ${process.version}; load average ${os
  .loadavg()
  .map((l) => l.toFixed(2))
  .join(' ')} at the end. The real controller and state machine on the wall clock and real
timers; the desktop answers from memory as Electron's powerMonitor does. CPU is the whole
benchmark process's over the window (in the active window that includes the timer standing
in for the user's input).

Watching, ${String(WINDOW_S)} s windows (goal: at most one timer a second, no measurable CPU):

| phase | CPU in window | of one core | timers armed per second | readings |
| --- | ---: | ---: | ---: | ---: |
${row('active (school default 15 min / 60 s; input every second)', active)}
${row('warning (countdown longer than the window)', warning)}

Deadline → lock command ran (end of the warning countdown to the time \`sh -c 'date +%s%N >> file'\`,
spawned by the production lock runner, wrote down), ${String(LOCKS)} locks with 2 s idle + 3 s warning:

| p50 | p99 | max |
| ---: | ---: | ---: |
| ${fmt(percentile(latencies, 50))} ms | ${fmt(percentile(latencies, 99))} ms | ${fmt(Math.max(...latencies))} ms |
`;
await recordResults('idle', markdown);
console.log(markdown);
