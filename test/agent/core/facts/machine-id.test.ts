import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { hashMachineId, readMachineIdHash } from '../../../../agent/core/facts/machine-id.ts';

describe('hashMachineId', () => {
  // Test vectors computed once by an independent tool, OpenSSL 3.0 on Debian 12:
  //   printf '%s' <id> | openssl dgst -sha256 -hmac 'hallpass/machine-id/v1'
  it('hashes a Linux machine id with the Hallpass key, not plain SHA-256', () => {
    const id = '3d1219c7c4c5404aaa1f6d2a48adfda4';
    expect(hashMachineId('linux', id)).toEqual({
      ok: true,
      hash: '95f9fbda41b0e33019e6fdce50b4d902987672f58e2a9435c26987e350e52264',
    });
  });

  it('hashes a Windows GUID in lower case', () => {
    expect(hashMachineId('windows', '6F4A7E3B-1C2D-4E5F-8A9B-0C1D2E3F4A5B')).toEqual({
      ok: true,
      hash: '686fad774dba34df7112da09521aa8eb5037fdc0fe4e84fa69e0a2479ddb40e6',
    });
  });

  it.each<[Parameters<typeof hashMachineId>[0], string]>([
    ['windows', '6F4A7E3B-1C2D-4E5F-8A9B-0C1D2E3F4A5B'],
    ['darwin', '564D7F3A-2B1C-4D5E-9F8A-7B6C5D4E3F2A'],
  ])('accepts a %s GUID in any case', (os, id) => {
    expect(hashMachineId(os, id).ok).toBe(true);
    expect(hashMachineId(os, id)).toEqual(hashMachineId(os, id.toLowerCase()));
  });

  it.each<[string, string, RegExp]>([
    ['linux', '', /empty/],
    ['linux', 'lab-pc-07', /hostname fallback/],
    ['linux', '00000000000000000000000000000000', /zeros/],
    ['windows', '3d1219c7c4c5404aaa1f6d2a48adfda4', /not a windows machine id/],
  ])('refuses %s id %j', (os, id, reason) => {
    const result = hashMachineId(os as 'linux', id);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toMatch(reason);
  });
});

describe('readMachineIdHash on this machine', () => {
  it('hashes the id in /etc/machine-id (read independently here)', async () => {
    const id = (await readFile('/etc/machine-id', 'utf8').catch(() => '')).trim();
    const dbusId = (await readFile('/var/lib/dbus/machine-id', 'utf8').catch(() => '')).trim();
    // node-machine-id reads the D-Bus copy first. The oracle is the documented HMAC itself,
    // computed here with node:crypto, not the function under test.
    const raw = dbusId || id;
    const read = await readMachineIdHash('linux');
    if (/^[0-9a-f]{32}$/.test(raw)) {
      expect(read).toEqual({
        ok: true,
        hash: createHmac('sha256', 'hallpass/machine-id/v1').update(raw).digest('hex'),
      });
    } else {
      expect(read.ok).toBe(false);
    }
  });
});
