// Benchmark: what the agent service costs a pupil's laptop. Writes bench/RESULTS.md.
//
// 1. Idle: the real server in this process (PGlite in a temp folder) and two real `hallpass
//    service` child processes, each enrolled by its config's token: the packaged single
//    executable (dist/agent/hallpass, built by `npm run build:agent`, rebuilt here when missing or
//    older than the sources) and the unpackaged `node agent/cli.ts service`. Once both have
//    delivered their first check pass, their RSS (/proc/<pid>/status) and CPU time
//    (/proc/<pid>/stat) are sampled over a 60 s window with no check pass or heartbeat in it
//    (goal ≤ 50 MB, ≤ 0.1 % of one core), next to a bare `node` process and the floor
//    (bench/agent-floor.ts: only what any agent must do, on this Node) in the same window.
// 2. Check cycles: a child process builds the service exactly as `hallpass service` does
//    (runService) and runs passes back to back against the same server, each one reported and
//    delivered, sampling RSS and heap after a forced GC (goal: no growth between cycle 100 and
//    the last); once with Node's default V8 flags, once with the flags the executable bakes in.
//    Each pass spawns the probes' commands, so a time budget caps the count.
// 3. Where the RSS goes: fresh processes that only load modules, unpackaged (type stripping) and
//    bundled as in the executable (esbuild, with its V8 flags).
//
// BENCH_IDLE_SECONDS (60), BENCH_CYCLES (1000) and BENCH_CYCLE_SECONDS (300) set the sizes;
// BENCH_FLOOR_NODES (colon-separated paths) runs the floor on other Node binaries too.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allChecks } from '../agent/core/checks/index.ts';
import { defaultAgentConfig } from '../agent/core/config/agent-config.ts';
import { realHost } from '../agent/core/host.ts';
import { ipcRequest } from '../agent/service/ipc-server.ts';
import { runService } from '../agent/service/run-service.ts';
import { readPolicyFile } from '../agent/core/policy/policy-file.ts';
import { defaultServerConfig } from '../server/config.ts';
import { startServer } from '../server/main.ts';
import { ensureDeviceGroup, ensureSchool } from '../server/store/organisation.ts';
import { uploadPolicy } from '../server/store/policies.ts';
import { createEnrolmentToken } from '../server/store/tokens.ts';
import type { AgentStatus } from '../shared/index.ts';
import { build } from 'esbuild';
import {
  buildAgent,
  bundleOptions,
  DEFAULT_EXECUTABLE,
  SEA_EXEC_ARGV,
} from '../scripts/build-agent.ts';
import { recordResults } from './results-file.ts';

const root = new URL('../', import.meta.url).pathname;
const MB = 1024 * 1024;
const CHILD_FLAG = '--cycles-child';

/** One memory sample of the cycles child, after a forced GC. */
interface CycleSample {
  cycle: number;
  seconds: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** Resident pages of glibc malloc's main arena ([heap] in /proc/self/smaps). */
  mallocHeap: number;
  cpuMs: number;
}

/** What the cycles child reports when done. */
interface CycleReport {
  samples: CycleSample[];
  cycles: number;
  seconds: number;
  deviceId: string | null;
  outbox: { reports: number; events: number };
  lastDeliveryError: string | null;
}

if (process.argv.includes(CHILD_FLAG)) {
  await cyclesChild();
} else {
  await main();
}

