import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { darwinSessionActions, parseUid } from '../../../../../agent/core/aup/decline/darwin.ts';
import { linuxSessionActions } from '../../../../../agent/core/aup/decline/linux.ts';
import {
  parseSessionActionOutput,
  windowsSessionActions,
} from '../../../../../agent/core/aup/decline/windows.ts';
import { realHost } from '../../../../../agent/core/host.ts';
import { fakeHost } from '../../../../helpers/fake-host.ts';

const fixture = (path: string) =>
  readFile(new URL(`../../../../fixtures/${path}`, import.meta.url), 'utf8');
const ok = (stdout: string) => ({ stdout, stderr: '', exitCode: 0 });

const seat = await fixture('linux/console-user/constructed-show-seat-active.txt');
const session = await fixture('linux/console-user/constructed-show-session-user.txt');
const noSystemd = await fixture('linux/console-user/no-systemd-show-seat.stderr.txt');
// Recorded: test/fixtures/darwin/aup-decline/SOURCES.md.
const bootoutFailed = await fixture('darwin/aup-decline/launchctl-bootout-failed.stderr.txt');

describe('Linux: loginctl', () => {
  const loginctl =
    (verbExit = 0) =>
    (args: readonly string[]) => {
      if (args[0] === 'show-seat') {
        return ok(seat);
      }
      if (args[0] === 'show-session') {
        return ok(session);
      }
      return {
        stdout: '',
        stderr: verbExit === 0 ? '' : 'Failed to terminate session: Access denied',
        exitCode: verbExit,
      };
    };

  it.each([
    ['signOut', 'terminate-session'],
    ['lock', 'lock-session'],
  ] as const)(
    '%s runs loginctl %s on the console session of the user who declined',
    async (method, verb) => {
      const host = fakeHost({ commands: { loginctl: loginctl() } });
      expect(await linuxSessionActions(host.run)[method]('pupil.0042')).toBeNull();
      const sessionId = seat.trim();
      expect(host.calls.at(-1)).toEqual({ command: 'loginctl', args: [verb, sessionId] });
    },
  );

  it('does nothing when the console is now someone else’s', async () => {
    const host = fakeHost({ commands: { loginctl: loginctl() } });
    const error = await linuxSessionActions(host.run).signOut('someone.else');
    expect(error).toMatch(/no longer someone\.else's \(pupil\.0042 now\)/);
    expect(host.calls.map((c) => c.args[0])).not.toContain('terminate-session');
  });

  it('reports a refused action with loginctl’s words', async () => {
    const host = fakeHost({ commands: { loginctl: loginctl(1) } });
    expect(await linuxSessionActions(host.run).signOut('pupil.0042')).toMatch(
      /terminate-session .* failed \(exit 1\): Failed to terminate session: Access denied/,
    );
  });

  it('reports a missing loginctl rather than throwing', async () => {
    const host = fakeHost({ commands: {} });
    expect(await linuxSessionActions(host.run).lock('pupil.0042')).toMatch(/not installed/);
  });

  it('on this machine (no systemd as PID 1) the real loginctl refuses, and says why', async () => {
    const expected = noSystemd.split('\n')[0] ?? '';
    const error = await linuxSessionActions(realHost.run).signOut('pupil.0042');
    // On a machine with logind and nobody at seat0 the answer differs; either way it is a reason.
    expect(error).not.toBeNull();
    if (error?.includes('systemd')) {
      expect(error).toContain(expected);
    }
  });
});

describe('Windows: the Terminal Services API through windows-session.ps1', () => {
  // constructed: the shape windows-session.ps1 prints (ConvertTo-Json -Compress of its
  // ordered dictionary); no public recording of this project's own script exists.
  const cases: [string, string, string | RegExp | null][] = [
    ['done', '{"session":1,"user":"SCHOOL\\\\24jsmith","done":true,"error":null}', null],
    ['with a BOM before it', '\ufeff{"session":1,"user":"A","done":true,"error":null}\r\n', null],
    [
      'the user changed',
      '{"session":2,"user":"SCHOOL\\\\teacher","done":false,"error":"the console user has changed"}',
      'the console user has changed',
    ],
    [
      'a Win32 error',
      '{"session":1,"user":"A","done":false,"error":"the Terminal Services call failed with Win32 error 5"}',
      /Win32 error 5/,
    ],
    [
      'done false without a reason',
      '{"session":1,"user":"A","done":false,"error":null}',
      /did not report success/,
    ],
    ['not JSON', 'Add-Type : Cannot add type.', /unexpected answer/],
    ['another shape', '{"session":1,"done":"yes"}', /unexpected answer/],
  ];
  it.each(cases)('%s', (_name, output, expected) => {
    const answer = parseSessionActionOutput(output);
    if (expected === null) {
      expect(answer).toBeNull();
    } else {
      expect(answer).toMatch(expected);
    }
  });

  it('passes the action and the user in the environment, never in the script', async () => {
    const seen: Record<string, string>[] = [];
    const host = fakeHost({ commands: {} });
    const actions = windowsSessionActions({
      ...host,
      run: (command, args, options) => {
        seen.push(options.env ?? {});
        expect(command).toBe('powershell.exe');
        expect(args.join(' ')).not.toContain('jsmith');
        return Promise.resolve(ok('{"session":1,"user":"S\\\\jsmith","done":true,"error":null}'));
      },
    });
    expect(await actions.lock("S\\jsmith'; Remove-Item C:\\ -Recurse; '")).toBeNull();
    expect(seen[0]).toEqual({
      HALLPASS_AUP_ACTION: 'lock',
      HALLPASS_AUP_USER: "S\\jsmith'; Remove-Item C:\\ -Recurse; '",
    });
  });
});

describe('macOS: launchctl', () => {
  it.each([
    ['501\n', 501],
    ['  502  ', 502],
    ['id: nobody: no such user', null],
    ['', null],
  ])('parses id -u output %j', (raw, uid) => {
    expect(parseUid(raw)).toBe(uid);
  });

  it.each([
    ['signOut', ['bootout', 'gui/501']],
    ['lock', ['asuser', '501', '/usr/bin/pmset', 'displaysleepnow']],
  ] as const)('%s runs launchctl %j', async (method, args) => {
    const host = fakeHost({ commands: { id: ok('501\n'), launchctl: ok('') } });
    expect(await darwinSessionActions(host)[method]('jsmith')).toBeNull();
    expect(host.calls).toEqual([
      { command: 'id', args: ['-u', '--', 'jsmith'] },
      { command: 'launchctl', args },
    ]);
  });

  it('refuses a name that could be an option, and root', async () => {
    const host = fakeHost({ commands: { id: ok('0\n'), launchctl: ok('') } });
    expect(await darwinSessionActions(host).signOut('-x')).toMatch(/not a macOS short name/);
    expect(await darwinSessionActions(host).signOut('root')).toMatch(/gave no user id/);
    expect(host.calls.map((c) => c.command)).not.toContain('launchctl');
  });

  it('reports launchctl’s refusal in its own words (recorded)', async () => {
    const host = fakeHost({
      commands: {
        id: ok('501\n'),
        launchctl: { stdout: '', stderr: bootoutFailed, exitCode: 5 },
      },
    });
    expect(await darwinSessionActions(host).signOut('jsmith')).toMatch(/exit 5.*Boot-out failed/);
  });
});
