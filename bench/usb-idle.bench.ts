// Benchmark: what the USB guard costs an idle service. The real `hallpass service` (bundled as
// `npm run build:agent` bundles it) runs in the QEMU guest of the USB tests
// (test/helpers/usb-guest.ts: Debian's kernel, systemd-udevd), enrolled at a real server on this
// host (PGlite), once with `usbGuard: false` and once with `usbGuard: true`, alternately for
// BENCH_USB_IDLE_ROUNDS rounds (default 2). After the service has delivered its first report
// and settled, the observer in the guest reads the CPU ticks and RSS of the service and of every
// process it started (the guard's `udevadm monitor`) from /proc at the start and end of a
// window of BENCH_USB_IDLE_SECONDS (default 120). Nothing is plugged during the window: this is
// the guard watching an idle bus. Writes bench/RESULTS.md.
import os from 'node:os';
import { requireGuest } from '../test/helpers/qemu-guest.ts';
import { buildUsbGuest, observerFields, startUsbGuest } from '../test/helpers/usb-guest.ts';
import { median, recordResults } from './results-file.ts';
import {
  SETTLE_SECONDS,
  serviceSettled,
  startUsbBenchServer,
  until as untilWithin,
} from './usb-service-guest.ts';

const ROUNDS = Number(process.env.BENCH_USB_IDLE_ROUNDS ?? 2);
const WINDOW_SECONDS = Number(process.env.BENCH_USB_IDLE_SECONDS ?? 120);
const TIMEOUT_MS = 300_000;
/** The guest's USER_HZ (Debian's kernel). */
const TICKS_PER_SECOND = 100;

const found = await requireGuest('USB guard idle benchmark');
if (!found.ok) {
  process.exit(0);
}
const support = found;
const server = await startUsbBenchServer('USB idle benchmark', {
  mode: 'block',
  allow: [],
  exempt: { users: [], groups: [] },
});

interface Sample {
  ticks: number;
  rssKb: number;
  treeTicks: number;
  treeRssKb: number;
  treePssKb: number;
  procs: string;
}
interface Round {
  guard: boolean;
  cpuPercent: number;
  treeCpuPercent: number;
  rssMb: number;
  treeRssMb: number;
  treePssMb: number;
  procs: string;
}
type Measure = 'cpuPercent' | 'treeCpuPercent' | 'rssMb' | 'treeRssMb' | 'treePssMb';

const until = <T>(what: string, probe: () => Promise<T | undefined> | T | undefined) =>
  untilWithin(what, probe, TIMEOUT_MS);

async function measure(guard: boolean): Promise<Round> {
  const files = await buildUsbGuest(support.kernel, {}, [], server.guestService(guard));
  const reportsBefore = await server.countReports();
  const vm = await startUsbGuest(support.kernel, support.accel, files, { network: true });
  try {
    const port = vm.serial[1];
    if (port === undefined) {
      throw new Error('no second serial port');
    }
    await serviceSettled(server, reportsBefore, TIMEOUT_MS);
    const sample = async (): Promise<Sample> => {
      const mark = port.all.length;
      await vm.write(1, 'resources\n');
      const line = await until('a resources line', () =>
        port.all.slice(mark).find((text) => text.startsWith('resources ')),
      );
      const f = observerFields(line);
      if (f.pid === 'none') {
        throw new Error('the service is not running in the guest');
      }
      return {
        ticks: Number(f.ticks),
        rssKb: Number(f.rssKb),
        treeTicks: Number(f.treeTicks),
        treeRssKb: Number(f.treeRssKb),
        treePssKb: Number(f.treePssKb),
        procs: f.procs ?? '',
      };
    };
    const start = await sample();
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, WINDOW_SECONDS * 1000));
    const end = await sample();
    const seconds = (performance.now() - t0) / 1000;
    const percent = (ticks: number) => (100 * ticks) / TICKS_PER_SECOND / seconds;
    return {
      guard,
      cpuPercent: percent(end.ticks - start.ticks),
      treeCpuPercent: percent(end.treeTicks - start.treeTicks),
      rssMb: end.rssKb / 1024,
      treeRssMb: end.treeRssKb / 1024,
      treePssMb: end.treePssKb / 1024,
      procs: end.procs,
    };
  } finally {
    await vm.stop();
    await files.remove();
  }
}

try {
  const rounds: Round[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const guard of [false, true]) {
      const result = await measure(guard);
      process.stdout.write(`${JSON.stringify(result)}\n`);
      rounds.push(result);
    }
  }
  const of = (guard: boolean, key: Measure) =>
    median(rounds.filter((r) => r.guard === guard).map((r) => r[key]));
  const tick = (100 / TICKS_PER_SECOND / WINDOW_SECONDS).toFixed(4);
  const row = (name: string, key: Measure) => {
    const off = of(false, key);
    const on = of(true, key);
    const digits = key.endsWith('Percent') ? 3 : 1;
    return `| ${name} | ${off.toFixed(digits)} | ${on.toFixed(digits)} | ${(on - off).toFixed(digits)} |`;
  };
  const procsOn = rounds.find((r) => r.guard)?.procs ?? '';
  const procsOff = rounds.find((r) => !r.guard)?.procs ?? '';
  const markdown = `## USB guard at idle (\`bench/usb-idle.bench.ts\`, ${new Date().toISOString().slice(0, 10)})

The real service (bundled as \`npm run build:agent\` bundles it, run by Node ${process.version})
in the QEMU guest (Debian kernel ${support.kernel.release}, QEMU/${support.accel}, 1 GiB,
systemd-udevd), enrolled at a real server on the host, policy USB mode \`block\`; with the guard
off and on, alternately, ${ROUNDS} round(s) each, medians shown. After the first report and
${SETTLE_SECONDS} s more, CPU ticks and RSS from the guest's /proc over a ${WINDOW_SECONDS} s
window with nothing plugged. One tick in the window is ${tick} % of a core. Host load average at
the end: ${os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')}.

| measure | guard off | guard on | on − off |
| --- | ---: | ---: | ---: |
${row('service process CPU, % of a core', 'cpuPercent')}
${row('service + children CPU, % of a core', 'treeCpuPercent')}
${row('service process RSS, MB', 'rssMb')}
${row('service + children RSS, MB (goal: on − off < 3)', 'treeRssMb')}
${row('service + children PSS, MB (shared pages divided among their users)', 'treePssMb')}

Processes counted: guard off ${procsOff}; guard on ${procsOn}.`;
  await recordResults('usb-idle', markdown);
  process.stdout.write(`${markdown}\n`);
} finally {
  await server.stop();
}
