// The one interface each OS's USB storage enforcement implements (linux.ts, windows.ts,
// darwin.ts beside it). The decision of what to do lives in decide.ts and is the same on every
// OS; a platform only finds storage, says who it is, and applies an action.
import type { UsbDevice, UsbPolicy } from '../../../shared/index.ts';

/** A USB storage device attached now, as the OS shows it. */
export interface AttachedUsbStorage {
  /**
   * Stable for as long as the device stays attached, unique among attached devices: Linux the
   * USB device's sysfs name (`1-1.2`), Windows the PnP instance id, macOS the IORegistry entry
   * id or BSD name of the whole disk.
   */
  key: string;
  /** Identity with every string already made safe (see sanitize.ts). */
  device: UsbDevice;
  /**
   * It holds a filesystem the running system uses (root, /usr, /boot, swap, the OS volume):
   * never blocked, whatever the policy says.
   */
  systemDisk: boolean;
}

/** What a platform is asked to do to one device. */
export type UsbEnforcement = 'block' | 'read-only' | 'read-write';

/** Arrivals and removals, as the OS reports them. */
export interface UsbWatchHandlers {
  attached(storage: AttachedUsbStorage): void;
  detached(key: string): void;
  /** The watch broke (the monitor process died, bad output); the guard restarts it. */
  failed(error: Error): void;
}

/** USB storage enforcement on one OS. Every method may reject; the guard never crashes on it. */
export interface UsbPlatform {
  /**
   * Makes storage fail closed while the service is not running (Linux: the static udev rule
   * and interface default; Windows: the device-installation restriction in the registry;
   * macOS: nothing is possible without an Endpoint Security extension, see docs). Idempotent;
   * resolves to a sentence for status when the OS cannot be made to fail closed, else null.
   * `policy`, when given, says whether portable media (MTP/PTP) count as storage: a platform
   * that can refuse them too (Windows) follows it, and the guard calls this again when that
   * changes. Without it, what a platform does about portable media is left as it was.
   */
  installFailClosedDefault(policy?: UsbPolicy): Promise<string | null>;
  /** USB storage attached now (blocked ones included: they are still attached). */
  listAttached(): Promise<AttachedUsbStorage[]>;
  /** Reports arrivals and removals until the returned stop is called. */
  watch(handlers: UsbWatchHandlers): { stop(): Promise<void> };
  /** Applies an action; applying the action a device already has is a no-op. */
  apply(storage: AttachedUsbStorage, action: UsbEnforcement): Promise<void>;
}
