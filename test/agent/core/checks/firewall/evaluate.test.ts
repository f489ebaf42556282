import { describe, expect, it } from 'vitest';
import type { Policy } from '../../../../../shared/index.ts';
import { evaluate } from '../../../../../agent/core/checks/firewall/evaluate.ts';
import type {
  FirewallFacts,
  FirewallComponent,
} from '../../../../../agent/core/checks/firewall/facts.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';

const now = new Date('2026-09-01T08:00:00Z');
const part = (name: string, state: FirewallComponent['state']): FirewallComponent => ({
  name,
  state,
  detail: 'test',
  reason: state === 'unknown' ? 'permission-denied' : null,
});
const windows = (domain: FirewallComponent['state'], publicState = domain): FirewallFacts => ({
  rule: 'all',
  components: [part('Domain', domain), part('Private', 'on'), part('Public', publicState)],
});
const notRequired = (policy: Policy): Policy => ({
  ...policy,
  checks: { ...policy.checks, firewall: { required: false } },
});

describe('firewall evaluator', () => {
  it('passes when every Windows profile is on', async () => {
    const verdict = evaluate(windows('on'), await readDefaultPolicy(), { os: 'windows', now });
    expect(verdict).toEqual({
      status: 'pass',
      summary: "This computer's firewall is switched on.",
    });
  });

  it('fails a disabled Public profile and names it', async () => {
    const verdict = evaluate(windows('on', 'off'), await readDefaultPolicy(), {
      os: 'windows',
      now,
    });
    expect(verdict.status).toBe('fail');
    expect(verdict.summary).toBe(
      "This computer's firewall is switched off for the Public network profile.",
    );
    expect(verdict.remediation).toContain('Set-NetFirewallProfile');
  });

  it('fails a disabled Domain profile too: all three must be on', async () => {
    const verdict = evaluate(windows('off', 'on'), await readDefaultPolicy(), {
      os: 'windows',
      now,
    });
    expect(verdict.status).toBe('fail');
  });

  it('an off profile decides even when another is unknown', async () => {
    const facts: FirewallFacts = {
      rule: 'all',
      components: [part('Domain', 'unknown'), part('Private', 'on'), part('Public', 'off')],
    };
    expect(evaluate(facts, await readDefaultPolicy(), { os: 'windows', now }).status).toBe('fail');
  });

  it('is unknown, never pass, when a required firewall cannot be read', async () => {
    const policy = await readDefaultPolicy();
    const verdict = evaluate(windows('unknown'), policy, { os: 'windows', now });
    expect(verdict).toMatchObject({
      status: 'unknown',
      summary: 'Could not tell whether the firewall is switched on: Domain: test',
      reason: { code: 'permission-denied', detail: 'Domain: test' },
    });
    const linux: FirewallFacts = {
      rule: 'any',
      components: [part('ufw', 'off'), part('ruleset', 'unknown')],
    };
    expect(evaluate(linux, policy, { os: 'linux', now }).status).toBe('unknown');
    const empty: FirewallFacts = { rule: 'any', components: [] };
    expect(evaluate(empty, policy, { os: 'linux', now })).toMatchObject({
      status: 'unknown',
      reason: { code: 'not-measured' },
    });
  });

  it('on Linux one active front end is enough, and all off is a fail', async () => {
    const policy = await readDefaultPolicy();
    const on: FirewallFacts = {
      rule: 'any',
      components: [part('nftables', 'off'), part('ufw', 'on')],
    };
    expect(evaluate(on, policy, { os: 'linux', now }).status).toBe('pass');
    const off: FirewallFacts = {
      rule: 'any',
      components: [part('nftables', 'off'), part('ufw', 'off')],
    };
    const verdict = evaluate(off, policy, { os: 'linux', now });
    expect(verdict).toMatchObject({
      status: 'fail',
      summary: "This computer's firewall is switched off.",
    });
    expect(verdict.remediation).toContain('ufw enable');
  });

  it('passes with an honest summary when the policy does not require a firewall', async () => {
    const policy = notRequired(await readDefaultPolicy());
    const off: FirewallFacts = { rule: 'any', components: [part('Application Firewall', 'off')] };
    expect(evaluate(off, policy, { os: 'darwin', now })).toEqual({
      status: 'pass',
      summary: 'A firewall is not required on this computer (it is off).',
    });
    expect(evaluate(windows('unknown'), policy, { os: 'windows', now }).summary).toBe(
      'A firewall is not required on this computer (its state could not be read).',
    );
  });
});
