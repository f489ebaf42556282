// USB storage enforcement on Linux, at the kernel's USB interface authorisation (kernel.org
// "Authorizing (or not) your USB devices"). A static udev rule (70-hallpass-usb-storage.rules
// beside this file) makes every USB bus leave new interfaces unauthorised and authorises at
// once every interface that is not mass storage: an unapproved stick's usb-storage driver
// never binds, so no /dev/sdX ever appears, whether or not the service runs, while keyboards,
// mice and the HID half of a composite device work. The service authorises approved storage
// interfaces; read-only goes through the same rule, which sets the disk read-only as udev adds
// it. Storage that does not say class 08 (a vendor-class card reader) is caught by the rule at
// block level: a disk under a USB device without the service's approval mark is hidden and its
// interface unauthorised, and the service, told through udev, remembers that interface as
// storage and judges the device by its USB ids. README.md "USB guard on Linux" has the
// measurements behind this choice.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, lstat, mkdir, readdir, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readAsset } from '../assets.ts';
import { nodeFileReader } from '../host.ts';
import { probeEnvironment } from '../probe-environment.ts';
import { execRunner, ProbeError, type Runner } from '../runner.ts';
import type { UsbStorageKind } from '../../../shared/index.ts';
import type {
  AttachedUsbStorage,
  UsbEnforcement,
  UsbPlatform,
  UsbWatchHandlers,
} from './platform.ts';
import { usbDevice } from './sanitize.ts';
import { UdevMonitorParser, type UdevEvent } from './udev-monitor.ts';

/** The rule's file name, in the repository and in /etc/udev/rules.d. */
export const RULE_FILE = '70-hallpass-usb-storage.rules';
const RULE_URL = new URL('./70-hallpass-usb-storage.rules', import.meta.url);

/** Where the service marks devices approved read-only; the rule tests `<folder>/<device>`. */
export const READ_ONLY_MARKS = '/run/hallpass/usb-read-only';
/**
 * Where the service marks devices whose storage it authorised (read-write or read-only), as
 * `<device>@<devnum>`; the rule removes any USB disk whose device has no mark here. The bus gives
 * a device a new devnum at each plug, so a mark left behind (unplugged while the service was
 * down) does not approve the next device on that port. Root-only, like READ_ONLY_MARKS.
 */
export const APPROVED_MARKS = '/run/hallpass/usb-approved';
/** The property the rule sets on a USB disk it removed: the USB device's name. */
export const UNAPPROVED_PROPERTY = 'HALLPASS_USB_UNAPPROVED';

const MASS_STORAGE_CLASS = '08';
const STILL_IMAGE_CLASS = '06';
/** A USB device's sysfs name: bus, then the port path (`1-1`, `2-1.4.3`). */
const DEVICE_NAME = /^[0-9]+-[0-9]+(\.[0-9]+)*$/;
const INTERFACE_NAME = /^[0-9]+-[0-9]+(\.[0-9]+)*:[0-9]+\.[0-9]+$/;
const BLOCK_NAME = /^[a-z][a-z0-9_-]*$/;
/** Enough for any sysfs attribute the guard reads (descriptor strings are at most 126 chars). */
const MAX_ATTRIBUTE_BYTES = 4096;
const MAX_STDERR = 4096;
const COMMAND_TIMEOUT_MS = 30_000;
/** Deep enough for interface/hostN/targetN/N:N:N:N/block/sdX, shallow enough to stay cheap. */
const MAX_BLOCK_SEARCH_DEPTH = 7;
/** Mount points of a running system: a disk holding one is never blocked. */
const SYSTEM_MOUNTS = new Set(['/', '/usr', '/boot', '/boot/efi', '/var', '/etc', '/opt']);

/** Where the platform reads and writes; the defaults are the real system's. */
export interface LinuxUsbOptions {
  /** `/sys`. */
  sysRoot?: string;
  /** `/proc` (mountinfo and swaps are read from `<procRoot>/self/mountinfo`, `<procRoot>/swaps`). */
  procRoot?: string;
  /** `/etc/udev/rules.d`. */
  rulesDir?: string;
  /** READ_ONLY_MARKS; must be the folder the rule tests. */
  readOnlyMarks?: string;
  /** APPROVED_MARKS; must be the folder the rule tests. */
  approvedMarks?: string;
  run?: Runner;
  /** The monitor command and its arguments (tests replay recorded output through a real process). */
  monitorCommand?: readonly string[];
}

