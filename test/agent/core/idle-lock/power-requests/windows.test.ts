// `powercfg /requests` read from outputs people pasted publicly (test/fixtures/windows/
// power-requests/SOURCES.md), then hostile ones built here; the probe through a recorded Runner
// (never a stand-in for the parser). Anything not recognised must be unknown, never "no requests".
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { displayRequestSourceFor } from '../../../../../agent/core/idle-lock/power-requests/index.ts';
import {
  displayRequests,
  parsePowerRequests,
  windowsDisplayRequests,
} from '../../../../../agent/core/idle-lock/power-requests/windows.ts';
import { ProbeError, type Runner } from '../../../../../agent/core/runner.ts';

const fixture = (name: string) =>
  readFileSync(
    new URL(`../../../../fixtures/windows/power-requests/${name}`, import.meta.url),
    'utf8',
  );
const read = (text: string) => displayRequests(parsePowerRequests(text));
const crlf = (text: string) => text.replace(/\n/g, '\r\n');

/** A complete output with `display` as the DISPLAY section's lines. */
const output = (display: string[], execution: string[] = ['None.']) =>
  [
    'DISPLAY:',
    ...display,
    '',
    'SYSTEM:',
    'None.',
    '',
    'AWAYMODE:',
    'None.',
    '',
    'EXECUTION:',
    ...execution,
    '',
    'PERFBOOST:',
    'None.',
    '',
    'ACTIVELOCKSCREEN:',
    'None.',
    '',
  ].join('\r\n');

describe('parsePowerRequests on recorded outputs', () => {
  const table: [string, ReturnType<typeof read>][] = [
    ['autowall-mpv-display.txt', { known: true, held: true, holders: ['mpv.exe'] }],
    [
      'homeassistant-video-wake-lock.txt',
      { known: true, held: true, holders: ['Home Assistant Desktop.exe (Video Wake Lock)'] },
    ],
    ['powertoys-awake-22631.txt', { known: true, held: false, holders: [] }],
    ['nosleep-server-system.txt', { known: true, held: false, holders: [] }],
    ['powerrequestwrapper-system.txt', { known: true, held: false, holders: [] }],
    ['powerrequestwrapper-none.txt', { known: true, held: false, holders: [] }],
    ['mousocoreworker-execution.txt', { known: true, held: false, holders: [] }],
  ];
  it.each(table)('%s', (name, expected) => {
    expect(read(fixture(name))).toEqual(expected);
    // powercfg itself ends lines with CRLF; the forum copies have LF.
    expect(read(crlf(fixture(name)))).toEqual(expected);
  });

  it('keeps every entry and reason of every section', () => {
    const parsed = parsePowerRequests(fixture('homeassistant-video-wake-lock.txt'));
    expect(parsed.ok && parsed.sections.EXECUTION).toEqual([
      {
        kind: 'PROCESS',
        who: '\\Device\\HarddiskVolume3\\Users\\xxx\\AppData\\Local\\Programs\\homeassistant-desktop\\Home Assistant Desktop.exe',
        reason: 'WebRTC has active PeerConnections',
      },
    ]);
  });

  it('a localised output (Japanese Windows) is unknown, not read by position', () => {
    expect(read(fixture('powertoys-ja.txt'))).toEqual({
      known: false,
      reason: 'unrecognised line in AWAYMODE (a localised, wrapped or changed output?): なし。',
    });
    expect(read(fixture('constructed-de.txt'))).toEqual({
      known: false,
      reason: 'unrecognised section ANZEIGE: a localised or changed powercfg output',
    });
  });

  it('outputs cut off after DISPLAY are unknown, even though they list a display request', () => {
    for (const name of ['sengi-display-only.txt', 'keybase-display-only.txt']) {
      expect(read(fixture(name)), name).toEqual({
        known: false,
        reason: 'powercfg output ends after DISPLAY: cut off (no SYSTEM section)',
      });
    }
  });

  it('the refusal a non-administrator gets is unknown', () => {
    expect(read(fixture('not-administrator.txt'))).toEqual({
      known: false,
      reason:
        'powercfg output does not start with DISPLAY: This command requires administrator privileges and must be executed from an elevated command prompt.',
    });
  });
});

