// Linux device facts from files and system calls only (issue 12). systeminformation gets them by
// shell lines (`cat /etc/*-release`, `hostname -f`, `dmidecode`, `uname -o`) run with the
// service's inherited environment, so a planted PATH entry could choose the facts ICT sees. The
// files read here are root's (/etc/os-release, the kernel's DMI table in sysfs), and the host
// name and kernel come from uname(2) through Node.
import { arch, hostname, release } from 'node:os';
import type { FileReader } from '../host.ts';

/** Inventory facts before the shared placeholder rules (the other OSes fill the same shape). */
export interface LinuxInventory {
  hostname: string;
  distro: string;
  version: string;
  build: string;
  arch: string;
  model: string;
  manufacturer: string;
  serial: string;
  /** What could not be read, for the CLI and logs. */
  warnings: string[];
}

// os-release(5): the file in /etc wins; /usr/lib holds the vendor's copy.
const OS_RELEASE_FILES = ['/etc/os-release', '/usr/lib/os-release'] as const;
const DMI = '/sys/class/dmi/id';

/**
 * Reads os-release(5) assignments: `KEY=value`, the value optionally in double or single quotes
 * with backslash escapes in the double-quoted form. Lines that are not assignments are skipped.
 */
export function parseOsRelease(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match?.[1] || match[2] === undefined) {
      continue;
    }
    let value = match[2];
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    } else if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) {
      value = value.slice(1, -1);
    }
    values.set(match[1], value);
  }
  return values;
}

/** A small file's first line, or '' when it is missing or cannot be read (the DMI serial is 0400). */
async function firstLine(files: FileReader, path: string): Promise<string> {
  try {
    return (await files.readText(path))?.split('\n')[0]?.trim() ?? '';
  } catch {
    return '';
  }
}

/** Reads the Linux inventory without running a command. */
export async function readLinuxInventory(files: FileReader): Promise<LinuxInventory> {
  const warnings: string[] = [];
  let osRelease = new Map<string, string>();
  let found = false;
  for (const path of OS_RELEASE_FILES) {
    try {
      const text = await files.readText(path);
      if (text !== null) {
        osRelease = parseOsRelease(text);
        found = true;
        break;
      }
    } catch (error) {
      warnings.push(`os-release: ${(error as Error).message}`);
    }
  }
  if (!found) {
    warnings.push('os-release: neither /etc/os-release nor /usr/lib/os-release could be read');
  }
  const kernel = release();
  return {
    hostname: hostname(),
    // os-release(5) defaults NAME to "Linux" when the file does not set it.
    distro: osRelease.get('NAME') ?? 'Linux',
    version: osRelease.get('VERSION_ID') ?? '',
    build: osRelease.get('BUILD_ID') || kernel,
    arch: arch(),
    model: await firstLine(files, `${DMI}/product_name`),
    manufacturer: await firstLine(files, `${DMI}/sys_vendor`),
    serial: await firstLine(files, `${DMI}/product_serial`),
    warnings,
  };
}
