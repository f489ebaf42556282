// Vitest global setup: no test may change this host's USB enforcement. The suite runs as root,
// and the real service with its USB guard on writes the fail-closed rule to
// /etc/udev/rules.d/70-hallpass-usb-storage.rules (agent/core/usb/linux.ts), which from then on
// blocks the developer's own USB sticks. Before the run this records that file (absent, or its
// content), the USB approval folders under /run/hallpass and each USB bus's
// interface_authorized_default; after it, anything a test changed is put back as it was and the
// run fails, naming what changed. Only /etc is compared: where the Debian package is installed
// its rule is in /lib/udev/rules.d, which the suite leaves alone.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { APPROVED_MARKS, READ_ONLY_MARKS, RULE_FILE } from '../../agent/core/usb/linux.ts';

/** Where the host keeps what the USB guard changes; tests point it at a temp folder. */
export interface HostUsbPaths {
  /** `/etc/udev/rules.d`. */
  rulesDir: string;
  /** The service's approval folders (`/run/hallpass/usb-approved`, `usb-read-only`). */
  markDirs: readonly string[];
  /** `/sys/bus/usb/devices`. */
  usbDevices: string;
}

export const HOST_USB_PATHS: HostUsbPaths = {
  rulesDir: '/etc/udev/rules.d',
  markDirs: [APPROVED_MARKS, READ_ONLY_MARKS],
  usbDevices: '/sys/bus/usb/devices',
};

/** What the host looked like before the run. */
export interface HostUsbSnapshot {
  /** The rule file's bytes, or null when there was none. */
  rule: Buffer | null;
  /** The approval folders that existed. */
  marks: string[];
  /** interface_authorized_default by file path, for every USB bus that has one. */
  busDefaults: Map<string, string>;
}

async function readOrNull(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return null;
    }
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await readdir(path);
    return true;
  } catch {
    return false;
  }
}

async function busDefaults(usbDevices: string): Promise<Map<string, string>> {
  const values = new Map<string, string>();
  const names = await readdir(usbDevices).catch(() => [] as string[]);
  for (const name of names.filter((n) => /^usb[0-9]+$/.test(n)).sort()) {
    const path = join(usbDevices, name, 'interface_authorized_default');
    const value = await readOrNull(path).catch(() => null);
    if (value !== null) {
      values.set(path, value.toString('utf8').trim());
    }
  }
  return values;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex').slice(0, 16);

/** Records the host's USB enforcement state. */
export async function snapshotHostUsb(paths: HostUsbPaths): Promise<HostUsbSnapshot> {
  const marks: string[] = [];
  for (const dir of paths.markDirs) {
    if (await exists(dir)) {
      marks.push(dir);
    }
  }
  return {
    rule: await readOrNull(join(paths.rulesDir, RULE_FILE)),
    marks,
    busDefaults: await busDefaults(paths.usbDevices),
  };
}

/**
 * Compares the host with `before`, puts back whatever changed (removes a rule file or approval
 * folder the run created, restores a changed rule and bus defaults) and returns one line per
 * change, empty when the host is as it was.
 */
export async function restoreHostUsb(
  before: HostUsbSnapshot,
  paths: HostUsbPaths,
): Promise<string[]> {
  const changes: string[] = [];
  const ruleFile = join(paths.rulesDir, RULE_FILE);
  const rule = await readOrNull(ruleFile);
  if (before.rule === null && rule !== null) {
    await rm(ruleFile, { force: true });
    changes.push(`${ruleFile} was created by the run (removed again)`);
  } else if (before.rule !== null && rule === null) {
    await writeFile(ruleFile, before.rule, { mode: 0o644 });
    changes.push(`${ruleFile} was removed by the run (put back)`);
  } else if (before.rule !== null && rule !== null && !before.rule.equals(rule)) {
    await writeFile(ruleFile, before.rule, { mode: 0o644 });
    changes.push(
      `${ruleFile} was changed by the run (sha256 ${sha256(before.rule)}… became ${sha256(rule)}…; the old content is back)`,
    );
  }
  for (const dir of paths.markDirs) {
    if (!before.marks.includes(dir) && (await exists(dir))) {
      await rm(dir, { recursive: true, force: true });
      changes.push(`${dir} was created by the run (removed again)`);
    }
  }
  const after = await busDefaults(paths.usbDevices);
  for (const [path, value] of before.busDefaults) {
    const now = after.get(path);
    if (now !== undefined && now !== value) {
      await writeFile(path, value);
      changes.push(`${path} was set to ${now} by the run (put back to ${value})`);
    }
  }
  return changes;
}

/** Records the host before the run; the teardown fails the run if a test changed it. */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.platform !== 'linux') {
    return undefined;
  }
  const before = await snapshotHostUsb(HOST_USB_PATHS);
  return async () => {
    const changes = await restoreHostUsb(before, HOST_USB_PATHS);
    if (changes.length === 0) {
      return;
    }
    // A running udevd drops the rule now rather than at its next check, as the package's postrm.
    if (changes.some((line) => line.includes(RULE_FILE)) && existsSync('/run/udev/control')) {
      await promisify(execFile)('udevadm', ['control', '--reload']).catch(() => undefined);
    }
    const message =
      `A test changed this host's USB enforcement (a real service ran with usbGuard on: give it ` +
      `usbGuard: false, or a temp rulesDir as test/agent/core/usb/linux.test.ts does):\n  ` +
      changes.join('\n  ');
    process.stderr.write(`\n*** ${message} ***\n\n`);
    // Vitest only logs an error thrown by a global teardown; the exit code says it too.
    process.exitCode = 1;
    throw new Error(message);
  };
}
