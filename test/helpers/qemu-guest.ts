// A real Linux kernel under QEMU for tests that need what a host process cannot fake: a power
// cut that takes the page cache with it (outbox power-cut test), and later hot-plugged USB
// devices (QMP `device_add`). Boots Debian's own kernel (`linux-image-amd64`) with an
// initramfs built here (qemu-initramfs.ts): busybox, the listed modules, the listed programs,
// and a /guest/run script the test supplies. Serial ports and the QMP monitor are Unix
// sockets this process listens on and QEMU connects to, so no output is lost before we read.
//
// Packages (Debian): qemu-system-x86, linux-image-amd64, busybox-static; kmod (modinfo),
// libc-bin (ldd) and e2fsprogs (mkfs.ext4) are in every Debian install.
//
// Acceleration: KVM when /dev/kvm opens and a probe boot prints the kernel's banner on the
// serial port within seconds, else TCG. The probe matters: under nested virtualisation (a
// Firecracker host here) /dev/kvm opens fine, the boot stub prints "Probing EDD", and then the
// guest hangs before the kernel's first line (PLATFORMS.md §6 saw the same).
// HALLPASS_QEMU_ACCEL=kvm|tcg skips the probe.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import {
  access,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  rm,
  statfs,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import {
  libraryEntries,
  moduleEntries,
  moduleLoadOrder,
  writeInitramfs,
  type InitramfsEntry,
} from './qemu-initramfs.ts';

const exec = promisify(execFile);

/** The Debian packages the harness needs (for the CI's package list). */
export const QEMU_GUEST_PACKAGES = ['qemu-system-x86', 'linux-image-amd64', 'busybox-static'];

const QEMU = 'qemu-system-x86_64';
const BUSYBOX = '/bin/busybox';

/** A kernel found on the host, with its modules. */
export interface GuestKernel {
  image: string;
  release: string;
}

/** Whether a guest can be booted here, and with what. */
export type GuestSupport =
  { ok: true; kernel: GuestKernel; accel: 'kvm' | 'tcg' } | { ok: false; reason: string };

const canOpen = (path: string, mode: number) =>
  access(path, mode).then(
    () => true,
    () => false,
  );

/** The newest /boot/vmlinuz-* whose modules are installed, or null. */
export async function findKernel(): Promise<GuestKernel | null> {
  const images = (await readdir('/boot').catch(() => []))
    .filter((name) => name.startsWith('vmlinuz-'))
    .sort((a, b) => b.localeCompare(a, 'en', { numeric: true }));
  for (const name of images) {
    const release = name.slice('vmlinuz-'.length);
    const image = join('/boot', name);
    if (
      (await canOpen(image, constants.R_OK)) &&
      (await canOpen(join('/lib/modules', release), constants.R_OK))
    ) {
      return { image, release };
    }
  }
  return null;
}

/** Checks for QEMU, a kernel and busybox; KVM when /dev/kvm opens read-write. */
export async function guestSupport(): Promise<GuestSupport> {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return { ok: false, reason: `needs Linux on x86-64, not ${process.platform}/${process.arch}` };
  }
  const qemu = await exec(QEMU, ['--version']).then(
    () => true,
    () => false,
  );
  if (!qemu) {
    return { ok: false, reason: `${QEMU} not found (apt-get install qemu-system-x86)` };
  }
  const kernel = await findKernel();
  if (kernel === null) {
    return {
      ok: false,
      reason: 'no /boot/vmlinuz-* with modules (apt-get install linux-image-amd64)',
    };
  }
  if (!(await canOpen(BUSYBOX, constants.X_OK))) {
    return { ok: false, reason: `${BUSYBOX} not found (apt-get install busybox-static)` };
  }
  return { ok: true, kernel, accel: await chooseAccel(kernel) };
}

const KVM_PROBE_MS = 15_000;

