// Runs inside the QEMU guest of the USB guard test (test/agent/core/usb/linux-guest.test.ts),
// bundled with the production Linux USB platform. Two roles in one file:
//
//   usb-observer.mjs guard '<json actions>'   the guard: installs the fail-closed default, then
//       watches with LinuxUsbPlatform and applies the action its table gives each stick's serial
//       (`*` for any other). The table stands in for the policy; the decision module's system
//       disk rule comes first, as in the service: a disk the system runs from is left alone
//       (`left-alone … basis=system-disk`), and the platform is still asked to block it, to
//       show that it refuses on its own (`refused …`).
//   usb-observer.mjs observe '<json actions>' the observer: starts the guard as a child, and
//       independently of it reports what the kernel shows — every block device from the moment
//       it appears in /sys/block (polled) and as udev announces it, every USB device (and its
//       removal), each storage interface's authorisation and driver as they change
//       (`usb-interface … authorized=1 driver=usb-storage`) and every input device — and runs
//       the host's commands (one per line on stdin): mount, kill the guard, plug and pull a
//       composite (mass storage + keyboard) gadget on dummy_hcd, wait, report the guarded
//       process tree's CPU time and RSS (resources), replay coldplug (trigger), check a mount
//       point, the active swaps and a disk.
//   usb-observer.mjs observe-service '{"argv":[…],"relay":{…}}' the same observer, but the
//       guarded child is the real Hallpass service (`node <argv…>`, test/e2e/usb-guard.test.ts),
//       its log on the console (/dev/ttyS0) so this port carries only the observer's lines.
//       The relay passes TCP from the guest's 127.0.0.1:port to the host's server: the agent
//       speaks plain http only to loopback, and the test server has no TLS.
//
// One line per fact on stdout (a serial port), `word key=value …`, values without spaces.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { mkdir, open, readFile, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { decideUsb } from '../../../agent/core/usb/decide.ts';
import { LinuxUsbPlatform, parseMountinfo, parseSwaps } from '../../../agent/core/usb/linux.ts';
import type { UsbEnforcement } from '../../../agent/core/usb/platform.ts';
import { UdevMonitorParser } from '../../../agent/core/usb/udev-monitor.ts';
import type { UsbPolicy } from '../../../shared/index.ts';

const [role, actionsText = '{}'] = process.argv.slice(2);
const say = (line: string) => process.stdout.write(`${line}\n`);
const clean = (text: string) => text.replace(/[^\x21-\x7e]/g, '_');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const actions = role === 'guard' ? (JSON.parse(actionsText) as Record<string, UsbEnforcement>) : {};
/** For decideUsb's precedence only: the table above decides everything else. */
const BLOCK_ALL: UsbPolicy = { mode: 'block', allow: [], exempt: { users: [], groups: [] } };

async function guard(): Promise<void> {
  const platform = new LinuxUsbPlatform();
  const installed = await platform.installFailClosedDefault();
  say(`guard-installed result=${installed === null ? 'ok' : clean(installed)}`);
  const handle = async (storage: Awaited<ReturnType<typeof platform.listAttached>>[number]) => {
    const serial = storage.device.serial ?? '';
    const prefix = Object.keys(actions).find(
      (key) => key.length > 1 && key.endsWith('*') && serial.startsWith(key.slice(0, -1)),
    );
    const action = actions[serial] ?? actions[prefix ?? '*'] ?? actions['*'] ?? 'block';
    const verdict = decideUsb(storage, BLOCK_ALL, null, new Date());
    if (verdict?.action === 'left-alone') {
      say(
        `left-alone key=${storage.key} serial=${clean(serial)} basis=${verdict.basis} kind=${storage.device.kind}`,
      );
      // The service never asks (usb-guard.ts); the platform must refuse all the same.
      try {
        await platform.apply(storage, 'block');
        say(`applied key=${storage.key} serial=${clean(serial)} action=block system=true`);
      } catch (error) {
        say(`refused key=${storage.key} action=block error=${clean(String(error))}`);
      }
      return;
    }
    try {
      await platform.apply(storage, action);
      say(
        `applied key=${storage.key} serial=${clean(serial)} action=${action} kind=${storage.device.kind} system=${String(storage.systemDisk)}`,
      );
    } catch (error) {
      say(`apply-failed key=${storage.key} error=${clean(String(error))}`);
    }
  };
  platform.watch({
    attached: (storage) => {
      void handle(storage);
    },
    detached: (key) => {
      say(`detached key=${key}`);
    },
    failed: (error) => {
      say(`watch-failed error=${clean(error.message)}`);
    },
  });
  for (const storage of await platform.listAttached()) {
    await handle(storage);
  }
  say('guard-watching');
}

