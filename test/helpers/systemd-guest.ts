// A QEMU guest whose PID 1 is systemd (issue 17: the .deb's unit under a real systemd). A Debian
// 12 root (debootstrap minbase plus systemd-sysv, udev and dbus, cached as its own tarball by
// debian-root.ts) gets, before boot, what a real install has and a test needs:
//   - systemd-networkd with DHCP on QEMU's user network (the host's 127.0.0.1 is 10.0.2.2);
//   - a socket-activated systemd-socket-proxyd on the guest's 127.0.0.1:<server port> to the
//     host's server, as the agent speaks plain http only to loopback (the USB end-to-end guest
//     relays the same way, usb-observer.ts);
//   - a test shell on serial port 1 (hallpass-test-shell.service): the test sends a command
//     line, the guest runs it and prints its output and exit code.
// The disk is that root as an ext4 image; the initramfs (qemu-guest.ts) loads the modules the
// guest needs (virtio disk and network, ext4, autofs4 for systemd's automounts, xhci), mounts
// the disk and switch_roots into /lib/systemd/systemd, which is what `init=/lib/systemd/systemd`
// would start: with an initramfs the kernel runs its /init, whose job that is.
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { freshDebianRoot, inRoot, type DebianRoot, type RootRecipe } from './debian-root.ts';
import {
  QemuGuest,
  buildDiskImageOf,
  buildInitramfs,
  diskBackedFolder,
  type GuestKernel,
  type SerialLines,
} from './qemu-guest.ts';

/** Minbase plus what boots it with systemd as PID 1 (logind needs dbus). */
export const SYSTEMD_ROOT: RootRecipe = {
  name: 'debian-bookworm-minbase-systemd.tar',
  include: ['systemd-sysv', 'udev', 'dbus'],
};

/** The host's loopback as QEMU's user network shows it to the guest. */
const HOST_FROM_GUEST = '10.0.2.2';

const TEST_SHELL = '/usr/local/sbin/hallpass-test-shell';
const SHELL_READY = 'test-shell: ready';
const SHELL_DONE = /^test-shell: done (\d+) (\d+)$/;

// Reads one command per line on ttyS1 (`<id> <command>`), runs it with sh, then prints a line of
// its own with the id and exit code. Raw mode: no echo, no CR/LF translation either way.
const shellScript = `#!/bin/sh
# Test harness only (test/helpers/systemd-guest.ts): runs the host's commands from ttyS1.
stty -F /dev/ttyS1 raw -echo clocal
exec < /dev/ttyS1 > /dev/ttyS1 2>&1
echo "${SHELL_READY}"
while IFS= read -r line; do
  id=\${line%% *}
  sh -c "\${line#* }" < /dev/null
  code=$?
  printf '\\ntest-shell: done %s %s\\n' "$id" "$code"
done
`;

/** Files written into the root before boot, by path in the root. */
function plumbing(serverPort: number): Record<string, string> {
  return {
    '/etc/hostname': 'hallpass-guest\n',
    '/etc/systemd/network/20-wired.network': `[Match]
Name=en* eth*

[Network]
DHCP=ipv4
`,
    '/etc/systemd/system/hallpass-server-relay.socket': `[Unit]
Description=The test server on the host, at the guest's 127.0.0.1:${String(serverPort)}

[Socket]
ListenStream=127.0.0.1:${String(serverPort)}

[Install]
WantedBy=sockets.target
`,
    '/etc/systemd/system/hallpass-server-relay.service': `[Unit]
Description=Relay to the test server on the host
Requires=hallpass-server-relay.socket
After=hallpass-server-relay.socket

[Service]
ExecStart=/lib/systemd/systemd-socket-proxyd ${HOST_FROM_GUEST}:${String(serverPort)}
`,
    '/etc/systemd/system/hallpass-test-shell.service': `[Unit]
Description=Test shell on ttyS1 (tests only)

[Service]
ExecStart=${TEST_SHELL}
Restart=always

[Install]
WantedBy=multi-user.target
`,
    [TEST_SHELL]: shellScript,
  };
}

/** A root to boot: install into it (inRoot), then build the guest's files from it. */
export async function freshSystemdRoot(serverPort: number): Promise<DebianRoot> {
  const root = await freshDebianRoot(SYSTEMD_ROOT);
  for (const [path, text] of Object.entries(plumbing(serverPort))) {
    const target = join(root.dir, path);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, text);
  }
  await chmod(join(root.dir, TEST_SHELL), 0o755);
  // Offline enables (systemctl in a chroot writes the [Install] links).
  await inRoot(root, [
    'systemctl',
    'enable',
    'systemd-networkd.service',
    'hallpass-server-relay.socket',
    'hallpass-test-shell.service',
  ]);
  return root;
}

