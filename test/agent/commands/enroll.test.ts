// Which enrolment `hallpass enroll` makes from its flags and the stored credential (issue 12): a
// replacement is proved by the stored key, or names a device ICT approved and carries a token.
import { describe, expect, it } from 'vitest';
import { EnrolRefused, planEnrolment } from '../../../agent/commands/enroll.ts';
import type { DeviceCredential } from '../../../agent/core/secrets/secret-store.ts';

const credential: DeviceCredential = {
  schemaVersion: 1,
  serverUrl: 'https://hallpass.example',
  deviceId: '3f0c6f5e-8a55-4c1e-9a39-0c2d4f1b7a10',
  privateKeyPem: '(not read by planEnrolment)',
  enrolledAt: '2026-11-23T09:00:00.000Z',
};
const none = { serverUrl: undefined, token: undefined, replace: false, device: undefined };
const token = 'hpe_' + 'a'.repeat(40);

describe('planEnrolment', () => {
  it('a first enrolment needs --server and --token', () => {
    expect(planEnrolment({ ...none, serverUrl: 'https://h.example', token }, null, 'x')).toEqual({
      serverUrl: 'https://h.example',
      token,
    });
    expect(() => planEnrolment(none, null, 'x')).toThrow(/--server URL and --token/);
  });

  it('an enrolled device is not enrolled again without --replace', () => {
    expect(() =>
      planEnrolment({ ...none, serverUrl: 'https://h.example', token }, credential, 'x'),
    ).toThrow(/already enrolled as .*--replace/);
  });

  it('--replace on an enrolled device is proved by its credential, to its server, with no token', () => {
    expect(planEnrolment({ ...none, replace: true, token }, credential, 'x')).toEqual({
      serverUrl: credential.serverUrl,
      replaces: { credential },
    });
  });

  it('--replace without a credential needs --device (ICT approval), --server and --token', () => {
    expect(() =>
      planEnrolment({ ...none, replace: true }, null, '/var/lib/hallpass/c.json'),
    ).toThrow(/no device credential in \/var\/lib\/hallpass\/c\.json.*allow its re-enrolment/);
    const device = '8d7b2a30-7a0d-4d64-9f44-5c3b9f0e2b11';
    expect(() => planEnrolment({ ...none, replace: true, device }, null, 'x')).toThrow(
      /needs --server URL and --token/,
    );
    expect(
      planEnrolment(
        { ...none, replace: true, device, serverUrl: 'https://h.example', token },
        null,
        'x',
      ),
    ).toEqual({ serverUrl: 'https://h.example', token, replaces: { deviceId: device } });
  });

  it('refuses --device naming another device than the stored one, and --device alone', () => {
    const other = '8d7b2a30-7a0d-4d64-9f44-5c3b9f0e2b11';
    expect(() => planEnrolment({ ...none, replace: true, device: other }, credential, 'x')).toThrow(
      EnrolRefused,
    );
    expect(() => planEnrolment({ ...none, device: other }, null, 'x')).toThrow(
      /--device goes with --replace/,
    );
  });
});
