// The USB storage enforcement of each OS, chosen once.
import type { Host } from '../host.ts';
import type { OsName } from '../platform.ts';
import { darwinUsbPlatform } from './darwin.ts';
import { LinuxUsbPlatform } from './linux.ts';
import type { UsbPlatform } from './platform.ts';
import { windowsUsbPlatform } from './windows.ts';

/** What a platform may need besides the host: a logger for what it cannot put in a result. */
export interface UsbPlatformOptions {
  log: {
    info(details: Record<string, unknown>, message: string): void;
    warn(details: Record<string, unknown>, message: string): void;
    error(details: Record<string, unknown>, message: string): void;
  };
}

/** The enforcement for `os`, or null when this build has none for it (see usbPlatformMissing). */
export function usbPlatformFor(
  os: OsName,
  host: Host,
  _options: UsbPlatformOptions,
): UsbPlatform | null {
  switch (os) {
    case 'linux':
      return new LinuxUsbPlatform({ run: host.run });
    case 'windows':
      return windowsUsbPlatform(host);
    case 'darwin':
      return darwinUsbPlatform(host);
  }
}

/** Why there is no enforcement on `os`, for status. */
export function usbPlatformMissing(os: OsName): string {
  return `USB storage enforcement is not available on ${os} in this build: devices are not judged or blocked`;
}