/** The guest's boot files; remove() deletes them. */
export interface SystemdGuestFiles {
  initrd: string;
  disk: string;
  remove(): Promise<void>;
}

/** The initramfs and a writable ext4 image of `root` as it is now (install before this). */
export async function buildSystemdGuest(
  kernel: GuestKernel,
  root: DebianRoot,
): Promise<SystemdGuestFiles> {
  const work = await diskBackedFolder('hallpass-systemd-');
  const initrd = join(work, 'initrd.cpio');
  await buildInitramfs(initrd, {
    kernel,
    // xhci_pci: a USB bus for the agent's USB guard to hold (startSystemdGuest adds the controller).
    modules: [
      ...['virtio_pci', 'virtio_blk', 'virtio_net', 'ext4', 'crc32c_generic', 'autofs4'],
      'xhci_pci',
    ],
    execRun: true,
    // busybox's switch_root moves no mounts: move them, so systemd finds /dev, /proc and /sys.
    run: `n=0
while [ ! -b /dev/vda ]; do n=$((n + 1)); [ $n -gt 600 ] && exit 1; sleep 0.1; done
mount -t ext4 /dev/vda /mnt || poweroff -f
for fs in /dev /proc /sys; do mount -o move "$fs" "/mnt$fs"; done
exec switch_root /mnt /lib/systemd/systemd
`,
  });
  const disk = join(work, 'root.img');
  await buildDiskImageOf(disk, 2048, root.dir);
  return { initrd, disk, remove: () => rm(work, { recursive: true, force: true }) };
}

/** Boots the guest: console on serial port 0, the test shell on port 1, a user-mode NIC. */
export function startSystemdGuest(
  kernel: GuestKernel,
  accel: 'kvm' | 'tcg',
  files: SystemdGuestFiles,
): Promise<QemuGuest> {
  return QemuGuest.start({
    kernel,
    initrd: files.initrd,
    accel,
    memoryMb: 1536,
    serialPorts: 2,
    drives: [{ id: 'root', file: files.disk, cache: 'writeback' }],
    extraArgs: [
      ...['-netdev', 'user,id=n', '-device', 'virtio-net-pci,netdev=n'],
      ...['-device', 'qemu-xhci,id=xhci'],
    ],
  });
}

/** What one command in the guest printed and how it exited. */
export interface ShellResult {
  code: number;
  output: string;
}

/** Runs commands in the guest through the test shell on serial port 1, one at a time. */
export class GuestShell {
  #guest: QemuGuest;
  #lines: SerialLines;
  #next = 1;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(guest: QemuGuest) {
    this.#guest = guest;
    const lines = guest.serial[1];
    if (lines === undefined) {
      throw new Error('the guest has no serial port 1');
    }
    this.#lines = lines;
  }

  /** Waits until the shell has started (systemd started its unit). */
  async ready(timeoutMs: number): Promise<void> {
    await this.#lines.waitFor((line) => line.endsWith(SHELL_READY), timeoutMs);
  }

  /** Runs `command` with sh in the guest; rejects only when no answer comes in `timeoutMs`. */
  run(command: string, timeoutMs = 120_000): Promise<ShellResult> {
    const result = this.#queue.then(() => this.#run(command, timeoutMs));
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** As run(), but a non-zero exit is an error carrying the output. */
  async check(command: string, timeoutMs = 120_000): Promise<string> {
    const { code, output } = await this.run(command, timeoutMs);
    if (code !== 0) {
      throw new Error(`guest: \`${command}\` exited ${String(code)}:\n${output}`);
    }
    return output;
  }

  async #run(command: string, timeoutMs: number): Promise<ShellResult> {
    if (command.includes('\n')) {
      throw new Error('one line per command');
    }
    const id = String(this.#next++);
    await this.#guest.write(1, `${id} ${command}\n`);
    const output: string[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = await this.#lines.next(Math.max(1, deadline - Date.now()));
      const done = SHELL_DONE.exec(line);
      if (done?.[1] === id) {
        // The shell prints a newline before its own line, in case the output did not end in one.
        if (output.at(-1) === '') {
          output.pop();
        }
        return { code: Number(done[2]), output: output.join('\n') };
      }
      output.push(line);
    }
  }
}