/** KVM if it boots this kernel far enough to print (see the header), else TCG. */
async function chooseAccel(kernel: GuestKernel): Promise<'kvm' | 'tcg'> {
  const forced = process.env.HALLPASS_QEMU_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') {
    return forced;
  }
  if (!(await canOpen('/dev/kvm', constants.R_OK | constants.W_OK))) {
    return 'tcg';
  }
  const probe = spawn(
    QEMU,
    [
      ...['-nodefaults', '-no-user-config', '-display', 'none', '-accel', 'kvm', '-cpu', 'host'],
      ...['-m', '256', '-kernel', kernel.image, '-serial', 'stdio'],
      ...['-append', 'console=ttyS0 earlyprintk=serial,ttyS0'],
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  // The kernel proper's first line, not the boot stub's "Probing EDD", which a hung KVM
  // guest still prints.
  const printed = await new Promise<boolean>((resolve) => {
    let output = '';
    const timer = setTimeout(() => {
      resolve(false);
    }, KVM_PROBE_MS);
    probe.stdout.setEncoding('utf8');
    probe.stdout.on('data', (chunk: string) => {
      output += chunk;
      if (output.includes('Linux version')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    probe.once('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  probe.kill('SIGKILL');
  return printed ? 'kvm' : 'tcg';
}

/**
 * Call at the top of a guest suite: under CI (`CI=true`) a missing QEMU or kernel is a
 * failure; elsewhere the suite is skipped with a loud line saying why. Returns the support.
 */
export async function requireGuest(suite: string): Promise<GuestSupport> {
  const support = await guestSupport();
  if (support.ok) {
    return support;
  }
  if (process.env.CI === 'true') {
    throw new Error(`${suite}: cannot boot a QEMU guest under CI: ${support.reason}`);
  }
  process.stderr.write(`\n*** ${suite} NOT RUN: ${support.reason} ***\n\n`);
  return support;
}

/** What goes into the guest besides busybox and the base /init. */
export interface InitramfsSpec {
  kernel: GuestKernel;
  /** Module names (`virtio_blk`, `ext4`); their dependencies are added. */
  modules: readonly string[];
  /**
   * Host executables whose shared libraries go in at their host paths; the executables
   * themselves can stay on a disk image (buildDiskImage), as a large one unpacks slowly.
   */
  librariesOf?: readonly string[];
  /** Further files (the test's scripts and bundles). */
  files?: readonly InitramfsEntry[];
  /** Shell script run as /guest/run once modules are loaded; the guest powers off after it. */
  run: string;
  /**
   * The script replaces the base init as PID 1 (`exec`) instead of running as its child, so it
   * can `exec switch_root` into a disk's own init (systemd-guest.ts); nothing powers off after.
   */
  execRun?: boolean;
}

/** Prefix of the base init's own lines on the console. */
export const INIT_MARK = 'hallpass-guest:';

// The base init: a minimal /dev, /proc and /sys, the modules in dependency order, then the
// test's script. If that script ever returns, power off so QEMU exits and the test sees it.
const baseInit = (execRun: boolean) => `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r module; do
  insmod "/lib/modules/$module" || echo "${INIT_MARK} insmod $module failed"
done < /lib/modules/order
echo "${INIT_MARK} up"
${execRun ? 'exec ' : ''}/bin/sh /guest/run
echo "${INIT_MARK} /guest/run ended ($?)"
poweroff -f
`;

/** Writes the guest's initramfs to `file`. */
export async function buildInitramfs(file: string, spec: InitramfsSpec): Promise<void> {
  const entries: InitramfsEntry[] = [
    ...['/proc', '/sys', '/dev', '/tmp', '/mnt', '/bin'].map((path) => ({
      kind: 'dir' as const,
      path,
    })),
    // The kernel opens /dev/console for init's stdio before devtmpfs is mounted.
    { kind: 'chardev', path: '/dev/console', major: 5, minor: 1 },
    { kind: 'file', path: BUSYBOX, mode: 0o755, source: BUSYBOX },
    { kind: 'data', path: '/init', mode: 0o755, data: baseInit(spec.execRun === true) },
    { kind: 'data', path: '/guest/run', mode: 0o755, data: spec.run },
    ...moduleEntries(await moduleLoadOrder(spec.kernel.release, spec.modules)),
  ];
  for (const program of spec.librariesOf ?? []) {
    entries.push(...(await libraryEntries(program)));
  }
  entries.push(...(spec.files ?? []));
  // One entry per path: libraries shared by two programs are listed twice.
  const unique = new Map(entries.map((entry) => [entry.path, entry]));
  await writeInitramfs(file, [...unique.values()]);
}

/**
 * Writes a raw ext4 image of `sizeMb` holding `files` (path in the image → host file), made
 * with the host's mkfs.ext4 (`-d` fills it without mounting). Default options, and no lazy
 * initialisation that would keep writing in the background after the guest mounts it.
 */
export async function buildDiskImage(
  file: string,
  sizeMb: number,
  files: Readonly<Record<string, string>> = {},
): Promise<void> {
  const staging = await mkdtemp(join(tmpdir(), 'hallpass-disk-'));
  try {
    for (const [path, source] of Object.entries(files)) {
      const target = join(staging, path);
      await mkdir(dirname(target), { recursive: true });
      await copyFile(source, target);
    }
    await buildDiskImageOf(file, sizeMb, staging);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Writes a raw ext4 image of `sizeMb` holding the folder `dir` as it is (owners, modes, links
 * and device nodes kept: a whole root file system), as buildDiskImage does.
 */
export async function buildDiskImageOf(file: string, sizeMb: number, dir: string): Promise<void> {
  await writeFile(file, '');
  await truncate(file, sizeMb * 1024 * 1024);
  const options = 'lazy_itable_init=0,lazy_journal_init=0';
  await exec('mkfs.ext4', ['-q', '-F', '-E', options, '-d', dir, file]);
}

const TMPFS_MAGIC = 0x01021994;

/**
 * A new folder on a real disk, not tmpfs (the temp folder, else /var/tmp), for disk images a
 * guest opens with O_DIRECT (cache `none`) and for large roots that should not sit in memory.
 */
export async function diskBackedFolder(prefix: string): Promise<string> {
  for (const base of [tmpdir(), '/var/tmp']) {
    if ((await statfs(base)).type !== TMPFS_MAGIC) {
      return mkdtemp(join(base, prefix));
    }
  }
  throw new Error('no disk-backed temporary folder');
}

/** A disk image attached as virtio-blk (the first is /dev/vda, then /dev/vdb, …). */
export interface GuestDrive {
  id: string;
  file: string;
  /**
   * QEMU cache mode. `none` opens the image with O_DIRECT (no host page cache) and shows the
   * guest a write-back disk, so the guest's fsync reaches the host as a flush.
   */
  cache: 'none' | 'directsync' | 'writeback';
  readOnly?: boolean;
}

/** How to start a guest. */
export interface GuestOptions {
  kernel: GuestKernel;
  initrd: string;
  accel: 'kvm' | 'tcg';
  memoryMb?: number;
  drives?: readonly GuestDrive[];
  /** Serial ports: ttyS0 is the kernel console; more are for the test's own messages. */
  serialPorts?: number;
  /** Extra kernel command line. */
  append?: string;
  /**
   * Further QEMU arguments, after the drives: a USB host controller and the backing drives of
   * sticks to hot-plug later (`-device qemu-xhci,id=xhci`, `-drive if=none,id=stick,…`).
   */
  extraArgs?: readonly string[];
}

/** Lines from one serial port, read in order by the test. */
export class SerialLines {
  #lines: string[] = [];
  #partial = '';
  #next = 0;
  #waiters: (() => void)[] = [];
  #ended: string | null = null;

  /** Every complete line so far (for diagnostics). */
  get all(): readonly string[] {
    return this.#lines;
  }

  /** @internal Appends received text. */
  push(text: string): void {
    const parts = (this.#partial + text).replaceAll('\r', '').split('\n');
    this.#partial = parts.pop() ?? '';
    this.#lines.push(...parts);
    this.#wake();
  }

  /** @internal No more lines will come (QEMU exited). */
  end(why: string): void {
    this.#ended = why;
    this.#wake();
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) {
      wake();
    }
  }

  /** The next unread line; rejects after `timeoutMs` or when QEMU has exited. */
  async next(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.#lines[this.#next];
      if (line !== undefined) {
        this.#next++;
        return line;
      }
      if (this.#ended !== null) {
        throw new Error(`serial port closed: ${this.#ended}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no serial line within ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Skips lines until one satisfies `test`; returns it. */
  async waitFor(test: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = await this.next(Math.max(1, deadline - Date.now()));
      if (test(line)) {
        return line;
      }
    }
  }
}

type QmpReply = { return: unknown } | { error: { class: string; desc: string } };

/** The QMP monitor: commands in order, one reply each (events are ignored). */
class Qmp {
  #socket: Socket;
  #buffer = '';
  #pending: { resolve: (reply: QmpReply) => void; reject: (error: Error) => void }[] = [];
  #greeted: Promise<void>;

  constructor(socket: Socket) {
    this.#socket = socket;
    let greet: () => void = () => undefined;
    // QMP accepts commands only after the greeting and capabilities negotiation.
    this.#greeted = new Promise<void>((resolve) => (greet = resolve)).then(async () => {
      await this.#send('qmp_capabilities');
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let newline: number;
      while ((newline = this.#buffer.indexOf('\n')) >= 0) {
        const message = JSON.parse(this.#buffer.slice(0, newline)) as Record<string, unknown>;
        this.#buffer = this.#buffer.slice(newline + 1);
        if ('QMP' in message) {
          greet();
        } else if ('return' in message || 'error' in message) {
          this.#pending.shift()?.resolve(message as QmpReply);
        }
      }
    });
    socket.on('close', () => {
      for (const waiter of this.#pending.splice(0)) {
        waiter.reject(new Error('QMP connection closed'));
      }
    });
  }

  /** Runs one QMP command; rejects with QEMU's error description. */
  async execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    await this.#greeted;
    return this.#send(command, args);
  }

  async #send(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const reply = await new Promise<QmpReply>((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#socket.write(
        JSON.stringify({ execute: command, ...(args && { arguments: args }) }) + '\n',
      );
    });
    if ('error' in reply) {
      throw new Error(`QMP ${command}: ${reply.error.class}: ${reply.error.desc}`);
    }
    return reply.return;
  }
}

/** Accepts the one connection QEMU makes to a socket we listen on. */
function listenOnce(path: string): { server: Server; connection: Promise<Socket> } {
  const server = createServer();
  const connection = new Promise<Socket>((resolve, reject) => {
    server.once('connection', resolve);
    server.once('error', reject);
  });
  server.listen(path);
  return { server, connection };
}

/** A running QEMU guest. */
export class QemuGuest {
  /** Serial ports by number (0 = console). */
  readonly serial: readonly SerialLines[];
  /** When QEMU was started (ms since epoch). */
  readonly startedAt: number;
  #process: ChildProcess;
  #qmp: Qmp;
  #servers: Server[];
  #workDir: string;
  #exited: Promise<void>;
  #stderr: () => string = () => '';
  #serialSockets: Socket[] = [];

  private constructor(
    child: ChildProcess,
    qmp: Qmp,
    serial: SerialLines[],
    servers: Server[],
    workDir: string,
    exited: Promise<void>,
  ) {
    this.#process = child;
    this.#qmp = qmp;
    this.serial = serial;
    this.#servers = servers;
    this.#workDir = workDir;
    this.#exited = exited;
    this.startedAt = Date.now();
  }

  /** Starts QEMU and waits until it has connected its serial ports and monitor. */
  static async start(options: GuestOptions): Promise<QemuGuest> {
    const workDir = await mkdtemp(join(tmpdir(), 'hallpass-qemu-'));
    const ports = options.serialPorts ?? 1;
    const listeners = Array.from({ length: ports }, (_, i) =>
      listenOnce(join(workDir, `serial${i}.sock`)),
    );
    const monitor = listenOnce(join(workDir, 'qmp.sock'));
    const args = [
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-accel',
      options.accel,
      '-cpu',
      options.accel === 'kvm' ? 'host' : 'max',
      '-m',
      String(options.memoryMb ?? 1024),
      '-kernel',
      options.kernel.image,
      '-initrd',
      options.initrd,
      // panic=-1: a guest panic reboots at once, and the test sees the boot it did not expect.
      '-append',
      `console=ttyS0 loglevel=4 panic=-1 ${options.append ?? ''}`.trim(),
      '-chardev',
      `socket,id=qmp,path=${join(workDir, 'qmp.sock')}`,
      '-mon',
      'chardev=qmp,mode=control',
    ];
    for (let i = 0; i < ports; i++) {
      args.push('-chardev', `socket,id=serial${i},path=${join(workDir, `serial${i}.sock`)}`);
      args.push('-serial', `chardev:serial${i}`);
    }
    for (const drive of options.drives ?? []) {
      args.push(
        '-drive',
        `if=none,id=${drive.id},file=${drive.file},format=raw,cache=${drive.cache},aio=threads` +
          (drive.readOnly === true ? ',readonly=on' : ''),
        '-device',
        `virtio-blk-pci,drive=${drive.id}`,
      );
    }
    args.push(...(options.extraArgs ?? []));
    const child = spawn(QEMU, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const serial = listeners.map(() => new SerialLines());
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<void>((resolve) => {
      child.on('exit', (code, signal) => {
        const why = `QEMU exited (${signal ?? String(code)}): ${stderr.trim()}`;
        serial.forEach((lines) => {
          lines.end(why);
        });
        resolve();
      });
    });
    const failed = exited.then(() => {
      throw new Error(`QEMU did not start: ${stderr.trim()}`);
    });
    const [qmpSocket, ...serialSockets] = await Promise.race([
      Promise.all([monitor.connection, ...listeners.map((l) => l.connection)]),
      failed,
    ]);
    // Started: a later exit is for stop() and the serial readers to see, not a start failure.
    failed.catch(() => undefined);
    serialSockets.forEach((socket, i) => {
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => serial[i]?.push(chunk));
    });
    const guest = new QemuGuest(
      child,
      new Qmp(qmpSocket),
      serial,
      [monitor.server, ...listeners.map((l) => l.server)],
      workDir,
      exited,
    );
    guest.#stderr = () => stderr;
    guest.#serialSockets = serialSockets;
    return guest;
  }

  /** Runs a QMP command (`device_add`, `device_del`, `query-status`, …). */
  qmp(command: string, args?: Record<string, unknown>): Promise<unknown> {
    return this.#qmp.execute(command, args);
  }

  /** Sends text to the guest on serial port `port` (for guest scripts that take commands). */
  async write(port: number, text: string): Promise<void> {
    const socket = this.#serialSockets[port];
    if (socket === undefined) {
      throw new Error(`no serial port ${port}`);
    }
    await new Promise<void>((resolve, reject) => {
      socket.write(text, (error) => {
        if (error) {
          reject(error);
        } else {
          resolve();
        }
      });
    });
  }

  /**
   * Hard reset, as the reset button does: the guest's memory (page cache included) is gone and
   * the same VM boots again with its disks as they are.
   */
  async reset(): Promise<void> {
    await this.qmp('system_reset');
  }

  /** Stops QEMU (SIGKILL: nothing in the guest gets to flush) and removes its sockets. */
  async stop(): Promise<void> {
    if (this.#process.exitCode === null && this.#process.signalCode === null) {
      this.#process.kill('SIGKILL');
    }
    await this.#exited;
    await Promise.all(
      this.#servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => {
              resolve();
            });
          }),
      ),
    );
    await rm(this.#workDir, { recursive: true, force: true });
  }

  /** The last `count` console lines and QEMU's stderr, for a failure message. */
  diagnostics(count = 40): string {
    const console = this.serial[0]?.all.slice(-count).join('\n') ?? '';
    return `--- guest console (last ${count} lines) ---\n${console}\n--- qemu stderr ---\n${this.#stderr()}`;
  }
}
