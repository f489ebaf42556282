// The QEMU guest for the Linux USB guard (test/agent/core/usb/linux-guest.test.ts and
// bench/usb.bench.ts): Debian's kernel with USB host (qemu-xhci), storage, HID and dummy_hcd
// gadget modules, systemd-udevd started and coldplugged as a Debian boot does, and
// test/helpers/guest/usb-observer.ts (bundled with the production platform) on serial port 1.
// With `service` (test/e2e/usb-guard.test.ts) the guard is the real `hallpass service`, bundled
// as `npm run build:agent` bundles it, and the guest has a network to reach the host's server.
import { readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { build } from 'esbuild';
import { buildAgent } from '../../scripts/build-agent.ts';
import type { UsbEnforcement } from '../../agent/core/usb/platform.ts';
import {
  QemuGuest,
  buildDiskImage,
  buildInitramfs,
  diskBackedFolder,
  type GuestKernel,
} from './qemu-guest.ts';

const observerSource = new URL('./guest/usb-observer.ts', import.meta.url).pathname;
const ruleFile = new URL('../../agent/core/usb/70-hallpass-usb-storage.rules', import.meta.url)
  .pathname;

/**
 * What the guard in the guest does per serial: an exact serial, a prefix ending in `*`
 * (`RW-*`), or `*` for any other (see usb-observer.ts).
 */
export type GuestUsbActions = Record<string, UsbEnforcement>;

/** Built guest files; remove() deletes them. */
export interface UsbGuestFiles {
  work: string;
  initrd: string;
  programs: string;
  /** Raw ext4 images by name, to attach as `-drive if=none,id=<name>`. */
  sticks: Record<string, string>;
  remove(): Promise<void>;
}

/** The real service in the guest in place of the observer's table guard. */
export interface GuestService {
  /**
   * The agent configuration, written 0600 to SERVICE_CONFIG in the guest; its serverUrl should
   * be `http://127.0.0.1:<serverPort>` (the observer relays that port to the host).
   */
  config: Record<string, unknown>;
  /** The server's port on the host's 127.0.0.1. */
  serverPort: number;
}

/** Where the service's configuration sits in the guest. */
export const SERVICE_CONFIG = '/etc/hallpass/agent.json';

/** The guest's address on QEMU's user network; the host's loopback is 10.0.2.2 from inside. */
export const GUEST_HOST_ADDRESS = '10.0.2.2';

/** Every file under `dir`, by its path relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
}

/** Further steps of the guest's boot. */
export interface UsbGuestBoot {
  /**
   * Shell run after the boot's coldplug and before the observer starts the guard (so before
   * the rule exists): mounting a stick attached at boot where the system runs from, say. Its
   * output goes to the console; `exit 1` powers the guest off.
   */
  beforeGuard?: string;
}

/**
 * Builds the initramfs, the programs disk and one 16 MB ext4 image per stick name. With
 * `service`, the guarded process is the real service (the `actions` table is unused).
 */
export async function buildUsbGuest(
  kernel: GuestKernel,
  actions: GuestUsbActions,
  stickNames: readonly string[],
  service?: GuestService,
  boot: UsbGuestBoot = {},
): Promise<UsbGuestFiles> {
  // A folder on a real disk, not tmpfs, as the power-cut test does; the images are small.
  const work = await diskBackedFolder('hallpass-usb-');
  const bundle = join(work, 'usb-observer.mjs');
  await build({
    entryPoints: [observerSource],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    logLevel: 'silent',
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
  });
  const programFiles: Record<string, string> = {
    node: process.execPath,
    'usb-observer.mjs': bundle,
    '70-hallpass-usb-storage.rules': ruleFile,
  };
  let observe = `observe '${JSON.stringify(actions)}'`;
  let network = '';
  if (service !== undefined) {
    // The bundle `npm run build:agent` makes, run by plain node with its assets beside it.
    const agentDir = join(work, 'hallpass');
    const { bundle: agentBundle } = await buildAgent({ outDir: agentDir, sea: false });
    for (const file of await filesUnder(agentDir)) {
      programFiles[join('hallpass', file)] = join(agentDir, file);
    }
    const argv = [
      `/opt/guest/hallpass/${relative(agentDir, agentBundle)}`,
      'service',
      '--config',
      SERVICE_CONFIG,
    ];
    const spec = { argv, relay: { port: service.serverPort, host: GUEST_HOST_ADDRESS } };
    observe = `observe-service '${JSON.stringify(spec)}'`;
    // QEMU's user network (startUsbGuest): a fixed address, the host behind the gateway.
    network = `ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via ${GUEST_HOST_ADDRESS}
mkdir -p /etc/hallpass /var/lib /run/hallpass
`;
  }
  const initrd = join(work, 'initrd.cpio');
  await buildInitramfs(initrd, {
    kernel,
    modules: [
      ...['virtio_pci', 'virtio_blk', 'ext4', 'crc32c_generic'],
      ...['xhci_pci', 'usb-storage', 'uas', 'sd_mod', 'usbhid', 'hid_generic', 'evdev'],
      ...['configfs', 'dummy_hcd', 'libcomposite', 'usb_f_mass_storage', 'usb_f_hid'],
      ...(service === undefined ? [] : ['virtio_net']),
    ],
    librariesOf: [process.execPath, '/bin/udevadm', '/sbin/blockdev'],
    files: [
      { kind: 'file', path: '/bin/udevadm', mode: 0o755, source: '/bin/udevadm' },
      { kind: 'file', path: '/sbin/blockdev', mode: 0o755, source: '/sbin/blockdev' },
      ...(service === undefined
        ? []
        : [
            { kind: 'dir' as const, path: '/etc' },
            { kind: 'dir' as const, path: '/etc/hallpass' },
            {
              kind: 'data' as const,
              path: SERVICE_CONFIG,
              mode: 0o600,
              data: JSON.stringify(service.config),
            },
          ]),
    ],
    // As a Debian boot does: udevd starts and replays the devices present (coldplug) before
    // the service; the guard then installs its rule (installFailClosedDefault).
    run: `export PATH=/usr/sbin:/usr/bin:/sbin:/bin
stty -F /dev/ttyS1 raw -echo clocal
n=0
while [ ! -b /dev/vda ]; do n=$((n + 1)); [ $n -gt 600 ] && exit 1; sleep 0.1; done
mkdir -p /opt/guest /run /lib/systemd /sys/kernel/config
mount -t ext4 -o ro /dev/vda /opt/guest || exit 1
mount -t tmpfs tmpfs /run
mount -t configfs configfs /sys/kernel/config
ln -s /bin/udevadm /lib/systemd/systemd-udevd
/lib/systemd/systemd-udevd --daemon
udevadm trigger --action=add
udevadm settle
${boot.beforeGuard === undefined ? '' : `${boot.beforeGuard.trimEnd()}\n`}${network}exec /opt/guest/node /opt/guest/usb-observer.mjs ${observe} < /dev/ttyS1 > /dev/ttyS1 2>&1
`,
  });
  const programs = join(work, 'programs.img');
  await buildDiskImage(programs, 256, programFiles);
  const sticks: Record<string, string> = {};
  for (const name of stickNames) {
    sticks[name] = join(work, `${name}.img`);
    await buildDiskImage(sticks[name], 16);
  }
  return {
    work,
    initrd,
    programs,
    sticks,
    remove: () => rm(work, { recursive: true, force: true }),
  };
}

/** A stick plugged in before the guest boots: a drive of UsbGuestFiles.sticks and a serial. */
export interface StickAtBoot {
  drive: string;
  serial: string;
}

/**
 * Boots the guest with a qemu-xhci controller (`xhci.0`) and the sticks' drives; with
 * `network`, a virtio NIC on QEMU's user network (the host's 127.0.0.1 is 10.0.2.2). Without
 * `attachSticks` the images are left for the test to open over QMP (`blockdev-add`): a drive
 * from `-drive` is deleted with the first device that used it, so a stick plugged in and out
 * again needs one opened that way. `pluggedAtBoot` sticks are on the controller from power-on
 * (QEMU's `-device usb-storage`, id = drive name), as a stick the machine boots with.
 */
export function startUsbGuest(
  kernel: GuestKernel,
  accel: 'kvm' | 'tcg',
  files: UsbGuestFiles,
  options: {
    network?: boolean;
    attachSticks?: boolean;
    pluggedAtBoot?: readonly StickAtBoot[];
  } = {},
): Promise<QemuGuest> {
  const sticks = options.attachSticks === false ? [] : Object.entries(files.sticks);
  const atBoot = options.pluggedAtBoot ?? [];
  for (const { drive, serial } of atBoot) {
    if (!sticks.some(([name]) => name === drive)) {
      throw new Error(`no stick image ${JSON.stringify(drive)} attached to plug at boot`);
    }
    // Both go into QEMU's comma-separated option list as they are.
    if (!/^[A-Za-z0-9_-]+$/.test(serial) || !/^[A-Za-z0-9_-]+$/.test(drive)) {
      throw new Error(`not a plain name: ${JSON.stringify({ drive, serial })}`);
    }
  }
  return QemuGuest.start({
    kernel,
    initrd: files.initrd,
    accel,
    memoryMb: 1024,
    serialPorts: 2,
    drives: [{ id: 'programs', file: files.programs, cache: 'writeback', readOnly: true }],
    extraArgs: [
      ...['-device', 'qemu-xhci,id=xhci'],
      ...sticks.flatMap(([name, file]) => ['-drive', `if=none,id=${name},file=${file},format=raw`]),
      ...atBoot.flatMap(({ drive, serial }) => [
        '-device',
        `usb-storage,bus=xhci.0,drive=${drive},serial=${serial},id=${drive}`,
      ]),
      ...(options.network === true
        ? ['-netdev', 'user,id=n', '-device', 'virtio-net-pci,netdev=n']
        : []),
    ],
  });
}

/** `word key=value …` as a record (the observer's line format). */
export function observerFields(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of line.split(' ').slice(1)) {
    const equals = part.indexOf('=');
    if (equals > 0) {
      out[part.slice(0, equals)] = part.slice(equals + 1);
    }
  }
  return out;
}
