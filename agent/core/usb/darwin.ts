// USB storage enforcement on macOS (PLATFORMS.md §6). macOS offers no pre-mount veto without an
// Endpoint Security extension (ES_EVENT_TYPE_AUTH_MOUNT, an entitlement Apple grants) or a
// native DiskArbitration approval callback, so this reacts instead: `diskutil activity` reports
// a disk appearing, `diskutil info -plist` says whether it is a whole USB disk, `ioreg` gives
// its USB ids, and an unapproved disk is force-unmounted and ejected (read-only: remounted with
// `diskutil mount readOnly`). Between the volume mounting and the unmount there is a window.
import type { Host } from '../host.ts';
import { ProbeError } from '../runner.ts';
import { startLineMonitor, spawnMonitor, type Spawner } from './line-monitor.ts';
import type {
  AttachedUsbStorage,
  UsbEnforcement,
  UsbPlatform,
  UsbWatchHandlers,
} from './platform.ts';
import { isPlistDict, parsePlist, PlistError, type PlistDict, type PlistValue } from './plist.ts';
import { usbDevice } from './sanitize.ts';
import { unidentifiedDevice } from './unidentified.ts';

const TIMEOUT_MS = 30_000;

/** Said in status: what macOS cannot do without an Endpoint Security extension. */
export const DARWIN_FAIL_CLOSED_GAP =
  'macOS cannot refuse a USB disk before it mounts without an Endpoint Security extension, ' +
  "which needs Apple's entitlement: an unapproved disk mounts, is seen, and is unmounted and " +
  'ejected about a second or two later (not measured); while the service is stopped nothing ' +
  'is blocked.';

/** A BSD name as diskutil prints it: `disk4`, `disk4s1`, `disk3s1s1`. */
const BSD_NAME = /^disk[0-9]+(?:s[0-9]+)*$/;
const WHOLE_DISK = /^disk[0-9]+$/;

/** The whole disk a BSD name belongs to (`disk4s2` → `disk4`). */
export function wholeDiskOf(bsd: string): string {
  return /^disk[0-9]+/.exec(bsd)?.[0] ?? bsd;
}

/** One `diskutil activity` event the guard acts on. */
export interface ActivityEvent {
  event: 'appeared' | 'disappeared';
  bsd: string;
}

const ACTIVITY = /^\*\*\*Disk(Appeared|Disappeared) \('([^']*)'/;

/**
 * Reads one line of `diskutil activity` (e.g. `***DiskAppeared ('disk4', DAVolumePath = …)`).
 * Only the BSD name is read, and only when it is one: the volume name later on the line is the
 * device's to choose.
 */
export function parseActivityLine(line: string): ActivityEvent | null {
  const match = ACTIVITY.exec(line);
  const bsd = match?.[2];
  if (match === null || bsd === undefined || !BSD_NAME.test(bsd)) {
    return null;
  }
  return { event: match[1] === 'Appeared' ? 'appeared' : 'disappeared', bsd };
}

function plistDict(xml: string, what: string): PlistDict | string {
  let value: PlistValue;
  try {
    value = parsePlist(xml);
  } catch (error) {
    return `${what}: ${error instanceof PlistError ? error.message : 'unreadable'}`;
  }
  if (!isPlistDict(value)) {
    return `${what}: not a dictionary`;
  }
  if (value.Error === true) {
    const message = typeof value.ErrorMessage === 'string' ? value.ErrorMessage : 'error';
    return `${what}: ${message.slice(0, 200)}`;
  }
  return value;
}

const text = (dict: PlistDict, key: string): string | null =>
  typeof dict[key] === 'string' ? dict[key] : null;
const flag = (dict: PlistDict, key: string): boolean | null =>
  typeof dict[key] === 'boolean' ? dict[key] : null;

/** What the guard reads from `diskutil info -plist <disk>`. */
export interface DiskInfo {
  deviceIdentifier: string;
  wholeDisk: boolean;
  busProtocol: string | null;
  internal: boolean | null;
  virtual: boolean;
  /** The whole disk holding this one: ParentWholeDisk, or an APFS container's physical store. */
  physicalWholeDisk: string;
}

