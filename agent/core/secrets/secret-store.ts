// The device credential (ARCHITECTURE.md, "Identity and trust"): the server-issued device id and
// the P-256 private key that signs every request. It lives in a machine-scoped store that only
// root / SYSTEM can read; each OS has its own implementation behind this one interface.
import { createPrivateKey } from 'node:crypto';
import { Type } from 'typebox';
import {
  describeProblems,
  IsoDateTimeSchema,
  UuidSchema,
  validate,
} from '../../../shared/index.ts';

/** What enrolment leaves on the device: who it is, where its server is, and its signing key. */
export interface DeviceCredential {
  schemaVersion: 1;
  serverUrl: string;
  deviceId: string;
  privateKeyPem: string;
  enrolledAt: string;
}

/** A machine-scoped place for the one device credential. `read` is null when none is stored. */
export interface SecretStore {
  /** Where the credential lives, for messages (a path, or the keychain and item). */
  readonly location: string;
  read(): Promise<DeviceCredential | null>;
  write(credential: DeviceCredential): Promise<void>;
}

/** The credential cannot be stored or used; the message says what is wrong and how to fix it. */
export class CredentialError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CredentialError';
  }
}

const DeviceCredentialSchema = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    serverUrl: Type.String({ minLength: 8, maxLength: 2000, pattern: '^https?://' }),
    deviceId: UuidSchema,
    privateKeyPem: Type.String({ minLength: 100, maxLength: 10_000 }),
    enrolledAt: IsoDateTimeSchema,
  },
  { additionalProperties: false },
);

/** The largest credential any store accepts: a P-256 PEM and a URL are well under 4 KiB. */
export const MAX_CREDENTIAL_BYTES = 64 * 1024;

/** The advice every "unusable credential" message ends with. */
export const REENROL_ADVICE =
  'Enrol the device again: ICT allows re-enrolment for it on the dashboard, then hallpass enroll --replace --device ID --server URL --token TOKEN (enrolling without --replace makes a new device).';

/**
 * Checks an untrusted value read back from a store: the schema, and that the key really is a
 * P-256 private key. Throws a CredentialError naming `location`; never returns a half-valid one.
 */
export function checkCredential(value: unknown, location: string): DeviceCredential {
  const checked = validate(DeviceCredentialSchema, value);
  if (!checked.ok) {
    throw new CredentialError(
      `the device credential in ${location} is invalid (${describeProblems(checked.problems)}). ${REENROL_ADVICE}`,
    );
  }
  try {
    const key = createPrivateKey(checked.value.privateKeyPem);
    if (key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new Error('not a P-256 key');
    }
  } catch (error) {
    throw new CredentialError(
      `the device credential in ${location} holds no usable P-256 private key. ${REENROL_ADVICE}`,
      { cause: error },
    );
  }
  return checked.value;
}

/** Parses a credential from its stored JSON text; corrupt text is a CredentialError. */
export function parseCredential(text: string, location: string): DeviceCredential {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CredentialError(
      `the device credential in ${location} is corrupt (not JSON). ${REENROL_ADVICE}`,
      { cause: error },
    );
  }
  return checkCredential(value, location);
}

/** The stored form of a credential; checked first so a store never holds a bad one. */
export function serializeCredential(credential: DeviceCredential, location: string): string {
  return JSON.stringify(checkCredential(credential, location));
}
