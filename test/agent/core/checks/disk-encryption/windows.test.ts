import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diskEncryptionCheck } from '../../../../../agent/core/checks/disk-encryption/index.ts';
import { parse } from '../../../../../agent/core/checks/disk-encryption/windows.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import { fakeHost } from '../../../../helpers/fake-host.ts';

const fixture = (name: string): string =>
  readFileSync(
    new URL(`../../../../fixtures/windows/disk-encryption/${name}`, import.meta.url),
    'utf8',
  );

const good = [
  ['fully-encrypted-ms-learn.json', 'encrypted', 100, ['Tpm', 'RecoveryPassword']],
  ['fully-encrypted-german-locale.json', 'encrypted', 100, ['Tpm', 'RecoveryPassword']],
  ['fully-decrypted-zh-cn.json', 'not-encrypted', 0, []],
  ['waiting-for-activation-tr.json', 'not-activated', 100, []],
  ['encryption-in-progress.json', 'encrypting-unprotected', 99, ['RecoveryPassword', 'Tpm']],
  ['encrypting-no-protector-preprovisioned-dell.json', 'encrypting-unprotected', null, []],
  ['suspended-numerical-password-win11.json', 'suspended', 100, ['RecoveryPassword']],
  // Windows' UI called this one "waiting for activation"; with a protector present the probe's
  // numbers read as suspended. Both fail, which is what matters.
  ['protection-off-tpm-only.json', 'suspended', 100, ['Tpm']],
] as const;

describe('windows parse (recorded outputs)', () => {
  it.each(good)('%s → %s', (name, state, percent, protectors) => {
    const parsed = parse(fixture(name));
    expect(parsed).toEqual({
      ok: true,
      facts: expect.objectContaining({
        technology: 'BitLocker',
        volume: 'C:',
        state,
        percentEncrypted: percent,
        protectors: [...protectors],
        swap: null,
      }) as unknown,
    });
  });

  it.each(['cmdlet-json-not-probe-shape.txt', 'error-text-zh-cn.txt'])(
    '%s is unrecognised, not a pass',
    (name) => {
      const parsed = parse(fixture(name));
      expect(parsed.ok).toBe(false);
      expect(parsed.ok ? null : parsed.code).toBe('unrecognised-output');
    },
  );

  // CONSTRUCTED: a recovery password in the documented shape (eight groups of six digits, each
  // a multiple of 11), not a real key. Each input below really contains it, so the test can fail.
  const password = '123453-234564-345675-456786-567897-678909-789019-890120';
  const probeJson = JSON.parse(fixture('fully-encrypted-ms-learn.json')) as Record<string, unknown>;
  const withPassword: [string, string][] = [
    // The probe's JSON with an extra key, as if the script were changed to print protectors.
    ['an extra key', JSON.stringify({ recoveryPassword: password, ...probeJson })],
    // Off-shape JSON (one field wrong) with the password early, inside the quoted 300 characters.
    [
      'an off-shape object',
      JSON.stringify({ recoveryPassword: password, ...probeJson, volumeStatus: 'FullyEncrypted' }),
    ],
    // The cmdlet's own JSON (published sample) with its password put back.
    [
      "the cmdlet's own JSON",
      fixture('cmdlet-json-not-probe-shape.txt').replace('REDACTED', password),
    ],
    ['the error field', JSON.stringify({ ...probeJson, error: `manage-bde said ${password}` })],
    ['plain text', `Numerical Password:\n  Password:\n    ${password}\n`],
  ];

  it.each(withPassword)('never copies a recovery password from %s', async (_name, stdout) => {
    expect(stdout).toContain(password);
    const parsed = parse(stdout);
    expect(JSON.stringify(parsed)).not.toContain(password.slice(0, 13));
    const result = await runCheck(diskEncryptionCheck, {
      os: 'windows',
      host: fakeHost({
        commands: { 'powershell.exe': { stdout, stderr: '', exitCode: 0 } },
        now: new Date('2025-01-01T00:00:00Z'),
      }),
      policy: await readDefaultPolicy(),
    });
    expect(JSON.stringify(result)).not.toMatch(/\d{6}-\d{6}/);
  });
});

