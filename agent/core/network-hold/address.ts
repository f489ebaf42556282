// Addresses as the Windows and macOS holds put them into firewall rules. A target reaches rule
// text (a PowerShell script, a pf ruleset) only through here: strictly an IPv4 or IPv6 address
// written with hex digits, dots and colons, never a zone (`fe80::1%eth0`), a name, a prefix or
// anything with a quote, a semicolon or a newline in it. Node's isIP alone is not enough: it
// accepts a zone, whose text is free.
import { isIP } from 'node:net';
import type { HoldTarget } from './network-hold.ts';

/** An address family and its value as a number (IPv4: 32 bits, IPv6: 128 bits). */
export interface Address {
  family: 4 | 6;
  value: bigint;
}

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const V6_CHARS = /^[0-9A-Fa-f:.]{2,45}$/;

/** The address `text` is, or null when it is anything else. */
export function parseAddress(text: string): Address | null {
  if (V4.test(text)) {
    return { family: 4, value: v4Value(text) };
  }
  if (!V6_CHARS.test(text) || isIP(text) !== 6) {
    return null;
  }
  const value = v6Value(text);
  // An IPv4-mapped address (::ffff:a.b.c.d) is the IPv4 host: that is the traffic to let through,
  // and pfctl would print it back dotted, not as the hex we would look for.
  if (value >> 32n === 0xffffn) {
    return { family: 4, value: value & 0xffffffffn };
  }
  return { family: 6, value };
}

function v4Value(text: string): bigint {
  return text.split('.').reduce((sum, part) => (sum << 8n) | BigInt(Number(part)), 0n);
}

function v6Value(text: string): bigint {
  // An embedded IPv4 tail (`::ffff:1.2.3.4`) becomes its two 16-bit groups first.
  let body = text;
  const tail = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail?.[1] !== undefined) {
    const v4 = v4Value(tail[1]);
    body = `${text.slice(0, -tail[1].length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = body.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups =
    rest === undefined
      ? left
      : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.reduce((sum, group) => (sum << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/** `address` written back: dotted quad, or eight uncompressed hex groups (both firewalls take these). */
export function formatAddress(address: Address): string {
  if (address.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((address.value >> shift) & 0xffn)).join('.');
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) {
    groups.push(((address.value >> shift) & 0xffffn).toString(16));
  }
  return groups.join(':');
}

/** `address` as RFC 5952 writes it (and inet_ntop, so pfctl prints it back the same way). */
export function shortAddress(address: Address): string {
  if (address.family === 4) {
    return formatAddress(address);
  }
  const groups = formatAddress(address).split(':');
  // The longest run of two or more zero groups (the first, on a tie) becomes `::`.
  let best = { at: -1, length: 0 };
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== '0') {
      i += 1;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') {
      j += 1;
    }
    if (j - i > best.length) {
      best = { at: i, length: j - i };
    }
    i = j;
  }
  if (best.length < 2) {
    return groups.join(':');
  }
  const head = groups.slice(0, best.at).join(':');
  const tail = groups.slice(best.at + best.length).join(':');
  return `${head}::${tail}`;
}

/** An inclusive range of one family. */
export interface AddressRange {
  family: 4 | 6;
  first: bigint;
  last: bigint;
}

const TOP: Record<4 | 6, bigint> = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };

/** Every address of `family` outside `kept` (ranges of that family), as ranges in order. */
export function complement(family: 4 | 6, kept: AddressRange[]): AddressRange[] {
  const sorted = kept
    .filter((range) => range.family === family)
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: AddressRange[] = [];
  let next = 0n;
  for (const range of sorted) {
    if (range.first > next) {
      out.push({ family, first: next, last: range.first - 1n });
    }
    if (range.last + 1n > next) {
      next = range.last + 1n;
    }
  }
  if (next <= TOP[family]) {
    out.push({ family, first: next, last: TOP[family] });
  }
  return out;
}

/** A range as Windows Firewall writes one: `a` or `a-b`. */
export function formatRange(range: AddressRange): string {
  const first = formatAddress({ family: range.family, value: range.first });
  return range.first === range.last
    ? first
    : `${first}-${formatAddress({ family: range.family, value: range.last })}`;
}

/** A checked target: its address parsed, its port 1–65535 or null. */
export interface CheckedTarget {
  address: Address;
  /** Uncompressed (`2001:db8:0:0:0:0:0:1`). */
  text: string;
  /** RFC 5952 (`2001:db8::1`). */
  short: string;
  port: number | null;
}

/** Checks every target; throws naming the first that is not an address and port. */
export function checkTargets(targets: HoldTarget[]): CheckedTarget[] {
  return targets.map((target) => {
    const address = typeof target.address === 'string' ? parseAddress(target.address) : null;
    const port = target.port;
    const portOk = port === null || (Number.isInteger(port) && port >= 1 && port <= 65535);
    if (address === null || !portOk) {
      throw new Error(`not an address and port a firewall can hold to: ${JSON.stringify(target)}`);
    }
    return { address, text: formatAddress(address), short: shortAddress(address), port };
  });
}
