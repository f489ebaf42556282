// The anti-virus watch (agent/service/antivirus-watch.ts) on real antivirus results: the real
// check (runCheck, its parsers and evaluator) fed the recorded outputs its own tests use
// (test/fixtures/<os>/antivirus), and a real state file in a temporary folder. Last, the whole
// composition root (runService) on this host, with the check's Windows half answering from the
// recorded PowerShell outputs, queuing into the real outbox across a restart.
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { antivirusCheck } from '../../../agent/core/checks/antivirus/index.ts';
import { parse as parseLinux, type LinuxRaw } from '../../../agent/core/checks/antivirus/linux.ts';
import { platformCheck, type CheckDefinition } from '../../../agent/core/checks/define-check.ts';
import { runCheck } from '../../../agent/core/checks/run-checks.ts';
import { realHost, type FileStatus, type Host } from '../../../agent/core/host.ts';
import { readDefaultPolicy } from '../../../agent/core/policy/policy-file.ts';
import type { OsName } from '../../../agent/core/platform.ts';
import type { Runner } from '../../../agent/core/runner.ts';
import {
  AntivirusWatch,
  antivirusTransition,
  observeAntivirus,
} from '../../../agent/service/antivirus-watch.ts';
import { runService } from '../../../agent/service/run-service.ts';
import {
  AgentEventSchema,
  validate,
  type AgentEvent,
  type CheckResult,
} from '../../../shared/index.ts';
import { hostAgentConfig } from '../../helpers/agent-process.ts';
import { fakeHost } from '../../helpers/fake-host.ts';
import { readOutboxFolder } from '../../helpers/outbox-folder.ts';
import { fixtureBytes, fixtureText } from '../core/checks/antivirus/fixtures.ts';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) {
    await rm(dir, { recursive: true, force: true });
  }
});

async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'hallpass-avwatch-'));
  dirs.push(dir);
  return dir;
}

const policy = await readDefaultPolicy();
const now = new Date('2024-06-05T00:00:00Z');

// --- Windows: the probe script's JSON, put together from the recorded sections -------------
const section = (name: string): unknown => JSON.parse(fixtureText('windows', name));
const envelope = (securityCenter: string, defender: string): string =>
  JSON.stringify({
    securityCenter: section(`${securityCenter}.securitycenter.json`),
    defender: section(`${defender}.defender.json`),
  });
/** Defender registered in Security Center and on (Get-MpComputerStatus, June 2024). */
const DEFENDER_ON = envelope('wsc-defender-on', 'mp-normal-2024');
/** The same, with Get-MpComputerStatus saying real-time protection is off. */
const DEFENDER_RTP_OFF = envelope('wsc-defender-on', 'mp-stale-rtp-off');
/** Bitdefender on, Defender off in Security Center, Defender's service stopped (0x800106ba). */
const BITDEFENDER_DEFENDER_OFF = envelope(
  'wsc-bitdefender-defender-off',
  'mp-error-800106ba-crowdstrike',
);
/** Windows Server 2022 (French): no Security Center, Defender's flags incomplete → unknown. */
const SERVER_UNKNOWN = fixtureText('windows', 'server-2022-fr.output.json');

async function windowsResult(stdout: string | null): Promise<CheckResult> {
  const host = fakeHost({
    commands: stdout === null ? {} : { 'powershell.exe': { stdout, stderr: '', exitCode: 0 } },
    now,
  });
  return runCheck(antivirusCheck, { os: 'windows', host, policy });
}

// --- macOS: spctl and defaults as recorded -----------------------------------------------
async function darwinResult(spctl: 'enabled' | 'disabled'): Promise<CheckResult> {
  const out = (stdout: string) => ({ stdout, stderr: '', exitCode: 0 });
  const host = fakeHost({
    commands: {
      '/usr/sbin/spctl': out(fixtureText('darwin', `spctl-status-${spctl}.txt`)),
      '/usr/bin/defaults': out(fixtureText('darwin', 'defaults-read-xprotect-5287-macos26.txt')),
    },
    now,
  });
  return runCheck(antivirusCheck, { os: 'darwin', host, policy });
}

