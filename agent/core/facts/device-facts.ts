import si from 'systeminformation';
import type { DeviceFacts } from '../../../shared/index.ts';
import { nodeFileReader, type FileReader } from '../host.ts';
import type { OsName } from '../platform.ts';
import { readLinuxInventory, type LinuxInventory } from './linux.ts';
import { readMachineIdHash } from './machine-id.ts';

/** Device facts plus what could not be read, for the CLI and logs. */
export interface CollectedFacts {
  facts: DeviceFacts;
  warnings: string[];
}

// systeminformation prints '-' or '' when the OS would not say (Linux hides the DMI serial from
// non-root users: /sys/devices/virtual/dmi/id/product_serial is 0400, PLATFORMS.md §9).
const PLACEHOLDERS = new Set([
  '',
  '-',
  'default string',
  'to be filled by o.e.m.',
  'system serial number',
  '0',
]);

/** A value systeminformation returned, or null for its placeholders. */
export function meaningful(value: string | undefined): string | null {
  const trimmed = (value ?? '').trim();
  return PLACEHOLDERS.has(trimmed.toLowerCase()) ? null : trimmed;
}

/**
 * Windows and macOS through systeminformation. Its commands run with the service's environment,
 * which there is the Service Control Manager's or launchd's, not one a user sets; Linux reads
 * files instead (./linux.ts) because a root service there is also started by hand and by scripts.
 */
async function libraryInventory(): Promise<LinuxInventory> {
  const [osInfo, system] = await Promise.all([si.osInfo(), si.system()]);
  return {
    hostname: osInfo.hostname,
    distro: osInfo.distro,
    version: osInfo.release,
    build: osInfo.build || osInfo.kernel,
    arch: osInfo.arch,
    model: system.model,
    manufacturer: system.manufacturer,
    serial: system.serial,
    warnings: [],
  };
}

/** Collects inventory facts and the hashed machine id; on Linux without running a command. */
export async function collectDeviceFacts(
  os: OsName,
  agentVersion: string,
  files: FileReader = nodeFileReader,
): Promise<CollectedFacts> {
  const [inventory, machine] = await Promise.all([
    os === 'linux' ? readLinuxInventory(files) : libraryInventory(),
    readMachineIdHash(os, files),
  ]);
  const warnings = [...inventory.warnings];
  if (!machine.ok) {
    warnings.push(`machine id: ${machine.reason}`);
  }
  const serial = meaningful(inventory.serial);
  if (serial === null) {
    warnings.push('serial: the OS did not report one (on Linux reading it needs root)');
  }
  const facts: DeviceFacts = {
    hostname: inventory.hostname.slice(0, 255),
    os: {
      name: os,
      distro: inventory.distro.slice(0, 200),
      version: inventory.version.slice(0, 100),
      build: inventory.build.slice(0, 100),
      arch: inventory.arch.slice(0, 50),
    },
    model: (meaningful(inventory.model) ?? 'unknown').slice(0, 200),
    manufacturer: (meaningful(inventory.manufacturer) ?? 'unknown').slice(0, 200),
    serial: serial?.slice(0, 200) ?? null,
    machineIdHash: machine.ok ? machine.hash : null,
    agentVersion,
  };
  return { facts, warnings };
}