/** The disk's USB device (`2-1`) from its sysfs path, or `none`. */
async function usbKeyOf(disk: string): Promise<string> {
  const target = await readlink(join('/sys/class/block', disk)).catch(() => '');
  const parts = target.split('/');
  const iface = parts.findIndex((part) => /^[0-9]+-[0-9.]+:[0-9]+\.[0-9]+$/.test(part));
  return iface > 0 ? (parts[iface - 1] ?? 'none') : 'none';
}

const readText = (path: string) =>
  readFile(path, 'utf8').then(
    (text) => text.trim(),
    () => '',
  );

async function pollBlock(): Promise<void> {
  const seen = new Set<string>();
  for (;;) {
    for (const disk of await readdir('/sys/block').catch((): string[] => [])) {
      if (!seen.has(disk) && /^sd/.test(disk)) {
        seen.add(disk);
        const ro = await readText(`/sys/block/${disk}/ro`);
        say(`block-seen disk=${disk} ro=${ro} usb=${await usbKeyOf(disk)}`);
      }
    }
    for (const disk of seen) {
      if (!(await readdir('/sys/block').catch((): string[] => [])).includes(disk)) {
        seen.delete(disk);
        say(`block-gone disk=${disk}`);
      }
    }
    await sleep(5);
  }
}

/** `class:authorized` of each interface, sorted (`03:1,08:0`). */
async function describeInterfaces(key: string): Promise<string> {
  const described: string[] = [];
  for (const entry of await readdir('/sys/bus/usb/devices').catch((): string[] => [])) {
    if (entry.startsWith(`${key}:`)) {
      const cls = await readText(`/sys/bus/usb/devices/${entry}/bInterfaceClass`);
      const authorized = await readText(`/sys/bus/usb/devices/${entry}/authorized`);
      described.push(`${cls}:${authorized}`);
    }
  }
  return described.sort().join(',');
}

/**
 * Each storage interface's (class 08) authorisation and bound driver as they change: the guard's
 * decision as the kernel shows it, whoever made it (the table guard or the real service).
 * `states` holds the last state said per interface; gone interfaces are forgotten.
 */
async function reportStorageInterfaces(
  entries: readonly string[],
  states: Map<string, string>,
): Promise<void> {
  const present = new Set<string>();
  for (const entry of entries) {
    if (!/^[0-9]+-[0-9.]+:[0-9]+\.[0-9]+$/.test(entry)) {
      continue;
    }
    present.add(entry);
    const dir = `/sys/bus/usb/devices/${entry}`;
    const state = states.get(entry);
    if (state === undefined && (await readText(`${dir}/bInterfaceClass`)) !== '08') {
      states.set(entry, 'other');
      continue;
    }
    if (state === 'other') {
      continue;
    }
    const authorized = await readText(`${dir}/authorized`);
    const driver = basename(await readlink(`${dir}/driver`).catch(() => 'none'));
    const now = `authorized=${authorized || 'unknown'} driver=${clean(driver)}`;
    if (now !== state) {
      states.set(entry, now);
      say(`usb-interface iface=${entry} key=${entry.split(':')[0] ?? ''} class=08 ${now}`);
    }
  }
  for (const entry of states.keys()) {
    if (!present.has(entry)) {
      states.delete(entry);
    }
  }
}

