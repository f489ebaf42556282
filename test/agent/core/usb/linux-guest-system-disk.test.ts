// The Linux USB guard and a system on USB, on a real kernel: Debian's kernel in a QEMU guest with
// systemd-udevd (test/helpers/usb-guest.ts), three QEMU sticks plugged in before power-on. Before
// the guard or its rule exists, the boot mounts one at /var (a mount point the system runs from,
// linux.ts SYSTEM_MOUNTS), makes another its swap, and swaps to a file on a third, mounted where
// nothing of the system lives; the fourth is an ordinary stick nobody approved. Then the guard installs its rule and judges what is attached, and udev replays
// coldplug (`udevadm trigger`, as a boot does: the rule leaves synthetic events to the service).
// The system stick and the swap sticks must keep their disks, their storage interfaces stay
// authorised, /var stays readable and writable and both swaps active; the ordinary stick must lose
// its disk and stay unauthorised. What the kernel shows is read by the observer in the guest
// (test/helpers/guest/usb-observer.ts), not taken from the guard's word.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  requireGuest,
  type GuestSupport,
  type QemuGuest,
  type SerialLines,
} from '../../../helpers/qemu-guest.ts';
import {
  buildUsbGuest,
  observerFields as fields,
  startUsbGuest,
  type UsbGuestFiles,
} from '../../../helpers/usb-guest.ts';

/** Generous: a boot or a coldplug replay under TCG on a busy machine can take minutes. */
const LINE_TIMEOUT_MS = 300_000;
/** Every stick not the guard's business otherwise is blocked (the observer's table guard). */
const ACTIONS = { '*': 'block' } as const;
const STICKS = {
  system: 'SYSTEM1',
  swap: 'SWAP1',
  swapfile: 'SWAPFILE1',
  plain: 'PLAIN1',
} as const;
/** The sticks the guard must leave alone. */
const KEPT = ['system', 'swap', 'swapfile'] as const;
const SWAP_FILE = '/mnt/swapfile-stick/swapfile';

// Runs in the guest's boot after udev's own coldplug, before the guard starts. Each stick's disk
// is found by its USB serial (the USB device is the first sysfs ancestor with idVendor); the
// boot waits for usb-storage's scan (delay_use). Plain strings, not a template: `${#p}` is shell.
const BEFORE_GUARD = [
  'mkdir -p /var',
  'disk_of() {',
  '  for b in /sys/block/sd*; do',
  '    [ -e "$b" ] || continue',
  '    p=$(readlink -f "$b")',
  '    while [ ${#p} -gt 12 ]; do',
  '      if [ -f "$p/idVendor" ]; then',
  '        [ "$(cat "$p/serial" 2>/dev/null)" = "$1" ] && echo "${b##*/}"',
  '        break',
  '      fi',
  '      p=${p%/*}',
  '    done',
  '  done',
  '}',
  'wait_disk() {',
  '  n=0',
  '  until d=$(disk_of "$1") && [ -n "$d" ]; do',
  '    n=$((n + 1)); [ $n -gt 2400 ] && return 1',
  '    sleep 0.25',
  '  done',
  '  echo "$d"',
  '}',
  `system=$(wait_disk ${STICKS.system}) || { echo "hallpass-boot: no ${STICKS.system} disk"; exit 1; }`,
  `swap=$(wait_disk ${STICKS.swap}) || { echo "hallpass-boot: no ${STICKS.swap} disk"; exit 1; }`,
  `plain=$(wait_disk ${STICKS.plain}) || { echo "hallpass-boot: no ${STICKS.plain} disk"; exit 1; }`,
  'mount -t ext4 /dev/$system /var || { echo "hallpass-boot: mount /var failed"; exit 1; }',
  'echo boot > /var/hallpass-boot && sync',
  'mkswap /dev/$swap > /dev/null && swapon /dev/$swap || { echo "hallpass-boot: swapon failed"; exit 1; }',
  `swapfile=$(wait_disk ${STICKS.swapfile}) || { echo "hallpass-boot: no ${STICKS.swapfile} disk"; exit 1; }`,
  // An ordinary mount point: only the swap file on it makes this stick one the system runs from.
  'mkdir -p /mnt/swapfile-stick && mount -t ext4 /dev/$swapfile /mnt/swapfile-stick || exit 1',
  `dd if=/dev/zero of=${SWAP_FILE} bs=1M count=8 2> /dev/null && chmod 600 ${SWAP_FILE} || exit 1`,
  `mkswap ${SWAP_FILE} > /dev/null && swapon ${SWAP_FILE} || { echo "hallpass-boot: swapon file failed"; exit 1; }`,
  'echo "hallpass-boot: system=$system swap=$swap swapfile=$swapfile plain=$plain"',
].join('\n');

