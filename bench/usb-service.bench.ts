// Benchmark: the Linux USB guard as it ships. Time from QMP `device_add` of a usb-storage stick to
// the real `hallpass service`'s decision applied in the QEMU guest (test/helpers/usb-guest.ts:
// Debian's kernel, systemd-udevd, the service bundled as `npm run build:agent` bundles it,
// enrolled at a real server on this host as bench/usb-service-guest.ts sets it up), over
// BENCH_USB_PLUGS plugs (default 200) alternating an unknown stick (blocked by the policy's mode)
// and one the policy approves by serial. Per plug, from the host's clock:
//   - the observer in the guest sees the USB device (the kernel enumerated it);
//   - the service logs its decision ("USB guard: decision", on the console), which it does only
//     after the platform's apply() for that decision returned: the decision applied, as the
//     service itself says it;
//   - for an approved stick, the observer sees its storage interface authorised and bound to
//     usb-storage (`usb-interface … authorized=1 driver=usb-storage`), and udev announces its
//     disk (usb-storage waits delay_use, 1 s).
// Each stick is pulled (`device_del`) before the next. Writes the `usb-service` section of
// bench/RESULTS.md; bench/usb.bench.ts measures the same plugs with the observer's table guard.
import os from 'node:os';
import { requireGuest, type SerialLines } from '../test/helpers/qemu-guest.ts';
import { buildUsbGuest, observerFields, startUsbGuest } from '../test/helpers/usb-guest.ts';
import { median, percentile, recordResults } from './results-file.ts';
import { SETTLE_SECONDS, serviceSettled, startUsbBenchServer } from './usb-service-guest.ts';

const PLUGS = Number(process.env.BENCH_USB_PLUGS ?? 200);
const TIMEOUT_MS = 300_000;
/** QEMU's usb-storage reports vendor 46f4, product 0001 whatever its serial. */
const QEMU_STICK = { vendorId: '46f4', productId: '0001' } as const;
const DECISION = '"msg":"USB guard: decision"';

if (!Number.isInteger(PLUGS) || PLUGS < 2) {
  throw new Error(`BENCH_USB_PLUGS must be a whole number of at least 2, not ${String(PLUGS)}`);
}
const support = await requireGuest('USB guard service benchmark');
if (!support.ok) {
  process.exit(0);
}
const serialOf = (plug: number) =>
  plug % 2 === 1 ? `RW-${String(plug)}` : `BLOCK-${String(plug)}`;
const approvedSerials = Array.from({ length: PLUGS }, (_, plug) => plug)
  .filter((plug) => plug % 2 === 1)
  .map(serialOf);
const server = await startUsbBenchServer('USB plug benchmark', {
  mode: 'block',
  allow: approvedSerials.map((serial) => ({
    ...QEMU_STICK,
    serial,
    description: 'Benchmark stick',
  })),
  exempt: { users: [], groups: [] },
});

/** The service's decision for `serial`, from its JSON log line, or undefined. */
function decisionOf(line: string, serial: string): { action: string } | undefined {
  if (!line.includes(DECISION) || !line.includes(`"serial":"${serial}"`)) {
    return undefined;
  }
  try {
    const parsed = JSON.parse(line.slice(line.indexOf('{'))) as { action?: unknown };
    return { action: typeof parsed.action === 'string' ? parsed.action : 'unknown' };
  } catch {
    // Interleaved with a kernel message on the console: the line still names the decision.
    return { action: 'unknown' };
  }
}

/**
 * Polls every 2 ms until every probe has answered, each probe's time (ms since `t0`) taken when
 * it first answers, so a fact that comes before another is not timed late. Probes see the
 * answers so far (a disk is found by the USB key the device line gave).
 */
