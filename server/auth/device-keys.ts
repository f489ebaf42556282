import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Queryable } from '../db/db.ts';
import { findDeviceKey } from '../store/devices.ts';

/**
 * How long a device's public key is trusted from memory before it is read again. A device retired
 * (re-enrolled) through another server instance is refused here within this time; on this
 * instance at once (`forget`).
 */
export const DEVICE_KEY_TTL_MS = 30_000;
const MAX_ENTRIES = 200_000;

interface Entry {
  key: KeyObject;
  until: number;
}

/**
 * Active devices' public keys, imported once and kept for a short while: every signed request
 * needs one, and reading and importing it was a database round trip and a DER parse each time.
 * Unknown and retired devices are never cached, so enrolment takes effect at once.
 */
export class DeviceKeyCache {
  readonly #entries = new Map<string, Entry>();
  readonly #clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  async lookup(db: Queryable, deviceId: string): Promise<KeyObject | null> {
    const now = this.#clock();
    const cached = this.#entries.get(deviceId);
    if (cached !== undefined && cached.until > now) {
      return cached.key;
    }
    this.#entries.delete(deviceId);
    const spki = await findDeviceKey(db, deviceId);
    if (spki === null) {
      return null;
    }
    const key = createPublicKey({
      key: Buffer.from(spki, 'base64url'),
      format: 'der',
      type: 'spki',
    });
    if (this.#entries.size >= MAX_ENTRIES) {
      // Maps iterate in insertion order: the first entry is the longest held.
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) {
        this.#entries.delete(oldest.value);
      }
    }
    this.#entries.set(deviceId, { key, until: now + DEVICE_KEY_TTL_MS });
    return key;
  }

  /** Drops a device at once, when this instance retires it. */
  forget(deviceId: string): void {
    this.#entries.delete(deviceId);
  }
}
