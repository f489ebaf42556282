// Benchmark: the full check pass against its slowest single check run alone, in one run.
// Checks run concurrently, so the pass should cost little more than its slowest probe
// (goal: ratio ≤ 1.2). Also reports the process's peak RSS. Writes bench/RESULTS.md.
import os from 'node:os';
import { allChecks } from '../agent/core/checks/index.ts';
import { runCheck, runChecks } from '../agent/core/checks/run-checks.ts';
import { realHost } from '../agent/core/host.ts';
import { osFromPlatform } from '../agent/core/platform.ts';
import { readDefaultPolicy } from '../agent/core/policy/policy-file.ts';
import { median, recordResults } from './results-file.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const platform = osFromPlatform(process.platform);
if (platform === null) {
  throw new Error(`unsupported platform ${process.platform}`);
}
const policy = await readDefaultPolicy();
const pass = { os: platform, host: realHost, policy };

const alone = new Map<string, number[]>(allChecks.map((c) => [c.id, []]));
const full: number[] = [];
// Warm-up: load modules and fill the OS's caches so round one is not an outlier.
await runChecks({ ...pass, checks: allChecks });
for (let round = 0; round < ROUNDS; round++) {
  // Interleave the single-check runs and the full pass so drift affects both alike.
  for (const check of allChecks) {
    const t0 = performance.now();
    await runCheck(check, pass);
    alone.get(check.id)?.push(performance.now() - t0);
  }
  const t0 = performance.now();
  await runChecks({ ...pass, checks: allChecks });
  full.push(performance.now() - t0);
}

const medians = [...alone].map(([id, times]) => ({ id, ms: median(times) }));
const slowest = medians.reduce((a, b) => (b.ms > a.ms ? b : a));
const fullMs = median(full);
const ratio = fullMs / slowest.ms;
const peakRssMb = process.resourceUsage().maxRSS / 1024;

const lines = [
  `## Check pass (\`npm run bench\`, ${new Date().toISOString().slice(0, 10)})`,
  '',
  `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${process.platform}, Node ${process.version}; median of ${ROUNDS} rounds.`,
  '',
  '| measure | value |',
  '| --- | --- |',
  `| full pass (all ${allChecks.length} checks, concurrent) | ${fullMs.toFixed(1)} ms |`,
  `| slowest single check alone (${slowest.id}) | ${slowest.ms.toFixed(1)} ms |`,
  `| **ratio full / slowest** (goal ≤ 1.2) | **${ratio.toFixed(2)}** |`,
  `| peak RSS of the benchmark process | ${peakRssMb.toFixed(1)} MB |`,
  '',
  'Each check alone (median):',
  '',
  ...medians.map((m) => `- ${m.id}: ${m.ms.toFixed(1)} ms`),
];
const markdown = lines.join('\n');
process.stdout.write(markdown + '\n');
await recordResults('checks', markdown);
