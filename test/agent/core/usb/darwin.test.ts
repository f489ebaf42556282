import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  applyArgs,
  DARWIN_FAIL_CLOSED_GAP,
  darwinUsbPlatform,
  parseActivityLine,
  parseDiskInfo,
  parseDiskList,
  parseIoregUsb,
} from '../../../../agent/core/usb/darwin.ts';
import type { CommandOutput } from '../../../../agent/core/runner.ts';
import { fakeHost } from '../../../helpers/fake-host.ts';

const path = (name: string) => new URL(`../../../fixtures/darwin/usb/${name}`, import.meta.url);
const fixture = (name: string) => readFile(path(name), 'utf8');
const ok = (stdout: string, exitCode = 0): CommandOutput => ({ stdout, stderr: '', exitCode });

describe('parseActivityLine on a recorded diskutil activity stream', async () => {
  const lines = (await fixture('diskutil-activity-hfs-replug.txt')).split('\n');
  const events = lines.map(parseActivityLine).filter((e) => e !== null);

  it('reads appearances and disappearances of disks and partitions, nothing else', () => {
    expect(events.filter((e) => e.event === 'appeared')).toHaveLength(21);
    expect(events.filter((e) => e.event === 'disappeared').map((e) => e.bsd)).toEqual([
      'disk3',
      'disk4',
      'disk3s3',
      'disk3s2',
      'disk3s1',
    ]);
    // "(no BSD name)" (an autofs mount), DiskPeek, approvals and DAIdle are not events.
    expect(events.some((e) => !/^disk[0-9]+(s[0-9]+)*$/.test(e.bsd))).toBe(false);
  });

  it('only a BSD name is believed: a volume name cannot smuggle one in', () => {
    expect(parseActivityLine("***DiskAppeared ('disk4; rm -rf /', DAVolumePath = '')")).toBe(null);
    expect(parseActivityLine("x ***DiskDisappeared ('disk4', DAVolumePath = '')")).toBe(null);
    expect(parseActivityLine('')).toBe(null);
  });
});

describe('diskutil and ioreg plists', () => {
  it('a USB stick as a whole physical disk', async () => {
    expect(parseDiskInfo(await fixture('diskutil-info-usb-sandisk-disk4.plist'))).toEqual({
      deviceIdentifier: 'disk4',
      wholeDisk: true,
      busProtocol: 'USB',
      internal: false,
      virtual: false,
      physicalWholeDisk: 'disk4',
    });
  });

  it('the APFS container of the boot volume leads to its physical disk', async () => {
    expect(parseDiskInfo(await fixture('diskutil-info-apfs-container-disk3.plist'))).toMatchObject({
      virtual: true,
      physicalWholeDisk: 'disk0',
    });
  });

  it('an error document, garbage or a missing key is a reason, never a disk', async () => {
    expect(parseDiskInfo(await fixture('diskutil-info-error.plist'))).toBe(
      'diskutil info: Could not find disk: diskZZ',
    );
    expect(parseDiskInfo('Could not find disk')).toMatch(/no <plist>/);
    expect(
      parseDiskInfo('<plist><dict><key>BusProtocol</key><string>USB</string></dict></plist>'),
    ).toMatch(/no DeviceIdentifier/);
  });

  it('lists whole disks and the volumes to remount (not EFI, not an APFS store)', async () => {
    expect(parseDiskList(await fixture('diskutil-list-whole-disks.plist'))).toEqual({
      wholeDisks: ['disk0', 'disk1', 'disk4'],
      volumes: [],
    });
    expect(parseDiskList(await fixture('constructed-diskutil-list-fat32-stick.plist'))).toEqual({
      wholeDisks: ['disk0', 'disk4'],
      volumes: ['disk4s1'],
    });
  });

  it('maps the whole disk below a USB device to its ids', async () => {
    const ids = parseIoregUsb(await fixture('constructed-ioreg-sandisk.plist'));
    expect(ids instanceof Map && Object.fromEntries(ids)).toEqual({
      disk4: {
        vendorId: '0781',
        productId: '5581',
        serial: '4C530001230518104F82',
        manufacturer: ' USB',
        product: 'SanDisk 3.2Gen1',
      },
    });
    expect(parseIoregUsb('<plist><dict/></plist>')).toMatch(/not an array/);
  });

  it('commands for each action', () => {
    expect(applyArgs('block', 'disk4', [])).toEqual([
      ['unmountDisk', 'force', 'disk4'],
      ['eject', 'disk4'],
    ]);
    expect(applyArgs('read-only', 'disk4', ['disk4s1'])).toEqual([
      ['unmountDisk', 'force', 'disk4'],
      ['mount', 'readOnly', 'disk4s1'],
    ]);
    expect(applyArgs('read-write', 'disk4', [])).toEqual([
      ['unmountDisk', 'disk4'],
      ['mountDisk', 'disk4'],
    ]);
  });
});