// --- Linux: the real parser on machine state as its own tests construct it ---------------
// Constructed, not recorded (as in test/agent/core/checks/antivirus/linux.test.ts): uid 110
// stands for Debian's `clamav` account; the database header is the recorded daily-26165.
const CLAMAV_UID = 110;
const rootFile: FileStatus = { uid: 0, gid: 0, mode: 0o755, kind: 'file' };
const rootDir: FileStatus = { uid: 0, gid: 0, mode: 0o755, kind: 'directory' };
const clamd = {
  pid: 812,
  name: 'clamd',
  exe: '/usr/sbin/clamd',
  exeFile: rootFile,
  exeFolders: ['/', '/usr', '/usr/sbin'].map((path) => ({ path, status: rootDir })),
  uids: [CLAMAV_UID, CLAMAV_UID, CLAMAV_UID, CLAMAV_UID],
  error: null,
};
const installed: LinuxRaw = {
  binaries: ['/usr/bin/clamscan', '/usr/sbin/clamd', '/usr/bin/freshclam'],
  databases: [{ file: 'daily.cld', header: fixtureBytes('linux', 'daily-26165-2021.cld.header') }],
  processes: [],
  accounts: { clamav: CLAMAV_UID },
};
/** The on-access scanner, as Debian's clamav-clamonacc unit runs it (root). */
const clamonacc = {
  ...clamd,
  pid: 813,
  name: 'clamonacc',
  exe: '/usr/sbin/clamonacc',
  uids: [0, 0, 0, 0],
};
/** Real-time protection on Linux: clamd and its on-access scanner both running. */
const CLAMAV_REAL_TIME: LinuxRaw = { ...installed, processes: [clamd, clamonacc] };
/** clamd alone: no on-access scanning, so no real-time protection. */
const CLAMD_ONLY: LinuxRaw = { ...installed, processes: [clamd] };
const CLAMAV_REMOVED: LinuxRaw = { binaries: [], databases: [], processes: [], accounts: {} };

async function linuxResult(raw: LinuxRaw): Promise<CheckResult> {
  const check: CheckDefinition = {
    ...antivirusCheck,
    platforms: { linux: platformCheck({ probe: () => Promise.resolve(raw), parse: parseLinux }) },
  };
  return runCheck(check, { os: 'linux', host: fakeHost({ now }), policy });
}

/** A watch on `dir` whose events are collected, and its log lines. */
async function openWatch(dir: string, options: { failEvents?: () => boolean } = {}) {
  const events: AgentEvent[] = [];
  const log: { level: string; message: string; details: Record<string, unknown> }[] = [];
  const watch = await AntivirusWatch.open(dir, {
    recordEvent: (event) => {
      if (options.failEvents?.() === true) {
        return Promise.reject(new Error('ENOSPC: no space left on device'));
      }
      events.push(event);
      return Promise.resolve();
    },
    log: {
      warn: (details, message) => log.push({ level: 'warn', message, details }),
      error: (details, message) => log.push({ level: 'error', message, details }),
    },
    now: () => now,
  });
  const see = async (result: CheckResult): Promise<void> => {
    watch.observe([result]);
    await watch.settled();
  };
  const disabled = () =>
    events.map((event) => (event.type === 'tamper.antivirus-disabled' ? event.data.product : ''));
  return { watch, events, log, see, disabled };
}

describe('the recorded results the watch reads', () => {
  it('are what the check makes of them', async () => {
    expect((await windowsResult(DEFENDER_ON)).status).toBe('pass');
    expect((await windowsResult(DEFENDER_RTP_OFF)).status).toBe('fail');
    expect((await windowsResult(BITDEFENDER_DEFENDER_OFF)).status).toBe('pass');
    expect((await windowsResult(SERVER_UNKNOWN)).status).toBe('unknown');
    expect((await windowsResult(null)).reason?.code).toBe('command-missing');
    expect((await darwinResult('disabled')).status).toBe('fail');
    // On, with the recorded 2021 database: its signatures are out of date by `now`.
    expect((await linuxResult(CLAMAV_REAL_TIME)).summary).toMatch(/^ClamAV is on, but/);
    expect((await linuxResult(CLAMD_ONLY)).status).toBe('fail');
    expect((await linuxResult(CLAMAV_REMOVED)).status).toBe('fail');
  });

  it('observe each product’s real-time state', async () => {
    const seen = observeAntivirus(await windowsResult(BITDEFENDER_DEFENDER_OFF));
    expect(typeof seen !== 'string' && [...seen.products]).toEqual([
      ['Bitdefender Antivirus', 'on'],
      ['Windows Defender', 'off'],
    ]);
    const mac = observeAntivirus(await darwinResult('disabled'));
    expect(typeof mac !== 'string' && [...mac.products]).toEqual([
      ['XProtect', 'on'],
      ['Gatekeeper', 'off'],
    ]);
    expect(observeAntivirus(await windowsResult(SERVER_UNKNOWN))).toMatch(/could not tell/);
  });
});

