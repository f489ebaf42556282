import { chmod, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LinuxSecretStore } from '../../../../agent/core/secrets/linux.ts';
import { CredentialError } from '../../../../agent/core/secrets/secret-store.ts';
import { sampleCredential } from './sample-credential.ts';

describe('LinuxSecretStore', () => {
  let dir: string;
  let store: LinuxSecretStore;
  const uid = process.getuid?.() ?? 0;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hallpass-secrets-'));
    store = new LinuxSecretStore({ stateDir: dir });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('reads null when nothing is stored', async () => {
    expect(store.location).toBe(join(dir, 'device-credential.json'));
    expect(await store.read()).toBeNull();
  });

  it('round-trips a credential through a 0600 file and leaves no temp file behind', async () => {
    const credential = sampleCredential();
    await store.write(credential);
    expect(await store.read()).toEqual(credential);
    expect((await stat(store.location)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['device-credential.json']);
  });

  it('replaces an existing credential, keeping mode 0600', async () => {
    await store.write(sampleCredential());
    const second = sampleCredential({ deviceId: '0b5d2c4e-1111-4222-8333-944455566677' });
    await store.write(second);
    expect(await store.read()).toEqual(second);
    expect((await stat(store.location)).mode & 0o777).toBe(0o600);
  });

  it('creates a missing state directory, private to the service', async () => {
    const nested = new LinuxSecretStore({ stateDir: join(dir, 'var', 'lib', 'hallpass') });
    await nested.write(sampleCredential());
    expect((await stat(join(dir, 'var', 'lib', 'hallpass'))).mode & 0o777).toBe(0o700);
  });

  it.each([0o644, 0o640, 0o604, 0o660, 0o606])(
    'refuses a file with mode %o, naming the file and the chmod fix',
    async (mode) => {
      await store.write(sampleCredential());
      await chmod(store.location, mode);
      const read = store.read();
      await expect(read).rejects.toThrow(CredentialError);
      await expect(store.read()).rejects.toThrow(`chmod 600 ${store.location}`);
    },
  );

  it('refuses a file owned by another user than the service', async () => {
    await store.write(sampleCredential());
    const asOther = new LinuxSecretStore({ stateDir: dir, uid: uid + 1 });
    await expect(asOther.read()).rejects.toThrow(CredentialError);
    await expect(asOther.read()).rejects.toThrow(
      new RegExp(`owned by uid ${uid}, not by the service user \\(uid ${uid + 1}\\)`),
    );
  });

  it('refuses a symlink in place of the file instead of following it', async () => {
    const elsewhere = join(dir, 'elsewhere.json');
    await writeFile(elsewhere, JSON.stringify(sampleCredential()), { mode: 0o600 });
    await symlink(elsewhere, store.location);
    await expect(store.read()).rejects.toThrow(CredentialError);
  });

  it.each([
    ['not JSON', 'this is not json', /corrupt \(not JSON\)/],
    ['empty', '', /corrupt/],
    ['a JSON scalar', '42', /invalid/],
    ['a missing key', JSON.stringify({ ...sampleCredential(), deviceId: undefined }), /deviceId/],
    ['an unknown key', JSON.stringify({ ...sampleCredential(), extra: 1 }), /extra: unknown key/],
    [
      'a key that is not a key',
      JSON.stringify(sampleCredential({ privateKeyPem: 'x'.repeat(200) })),
      /no usable P-256 private key/,
    ],
  ])('a file holding %s is a CredentialError asking for re-enrolment', async (_name, text, why) => {
    await writeFile(store.location, text, { mode: 0o600 });
    await expect(store.read()).rejects.toThrow(CredentialError);
    await expect(store.read()).rejects.toThrow(why);
    await expect(store.read()).rejects.toThrow(/Enrol the device again/);
  });

  it('a key of another curve is refused', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    await writeFile(store.location, JSON.stringify(sampleCredential({ privateKeyPem: pem })), {
      mode: 0o600,
    });
    await expect(store.read()).rejects.toThrow(/no usable P-256 private key/);
  });

  it('refuses to write an invalid credential, leaving the old one in place', async () => {
    const good = sampleCredential();
    await store.write(good);
    await expect(store.write(sampleCredential({ deviceId: 'not-a-uuid' }))).rejects.toThrow(
      CredentialError,
    );
    expect(await store.read()).toEqual(good);
  });

  it('a write into an unwritable place is a CredentialError, not a crash', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const blocked = new LinuxSecretStore({ stateDir: join(file, 'sub') });
    await expect(blocked.write(sampleCredential())).rejects.toThrow(CredentialError);
  });
});
