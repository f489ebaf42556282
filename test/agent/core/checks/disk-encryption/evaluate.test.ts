import { describe, expect, it } from 'vitest';
import { evaluate } from '../../../../../agent/core/checks/disk-encryption/evaluate.ts';
import type {
  DiskEncryptionFacts,
  EncryptionState,
} from '../../../../../agent/core/checks/disk-encryption/facts.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import type { Policy } from '../../../../../shared/index.ts';

const base = await readDefaultPolicy();
const context = { os: 'linux' as const, now: new Date('2025-01-01T00:00:00Z') };

function policy(required: boolean, requireSwapEncrypted = false): Policy {
  return {
    ...base,
    checks: { ...base.checks, diskEncryption: { required, requireSwapEncrypted } },
  };
}

function facts(
  state: EncryptionState,
  extra: Partial<DiskEncryptionFacts> = {},
): DiskEncryptionFacts {
  return {
    technology: 'BitLocker',
    volume: 'C:',
    state,
    percentEncrypted: null,
    method: null,
    protectors: [],
    stack: [],
    swap: null,
    partial: [],
    detail: null,
    ...extra,
  };
}

describe('evaluate, encryption required', () => {
  it.each([
    ['encrypted', 'pass'],
    ['encrypting', 'warn'],
    ['encrypting-unprotected', 'fail'],
    ['decrypting', 'fail'],
    ['suspended', 'fail'],
    ['not-activated', 'fail'],
    ['pending-restart', 'fail'],
    ['not-encrypted', 'fail'],
    ['undetermined', 'unknown'],
  ] as const)('%s → %s', (state, status) => {
    const verdict = evaluate(facts(state), policy(true), context);
    expect(verdict.status).toBe(status);
    expect(verdict.summary).not.toBe('');
    if (status !== 'pass') {
      expect(verdict.remediation).toBeTruthy();
    }
  });

  it('says how far encryption has got', () => {
    expect(
      evaluate(facts('encrypting', { percentEncrypted: 99 }), policy(true), context).summary,
    ).toContain('99% done');
  });

  it('tells suspended and never-activated BitLocker apart', () => {
    const suspended = evaluate(facts('suspended', { protectors: ['Tpm'] }), policy(true), context);
    const waiting = evaluate(facts('not-activated'), policy(true), context);
    expect(suspended.summary).toContain('suspended');
    expect(suspended.remediation).toContain('Resume-BitLocker');
    expect(waiting.summary).toContain('not been switched on');
    expect(waiting.remediation).toContain('TpmProtector');
  });

  it('calls home-only encryption partial and fails it', () => {
    const verdict = evaluate(
      facts('not-encrypted', { technology: 'dm-crypt', partial: ['/home'] }),
      policy(true),
      context,
    );
    expect(verdict.status).toBe('fail');
    expect(verdict.summary).toContain('partial');
  });

  it('undetermined is unknown with a reason, never a pass', () => {
    const verdict = evaluate(
      facts('undetermined', { detail: 'cannot tell what kind of crypt device x is' }),
      policy(true),
      context,
    );
    expect(verdict).toMatchObject({
      status: 'unknown',
      summary:
        "Could not tell whether this computer's disk is encrypted: cannot tell what kind of crypt device x is",
      reason: { code: 'unrecognised-output', detail: 'cannot tell what kind of crypt device x is' },
    });
  });

  it('encrypting with protection off fails and says how far it has got', () => {
    const verdict = evaluate(
      facts('encrypting-unprotected', { percentEncrypted: 3.5, protectors: ['Tpm'] }),
      policy(true),
      context,
    );
    expect(verdict.status).toBe('fail');
    expect(verdict.summary).toContain('3.5% done');
    expect(verdict.summary).toContain('not protected');
    expect(verdict.remediation).toContain('Resume-BitLocker');
  });

  it('encrypting with protection on warns and says how far it has got', () => {
    const verdict = evaluate(
      facts('encrypting', { percentEncrypted: 3.5, protectors: ['Tpm'] }),
      policy(true),
      context,
    );
    expect(verdict).toMatchObject({ status: 'warn' });
    expect(verdict.summary).toContain('3.5% done');
  });
});

describe('evaluate, swap (Linux)', () => {
  const linux = (swapState: 'encrypted' | 'not-encrypted' | 'undetermined' | 'not-disk') =>
    facts('encrypted', {
      technology: 'dm-crypt',
      volume: '/dev/mapper/root',
      swap: [{ device: '/dev/sda3', kind: 'partition', state: swapState }],
    });

  it('ignores swap unless the policy asks for it', () => {
    expect(evaluate(linux('not-encrypted'), policy(true, false), context).status).toBe('pass');
  });

  it.each([
    ['encrypted', 'pass'],
    ['not-disk', 'pass'],
    ['not-encrypted', 'fail'],
    ['undetermined', 'unknown'],
  ] as const)('swap %s → %s when required', (swapState, status) => {
    expect(evaluate(linux(swapState), policy(true, true), context).status).toBe(status);
  });
});

describe('evaluate, encryption not required', () => {
  it.each([
    ['encrypted', 'pass'],
    ['encrypting', 'pass'],
    ['not-encrypted', 'warn'],
    ['suspended', 'warn'],
    ['undetermined', 'unknown'],
  ] as const)('%s → %s', (state, status) => {
    const verdict = evaluate(facts(state), policy(false), context);
    expect(verdict.status).toBe(status);
  });

  it('is honest that the disk is not encrypted', () => {
    expect(evaluate(facts('not-encrypted'), policy(false), context).summary).toMatch(
      /not encrypted.*does not require/,
    );
  });
});