async function pollUsbAndInput(): Promise<void> {
  const usb = new Set<string>();
  const input = new Set<string>();
  const storageInterfaces = new Map<string, string>();
  for (;;) {
    for (const name of await readdir('/sys/bus/usb/devices').catch((): string[] => [])) {
      if (!usb.has(name) && /^[0-9]+-[0-9.]+$/.test(name)) {
        usb.add(name);
        const dir = `/sys/bus/usb/devices/${name}`;
        say(
          `usb-device key=${name} serial=${clean(await readText(`${dir}/serial`))} interfaces=${await describeInterfaces(name)}`,
        );
      }
    }
    // Names come back when a device is pulled and another plugged: forget the gone ones.
    const usbNow = await readdir('/sys/bus/usb/devices').catch((): string[] => []);
    await reportStorageInterfaces(usbNow, storageInterfaces);
    for (const name of usb) {
      if (!usbNow.includes(name)) {
        usb.delete(name);
        say(`usb-gone key=${name}`);
      }
    }
    const inputNow = await readdir('/sys/class/input').catch((): string[] => []);
    for (const name of input) {
      if (!inputNow.includes(name)) {
        input.delete(name);
      }
    }
    for (const name of inputNow) {
      if (!input.has(name) && /^event[0-9]+$/.test(name)) {
        input.add(name);
        const device = await readText(`/sys/class/input/${name}/device/name`);
        say(`input event=${name} name=${clean(device)}`);
      }
    }
    await sleep(20);
  }
}

/** The USB device (`2-1`) in a devpath, before its interface, or `none`. */
function usbKeyOfPath(devpath: string): string {
  const parts = devpath.split('/');
  const iface = parts.findIndex((part) => /^[0-9]+-[0-9.]+:[0-9]+\.[0-9]+$/.test(part));
  return iface > 0 ? (parts[iface - 1] ?? 'none') : 'none';
}

/**
 * udev's view, after its rules ran: the disk's read-only flag, whether the disk still exists
 * in sysfs as udev announces it (present), and whether the rule hid it from udisks (ignore).
 * The USB device comes from the event's devpath: a removed disk has no sysfs link to follow.
 */
function monitorBlock(): void {
  const parser = new UdevMonitorParser((event) => {
    const disk = basename(event.devpath);
    if (event.action === 'add' && event.properties.get('DEVTYPE') === 'disk') {
      const ignore = event.properties.get('UDISKS_IGNORE') ?? '';
      void Promise.all([
        readText(`/sys/class/block/${disk}/ro`),
        readdir(`/sys/class/block/${disk}`).then(
          () => '1',
          () => '0',
        ),
      ]).then(([ro, present]) => {
        say(
          `block-udev disk=${disk} ro=${ro} present=${present} ignore=${clean(ignore) || 'none'} usb=${usbKeyOfPath(event.devpath)}`,
        );
      });
    }
  });
  const child = spawn(
    '/bin/udevadm',
    ['monitor', '--udev', '--property', '--subsystem-match=block'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    parser.push(chunk);
  });
}

const GADGET = '/sys/kernel/config/usb_gadget/hallpass';
// A boot-protocol keyboard's report descriptor (USB HID 1.11, appendix B.1).
const KEYBOARD_REPORT = Buffer.from(
  '05010906a101050719e029e71500250175019508810295017508810395057501050819012905910295017503910395067508150025650507190029658100c0',
  'hex',
);

/** A composite device on dummy_hcd: mass storage (class 08) and a keyboard (class 03). */
async function compositeOn(): Promise<void> {
  if ((await readText(`${GADGET}/UDC`)) === '') {
    if (!(await readdir(GADGET).catch(() => null))) {
      await mkdir(GADGET);
      await writeFile(`${GADGET}/idVendor`, '0x1d6b');
      await writeFile(`${GADGET}/idProduct`, '0x0104');
      await mkdir(`${GADGET}/strings/0x409`);
      await writeFile(`${GADGET}/strings/0x409/serialnumber`, 'COMPOSITE1');
      await writeFile(`${GADGET}/strings/0x409/manufacturer`, 'Hallpass');
      await writeFile(`${GADGET}/strings/0x409/product`, 'Stick with keyboard');
      await mkdir(`${GADGET}/configs/c.1`);
      await mkdir(`${GADGET}/functions/hid.kbd`);
      await writeFile(`${GADGET}/functions/hid.kbd/protocol`, '1');
      await writeFile(`${GADGET}/functions/hid.kbd/subclass`, '1');
      await writeFile(`${GADGET}/functions/hid.kbd/report_length`, '8');
      await writeFile(`${GADGET}/functions/hid.kbd/report_desc`, KEYBOARD_REPORT);
      await mkdir(`${GADGET}/functions/mass_storage.disk`);
      await writeFile('/tmp/composite.img', Buffer.alloc(8 * 1024 * 1024));
      await writeFile(`${GADGET}/functions/mass_storage.disk/lun.0/file`, '/tmp/composite.img');
      await symlink(`${GADGET}/functions/hid.kbd`, `${GADGET}/configs/c.1/hid.kbd`);
      await symlink(
        `${GADGET}/functions/mass_storage.disk`,
        `${GADGET}/configs/c.1/mass_storage.disk`,
      );
    }
    const [udc] = await readdir('/sys/class/udc');
    await writeFile(`${GADGET}/UDC`, udc ?? '');
  }
  say('composite-on');
}

