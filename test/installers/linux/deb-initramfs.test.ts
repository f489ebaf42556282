// The package and initramfs-tools: installed with dpkg into a clean Debian 12 root that has
// initramfs-tools (debootstrap minbase plus initramfs-tools, cached as its own tarball by
// test/helpers/debian-root.ts), with an initramfs already built there for the kernel the QEMU
// harness boots (its modules bind-mounted read-only from this host). postinst's
// `update-initramfs -u` activates initramfs-tools' trigger, dpkg runs it, and the hook
// (/usr/share/initramfs-tools/hooks/hallpass) puts the rule and blockdev in the rebuilt image;
// `dpkg -r` rebuilds it without them. The root is a bind mount of itself in a private mount
// namespace with /proc, /sys (read-only) and /dev, so the hook's decision sees a real `/` (this host's disk,
// not USB); initramfs-hook.test.ts boots such images on a real kernel.
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeb } from '../../../scripts/build-deb.ts';
import { freshDebianRoot, type DebianRoot, type RootRecipe } from '../../helpers/debian-root.ts';
import { findKernel, type GuestKernel } from '../../helpers/qemu-guest.ts';

const exec = promisify(execFile);
/** Generous: debootstrap the first time, mkinitramfs (MODULES=most) on a loaded 2-core machine. */
const TIMEOUT_MS = 1_200_000;
const RULE = 'lib/udev/rules.d/70-hallpass-usb-storage.rules';
/** Left by the hook beside the rule it copies; without it the rule is inert in an initramfs. */
const MARKER = 'conf/hallpass-usb-guard';

const INITRAMFS_ROOT: RootRecipe = {
  name: 'debian-bookworm-minbase-initramfs.tar',
  include: ['initramfs-tools'],
};

const isRoot = process.getuid?.() === 0;
const kernel: GuestKernel | null = process.platform === 'linux' ? await findKernel() : null;
const ready =
  isRoot &&
  kernel !== null &&
  (await access('/usr/sbin/debootstrap', constants.X_OK).then(
    () => true,
    () => false,
  ));
if (!ready) {
  const why = !isRoot ? 'not root' : kernel === null ? 'no kernel with modules' : 'no debootstrap';
  if (process.env.CI === 'true' && process.platform === 'linux') {
    throw new Error(`deb initramfs test cannot run under CI: ${why}`);
  }
  process.stderr.write(`\n*** deb initramfs test NOT RUN: ${why} ***\n\n`);
}

describe.skipIf(!ready)('the hallpass .deb and initramfs-tools', { timeout: TIMEOUT_MS }, () => {
  let root: DebianRoot;
  let deb = '';

  beforeAll(async () => {
    root = await freshDebianRoot(INITRAMFS_ROOT);
    deb = await buildDeb({ outDir: root.dir, compression: 'gzip-fast' });
  }, TIMEOUT_MS);
  afterAll(async () => {
    await root.remove();
  });

  /** Runs `command` in the root as described in the header; its output, or a failure with it. */
  async function inInitramfsRoot(command: string): Promise<string> {
    if (kernel === null) {
      throw new Error('no kernel');
    }
    const modules = `/lib/modules/${kernel.release}`;
    const script = [
      'set -e',
      'r=$1',
      'mount --bind "$r" "$r"',
      'mkdir -p "$r$2"',
      'mount --bind -o ro "$2" "$r$2"',
      'mount -t proc proc "$r/proc"',
      // Read-only: postrm's restore of the buses' default must not reach this host's USB.
      'mount --bind -o ro /sys "$r/sys"',
      'mount --bind /dev "$r/dev"',
      'shift 2',
      'exec chroot "$r" /bin/sh -c "$1"',
    ].join('\n');
    try {
      const { stdout, stderr } = await exec(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          script,
          'sh',
          root.dir,
          modules,
          command,
        ],
        {
          timeout: TIMEOUT_MS,
          maxBuffer: 64 << 20,
          env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' },
        },
      );
      return `${stdout}${stderr}`;
    } catch (error) {
      const failed = error as Error & { stdout?: string; stderr?: string };
      throw new Error(
        `${command}: ${failed.message}\n${failed.stdout ?? ''}${failed.stderr ?? ''}`,
        {
          cause: error,
        },
      );
    }
  }

  const imagePaths = async (): Promise<string[]> => {
    const release = kernel?.release ?? '';
    return (await inInitramfsRoot(`lsinitramfs /boot/initrd.img-${release}`)).split('\n');
  };

  it('install puts the rule in the initramfs through the trigger; remove takes it out', async () => {
    const release = kernel?.release ?? '';
    // The kernel as its package installs it: update-initramfs -u updates the initramfs of the
    // newest /boot/vmlinuz-*, and mkinitramfs reads the configuration for its compression.
    await mkdir(join(root.dir, 'boot'), { recursive: true });
    await copyFile(kernel?.image ?? '', join(root.dir, `boot/vmlinuz-${release}`));
    await copyFile(`/boot/config-${release}`, join(root.dir, `boot/config-${release}`));
    await inInitramfsRoot(`update-initramfs -c -k ${release}`);
    expect((await imagePaths()).some((path) => path.endsWith(RULE))).toBe(false);

    const installed = await inInitramfsRoot(`dpkg -i /${deb.slice(root.dir.length + 1)}`);
    expect(installed).toContain('update-initramfs: deferring update (trigger activated)');
    expect(installed).toMatch(
      new RegExp(
        `Processing triggers for initramfs-tools .*\\nupdate-initramfs: Generating /boot/initrd\\.img-${release.replaceAll('.', '\\.')}`,
      ),
    );
    // What the hook decided: here `/` is this host's disk (copy). Where the temp folder is not
    // on a disk (tmpfs) the hook cannot tell and must leave the rule out, saying why.
    const decision = await inInitramfsRoot(
      'sh /usr/share/initramfs-tools/hooks/hallpass check || true',
    );
    const withHook = await imagePaths();
    if (decision.startsWith('copy:')) {
      expect(decision).toBe('copy: / /usr and the swaps are not on USB\n');
      expect(installed).not.toContain('hallpass: USB storage rule left out');
      expect(withHook.some((path) => path.endsWith(RULE))).toBe(true);
      expect(withHook.some((path) => path.endsWith('sbin/blockdev'))).toBe(true);
      expect(withHook.some((path) => path.endsWith(MARKER))).toBe(true);
    } else {
      expect(decision).toMatch(/^cannot tell: /);
      expect(installed).toContain(
        'hallpass: USB storage rule left out of the initramfs (cannot tell',
      );
      expect(withHook.some((path) => path.endsWith(RULE))).toBe(false);
      expect(withHook.some((path) => path.endsWith(MARKER))).toBe(false);
    }

    const removed = await inInitramfsRoot('dpkg -r hallpass');
    expect(removed).toMatch(
      /Processing triggers for initramfs-tools .*\nupdate-initramfs: Generating/,
    );
    const afterRemoval = await imagePaths();
    expect(afterRemoval.some((path) => path.endsWith(RULE))).toBe(false);
    expect(afterRemoval.some((path) => path.endsWith(MARKER))).toBe(false);
  });
});
