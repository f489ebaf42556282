import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  darwinConsoleUser,
  groupsAllNamed,
  parseIdGroups,
  parseScutilConsoleUser,
} from '../../../../agent/core/console-user/darwin.ts';
import { ProbeError } from '../../../../agent/core/runner.ts';
import { fakeHost } from '../../../helpers/fake-host.ts';

const fixture = (name: string) =>
  readFile(new URL(`../../../fixtures/darwin/console-user/${name}`, import.meta.url), 'utf8');
const ok = (stdout: string, exitCode = 0) => ({ stdout, stderr: '', exitCode });

describe('parseScutilConsoleUser', () => {
  it('reads the top-level Name, not the session keys', async () => {
    expect(parseScutilConsoleUser(await fixture('scutil-console-user-erikberglund.txt'))).toBe(
      'erikberglund',
    );
  });

  it('the login window and a missing key are nobody', async () => {
    expect(parseScutilConsoleUser(await fixture('constructed-scutil-loginwindow.txt'))).toBe(null);
    expect(parseScutilConsoleUser('  No such key\n')).toBe(null);
  });

  it.each([
    ['not scutil output', 'scutil: command not found'],
    ['two names', '<dictionary> {\n  Name : a\n  Name : b\n}'],
    ['no name', '<dictionary> {\n  UID : 501\n}'],
    ['an option as a name', '<dictionary> {\n  Name : -Gn\n}'],
    ['a terminal escape', '<dictionary> {\n  Name : a\u001b[2Jb\n}'],
  ])('%s is refused, never guessed', (_, raw) => {
    expect(() => parseScutilConsoleUser(raw)).toThrow(ProbeError);
  });
});

describe('parseIdGroups', () => {
  it.each(['id-gn-ci-runner.txt', 'id-gn-david.txt'])('reads %s', async (name) => {
    const groups = parseIdGroups(await fixture(name));
    expect(groups.slice(0, 5)).toEqual([
      'staff',
      'everyone',
      'localaccounts',
      '_appserverusr',
      'admin',
    ]);
    expect(groups).toContain('com.apple.access_ssh');
  });

  it('empty output is refused', () => {
    expect(() => parseIdGroups('')).toThrow(ProbeError);
  });
});

describe('groupsAllNamed', () => {
  it.each(['id-gn-ci-runner.txt', 'id-gn-david.txt'])(
    'every group of %s is named',
    async (name) => {
      expect(groupsAllNamed(parseIdGroups(await fixture(name)))).toBe(true);
    },
  );

  it('a group id could only print as its number is not named: the list is incomplete', async () => {
    // BSD id prints a group getgrgid cannot name as its number (a directory group, offline).
    const line = (await fixture('id-gn-david.txt')).trim() + ' 1594193470\n';
    expect(groupsAllNamed(parseIdGroups(line))).toBe(false);
  });
});

describe('darwinConsoleUser', () => {
  it('asks scutil through stdin, then id -Gn for that user', async () => {
    const host = fakeHost({
      commands: {
        scutil: ok(await fixture('scutil-console-user-erikberglund.txt')),
        id: ok(await fixture('id-gn-david.txt')),
      },
    });
    const user = await darwinConsoleUser(host).current();
    expect(user?.name).toBe('erikberglund');
    expect(user?.groups).toContain('admin');
    expect(user?.groupsComplete).toBe(true);
    expect(host.calls).toEqual([
      { command: 'scutil', args: [] },
      { command: 'id', args: ['-Gn', 'erikberglund'] },
    ]);
  });

  it('nobody at the console: no id call', async () => {
    const host = fakeHost({
      commands: { scutil: ok(await fixture('constructed-scutil-loginwindow.txt')) },
    });
    expect(await darwinConsoleUser(host).current()).toBe(null);
    expect(host.calls).toHaveLength(1);
  });
});