describe('darwinUsbPlatform', async () => {
  const files = {
    list: await fixture('diskutil-list-whole-disks.plist'),
    fat32: await fixture('constructed-diskutil-list-fat32-stick.plist'),
    stick: await fixture('diskutil-info-usb-sandisk-disk4.plist'),
    internal: await fixture('diskutil-info-internal-disk0.plist'),
    container: await fixture('diskutil-info-apfs-container-disk3.plist'),
    missing: await fixture('diskutil-info-error.plist'),
    ioreg: await fixture('constructed-ioreg-sandisk.plist'),
  };

  /** A Mac with the SanDisk stick as disk4; `disk4Answers` replays info answers for disk4. */
  function mac(options: { ioreg?: string; disk4Answers?: string[] } = {}) {
    const disk4 = [...(options.disk4Answers ?? [])];
    return fakeHost({
      commands: {
        diskutil: (args) => {
          const [verb, , target] = args;
          if (verb === 'list') {
            return ok(target === undefined ? files.list : files.fat32);
          }
          if (verb === 'info') {
            if (target === '/') {
              return ok(files.container);
            }
            if (target === 'disk4') {
              return ok(disk4.length > 0 ? (disk4.shift() ?? '') : files.stick);
            }
            if (target === 'disk1') {
              return ok(files.container);
            }
            return ok(files.internal);
          }
          return ok('');
        },
        ioreg: ok(options.ioreg ?? files.ioreg),
      },
    });
  }

  it('lists the USB stick with its ids; internal and virtual disks are not storage', async () => {
    const host = mac();
    expect(await darwinUsbPlatform(host).listAttached()).toEqual([
      {
        key: 'disk4',
        device: {
          vendorId: '0781',
          productId: '5581',
          serial: '4C530001230518104F82',
          name: 'USB SanDisk 3.2Gen1',
          kind: 'mass-storage',
        },
        systemDisk: false,
      },
    ]);
    expect(host.calls.find((c) => c.command === 'ioreg')?.args).toEqual([
      '-r',
      '-c',
      'IOUSBHostDevice',
      '-l',
      '-a',
    ]);
  });

  it('a USB disk ioreg does not place is unidentifiable, still judged', async () => {
    const [storage] = await darwinUsbPlatform(mac({ ioreg: '' })).listAttached();
    expect(storage?.device).toMatchObject({ vendorId: '0000', serial: null });
  });

  it('a hostile serial and product string are escaped and cut, never trusted', async () => {
    const hostile = files.ioreg
      .replace('4C530001230518104F82', `&#27;[2J${'A'.repeat(10_000)}`)
      .replace('SanDisk 3.2Gen1', '&#8238;evil&#x7;');
    const [storage] = await darwinUsbPlatform(mac({ ioreg: hostile })).listAttached();
    expect(storage?.device.serial?.startsWith('\\x1b[2JAAA')).toBe(true);
    expect(storage?.device.serial?.length).toBeLessThanOrEqual(200);
    expect(storage?.device.name).toBe('USB \\u{202e}evil\\x07');
  });

  it('garbled ioreg output fails the listing with a reason', async () => {
    await expect(darwinUsbPlatform(mac({ ioreg: 'IOService<>' })).listAttached()).rejects.toThrow(
      /ioreg: no <plist>/,
    );
  });

  it('blocks by force-unmounting and ejecting; again is a no-op; read-only remounts', async () => {
    const host = mac();
    const platform = darwinUsbPlatform(host);
    const [stick] = await platform.listAttached();
    if (stick === undefined) {
      throw new Error('no stick');
    }
    const before = host.calls.length;
    await platform.apply(stick, 'block');
    await platform.apply(stick, 'block');
    await platform.apply(stick, 'read-only');
    expect(host.calls.slice(before).map((c) => `${c.command} ${c.args.join(' ')}`)).toEqual([
      'diskutil unmountDisk force disk4',
      'diskutil eject disk4',
      'diskutil list -plist disk4',
      'diskutil unmountDisk force disk4',
      'diskutil mount readOnly disk4s1',
    ]);
    await platform.apply({ ...stick, systemDisk: true, key: 'disk9' }, 'block');
    expect(host.calls.at(-1)?.args).toEqual(['mount', 'readOnly', 'disk4s1']);
  });

  it('says plainly that macOS cannot fail closed without an ES extension', async () => {
    await expect(darwinUsbPlatform(mac()).installFailClosedDefault()).resolves.toBe(
      DARWIN_FAIL_CLOSED_GAP,
    );
    expect(DARWIN_FAIL_CLOSED_GAP).toMatch(/Endpoint Security/);
  });

  it('watches a real process replaying a recorded diskutil activity stream', async () => {
    // disk4: present at the start, gone when its disappearance is checked, back at the end.
    const host = mac({ disk4Answers: [files.stick, files.missing, files.stick] });
    const events: string[] = [];
    const spawned: string[][] = [];
    let ended = (): void => undefined;
    const streamEnded = new Promise<void>((resolve) => {
      ended = resolve;
    });
    const watcher = darwinUsbPlatform(host, (command, args) => {
      spawned.push([command, ...args]);
      return spawn('cat', [fileURLToPath(path('diskutil-activity-hfs-replug.txt'))]);
    }).watch({
      attached: (s) => events.push(`+${s.key} ${s.device.vendorId}`),
      detached: (key) => events.push(`-${key}`),
      failed: (error) => {
        events.push(`! ${error.message}`);
        ended();
      },
    });
    await streamEnded;
    // stop() waits for the events already read to be judged.
    await watcher.stop();
    expect(spawned).toEqual([['diskutil', 'activity']]);
    expect(events.filter((e) => !e.startsWith('!'))).toEqual([
      '+disk4 0781',
      '-disk4',
      '+disk4 0781',
    ]);
  });

  it('a faked disappearance of a disk diskutil still knows is ignored', async () => {
    const host = mac();
    const events: string[] = [];
    let ended = (): void => undefined;
    const streamEnded = new Promise<void>((resolve) => {
      ended = resolve;
    });
    const watcher = darwinUsbPlatform(host, () =>
      spawn('printf', [
        "***DiskAppeared ('disk4', DAVolumePath = '<null>')\\n***DiskDisappeared ('disk4', DAVolumePath = '<null>')\\n",
      ]),
    ).watch({
      attached: (s) => events.push(`+${s.key}`),
      detached: (key) => events.push(`-${key}`),
      failed: () => {
        ended();
      },
    });
    await streamEnded;
    await watcher.stop();
    expect(events).toEqual(['+disk4']);
  });
});
