import { describe, expect, it } from 'vitest';
import { addressKey, usernameKey } from '../../../server/auth/login-limits.ts';
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

describe('login failure keys', () => {
  it('fold the username case, so Admin and admin share one count', () => {
    expect(usernameKey('Admin')).toBe(usernameKey('admin'));
    expect(usernameKey('admin')).not.toBe(addressKey('admin'));
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