describe('AntivirusWatch on Windows (Defender)', () => {
  it('raises one event when real-time protection goes off, not one per pass, and re-arms', async () => {
    const { see, events, disabled, watch } = await openWatch(await stateDir());
    await see(await windowsResult(DEFENDER_ON));
    expect(events).toEqual([]);
    await see(await windowsResult(DEFENDER_RTP_OFF));
    await see(await windowsResult(DEFENDER_RTP_OFF));
    expect(disabled()).toEqual(['Windows Defender']);
    expect(watch.lastKnownOn()).toEqual([]);
    // Back on, then off again: a second event.
    await see(await windowsResult(DEFENDER_ON));
    await see(await windowsResult(DEFENDER_RTP_OFF));
    expect(disabled()).toEqual(['Windows Defender', 'Windows Defender']);
    const event = events[0];
    expect(validate(AgentEventSchema, event).ok).toBe(true);
    expect(event?.occurredAt).toBe(now.toISOString());
  });

  it('names Defender when another product takes over, and then watches that one', async () => {
    const { see, disabled, watch } = await openWatch(await stateDir());
    await see(await windowsResult(DEFENDER_ON));
    await see(await windowsResult(BITDEFENDER_DEFENDER_OFF));
    expect(disabled()).toEqual(['Windows Defender']);
    expect(watch.lastKnownOn()).toEqual(['Bitdefender Antivirus']);
  });

  it('raises nothing for a product never seen on (installed with protection off)', async () => {
    const { see, events } = await openWatch(await stateDir());
    await see(await windowsResult(DEFENDER_RTP_OFF));
    await see(await windowsResult(DEFENDER_RTP_OFF));
    expect(events).toEqual([]);
  });

  it('never fires from an unknown result: the last known state stands', async () => {
    const { see, events, disabled, watch, log } = await openWatch(await stateDir());
    await see(await windowsResult(DEFENDER_ON));
    await see(await windowsResult(SERVER_UNKNOWN));
    await see(await windowsResult(null)); // powershell.exe missing: command-missing
    await see(await windowsResult('Get-CimInstance : Zugriff verweigert\r\n'));
    expect(events).toEqual([]);
    expect(watch.lastKnownOn()).toEqual(['Windows Defender']);
    expect(log).toEqual([]);
    // The next pass that can read it sees it off: that is the transition.
    await see(await windowsResult(DEFENDER_RTP_OFF));
    expect(disabled()).toEqual(['Windows Defender']);
  });

  it('Defender named differently when Security Center could not be read is not "gone"', async () => {
    // Security Center failed (the French Windows Server message), Get-MpComputerStatus read:
    // the parser names Defender itself, and the list is partial.
    const partial = JSON.stringify({
      securityCenter: { error: 'Espace de noms non valide' },
      defender: section('mp-normal-2024.defender.json'),
    });
    expect((await windowsResult(partial)).status).toBe('pass');
    const { see, disabled } = await openWatch(await stateDir());
    await see(await windowsResult(partial));
    await see(await windowsResult(DEFENDER_ON));
    expect(disabled()).toEqual([]);
    await see(await windowsResult(DEFENDER_RTP_OFF));
    expect(disabled()).toEqual(['Windows Defender']);
  });

  it('an event that could not be queued is tried again at the next pass', async () => {
    let full = true;
    const { see, disabled, log } = await openWatch(await stateDir(), { failEvents: () => full });
    await see(await windowsResult(DEFENDER_ON));
    await see(await windowsResult(DEFENDER_RTP_OFF));
    expect(disabled()).toEqual([]);
    expect(log.map((line) => line.message)).toEqual(['could not queue tamper.antivirus-disabled']);
    full = false;
    await see(await windowsResult(DEFENDER_RTP_OFF));
    expect(disabled()).toEqual(['Windows Defender']);
  });
});

