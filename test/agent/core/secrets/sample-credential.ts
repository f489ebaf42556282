// A device credential as enrolment writes it, for the secret store tests.
import { generateDeviceKeyPair } from '../../../../agent/core/http-signature/sign.ts';
import type { DeviceCredential } from '../../../../agent/core/secrets/secret-store.ts';

/** A valid credential with a fresh P-256 key. */
export function sampleCredential(overrides: Partial<DeviceCredential> = {}): DeviceCredential {
  return {
    schemaVersion: 1,
    serverUrl: 'https://hallpass.example-trust.org.uk',
    deviceId: '5f0c5a52-3c1e-4d7e-9d4f-8a1b2c3d4e5f',
    privateKeyPem: generateDeviceKeyPair().privateKeyPem,
    enrolledAt: '2026-11-23T09:00:00.000Z',
    ...overrides,
  };
}