describe('windows parse (the probe reports its own failure)', () => {
  it('turns the script error field into unknown with its reason', () => {
    const raw = JSON.stringify({
      source: null,
      mountPoint: 'C:',
      volumeStatus: null,
      protectionStatus: null,
      encryptionPercentage: null,
      encryptionMethod: null,
      keyProtectorTypes: [],
      error: 'Get-BitLockerVolume: Access denied | Win32_EncryptableVolume: Access denied',
      errorKind: 'permission-denied',
    });
    expect(parse(raw)).toMatchObject({ ok: false, code: 'permission-denied' });
  });

  it('rejects empty output and out-of-range enums', () => {
    expect(parse('').ok).toBe(false);
    const shifted = fixture('fully-encrypted-ms-learn.json').replace(
      '"volumeStatus":1',
      '"volumeStatus":9',
    );
    expect(parse(shifted).ok).toBe(false);
  });
});

describe('windows probe plumbing', () => {
  const now = new Date('2025-01-01T00:00:00Z');

  it('a missing powershell.exe is unknown command-missing', async () => {
    const result = await runCheck(diskEncryptionCheck, {
      os: 'windows',
      host: fakeHost({ now }),
      policy: await readDefaultPolicy(),
    });
    expect(result.status).toBe('unknown');
    expect(result.reason?.code).toBe('command-missing');
  });

  it.each(['suspended-numerical-password-win11.json', 'protection-off-tpm-only.json'])(
    '%s: encrypted with protection off fails',
    async (name) => {
      const host = fakeHost({
        commands: { 'powershell.exe': { stdout: fixture(name), stderr: '', exitCode: 0 } },
        now,
      });
      const result = await runCheck(diskEncryptionCheck, {
        os: 'windows',
        host,
        policy: await readDefaultPolicy(),
      });
      expect(result.status).toBe('fail');
      expect(result.evidence).toMatchObject({ state: 'suspended' });
    },
  );

  it('a pre-provisioned drive mid-encryption with no protector fails and says why', async () => {
    const host = fakeHost({
      commands: {
        'powershell.exe': {
          stdout: fixture('encrypting-no-protector-preprovisioned-dell.json'),
          stderr: '',
          exitCode: 0,
        },
      },
      now,
    });
    const result = await runCheck(diskEncryptionCheck, {
      os: 'windows',
      host,
      policy: await readDefaultPolicy(),
    });
    expect(result).toMatchObject({
      status: 'fail',
      evidence: { state: 'encrypting-unprotected', protectors: [] },
    });
    expect(result.remediation).toContain('no key protector');
  });

  it('encryption-in-progress.json: 99% encrypted with protection off fails, with the progress', async () => {
    const host = fakeHost({
      commands: {
        'powershell.exe': {
          stdout: fixture('encryption-in-progress.json'),
          stderr: '',
          exitCode: 0,
        },
      },
      now,
    });
    const result = await runCheck(diskEncryptionCheck, {
      os: 'windows',
      host,
      policy: await readDefaultPolicy(),
    });
    expect(result).toMatchObject({ status: 'fail', evidence: { state: 'encrypting-unprotected' } });
    expect(result.summary).toContain('99% done');
  });

  it('sends the shipped script and parses its answer', async () => {
    const stdout = fixture('fully-encrypted-ms-learn.json');
    const host = fakeHost({
      commands: { 'powershell.exe': { stdout, stderr: '', exitCode: 0 } },
      now,
    });
    const result = await runCheck(diskEncryptionCheck, {
      os: 'windows',
      host,
      policy: await readDefaultPolicy(),
    });
    expect(result.status).toBe('pass');
    const encoded = host.calls[0]?.args.at(-1) ?? '';
    expect(Buffer.from(encoded, 'base64').toString('utf16le')).toContain(
      'Get-BitLockerVolume -MountPoint $env:SystemDrive',
    );
  });
});