/** One interface of a USB device, from sysfs. */
export interface UsbInterfaceInfo {
  name: string;
  /** bInterfaceClass, two lowercase hex digits. */
  interfaceClass: string;
  /** The interface string (`MTP` on phones), or ''. */
  label: string;
  authorized: boolean;
}

/**
 * Mass storage if any interface is class 08 or is one a disk was seen under (`carriers`, by
 * interface name: a vendor-class card reader); portable media for still image (06) or MTP.
 */
export function storageKind(
  interfaces: readonly UsbInterfaceInfo[],
  carriers: ReadonlySet<string> = new Set(),
): UsbStorageKind | null {
  if (interfaces.some((i) => i.interfaceClass === MASS_STORAGE_CLASS || carriers.has(i.name))) {
    return 'mass-storage';
  }
  if (interfaces.some((i) => i.interfaceClass === STILL_IMAGE_CLASS || /\bMTP\b/i.test(i.label))) {
    return 'portable-media';
  }
  return null;
}

/** An interface the guard authorises or not by its class alone (08, 06, MTP). */
function isStorageClass(info: UsbInterfaceInfo): boolean {
  return storageKind([info]) !== null;
}

/** The USB device and interface a disk hangs under, from its devpath; null when not USB. */
export function usbParentsOf(devpath: string): { key: string; iface: string | null } | null {
  const parts = devpath.split('/');
  // The deepest interface: a disk under a hub's port still names its own device last.
  for (let i = parts.length - 1; i > 0; i--) {
    const part = parts[i] ?? '';
    const before = parts[i - 1] ?? '';
    if (INTERFACE_NAME.test(part) && DEVICE_NAME.test(before)) {
      return { key: before, iface: part };
    }
  }
  const device = parts.findLast((part) => DEVICE_NAME.test(part));
  return device === undefined ? null : { key: device, iface: null };
}

/** `major:minor` and mount point of every mount, from /proc/self/mountinfo. */
export function parseMountinfo(
  text: string,
): { device: string; mountPoint: string; source: string }[] {
  const mounts: { device: string; mountPoint: string; source: string }[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    const device = fields[2];
    const mountPoint = fields[4];
    const source = separator > 0 ? fields[separator + 2] : undefined;
    if (device === undefined || mountPoint === undefined || !/^\d+:\d+$/.test(device)) {
      continue;
    }
    mounts.push({ device, mountPoint: unescapeMount(mountPoint), source: source ?? '' });
  }
  return mounts;
}

const unescapeMount = (text: string) =>
  text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

/** Paths of active swap areas, from /proc/swaps. */
export function parseSwaps(text: string): string[] {
  return text
    .split('\n')
    .slice(1)
    .map((line) => unescapeMount(line.split(/\s+/)[0] ?? ''))
    .filter((path) => path !== '');
}

/**
 * The mount a path lives on: the deepest mount point above it, the last mounted of equals (the
 * one on top). A swap file is shown by its path; this says which filesystem, so which disk, it
 * is on.
 */
export function mountHolding<T extends { mountPoint: string }>(
  mounts: readonly T[],
  path: string,
): T | undefined {
  let found: T | undefined;
  for (const mount of mounts) {
    const point = mount.mountPoint;
    const under = path === point || path.startsWith(point.endsWith('/') ? point : `${point}/`);
    if (under && point.length >= (found?.mountPoint.length ?? 0)) {
      found = mount;
    }
  }
  return found;
}

const isMissing = (error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENODEV';
};

/** The Linux platform (see the header). */
export class LinuxUsbPlatform implements UsbPlatform {
  readonly #sys: string;
  readonly #proc: string;
  readonly #rulesDir: string;
  readonly #marks: string;
  readonly #approved: string;
  readonly #run: Runner;
  /**
   * Interfaces of other classes that turned out to carry a disk (the rule removed it and said
   * so), by interface name; forgotten when their device goes. Storage from then on.
   */
  readonly #carriers = new Set<string>();
  readonly #monitor: readonly string[];

