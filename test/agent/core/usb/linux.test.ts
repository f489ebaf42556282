// The Linux USB platform's parsing and sysfs handling on recorded real output
// (test/fixtures/linux/usb/README.md says how each was recorded). The kernel's own behaviour is
// tested on a real kernel in linux-guest.test.ts.
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  LinuxUsbPlatform,
  RULE_FILE,
  parseMountinfo,
  parseSwaps,
  storageKind,
  usbParentsOf,
} from '../../../../agent/core/usb/linux.ts';
import type { AttachedUsbStorage } from '../../../../agent/core/usb/platform.ts';
import {
  MAX_MONITOR_LINE,
  UdevMonitorParser,
  type UdevEvent,
} from '../../../../agent/core/usb/udev-monitor.ts';
import { ProbeError, type CommandOutput, type RunOptions } from '../../../../agent/core/runner.ts';

const fixtures = new URL('../../../fixtures/linux/usb/', import.meta.url).pathname;
const fixture = (name: string) => readFile(join(fixtures, name), 'utf8');
const STICK_DIR = '/devices/pci0000:00/0000:00:02.0/usb2/2-1';

function parse(text: string, chunk = Infinity): { events: UdevEvent[]; dropped: number } {
  const events: UdevEvent[] = [];
  const parser = new UdevMonitorParser((event) => events.push(event));
  for (let i = 0; i < text.length; i += chunk) {
    parser.push(text.slice(i, i + chunk));
  }
  parser.end();
  return { events, dropped: parser.dropped };
}

