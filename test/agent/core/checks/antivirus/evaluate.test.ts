import { describe, expect, it } from 'vitest';
import type { Policy } from '../../../../../shared/index.ts';
import { evaluate, signatureAgeDays } from '../../../../../agent/core/checks/antivirus/evaluate.ts';
import {
  product,
  type AntivirusFacts,
  type AntivirusProduct,
} from '../../../../../agent/core/checks/antivirus/facts.ts';
import type { OsName } from '../../../../../agent/core/platform.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';

const policy = await readDefaultPolicy(); // required: true, maxSignatureAgeDays: 7
const now = new Date('2024-06-10T12:00:00Z');
const facts = (
  products: AntivirusProduct[],
  over: Partial<AntivirusFacts> = {},
): AntivirusFacts => ({
  products,
  gatekeeper: null,
  errors: [],
  ...over,
});
const run = (input: AntivirusFacts, os: OsName = 'windows', rules: Policy = policy) =>
  evaluate(input, rules, { os, now });
const withRules = (required: boolean, maxSignatureAgeDays: number): Policy => ({
  ...policy,
  checks: { ...policy.checks, antivirus: { required, maxSignatureAgeDays } },
});

const defender = (over: Partial<AntivirusProduct> = {}) =>
  product('Microsoft Defender Antivirus', 'microsoft-defender', 'on', {
    signatureAgeDays: 1,
    ...over,
  });
const wsc = (name: string, state: AntivirusProduct['state'], outOfDate: boolean | null) =>
  product(name, 'windows-security-center', state, { signaturesOutOfDate: outOfDate });
const clam = (updated: string | null, state: AntivirusProduct['state'] = 'on') =>
  product('ClamAV', 'clamav', state, { signaturesUpdatedAt: updated });

describe('signature age', () => {
  it.each([
    [7, '2024-06-03T12:00:00Z', 7],
    [8, '2024-06-02T11:59:59Z', 8],
  ])('age %i days is within the limit of 7 only up to 7', (days, updated, expected) => {
    expect(signatureAgeDays(clam(updated), now)).toBe(expected);
    expect(run(facts([clam(updated)]), 'linux').status).toBe(days <= 7 ? 'pass' : 'fail');
  });

  it('takes the older of the reported age and the update date', () => {
    expect(
      signatureAgeDays(
        defender({ signatureAgeDays: 2, signaturesUpdatedAt: '2024-05-01T00:00:00Z' }),
        now,
      ),
    ).toBe(40);
  });

  it('a future date (clock skew) is age 0', () => {
    expect(signatureAgeDays(clam('2024-07-01T00:00:00+02:00'), now)).toBe(0);
  });

  it('a date without an offset is ignored', () => {
    expect(signatureAgeDays(clam('2024-06-10T00:00:00'), now)).toBeNull();
  });

  it('the threshold comes from the policy', () => {
    expect(
      run(facts([defender({ signatureAgeDays: 3 })]), 'windows', withRules(true, 2)).status,
    ).toBe('fail');
    expect(
      run(facts([defender({ signatureAgeDays: 3 })]), 'windows', withRules(true, 3)).status,
    ).toBe('pass');
  });
});

