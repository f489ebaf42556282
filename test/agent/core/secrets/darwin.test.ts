import { describe, expect, it } from 'vitest';
import { DarwinSecretStore } from '../../../../agent/core/secrets/darwin.ts';
import { ProbeError, type CommandOutput, type RunOptions } from '../../../../agent/core/runner.ts';
import { CredentialError } from '../../../../agent/core/secrets/secret-store.ts';
import { sampleCredential } from './sample-credential.ts';

const KEYCHAIN = '/Library/Keychains/System.keychain';
// What security(1) prints for a missing item (exit 44 = errSecItemNotFound's low byte).
const NOT_FOUND: CommandOutput = {
  stdout: '',
  stderr:
    'security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.\n',
  exitCode: 44,
};

/** A System keychain that understands the two commands the store uses. */
function fakeKeychain(options: { dropWrites?: boolean; stored?: string } = {}) {
  const calls: { command: string; args: readonly string[]; options: RunOptions }[] = [];
  let stored = options.stored;
  const run = (command: string, args: readonly string[], runOptions: RunOptions) => {
    calls.push({ command, args, options: runOptions });
    if (command !== '/usr/bin/security') {
      return Promise.reject(new ProbeError('command-missing', `${command} is not installed`));
    }
    if (args[0] === '-i') {
      // Interactive mode: one command a line from stdin, whitespace-separated words.
      const words = (runOptions.input ?? '').trim().split(/\s+/);
      const at = words.indexOf('-w');
      if (words[0] === 'add-generic-password' && words.at(-1) === KEYCHAIN && !options.dropWrites) {
        stored = words[at + 1];
      }
      return Promise.resolve({ stdout: 'security> security> ', stderr: '', exitCode: 0 });
    }
    if (args[0] === 'find-generic-password') {
      return Promise.resolve(
        stored === undefined ? NOT_FOUND : { stdout: `${stored}\n`, stderr: '', exitCode: 0 },
      );
    }
    return Promise.resolve({ stdout: '', stderr: 'unknown command', exitCode: 1 });
  };
  return { run, calls };
}

describe('DarwinSecretStore', () => {
  it('reads null when the System keychain has no item', async () => {
    const { run, calls } = fakeKeychain();
    const store = new DarwinSecretStore({ run });
    expect(await store.read()).toBeNull();
    expect(calls).toEqual([
      {
        command: '/usr/bin/security',
        args: [
          'find-generic-password',
          '-s',
          'hallpass',
          '-a',
          'device-credential',
          '-w',
          KEYCHAIN,
        ],
        options: { timeoutMs: 30_000 },
      },
    ]);
  });

  it('writes through `security -i` with the secret on stdin, never in the arguments', async () => {
    const { run, calls } = fakeKeychain();
    const store = new DarwinSecretStore({ run });
    const credential = sampleCredential();
    await store.write(credential);
    const value = Buffer.from(JSON.stringify(credential)).toString('base64');
    expect(calls[0]?.args).toEqual(['-i']);
    expect(calls[0]?.options.input).toBe(
      `add-generic-password -U -s hallpass -a device-credential -w ${value} ${KEYCHAIN}\n`,
    );
    for (const call of calls) {
      expect(call.args.join(' ')).not.toContain(value.slice(0, 40));
    }
    // The write is confirmed by reading the item back.
    expect(calls[1]?.args[0]).toBe('find-generic-password');
    expect(await store.read()).toEqual(credential);
  });

  it('a write that security silently dropped is a CredentialError', async () => {
    const { run } = fakeKeychain({ dropWrites: true });
    await expect(new DarwinSecretStore({ run }).write(sampleCredential())).rejects.toThrow(
      /was not stored/,
    );
  });

  it('refuses a credential too long for one `security -i` line instead of cutting it', async () => {
    const { run, calls } = fakeKeychain();
    const long = sampleCredential({
      serverUrl: `https://hallpass.example.org/${'a'.repeat(1900)}`,
    });
    await expect(new DarwinSecretStore({ run }).write(long)).rejects.toThrow(/too long/);
    expect(calls).toEqual([]);
  });

  it('a write over an existing item replaces it (-U)', async () => {
    const old = Buffer.from(JSON.stringify(sampleCredential())).toString('base64');
    const { run } = fakeKeychain({ stored: old });
    const store = new DarwinSecretStore({ run });
    const fresh = sampleCredential({ deviceId: '0b5d2c4e-1111-4222-8333-944455566677' });
    await store.write(fresh);
    expect(await store.read()).toEqual(fresh);
  });

  it.each([
    ['not base64', 'not base64 at all!'],
    ['base64 of garbage', Buffer.from('garbage').toString('base64')],
    ['a hex dump (security prints non-text data as hex)', '7b22736368656d61'],
  ])('an item holding %s is a CredentialError asking for re-enrolment', async (_name, stored) => {
    const { run } = fakeKeychain({ stored });
    await expect(new DarwinSecretStore({ run }).read()).rejects.toThrow(CredentialError);
    await expect(new DarwinSecretStore({ run }).read()).rejects.toThrow(/Enrol the device again/);
  });

  it('a keychain that refuses (not root) is a CredentialError naming the cause', async () => {
    const run = () =>
      Promise.resolve({
        stdout: '',
        stderr: 'security: SecKeychainSearchCopyNext: User interaction is not allowed.\n',
        exitCode: 36,
      });
    const store = new DarwinSecretStore({ run });
    await expect(store.read()).rejects.toThrow(/User interaction is not allowed.*run as root/);
  });

  it('a missing security tool is a CredentialError', async () => {
    const run = () =>
      Promise.reject(new ProbeError('command-missing', 'security is not installed'));
    await expect(new DarwinSecretStore({ run }).read()).rejects.toThrow(CredentialError);
  });
});
