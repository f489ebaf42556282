import { describe, expect, it } from 'vitest';
import {
  delayAfter,
  SIGN_IN_THROTTLE,
  throttleAddress,
  throttleKeys,
} from '../../../server/auth/login-limits.ts';
import { readCookie, SESSION_COOKIE, sessionCookie } from '../../../server/auth/sessions.ts';
import { hasNul } from '../../../server/routes/api/v1/ict/common.ts';
import { csvCell, devicesCsv } from '../../../server/routes/api/v1/ict/devices.ts';

describe('readCookie', () => {
  it.each([
    [undefined, null],
    ['', null],
    ['hallpass_session=abc', 'abc'],
    ['theme=dark; hallpass_session=abc; other=1', 'abc'],
    ['xhallpass_session=evil; hallpass_session=good', 'good'],
    ['hallpass_session=first; hallpass_session=second', 'first'],
    ['hallpass_session', null],
    ['=abc', null],
  ])('%j → %j', (header, expected) => {
    expect(readCookie(header, SESSION_COOKIE)).toBe(expected);
  });
});

describe('sessionCookie', () => {
  it('is HttpOnly, SameSite=Strict, Path=/, with the lifetime; Secure only over TLS', () => {
    expect(sessionCookie('v', { secure: false, maxAgeSeconds: 3600 })).toBe(
      'hallpass_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600',
    );
    expect(sessionCookie('v', { secure: true, maxAgeSeconds: 60 })).toBe(
      'hallpass_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure',
    );
  });

  it('clears the cookie with an empty value and Max-Age=0', () => {
    expect(sessionCookie(null, { secure: true, maxAgeSeconds: 3600 })).toBe(
      'hallpass_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure',
    );
  });
});

describe('sign-in throttle keys', () => {
  it('fold the username case, so Admin and admin share one count', () => {
    expect(throttleKeys('Admin', '192.0.2.1', null)).toEqual(
      throttleKeys('admin', '192.0.2.1', null),
    );
  });

  it('count an unknown browser against account+address, account and address; a known one against its cookie only', () => {
    expect(throttleKeys('ada', '192.0.2.1', null).map((k) => k.kind)).toEqual([
      'accountAddress',
      'account',
      'address',
    ]);
    expect(throttleKeys('ada', '192.0.2.1', 'abc')).toEqual([
      { kind: 'knownDevice', key: 'device:abc' },
    ]);
    // A username that looks like an address still gets its own key.
    const [, account] = throttleKeys('192.0.2.1', '192.0.2.1', null);
    const [, , address] = throttleKeys('x', '192.0.2.1', null);
    expect(account?.key).not.toBe(address?.key);
  });
});

describe('throttleAddress', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:0000:0000:0000:0001', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['2001:db8:1:2:3:4:192.0.2.1', '2001:db8:1:2::/64'],
    // Not addresses (a misconfigured proxy header, say): counted as they are, never merged.
    ['not-an-address', 'not-an-address'],
    ['1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8:9'],
    ['1::2::3', '1::2::3'],
  ])('%s → %s', (address, expected) => {
    expect(throttleAddress(address)).toBe(expected);
  });

  it('counts every address of one IPv6 /64 as one client', () => {
    expect(throttleKeys('ada', '2001:db8:1:2::1', null)).toEqual(
      throttleKeys('ada', '2001:db8:1:2:aaaa:bbbb:cccc:dddd', null),
    );
    expect(throttleKeys('ada', '2001:db8:1:2::1', null)).not.toEqual(
      throttleKeys('ada', '2001:db8:1:3::1', null),
    );
  });
});

describe('sign-in delays', () => {
  it('are none within the free allowance, then double from the first delay up to the cap', () => {
    const free = SIGN_IN_THROTTLE.free.accountAddress;
    const { firstDelaySeconds: first, maxDelaySeconds: max } = SIGN_IN_THROTTLE;
    expect(delayAfter('accountAddress', free - 1)).toBe(0);
    expect(delayAfter('accountAddress', free)).toBe(first);
    expect(delayAfter('accountAddress', free + 1)).toBe(2 * first);
    expect(delayAfter('accountAddress', free + 2)).toBe(4 * first);
    expect(delayAfter('accountAddress', free + 1000)).toBe(max);
  });

  it('keep one account to well under 100 failed attempts an hour (ASVS V2.2.1)', () => {
    // The most attempts any key allows in one window: the free ones, then one per delay.
    for (const kind of ['account', 'knownDevice'] as const) {
      let attempts = 0;
      let clock = 0;
      while (clock < SIGN_IN_THROTTLE.windowSeconds) {
        clock += delayAfter(kind, attempts);
        attempts++;
      }
      expect(attempts, kind).toBeLessThan(100);
    }
  });
});

describe('hasNul', () => {
  it.each([
    ['plain', false],
    ['a\u0000b', true],
    [{ a: ['x', { b: 'y\u0000' }] }, true],
    [{ 'k\u0000': 1 }, true],
    [{ a: [1, null, true] }, false],
  ])('%j → %s', (value, expected) => {
    expect(hasNul(value)).toBe(expected);
  });
});

describe('CSV', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['two\nlines', '"two\nlines"'],
    ['=1+1', "'=1+1"],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\t=1', "'\t=1"],
    ['=HYPERLINK("x","y")', `"'=HYPERLINK(""x"",""y"")"`],
    [null, ''],
    [true, 'true'],
  ])('%j → %s', (value, expected) => {
    expect(csvCell(value)).toBe(expected);
  });

  it('writes a header row and CRLF-terminated rows', () => {
    const text = devicesCsv([
      {
        id: '00000000-0000-4000-8000-000000000000',
        hostname: 'h',
        serial: null,
        os: 'Windows 11',
        school: 'S',
        group: 'G',
        overall: 'pass',
        lastSeenAt: '2026-01-01T00:00:00.000Z',
        lastReportAt: null,
        cloneSuspect: false,
      },
    ]);
    expect(text).toBe(
      'id,hostname,serial,os,school,group,overall,lastSeenAt,lastReportAt,cloneSuspect\r\n' +
        '00000000-0000-4000-8000-000000000000,h,,Windows 11,S,G,pass,2026-01-01T00:00:00.000Z,,false\r\n',
    );
  });
});