async function main(): Promise<void> {
  const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
  const loadAtStart = os.loadavg()[0] ?? 0;
  const work = await mkdtemp(join(tmpdir(), 'hallpass-bench-'));
  const say = (text: string) => process.stderr.write(`[service bench] ${text}\n`);
  const server = await startServer({
    ...defaultServerConfig,
    port: 0,
    dataDir: join(work, 'server'),
    logLevel: 'silent',
    // Every report kept raw, so the benchmark can count what was delivered.
    reportStorage: 'all',
  });
  try {
    const school = await ensureSchool(server.db, 'Northgate Primary');
    const group = await ensureDeviceGroup(server.db, 'Pupil laptops');
    const policy = await readPolicyFile(join(root, 'agent/core/policy/example-policy.yaml'));
    await server.db.transaction((tx) =>
      uploadPolicy(tx, { groupId: group.id, policy, uploadedBy: null }),
    );
    // Four devices (the two idle services, the two cycle runs); a service starting unenrolled
    // was seen to use the token twice (two enrolments racing), hence the headroom.
    const { token } = await createEnrolmentToken(server.db, {
      schoolId: school.id,
      groupId: group.id,
      label: 'bench',
      expiresAt: new Date(Date.now() + 86_400_000),
      maxUses: 10,
      createdBy: null,
    });

    // --- 1. Idle ------------------------------------------------------------------------------
    const executable = await packagedAgent(say);
    const homes = { sea: join(work, 'idle-sea'), node: join(work, 'idle-node') };
    const services: { sea: ServiceChild; node: ServiceChild } = {
      sea: await startService(homes.sea, server.url, token, (args) =>
        spawnDraining(executable, args),
      ),
      node: await startService(homes.node, server.url, token, (args) =>
        spawnDraining(process.execPath, [join(root, 'agent/cli.ts'), ...args]),
      ),
    };
    say('started the packaged and the unpackaged `hallpass service` and a bare node process…');
    const bare = spawnDraining(process.execPath, ['-e', 'setInterval(() => {}, 1e9)']);
    const floorBundle = await bundleFloor(work);
    const floorNodes = [process.execPath, ...extraFloorNodes()];
    const floors = floorNodes.map((binary, i) =>
      spawnDraining(binary, [
        ...SEA_EXEC_ARGV,
        floorBundle,
        server.url,
        join(work, `floor-${i}.sock`),
      ]),
    );
    let idle: IdleFigures;
    try {
      await Promise.all(floors.map((floor) => waitForOutput(floor, 'ready')));
      const firsts = await Promise.all(
        [services.sea, services.node].map((service) =>
          waitForStatus(service.ipcPath, service.child, (s) =>
            s.lastCheckAt !== null && s.lastDeliveryAt !== null && s.outbox.reports === 0
              ? s
              : null,
          ),
        ),
      );
      say(`first passes delivered; sampling ${idleSeconds} s of idle…`);
      await sleep(1000);
      idle = await sampleIdle(
        [services.sea.child, services.node.child, bare, ...floors],
        idleSeconds,
      );
      idle.floorNodes = floorNodes.map((binary) =>
        execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim(),
      );
      for (const [i, service] of [services.sea, services.node].entries()) {
        const first = firsts[i];
        const after = await ipcRequest(service.ipcPath, 'status:get', 5000);
        const last = after.ok ? after.status : null;
        idle.windows.push({
          passes: last === null ? null : last.lastCheckAt === first?.lastCheckAt ? 0 : '≥ 1',
          deliveries:
            last === null ? null : last.lastDeliveryAt === first?.lastDeliveryAt ? 0 : '≥ 1',
        });
      }
    } finally {
      await stop(services.sea.child);
      await stop(services.node.child);
      await stop(bare);
      for (const floor of floors) {
        await stop(floor);
      }
    }

    // --- 2. Check cycles ----------------------------------------------------------------------
    const cycleRuns: { flags: readonly string[]; report: CycleReport; receipts: number }[] = [];
    for (const [i, flags] of [[], SEA_EXEC_ARGV].entries()) {
      const cyclesState = join(work, `cycles-${i}`, 'state');
      await mkdir(cyclesState, { recursive: true, mode: 0o700 });
      // The os-updates result the idle service cached (apt-get, seconds): the cycles then run
      // only the fast checks, as the service does between its daily slow runs.
      await copyFile(
        join(homes.node, 'state', 'slow-checks.json'),
        join(cyclesState, 'slow-checks.json'),
      );
      say(`running check cycles in a child process (V8 flags: ${flags.join(' ') || 'none'})…`);
      const report = await runCyclesChild({
        serverUrl: server.url,
        token,
        stateDir: cyclesState,
        ipcPath: join(work, `cycles-${i}`, 'agent.sock'),
        flags,
        say,
      });
      const receipts = await server.db.query<{ n: string }>(
        'select count(*)::text as n from reports where device_id = $1',
        [report.deviceId ?? ''],
      );
      cycleRuns.push({ flags, report, receipts: Number(receipts[0]?.n ?? 0) });
    }

    // --- 3. Where the RSS goes ----------------------------------------------------------------
    say('measuring module load costs…');
    const modules = await moduleCosts(work);

    const markdown = render({
      idle,
      load: [loadAtStart, os.loadavg()[0] ?? 0],
      cycleRuns,
      modules,
    });
    process.stdout.write(markdown + '\n');
    await recordResults('service', markdown);
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Idle sampling

interface ProcSample {
  rssKb: number;
  anonKb: number;
  fileKb: number;
  hwmKb: number;
  ticks: number;
}

async function readProc(pid: number): Promise<ProcSample> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is field 3, utime 14 and stime 15 (proc(5)).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    rssKb: kb('VmRSS'),
    anonKb: kb('RssAnon'),
    fileKb: kb('RssFile'),
    hwmKb: kb('VmHWM'),
    ticks: Number(fields[11]) + Number(fields[12]),
  };
}

