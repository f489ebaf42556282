// The Debian package's initramfs-tools hook (installers/linux/initramfs-hook, installed as
// /usr/share/initramfs-tools/hooks/hallpass), on a real kernel. This host's own `mkinitramfs`
// builds an initramfs for the kernel the QEMU harness boots, from a copy of /etc/initramfs-tools
// (MODULES=most) with a test-only init-premount script, in a private mount namespace where
// /usr/share/initramfs-tools/hooks/hallpass and /lib/udev/rules.d hold the hook and the rule as
// the package installs them (bind-mounted copies: this host's folders stay untouched). QEMU boots
// that kernel and initramfs with a usb-storage stick and a usb-kbd on its xHCI controller from
// power-on; the initramfs's own init starts udevd and replays coldplug (init-top/udev), then the
// premount script reports what the kernel shows and powers off (no root file system is needed).
// With the hook: no sd disk, the stick's storage interface unauthorised, the keyboard's input
// device there. Without it (the control): the stick gets its sd disk, and that run also judges
// real mounts with the hook's decision (`hallpass check`: the USB stick, a device-mapper disk on
// it, a virtio disk) and runs the rule's block-level shell text in the initramfs's /bin/sh.
// And the rule only in /etc/udev/rules.d (the service's copy, no package): Debian's own udev hook
// copies it in, and without the Hallpass hook's marker it does nothing there, so a root file
// system on a USB disk would still appear.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chmod, copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  QemuGuest,
  buildDiskImage,
  diskBackedFolder,
  requireGuest,
  type GuestSupport,
} from '../../helpers/qemu-guest.ts';

const exec = promisify(execFile);
const hookFile = new URL('../../../installers/linux/initramfs-hook', import.meta.url).pathname;
const ruleFile = new URL('../../../agent/core/usb/70-hallpass-usb-storage.rules', import.meta.url)
  .pathname;
const RULE = '70-hallpass-usb-storage.rules';
const STICK_SERIAL = 'HPSTICK1';
const MARK = 'hallpass-probe:';
/** The file the Hallpass hook writes next to the rule; without it the rule is inert there. */
const MARKER = 'conf/hallpass-usb-guard';
/** Generous: mkinitramfs (MODULES=most, zstd) and a TCG boot on a loaded 2-core machine. */
const BUILD_TIMEOUT_MS = 900_000;
const BOOT_TIMEOUT_MS = 900_000;

const support: GuestSupport = await requireGuest('initramfs hook test');
const isRoot = process.getuid?.() === 0;
const hasMkinitramfs = await access('/usr/sbin/mkinitramfs', constants.X_OK).then(
  () => true,
  () => false,
);
if (support.ok && !(isRoot && hasMkinitramfs)) {
  const why = isRoot ? 'no /usr/sbin/mkinitramfs (apt-get install initramfs-tools)' : 'not root';
  if (process.env.CI === 'true') {
    throw new Error(`initramfs hook test cannot run under CI: ${why}`);
  }
  process.stderr.write(`\n*** initramfs hook test NOT RUN: ${why} ***\n\n`);
}

/** What the initramfs's /bin/sh is: busybox when busybox's own hook is installed. */
const BUSYBOX_SH = (await access('/usr/share/initramfs-tools/hooks/zz-busybox').then(
  () => true,
  () => false,
))
  ? 'busybox'
  : 'other';

/** `sh initramfs-hook check [args]` on this host: its exit code and line. */
async function check(...args: string[]): Promise<{ code: number; line: string }> {
  return exec('sh', [hookFile, 'check', ...args]).then(
    ({ stdout }) => ({ code: 0, line: stdout.trim() }),
    (error: unknown) => {
      const failed = error as { code?: number; stdout?: string };
      return { code: failed.code ?? -1, line: (failed.stdout ?? '').trim() };
    },
  );
}

/**
 * The rule's block-level RUN (the one that unauthorises a disk's interface) as the shell text
 * udev hands /bin/sh (udev(7) substitutions): `$$` → `$`, `%%` → `%`, `$sys` → `sys`, and
 * `$devpath` and the property from variables the caller sets (HP_DEVPATH, HP_USB).
 */
