// The Windows peer proof's parsing, on `Get-Acl | Format-List` outputs recorded from public
// sources (test/fixtures/windows/ipc-peer/README.md): the owner comes from the SDDL as a SID,
// whatever language the account names are in; anything else is refused with a reason.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  countHardLinks,
  parseAclOwner,
  splitProofOutput,
  windowsProofVerdict,
} from '../../../../agent/core/ipc-peer/windows.ts';

const fixture = (name: string) =>
  readFile(new URL(`../../../fixtures/windows/ipc-peer/${name}`, import.meta.url), 'utf8');

describe('parseAclOwner', () => {
  it('reads a user owner as its SID, from the SDDL wrapped over two lines', async () => {
    expect(parseAclOwner(await fixture('get-acl-user-file.txt'))).toEqual({
      sid: 'S-1-5-21-1971769256-327852233-3012798916-1000',
    });
  });

  it('reads the Administrators alias as its SID', async () => {
    expect(parseAclOwner(await fixture('get-acl-administrators-file.txt'))).toEqual({
      sid: 'S-1-5-32-544',
    });
  });

  it('is not fooled by localised account names', async () => {
    expect(parseAclOwner(await fixture('get-acl-swedish-folder.txt'))).toEqual({
      sid: 'S-1-5-21-4132158795-2060570990-1823972835-1001',
    });
  });

  it('refuses output without an SDDL, and an owner alias it does not know', async () => {
    expect(parseAclOwner(await fixture('constructed-get-acl-no-sddl.txt'))).toEqual({
      problem: 'Get-Acl printed no Sddl line',
    });
    expect(parseAclOwner('Sddl   : O:WDG:SYD:(A;;FA;;;WD)\n')).toEqual({
      problem: 'an owner alias this service does not know: WD',
    });
    expect(parseAclOwner('Sddl   : G:SYD:(A;;FA;;;WD)\n')).toMatchObject({
      problem: expect.stringContaining('names no owner') as unknown,
    });
  });
});

describe('windowsProofVerdict', () => {
  const issuedAt = Date.parse('2026-12-05T09:00:00Z');
  const proof = async (over: Partial<Record<'attributes' | 'created' | 'links', string>>) => {
    const text = [
      '=====',
      `Attributes: ${over.attributes ?? 'Archive'}`,
      `CreationTimeUtc: ${over.created ?? '2026-12-05T09:00:00.2000000Z'}`,
      '=====',
      await fixture('get-acl-user-file.txt'),
      '=====',
      over.links ?? '\\ProgramData\\Hallpass\\peers\\0123456789abcdef0123456789abcdef\n',
    ].join('\n');
    const parts = splitProofOutput(text);
    expect(parts).not.toBeNull();
    return parts === null ? null : windowsProofVerdict(parts, issuedAt);
  };

  it('proves the owner of a plain file with one name, made after the challenge', async () => {
    expect(await proof({})).toEqual({
      ok: true,
      id: 'S-1-5-21-1971769256-327852233-3012798916-1000',
      privileged: false,
    });
  });

  it('refuses a link, a second name, a folder, and a file older than the challenge', async () => {
    expect(await proof({ attributes: 'Archive, ReparsePoint' })).toMatchObject({ ok: false });
    expect(
      await proof({ links: '\\ProgramData\\Hallpass\\peers\\x\n\\Users\\teacher\\notes.txt\n' }),
    ).toMatchObject({ ok: false, reason: expect.stringContaining('2 names') as unknown });
    expect(await proof({ attributes: 'Directory' })).toMatchObject({ ok: false });
    expect(await proof({ created: '2026-12-05T08:00:00.0000000Z' })).toEqual({
      ok: false,
      reason: 'the proof file is older than the challenge',
    });
  });

  it('refuses output without its markers', () => {
    expect(splitProofOutput('Attributes: Archive\n')).toBeNull();
    expect(countHardLinks('\r\n')).toBe(0);
  });
});