describe('evaluate', () => {
  it('pass: Defender on and current', () => {
    expect(run(facts([defender()]))).toEqual({
      status: 'pass',
      summary: 'Anti-virus (Microsoft Defender Antivirus) is on and up to date.',
    });
  });

  it('pass on a third-party product beside a disabled Defender', () => {
    const verdict = run(
      facts([wsc('Bitdefender Antivirus', 'on', false), wsc('Windows Defender', 'off', false)]),
    );
    expect(verdict).toMatchObject({
      status: 'pass',
      summary: 'Anti-virus (Bitdefender Antivirus) is on and up to date.',
    });
  });

  it('pass when any of several products is on and current', () => {
    const verdict = run(
      facts([wsc('Old Product', 'expired', true), wsc('Sentinel Agent', 'on', false)]),
    );
    expect(verdict.status).toBe('pass');
  });

  it('fail: on but Security Center says out of date', () => {
    const verdict = run(facts([wsc('Windows Defender', 'on', true)]));
    expect(verdict).toMatchObject({
      status: 'fail',
      summary: 'Windows Defender is on, but its virus definitions are out of date.',
    });
  });

  it('fail: Defender on with 904-day-old signatures', () => {
    const verdict = run(facts([defender({ signatureAgeDays: 904 })]));
    expect(verdict).toMatchObject({
      status: 'fail',
      summary: expect.stringContaining('(904 days old)') as unknown,
    });
  });

  it('fail: everything turned off, naming each product', () => {
    const verdict = run(
      facts([defender({ state: 'off' }), wsc('Sentinel Agent', 'snoozed', false)]),
    );
    expect(verdict).toMatchObject({
      status: 'fail',
      summary: 'Anti-virus is installed but not protecting this device.',
      remediation: expect.stringContaining('Sentinel Agent (snoozed)') as unknown,
    });
  });

  it('fail: Defender passive with no other product on', () => {
    expect(run(facts([defender({ state: 'passive' })])).status).toBe('fail');
  });

  it('fail: no product found by a working probe (ClamAV not installed)', () => {
    expect(run(facts([]), 'linux')).toMatchObject({
      status: 'fail',
      summary: 'No anti-virus found on this device.',
      remediation: expect.stringContaining('ClamAV') as unknown,
    });
  });

  it('fail: ClamAV installed with no database', () => {
    const verdict = run(
      facts([product('ClamAV', 'clamav', 'off', { signaturesOutOfDate: true })]),
      'linux',
    );
    expect(verdict.status).toBe('fail');
  });

  it('warn instead of fail when the policy does not require anti-virus', () => {
    expect(run(facts([]), 'linux', withRules(false, 7)).status).toBe('warn');
    expect(run(facts([defender()]), 'windows', withRules(false, 7)).status).toBe('pass');
  });

  describe('unknown is never pass', () => {
    it.each<[string, AntivirusFacts, OsName]>([
      [
        'no product list (Server, both sections failed)',
        facts([], { errors: ['Security Center: Invalid namespace'] }),
        'windows',
      ],
      [
        'Defender state unreadable, nothing else',
        facts([defender({ state: 'unknown' })]),
        'windows',
      ],
      ['on, but no signature age anywhere', facts([product('ClamAV', 'clamav', 'on')]), 'linux'],
      ['macOS, Gatekeeper unread', facts([product('XProtect', 'xprotect', 'on')]), 'darwin'],
      [
        'macOS, XProtect unread',
        facts([], { gatekeeper: 'enabled', errors: ['no XProtect version could be read'] }),
        'darwin',
      ],
    ])('%s', (_label, input, os) => {
      const verdict = run(input, os);
      expect(verdict.status).toBe('unknown');
      expect(run(input, os, withRules(false, 7)).status).toBe('unknown');
    });
  });

  it('macOS: XProtect with Gatekeeper on passes (XProtect has no signature age)', () => {
    const verdict = run(
      facts([product('XProtect', 'xprotect', 'on', { version: '5292' })], {
        gatekeeper: 'enabled',
      }),
      'darwin',
    );
    expect(verdict).toEqual({
      status: 'pass',
      summary: 'Anti-virus (XProtect) is on and up to date.',
    });
  });

  it('macOS: Gatekeeper off fails even with XProtect present', () => {
    const verdict = run(
      facts([product('XProtect', 'xprotect', 'on')], { gatekeeper: 'disabled' }),
      'darwin',
    );
    expect(verdict).toMatchObject({
      status: 'fail',
      summary: expect.stringContaining('Gatekeeper') as unknown,
    });
  });

  it('a fresh product wins over a stale one; a stale one over an undated one', () => {
    expect(
      run(facts([defender({ signatureAgeDays: 30 }), wsc('Sentinel Agent', 'on', false)])).status,
    ).toBe('pass');
    expect(
      run(facts([product('ClamAV', 'clamav', 'on'), defender({ signatureAgeDays: 30 })])).status,
    ).toBe('fail');
  });
});