function ruleShellText(rule: string, sys = '/sys'): string {
  const text = /RUN\+="\/bin\/sh -c '(p=\$sys\$devpath;[^']*)'"/.exec(rule)?.[1];
  if (text === undefined) {
    throw new Error('no block-level RUN in the rule');
  }
  return text
    .replaceAll('$devpath', '$HP_DEVPATH')
    .replaceAll('$sys', sys)
    .replaceAll('$env{HALLPASS_USB_UNAPPROVED}', '$HP_USB')
    .replaceAll('$$', '$')
    .replaceAll('%%', '%');
}

/**
 * The test-only init-premount script: reports what the kernel shows, then powers off. With
 * `extras`, and an sd disk there, it also judges mounts and runs the rule's shell text.
 */
function probeScript(ruleText: string, extras: boolean): string {
  return `#!/bin/sh
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in
prereqs) prereqs; exit 0 ;;
esac
say() { echo "${MARK} $*"; }
udevadm settle --timeout=600 || say "settle timed out"
is_busybox() { cmp -s "$1" /bin/busybox && echo busybox; }
say "shell sh=$(is_busybox /bin/sh || echo other) rules=$(ls /lib/udev/rules.d | grep -c hallpass) blockdev=$(is_busybox /sbin/blockdev || echo util-linux) marker=$([ -e /${MARKER} ] && echo yes || echo no)"
usbdev() {
  for d in /sys/bus/usb/devices/*; do
    [ "$(cat "$d/$1" 2>/dev/null)" = "$2" ] && { echo "\${d##*/}"; return 0; }
  done
  return 1
}
n=0
until stick=$(usbdev serial ${STICK_SERIAL}) && kbd=$(usbdev product "QEMU USB Keyboard"); do
  n=$((n + 1)); [ $n -gt 2400 ] && { say "devices missing"; break; }
  sleep 0.25
done
udevadm settle --timeout=600
# usb-storage scans after delay_use (1 s): wait up to 30 s for an sd disk (the hook's run waits
# all of it), then let udev finish what that caused.
n=0
until ls /sys/block | grep -q '^sd'; do
  n=$((n + 1)); [ $n -gt 300 ] && break
  sleep 0.1
done
udevadm settle --timeout=600
say "block disks=$(ls /sys/block | tr '\\n' ',')"
driver=$(readlink "/sys/bus/usb/devices/$stick:1.0/driver") || driver=none
say "stick usb=$stick interface_authorized=$(cat "/sys/bus/usb/devices/$stick:1.0/authorized") driver=\${driver##*/}"
input=none
for i in /sys/class/input/input*; do
  case "$(readlink -f "$i")" in */$kbd:1.0/*) input=\${i##*/} ;; esac
done
handlers=$(grep -A6 'QEMU USB Keyboard' /proc/bus/input/devices | sed -n 's/^H: Handlers=//p' | tr ' ' ',')
say "keyboard usb=$kbd interface_authorized=$(cat "/sys/bus/usb/devices/$kbd:1.0/authorized") input=$input handlers=$handlers"
# What the rule's read-only line runs, on the virtio disk.
ro=$(/sbin/blockdev --setro /dev/vda && /sbin/blockdev --getro /dev/vda) || ro=failed
say "blockdev setro_getro=$ro"
say "dmesg storage=$(dmesg | grep -c 'USB Mass Storage device detected') sd=$(dmesg | grep -c 'Attached SCSI')"
# A shell in the initramfs: the expansions the rule's RUN uses.
p=/sys/devices/a/b
say "expansions length=\${#p} parent=\${p%/*}"
if [ -b /dev/sda ] && [ ${extras ? 'yes' : 'no'} = yes ]; then
  mkdir -p /mnt/stick /mnt/vd /mnt/dm
  out=$(sh /hallpass-hook check); code=$?
  say "check-default code=$code line=$out"
  mount -t ext4 -o ro /dev/sda /mnt/stick || say "mount-failed stick"
  out=$(sh /hallpass-hook check /mnt/stick); code=$?
  say "check-stick code=$code line=$out"
  umount /mnt/stick
  mount -t ext4 -o ro /dev/vda /mnt/vd || say "mount-failed virtio"
  out=$(sh /hallpass-hook check /mnt/vd); code=$?
  say "check-virtio code=$code line=$out"
  umount /mnt/vd
  modprobe dm_mod
  dmsetup create --noudevsync hpdm --table "0 $(cat /sys/block/sda/size) linear /dev/sda 0" ||
    say "dmsetup-failed create"
  udevadm settle --timeout=600
  [ -b /dev/mapper/hpdm ] || dmsetup mknodes hpdm
  mount -t ext4 -o ro /dev/mapper/hpdm /mnt/dm || say "mount-failed dm $(ls -l /dev/mapper | tr '\n' ' ')"
  out=$(sh /hallpass-hook check /mnt/dm); code=$?
  say "check-dm code=$code line=$out"
  umount /mnt/dm
  dmsetup remove --noudevsync hpdm
  cat > /run/hallpass-rule.sh <<'HALLPASS_RULE'
${ruleText}
HALLPASS_RULE
  devpath=$(readlink -f /sys/block/sda)
  HP_DEVPATH=\${devpath#/sys} HP_USB=$stick sh /run/hallpass-rule.sh; code=$?
  n=0
  while [ -e /sys/block/sda ]; do n=$((n + 1)); [ $n -gt 300 ] && break; sleep 0.1; done
  say "rule-run code=$code interface_authorized=$(cat "/sys/bus/usb/devices/$stick:1.0/authorized") disks=$(ls /sys/block | tr '\\n' ',')"
fi
say "end"
poweroff -f
`;
}