async function compositeOff(): Promise<void> {
  await writeFile(`${GADGET}/UDC`, '\n');
  say('composite-off');
}

interface ServiceSpec {
  argv: string[];
  relay: { port: number; host: string };
}

/** Byte for byte from 127.0.0.1:port in the guest to host:port; resolves once listening. */
function startRelay({ port, host }: ServiceSpec['relay']): Promise<void> {
  const relay = createServer((inbound) => {
    const outbound = connect(port, host);
    inbound.pipe(outbound).pipe(inbound);
    const close = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', close);
    outbound.on('error', close);
  });
  return new Promise((resolve) => relay.listen(port, '127.0.0.1', resolve));
}

/** The guarded child: the table guard of this file, or the real service (observe-service). */
async function startGuard(): Promise<ChildProcess> {
  if (role === 'observe-service') {
    const spec = JSON.parse(actionsText) as ServiceSpec;
    await startRelay(spec.relay);
    const consoleFd = openSync('/dev/ttyS0', 'w');
    return spawn(process.execPath, spec.argv, { stdio: ['ignore', consoleFd, consoleFd] });
  }
  return spawn(process.execPath, [process.argv[1] ?? '', 'guard', actionsText], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** One process's CPU ticks (user + system) and resident set, from /proc. */
async function processFigures(pid: number) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  // PSS shares each shared page (libc, the node binary) among the processes mapping it.
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const pssKb = Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? -1);
  return {
    pssKb,
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
    ppid: Number(after[1]),
    ticks: Number(after[11]) + Number(after[12]),
    rssKb,
  };
}

/**
 * The guarded process and every descendant (the guard's `udevadm monitor`, say): their CPU ticks
 * and RSS, so the benchmark counts what the guard costs in all, not only in the Node process.
 */
