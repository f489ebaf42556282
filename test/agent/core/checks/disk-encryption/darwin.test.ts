import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from '../../../../../agent/core/checks/disk-encryption/darwin.ts';
import { diskEncryptionCheck } from '../../../../../agent/core/checks/disk-encryption/index.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import { fakeHost } from '../../../../helpers/fake-host.ts';

const stdout = (name: string) => ({
  stdout: readFileSync(
    new URL(`../../../../fixtures/darwin/disk-encryption/${name}`, import.meta.url),
    'utf8',
  ),
  stderr: '',
  exitCode: 0,
});

describe('darwin parse (recorded outputs)', () => {
  it.each([
    ['on-master-keychain-10.15.6.txt', 'encrypted', 100, null],
    ['on-apfs-data-volume.txt', 'encrypted', 100, null],
    ['off-26.2-security-audit.txt', 'not-encrypted', null, null],
    ['off-26.5.2-arm64-runner.txt', 'not-encrypted', null, null],
    ['deferred-enablement-13.2.1.txt', 'pending-restart', null, 'deferred enablement is active'],
  ] as const)('%s → %s', (name, state, percent, detail) => {
    expect(parse(stdout(name))).toEqual({
      ok: true,
      facts: expect.objectContaining({
        technology: 'FileVault',
        state,
        percentEncrypted: percent,
        detail,
      }) as unknown,
    });
  });

  it('off-needs-restart-10.12-beta.txt: a headline it does not know is unrecognised', () => {
    // macOS 10.12 beta printed "FileVault is Off, but needs to be restarted to finish." (not in
    // fdesetup(8)), and the reporter's deferred line has no final full stop: unknown, never a pass.
    const parsed = parse(stdout('off-needs-restart-10.12-beta.txt'));
    expect(parsed).toMatchObject({ ok: false, code: 'unrecognised-output' });
    expect(parsed.ok ? '' : parsed.detail).toContain('needs to be restarted to finish');
  });

  it('fails closed on empty output with the stderr as reason', () => {
    const parsed = parse({ stdout: '', stderr: 'fdesetup: command failed', exitCode: 1 });
    expect(parsed).toMatchObject({ ok: false, code: 'unrecognised-output' });
    expect(parsed.ok ? '' : parsed.detail).toContain('command failed');
  });

  it('fails closed on a line it does not know, even beside a real headline', () => {
    const withPrefix = stdout('on-master-keychain-10.15.6.txt');
    withPrefix.stdout = `2024-01-01 12:00:00 ${withPrefix.stdout}`;
    expect(parse(withPrefix).ok).toBe(false);
  });
});

describe('darwin probe plumbing', () => {
  it('a missing fdesetup is unknown command-missing', async () => {
    const host = fakeHost({ now: new Date('2025-01-01T00:00:00Z') });
    const result = await runCheck(diskEncryptionCheck, {
      os: 'darwin',
      host,
      policy: await readDefaultPolicy(),
    });
    expect(result).toMatchObject({ status: 'unknown', reason: { code: 'command-missing' } });
  });
});