/** A test-only hook: what the probe needs besides the initramfs's own tools. */
const FILES_HOOK = `#!/bin/sh
case "$1" in prereqs) echo ""; exit 0 ;; esac
. /usr/share/initramfs-tools/hook-functions
copy_exec /usr/bin/findmnt /bin
cp -p "$CONFDIR/hallpass-hook" "$DESTDIR/hallpass-hook"
`;

/** `word key=value …` of a probe line as a record (values run to the next ` key=`). */
function fields(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  const body = line.slice(line.indexOf(MARK) + MARK.length).trim();
  const parts = body.split(/ (?=[a-z_]+=)/);
  for (const part of parts.slice(1)) {
    const equals = part.indexOf('=');
    out[part.slice(0, equals)] = part.slice(equals + 1);
  }
  return out;
}

describe.skipIf(!support.ok || !isRoot || !hasMkinitramfs)(
  'the initramfs-tools hook on a real kernel (mkinitramfs, QEMU)',
  { timeout: BUILD_TIMEOUT_MS + BOOT_TIMEOUT_MS },
  () => {
    let work = '';
    const rule = { text: '' };

    beforeAll(async () => {
      work = await diskBackedFolder('hallpass-initramfs-');
      rule.text = await readFile(ruleFile, 'utf8');
    });
    afterAll(async () => {
      if (work !== '') {
        await rm(work, { recursive: true, force: true });
      }
    });

    /**
     * Runs this host's mkinitramfs for the harness's kernel; `hook` puts the Hallpass hook in,
     * `ruleIn` says which rule folder holds the rule ('lib': the package's, 'etc': only the
     * service's). Returns the image and the paths in it (lsinitramfs).
     */
    async function buildInitrd(
      name: string,
      hook: boolean,
      ruleIn: 'lib' | 'etc' = 'lib',
      extras = true,
    ): Promise<{ image: string; paths: string[] }> {
      if (!support.ok) {
        throw new Error('no guest');
      }
      const dir = join(work, name);
      const conf = join(dir, 'conf');
      await mkdir(dir, { recursive: true });
      await exec('cp', ['-a', '/etc/initramfs-tools', conf]);
      // The guest's USB controller, HID and usb-storage drivers, whatever this host runs on.
      await writeFile(join(conf, 'conf.d/zz-hallpass-test'), 'MODULES=most\n');
      for (const sub of ['hooks', 'scripts/init-premount']) {
        await mkdir(join(conf, sub), { recursive: true });
      }
      // The hook where the package installs it, among initramfs-tools' own (mkinitramfs runs
      // those, in their prerequisites' order, before the configuration folder's).
      const sharedHooks = join(dir, 'share-hooks');
      await exec('cp', ['-a', '/usr/share/initramfs-tools/hooks/.', sharedHooks]);
      if (hook) {
        await copyFile(hookFile, join(sharedHooks, 'hallpass'));
        await chmod(join(sharedHooks, 'hallpass'), 0o755);
      }
      await writeFile(join(conf, 'hooks/zz-hallpass-test-files'), FILES_HOOK, { mode: 0o755 });
      await copyFile(hookFile, join(conf, 'hallpass-hook'));
      await writeFile(
        join(conf, 'scripts/init-premount/hallpass-probe'),
        probeScript(ruleShellText(rule.text), extras),
        { mode: 0o755 },
      );
      // The rule where the package puts it (no copy in /etc/udev/rules.d), or only where the
      // service writes it, which udev's own hook copies when /lib has no namesake: copies of this
      // host's rule folders with the host's own rule left out, so they stay untouched.
      const libRules = join(dir, 'lib-rules');
      const etcRules = join(dir, 'etc-rules');
      await exec('cp', ['-a', '/lib/udev/rules.d/.', libRules]);
      await mkdir(etcRules, { recursive: true });
      const hostEtc = await readdir('/etc/udev/rules.d').catch(() => null);
      for (const file of hostEtc ?? []) {
        await exec('cp', ['-a', join('/etc/udev/rules.d', file), etcRules]);
      }
      await rm(join(libRules, RULE), { force: true });
      await rm(join(etcRules, RULE), { force: true });
      await copyFile(ruleFile, join(ruleIn === 'lib' ? libRules : etcRules, RULE));
      const image = join(dir, 'initrd.img');
      const script = [
        'set -e',
        'mount --bind "$1" /lib/udev/rules.d',
        'mount --bind "$6" /usr/share/initramfs-tools/hooks',
        'if [ -d /etc/udev/rules.d ]; then mount --bind "$2" /etc/udev/rules.d; fi',
        'exec mkinitramfs -d "$3" -o "$4" "$5"',
      ].join('\n');
      const built = await exec(
        'unshare',
        [
          ...['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh'],
          ...[libRules, etcRules, conf, image, support.kernel.release, sharedHooks],
        ],
        { timeout: BUILD_TIMEOUT_MS, maxBuffer: 16 << 20 },
      );
      process.stdout.write(`mkinitramfs (${name}): ${built.stderr.trim() || 'no warnings'}\n`);
      const { stdout } = await exec('lsinitramfs', [image], { maxBuffer: 64 << 20 });
      return { image, paths: stdout.split('\n') };
    }

    /** Boots the kernel and `image` with the stick and a keyboard attached; the probe's lines. */
    async function boot(
      name: string,
      image: string,
    ): Promise<Record<string, Record<string, string>>> {
      if (!support.ok) {
        throw new Error('no guest');
      }
      const dir = join(work, name);
      const stick = join(dir, 'stick.img');
      const virtio = join(dir, 'virtio.img');
      await buildDiskImage(stick, 16);
      await buildDiskImage(virtio, 16);
      const vm = await QemuGuest.start({
        kernel: support.kernel,
        initrd: image,
        accel: support.accel,
        memoryMb: 1024,
        drives: [{ id: 'vd', file: virtio, cache: 'writeback' }],
        extraArgs: [
          ...['-device', 'qemu-xhci,id=xhci'],
          ...['-drive', `if=none,id=stick,file=${stick},format=raw`],
          ...['-device', `usb-storage,bus=xhci.0,drive=stick,serial=${STICK_SERIAL},id=stick`],
          ...['-device', 'usb-kbd,bus=xhci.0,id=kbd'],
        ],
      });
      try {
        const console = vm.serial[0];
        if (console === undefined) {
          throw new Error('no console');
        }
        await console
          .waitFor((line) => line.includes(`${MARK} end`), BOOT_TIMEOUT_MS)
          .catch((error: unknown) => {
            throw new Error(`${String(error)}\n${vm.diagnostics(200)}`);
          });
        const lines = console.all.filter((line) => line.includes(MARK));
        process.stdout.write(`${name} boot:\n${lines.join('\n')}\n`);
        const byWord: Record<string, Record<string, string>> = {};
        for (const line of lines) {
          const word =
            line
              .slice(line.indexOf(MARK) + MARK.length)
              .trim()
              .split(' ')[0] ?? '';
          byWord[word] = fields(line);
        }
        return byWord;
      } finally {
        await vm.stop();
      }
    }

    // Without busybox (BUSYBOX=n in initramfs.conf, or busybox not installed) the initramfs's
    // /bin/sh is klibc's (initramfs-tools' klibc-utils hook): the same shell text, run by that
    // binary on a tree shaped like sysfs.
    it("the rule's block-level shell text runs in klibc's sh", async () => {
      const klibcSh = '/usr/lib/klibc/bin/sh';
      const sys = join(work, 'klibc-sys');
      const device = join(sys, 'devices/pci0000:00/0000:00:04.0/usb2/2-1');
      const intf = join(device, '2-1:1.0');
      const devpath = `${intf.slice(sys.length)}/host0/target0:0:0/0:0:0:0/block/sda`;
      await mkdir(join(sys, devpath), { recursive: true });
      await mkdir(join(sys, 'bus/usb/devices/2-1'), { recursive: true });
      await writeFile(join(intf, 'bInterfaceClass'), '08\n');
      await writeFile(join(intf, 'authorized'), '1\n');
      await writeFile(join(sys, 'bus/usb/devices/2-1/authorized'), '1\n');
      const run = () =>
        exec(klibcSh, ['-c', ruleShellText(rule.text, sys)], {
          env: { PATH: '/usr/lib/klibc/bin:/usr/bin:/bin', HP_DEVPATH: devpath, HP_USB: '2-1' },
        });
      await run();
      // The interface the disk hangs under, not the device.
      expect(await readFile(join(intf, 'authorized'), 'utf8')).toBe('0\n');
      expect(await readFile(join(sys, 'bus/usb/devices/2-1/authorized'), 'utf8')).toBe('1\n');
      // No interface on the way up: the USB device itself.
      await rm(join(intf, 'bInterfaceClass'));
      await run();
      expect(await readFile(join(sys, 'bus/usb/devices/2-1/authorized'), 'utf8')).toBe('0\n');
    });

    it('judges this host by its root file system: not on USB, so the rule may go in', async () => {
      const source = (await exec('findmnt', ['-n', '-v', '-o', 'SOURCE', '-M', '/'])).stdout.trim();
      const result = await check();
      if (source.startsWith('/dev/')) {
        expect(result).toEqual({ code: 0, line: 'copy: / /usr and the swaps are not on USB' });
      } else {
        // A container's overlay root: no disk to judge, so the hook copies nothing.
        expect(result.code).toBe(2);
        expect(result.line).toMatch(/^cannot tell: \/ is on /);
      }
    });

    it('the rule in the initramfs: no disk for a stick attached at boot, its storage interface unauthorised, the keyboard works', async () => {
      const decided = await check();
      const { image, paths } = await buildInitrd('with-hook', true);
      const inImage = (suffix: string) => paths.some((path) => path.endsWith(suffix));
      if (decided.code !== 0) {
        // This host's root cannot be judged (or is on USB): the hook must leave the rule out.
        expect(inImage(`lib/udev/rules.d/${RULE}`)).toBe(false);
        process.stderr.write(`*** boot with the rule NOT RUN: ${decided.line} ***\n`);
        return;
      }
      expect(inImage(`lib/udev/rules.d/${RULE}`)).toBe(true);
      expect(inImage('sbin/blockdev')).toBe(true);
      expect(inImage(MARKER)).toBe(true);
      const seen = await boot('with-hook', image);
      // initramfs-tools links busybox as /bin/sh when busybox is installed (BUSYBOX=auto).
      expect(seen.shell).toMatchObject({ sh: BUSYBOX_SH, rules: '1', marker: 'yes' });
      // util-linux's, or busybox's where busybox's hook ran first (tsort's order): both work.
      expect(['util-linux', 'busybox']).toContain(seen.shell?.blockdev);
      expect(seen.blockdev).toEqual({ setro_getro: '1' });
      expect(seen.expansions).toEqual({ length: '16', parent: '/sys/devices/a' });
      expect(seen.block?.disks).not.toMatch(/(^|,)sd/);
      expect(seen.stick).toMatchObject({ interface_authorized: '0', driver: 'none' });
      expect(seen.dmesg).toEqual({ storage: '0', sd: '0' });
      expect(seen.keyboard?.interface_authorized).toBe('1');
      expect(seen.keyboard?.input).toMatch(/^input[0-9]+$/);
      // The console's keyboard handler: what a LUKS passphrase prompt reads from.
      expect(seen.keyboard?.handlers?.split(',')).toContain('kbd');
    });

    it("without the hook (control): the stick gets its sd disk; the decision judges real mounts; the rule's shell text runs in the initramfs", async () => {
      const { image, paths } = await buildInitrd('without-hook', false);
      expect(paths.some((path) => path.endsWith(`lib/udev/rules.d/${RULE}`))).toBe(false);
      const seen = await boot('without-hook', image);
      expect(seen.shell).toMatchObject({ rules: '0', marker: 'no' });
      expect(seen.expansions).toEqual({ length: '16', parent: '/sys/devices/a' });
      expect(seen.block?.disks).toMatch(/(^|,)sda,/);
      expect(seen.stick).toMatchObject({ interface_authorized: '1', driver: 'usb-storage' });
      expect(seen.dmesg?.storage).toBe('1');
      expect(seen.keyboard?.input).toMatch(/^input[0-9]+$/);
      // The hook's decision on the guest's real sysfs and mounts.
      expect(seen['check-default']).toMatchObject({ code: '2' });
      expect(seen['check-default']?.line).toMatch(/^cannot tell: \/ is on /);
      expect(seen['check-stick']).toEqual({
        code: '1',
        line: '/mnt/stick is on USB disk sda',
      });
      expect(seen['check-dm']).toEqual({ code: '1', line: '/mnt/dm is on USB disk sda' });
      expect(seen['check-virtio']).toEqual({
        code: '0',
        line: 'copy: /mnt/vd and the swaps are not on USB',
      });
      // The rule's block-level shell, run by the initramfs's sh on the stick's real disk path,
      // unauthorises the interface the disk hangs under, and the disk goes.
      expect(seen['rule-run']).toMatchObject({ code: '0', interface_authorized: '0' });
      expect(seen['rule-run']?.disks).not.toMatch(/(^|,)sd/);
    });

    it("the service's rule copied in by Debian's udev hook, without the Hallpass hook: inert there, the stick gets its sd disk (a root on USB would appear)", async () => {
      const { image, paths } = await buildInitrd('etc-only', false, 'etc', false);
      const inImage = (suffix: string) => paths.some((path) => path.endsWith(suffix));
      // Debian's udev hook copied it (its /etc/udev/rules.d loop); nobody wrote the marker.
      expect(inImage(`lib/udev/rules.d/${RULE}`)).toBe(true);
      expect(inImage(MARKER)).toBe(false);
      const seen = await boot('etc-only', image);
      expect(seen.shell).toMatchObject({ rules: '1', marker: 'no' });
      expect(seen.block?.disks).toMatch(/(^|,)sda,/);
      expect(seen.stick).toMatchObject({ interface_authorized: '1', driver: 'usb-storage' });
      expect(seen.dmesg?.storage).toBe('1');
      expect(seen.keyboard?.interface_authorized).toBe('1');
      expect(seen.keyboard?.input).toMatch(/^input[0-9]+$/);
    });
  },
);