const support: GuestSupport = await requireGuest('USB guard system disk guest test');

describe.skipIf(!support.ok)('Linux USB guard and a system on USB (QEMU guest, udev)', () => {
  let files: UsbGuestFiles | null = null;
  let guest: QemuGuest | null = null;

  beforeAll(async () => {
    if (support.ok) {
      files = await buildUsbGuest(support.kernel, ACTIONS, Object.keys(STICKS), undefined, {
        beforeGuard: BEFORE_GUARD,
      });
    }
  }, 600_000);

  afterAll(async () => {
    await guest?.stop();
    await files?.remove();
  });

  it('leaves a USB disk holding /var or swap alone, at start-up and through a coldplug replay, and blocks an ordinary stick present at boot', async () => {
    if (!support.ok || files === null) {
      return;
    }
    const vm = await startUsbGuest(support.kernel, support.accel, files, {
      pluggedAtBoot: Object.entries(STICKS).map(([drive, serial]) => ({ drive, serial })),
    });
    guest = vm;
    const port: SerialLines | undefined = vm.serial[1];
    const console: SerialLines | undefined = vm.serial[0];
    if (port === undefined || console === undefined) {
      throw new Error('no serial ports');
    }
    // Lines are searched from a mark (the count of lines before the step that causes them).
    const lineOf = async (lines: SerialLines, pattern: RegExp, from = 0): Promise<string> => {
      const deadline = Date.now() + LINE_TIMEOUT_MS;
      for (;;) {
        const found = lines.all.slice(from).find((text) => pattern.test(text));
        if (found !== undefined) {
          return found;
        }
        if (Date.now() > deadline) {
          throw new Error(
            `no line ${String(pattern)} within ${LINE_TIMEOUT_MS} ms\n--- observer ---\n${port.all.join('\n')}\n${vm.diagnostics()}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const line = (pattern: RegExp, from = 0) => lineOf(port, pattern, from);
    const command = async (text: string, reply: RegExp) => {
      const mark = port.all.length;
      await vm.write(1, `${text}\n`);
      return line(reply, mark);
    };

    // The boot mounted /var and turned swap on from the sticks (a whole stick, and a file on
    // another), with no rule in place.
    const booted = fields(await lineOf(console, /^hallpass-boot: system=/));
    const disks = {
      system: booted.system ?? '',
      swap: booted.swap ?? '',
      swapfile: booted.swapfile ?? '',
      plain: booted.plain ?? '',
    };
    for (const disk of Object.values(disks)) {
      expect(disk).toMatch(/^sd[a-z]+$/);
    }

    expect(fields(await line(/^guard-installed /)).result).toBe('ok');
    await line(/^guard-watching$/);
    const keyOf = async (serial: string) =>
      fields(await line(new RegExp(`^usb-device .*serial=${serial} `))).key ?? '';
    const keys = {
      system: await keyOf(STICKS.system),
      swap: await keyOf(STICKS.swap),
      swapfile: await keyOf(STICKS.swapfile),
      plain: await keyOf(STICKS.plain),
    };
    // A key in a pattern: a stick behind a hub is `1-4.1`.
    const keyPattern = (which: keyof typeof keys) => keys[which].replaceAll('.', '\\.');

    // The guard's own word: the decision module's system-disk rule, and the platform refusing
    // to block such a disk even when asked.
    for (const which of KEPT) {
      // Whichever the guard says first: a block is a failure to see at once, not to wait out.
      const judged = await line(new RegExp(`^(left-alone|applied) key=${keyPattern(which)} `));
      expect(judged).toMatch(/^left-alone /);
      expect(fields(judged)).toMatchObject({ serial: STICKS[which], basis: 'system-disk' });
      const refused = fields(await line(new RegExp(`^refused key=${keyPattern(which)} `)));
      expect(refused.error).toContain('holds_a_filesystem_the_system_runs_from:_left_alone');
    }
    expect(fields(await line(new RegExp(`^applied key=${keyPattern('plain')} `)))).toMatchObject({
      serial: STICKS.plain,
      action: 'block',
      system: 'false',
    });

    /** What the kernel shows, read in the guest. */
    const expectSystemKeptAndPlainBlocked = async () => {
      for (const which of KEPT) {
        expect(fields(await command(`disk ${disks[which]}`, /^disk-now /))).toMatchObject({
          present: '1',
          usb: keys[which],
        });
        expect(fields(await command(`usb ${keys[which]}`, /^usb-now /)).interfaces).toBe('08:1');
      }
      const mounted = fields(await command('mountpoint /var', /^mountpoint /));
      expect(mounted).toMatchObject({
        source: `/dev/${disks.system}`,
        options: 'rw',
        read: 'ok',
        write: 'ok',
      });
      const swaps = fields(await command('swaps', /^swaps /));
      expect(swaps.active?.split(',')).toEqual(
        expect.arrayContaining([`/dev/${disks.swap}`, SWAP_FILE]),
      );
      expect(fields(await command(`disk ${disks.plain}`, /^disk-now /)).present).toBe('0');
      expect(fields(await command(`usb ${keys.plain}`, /^usb-now /)).interfaces).toBe('08:0');
    };

    // The blocked stick's disk goes as usb-storage lets go of it: asked until it has gone.
    const goneBy = Date.now() + LINE_TIMEOUT_MS;
    while (fields(await command(`disk ${disks.plain}`, /^disk-now /)).present !== '0') {
      if (Date.now() > goneBy) {
        throw new Error(
          `the blocked stick's ${disks.plain} is still there\n${port.all.join('\n')}`,
        );
      }
      await command('wait 200', /^waited /);
    }
    await expectSystemKeptAndPlainBlocked();

    // Coldplug replayed with the rule in place, as the next boot (or a restart of
    // systemd-udev-trigger) does: udev announces the system disks again, present and not hidden.
    const replayMark = port.all.length;
    expect(fields(await command('trigger', /^triggered /))).toMatchObject({
      exit: '0',
      settle: '0',
    });
    for (const which of KEPT) {
      const announced = fields(
        await line(new RegExp(`^block-udev disk=${disks[which]} `), replayMark),
      );
      expect(announced).toMatchObject({ present: '1', ignore: 'none', usb: keys[which] });
    }
    // Anything the rule's RUN would do happens within udev's event; settle waited for it, and
    // a little more costs nothing.
    await command('wait 3000', /^waited /);
    await expectSystemKeptAndPlainBlocked();

    const all = port.all;
    // No system disk went away at any moment, nor was hidden from udisks by the rule.
    const systemDisks: string[] = KEPT.map((which) => disks[which]);
    expect(
      all.filter(
        (text) =>
          (text.startsWith('block-gone ') && systemDisks.includes(fields(text).disk ?? '')) ||
          (text.startsWith('block-udev ') &&
            systemDisks.includes(fields(text).disk ?? '') &&
            fields(text).ignore !== 'none'),
      ),
    ).toEqual([]);
    // The blocked stick's disk never came back.
    expect(
      all
        .slice(replayMark)
        .filter((text) => /^block-(seen|udev) /.test(text) && fields(text).disk === disks.plain),
    ).toEqual([]);
    // For the record (README): what the guard said and what udev announced at the replay.
    const record = all.filter(
      (text, index) =>
        /^(left-alone|refused|applied) /.test(text) ||
        (index >= replayMark && /^(block-udev|triggered) /.test(text)),
    );
    process.stdout.write(`system disks on USB: ${record.join(' | ')}\n`);
    expect(
      all.filter((text) =>
        /^(watch-failed|apply-failed|command-failed|unknown-command) |^applied .*system=true/.test(
          text,
        ),
      ),
    ).toEqual([]);
  }, 1_800_000);
});
