import { createHmac } from 'node:crypto';
import nodeMachineId from 'node-machine-id';
import { nodeFileReader, type FileReader } from '../host.ts';
import type { OsName } from '../platform.ts';

/**
 * App-specific key for hashing the OS machine id: the hash identifies the device to Hallpass
 * only and cannot be joined with other software's plain SHA-256 of the same id.
 */
const MACHINE_ID_KEY = 'hallpass/machine-id/v1';

// What each OS's id looks like: Linux /etc/machine-id is 32 lowercase hex (machine-id(5));
// Windows MachineGuid and macOS IOPlatformUUID are GUIDs.
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SHAPES: Record<OsName, RegExp> = {
  linux: /^[0-9a-f]{32}$/,
  windows: GUID,
  darwin: GUID,
};

/** Why no machine id could be used, or the keyed hash of the one found. */
export type MachineIdHash = { ok: true; hash: string } | { ok: false; reason: string };

/**
 * Accepts an OS machine id only when it has that OS's shape. node-machine-id silently falls back
 * to the hostname on Linux when /etc/machine-id is missing, and a golden image before first boot
 * has an empty one (PLATFORMS.md §9): both fail the shape test and are reported as missing.
 */
export function hashMachineId(os: OsName, rawId: string): MachineIdHash {
  const id = rawId.trim().toLowerCase();
  if (id === '') {
    return {
      ok: false,
      reason: 'the OS machine id is empty (an image that has not been booted yet?)',
    };
  }
  if (/^0+$/.test(id.replaceAll('-', ''))) {
    return { ok: false, reason: 'the OS machine id is all zeros' };
  }
  if (!SHAPES[os].test(id)) {
    return {
      ok: false,
      reason: `the OS machine id is not a ${os} machine id (hostname fallback?)`,
    };
  }
  return { ok: true, hash: createHmac('sha256', MACHINE_ID_KEY).update(id).digest('hex') };
}

/**
 * The Linux machine id, read from the files themselves in node-machine-id's order (the D-Bus
 * copy first, so hashes of devices enrolled before this change stay the same). node-machine-id
 * gets it by a shell line (`cat … || hostname | head`) run with the service's inherited PATH, so
 * a planted `cat` could have chosen the device's identity (issue 12); both files are root's.
 */
async function readLinuxMachineId(files: FileReader): Promise<string> {
  for (const path of ['/var/lib/dbus/machine-id', '/etc/machine-id']) {
    const text = await files.readText(path);
    const first = text?.split('\n')[0]?.trim() ?? '';
    if (first !== '') {
      return first;
    }
  }
  return '';
}

/**
 * Reads the OS machine id and hashes it with the Hallpass key: on Linux from the files, elsewhere
 * through node-machine-id (REG.exe by full path on Windows, ioreg on macOS).
 */
export async function readMachineIdHash(
  os: OsName,
  files: FileReader = nodeFileReader,
): Promise<MachineIdHash> {
  try {
    const raw =
      os === 'linux' ? await readLinuxMachineId(files) : await nodeMachineId.machineId(true);
    return hashMachineId(os, raw);
  } catch (error) {
    return {
      ok: false,
      reason: `could not read the OS machine id: ${(error as Error).message.split('\n')[0] ?? ''}`,
    };
  }
}