async function resources(root: number): Promise<string> {
  const all = new Map<number, Awaited<ReturnType<typeof processFigures>>>();
  for (const entry of await readdir('/proc')) {
    if (/^[0-9]+$/.test(entry)) {
      const figures = await processFigures(Number(entry)).catch(() => null);
      if (figures !== null) {
        all.set(Number(entry), figures);
      }
    }
  }
  const tree = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, figures] of all) {
      if (!tree.has(pid) && tree.has(figures.ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  const members = [...tree].flatMap((pid) => all.get(pid) ?? []);
  const own = all.get(root);
  const sum = (key: 'ticks' | 'rssKb' | 'pssKb') => members.reduce((total, m) => total + m[key], 0);
  return (
    `resources pid=${root} ticks=${own?.ticks ?? -1} rssKb=${own?.rssKb ?? -1} ` +
    `treeTicks=${sum('ticks')} treeRssKb=${sum('rssKb')} treePssKb=${sum('pssKb')} procs=${members.map((m) => clean(m.name)).join(',')}`
  );
}

async function observe(): Promise<void> {
  let guardChild: ChildProcess | null = await startGuard();
  monitorBlock();
  void pollBlock();
  void pollUsbAndInput();
  say('observer-ready');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const [command, ...args] = line.trim().split(' ');
    try {
      if (command === 'kill-guard') {
        guardChild?.kill('SIGKILL');
        guardChild = null;
        say('guard-killed');
      } else if (command === 'resources') {
        say(guardChild?.pid === undefined ? 'resources pid=none' : await resources(guardChild.pid));
      } else if (command === 'wait') {
        await sleep(Number(args[0]));
        say(`waited ms=${args[0] ?? ''}`);
      } else if (command === 'mount' && args[0] !== undefined) {
        const disk = args[0];
        const dir = `/mnt/${disk}`;
        await mkdir(dir, { recursive: true });
        const mounted = await run('/bin/mount', ['-t', 'ext4', `/dev/${disk}`, dir]);
        const options = (await readFile('/proc/mounts', 'utf8'))
          .split('\n')
          .find((entry) => entry.startsWith(`/dev/${disk} `))
          ?.split(' ')[3]
          ?.split(',')[0];
        const write = await writeFile(join(dir, 'written-in-guest'), 'hallpass').then(
          () => 'ok',
          (error: unknown) => (error as NodeJS.ErrnoException).code ?? 'error',
        );
        say(`mounted disk=${disk} exit=${mounted} options=${options ?? 'none'} write=${write}`);
      } else if (command === 'authorize' && args[0] !== undefined) {
        // By hand, without the service's approval mark: any path (a driver of another class,
        // root's echo) that makes a disk appear under a device the service did not approve.
        const key = args[0];
        for (const entry of await readdir('/sys/bus/usb/devices')) {
          if (entry.startsWith(`${key}:`)) {
            const dir = `/sys/bus/usb/devices/${entry}`;
            if ((await readText(`${dir}/bInterfaceClass`)) === '08') {
              await writeFile(`${dir}/authorized`, '1');
              await writeFile('/sys/bus/usb/drivers_probe', entry);
            }
          }
        }
        say(`authorized key=${key}`);
      } else if (command === 'trigger') {
        // A coldplug replay, as a boot (systemd-udev-trigger) does, then udev's queue drained.
        const triggered = await run('/bin/udevadm', ['trigger', '--action=add']);
        const settled = await run('/bin/udevadm', ['settle', '--timeout=600']);
        say(`triggered exit=${triggered} settle=${settled}`);
      } else if (command === 'mountpoint' && args[0] !== undefined) {
        say(await checkMount(args[0]));
      } else if (command === 'swaps') {
        const active = parseSwaps(await readFile('/proc/swaps', 'utf8'));
        say(`swaps active=${active.map(clean).join(',') || 'none'}`);
      } else if (command === 'disk' && args[0] !== undefined) {
        const disk = args[0];
        const present = await readdir(`/sys/class/block/${disk}`).then(
          () => '1',
          () => '0',
        );
        say(`disk-now disk=${disk} present=${present} usb=${await usbKeyOf(disk)}`);
      } else if (command === 'usb' && args[0] !== undefined) {
        say(`usb-now key=${args[0]} interfaces=${await describeInterfaces(args[0])}`);
      } else if (command === 'composite-on') {
        await compositeOn();
      } else if (command === 'composite-off') {
        await compositeOff();
      } else {
        say(`unknown-command ${clean(line)}`);
      }
    } catch (error) {
      say(`command-failed command=${command ?? ''} error=${clean(String(error))}`);
    }
  }
}

/** A mount point's device and options, a file the boot left there read back, a new one written. */
async function checkMount(path: string): Promise<string> {
  const mount = parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8')).findLast(
    (entry) => entry.mountPoint === path,
  );
  const options =
    (await readFile('/proc/mounts', 'utf8'))
      .split('\n')
      .findLast((entry) => entry.split(' ')[1] === path)
      ?.split(' ')[3]
      ?.split(',')[0] ?? 'none';
  const read = await readFile(join(path, 'hallpass-boot'), 'utf8').then(
    (text) => (text.trim() === 'boot' ? 'ok' : 'changed'),
    (error: unknown) => (error as NodeJS.ErrnoException).code ?? 'error',
  );
  // Through to the disk: a page cache write would succeed on a disk already gone.
  const file = join(path, `written-in-guest-${String(Date.now())}`);
  const write = await (async () => {
    const handle = await open(file, 'w');
    try {
      await handle.writeFile('hallpass');
      await handle.sync();
    } finally {
      await handle.close();
    }
    return (await readFile(file, 'utf8')) === 'hallpass' ? 'ok' : 'changed';
  })().catch((error: unknown) => (error as NodeJS.ErrnoException).code ?? 'error');
  return `mountpoint path=${clean(path)} device=${mount?.device ?? 'none'} source=${clean(mount?.source ?? 'none')} options=${options} read=${read} write=${write}`;
}

function run(command: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', () => {
      resolve(-1);
    });
    child.once('exit', (code) => {
      resolve(code ?? -1);
    });
  });
}

if (role === 'guard') {
  await guard();
} else if (role === 'observe' || role === 'observe-service') {
  await observe();
} else {
  throw new Error('usage: usb-observer guard|observe <json actions> | observe-service <json spec>');
}