/** Parses `diskutil info -plist`; a string says why it is not understood. */
export function parseDiskInfo(xml: string): DiskInfo | string {
  const dict = plistDict(xml, 'diskutil info');
  if (typeof dict === 'string') {
    return dict;
  }
  const id = text(dict, 'DeviceIdentifier');
  const whole = flag(dict, 'WholeDisk');
  if (id === null || !BSD_NAME.test(id) || whole === null) {
    return 'diskutil info: no DeviceIdentifier or WholeDisk';
  }
  const stores = Array.isArray(dict.APFSPhysicalStores) ? dict.APFSPhysicalStores : [];
  const store = stores
    .filter(isPlistDict)
    .map((entry) => text(entry, 'APFSPhysicalStore') ?? text(entry, 'DeviceIdentifier'))
    .find((name): name is string => name !== null && BSD_NAME.test(name));
  const parent = text(dict, 'ParentWholeDisk');
  return {
    deviceIdentifier: id,
    wholeDisk: whole,
    busProtocol: text(dict, 'BusProtocol'),
    internal: flag(dict, 'Internal'),
    virtual: text(dict, 'VirtualOrPhysical') === 'Virtual',
    physicalWholeDisk: wholeDiskOf(
      store ?? (parent !== null && BSD_NAME.test(parent) ? parent : id),
    ),
  };
}

/** Parses `diskutil list -plist`: the whole disks, and the volumes they hold. */
export function parseDiskList(xml: string): { wholeDisks: string[]; volumes: string[] } | string {
  const dict = plistDict(xml, 'diskutil list');
  if (typeof dict === 'string') {
    return dict;
  }
  const whole = Array.isArray(dict.WholeDisks) ? dict.WholeDisks : null;
  if (whole === null) {
    return 'diskutil list: no WholeDisks';
  }
  const volumes: string[] = [];
  const disks = Array.isArray(dict.AllDisksAndPartitions) ? dict.AllDisksAndPartitions : [];
  for (const disk of disks.filter(isPlistDict)) {
    for (const list of [disk.Partitions, disk.APFSVolumes]) {
      for (const part of (Array.isArray(list) ? list : []).filter(isPlistDict)) {
        const id = text(part, 'DeviceIdentifier');
        // The EFI partition is not mounted by macOS; an APFS physical store is mounted through
        // the container's volumes (listed under the container disk).
        const content = text(part, 'Content');
        if (id !== null && BSD_NAME.test(id) && content !== 'EFI' && content !== 'Apple_APFS') {
          volumes.push(id);
        }
      }
    }
  }
  return {
    wholeDisks: whole.filter((d): d is string => typeof d === 'string' && WHOLE_DISK.test(d)),
    volumes,
  };
}

/** USB ids of the device a whole disk sits on, as `ioreg -a` shows them. */
export interface IoregUsbIds {
  vendorId: string | null;
  productId: string | null;
  serial: string | null;
  manufacturer: string | null;
  product: string | null;
}

const hex4 = (value: PlistValue | undefined): string | null =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff
    ? value.toString(16).padStart(4, '0')
    : null;

/**
 * Parses `ioreg -r -c IOUSBHostDevice -l -a`: an array of USB devices, each with its subtree
 * under IORegistryEntryChildren. Every whole-disk BSD name found below a device maps to that
 * device's ids (kUSB*String keys first, the older "USB … Name" keys otherwise).
 */