interface IdleProcess {
  start: ProcSample;
  end: ProcSample;
  maxRssKb: number;
  cpuPercent: number;
  /** Resident main malloc arena at the end of the window. */
  mallocHeapKb: number;
  /** CPU ticks, by second of the window in which they were spent. */
  ticks: { second: number; ticks: number }[];
}

interface IdleFigures {
  /**
   * In the order sampled: the executable, the unpackaged service, bare node, then the floor
   * (bench/agent-floor.ts) on each of `floorNodes`.
   */
  processes: IdleProcess[];
  /** `--version` of the Node binaries the floor ran on; this process's first. */
  floorNodes: string[];
  ticksPerSecond: number;
  windowSeconds: number;
  /** Check passes and deliveries in the window, per service. */
  windows: { passes: number | string | null; deliveries: number | string | null }[];
}

async function sampleIdle(children: ChildProcess[], seconds: number): Promise<IdleFigures> {
  const ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  const pids = children.map((c) => c.pid ?? 0);
  const t0 = performance.now();
  const starts = await Promise.all(pids.map(readProc));
  const max = starts.map((s) => s.rssKb);
  const ticks = pids.map((): { second: number; ticks: number }[] => []);
  let ends = starts;
  for (let i = 1; i <= seconds; i++) {
    await sleep(t0 + i * 1000 - performance.now());
    const previous = ends;
    ends = await Promise.all(pids.map(readProc));
    ends.forEach((s, j) => {
      max[j] = Math.max(max[j] ?? 0, s.rssKb);
      const spent = s.ticks - (previous[j]?.ticks ?? 0);
      if (spent > 0) {
        ticks[j]?.push({ second: i, ticks: spent });
      }
    });
  }
  const windowSeconds = (performance.now() - t0) / 1000;
  const processes = await Promise.all(
    pids.map(async (pid, j): Promise<IdleProcess> => {
      const start = starts[j] as ProcSample;
      const end = ends[j] as ProcSample;
      const cpuSeconds = (end.ticks - start.ticks) / ticksPerSecond;
      return {
        start,
        end,
        maxRssKb: max[j] ?? 0,
        cpuPercent: (100 * cpuSeconds) / windowSeconds,
        mallocHeapKb: (await mallocHeapBytes(pid)) / 1024,
        ticks: ticks[j] ?? [],
      };
    }),
  );
  return { processes, ticksPerSecond, windowSeconds, windows: [], floorNodes: [] };
}

/** A `hallpass service` child process and where it answers. */
interface ServiceChild {
  child: ChildProcess & { output: () => string };
  ipcPath: string;
}

/** Starts `hallpass service` in `home` with default settings (start-up jitter 0). */
async function startService(
  home: string,
  serverUrl: string,
  token: string,
  spawnWith: (args: string[]) => ChildProcess & { output: () => string },
): Promise<ServiceChild> {
  await mkdir(home, { recursive: true });
  const ipcPath = join(home, 'agent.sock');
  const configFile = join(home, 'agent.json');
  // Defaults (heartbeat every 5 min, info logging, the policy's 15 min interval) except the
  // start-up jitter, which would only delay the first delivery.
  await writeFile(
    configFile,
    // usbGuard off: the bench runs on the host, whose USB authorisation it must not change.
    JSON.stringify({
      serverUrl,
      enrolmentToken: token,
      ipcPath,
      startupJitterSeconds: 0,
      usbGuard: false,
    }),
    // It holds the token: the service refuses a config file with a token that others can read.
    { mode: 0o600 },
  );
  const child = spawnWith(['service', '--config', configFile, '--state-dir', join(home, 'state')]);
  return { child, ipcPath };
}

