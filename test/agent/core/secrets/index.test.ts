import { describe, expect, it } from 'vitest';
import { DarwinSecretStore } from '../../../../agent/core/secrets/darwin.ts';
import { secretStoreFor } from '../../../../agent/core/secrets/index.ts';
import { LinuxSecretStore } from '../../../../agent/core/secrets/linux.ts';
import { WindowsSecretStore } from '../../../../agent/core/secrets/windows.ts';
import type { Runner } from '../../../../agent/core/runner.ts';

const run: Runner = () => Promise.reject(new Error('not expected'));

describe('secretStoreFor', () => {
  it.each([
    ['linux', LinuxSecretStore, '/var/lib/hallpass/device-credential.json'],
    ['windows', WindowsSecretStore, 'device-credential.dpapi'],
    ['darwin', DarwinSecretStore, '/Library/Keychains/System.keychain'],
  ] as const)('picks the %s store', (os, type, location) => {
    const store = secretStoreFor(os, { stateDir: '/var/lib/hallpass', run });
    expect(store).toBeInstanceOf(type);
    expect(store.location).toContain(location);
  });
});