export function parseIoregUsb(xml: string): Map<string, IoregUsbIds> | string {
  let value: PlistValue;
  try {
    value = parsePlist(xml);
  } catch (error) {
    return `ioreg: ${error instanceof PlistError ? error.message : 'unreadable'}`;
  }
  if (!Array.isArray(value)) {
    return 'ioreg: not an array of devices';
  }
  const found = new Map<string, IoregUsbIds>();
  for (const device of value.filter(isPlistDict)) {
    const ids: IoregUsbIds = {
      vendorId: hex4(device.idVendor),
      productId: hex4(device.idProduct),
      serial: text(device, 'kUSBSerialNumberString') ?? text(device, 'USB Serial Number'),
      manufacturer: text(device, 'kUSBVendorString') ?? text(device, 'USB Vendor Name'),
      product: text(device, 'kUSBProductString') ?? text(device, 'USB Product Name'),
    };
    const pending: PlistValue[] = [device.IORegistryEntryChildren ?? []];
    while (pending.length > 0) {
      const children = pending.pop();
      for (const child of (Array.isArray(children) ? children : []).filter(isPlistDict)) {
        const bsd = text(child, 'BSD Name');
        if (bsd !== null && WHOLE_DISK.test(bsd)) {
          found.set(bsd, ids);
        }
        pending.push(child.IORegistryEntryChildren ?? []);
      }
    }
  }
  return found;
}

/** `diskutil` arguments for the actions (man diskutil: unmountDisk, eject, mount, mountDisk). */
export function applyArgs(action: UsbEnforcement, disk: string, volumes: readonly string[]) {
  switch (action) {
    case 'block':
      return [
        ['unmountDisk', 'force', disk],
        ['eject', disk],
      ];
    case 'read-only':
      return [['unmountDisk', 'force', disk], ...volumes.map((v) => ['mount', 'readOnly', v])];
    case 'read-write':
      return [
        ['unmountDisk', disk],
        ['mountDisk', disk],
      ];
  }
}

