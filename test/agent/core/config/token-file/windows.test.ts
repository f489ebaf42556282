import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AgentConfigError,
  loadAgentConfig,
} from '../../../../../agent/core/config/agent-config.ts';
import {
  aclScript,
  assertWindowsTokenFileAccess,
  parseRights,
  parseSddl,
  tokenFileAclProblem,
} from '../../../../../agent/core/config/token-file/windows.ts';
import { realHost, type Host } from '../../../../../agent/core/host.ts';
import type { CommandOutput, Runner } from '../../../../../agent/core/runner.ts';

const fixture = (name: string): string =>
  readFileSync(
    new URL(`../../../../fixtures/windows/token-file-acl/${name}.sddl`, import.meta.url),
    'utf8',
  ).trim();

const problemOf = (sddl: string) => tokenFileAclProblem(parseSddl(sddl));

describe('token file ACL on recorded Get-Acl SDDL', () => {
  it.each([
    ['k8s-projected-volume-ca-crt', /^BU is allowed access 0x1200a9/],
    ['siddaway-c-test-folder', /owned by S-1-5-21-2502823385-1436278615-3517788930-1001/],
    ['puppet-programdata-protected', null],
    ['constructed-hallpass-installer', null],
    ['constructed-deny-and-inherit-only', null],
  ])('%s', (name, expected) => {
    const problem = problemOf(fixture(name));
    if (expected === null) {
      expect(problem).toBeNull();
    } else {
      expect(problem).toMatch(expected);
    }
  });

  it('names Authenticated Users when they are the ones who may change it', () => {
    // siddaway-c-test-folder's DACL under an Administrators owner: the user-owned part aside.
    const dacl = fixture('siddaway-c-test-folder').replace(/^O:\S+?D:/, 'O:BAG:SYD:');
    expect(problemOf(dacl.replace('(A;OICIID;0x1200a9;;;BU)', ''))).toMatch(/^AU is allowed/);
  });
});

describe('token file ACL, hostile and unknown descriptors fail closed', () => {
  it.each([
    ['no DACL at all', 'O:BAG:SY', /no access list/],
    ['a NULL DACL', 'O:BAG:SYD:NO_ACCESS_CONTROL', /no access list/],
    ['no owner', 'D:PAI(A;;FA;;;SY)', /owned by nobody known/],
    ['Everyone read', 'O:SYG:SYD:PAI(A;;FA;;;SY)(A;;FR;;;WD)', /^WD is allowed/],
    ['a user may change the ACL', 'O:SYG:SYD:PAI(A;;FA;;;SY)(A;;WD;;;BU)', /^BU is allowed/],
    ['generic read by SID', 'O:SYG:SYD:(A;;GR;;;S-1-5-32-545)', /^S-1-5-32-545 is allowed/],
    ['an object ACE', 'O:SYG:SYD:(OA;;FA;;;BU)', /not understood here \(OA/],
    ['a callback ACE', 'O:SYG:SYD:(XA;;FA;;;BU;(x))', /not understood/],
    [
      'text between entries',
      'O:SYG:SYD:PAI(A;;FA;;;SY)x(A;;FA;;;BU)',
      /not understood: unreadable DACL/,
    ],
  ])('%s', (_name, sddl, expected) => {
    let problem: string | null;
    try {
      problem = problemOf(sddl);
    } catch (error) {
      problem = `not understood: ${(error as Error).message}`;
    }
    expect(problem).toMatch(expected);
  });

  it('lets others read only the ACL itself, timestamps and SYNCHRONIZE', () => {
    expect(problemOf('O:SYG:SYD:PAI(A;;FA;;;SY)(A;;0x120080;;;BU)')).toBeNull();
    expect(problemOf('O:SYG:SYD:PAI(A;;FA;;;SY)(A;;0x120081;;;BU)')).toMatch(/BU/);
  });

  it('reads right codes, hex and decimal, and refuses codes it does not know', () => {
    expect(parseRights('FA')).toBe(0x1f01ff);
    expect(parseRights('SDGXGWGR')).toBe((0x10000 | 0x20000000 | 0x40000000 | 0x80000000) >>> 0);
    expect(parseRights('0x1200a9')).toBe(0x1200a9);
    expect(parseRights('1179817')).toBe(0x1200a9);
    expect(parseRights('ZZ')).toBeNull();
    expect(parseRights('F')).toBeNull();
  });
});

describe('token file ACL through PowerShell (recorded output replayed)', () => {
  const replay = (stdout: string, calls: string[][] = []): Host => {
    const run: Runner = (command, args) => {
      calls.push([command, ...args]);
      const out: CommandOutput = { stdout, stderr: '', exitCode: 0 };
      return Promise.resolve(out);
    };
    return { ...realHost, run };
  };
  const path = 'C:\\ProgramData\\Hallpass\\agent.json';

  it('accepts a protected SYSTEM and Administrators ACL', async () => {
    const calls: string[][] = [];
    const stdout = `\ufeff${JSON.stringify({ Sddl: fixture('puppet-programdata-protected') })}\r\n`;
    await expect(assertWindowsTokenFileAccess(replay(stdout, calls), path)).resolves.toBe(
      undefined,
    );
    const encoded = calls[0]?.at(-1) ?? '';
    expect(Buffer.from(encoded, 'base64').toString('utf16le')).toContain(
      `Get-Acl -LiteralPath '${path}'`,
    );
  });

  it('refuses to start on the inherited ProgramData ACL, saying how to fix it', async () => {
    const stdout = JSON.stringify({ Sddl: fixture('k8s-projected-volume-ca-crt') });
    await expect(assertWindowsTokenFileAccess(replay(stdout), path)).rejects.toThrow(
      /holds the enrolment token but BU is allowed .*refusing to start\. Fix: icacls/,
    );
  });

  it('refuses when PowerShell printed no ACL', async () => {
    await expect(assertWindowsTokenFileAccess(replay(''), path)).rejects.toThrow(
      /could not be read/,
    );
  });

  it('will not quote a path that could end the PowerShell string', () => {
    expect(() => aclScript("C:\\x'; Remove-Item C:\\ -Recurse; '")).toThrow(AgentConfigError);
    expect(() => aclScript('C:\\x\u2019y')).toThrow(AgentConfigError);
    expect(() => aclScript('C:\\x\ny')).toThrow(AgentConfigError);
  });

  it('is asked by loadAgentConfig on Windows only when the file holds a token', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hallpass-winacl-'));
    try {
      const configFile = join(dir, 'agent.json');
      const asked: string[] = [];
      const checkWindowsTokenFile = (file: string) => {
        asked.push(file);
        return Promise.reject(new AgentConfigError(`${file}: refused`));
      };
      await writeFile(configFile, JSON.stringify({ serverUrl: 'https://h.example' }));
      await loadAgentConfig({
        os: 'windows',
        configFile,
        managed: {},
        overrides: {},
        checkWindowsTokenFile,
      });
      expect(asked).toEqual([]);
      await writeFile(configFile, JSON.stringify({ enrolmentToken: 't'.repeat(32) }));
      await expect(
        loadAgentConfig({
          os: 'windows',
          configFile,
          managed: {},
          overrides: {},
          checkWindowsTokenFile,
        }),
      ).rejects.toThrow(/refused/);
      expect(asked).toEqual([configFile]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
