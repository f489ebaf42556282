import { describe, expect, it } from 'vitest';
import { firewallCheck } from '../../../../../agent/core/checks/firewall/index.ts';
import {
  parse,
  parseIptables,
  parseNft,
  parseUfw,
  type LinuxRaw,
} from '../../../../../agent/core/checks/firewall/linux.ts';
import { runCheck } from '../../../../../agent/core/checks/run-checks.ts';
import { readDefaultPolicy } from '../../../../../agent/core/policy/policy-file.ts';
import { fakeHost, fixture, ok } from './fixtures.ts';

const none: LinuxRaw = { nft: null, iptables: null, ufw: null, firewalld: null };

describe('nft -j list ruleset (recorded on nftables 1.0.6)', () => {
  const cases: [string, 'on' | 'off', string][] = [
    ['nft-empty.json', 'off', 'no input filter chain (0 objects)'],
    ['nft-debian-default-conf.json', 'off', '1 input chain(s), none drops by default'],
    ['nft-arch-default-conf.json', 'on', 'inet filter input: policy drop'],
    ['nft-nixos-example.json', 'on', 'inet filter input: unconditional drop'],
  ];
  it.each(cases)('%s → %s', (name, state, detail) => {
    expect(parseNft(ok(fixture('linux', name)))).toEqual({
      name: 'nftables',
      state,
      detail,
      reason: null,
    });
  });

  it('is unknown when nft is refused or prints something else', () => {
    const refused = {
      stdout: '',
      stderr: 'Operation not permitted (you must be root)',
      exitCode: 1,
    };
    expect(parseNft(refused)).toMatchObject({ state: 'unknown', reason: 'permission-denied' });
    expect(parseNft(ok(fixture('linux', 'ufw-status-active.txt')))).toMatchObject({
      state: 'unknown',
      reason: 'unrecognised-output',
    });
    expect(parseNft(ok('{"nftables": []}'))).toMatchObject({ state: 'unknown' });
  });
});

describe('ufw status and iptables -S (published outputs)', () => {
  it('reads active and inactive ufw', () => {
    expect(parseUfw(ok(fixture('linux', 'ufw-status-active.txt')))).toMatchObject({ state: 'on' });
    expect(parseUfw(ok(fixture('linux', 'ufw-status-inactive.txt')))).toMatchObject({
      state: 'off',
    });
  });

  it('does not guess at retyped ufw output', () => {
    expect(parseUfw(ok(fixture('linux', 'ufw-status-retyped.txt')))).toMatchObject({
      state: 'unknown',
      reason: 'unrecognised-output',
    });
  });

  it('reads the INPUT DROP policy ufw sets', () => {
    expect(parseIptables(ok(fixture('linux', 'iptables-S-ufw-truncated.txt')))).toEqual({
      name: 'iptables',
      state: 'on',
      detail: '-P INPUT DROP',
      reason: null,
    });
  });

  it('refuses text that is not iptables -S', () => {
    expect(parseIptables(ok(fixture('linux', 'ufw-status-inactive.txt')))).toMatchObject({
      state: 'unknown',
    });
  });
});

describe('linux parse combines the front ends', () => {
  it('an active ufw is enough', () => {
    const parsed = parse({ ...none, ufw: ok(fixture('linux', 'ufw-status-active.txt')) });
    expect(parsed).toMatchObject({ ok: true, facts: { rule: 'any' } });
    expect(parsed.ok && parsed.facts.components.map((c) => c.state)).toEqual(['on']);
  });

  it('an inactive ufw without a readable ruleset is not proof of "off"', () => {
    const parsed = parse({ ...none, ufw: ok(fixture('linux', 'ufw-status-inactive.txt')) });
    expect(parsed.ok && parsed.facts.components).toEqual([
      { name: 'ufw', state: 'off', detail: 'Status: inactive', reason: null },
      {
        name: 'ruleset',
        state: 'unknown',
        detail: 'neither nft nor iptables could read the ruleset',
        reason: 'command-missing',
      },
    ]);
  });

  it('an inactive ufw plus an empty nft ruleset is off', () => {
    const parsed = parse({
      ...none,
      nft: ok(fixture('linux', 'nft-empty.json')),
      ufw: ok(fixture('linux', 'ufw-status-inactive.txt')),
    });
    expect(parsed.ok && parsed.facts.components.map((c) => c.state)).toEqual(['off', 'off']);
  });
});

describe('linux firewall probe plumbing', () => {
  it('fails a machine whose only ruleset is empty, and passes with ufw on', async () => {
    const policy = await readDefaultPolicy();
    const empty = fakeHost({ nft: ok(fixture('linux', 'nft-empty.json')) });
    expect((await runCheck(firewallCheck, { os: 'linux', host: empty, policy })).status).toBe(
      'fail',
    );
    const withUfw = fakeHost({
      nft: ok(fixture('linux', 'nft-empty.json')),
      ufw: ok(fixture('linux', 'ufw-status-active.txt')),
    });
    expect((await runCheck(firewallCheck, { os: 'linux', host: withUfw, policy })).status).toBe(
      'pass',
    );
  });

  it('is unknown (command-missing) when no front end is installed', async () => {
    const result = await runCheck(firewallCheck, {
      os: 'linux',
      host: fakeHost({}),
      policy: await readDefaultPolicy(),
    });
    expect(result).toMatchObject({ status: 'unknown', reason: { code: 'command-missing' } });
  });

  it('is unknown (permission-denied) when nft refuses a non-root user', async () => {
    const host = fakeHost({
      nft: { stdout: '', stderr: 'Error: Operation not permitted', exitCode: 1 },
    });
    const result = await runCheck(firewallCheck, {
      os: 'linux',
      host,
      policy: await readDefaultPolicy(),
    });
    expect(result).toMatchObject({ status: 'unknown', reason: { code: 'permission-denied' } });
  });
});