/** The macOS USB platform; `spawner` starts `diskutil activity`. */
export function darwinUsbPlatform(host: Host, spawner: Spawner = spawnMonitor): UsbPlatform {
  const applied = new Map<string, UsbEnforcement>();

  async function diskutil(args: string[]): Promise<string> {
    const output = await host.run('diskutil', args, { timeoutMs: TIMEOUT_MS });
    // `-plist` answers carry their own Error key; other verbs fail by exit code.
    if (output.exitCode !== 0 && !args.includes('-plist')) {
      throw new ProbeError(
        'probe-failed',
        `diskutil ${args.join(' ')} exited ${output.exitCode}: ${output.stderr.trim().slice(0, 300)}`,
      );
    }
    return output.stdout;
  }

  async function info(target: string): Promise<DiskInfo> {
    const parsed = parseDiskInfo(await diskutil(['info', '-plist', target]));
    if (typeof parsed === 'string') {
      throw new ProbeError('unrecognised-output', parsed);
    }
    return parsed;
  }

  async function usbIds(): Promise<Map<string, IoregUsbIds>> {
    const output = await host.run('ioreg', ['-r', '-c', 'IOUSBHostDevice', '-l', '-a'], {
      timeoutMs: TIMEOUT_MS,
    });
    // No USB device at all: ioreg prints nothing.
    if (output.stdout.trim() === '') {
      return new Map();
    }
    const parsed = parseIoregUsb(output.stdout);
    if (typeof parsed === 'string') {
      throw new ProbeError('unrecognised-output', parsed);
    }
    return parsed;
  }

  /** The storage a whole disk is, or null when it is not a physical USB disk. */
  async function judge(
    disk: string,
    context: () => Promise<{ systemWhole: string; ids: Map<string, IoregUsbIds> }>,
  ): Promise<AttachedUsbStorage | null> {
    const about = await info(disk);
    if (!about.wholeDisk || about.virtual || about.busProtocol !== 'USB') {
      return null;
    }
    // Asked only for USB disks: the burst of internal disks at start costs one call each.
    const { systemWhole, ids } = await context();
    const usb = ids.get(disk);
    const device = usb === undefined ? null : usbDevice({ ...usb, kind: 'mass-storage' });
    return {
      key: disk,
      device: device ?? unidentifiedDevice(`ioreg shows no USB ids for ${disk}`),
      systemDisk: disk === systemWhole,
    };
  }

  const systemWholeDisk = async () => (await info('/')).physicalWholeDisk;

  async function listAttached(): Promise<AttachedUsbStorage[]> {
    const list = parseDiskList(await diskutil(['list', '-plist']));
    if (typeof list === 'string') {
      throw new ProbeError('unrecognised-output', list);
    }
    let context: Promise<{ systemWhole: string; ids: Map<string, IoregUsbIds> }> | null = null;
    const once = () => {
      context ??= (async () => ({ systemWhole: await systemWholeDisk(), ids: await usbIds() }))();
      return context;
    };
    const found: AttachedUsbStorage[] = [];
    for (const disk of list.wholeDisks) {
      const storage = await judge(disk, once);
      if (storage !== null) {
        found.push(storage);
      }
    }
    return found;
  }

  return {
    installFailClosedDefault() {
      return Promise.resolve(DARWIN_FAIL_CLOSED_GAP);
    },

    listAttached,

    watch(handlers: UsbWatchHandlers) {
      const known = new Set<string>();
      // Events are handled one at a time, in order: a disk's disappearance never overtakes
      // its appearance.
      let queue = Promise.resolve();
      const handle = async (event: ActivityEvent) => {
        const disk = event.bsd;
        if (!WHOLE_DISK.test(disk)) {
          return;
        }
        if (event.event === 'appeared') {
          const storage = await judge(disk, async () => ({
            systemWhole: await systemWholeDisk(),
            ids: await usbIds(),
          }));
          if (storage !== null) {
            known.add(disk);
            handlers.attached(storage);
          }
          return;
        }
        // A volume name with a newline could fake this line: believe it only when diskutil
        // no longer knows the disk.
        if (known.has(disk)) {
          const still = parseDiskInfo(await diskutil(['info', '-plist', disk]));
          if (typeof still === 'string') {
            known.delete(disk);
            applied.delete(disk);
            handlers.detached(disk);
          }
        }
      };
      const monitor = startLineMonitor(spawner, 'diskutil', ['activity'], {
        line: (line) => {
          const event = parseActivityLine(line);
          if (event !== null) {
            queue = queue.then(() =>
              handle(event).catch((error: unknown) => {
                handlers.failed(
                  error instanceof Error ? error : new Error('judging a disk failed'),
                );
              }),
            );
          }
        },
        noise: () => undefined,
        ended: (error) => {
          handlers.failed(error);
        },
      });
      return {
        async stop() {
          await monitor.stop();
          await queue;
        },
      };
    },

    async apply(storage, action) {
      const previous = applied.get(storage.key);
      if (storage.systemDisk || previous === action) {
        return;
      }
      if (!WHOLE_DISK.test(storage.key)) {
        throw new ProbeError('probe-failed', `not a whole disk: ${storage.key}`);
      }
      // An untouched disk is as macOS mounted it: read-write already.
      if (action === 'read-write' && previous === undefined) {
        applied.set(storage.key, action);
        return;
      }
      let volumes: string[] = [];
      if (action === 'read-only') {
        const list = parseDiskList(await diskutil(['list', '-plist', storage.key]));
        if (typeof list === 'string') {
          throw new ProbeError('unrecognised-output', list);
        }
        volumes = list.volumes;
      }
      const [first, ...rest] = applyArgs(action, storage.key, volumes);
      if (first !== undefined) {
        await diskutil(first);
      }
      // Remounting read-only: a volume macOS cannot mount (an unknown filesystem) is skipped,
      // and stays unmounted; only when no volume could be remounted is it reported as failed.
      const failures: string[] = [];
      for (const args of rest) {
        try {
          await diskutil(args);
        } catch (error) {
          if (action !== 'read-only') {
            throw error;
          }
          failures.push(error instanceof Error ? error.message : String(error));
        }
      }
      if (action === 'read-only' && rest.length > 0 && failures.length === rest.length) {
        throw new ProbeError('probe-failed', `no volume remounted read-only: ${failures[0] ?? ''}`);
      }
      applied.set(storage.key, action);
    },
  };
}
