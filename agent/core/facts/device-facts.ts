import si from 'systeminformation';
import type { DeviceFacts } from '../../../shared/index.ts';
import type { OsName } from '../platform.ts';
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

/** Collects inventory facts with systeminformation and the hashed machine id. */
export async function collectDeviceFacts(
  os: OsName,
  agentVersion: string,
): Promise<CollectedFacts> {
  const [osInfo, system, machine] = await Promise.all([
    si.osInfo(),
    si.system(),
    readMachineIdHash(os),
  ]);
  const warnings: string[] = [];
  if (!machine.ok) {
    warnings.push(`machine id: ${machine.reason}`);
  }
  const serial = meaningful(system.serial);
  if (serial === null) {
    warnings.push('serial: the OS did not report one (on Linux reading it needs root)');
  }
  const facts: DeviceFacts = {
    hostname: osInfo.hostname.slice(0, 255),
    os: {
      name: os,
      distro: osInfo.distro.slice(0, 200),
      version: osInfo.release.slice(0, 100),
      build: (osInfo.build || osInfo.kernel).slice(0, 100),
      arch: osInfo.arch.slice(0, 50),
    },
    model: (meaningful(system.model) ?? 'unknown').slice(0, 200),
    manufacturer: (meaningful(system.manufacturer) ?? 'unknown').slice(0, 200),
    serial: serial?.slice(0, 200) ?? null,
    machineIdHash: machine.ok ? machine.hash : null,
    agentVersion,
  };
  return { facts, warnings };
}