describe('udevadm monitor parser', () => {
  it('reads every event of a real stream from the QEMU guest, however it is chunked', async () => {
    const text = await fixture('qemu-udevadm-monitor-stick-keyboard.txt');
    const whole = parse(text);
    const headers = text.split('\n').filter((line) => /^(UDEV|KERNEL) *\[/.test(line));
    expect(whole.events).toHaveLength(headers.length);
    expect(whole.dropped).toBe(0);
    const bind = whole.events.find(
      (event) => event.source === 'UDEV' && event.action === 'bind' && event.devpath === STICK_DIR,
    );
    expect(bind?.subsystem).toBe('usb');
    expect(bind?.properties.get('DEVTYPE')).toBe('usb_device');
    expect(bind?.properties.get('PRODUCT')).toBe('46f4/1/0');
    const disk = whole.events.find((event) => event.subsystem === 'block');
    expect(disk?.properties.get('DEVNAME')).toBe('/dev/sda');
    for (const size of [1, 7, 100]) {
      expect(parse(text, size).events).toEqual(whole.events);
    }
  });

  it('reads the public stream with udev ID_ properties', async () => {
    const { events } = parse(await fixture('public-udevadm-monitor-environment-ftdi.txt'));
    expect(events.map((event) => `${event.source} ${event.action}`)).toEqual([
      'KERNEL add',
      'UDEV add',
    ]);
    expect(events[1]?.properties.get('ID_SERIAL_SHORT')).toBe('A50449P0');
    expect(events[1]?.properties.get('ID_VENDOR_FROM_DATABASE')).toBe(
      'Future Technology Devices International, Ltd',
    );
  });

  it('drops what it does not know instead of guessing: old formats, stray lines, huge lines', () => {
    const old =
      'UEVENT[1191251184.382314] add /devices/pci0000:00/0000:00:1d.7/usb7/7-5 (usb)\nACTION=add\nDEVTYPE=usb_device\n\n';
    expect(parse(old)).toEqual({ events: [], dropped: 1 });
    const header = 'UDEV  [1.000000] bind     /devices/x/usb1/1-1 (usb)\n';
    const huge = `${header}ID_SERIAL=${'A'.repeat(MAX_MONITOR_LINE * 3)}\nDEVTYPE=usb_device\n\n${header}DEVTYPE=usb_device\n\n`;
    const afterHuge = parse(huge, 1000);
    expect(afterHuge.events).toHaveLength(1);
    expect(afterHuge.dropped).toBe(1);
    const garbage = `${header}this is not a property\nDEVTYPE=usb_device\n\n`;
    expect(parse(garbage).events).toEqual([]);
    const control = `${header}ID_MODEL=\u001b[31mred\u0000\nDEVTYPE=usb_device\n\n`;
    expect(parse(control).events[0]?.properties.get('ID_MODEL')).toBe('\u001b[31mred\u0000');
  });
});

describe('mountinfo and swaps', () => {
  it('reads a real mountinfo and a constructed one with a USB root', async () => {
    const host = parseMountinfo(await fixture('debian12-host-mountinfo.txt'));
    expect(host.length).toBeGreaterThan(3);
    expect(host.every((mount) => /^\d+:\d+$/.test(mount.device))).toBe(true);
    const usb = parseMountinfo(await fixture('constructed-mountinfo-usb-root.txt'));
    expect(usb[0]).toEqual({ device: '8:0', mountPoint: '/', source: '/dev/sda' });
    expect(
      parseMountinfo('22 1 8:0 /a\\040b /mnt/a\\040b rw - ext4 /dev/sda rw')[0]?.mountPoint,
    ).toBe('/mnt/a b');
    expect(parseMountinfo('not mountinfo\n\n1 2 3')).toEqual([]);
    expect(parseSwaps(await fixture('constructed-swaps-usb.txt'))).toEqual(['/dev/sda']);
  });
});

describe('storage kind', () => {
  const iface = (interfaceClass: string, label = '') => ({
    name: '1-1:1.0',
    interfaceClass,
    label,
    authorized: false,
  });
  it('is mass storage for class 08, portable media for 06 or an MTP interface, else none', () => {
    expect(storageKind([iface('03'), iface('08')])).toBe('mass-storage');
    expect(storageKind([iface('06')])).toBe('portable-media');
    expect(storageKind([iface('ff', 'MTP')])).toBe('portable-media');
    expect(storageKind([iface('03'), iface('09')])).toBeNull();
  });

  it('is mass storage for an interface of any class a disk was seen under', () => {
    expect(storageKind([iface('ff')])).toBeNull();
    expect(storageKind([iface('ff')], new Set(['1-1:1.0']))).toBe('mass-storage');
    expect(storageKind([iface('ff')], new Set(['1-2:1.0']))).toBeNull();
  });
});

describe('USB parents of a disk', () => {
  it('finds the device and interface of a stick, a card reader behind a hub, or says none', () => {
    expect(usbParentsOf(`${STICK_DIR}/2-1:1.0/host0/target0:0:0/0:0:0:0/block/sda`)).toEqual({
      key: '2-1',
      iface: '2-1:1.0',
    });
    expect(
      usbParentsOf(
        '/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2.4/1-2.4:1.0/rtsx_usb_sdmmc.0.auto/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0',
      ),
    ).toEqual({ key: '1-2.4', iface: '1-2.4:1.0' });
    expect(
      usbParentsOf('/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda'),
    ).toBeNull();
  });
});

/** Recreates the recorded sysfs tree under `root` (see the fixture's README). */
async function materialise(root: string, text: string): Promise<string> {
  const sys = join(root, 'sys');
  const under = (path: string) => join(root, path);
  for (const line of text.split('\n')) {
    const kind = line.slice(0, 2);
    const [path = '', value = ''] = line.slice(2).split('\t');
    if (kind === 'D ') {
      await mkdir(under(path), { recursive: true });
    } else if (kind === 'F ') {
      await mkdir(dirname(under(path)), { recursive: true });
      await writeFile(under(path), value.replaceAll('\u001e', '\n'));
    } else if (kind === 'L ') {
      await mkdir(dirname(under(path)), { recursive: true });
      await symlink(value, under(path));
      const disk = /^\/sys\/block\/(\w+)$/.exec(path)?.[1];
      if (disk !== undefined) {
        await mkdir(join(sys, 'class/block'), { recursive: true });
        await symlink(join('../..', value.replace(/^\.\.\//, '')), join(sys, 'class/block', disk));
      }
    }
  }
  await writeFile(join(sys, 'bus/usb/drivers_probe'), '');
  return sys;
}

/**
 * Adds the RTS5129 card reader of the public `udevadm info` recording to a sysfs tree: its ids,
 * serial and vendor string and its interface's class (INTERFACE=255/6/80, class ff) come from
 * the recording; the product string and devnum, which the excerpt cut, are placeholders.
 */
async function addCardReader(sys: string): Promise<void> {
  const recorded = await fixture('public-udevadm-info-rtsx-usb-rts5129.txt');
  const value = (key: string) => new RegExp(`^E: ${key}=(.*)$`, 'm').exec(recorded)?.[1] ?? '';
  const [vendor = '', product = ''] = value('PRODUCT').split('/');
  const interfaceClass = Number(value('INTERFACE').split('/')[0]).toString(16).padStart(2, '0');
  const device = join(sys, 'devices/pci0000:00/0000:00:14.0/usb1/1-5');
  const iface = join(device, '1-5:1.0');
  await mkdir(iface, { recursive: true });
  await writeFile(join(device, 'idVendor'), `${vendor.padStart(4, '0')}\n`);
  await writeFile(join(device, 'idProduct'), `${product.padStart(4, '0')}\n`);
  await writeFile(join(device, 'serial'), `${value('ID_SERIAL_SHORT')}\n`);
  await writeFile(join(device, 'manufacturer'), `${value('ID_VENDOR')}\n`);
  await writeFile(join(device, 'product'), 'USB2.0-CRW\n');
  await writeFile(join(device, 'authorized'), '1\n');
  // Not in the excerpt either: the bus's number for this plug.
  await writeFile(join(device, 'devnum'), '3\n');
  await writeFile(join(iface, 'bInterfaceClass'), `${interfaceClass}\n`);
  await writeFile(join(iface, 'authorized'), '1\n');
  await writeFile(join(iface, 'interface'), '\n');
  await symlink(device, join(sys, 'bus/usb/devices/1-5'));
  await symlink(iface, join(sys, 'bus/usb/devices/1-5:1.0'));
}

describe('LinuxUsbPlatform on a recorded sysfs tree', () => {
  let root = '';
  let sys = '';
  let proc = '';
  let commands: string[] = [];
  const run = (command: string, args: readonly string[], _options: RunOptions) => {
    commands.push([command, ...args].join(' '));
    return Promise.resolve<CommandOutput>({ stdout: '', stderr: '', exitCode: 0 });
  };
  const platform = () =>
    new LinuxUsbPlatform({
      sysRoot: sys,
      procRoot: proc,
      rulesDir: join(root, 'rules.d'),
      readOnlyMarks: join(root, 'run/marks'),
      approvedMarks: join(root, 'run/approved'),
      run,
    });
  const attribute = (path: string) => readFile(join(sys, path), 'utf8');

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'hallpass-usb-sysfs-'));
    sys = await materialise(root, await fixture('qemu-sysfs-stick-read-only-and-keyboard.txt'));
    proc = join(root, 'proc');
    await mkdir(join(proc, 'self'), { recursive: true });
    await writeFile(join(proc, 'self/mountinfo'), await fixture('debian12-host-mountinfo.txt'));
    await writeFile(join(proc, 'swaps'), 'Filename\tType\tSize\tUsed\tPriority\n');
    commands = [];
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('lists the stick, not the keyboard or the hubs', async () => {
    const attached = await platform().listAttached();
    expect(attached).toEqual([
      {
        key: '2-1',
        device: {
          vendorId: '46f4',
          productId: '0001',
          serial: 'UNKNOWN1',
          name: 'QEMU QEMU USB HARDDRIVE',
          kind: 'mass-storage',
        },
        systemDisk: false,
      },
    ]);
  });

  it('recognises the stick as a system disk when it holds / or swap', async () => {
    await writeFile(
      join(proc, 'self/mountinfo'),
      await fixture('constructed-mountinfo-usb-root.txt'),
    );
    expect((await platform().listAttached())[0]?.systemDisk).toBe(true);
    await writeFile(join(proc, 'self/mountinfo'), await fixture('debian12-host-mountinfo.txt'));
    await writeFile(join(proc, 'swaps'), await fixture('constructed-swaps-usb.txt'));
    const [stick] = await platform().listAttached();
    expect(stick?.systemDisk).toBe(true);
    await expect(platform().apply(stick as AttachedUsbStorage, 'block')).rejects.toThrow(
      /system runs from/,
    );
    expect(await attribute('bus/usb/devices/2-1:1.0/authorized')).toBe('1\n');
  });

  it('recognises the stick as a system disk when a swap file on it is active, wherever it is mounted', async () => {
    const swaps = (path: string) =>
      `Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n${path}\tfile\t\t8188\t\t0\t\t-3\n`;
    // The stick's sda (8:0) at a mount point of no system (the host's own mounts before it).
    const host = await fixture('debian12-host-mountinfo.txt');
    const mounted = (line: string) => `${host.trimEnd()}\n${line}\n`;
    await writeFile(
      join(proc, 'self/mountinfo'),
      mounted('90 27 8:0 / /media/usb\\040stick rw,relatime - ext4 /dev/sda rw'),
    );
    await writeFile(join(proc, 'swaps'), swaps('/media/usb\\040stick/swapfile'));
    const [stick] = await platform().listAttached();
    expect(stick?.systemDisk).toBe(true);
    await expect(platform().apply(stick as AttachedUsbStorage, 'block')).rejects.toThrow(
      /system runs from/,
    );
    expect(await attribute('bus/usb/devices/2-1:1.0/authorized')).toBe('1\n');
    // Deleted while active: the kernel appends " (deleted)" to the path.
    await writeFile(join(proc, 'swaps'), swaps('/media/usb\\040stick/swapfile\\040(deleted)'));
    expect((await platform().listAttached())[0]?.systemDisk).toBe(true);
    // A swap file on the host's own disk, or beside the stick's mount point, is not the stick's.
    await writeFile(join(proc, 'swaps'), swaps('/swapfile'));
    expect((await platform().listAttached())[0]?.systemDisk).toBe(false);
    await writeFile(join(proc, 'swaps'), swaps('/media/usb\\040stickier/swapfile'));
    expect((await platform().listAttached())[0]?.systemDisk).toBe(false);
    // The stick mounted over by another disk: the file is on the mount on top.
    await writeFile(
      join(proc, 'self/mountinfo'),
      mounted(
        '90 27 8:0 / /media/usb\\040stick rw - ext4 /dev/sda rw\n91 90 254:1 / /media/usb\\040stick rw - ext4 /dev/vdb rw',
      ),
    );
    await writeFile(join(proc, 'swaps'), swaps('/media/usb\\040stick/swapfile'));
    expect((await platform().listAttached())[0]?.systemDisk).toBe(false);
  });

  it('reports a device without a serial (an entry for its model may approve it) with serial null', async () => {
    await rm(join(sys, 'devices/pci0000:00/0000:00:02.0/usb2/2-1/serial'));
    const [stick] = await platform().listAttached();
    expect(stick?.device).toMatchObject({ vendorId: '46f4', productId: '0001', serial: null });
  });

  it('recognises a system filesystem on dm-crypt/LVM stacked on the stick (constructed holders)', async () => {
    // sysfs as the kernel lays out a holder: <disk>/holders/dm-0 and /sys/class/block/dm-0.
    const dm = join(root, 'sys/devices/virtual/block/dm-0');
    await mkdir(join(dm, 'dm'), { recursive: true });
    await writeFile(join(dm, 'dev'), '254:0\n');
    await writeFile(join(dm, 'dm/name'), 'usbroot\n');
    await symlink('../../devices/virtual/block/dm-0', join(sys, 'class/block/dm-0'));
    await symlink(
      '../../../../../../../../../../../virtual/block/dm-0',
      join(sys, 'class/block/sda/holders/dm-0'),
    );
    await writeFile(
      join(proc, 'self/mountinfo'),
      '22 1 254:0 / / rw - ext4 /dev/mapper/usbroot rw\n',
    );
    expect((await platform().listAttached())[0]?.systemDisk).toBe(true);
    // btrfs shows an anonymous device number: the mount source names the mapper device.
    await writeFile(
      join(proc, 'self/mountinfo'),
      '22 1 0:31 / /usr rw - btrfs /dev/mapper/usbroot rw\n',
    );
    expect((await platform().listAttached())[0]?.systemDisk).toBe(true);
    await writeFile(
      join(proc, 'self/mountinfo'),
      '22 1 0:31 / /home rw - btrfs /dev/mapper/usbroot rw\n',
    );
    expect((await platform().listAttached())[0]?.systemDisk).toBe(false);
  });

  it('escapes what a hostile device says about itself', async () => {
    const dir = join(sys, 'devices/pci0000:00/0000:00:02.0/usb2/2-1');
    await writeFile(join(dir, 'serial'), Buffer.from([0x41, 0x1b, 0x5b, 0x32, 0x4a, 0xff, 0x0a]));
    await writeFile(join(dir, 'product'), `${'x'.repeat(10_000)}\n`);
    const [stick] = await platform().listAttached();
    expect(stick?.device.serial).toBe('A\\x1b[2J\ufffd');
    expect(stick?.device.name.length).toBeLessThanOrEqual(200);
  });

  it('blocks by unauthorising the storage interface only, and does it once', async () => {
    const [stick] = await platform().listAttached();
    const storage = stick as AttachedUsbStorage;
    await platform().apply(storage, 'block');
    expect(await attribute('bus/usb/devices/2-1:1.0/authorized')).toBe('0');
    expect(await attribute('bus/usb/devices/2-1/authorized')).toBe('1\n');
    await writeFile(join(sys, 'bus/usb/devices/2-1:1.0/authorized'), '0\n');
    await platform().apply(storage, 'block');
    expect(await attribute('bus/usb/devices/2-1:1.0/authorized')).toBe('0\n');
  });

  it('read-write authorises and probes; read-only marks the device first; both idempotent', async () => {
    const [stick] = await platform().listAttached();
    const storage = stick as AttachedUsbStorage;
    await writeFile(join(sys, 'bus/usb/devices/2-1:1.0/authorized'), '0');
    await platform().apply(storage, 'read-only');
    expect(await readFile(join(root, 'run/marks/2-1'), 'utf8')).toBe('');
    expect(await attribute('bus/usb/devices/2-1:1.0/authorized')).toBe('1');
    expect(await attribute('bus/usb/drivers_probe')).toBe('2-1:1.0');
    // The recorded disk is read-only already (ro = 1): nothing more to do.
    await writeFile(join(sys, 'bus/usb/drivers_probe'), '');
    await platform().apply(storage, 'read-only');
    expect(await attribute('bus/usb/drivers_probe')).toBe('');
    // To read-write: the disk must come back without the mark, through udev.
    await platform().apply(storage, 'read-write');
    await expect(readFile(join(root, 'run/marks/2-1'))).rejects.toThrow(/ENOENT/);
    expect(await attribute('bus/usb/drivers_probe')).toBe('2-1:1.0');
  });

  it('marks approval in a root-only folder before it authorises, and unmarks it when it blocks', async () => {
    const [stick] = await platform().listAttached();
    const storage = stick as AttachedUsbStorage;
    await writeFile(join(sys, 'bus/usb/devices/2-1:1.0/authorized'), '0');
    await platform().apply(storage, 'read-write');
    expect(await readFile(join(root, 'run/approved/2-1@2'), 'utf8')).toBe('');
    expect((await stat(join(root, 'run/approved'))).mode & 0o777).toBe(0o700);
    expect(await attribute('bus/usb/devices/2-1:1.0/authorized')).toBe('1');
    await platform().apply(storage, 'block');
    await expect(readFile(join(root, 'run/approved/2-1@2'))).rejects.toThrow(/ENOENT/);
    expect(await attribute('bus/usb/devices/2-1:1.0/authorized')).toBe('0');
    // A mark left by an earlier plug at this port (another devnum) approves nothing and goes.
    await writeFile(join(root, 'run/approved/2-1@1'), '');
    await platform().apply(storage, 'read-write');
    await expect(readFile(join(root, 'run/approved/2-1@1'))).rejects.toThrow(/ENOENT/);
    expect(await readFile(join(root, 'run/approved/2-1@2'), 'utf8')).toBe('');
    await platform().apply(storage, 'block');
    // Authorised by hand (or before this version), without the mark: applying again marks it.
    await writeFile(join(sys, 'bus/usb/devices/2-1:1.0/authorized'), '1');
    await platform().apply(storage, 'read-only');
    expect(await readFile(join(root, 'run/approved/2-1@2'), 'utf8')).toBe('');
  });

  it('marks nothing, and authorises nothing, where others could write the marks', async () => {
    const [stick] = await platform().listAttached();
    const storage = stick as AttachedUsbStorage;
    await writeFile(join(sys, 'bus/usb/devices/2-1:1.0/authorized'), '0');
    await mkdir(join(root, 'run'), { recursive: true });
    await chmod(join(root, 'run'), 0o777);
    await expect(platform().apply(storage, 'read-write')).rejects.toThrow(
      /could be written by someone other than the service/,
    );
    expect(await attribute('bus/usb/devices/2-1:1.0/authorized')).toBe('0');
  });

  it('takes a vendor-class card reader whose disk the rule removed for storage, judged by its USB ids', async () => {
    await addCardReader(sys);
    // Class ff and authorised by the class rule: not storage by its class.
    expect((await platform().listAttached()).map((s) => s.key)).toEqual(['2-1']);
    const platformUnderTest = new LinuxUsbPlatform({
      sysRoot: sys,
      procRoot: proc,
      readOnlyMarks: join(root, 'run/marks'),
      approvedMarks: join(root, 'run/approved'),
      monitorCommand: [
        'cat',
        join(fixtures, 'constructed-udevadm-monitor-rtsx-mmcblk-unapproved.txt'),
      ],
    });
    const reports: AttachedUsbStorage[] = [];
    await new Promise<void>((resolve) => {
      const watch = platformUnderTest.watch({
        attached: (storage) => reports.push(storage),
        detached: () => undefined,
        failed: () => {
          void watch.stop().then(resolve);
        },
      });
    });
    // The disk event, not its partition's: reported once.
    expect(reports).toEqual([
      {
        key: '1-5',
        device: {
          vendorId: '0bda',
          productId: '0129',
          serial: '20100201396000000',
          name: 'Generic USB2.0-CRW',
          kind: 'mass-storage',
        },
        systemDisk: false,
      },
    ]);
    // Remembered as storage: listed, and approved like any stick (mark first, then authorise).
    expect((await platformUnderTest.listAttached()).map((s) => s.key)).toEqual(['1-5', '2-1']);
    const reader = reports[0] as AttachedUsbStorage;
    await writeFile(join(sys, 'bus/usb/devices/1-5:1.0/authorized'), '0');
    await platformUnderTest.apply(reader, 'read-write');
    expect(await readFile(join(root, 'run/approved/1-5@3'), 'utf8')).toBe('');
    expect(await attribute('bus/usb/devices/1-5:1.0/authorized')).toBe('1');
    expect(await attribute('bus/usb/drivers_probe')).toBe('1-5:1.0');
    await platformUnderTest.apply(reader, 'block');
    expect(await attribute('bus/usb/devices/1-5:1.0/authorized')).toBe('0');
    await expect(readFile(join(root, 'run/approved/1-5@3'))).rejects.toThrow(/ENOENT/);
    // A platform that never saw the disk does not take the reader for storage.
    expect((await platform().listAttached()).map((s) => s.key)).toEqual(['2-1']);
  });

  it('takes a card reader whose card is in (at boot, or when the service starts) for storage', async () => {
    await addCardReader(sys);
    // The kernel's chain under the reader's interface (see the constructed monitor fixture).
    const relative =
      'devices/pci0000:00/0000:00:14.0/usb1/1-5/1-5:1.0/rtsx_usb_sdmmc.0.auto/mmc_host/mmc0/mmc0:aaaa/block/mmcblk0';
    await mkdir(join(sys, relative), { recursive: true });
    await writeFile(join(sys, relative, 'dev'), '179:0\n');
    await symlink(join('../..', relative), join(sys, 'class/block/mmcblk0'));
    const attached = await platform().listAttached();
    expect(attached.map((s) => [s.key, s.device.kind, s.systemDisk])).toEqual([
      ['1-5', 'mass-storage', false],
      ['2-1', 'mass-storage', false],
    ]);
    // Holding the root filesystem, it is a system disk like any other.
    await writeFile(join(proc, 'self/mountinfo'), '22 1 179:0 / / rw - ext4 /dev/mmcblk0 rw\n');
    expect((await platform().listAttached())[0]?.systemDisk).toBe(true);
  });

  it('ignores a removed disk whose devpath does not name the device the rule named', async () => {
    await addCardReader(sys);
    const stream = (
      await fixture('constructed-udevadm-monitor-rtsx-mmcblk-unapproved.txt')
    ).replaceAll('HALLPASS_USB_UNAPPROVED=1-5', 'HALLPASS_USB_UNAPPROVED=2-1');
    const file = join(root, 'stream.txt');
    await writeFile(file, stream);
    const reports: string[] = [];
    await new Promise<void>((resolve) => {
      const watch = new LinuxUsbPlatform({
        sysRoot: sys,
        procRoot: proc,
        monitorCommand: ['cat', file],
      }).watch({
        attached: (storage) => reports.push(storage.key),
        detached: () => undefined,
        failed: () => {
          void watch.stop().then(resolve);
        },
      });
    });
    expect(reports).toEqual([]);
  });

  it('refuses a key that is not a USB device name', async () => {
    const [stick] = await platform().listAttached();
    const hostile = { ...(stick as AttachedUsbStorage), key: '../../../etc' };
    await expect(platform().apply(hostile, 'read-write')).rejects.toThrow(/not a USB device/);
  });

  it('installs the rule once, reloads udev, and sets every bus to leave interfaces unauthorised', async () => {
    await writeFile(join(sys, 'bus/usb/devices/usb1/interface_authorized_default'), '1\n');
    expect(await platform().installFailClosedDefault()).toBeNull();
    const rule = await readFile(join(root, 'rules.d', RULE_FILE), 'utf8');
    expect(rule).toBe(
      await readFile(
        new URL('../../../../agent/core/usb/70-hallpass-usb-storage.rules', import.meta.url),
        'utf8',
      ),
    );
    expect(commands).toEqual(['udevadm control --reload']);
    expect(await attribute('bus/usb/devices/usb1/interface_authorized_default')).toBe('0');
    expect(await platform().installFailClosedDefault()).toBeNull();
    expect(commands).toHaveLength(1);
  });

  it('says so when udevadm is missing', async () => {
    const missing = new LinuxUsbPlatform({
      sysRoot: sys,
      rulesDir: join(root, 'rules.d'),
      run: () => Promise.reject(new ProbeError('command-missing', 'udevadm is not installed')),
    });
    expect(await missing.installFailClosedDefault()).toMatch(/udevadm is not installed/);
  });

  it('watches a recorded stream replayed by a real process: the stick arrives, the watch fails when it ends', async () => {
    const reports: string[] = [];
    const done = new Promise<void>((resolve) => {
      const watch = new LinuxUsbPlatform({
        sysRoot: sys,
        procRoot: proc,
        monitorCommand: ['cat', join(fixtures, 'qemu-udevadm-monitor-stick-keyboard.txt')],
      }).watch({
        attached: (storage) =>
          reports.push(`attached ${storage.key} ${storage.device.serial ?? ''}`),
        detached: (key) => reports.push(`detached ${key}`),
        failed: (error) => {
          reports.push(`failed ${error.message.split(':')[0] ?? ''}`);
          void watch.stop().then(resolve);
        },
      });
    });
    await done;
    expect(reports).toEqual(['attached 2-1 UNKNOWN1', 'failed cat exited (0)']);
  });

  it('reports a monitor that cannot start as a failure, not a crash', async () => {
    const failed = await new Promise<string>((resolve) => {
      new LinuxUsbPlatform({ monitorCommand: ['/nonexistent/udevadm'] }).watch({
        attached: () => undefined,
        detached: () => undefined,
        failed: (error) => {
          resolve(error.message);
        },
      });
    });
    expect(failed).toMatch(/could not run/);
  });
});
