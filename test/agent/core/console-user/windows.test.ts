import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  parseConsoleUser,
  windowsConsoleUser,
} from '../../../../agent/core/console-user/windows.ts';
import { ProbeError } from '../../../../agent/core/runner.ts';
import { fakeHost } from '../../../helpers/fake-host.ts';

const fixture = (name: string) =>
  readFile(new URL(`../../../fixtures/windows/console-user/${name}`, import.meta.url), 'utf8');

describe('parseConsoleUser', () => {
  it('a domain pupil with local and directory groups, each once', async () => {
    expect(parseConsoleUser(await fixture('constructed-pupil-domain.json'))).toEqual({
      name: 'HALLPASS\\pupil.0042',
      groups: ['Users', 'HALLPASS\\Domain Users', 'Everyone', 'HALLPASS\\Year 9', 'BUILTIN\\Users'],
      groupsComplete: true,
    });
  });

  it('nobody at the console', async () => {
    expect(parseConsoleUser(await fixture('constructed-sign-in-screen.json'))).toBe(null);
  });

  it('directory groups unreadable: the user with what was read, marked incomplete', async () => {
    expect(parseConsoleUser(await fixture('constructed-no-domain-controller.json'))).toMatchObject({
      groups: ['Administrators'],
      groupsComplete: false,
    });
  });

  it('an Entra ID account: local groups only, marked incomplete', async () => {
    expect(parseConsoleUser(await fixture('constructed-entra-user.json'))).toEqual({
      name: 'AzureAD\\JoSmith',
      groups: ['Users'],
      groupsComplete: false,
    });
  });

  it('the script failed: an error, not a user', async () => {
    const raw = await fixture('constructed-error.json');
    expect(() => parseConsoleUser(raw)).toThrow(/Access denied/);
  });

  it.each([
    '',
    'Zugriff verweigert',
    '{"user":"a"}',
    '{"user":"a\\u001b[2J","groups":[],"groupsComplete":true,"error":null}',
    '{"user":"A\\\\B\\\\C","groups":[],"groupsComplete":true,"error":null}',
  ])('refuses %j', (raw) => {
    expect(() => parseConsoleUser(raw)).toThrow(ProbeError);
  });
});

describe('windowsConsoleUser', () => {
  it('runs windows.ps1 and passes the completeness flag on', async () => {
    const host = fakeHost({
      commands: {
        'powershell.exe': {
          stdout: await fixture('constructed-pupil-domain.json'),
          stderr: '',
          exitCode: 0,
        },
      },
    });
    expect(await windowsConsoleUser(host).current()).toEqual({
      name: 'HALLPASS\\pupil.0042',
      groups: ['Users', 'HALLPASS\\Domain Users', 'Everyone', 'HALLPASS\\Year 9', 'BUILTIN\\Users'],
      groupsComplete: true,
    });
    expect(host.calls[0]?.args).toContain('-EncodedCommand');
  });

  it('no domain controller: the user with the groups read, marked incomplete', async () => {
    const host = fakeHost({
      commands: {
        'powershell.exe': {
          stdout: await fixture('constructed-no-domain-controller.json'),
          stderr: '',
          exitCode: 0,
        },
      },
    });
    expect(await windowsConsoleUser(host).current()).toEqual({
      name: 'HALLPASS\\teacher.7',
      groups: ['Administrators'],
      groupsComplete: false,
    });
  });
});
