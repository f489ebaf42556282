// A USB disk whose ids could not be read (garbled OS output, a device the registry does not
// link to a USB device) is still storage, and must still be judged: reported as vendor 0000,
// which the USB-IF never assigns, so no real allowlist entry names it and it is never approved.
import type { UsbDevice, UsbStorageKind } from '../../../shared/index.ts';
import { deviceText } from './sanitize.ts';

/** The vendor id given to storage whose identity could not be read. */
export const UNIDENTIFIED_VENDOR_ID = '0000';

/** The identity of storage the OS did not let us identify; `why` says what was missing. */
export function unidentifiedDevice(why: string, kind: UsbStorageKind = 'mass-storage'): UsbDevice {
  return {
    vendorId: UNIDENTIFIED_VENDOR_ID,
    productId: '0000',
    serial: null,
    name: deviceText(`unidentifiable USB storage (${why})`),
    kind,
  };
}