describe('parsePowerRequests on hostile outputs', () => {
  it('drivers are named as listed, programs by file name only (paths name users)', () => {
    expect(
      read(
        output([
          '[DRIVER] Razer Kiyo (USB\\VID_1532&PID_0E03&MI_02\\6&1a053f38&1&0002)',
          'An audio stream is currently in use.',
          '[DRIVER] Legacy Kernel Caller',
          '[SERVICE] \\Device\\HarddiskVolume3\\Windows\\System32\\svchost.exe (UsoSvc)',
          '[PROCESS] \\Device\\HarddiskVolume3\\Users\\pupil\\x\\chrome.exe',
          'Video Wake Lock',
          '[PROCESS] \\Device\\HarddiskVolume3\\Users\\pupil\\x\\chrome.exe',
          'Video Wake Lock',
        ]),
      ),
    ).toEqual({
      known: true,
      held: true,
      holders: [
        'Razer Kiyo (USB\\VID_1532&PID_0E03&MI_02\\6&1a053f38&1&0002) (An audio stream is currently in use.)',
        'Legacy Kernel Caller',
        'svchost.exe (UsoSvc)',
        'chrome.exe (Video Wake Lock)',
      ],
    });
  });

  it('a 10 kB path and a 10 kB reason are read, and clipped for the log', () => {
    const long = 'A'.repeat(10_000);
    const answer = read(output([`[PROCESS] \\Device\\${long}.exe`, `x${long}`]));
    expect(answer).toMatchObject({ known: true, held: true });
    expect(answer.known && answer.holders[0]?.length).toBe(200);
  });

  it('control characters in a program’s reason never reach the log raw', () => {
    const answer = read(
      output(['[PROCESS] \\Device\\a\\evil\u0007.exe', 'Reason\u001b[31m\u0000']),
    );
    expect(answer).toEqual({ known: true, held: true, holders: ['evil?.exe (Reason?[31m?)'] });
  });

  it('a reason that pretends to start a section is a second reason line: unknown', () => {
    // A program chooses its reason text; a newline in it must not hide a request.
    expect(read(output(['[PROCESS] \\Device\\a\\b.exe', 'one', 'SYSTEM:', 'None.']))).toEqual({
      known: false,
      reason: 'unrecognised line in DISPLAY (a localised, wrapped or changed output?): SYSTEM:',
    });
  });

  it('a wrapped path (a continuation line) is unknown', () => {
    expect(
      read(
        output(['[PROCESS] \\Device\\HarddiskVolume3\\Program', 'Files\\a.exe', 'Video Wake Lock']),
      ),
    ).toMatchObject({
      known: false,
      reason: expect.stringMatching(/^unrecognised line in DISPLAY/) as unknown,
    });
  });

  const cases: [string, string, string][] = [
    ['nothing at all', '', 'powercfg printed nothing'],
    [
      'a missing section',
      output(['None.']).replace('AWAYMODE:\r\nNone.\r\n\r\n', ''),
      'section EXECUTION out of order (expected AWAYMODE)',
    ],
    [
      'a repeated section',
      output(['None.']) + '\r\nDISPLAY:\r\nNone.\r\n',
      'section DISPLAY out of order (expected the end)',
    ],
    ['an empty section', output([]), 'section DISPLAY is empty (neither None. nor a request)'],
    [
      'an unknown entry kind',
      output(['[THREAD] 1234']),
      'unknown request kind [THREAD] in DISPLAY',
    ],
    [
      'None. and a request together',
      output(['None.', '[PROCESS] \\a.exe']),
      'unrecognised line in DISPLAY (a localised, wrapped or changed output?): [PROCESS] \\a.exe',
    ],
    [
      'the last section cut off',
      output(['None.']).split('ACTIVELOCKSCREEN:')[0] ?? '',
      'powercfg output ends after PERFBOOST: cut off (no ACTIVELOCKSCREEN section)',
    ],
    [
      'a control character in a header',
      output(['None.']).replace('SYSTEM:', 'SYS\u0000TEM:'),
      'unrecognised section SYS?TEM: a localised or changed powercfg output',
    ],
    [
      'an endless output',
      output(['None.']) + 'x'.repeat(1024 * 1024),
      `powercfg printed ${output(['None.']).length + 1024 * 1024} characters, not its usual list`,
    ],
  ];
  it.each(cases)('%s is unknown', (_name, text, reason) => {
    expect(read(text)).toEqual({ known: false, reason });
  });
});

describe('windowsDisplayRequests: the probe', () => {
  const recorded = (answer: Awaited<ReturnType<Runner>> | Error) => {
    const calls: { command: string; args: readonly string[]; timeoutMs: number }[] = [];
    const run: Runner = (command, args, options) => {
      calls.push({ command, args, timeoutMs: options.timeoutMs });
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    };
    return { calls, run };
  };

  it('runs powercfg.exe /requests with a time-out and reads its output', async () => {
    const { calls, run } = recorded({
      stdout: crlf(fixture('homeassistant-video-wake-lock.txt')),
      stderr: '',
      exitCode: 0,
    });
    expect(await windowsDisplayRequests(run).read()).toMatchObject({ known: true, held: true });
    expect(calls).toEqual([{ command: 'powercfg.exe', args: ['/requests'], timeoutMs: 10_000 }]);
  });

  it('exit 1 with the administrator refusal is unknown with powercfg’s words', async () => {
    const { run } = recorded({ stdout: fixture('not-administrator.txt'), stderr: '', exitCode: 1 });
    expect(await windowsDisplayRequests(run).read()).toEqual({
      known: false,
      reason:
        'powercfg /requests: exit 1: This command requires administrator privileges and must be executed from an elevated command prompt.',
    });
  });

  it('a non-zero exit is unknown even when a list was printed', async () => {
    const { run } = recorded({
      stdout: fixture('powerrequestwrapper-none.txt'),
      stderr: 'Access is denied.',
      exitCode: 5,
    });
    expect(await windowsDisplayRequests(run).read()).toMatchObject({
      known: false,
      reason: expect.stringMatching(/^powercfg \/requests: exit 5: DISPLAY:$/) as unknown,
    });
  });

  it('a time-out or a missing command is unknown with the reason', async () => {
    const timeout = recorded(
      new ProbeError('timeout', 'powercfg.exe did not finish within 10000 ms'),
    );
    expect(await windowsDisplayRequests(timeout.run).read()).toEqual({
      known: false,
      reason: 'powercfg /requests: powercfg.exe did not finish within 10000 ms',
    });
  });
});

describe('displayRequestSourceFor', () => {
  it('on Linux and macOS answers unknown with the reason and runs nothing', async () => {
    const run: Runner = () => Promise.reject(new Error('nothing may be run here'));
    for (const os of ['linux', 'darwin'] as const) {
      expect(await displayRequestSourceFor(os, run).read()).toEqual({
        known: false,
        reason: `unsupported: display power requests (powercfg /requests) exist only on Windows, not ${os}`,
      });
    }
  });
});