/** dist/agent/hallpass, (re)built when missing or older than the code it packages. */
async function packagedAgent(say: (text: string) => void): Promise<string> {
  const built = await stat(DEFAULT_EXECUTABLE).then(
    (s) => s.mtimeMs,
    () => 0,
  );
  if (built < (await newestSource())) {
    say('building the single executable (npm run build:agent)…');
    await buildAgent();
  }
  // A binary written moments ago measured up to 16 MB more file-backed RSS in the processes
  // that mapped it than after its page cache was dropped (then it is read back as any installed
  // binary is). Drop it, for the executable and for node alike: `dd iflag=nocache count=0` is
  // posix_fadvise(POSIX_FADV_DONTNEED) on the whole file (GNU coreutils dd); pages that running
  // processes have mapped stay.
  for (const file of [DEFAULT_EXECUTABLE, process.execPath]) {
    execFileSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
  }
  return DEFAULT_EXECUTABLE;
}

/** The latest modification time of the agent's sources and what the build uses. */
async function newestSource(): Promise<number> {
  let newest = 0;
  for (const dir of ['agent', 'shared']) {
    for (const name of await readdir(join(root, dir), { recursive: true })) {
      newest = Math.max(newest, (await stat(join(root, dir, name))).mtimeMs);
    }
  }
  for (const file of ['package-lock.json', 'scripts/build-agent.ts']) {
    newest = Math.max(newest, (await stat(join(root, file))).mtimeMs);
  }
  return newest;
}

// ---------------------------------------------------------------------------------------------
// Check cycles

