// A valid USB decision as events and pushes carry it, for tests that need one.
import type { UsbDecision } from '../../shared/index.ts';

/** The data of a `usb.blocked` event: an unapproved stick blocked for `user`. */
export function usbBlockedData(
  options: { serial?: string; user?: string | null; at?: string } = {},
): UsbDecision & { count: number; firstAt: string } {
  const at = options.at ?? '2026-11-23T09:00:00.000Z';
  return {
    at,
    firstAt: at,
    count: 1,
    device: {
      vendorId: '0781',
      productId: '5581',
      serial: options.serial ?? '4C530001',
      name: 'SanDisk Ultra',
      kind: 'mass-storage',
    },
    action: 'blocked',
    basis: 'not-approved',
    mode: 'block',
    user: options.user === undefined ? 'pupil.0042' : options.user,
    approvalId: null,
  };
}
