import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProbeError, type CommandOutput, type RunOptions } from '../../../../agent/core/runner.ts';
import { CredentialError } from '../../../../agent/core/secrets/secret-store.ts';
import { WindowsSecretStore } from '../../../../agent/core/secrets/windows.ts';
import { sampleCredential } from './sample-credential.ts';

const script = await readFile(
  new URL('../../../../agent/core/secrets/windows-dpapi.ps1', import.meta.url),
  'utf8',
);

interface Call {
  command: string;
  args: readonly string[];
  options: RunOptions;
  /** For icacls: the size of the file at the moment its ACL was set. */
  sizeAtAcl?: number;
}

// Stands in for DPAPI: a reversible transform with a marker, so a test can tell a protected
// blob from plain text. The real Protect/Unprotect cannot run here (no Windows).
const MARK = Buffer.from('FAKE-DPAPI:');
const fakeProtect = (plain: Buffer) => Buffer.concat([MARK, Buffer.from(plain).reverse()]);
const fakeUnprotect = (blob: Buffer) => {
  if (!blob.subarray(0, MARK.length).equals(MARK)) {
    throw new Error('Key not valid for use in specified state.');
  }
  return Buffer.from(blob.subarray(MARK.length)).reverse();
};

function json(value: unknown, exitCode = 0): CommandOutput {
  // Windows PowerShell prints a BOM before UTF-8 output.
  return { stdout: `\uFEFF${JSON.stringify(value)}\r\n`, stderr: '', exitCode };
}

function fakeWindows(options: { icaclsExit?: number; powershell?: ProbeError } = {}) {
  const calls: Call[] = [];
  const run = async (command: string, args: readonly string[], runOptions: RunOptions) => {
    const call: Call = { command, args, options: runOptions };
    calls.push(call);
    if (command === 'icacls.exe') {
      call.sizeAtAcl = (await stat(args[0] ?? '')).size;
      return options.icaclsExit === undefined || options.icaclsExit === 0
        ? { stdout: 'processed file: x\r\nSuccessfully processed 1 files', stderr: '', exitCode: 0 }
        : { stdout: '', stderr: 'x: Access is denied.', exitCode: options.icaclsExit };
    }
    if (command === 'powershell.exe') {
      if (options.powershell !== undefined) {
        throw options.powershell;
      }
      const [operation, data] = (runOptions.input ?? '').split('\n');
      const payload = Buffer.from(data ?? '', 'base64');
      try {
        const out = operation === 'protect' ? fakeProtect(payload) : fakeUnprotect(payload);
        return json({ data: out.toString('base64'), error: null });
      } catch (error) {
        return json({ data: null, error: (error as Error).message }, 1);
      }
    }
    throw new ProbeError('command-missing', `${command} is not installed`);
  };
  return { run, calls };
}

describe('WindowsSecretStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hallpass-dpapi-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('reads null without running PowerShell when no blob is stored', async () => {
    const { run, calls } = fakeWindows();
    const store = new WindowsSecretStore({ stateDir: dir, run });
    expect(store.location).toBe(join(dir, 'device-credential.dpapi'));
    expect(await store.read()).toBeNull();
    expect(calls).toEqual([]);
  });

  it('protects with the shipped script, the secret on stdin only, and round-trips', async () => {
    const { run, calls } = fakeWindows();
    const store = new WindowsSecretStore({ stateDir: dir, run });
    const credential = sampleCredential();
    await store.write(credential);

    const protect = calls[0];
    expect(protect?.command).toBe('powershell.exe');
    expect(protect?.args.slice(0, 6)).toEqual([
      '-NoProfile',
      '-NonInteractive',
      '-NoLogo',
      '-ExecutionPolicy',
      'Bypass',
      '-EncodedCommand',
    ]);
    const encoded = protect?.args[6] ?? '';
    expect(Buffer.from(encoded, 'base64').toString('utf16le')).toBe(script);
    const plainBase64 = Buffer.from(JSON.stringify(credential)).toString('base64');
    expect(protect?.options.input).toBe(`protect\n${plainBase64}\n`);
    for (const call of calls) {
      expect(call.args.join(' ')).not.toContain(plainBase64.slice(0, 40));
      expect(call.args.join(' ')).not.toContain('PRIVATE KEY');
    }

    const blob = await readFile(store.location);
    expect(blob.toString('utf8')).not.toContain('PRIVATE KEY');
    expect(fakeUnprotect(blob).toString('utf8')).toBe(JSON.stringify(credential));
    expect(await readdir(dir)).toEqual(['device-credential.dpapi']);

    expect(await store.read()).toEqual(credential);
    const unprotect = calls.at(-1);
    expect(unprotect?.options.input).toBe(`unprotect\n${blob.toString('base64')}\n`);
  });

  it('locks the file to SYSTEM and Administrators by SID before any byte is written', async () => {
    const { run, calls } = fakeWindows();
    await new WindowsSecretStore({ stateDir: dir, run }).write(sampleCredential());
    const acl = calls.find((call) => call.command === 'icacls.exe');
    expect(acl?.args.slice(1)).toEqual([
      '/inheritance:r',
      '/grant:r',
      '*S-1-5-18:(F)',
      '*S-1-5-32-544:(F)',
    ]);
    expect(acl?.args[0]?.startsWith(join(dir, '.device-credential.dpapi.'))).toBe(true);
    expect(acl?.sizeAtAcl).toBe(0);
  });

  it('an icacls failure is a CredentialError; no temp file is left and the old blob stays', async () => {
    const good = fakeWindows();
    const credential = sampleCredential();
    await new WindowsSecretStore({ stateDir: dir, run: good.run }).write(credential);
    const { run } = fakeWindows({ icaclsExit: 5 });
    const store = new WindowsSecretStore({ stateDir: dir, run });
    await expect(store.write(sampleCredential())).rejects.toThrow(/Access is denied/);
    expect(await readdir(dir)).toEqual(['device-credential.dpapi']);
    expect(await store.read()).toEqual(credential);
  });

  it('a blob DPAPI cannot unprotect (another machine) asks for re-enrolment', async () => {
    const { run } = fakeWindows();
    const store = new WindowsSecretStore({ stateDir: dir, run });
    await writeFile(store.location, 'copied from a cloned image');
    await expect(store.read()).rejects.toThrow(CredentialError);
    await expect(store.read()).rejects.toThrow(
      /could not unprotect .*Key not valid for use in specified state.*Enrol the device again/,
    );
  });

  it('a blob that unprotects to garbage is a CredentialError', async () => {
    const { run } = fakeWindows();
    const store = new WindowsSecretStore({ stateDir: dir, run });
    await writeFile(store.location, fakeProtect(Buffer.from('{"schemaVersion":1}')));
    await expect(store.read()).rejects.toThrow(/invalid/);
  });

  it('PowerShell missing or timing out is a CredentialError, not a crash', async () => {
    const { run } = fakeWindows({ powershell: new ProbeError('timeout', 'too slow') });
    const store = new WindowsSecretStore({ stateDir: dir, run });
    await expect(store.write(sampleCredential())).rejects.toThrow(CredentialError);
    await writeFile(store.location, 'x');
    await expect(store.read()).rejects.toThrow(/cannot run PowerShell/);
  });

  it('output that is not the expected JSON is a CredentialError carrying stderr', async () => {
    const run = () =>
      Promise.resolve({ stdout: '', stderr: 'Add-Type : Cannot find path', exitCode: 1 });
    const store = new WindowsSecretStore({ stateDir: dir, run });
    await expect(store.write(sampleCredential())).rejects.toThrow(/Cannot find path/);
  });
});
