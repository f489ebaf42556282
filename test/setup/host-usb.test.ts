// The suite-wide USB check (host-usb.ts) on folders laid out as the host's are: a rule file, an
// approval folder or a bus default the run created or changed is reported and put back; an
// unchanged host, a rule that was already there, gives nothing.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RULE_FILE } from '../../agent/core/usb/linux.ts';
import { restoreHostUsb, snapshotHostUsb, type HostUsbPaths } from './host-usb.ts';

const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A host in a temp folder: an empty rules.d, no /run/hallpass, two buses whose default is 1. */
async function host(): Promise<HostUsbPaths & { root: string }> {
  const root = await mkdtemp(join(tmpdir(), 'hallpass-host-usb-'));
  dirs.push(root);
  const paths = {
    root,
    rulesDir: join(root, 'etc/udev/rules.d'),
    markDirs: [join(root, 'run/hallpass/usb-approved'), join(root, 'run/hallpass/usb-read-only')],
    usbDevices: join(root, 'sys/bus/usb/devices'),
  };
  await mkdir(paths.rulesDir, { recursive: true });
  for (const bus of ['usb1', 'usb2']) {
    await mkdir(join(paths.usbDevices, bus), { recursive: true });
    await writeFile(join(paths.usbDevices, bus, 'interface_authorized_default'), '1\n');
  }
  return paths;
}

describe('the host USB check', () => {
  it('finds nothing when the run left the host as it was', async () => {
    const paths = await host();
    const before = await snapshotHostUsb(paths);
    expect(await restoreHostUsb(before, paths)).toEqual([]);
  });

  it('reports and removes a rule, approval folder and bus default the run created', async () => {
    const paths = await host();
    const before = await snapshotHostUsb(paths);
    const rule = await readFile(new URL(`../../agent/core/usb/${RULE_FILE}`, import.meta.url));
    await writeFile(join(paths.rulesDir, RULE_FILE), rule);
    await mkdir(paths.markDirs[0] ?? '', { recursive: true, mode: 0o700 });
    await writeFile(join(paths.usbDevices, 'usb2', 'interface_authorized_default'), '0');
    const changes = await restoreHostUsb(before, paths);
    expect(changes).toEqual([
      `${join(paths.rulesDir, RULE_FILE)} was created by the run (removed again)`,
      `${paths.markDirs[0] ?? ''} was created by the run (removed again)`,
      `${join(paths.usbDevices, 'usb2', 'interface_authorized_default')} was set to 0 by the run (put back to 1)`,
    ]);
    expect(await readdir(paths.rulesDir)).toEqual([]);
    expect(await readdir(join(paths.root, 'run/hallpass'))).toEqual([]);
    expect(
      await readFile(join(paths.usbDevices, 'usb2', 'interface_authorized_default'), 'utf8'),
    ).toBe('1');
    expect(await restoreHostUsb(before, paths)).toEqual([]);
  });

  it('leaves a rule that was there before alone, and puts its content back if the run changed it', async () => {
    const paths = await host();
    const file = join(paths.rulesDir, RULE_FILE);
    await writeFile(file, 'ACTION=="add", GOTO="old"\n');
    const before = await snapshotHostUsb(paths);
    expect(await restoreHostUsb(before, paths)).toEqual([]);
    await writeFile(file, 'ACTION=="add", GOTO="new"\n');
    const [change] = await restoreHostUsb(before, paths);
    expect(change).toMatch(/70-hallpass-usb-storage\.rules was changed by the run \(sha256 /);
    expect(await readFile(file, 'utf8')).toBe('ACTION=="add", GOTO="old"\n');
  });

  it('puts back a rule the run removed', async () => {
    const paths = await host();
    const file = join(paths.rulesDir, RULE_FILE);
    await writeFile(file, 'ACTION=="add", GOTO="old"\n');
    const before = await snapshotHostUsb(paths);
    await rm(file);
    expect(await restoreHostUsb(before, paths)).toEqual([
      `${file} was removed by the run (put back)`,
    ]);
    expect(await readFile(file, 'utf8')).toBe('ACTION=="add", GOTO="old"\n');
  });
});