describe('AntivirusWatch on macOS and Linux', () => {
  it('macOS: Gatekeeper turned off is raised; XProtect stays on', async () => {
    const { see, disabled } = await openWatch(await stateDir());
    await see(await darwinResult('enabled'));
    await see(await darwinResult('disabled'));
    await see(await darwinResult('disabled'));
    expect(disabled()).toEqual(['Gatekeeper']);
  });

  it('Linux: on-access scanning stopped is raised once; ClamAV removed after being on is raised too', async () => {
    const { see, disabled } = await openWatch(await stateDir());
    await see(await linuxResult(CLAMAV_REAL_TIME));
    await see(await linuxResult(CLAMD_ONLY));
    await see(await linuxResult(CLAMAV_REMOVED));
    expect(disabled()).toEqual(['ClamAV']);
    await see(await linuxResult(CLAMAV_REAL_TIME));
    await see(await linuxResult(CLAMAV_REMOVED));
    expect(disabled()).toEqual(['ClamAV', 'ClamAV']);
  });
});

describe('product names from the OS', () => {
  it('are kept as one line of at most 200 characters, valid in the event', async () => {
    // Security Center's displayName is whatever a product registered: a hostile one, say.
    const wsc = section('wsc-sentinelone-defender-off.securitycenter.json') as {
      products: { displayName: string }[];
    };
    const long = `Evil\nAV ${'x'.repeat(300)}`;
    const products = wsc.products.map((p, i) => (i === 0 ? { ...p, displayName: long } : p));
    const raw = JSON.stringify({
      securityCenter: { ...wsc, products },
      defender: section('mp-error-800106ba-crowdstrike.defender.json'),
    });
    const { see, disabled } = await openWatch(await stateDir());
    await see(await windowsResult(raw));
    await see(await windowsResult(envelope('wsc-defender-on', 'mp-normal-2024')));
    const [name] = disabled();
    expect(name).toBe(`Evil AV ${'x'.repeat(192)}`);
    expect(name).toHaveLength(200);
  });
});

describe('antivirusTransition', () => {
  it('keeps a product missing from a list the probe could not read in full', () => {
    const lastOn = new Map([['Sentinel Agent', true]]);
    expect(antivirusTransition(lastOn, { products: new Map(), complete: false })).toEqual({
      on: new Map([['Sentinel Agent', true]]),
      disabled: [],
    });
    expect(antivirusTransition(lastOn, { products: new Map(), complete: true })).toEqual({
      on: new Map(),
      disabled: ['Sentinel Agent'],
    });
  });

  it('keeps a product only ever seen on in a partial list when a full one lacks it', () => {
    const lastOn = new Map([['Microsoft Defender Antivirus', false]]);
    const full = { products: new Map([['Windows Defender', 'on' as const]]), complete: true };
    expect(antivirusTransition(lastOn, full)).toEqual({
      on: new Map([
        ['Microsoft Defender Antivirus', false],
        ['Windows Defender', true],
      ]),
      disabled: [],
    });
  });
});

