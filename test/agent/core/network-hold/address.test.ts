// Addresses are the only target text that reaches a PowerShell script or a pf ruleset, so the
// reader must refuse everything else, and the complement (what the Windows hold blocks) must be
// exact at the edges of each address space.
import { describe, expect, it } from 'vitest';
import {
  checkTargets,
  complement,
  formatAddress,
  formatRange,
  parseAddress,
  shortAddress,
} from '../../../../agent/core/network-hold/address.ts';

describe('parseAddress', () => {
  it.each([
    ['10.0.0.5', '10.0.0.5', '10.0.0.5'],
    ['0.0.0.0', '0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255', '255.255.255.255'],
    ['2001:db8::1', '2001:db8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:DB8::1', '2001:db8:0:0:0:0:0:1', '2001:db8::1'],
    ['::1', '0:0:0:0:0:0:0:1', '::1'],
    ['::', '0:0:0:0:0:0:0:0', '::'],
    ['fe80::', 'fe80:0:0:0:0:0:0:0', 'fe80::'],
    ['::ffff:192.0.2.1', '192.0.2.1', '192.0.2.1'],
    ['::ffff:c000:201', '192.0.2.1', '192.0.2.1'],
    ['::fffe:c000:201', '0:0:0:0:0:fffe:c000:201', '::fffe:c000:201'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
  ])('%s is %s (RFC 5952: %s)', (text, full, short) => {
    const address = parseAddress(text);
    expect(address).not.toBeNull();
    if (address !== null) {
      expect(formatAddress(address)).toBe(full);
      expect(shortAddress(address)).toBe(short);
    }
  });

  it.each([
    "10.0.0.5'; Remove-NetFirewallRule -All; '",
    '10.0.0.5;reboot',
    '10.0.0.5\nblock drop all',
    '10.0.0.5 ',
    ' 10.0.0.5',
    '"10.0.0.5"',
    '$(calc)',
    'fe80::1%eth0',
    "fe80::1%a'b",
    'fe80::1%0;x',
    '10.0.0.0/8',
    '10.0.0.1-10.0.0.9',
    '010.0.0.5',
    '256.0.0.1',
    '1.2.3',
    'mis.trust.example',
    'any',
    '',
    '1::2::3',
    '::ffff:1.2.3.4\u0000',
  ])('refuses %j', (text) => {
    expect(parseAddress(text)).toBeNull();
  });
});

describe('complement', () => {
  const v4 = (text: string) => parseAddress(text)?.value ?? -1n;

  it('is everything when nothing is kept', () => {
    expect(complement(4, []).map(formatRange)).toEqual(['0.0.0.0-255.255.255.255']);
  });

  it('leaves out kept ranges exactly, merging overlaps, at both edges', () => {
    const kept = [
      { family: 4 as const, first: v4('0.0.0.0'), last: v4('0.0.0.0') },
      { family: 4 as const, first: v4('10.0.0.5'), last: v4('10.0.0.5') },
      { family: 4 as const, first: v4('10.0.0.5'), last: v4('10.0.0.7') },
      { family: 4 as const, first: v4('10.0.0.9'), last: v4('10.0.0.9') },
      { family: 4 as const, first: v4('255.255.255.255'), last: v4('255.255.255.255') },
      { family: 6 as const, first: 1n, last: 1n },
    ];
    expect(complement(4, kept).map(formatRange)).toEqual([
      '0.0.0.1-10.0.0.4',
      '10.0.0.8',
      '10.0.0.10-255.255.255.254',
    ]);
    expect(complement(6, kept).map(formatRange)).toEqual([
      '0:0:0:0:0:0:0:0',
      '0:0:0:0:0:0:0:2-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ]);
  });
});

describe('checkTargets', () => {
  it('keeps addresses and ports and refuses the rest by name', () => {
    expect(checkTargets([{ address: '10.0.0.5', port: 443 }])[0]?.text).toBe('10.0.0.5');
    for (const bad of [
      { address: '10.0.0.5', port: 0 },
      { address: '10.0.0.5', port: 65536 },
      { address: '10.0.0.5', port: 44.5 },
      { address: 'evil;host', port: 443 },
    ]) {
      expect(() => checkTargets([bad])).toThrow(/not an address and port a firewall can hold to/);
    }
  });
});