  constructor(options: LinuxUsbOptions = {}) {
    this.#sys = options.sysRoot ?? '/sys';
    this.#proc = options.procRoot ?? '/proc';
    this.#rulesDir = options.rulesDir ?? '/etc/udev/rules.d';
    this.#marks = options.readOnlyMarks ?? READ_ONLY_MARKS;
    this.#approved = options.approvedMarks ?? APPROVED_MARKS;
    this.#run = options.run ?? execRunner;
    this.#monitor = options.monitorCommand ?? [
      'udevadm',
      'monitor',
      '--udev',
      '--property',
      '--subsystem-match=usb',
      // The rule's block-level removals (UNAPPROVED_PROPERTY) come as block events.
      '--subsystem-match=block',
    ];
  }

  async installFailClosedDefault(): Promise<string | null> {
    const rule = await readAsset(RULE_URL);
    const target = join(this.#rulesDir, RULE_FILE);
    const current = await nodeFileReader.readText(target).catch(() => null);
    if (current !== rule) {
      try {
        await mkdir(this.#rulesDir, { recursive: true });
        // Whole or not at all: udevd may read the folder at any moment.
        const temporary = `${target}.hallpass-new`;
        await writeFile(temporary, rule, { mode: 0o644 });
        await rename(temporary, target);
      } catch (error) {
        return `USB storage is blocked only while the service runs: could not write ${target} (${String(error)})`;
      }
      const reload = await this.#run('udevadm', ['control', '--reload'], {
        timeoutMs: COMMAND_TIMEOUT_MS,
      }).catch((error: unknown) => error);
      if (reload instanceof ProbeError && reload.code === 'command-missing') {
        return 'USB storage is blocked only while the service runs: udevadm is not installed';
      }
      if (reload instanceof Error) {
        return `USB storage is blocked only while the service runs: udevadm control --reload failed (${reload.message})`;
      }
    }
    // The rule covers buses added from now on; buses present now get the default here.
    let hubs = 0;
    for (const name of await this.#usbNames()) {
      if (!/^usb[0-9]+$/.test(name)) {
        continue;
      }
      const attribute = join(this.#sys, 'bus/usb/devices', name, 'interface_authorized_default');
      const value = await this.#attribute(attribute);
      if (value === null) {
        continue;
      }
      hubs++;
      if (value !== '0') {
        await writeFile(attribute, '0');
      }
    }
    if (hubs === 0 && (await this.#usbNames()).some((name) => name.startsWith('usb'))) {
      return 'USB storage is blocked only while the service runs: this kernel has no interface_authorized_default (Linux 4.4 or later needed)';
    }
    // An interface left unauthorised while the default was 0 and the rule not yet loaded (a
    // keyboard plugged during an upgrade) would stay dead: authorise what the rule would have.
    for (const name of await this.#usbNames()) {
      if (!INTERFACE_NAME.test(name)) {
        continue;
      }
      const info = await this.#interface(name);
      if (info !== null && !info.authorized && !this.#isStorage(info)) {
        await this.#authorise(name);
      }
    }
    return null;
  }

  async listAttached(): Promise<AttachedUsbStorage[]> {
    const found: AttachedUsbStorage[] = [];
    for (const name of await this.#usbNames()) {
      if (DEVICE_NAME.test(name)) {
        await this.#learnCarriers(name);
        const storage = await this.#storage(name).catch((error: unknown) => {
          if (isMissing(error)) {
            return null; // unplugged while we looked
          }
          throw error;
        });
        if (storage !== null) {
          found.push(storage);
        }
      }
    }
    return found;
  }

  watch(handlers: UsbWatchHandlers): { stop(): Promise<void> } {
    const [command, ...args] = this.#monitor;
    if (command === undefined) {
      throw new Error('no monitor command');
    }
    const reported = new Set<string>();
    let stopping = false;
    // Events are handled one at a time, in order: a quick plug and pull must not report the
    // pull before the plug.
    let queue = Promise.resolve();
    const parser = new UdevMonitorParser((event) => {
      queue = queue.then(() => this.#onEvent(event, reported, handlers)).catch(() => undefined);
    });
    // The fixed root-only PATH and environment every probe command gets (runner.ts, issue 12).
    const fixed = probeEnvironment(process.platform, process.env);
    const child: ChildProcess = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: fixed.env,
      cwd: fixed.cwd,
    });
    let stderr = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      parser.push(chunk);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-MAX_STDERR);
    });
    const exited = new Promise<void>((resolve) => {
      let failed = false;
      const fail = (why: string) => {
        if (!stopping && !failed) {
          failed = true;
          void queue.then(() => {
            handlers.failed(new Error(why));
          });
        }
      };
      child.once('error', (error) => {
        fail(`${command} could not run: ${error.message}`);
        resolve();
      });
      child.once('close', (code, signal) => {
        parser.end();
        fail(`${command} exited (${signal ?? String(code)}): ${stderr.trim()}`);
        resolve();
      });
    });
    return {
      stop: async () => {
        stopping = true;
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
        }
        await exited;
        await queue;
      },
    };
  }

  async apply(storage: AttachedUsbStorage, action: UsbEnforcement): Promise<void> {
    const key = storage.key;
    if (!DEVICE_NAME.test(key)) {
      throw new Error(`not a USB device name: ${JSON.stringify(key)}`);
    }
    const interfaces = (await this.#interfaces(key)).filter((info) => this.#isStorage(info));
    if (interfaces.length === 0) {
      throw new Error(`USB device ${key} has no storage interface (unplugged?)`);
    }
    const effective: UsbEnforcement =
      // MTP/PTP has no block device to make read-only: fail closed.
      action === 'read-only' && storageKind(interfaces, this.#carriers) === 'portable-media'
        ? 'block'
        : action;
    if (effective !== 'read-write' && (await this.#holdsSystem(key))) {
      throw new Error(`USB device ${key} holds a filesystem the system runs from: left alone`);
    }
    if (effective === 'block') {
      await this.#unmark(key);
      await this.#unapprove(key);
      for (const info of interfaces.filter((i) => i.authorized)) {
        await this.#deauthorise(info.name);
      }
      return;
    }
    const authorised = interfaces.every((i) => i.authorized);
    const disks = await this.#disks(key);
    const readOnly = await Promise.all(disks.map((disk) => this.#diskReadOnly(disk)));
    const wanted = effective === 'read-only';
    if (
      authorised &&
      (await this.#isApproved(key)) &&
      (await this.#marked(key)) === wanted &&
      readOnly.every((ro) => ro === wanted)
    ) {
      return;
    }
    // The disk must come back through udev for the rule to (not) set read-only as it is added:
    // flipping a mounted disk's flag underneath its filesystem is the race this design avoids.
    if (authorised && readOnly.some((ro) => ro !== wanted)) {
      for (const info of interfaces) {
        await this.#deauthorise(info.name);
      }
    }
    // Both marks before any interface is authorised: the rule reads them as the disk appears.
    if (wanted) {
      await this.#mark(this.#marks, key);
    } else {
      await this.#unmark(key);
    }
    await this.#approve(key);
    // Every interface first, then the drivers: a driver for a multi-interface device may
    // claim its sibling interfaces as it binds.
    for (const info of await this.#interfaces(key)) {
      if (this.#isStorage(info)) {
        await this.#setAuthorised(info.name, true);
      }
    }
    for (const info of interfaces) {
      await this.#probe(info.name);
    }
  }

  async #onEvent(
    event: UdevEvent,
    reported: Set<string>,
    handlers: UsbWatchHandlers,
  ): Promise<void> {
    // udev's event, after its rules ran (the rule has settled the interfaces by then); the
    // kernel's own copy of an event is ignored, should the monitor be asked for both.
    if (event.source !== 'UDEV') {
      return;
    }
    if (event.subsystem === 'block') {
      await this.#onUnapprovedDisk(event, reported, handlers);
      return;
    }
    if (event.properties.get('DEVTYPE') !== 'usb_device') {
      return;
    }
    const key = basename(event.devpath);
    if (!DEVICE_NAME.test(key)) {
      return;
    }
    // `bind` of the device, not its `add`: by then the kernel has chosen a configuration and
    // created every interface, so sysfs says what the device is.
    if (event.action === 'bind') {
      const storage = await this.#storage(key).catch(() => null);
      if (storage !== null) {
        reported.add(key);
        handlers.attached(storage);
      }
    } else if (event.action === 'remove') {
      for (const name of [...this.#carriers]) {
        if (name.startsWith(`${key}:`)) {
          this.#carriers.delete(name);
        }
      }
      if (reported.delete(key)) {
        await this.#unmark(key).catch(() => undefined);
        await this.#unapprove(key).catch(() => undefined);
        handlers.detached(key);
      }
    }
  }

  /**
   * A disk the rule removed because its USB device had no approval mark: storage the interface
   * class did not announce (a vendor-class card reader), or a class-08 interface authorised by
   * someone other than the service. The interface is storage from now on and the device is
   * reported again, so the guard judges it (and records a decision) by its USB ids.
   */
  async #onUnapprovedDisk(
    event: UdevEvent,
    reported: Set<string>,
    handlers: UsbWatchHandlers,
  ): Promise<void> {
    const named = event.properties.get(UNAPPROVED_PROPERTY);
    if (
      event.action !== 'add' ||
      event.properties.get('DEVTYPE') !== 'disk' ||
      named === undefined
    ) {
      return;
    }
    const parents = usbParentsOf(event.devpath);
    // The rule names the device it matched; a devpath that disagrees is not understood.
    if (parents === null || parents.key !== named) {
      return;
    }
    if (parents.iface !== null) {
      this.#carriers.add(parents.iface);
    }
    const storage = await this.#storage(parents.key).catch(() => null);
    if (storage !== null) {
      reported.add(parents.key);
      handlers.attached(storage);
    }
  }

  /**
   * Interfaces that carry a disk now, whatever their class: a card reader present at boot
   * (coldplug is left to the service) or when the service starts has its disk already, and
   * no removal by the rule will tell of it.
   */
  async #learnCarriers(key: string): Promise<void> {
    for (const disk of await this.#disks(key)) {
      const target = await readlink(join(this.#sys, 'class/block', disk)).catch(() => null);
      const parents = target === null ? null : usbParentsOf(target);
      if (parents !== null && parents.key === key && parents.iface !== null) {
        this.#carriers.add(parents.iface);
      }
    }
  }

  #isStorage(info: UsbInterfaceInfo): boolean {
    return isStorageClass(info) || this.#carriers.has(info.name);
  }

  async #storage(key: string): Promise<AttachedUsbStorage | null> {
    const dir = join(this.#sys, 'bus/usb/devices', key);
    const kind = storageKind(await this.#interfaces(key), this.#carriers);
    if (kind === null) {
      return null;
    }
    const read = (name: string) => nodeFileReader.readBytes(join(dir, name), MAX_ATTRIBUTE_BYTES);
    const bytes = async (name: string) => {
      const raw = await read(name);
      if (raw === null) {
        return null;
      }
      // sysfs ends each string attribute with a newline the device did not send.
      return raw.at(-1) === 0x0a ? raw.subarray(0, -1) : raw;
    };
    const text = async (name: string) => {
      const raw = await bytes(name);
      return raw === null ? null : new TextDecoder().decode(raw);
    };
    const vendorId = await text('idVendor');
    if (vendorId === null) {
      return null; // gone
    }
    const device = usbDevice({
      vendorId,
      productId: await text('idProduct'),
      serial: await bytes('serial'),
      manufacturer: await bytes('manufacturer'),
      product: await bytes('product'),
      kind,
    });
    // The kernel prints both ids as four hex digits, so this is a sysfs we do not understand:
    // the rule still keeps its storage interfaces unauthorised.
    if (device === null) {
      return null;
    }
    return { key, device, systemDisk: await this.#holdsSystem(key) };
  }

  async #usbNames(): Promise<string[]> {
    return readdir(join(this.#sys, 'bus/usb/devices')).catch((error: unknown) => {
      if (isMissing(error)) {
        return [];
      }
      throw error;
    });
  }

  async #interfaces(key: string): Promise<UsbInterfaceInfo[]> {
    const names = (await this.#usbNames()).filter(
      (name) => name.startsWith(`${key}:`) && INTERFACE_NAME.test(name),
    );
    const found: UsbInterfaceInfo[] = [];
    for (const name of names) {
      const info = await this.#interface(name);
      if (info !== null) {
        found.push(info);
      }
    }
    return found;
  }

  async #interface(name: string): Promise<UsbInterfaceInfo | null> {
    const dir = join(this.#sys, 'bus/usb/devices', name);
    const interfaceClass = await this.#attribute(join(dir, 'bInterfaceClass'));
    const authorized = await this.#attribute(join(dir, 'authorized'));
    if (interfaceClass === null || authorized === null) {
      return null;
    }
    return {
      name,
      interfaceClass: interfaceClass.toLowerCase(),
      label: (await this.#attribute(join(dir, 'interface'))) ?? '',
      authorized: authorized === '1',
    };
  }

  async #attribute(path: string): Promise<string | null> {
    const raw = await nodeFileReader
      .readBytes(path, MAX_ATTRIBUTE_BYTES)
      .catch((error: unknown) => {
        if (error instanceof ProbeError) {
          return null;
        }
        throw error;
      });
    return raw === null ? null : new TextDecoder().decode(raw).trim();
  }

  async #setAuthorised(name: string, authorised: boolean): Promise<void> {
    await writeFile(join(this.#sys, 'bus/usb/devices', name, 'authorized'), authorised ? '1' : '0');
  }

  async #deauthorise(name: string): Promise<void> {
    await this.#setAuthorised(name, false);
  }

  /** Authorising does not bind a driver; drivers_probe does (PLATFORMS.md §6). */
  async #authorise(name: string): Promise<void> {
    await this.#setAuthorised(name, true);
    await this.#probe(name);
  }

  async #probe(name: string): Promise<void> {
    await writeFile(join(this.#sys, 'bus/usb/drivers_probe'), name);
  }

  async #marked(key: string): Promise<boolean> {
    return (await nodeFileReader.mtime(join(this.#marks, key))) !== null;
  }

  async #unmark(key: string): Promise<void> {
    await rm(join(this.#marks, key), { force: true });
  }

  /** The approval mark's name for the device plugged at `key` now, or null when it is gone. */
  async #approvalName(key: string): Promise<string | null> {
    const devnum = await this.#attribute(join(this.#sys, 'bus/usb/devices', key, 'devnum'));
    return devnum === null || !/^[0-9]+$/.test(devnum) ? null : `${key}@${devnum}`;
  }

  async #isApproved(key: string): Promise<boolean> {
    const name = await this.#approvalName(key);
    return name !== null && (await nodeFileReader.mtime(join(this.#approved, name))) !== null;
  }

  async #approve(key: string): Promise<void> {
    const name = await this.#approvalName(key);
    if (name === null) {
      throw new Error(`USB device ${key} has no devnum (unplugged?)`);
    }
    await this.#mark(this.#approved, name);
    await this.#unapprove(key, name);
  }

  /** Removes the port's approval marks (but `keep`): this plug's and any from earlier ones. */
  async #unapprove(key: string, keep?: string): Promise<void> {
    const names = await readdir(this.#approved).catch((): string[] => []);
    for (const name of names.filter((n) => n.startsWith(`${key}@`) && n !== keep)) {
      await rm(join(this.#approved, name), { force: true });
    }
  }

  /**
   * Writes `<folder>/<key>`. The rule trusts what is in the folder, so it must be writable by
   * the service alone: it is made 0700, and neither it nor its parent (/run/hallpass, 0755 for
   * the IPC socket beside it) may belong to anyone else or be writable by group or others.
   */
  async #mark(folder: string, key: string): Promise<void> {
    await mkdir(dirname(folder), { recursive: true, mode: 0o755 });
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const uid = process.getuid?.() ?? 0;
    for (const dir of [dirname(folder), folder]) {
      const info = await lstat(dir);
      if (
        !info.isDirectory() ||
        (info.uid !== 0 && info.uid !== uid) ||
        (info.mode & 0o022) !== 0
      ) {
        throw new Error(
          `${dir} could be written by someone other than the service: nothing is marked there`,
        );
      }
    }
    await chmod(folder, 0o700);
    await writeFile(join(folder, key), '', { mode: 0o600 });
  }

  /** Whole disks (`sda`) whose device sits under this USB device. */
  async #disks(key: string): Promise<string[]> {
    const disks: string[] = [];
    const walk = async (dir: string, depth: number): Promise<void> => {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (!entry.isDirectory()) {
          continue;
        }
        if (entry.name === 'block') {
          const names = await readdir(join(dir, entry.name)).catch(() => []);
          disks.push(...names.filter((name) => BLOCK_NAME.test(name)));
        } else if (depth < MAX_BLOCK_SEARCH_DEPTH && !entry.name.startsWith('ep_')) {
          await walk(join(dir, entry.name), depth + 1);
        }
      }
    };
    // The bus's link to the device is followed once; below it only real directories (a
    // Dirent of a link is not a directory), so the walk cannot loop.
    await walk(join(this.#sys, 'bus/usb/devices', key), 0);
    return disks;
  }

  async #diskReadOnly(disk: string): Promise<boolean> {
    return (await this.#attribute(join(this.#sys, 'class/block', disk, 'ro'))) === '1';
  }

  /** This disk, its partitions and every device stacked on them (dm-crypt, LVM, md). */
  async #stack(disks: readonly string[]): Promise<Set<string>> {
    const names = new Set<string>();
    const pending = [...disks];
    for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
      if (names.has(name) || !BLOCK_NAME.test(name)) {
        continue;
      }
      names.add(name);
      const dir = join(this.#sys, 'class/block', name);
      for (const entry of await readdir(dir).catch(() => [])) {
        // Partitions are subfolders named after the disk (sda1, nvme0n1p1).
        if (entry.startsWith(name) && entry !== name) {
          pending.push(entry);
        }
      }
      pending.push(...(await readdir(join(dir, 'holders')).catch(() => [])));
    }
    return names;
  }

  /** Whether a filesystem the system runs from, or swap, lives on this USB device. */
  async #holdsSystem(key: string): Promise<boolean> {
    const disks = await this.#disks(key);
    if (disks.length === 0) {
      return false;
    }
    const names = await this.#stack(disks);
    const numbers = new Set<string>();
    const mapperNames = new Set<string>();
    for (const name of names) {
      const dev = await this.#attribute(join(this.#sys, 'class/block', name, 'dev'));
      if (dev !== null) {
        numbers.add(dev);
      }
      const mapped = await this.#attribute(join(this.#sys, 'class/block', name, 'dm/name'));
      if (mapped !== null) {
        mapperNames.add(mapped);
      }
    }
    // A path in /dev naming one of them (btrfs shows an anonymous 0:N in mountinfo, so the
    // mount source is checked too).
    const onStack = (path: string) =>
      path.startsWith('/dev/') &&
      (names.has(basename(path)) ||
        (path.startsWith('/dev/mapper/') && mapperNames.has(basename(path))));
    const mountinfo = (await nodeFileReader.readText(join(this.#proc, 'self/mountinfo'))) ?? '';
    const mounts = parseMountinfo(mountinfo);
    const onDisk = (mount: (typeof mounts)[number]) =>
      numbers.has(mount.device) || onStack(mount.source);
    if (mounts.some((mount) => SYSTEM_MOUNTS.has(mount.mountPoint) && onDisk(mount))) {
      return true;
    }
    // Swap on the disk itself, or a swap file on a filesystem it holds (mounted anywhere): taking
    // the disk away would take swapped-out memory with it.
    const swaps = (await nodeFileReader.readText(join(this.#proc, 'swaps'))) ?? '';
    return parseSwaps(swaps).some((path) => {
      const home = mountHolding(mounts, path);
      return onStack(path) || (home !== undefined && onDisk(home));
    });
  }
}
