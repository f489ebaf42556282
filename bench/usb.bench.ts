// Benchmark: the Linux USB guard on a real kernel. Time from QMP `device_add` of a usb-storage
// stick to the guard's action applied in the guest (test/helpers/usb-guest.ts: Debian's kernel
// in QEMU, systemd-udevd, the production platform and rule), over BENCH_USB_PLUGS plugs
// (default 200), alternating a stick the guard blocks and one it allows read-write; for the
// allowed ones also the time until udev announces its disk. Each stick is pulled again
// (`device_del`) before the next. Figures are from the host's clock, so they include QEMU and
// the serial port; the guest is TCG or KVM as the harness chose. Writes bench/RESULTS.md.
// bench/usb-service.bench.ts times the same plugs with the real service as the guard.
import os from 'node:os';
import { requireGuest } from '../test/helpers/qemu-guest.ts';
import { buildUsbGuest, observerFields, startUsbGuest } from '../test/helpers/usb-guest.ts';
import { median, percentile, recordResults } from './results-file.ts';

const PLUGS = Number(process.env.BENCH_USB_PLUGS ?? 200);
const LINE_TIMEOUT_MS = 300_000;

const support = await requireGuest('USB guard benchmark');
if (!support.ok) {
  process.exit(0);
}
const files = await buildUsbGuest(support.kernel, { 'RW-*': 'read-write', '*': 'block' }, [
  'stick',
]);
const vm = await startUsbGuest(support.kernel, support.accel, files);
const port = vm.serial[1];
if (port === undefined) {
  throw new Error('no second serial port');
}
const line = async (pattern: RegExp, from: number): Promise<string> => {
  const deadline = Date.now() + LINE_TIMEOUT_MS;
  for (;;) {
    const found = port.all.slice(from).find((text) => pattern.test(text));
    if (found !== undefined) {
      return found;
    }
    if (Date.now() > deadline) {
      throw new Error(`no line ${String(pattern)}\n${port.all.slice(-40).join('\n')}`);
    }
    // A short poll: the figures are milliseconds to seconds.
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
};

try {
  await line(/^guard-watching$/, 0);
  const blocked: number[] = [];
  const allowed: number[] = [];
  const diskReady: number[] = [];
  for (let i = 0; i < PLUGS; i++) {
    const allow = i % 2 === 1;
    const serial = `${allow ? 'RW' : 'BLOCK'}-${i}`;
    // A node per plug, shared read-only: the -drive of the harness would be deleted with the
    // first device_del.
    await vm.qmp('blockdev-add', {
      driver: 'raw',
      'node-name': `plug${i}`,
      'read-only': true,
      file: { driver: 'file', filename: files.sticks.stick, locking: 'off' },
    });
    const mark = port.all.length;
    const t0 = performance.now();
    await vm.qmp('device_add', {
      driver: 'usb-storage',
      drive: `plug${i}`,
      bus: 'xhci.0',
      id: `plug${i}`,
      serial,
    });
    const applied = observerFields(await line(new RegExp(`^applied .*serial=${serial} `), mark));
    (allow ? allowed : blocked).push(performance.now() - t0);
    if (allow) {
      await line(new RegExp(`^block-udev .*usb=${applied.key ?? ''}$`), mark);
      diskReady.push(performance.now() - t0);
    }
    const pulled = port.all.length;
    await vm.qmp('device_del', { id: `plug${i}` });
    await line(new RegExp(`^detached key=${applied.key ?? ''}$`), pulled);
  }
  // Every allowed plug gets exactly one disk; any more came from a blocked stick.
  const disks = port.all.filter((text) => text.startsWith('block-udev ')).length;
  const row = (name: string, values: readonly number[]) =>
    `| ${name} | ${values.length} | ${median(values).toFixed(0)} | ${percentile(values, 99).toFixed(0)} | ${Math.max(...values).toFixed(0)} |`;
  const markdown = `## USB guard on Linux (\`bench/usb.bench.ts\`, ${new Date().toISOString().slice(0, 10)})

QMP \`device_add\` of a usb-storage stick → the guard's action applied in the guest (Debian
kernel ${support.kernel.release} under QEMU/${support.accel}, systemd-udevd, the production
platform and rule), host clock, ${PLUGS} plugs alternating blocked and allowed; host load
average ${os
    .loadavg()
    .map((load) => load.toFixed(2))
    .join(' ')}.

| step | plugs | p50 ms | p99 ms | max ms |
| ---- | ----: | -----: | -----: | -----: |
${row('blocked: guard saw it and left it blocked (the rule had already blocked it)', blocked)}
${row('allowed: interface authorised and usb-storage bound', allowed)}
${row('allowed: its disk announced by udev (usb-storage waits delay_use, 1 s)', diskReady)}

Disks udev announced over the run: ${disks}, for ${allowed.length} allowed plugs (one each):
${disks === allowed.length ? 'no blocked stick got one' : 'MORE than the allowed plugs: a blocked stick got a disk'}.`;
  await recordResults('usb', markdown);
  process.stdout.write(`${markdown}\n`);
} finally {
  await vm.stop();
  await files.remove();
}