describe('AntivirusWatch across a restart (a real state file)', () => {
  it('stop, turn Defender off, start: the first pass raises it', async () => {
    const dir = await stateDir();
    const first = await openWatch(dir);
    await first.see(await windowsResult(DEFENDER_ON));
    await first.watch.stop();
    expect(JSON.parse(await readFile(join(dir, 'antivirus-watch.json'), 'utf8'))).toEqual({
      on: [{ name: 'Windows Defender', fullList: true }],
    });
    // Observations after stop are not taken.
    first.watch.observe([await windowsResult(DEFENDER_RTP_OFF)]);
    await first.watch.settled();
    expect(first.events).toEqual([]);

    const second = await openWatch(dir);
    expect(second.watch.problems()).toEqual([]);
    expect(second.watch.lastKnownOn()).toEqual(['Windows Defender']);
    await second.see(await windowsResult(DEFENDER_RTP_OFF));
    expect(second.disabled()).toEqual(['Windows Defender']);
    // Written as off: a third start raises nothing more.
    const third = await openWatch(dir);
    await third.see(await windowsResult(DEFENDER_RTP_OFF));
    expect(third.events).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual(['antivirus-watch.json']);
  });

  it.each([
    ['not JSON', '{"on":[{"name":"Windows Defender"', /not JSON/],
    ['the wrong shape', '{"on":"Windows Defender"}', /on/],
    ['bare names', '{"on":["Windows Defender"]}', /on/],
    ['an unknown key', '{"on":[],"armed":true}', /armed|additional/i],
    [
      'a repeated name',
      JSON.stringify({ on: [1, 2].map(() => ({ name: 'Windows Defender', fullList: true })) }),
      /repeated/,
    ],
    [
      'too many names',
      JSON.stringify({
        on: Array.from({ length: 17 }, (_, i) => ({ name: `AV ${i}`, fullList: true })),
      }),
      /on/,
    ],
  ])('a file with %s is moved aside and logged; the watch starts afresh', async (_l, text, why) => {
    const dir = await stateDir();
    await writeFile(join(dir, 'antivirus-watch.json'), text, { mode: 0o600 });
    const { watch, see, events, disabled } = await openWatch(dir);
    expect(watch.problems()).toEqual([expect.stringMatching(why) as unknown]);
    expect(watch.problems()[0]).toMatch(/starting with no previous state; moved aside to/);
    expect(watch.lastKnownOn()).toEqual([]);
    const names = await readdir(dir);
    expect(names).toEqual([expect.stringMatching(/^antivirus-watch\.json\.corrupt-/) as unknown]);
    // No previous state: off is no transition; on then off is.
    await see(await windowsResult(DEFENDER_RTP_OFF));
    expect(events).toEqual([]);
    await see(await windowsResult(DEFENDER_ON));
    await see(await windowsResult(DEFENDER_RTP_OFF));
    expect(disabled()).toEqual(['Windows Defender']);
  });

  it.skipIf(process.platform === 'win32')(
    'a file others may write, or a link, is refused: never trusted',
    async () => {
      const dir = await stateDir();
      const path = join(dir, 'antivirus-watch.json');
      await writeFile(path, '{"on":[{"name":"Windows Defender","fullList":true}]}');
      await chmod(path, 0o666);
      const writable = await openWatch(dir);
      expect(writable.watch.problems()[0]).toMatch(/writable|mode/i);
      expect(writable.watch.lastKnownOn()).toEqual([]);

      const other = await stateDir();
      await writeFile(
        join(other, 'elsewhere.json'),
        '{"on":[{"name":"Windows Defender","fullList":true}]}',
        {
          mode: 0o600,
        },
      );
      await symlink(join(other, 'elsewhere.json'), path);
      const linked = await openWatch(dir);
      expect(linked.watch.problems()[0]).toMatch(/symbolic link/);
      expect(linked.watch.lastKnownOn()).toEqual([]);
    },
  );
});

describe.skipIf(process.platform === 'win32')('the watch in the running service', () => {
  it('a real pass that finds Defender off queues the event; a restart keeps what was on', async () => {
    const dir = await stateDir();
    const state = join(dir, 'state');
    await mkdir(state, { mode: 0o700 });
    // This host's runner, except that PowerShell answers with the recorded outputs; the
    // check's Windows half runs under the service's own OS name.
    let powershell = DEFENDER_ON;
    const run: Runner = (command, args, options) =>
      command === 'powershell.exe'
        ? Promise.resolve({ stdout: powershell, stderr: '', exitCode: 0 })
        : realHost.run(command, args, options);
    const host: Host = { ...realHost, run };
    const check = {
      ...antivirusCheck,
      platforms: { linux: antivirusCheck.platforms.windows },
    } as CheckDefinition;
    const start = async () => {
      const running = await runService({
        os: 'linux' satisfies OsName,
        host,
        config: hostAgentConfig({ stateDir: state, ipcPath: join(dir, 'agent.sock') }),
        agentVersion: '0.1.0',
        checks: [check],
      });
      // The start-up pass.
      const deadline = performance.now() + 240_000;
      while (running.service.status().lastCheckAt === null) {
        if (performance.now() > deadline) {
          throw new Error('no start-up pass');
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return running;
    };
    const disabledEvents = async () =>
      (await readOutboxFolder(join(state, 'outbox'))).items
        .map((item) => item.payload)
        .filter((payload) => payload.type === 'tamper.antivirus-disabled');

    let running = await start();
    powershell = DEFENDER_RTP_OFF;
    await running.service.runPass({ requested: true });
    await running.service.runPass({ requested: true });
    powershell = DEFENDER_ON;
    await running.service.runPass({ requested: true });
    await running.stop();
    expect((await disabledEvents()).map((event) => event.data)).toEqual([
      { product: 'Windows Defender' },
    ]);

    // Stopped with Defender on; turned off while the service is down; started again.
    powershell = DEFENDER_RTP_OFF;
    running = await start();
    await running.stop();
    const events = await disabledEvents();
    expect(events.map((event) => event.data)).toEqual([
      { product: 'Windows Defender' },
      { product: 'Windows Defender' },
    ]);
    for (const event of events) {
      expect(validate(AgentEventSchema, event).ok).toBe(true);
    }
  }, 120_000);
});
