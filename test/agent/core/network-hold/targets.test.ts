// What a held device may still reach: allowlist entries read, the server's URL read, names
// resolved (a real resolver on this host for `localhost`), and the nftables script built from
// them refusing anything that is not an address.
import { lookup } from 'node:dns/promises';
import { describe, expect, it } from 'vitest';
import { holdScript } from '../../../../agent/core/network-hold/nft-script.ts';
import {
  parseHoldEntry,
  resolveHoldTargets,
  serverEntry,
} from '../../../../agent/core/network-hold/targets.ts';

describe('parseHoldEntry', () => {
  it.each([
    ['mis.trust.example', { host: 'mis.trust.example', port: null }],
    ['mis.trust.example:8443', { host: 'mis.trust.example', port: 8443 }],
    ['10.1.2.3', { host: '10.1.2.3', port: null }],
    ['10.1.2.3:53', { host: '10.1.2.3', port: 53 }],
    ['[2001:db8::1]:443', { host: '2001:db8::1', port: 443 }],
    ['2001:db8::1', { host: '2001:db8::1', port: null }],
    ['host:0', null],
    ['host:70000', null],
    ['http://host/', null],
    ['host; drop table', null],
    ['', null],
  ])('%s', (entry, expected) => {
    expect(parseHoldEntry(entry)).toEqual(expected);
  });
});

describe('serverEntry', () => {
  it.each([
    ['https://hallpass.trust.example', { host: 'hallpass.trust.example', port: 443 }],
    ['http://10.0.0.5:8080/', { host: '10.0.0.5', port: 8080 }],
    ['https://[2001:db8::5]:9443', { host: '2001:db8::5', port: 9443 }],
    ['not a url', null],
  ])('%s', (url, expected) => {
    expect(serverEntry(url)).toEqual(expected);
  });
});

describe('resolveHoldTargets', () => {
  it('resolves names with the real resolver, keeps addresses, reports what does not resolve', async () => {
    const resolve = async (name: string) =>
      (await lookup(name, { all: true })).map((entry) => entry.address);
    const { targets, problems } = await resolveHoldTargets(
      [
        { host: 'localhost', port: 8443 },
        { host: '10.1.2.3', port: null },
        { host: '10.1.2.3', port: null },
        { host: 'no-such-host.invalid', port: 443 },
      ],
      resolve,
    );
    expect(targets).toContainEqual({ address: '127.0.0.1', port: 8443 });
    expect(targets.filter((t) => t.address === '10.1.2.3')).toEqual([
      { address: '10.1.2.3', port: null },
    ]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^no-such-host\.invalid: /);
  });
});

describe('holdScript', () => {
  it('opens loopback, DHCP, DNS, replies and the targets, then refuses the rest', () => {
    const script = holdScript([
      { address: '10.0.0.5', port: 443 },
      { address: '2001:db8::5', port: null },
    ]);
    expect(script[0]).toBe('add table inet hallpass_aup_hold { flags owner; }');
    expect(script).toContain(
      'add rule inet hallpass_aup_hold output ip daddr 10.0.0.5 meta l4proto { tcp, udp } th dport 443 accept',
    );
    expect(script).toContain('add rule inet hallpass_aup_hold output ip6 daddr 2001:db8::5 accept');
    expect(script).toContain(
      'add rule inet hallpass_aup_hold output meta l4proto { tcp, udp } th dport 53 accept',
    );
    expect(script.at(-1)).toBe('add rule inet hallpass_aup_hold output counter reject');
  });

  it.each([
    [{ address: 'evil.example; flush ruleset', port: null }],
    [{ address: '10.0.0.5', port: 0 }],
    [{ address: '10.0.0.5 accept', port: null }],
  ])('refuses %j: only addresses reach nft', (target) => {
    expect(() => holdScript([target])).toThrow(/not an address/);
  });
});