async function runCyclesChild(options: {
  serverUrl: string;
  token: string;
  stateDir: string;
  ipcPath: string;
  /** V8 flags for the child, besides --expose-gc. */
  flags: readonly string[];
  say: (text: string) => void;
}): Promise<CycleReport> {
  const child = spawn(
    process.execPath,
    ['--expose-gc', ...options.flags, new URL(import.meta.url).pathname, CHILD_FLAG],
    {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: {
        ...process.env,
        BENCH_SERVER_URL: options.serverUrl,
        BENCH_TOKEN: options.token,
        BENCH_STATE_DIR: options.stateDir,
        BENCH_IPC_PATH: options.ipcPath,
      },
    },
  );
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const result: { report: CycleReport | null } = { report: null };
  child.on('message', (message: { progress?: CycleSample; done?: CycleReport }) => {
    if (message.progress !== undefined) {
      const p = message.progress;
      options.say(
        `cycle ${p.cycle} at ${p.seconds.toFixed(0)} s: RSS ${(p.rss / MB).toFixed(1)} MB, heap ${(p.heapUsed / MB).toFixed(1)} MB`,
      );
    }
    if (message.done !== undefined) {
      result.report = message.done;
    }
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (result.report === null || code !== 0) {
    throw new Error(`the cycles child failed (exit ${String(code)}):\n${tail}`);
  }
  return result.report;
}

/** Child: the service as `hallpass service` builds it, passes back to back. */
async function cyclesChild(): Promise<void> {
  const env = (name: string) => {
    const value = process.env[name];
    if (value === undefined) {
      throw new Error(`${name} is not set`);
    }
    return value;
  };
  const gc = globalThis.gc;
  if (gc === undefined) {
    throw new Error('run with --expose-gc');
  }
  const maxCycles = Number(process.env.BENCH_CYCLES ?? 1000);
  const budgetMs = Number(process.env.BENCH_CYCLE_SECONDS ?? 300) * 1000;
  const running = await runService({
    os: 'linux',
    host: realHost,
    config: {
      ...defaultAgentConfig('linux'),
      serverUrl: env('BENCH_SERVER_URL'),
      enrolmentToken: env('BENCH_TOKEN'),
      stateDir: env('BENCH_STATE_DIR'),
      ipcPath: env('BENCH_IPC_PATH'),
      startupJitterSeconds: 0,
    },
    agentVersion: '0.0.0-bench',
    checks: allChecks,
  });
  const { service } = running;
  // start() runs the first pass and delivers it; the cycles begin after that.
  while (service.status().lastDeliveryAt === null) {
    await sleep(100);
  }
  await service.settled();
  const send = (message: unknown) => process.send?.(message);
  const samples: CycleSample[] = [];
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const checkpoints = new Set([10, 100, 250, 500, 750, 1000]);
  let cycle = 0;
  while (cycle < maxCycles) {
    cycle++;
    await service.runPass();
    await service.settled();
    const elapsed = performance.now() - t0;
    const last = cycle === maxCycles || elapsed > budgetMs;
    if (checkpoints.has(cycle) || cycle % 25 === 0 || last) {
      gc();
      const memory = process.memoryUsage();
      const used = process.cpuUsage(cpu0);
      const sample = {
        cycle,
        seconds: elapsed / 1000,
        rss: memory.rss,
        heapUsed: memory.heapUsed,
        heapTotal: memory.heapTotal,
        external: memory.external,
        mallocHeap: await mallocHeapBytes(),
        cpuMs: (used.user + used.system) / 1000,
      };
      samples.push(sample);
      if (checkpoints.has(cycle) || cycle % 100 === 0 || last) {
        send({ progress: sample });
      }
    }
    if (last) {
      break;
    }
  }
  const status = service.status();
  await running.stop();
  const report: CycleReport = {
    samples,
    cycles: cycle,
    seconds: (performance.now() - t0) / 1000,
    deviceId: status.deviceId,
    outbox: status.outbox,
    lastDeliveryError: status.lastDeliveryError,
  };
  send({ done: report });
  process.disconnect();
}

async function mallocHeapBytes(pid: number | 'self' = 'self'): Promise<number> {
  const smaps = await readFile(`/proc/${pid}/smaps`, 'utf8');
  const heap = /\[heap\]\n(?:.*\n)*?Rss:\s+(\d+) kB/.exec(smaps);
  return Number(heap?.[1] ?? 0) * 1024;
}

// ---------------------------------------------------------------------------------------------
// Module load costs

interface Memory {
  rss: number;
  heapUsed: number;
}

interface ModuleCost {
  label: string;
  /** Imported from source, as `node agent/cli.ts` does (type stripping for `.ts`). */
  unpackaged: Memory;
  /** Bundled as in the executable (esbuild), run with the executable's V8 flags. */
  bundled: Memory;
}

async function moduleCosts(work: string): Promise<ModuleCost[]> {
  // Cumulative: each row loads what the rows above it loaded, plus its own modules.
  const steps: [string, string[]][] = [
    ['bare `node`', []],
    ['+ one small `.ts` file (type stripping)', ['./bench/results-file.ts']],
    ['+ typebox, typebox/value', ['typebox', 'typebox/value']],
    ['+ pino', ['pino']],
    ['+ systeminformation', ['systeminformation']],
    ['+ `shared/` (schemas, validation)', ['./shared/index.ts']],
    [
      '+ the rest of the service (run-service.ts, checks)',
      ['./agent/service/run-service.ts', './agent/core/checks/index.ts'],
    ],
  ];
  const imports = steps.map(
    ([label], i) => [label, steps.slice(0, i + 1).flatMap(([, s]) => s)] as const,
  );
  const report = [
    'gc();',
    'const m = process.memoryUsage();',
    'process.stdout.write(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed }));',
  ];
  const costs: ModuleCost[] = [];
  for (const [label, specifiers] of imports) {
    const script = [
      ...specifiers.map((s) => `await import(${JSON.stringify(s)});`),
      ...report,
    ].join('\n');
    const unpackaged = await measure(label, ['--input-type=module', '-e', script]);
    // Namespaces kept on globalThis, or esbuild would drop modules nothing uses.
    const entry = [
      ...specifiers.map((s, i) => `import * as m${i} from ${JSON.stringify(s)};`),
      `Object.assign(globalThis, { loaded: [${specifiers.map((_, i) => `m${i}`).join(', ')}] });`,
      ...report,
    ].join('\n');
    const bundle = join(work, 'module-cost.cjs');
    await build({
      ...bundleOptions(new Set()),
      stdin: { contents: entry, resolveDir: root, loader: 'ts' },
      outfile: bundle,
    });
    const bundled = await measure(label, [...SEA_EXEC_ARGV, bundle]);
    costs.push({ label, unpackaged, bundled });
  }
  return costs;
}

function measure(label: string, args: string[]): Promise<Memory> {
  return new Promise<Memory>((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.once('exit', (code) => {
      if (code === 0) {
        resolve(JSON.parse(text) as Memory);
      } else {
        reject(new Error(`${label}: exit ${String(code)}`));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Report

/** Least-squares slope of y over x. */
function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

function render(input: {
  idle: IdleFigures;
  /** 1-minute load average at the start and the end of the run. */
  load: [number, number];
  cycleRuns: { flags: readonly string[]; report: CycleReport; receipts: number }[];
  modules: ModuleCost[];
}): string {
  const { idle, modules } = input;
  const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;
  const bytesMb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
  const [sea, node, bare, floor, ...otherFloors] = idle.processes as [
    IdleProcess,
    IdleProcess,
    IdleProcess,
    IdleProcess,
    ...IdleProcess[],
  ];
  const tick = (100 / idle.ticksPerSecond / idle.windowSeconds).toFixed(3);
  const row = (
    label: string,
    pick: (p: IdleProcess) => string,
    ratio?: (p: IdleProcess) => number,
  ) =>
    `| ${label} | ${pick(sea)} | ${pick(node)} | ${pick(floor)} | ${pick(bare)} |${ratio === undefined ? ' | |' : ` ${(ratio(sea) / ratio(floor)).toFixed(2)} | ${(ratio(sea) / ratio(bare)).toFixed(2)} |`}`;
  const bold = (text: string) => `**${text}**`;
  const ticksOf = (p: IdleProcess) =>
    p.ticks.map((t) => `${t.second} s: ${t.ticks}`).join(', ') || 'none';
  const flags = SEA_EXEC_ARGV.map((f) => `\`${f}\``).join(' ');

  const lines = [
    `## Service (\`npm run bench\`, ${new Date().toISOString().slice(0, 10)})`,
    '',
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${process.platform}, Node ${process.version}; load average ${input.load[0].toFixed(1)} at the start, ${input.load[1].toFixed(1)} at the end (the machine is shared: other work shifts the timings). The real server (PGlite) in the benchmark process; two real \`hallpass service\` processes (default settings, start-up jitter 0), each enrolled by its config's token: the single executable \`dist/agent/hallpass\` (\`npm run build:agent\`: esbuild bundle in Node ${process.version}'s binary, V8 flags ${flags}) and the unpackaged \`node agent/cli.ts service\` (type stripping, default flags).`,
    '',
    `### Idle (${idle.windowSeconds.toFixed(1)} s window after both had delivered their first pass)`,
    '',
    `Check passes in the window: ${idle.windows.map((w) => String(w.passes)).join(' (executable), ')} (unpackaged); deliveries (incl. heartbeat): ${idle.windows.map((w) => String(w.deliveries)).join(' (executable), ')} (unpackaged). CPU from /proc/<pid>/stat at ${idle.ticksPerSecond} ticks/s: one tick in this window is ${tick} % of a core. The page cache of both binaries was dropped before the start (a just-written executable otherwise measured up to 16 MB more file-backed RSS).`,
    '',
    `The floor (\`bench/agent-floor.ts\`, bundled, the executable's V8 flags) is a process that does only what any agent service must, and nothing of Hallpass: it listens on a Unix socket, runs \`uname\`, writes and fsyncs a file, signs a JSON body with a P-256 key and POSTs it with node:http (node:https loaded, as the agent's transport loads it), then idles. What the executable holds above the floor is Hallpass; the floor itself is the runtime's.`,
    '',
    '| measure | `dist/agent/hallpass service` (executable) | `node agent/cli.ts service` (unpackaged) | floor | bare `node -e setInterval` | ratio executable / floor | ratio executable / bare |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row(
      'RSS at start of window',
      (p) => mb(p.start.rssKb),
      (p) => p.start.rssKb,
    ),
    row(
      'RSS at end of window',
      (p) => mb(p.end.rssKb),
      (p) => p.end.rssKb,
    ),
    row(
      bold('max RSS in window') + ' (goal ≤ 50 MB)',
      (p) => (p === sea || p === node ? bold(mb(p.maxRssKb)) : mb(p.maxRssKb)),
      (p) => p.maxRssKb,
    ),
    row(
      'of which anonymous / file-backed (end)',
      (p) => `${mb(p.end.anonKb)} / ${mb(p.end.fileKb)}`,
    ),
    row("of which malloc's main arena `[heap]` (end)", (p) => mb(p.mallocHeapKb)),
    row(
      'peak RSS since start (VmHWM, incl. first pass)',
      (p) => mb(p.end.hwmKb),
      (p) => p.end.hwmKb,
    ),
    row(bold('CPU, % of one core') + ' (goal ≤ 0.1 %)', (p) =>
      p === sea || p === node
        ? bold(`${p.cpuPercent.toFixed(3)} %`)
        : `${p.cpuPercent.toFixed(3)} %`,
    ),
    '',
    `Seconds of the window in which the services used CPU (second: ticks): executable ${ticksOf(sea)}; unpackaged ${ticksOf(node)}.`,
    '',
    ...(otherFloors.length === 0
      ? []
      : [
          `The floor on other Node binaries (BENCH_FLOOR_NODES), same window and flags:`,
          '',
          '| Node | max RSS in window | anonymous / file-backed (end) |',
          '| --- | --- | --- |',
          ...[floor, ...otherFloors].map(
            (p, i) =>
              `| ${idle.floorNodes[i] ?? '?'} | ${mb(p.maxRssKb)} | ${mb(p.end.anonKb)} / ${mb(p.end.fileKb)} |`,
          ),
          '',
        ]),
    ...input.cycleRuns.flatMap((run) => renderCycles(run, bytesMb)),
    '### Where the RSS goes',
    '',
    `Fresh processes that only import modules, each row adding to the row above; RSS after \`gc()\`. Unpackaged: \`import()\` of the sources under Node's type stripping, default flags. Bundled: the same imports bundled by esbuild as \`npm run build:agent\` does, run with the executable's flags (${flags}).`,
    '',
    '| loaded | unpackaged RSS | added by this row | V8 heap used | bundled RSS | added by this row | V8 heap used |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...modules.map((m, i) => {
      const before = modules[i - 1] ?? m;
      return `| ${m.label} | ${bytesMb(m.unpackaged.rss)} | +${bytesMb(m.unpackaged.rss - before.unpackaged.rss)} | ${bytesMb(m.unpackaged.heapUsed)} | ${bytesMb(m.bundled.rss)} | +${bytesMb(m.bundled.rss - before.bundled.rss)} | ${bytesMb(m.bundled.heapUsed)} |`;
    }),
    `| **whole service over bare \`node\`** | | **+${bytesMb((modules.at(-1)?.unpackaged.rss ?? 0) - (modules[0]?.unpackaged.rss ?? 0))}** | | | **+${bytesMb((modules.at(-1)?.bundled.rss ?? 0) - (modules[0]?.bundled.rss ?? 0))}** | |`,
  ];
  return lines.join('\n');
}

function renderCycles(
  run: { flags: readonly string[]; report: CycleReport; receipts: number },
  bytesMb: (bytes: number) => string,
): string[] {
  const cycles = run.report;
  const checkpoints = new Set([10, 100, 250, 500, 750, 1000, cycles.cycles]);
  const shown = cycles.samples.filter((x) => checkpoints.has(x.cycle));
  const from = cycles.samples.find((x) => x.cycle === 100) ?? cycles.samples[0];
  const to = cycles.samples.at(-1);
  const trend = cycles.samples.filter((x) => x.cycle >= 100);
  const perHundred = (pick: (x: CycleSample) => number) =>
    trend.length < 2 ? 0 : 100 * slope(trend.map((x) => ({ x: x.cycle, y: pick(x) })));
  const msPerCycle = to === undefined ? 0 : (to.seconds * 1000) / to.cycle;
  const cpuPerCycle = to === undefined ? 0 : to.cpuMs / to.cycle;
  const flags =
    run.flags.length === 0
      ? "Node's default V8 flags"
      : `the executable's V8 flags (${run.flags.map((f) => `\`${f}\``).join(' ')})`;
  return [
    `### Check cycles, ${flags} (${cycles.cycles} passes in ${cycles.seconds.toFixed(0)} s)`,
    '',
    `A child process built with \`runService\` (as \`hallpass service\`, unpackaged), os-updates served from the slow-check cache (as between its daily runs), the other ${allChecks.length - 1} checks and the device facts run for real each pass; each report queued in the outbox and delivered to the server before the next pass. Memory after \`gc()\`. ${cycles.cycles < 1000 ? `**Only ${cycles.cycles} of 1,000 passes fitted the time budget** (each pass spawns the probes' commands: ${msPerCycle.toFixed(0)} ms a pass here); set BENCH_CYCLE_SECONDS to run all 1,000.` : ''}`,
    '',
    `Server holds ${run.receipts} reports from this device (${cycles.cycles + 1} passes incl. the start-up one); outbox at the end: ${cycles.outbox.reports} reports, ${cycles.outbox.events} events; last delivery error: ${cycles.lastDeliveryError ?? 'none'}. **${msPerCycle.toFixed(0)} ms wall and ${cpuPerCycle.toFixed(0)} ms CPU** (service process only) per pass.`,
    '',
    '| cycle | RSS | V8 heap used / total | external | malloc `[heap]` |',
    '| --- | --- | --- | --- | --- |',
    ...shown.map(
      (x) =>
        `| ${x.cycle} | ${bytesMb(x.rss)} | ${bytesMb(x.heapUsed)} / ${bytesMb(x.heapTotal)} | ${bytesMb(x.external)} | ${bytesMb(x.mallocHeap)} |`,
    ),
    '',
    from !== undefined && to !== undefined
      ? `**Growth from cycle ${from.cycle} to ${to.cycle}** (goal: no trend): RSS ${to.rss >= from.rss ? '+' : ''}${bytesMb(to.rss - from.rss)} (ratio ${(to.rss / from.rss).toFixed(3)}), heap ${to.heapUsed >= from.heapUsed ? '+' : ''}${bytesMb(to.heapUsed - from.heapUsed)} (ratio ${(to.heapUsed / from.heapUsed).toFixed(3)}). Least-squares slope over the ${trend.length} samples from cycle 100 (every 25 cycles): RSS ${(perHundred((x) => x.rss) / 1024).toFixed(1)} kB, heap ${(perHundred((x) => x.heapUsed) / 1024).toFixed(1)} kB per 100 passes.`
      : '',
    '',
  ];
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** bench/agent-floor.ts bundled as the agent is (esbuild), so it runs on any Node binary. */
async function bundleFloor(work: string): Promise<string> {
  const outfile = join(work, 'agent-floor.mjs');
  // ESM, not the agent's CommonJS: the floor awaits at top level.
  await build({
    ...bundleOptions(new Set()),
    format: 'esm',
    entryPoints: [join(root, 'bench/agent-floor.ts')],
    outfile,
  });
  return outfile;
}

/**
 * Other Node binaries to run the floor on in the same window (BENCH_FLOOR_NODES, colon-separated
 * paths), e.g. an older Node to compare runtimes; each must exist.
 */
function extraFloorNodes(): string[] {
  const list = (process.env.BENCH_FLOOR_NODES ?? '').split(':').filter((p) => p !== '');
  for (const binary of list) {
    execFileSync(binary, ['--version']);
    execFileSync('dd', [`if=${binary}`, 'iflag=nocache', 'count=0', 'status=none']);
  }
  return list;
}

/** Resolves once the child has printed `text`; rejects if it exits first or after 60 s. */
async function waitForOutput(
  child: ChildProcess & { output: () => string },
  text: string,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!child.output().includes(text)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`no "${text}" from ${child.spawnargs.join(' ')}:\n${child.output()}`);
    }
    await sleep(100);
  }
}

function spawnDraining(command: string, args: string[]): ChildProcess & { output: () => string } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return Object.assign(child, { output: () => tail });
}

async function waitForStatus(
  ipcPath: string,
  child: ChildProcess & { output: () => string },
  ready: (status: AgentStatus) => AgentStatus | null,
  timeoutMs = 180_000,
): Promise<AgentStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`the service exited (${child.exitCode}):\n${child.output()}`);
    }
    try {
      const answer = await ipcRequest(ipcPath, 'status:get', 5000);
      const status = answer.ok ? ready(answer.status) : null;
      if (status !== null) {
        return status;
      }
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      throw new Error(`no delivered first pass after ${timeoutMs} ms:\n${child.output()}`);
    }
    await sleep(500);
  }
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
