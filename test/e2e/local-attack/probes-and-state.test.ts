// Local attack, probes and state (issue 12): the real `hallpass service` runs as root, as on a
// device, and a real unprivileged account (the pupil) tries to make it lie: a process of its own
// named clamd, fake commands early on the PATH the service was started with, and cache files
// planted while an admin had left the state folder open.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { impostorReason, probe } from '../../../agent/core/checks/antivirus/linux.ts';
import { realHost } from '../../../agent/core/host.ts';
import { PolicyCache } from '../../../agent/core/policy/policy-cache.ts';
import { readDefaultPolicy } from '../../../agent/core/policy/policy-file.ts';
import type { AgentStatus, CheckResult } from '../../../shared/index.ts';
import {
  agentHome,
  agentStatus,
  hallpass,
  stopAgent,
  waitFor,
  type AgentHome,
} from '../../helpers/agent-process.ts';
import { canAttackAsPupil, createPupil, type Pupil } from '../../helpers/unprivileged-user.ts';

const cli = new URL('../../../agent/cli.ts', import.meta.url).pathname;
const SUITE = 'local-attack/probes-and-state';
const canRun = canAttackAsPupil(SUITE);

/** The commands the disk-encryption, firewall and screen-lock probes name by bare name. */
const FAKED = [
  'lsblk',
  'findmnt',
  'nft',
  'iptables',
  'ufw',
  'firewall-cmd',
  'loginctl',
  'runuser',
  'gsettings',
];
const PATH_CHECKS = ['disk-encryption', 'firewall', 'screen-lock'];
const CLEAN_PATH = '/usr/sbin:/usr/bin:/sbin:/bin';

/** `hallpass service` as root with exactly `env`, as a service manager or a shell would start it. */
function startService(
  home: AgentHome,
  env: NodeJS.ProcessEnv,
): ChildProcess & { output: () => string } {
  const child = spawn(
    process.execPath,
    [cli, 'service', '--config', home.configFile, '--state-dir', home.stateDir],
    { stdio: ['ignore', 'pipe', 'pipe'], env },
  );
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return Object.assign(child, { output: () => output });
}

/** The status once the first check pass has finished. */
function firstPass(home: AgentHome): Promise<AgentStatus> {
  return waitFor(
    'the first check pass',
    async () => {
      const status = await agentStatus(home);
      return status !== null && status.lastCheckAt !== null && status.results.length > 0
        ? status
        : null;
    },
    180_000,
  );
}

const byId = (results: readonly CheckResult[]) =>
  Object.fromEntries(results.map((result) => [result.checkId, result]));

/** Runs a shell line as the pupil and fails the test when it fails. */
async function asPupil(pupil: Pupil, line: string, input?: string): Promise<string> {
  const run = await pupil.run('/bin/sh', ['-c', line], input === undefined ? {} : { input });
  if (run.code !== 0) {
    throw new Error(`as the pupil, \`${line}\` failed (${String(run.code)}): ${run.stderr}`);
  }
  return run.stdout;
}

