// The real agent service as a child process (`node agent/cli.ts service`), with its state in a
// temp folder: how the end-to-end tests run it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentStatus } from '../../shared/index.ts';
import { defaultAgentConfig, type AgentConfig } from '../../agent/core/config/agent-config.ts';
import { ipcRequest } from '../../agent/service/ipc-server.ts';

const cli = new URL('../../agent/cli.ts', import.meta.url).pathname;

/** A state folder and config file for one device. */
export interface AgentHome {
  dir: string;
  stateDir: string;
  configFile: string;
  ipcPath: string;
}

/** Creates a device's home with a config pointing at `serverUrl`. */
export async function agentHome(settings: Record<string, unknown>): Promise<AgentHome> {
  const dir = await mkdtemp(join(tmpdir(), 'hallpass-agent-'));
  const home = {
    dir,
    stateDir: join(dir, 'state'),
    configFile: join(dir, 'agent.json'),
    ipcPath: join(dir, 'agent.sock'),
  };
  await writeAgentConfig(home, settings);
  return home;
}

/**
 * Writes the home's agent.json: `settings` over the test defaults. Every config file a test
 * gives the real service on this host is written here, so none turns the USB guard on.
 */
export async function writeAgentConfig(
  home: Pick<AgentHome, 'configFile' | 'ipcPath'>,
  settings: Record<string, unknown>,
): Promise<void> {
  await writeFile(
    home.configFile,
    JSON.stringify({
      ipcPath: home.ipcPath,
      startupJitterSeconds: 0,
      deliveryRetryBaseSeconds: 1,
      deliveryRetryCapSeconds: 2,
      logLevel: 'warn',
      ...settings,
      // Tests run the real service on the developer's host: it must never change the host's
      // USB authorisation (test/setup/host-usb.ts fails the run if one does). The guard is
      // tested with its own stand-in platform and in QEMU, where the config is built apart.
      usbGuard: false,
    }),
    // Root-only, as the installer leaves it: the service refuses a readable file with a token.
    { mode: 0o600 },
  );
}

/**
 * The config for a service a test composes in-process (runService) on this host: Linux defaults,
 * quiet, no start-up jitter, `settings` over them, and the USB guard off whatever they say (see
 * writeAgentConfig).
 */
export function hostAgentConfig(settings: Partial<AgentConfig>): AgentConfig {
  return {
    ...defaultAgentConfig('linux'),
    logLevel: 'silent',
    startupJitterSeconds: 0,
    ...settings,
    usbGuard: false,
  };
}

/** Runs a `hallpass` command for this home and waits for it. */
export function hallpass(
  home: AgentHome,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [
      cli,
      ...args,
      '--config',
      home.configFile,
      '--state-dir',
      home.stateDir,
      // `status` reads no config file: it needs the socket's path given.
      '--ipc',
      home.ipcPath,
    ]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts `hallpass service` for this home. */
export function startAgent(home: AgentHome): ChildProcess & { output: () => string } {
  const child = spawn(
    process.execPath,
    [cli, 'service', '--config', home.configFile, '--state-dir', home.stateDir],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return Object.assign(child, { output: () => output });
}

/** The running service's status over IPC, or null while it is not answering. */
export async function agentStatus(home: AgentHome): Promise<AgentStatus | null> {
  try {
    const answer = await ipcRequest(home.ipcPath, 'status:get', 5000);
    return answer.ok ? answer.status : null;
  } catch {
    return null;
  }
}

/** Polls `condition` every 200 ms until it holds, or throws after `timeoutMs` with `what`. */
export async function waitFor<T>(
  what: string,
  condition: () => Promise<T | null | undefined | false>,
  timeoutMs = 300_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== null && value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Stops a service with SIGTERM and waits for its exit code. */
export function stopAgent(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) {
    return Promise.resolve(child.exitCode);
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  return exited;
}