async function timeFacts<K extends string>(
  t0: number,
  probes: Record<K, (found: Partial<Record<K, string>>) => string | undefined>,
): Promise<{ ms: Record<K, number>; found: Record<K, string> }> {
  const names = Object.keys(probes) as K[];
  const found: Partial<Record<K, string>> = {};
  const ms: Partial<Record<K, number>> = {};
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    for (const name of names) {
      if (found[name] === undefined) {
        const answer = probes[name](found);
        if (answer !== undefined) {
          found[name] = answer;
          ms[name] = performance.now() - t0;
        }
      }
    }
    const missing = names.filter((name) => found[name] === undefined);
    if (missing.length === 0) {
      return { ms: ms as Record<K, number>, found: found as Record<K, string> };
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${missing.join(', ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const after = (lines: SerialLines, from: number, test: (line: string) => boolean) =>
  lines.all.slice(from).find(test);

const files = await buildUsbGuest(support.kernel, {}, ['stick'], server.guestService(true));
try {
  const reportsBefore = await server.countReports();
  const vm = await startUsbGuest(support.kernel, support.accel, files, {
    network: true,
    attachSticks: false,
  });
  const port = vm.serial[1];
  const consoleLines = vm.serial[0];
  if (port === undefined || consoleLines === undefined) {
    throw new Error('no serial ports');
  }
  try {
    await serviceSettled(server, reportsBefore, TIMEOUT_MS);
    if (!consoleLines.all.some((line) => line.includes('"msg":"new policy in force"'))) {
      throw new Error(`the group's policy is not in force\n${vm.diagnostics(60)}`);
    }
    const blocked = { seen: [] as number[], decided: [] as number[] };
    const allowed = {
      seen: [] as number[],
      decided: [] as number[],
      bound: [] as number[],
      disk: [] as number[],
    };
    const unexpected: string[] = [];
    const loadBefore = os.loadavg();
    for (let plug = 0; plug < PLUGS; plug++) {
      const serial = serialOf(plug);
      const allow = plug % 2 === 1;
      // A node per plug, shared read-only: QEMU can hold the last plug's node a while after
      // the guest saw it go, and would refuse to plug it again.
      await vm.qmp('blockdev-add', {
        driver: 'raw',
        'node-name': `plug${String(plug)}`,
        'read-only': true,
        file: { driver: 'file', filename: files.sticks.stick, locking: 'off' },
      });
      const mark = port.all.length;
      const consoleMark = consoleLines.all.length;
      const t0 = performance.now();
      await vm.qmp('device_add', {
        driver: 'usb-storage',
        drive: `plug${String(plug)}`,
        bus: 'xhci.0',
        id: `plug${String(plug)}`,
        serial,
      });
      const seen = (): string | undefined => {
        const line = after(
          port,
          mark,
          (text) => text.startsWith('usb-device ') && text.includes(` serial=${serial} `),
        );
        return line === undefined ? undefined : observerFields(line).key;
      };
      const decided = () => {
        for (const line of consoleLines.all.slice(consoleMark)) {
          const decision = decisionOf(line, serial);
          if (decision !== undefined) {
            return decision.action;
          }
        }
        return undefined;
      };
      let key: string | undefined;
      if (allow) {
        const { ms, found } = await timeFacts(t0, {
          seen,
          decided,
          bound: (got) =>
            got.seen === undefined
              ? undefined
              : after(
                  port,
                  mark,
                  (text) =>
                    text.startsWith('usb-interface ') &&
                    text.includes(` key=${got.seen ?? ''} `) &&
                    text.endsWith(' authorized=1 driver=usb-storage'),
                ),
          disk: (got) =>
            got.seen === undefined
              ? undefined
              : after(
                  port,
                  mark,
                  (text) => /^block-udev /.test(text) && text.endsWith(` usb=${got.seen ?? ''}`),
                ),
        });
        key = found.seen;
        allowed.seen.push(ms.seen);
        allowed.decided.push(ms.decided);
        allowed.bound.push(ms.bound);
        allowed.disk.push(ms.disk);
        if (found.decided !== 'read-write') {
          unexpected.push(`${serial}: ${found.decided}`);
        }
      } else {
        const { ms, found } = await timeFacts(t0, { seen, decided });
        key = found.seen;
        blocked.seen.push(ms.seen);
        blocked.decided.push(ms.decided);
        if (found.decided !== 'blocked') {
          unexpected.push(`${serial}: ${found.decided}`);
        }
      }
      const pulled = port.all.length;
      await vm.qmp('device_del', { id: `plug${String(plug)}` });
      await timeFacts(performance.now(), {
        gone: () => after(port, pulled, (text) => text === `usb-gone key=${key}`),
      });
      if (plug % 20 === 19) {
        process.stdout.write(`${String(plug + 1)} plugs\n`);
      }
    }
    // Every approved plug gets exactly one disk; any more came from a blocked stick.
    const disks = port.all.filter((text) => text.startsWith('block-udev ')).length;
    const refused = consoleLines.all.filter((text) =>
      text.includes('"msg":"USB guard: the OS refused an action"'),
    ).length;
    const nApproved = allowed.decided.length;
    const row = (name: string, values: readonly number[]) =>
      `| ${name} | ${String(values.length)} | ${median(values).toFixed(0)} | ${percentile(values, 99).toFixed(0)} | ${Math.max(...values).toFixed(0)} |`;
    const loads = (figures: readonly number[]) => figures.map((load) => load.toFixed(2)).join(' ');
    const markdown = `## USB guard on Linux, the real service (\`bench/usb-service.bench.ts\`, ${new Date().toISOString().slice(0, 10)})

QMP \`device_add\` of a usb-storage stick → the real \`hallpass service\`'s decision applied in
the guest. The service is bundled as \`npm run build:agent\` bundles it and run by Node
${process.version} in the QEMU guest (Debian kernel ${support.kernel.release} under
QEMU/${support.accel}, 1 GiB, systemd-udevd), enrolled at a real server on the host (PGlite);
policy USB mode \`block\`, the ${String(nApproved)} approved sticks' serials on its allow list.
After the service's first report and ${String(SETTLE_SECONDS)} s more, ${String(PLUGS)} plugs
alternating an unknown stick and an approved one, each pulled before the next; host clock,
polled every 2 ms. Host load average (1, 5, 15 min) before the plugs ${loads(loadBefore)}, after
them ${loads(os.loadavg())}.

"Logged its decision" is the service's \`USB guard: decision\` line on the guest's console,
which it writes only after the platform applied that decision (agent/service/usb-guard.ts). The
other facts are the observer's (test/helpers/guest/usb-observer.ts), independent of the service;
it polls sysfs every 20 ms.

| step | plugs | p50 ms | p99 ms | max ms |
| ---- | ----: | -----: | -----: | -----: |
${row('unknown: the observer saw the USB device (the kernel enumerated it)', blocked.seen)}
${row('unknown: the service logged its decision, blocked, applied', blocked.decided)}
${row('approved: the observer saw the USB device', allowed.seen)}
${row('approved: the service logged its decision, read-write, applied', allowed.decided)}
${row('approved: the observer saw its storage interface authorised and bound to usb-storage', allowed.bound)}
${row('approved: its disk announced by udev (usb-storage waits delay_use, 1 s)', allowed.disk)}

Decisions other than the policy's: ${unexpected.length === 0 ? 'none' : unexpected.join(', ')}.
Actions the OS refused (logged by the service): ${String(refused)}. Disks udev announced over the
run: ${String(disks)}, for ${String(nApproved)} approved plugs (one each):
${disks === nApproved ? 'no unknown stick got one' : 'NOT one per approved plug: see the run'}.`;
    await recordResults('usb-service', markdown);
    process.stdout.write(`${markdown}\n`);
  } finally {
    await vm.stop();
  }
} finally {
  await files.remove();
  await server.stop();
}