describe.skipIf(!canRun)(SUITE, { timeout: 300_000 }, () => {
  let pupil: Pupil;
  const homes: AgentHome[] = [];
  const newHome = async () => {
    const home = await agentHome({});
    homes.push(home);
    return home;
  };
  beforeAll(async () => {
    pupil = await createPupil();
  });
  afterAll(async () => {
    await pupil.remove();
    for (const home of homes) {
      await rm(home.dir, { recursive: true, force: true });
    }
  });

  it('a clamd of the pupil’s own and fakes on the service’s PATH change no verdict', async () => {
    // This machine's verdicts from a clean environment, before any attack, for comparison.
    const home = await newHome();
    const clean = await hallpass(home, ['check', '--json']);
    const baseline = byId((JSON.parse(clean.stdout) as { results: CheckResult[] }).results);

    // The pupil's fake daemon: `cp /bin/sleep ~/clamd; ~/clamd 600 &`.
    const pid = Number(
      (
        await asPupil(
          pupil,
          'cp /bin/sleep "$HOME/clamd" && "$HOME/clamd" 600 </dev/null >/dev/null 2>&1 & echo $!',
        )
      ).trim(),
    );
    // `$!` is known before the child has exec'd: wait until it is the pupil's clamd.
    await waitFor(
      'the pupil’s clamd to run',
      async () => (await readFile(`/proc/${String(pid)}/comm`, 'utf8')).trim() === 'clamd',
    );
    expect(await readFile(`/proc/${String(pid)}/status`, 'utf8')).toMatch(
      new RegExp(`^Uid:\\s+${String(pupil.uid)}\\s`, 'm'),
    );
    // What the probe, run as root, sees of it: the pupil's program and the pupil's uid.
    const seen = (await probe(realHost)).processes.find((process) => process.pid === pid);
    expect(seen).toMatchObject({
      name: 'clamd',
      exe: `${pupil.home}/clamd`,
      exeFile: { uid: pupil.uid, kind: 'file' },
      uids: [pupil.uid, pupil.uid, pupil.uid, pupil.uid],
      error: null,
    });
    expect(seen && impostorReason(seen, {})).toBe(`runs ${pupil.home}/clamd, not /usr/sbin/clamd`);
    // The pupil's fake commands: each leaves a mark if it is ever run, and answers as a
    // protected machine would be described by someone guessing.
    const fakes = join(pupil.home, 'bin');
    const marks = join(pupil.home, 'ran');
    await asPupil(pupil, `mkdir -p "${fakes}" "${marks}" && chmod 777 "${marks}"`);
    for (const name of FAKED) {
      await asPupil(
        pupil,
        `printf '#!/bin/sh\\n: > "${marks}/${name}"\\necho "Status: active"\\nexit 0\\n' > "${fakes}/${name}" && chmod 755 "${fakes}/${name}"`,
      );
    }
    // The pupil's home is 0700 on Debian 12; a service started from their shell still sees it.
    const planted = { PATH: `${fakes}:${CLEAN_PATH}`, HOME: pupil.home, LANG: 'C.UTF-8' };

    const agent = startService(home, planted);
    try {
      const status = await firstPass(home);
      const results = byId(status.results);
      // Whatever ClamAV this machine really has, the pupil's process adds no protection.
      const antivirus = results.antivirus;
      expect({ status: antivirus?.status, summary: antivirus?.summary }).toEqual({
        status: baseline.antivirus?.status,
        summary: baseline.antivirus?.summary,
      });
      expect(await readdir(marks)).toEqual([]);
      for (const id of PATH_CHECKS) {
        expect({ id, status: results[id]?.status, summary: results[id]?.summary }).toEqual({
          id,
          status: baseline[id]?.status,
          summary: baseline[id]?.summary,
        });
      }
    } finally {
      await stopAgent(agent);
    }
  });

  it('refuses to start on a state folder the pupil can write to, naming it', async () => {
    const home = await newHome();
    // Traversable as /var/lib is on a device; the admin's mistake is the 0777 below.
    await chmod(home.dir, 0o711);
    await mkdir(home.stateDir, { mode: 0o700 });
    await chmod(home.stateDir, 0o777);
    await asPupil(pupil, `: > "${home.stateDir}/planted-by-pupil"`);
    const agent = startService(home, { PATH: CLEAN_PATH });
    const exited = new Promise<number | null>((resolve) => agent.once('exit', resolve));
    // Either it exits, or it answers over IPC: then it started on the loose folder.
    const outcome = await Promise.race([
      exited.then((code) => ({ exited: code })),
      waitFor('the service to answer', () => agentStatus(home), 120_000).then(() => ({
        started: true,
      })),
    ]);
    await stopAgent(agent);
    expect(outcome).toEqual({ exited: 78 });
    expect(agent.output()).toContain(`${home.stateDir} has mode 0777`);
  });

  it('ignores and reports caches the pupil planted while the folder was open', async () => {
    const home = await newHome();
    await chmod(home.dir, 0o711);
    await mkdir(join(home.stateDir, 'policy'), { recursive: true, mode: 0o700 });
    await chmod(home.stateDir, 0o777);
    await chmod(join(home.stateDir, 'policy'), 0o777);
    // A lenient policy and an os-updates pass, written by the pupil in the files' real formats.
    const source = await mkdtemp(join(tmpdir(), 'hallpass-lenient-'));
    try {
      const { cache } = await PolicyCache.open(source);
      await cache.offer(
        await readFile(
          new URL('../../../agent/core/policy/example-policy.yaml', import.meta.url),
          'utf8',
        ),
        '"planted"',
      );
      const lenient = await readFile(join(source, 'policy.json'), 'utf8');
      const plantedName = (JSON.parse(lenient) as { policy: { name: string } }).policy.name;
      expect(plantedName).not.toBe((await readDefaultPolicy()).name);
      await asPupil(pupil, `cat > "${home.stateDir}/policy/policy.json"`, lenient);
      const pass: CheckResult = {
        checkId: 'os-updates',
        status: 'pass',
        summary: 'PLANTED: up to date',
        evidence: {},
        measuredAt: new Date().toISOString(),
        durationMs: 1,
      };
      await asPupil(pupil, `cat > "${home.stateDir}/slow-checks.json"`, JSON.stringify([pass]));
    } finally {
      await rm(source, { recursive: true, force: true });
    }
    // The admin closes the folders again without looking inside.
    await chmod(home.stateDir, 0o700);
    await chmod(join(home.stateDir, 'policy'), 0o700);

    const agent = startService(home, { PATH: CLEAN_PATH });
    try {
      const status = await firstPass(home);
      expect(status.policy.name).toBe((await readDefaultPolicy()).name);
      expect(byId(status.results)['os-updates']?.summary).not.toContain('PLANTED');
      const outbox = join(home.stateDir, 'outbox');
      const items = await Promise.all(
        (await readdir(outbox))
          .filter((name) => name.endsWith('.json'))
          .map((name) => readFile(join(outbox, name), 'utf8')),
      );
      const tamper = items.filter((text) => text.includes('"tamper.state-corrupt"'));
      expect(tamper.some((text) => text.includes('"store":"policy-cache"'))).toBe(true);
      expect(tamper.some((text) => text.includes('"store":"slow-check-cache"'))).toBe(true);
      expect(agent.output()).toContain('slow-check cache not trusted');
    } finally {
      await stopAgent(agent);
    }
  });
});
