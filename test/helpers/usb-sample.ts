// A valid USB decision as events and pushes carry it, for tests that need one.
import { randomUUID } from 'node:crypto';
import { SCHEMA_VERSION, type AgentEvent, type UsbDecision } from '../../shared/index.ts';

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

/** A whole `usb.blocked` event for a given stick, user and count (rate-limited decisions). */
export function usbBlockedEvent(
  device: { vendorId?: string; productId?: string; serial: string | null; name?: string },
  extra: { user?: string | null; count?: number; at?: Date } = {},
): AgentEvent {
  const at = (extra.at ?? new Date()).toISOString();
  const data = usbBlockedData({ at, user: extra.user === undefined ? 'pupil.0042' : extra.user });
  return {
    schemaVersion: SCHEMA_VERSION,
    id: randomUUID(),
    occurredAt: at,
    type: 'usb.blocked',
    data: {
      ...data,
      count: extra.count ?? 1,
      device: {
        ...data.device,
        vendorId: device.vendorId ?? '0781',
        productId: device.productId ?? '5581',
        serial: device.serial,
        name: device.name ?? 'SanDisk Ultra',
      },
    },
  };
}
