import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { hashMachineId, readMachineIdHash } from '../../../../agent/core/facts/machine-id.ts';

describe('hashMachineId', () => {
  it('hashes a Linux machine id with the Hallpass key, not plain SHA-256', () => {
    const id = '3d1219c7c4c5404aaa1f6d2a48adfda4';
    const result = hashMachineId('linux', id);
    expect(result).toEqual({
      ok: true,
      hash: createHmac('sha256', 'hallpass/machine-id/v1').update(id).digest('hex'),
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
    const expected = hashMachineId('linux', dbusId || id);
    expect(await readMachineIdHash('linux')).toEqual(expected);
    // This machine has a real machine id, so the hash must be present.
    expect(expected.ok).toBe(/^[0-9a-f]{32}$/.test(dbusId || id));
  });
});
