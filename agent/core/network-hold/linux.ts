// The Linux network hold: an nftables table owned by a long-lived `nft -i` child (see
// nft-script.ts for why the kernel then removes it the moment Hallpass goes away). Debian:
// `apt-get install nftables` (the package depends on it; PLATFORMS.md §8).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { execFile } from 'node:child_process';
import { probeEnvironment } from '../probe-environment.ts';
import type { HoldTarget, NetworkHold } from './network-hold.ts';
import { HOLD_TABLE, holdScript } from './nft-script.ts';

/** What the hold runs; tests put it inside a network namespace (`ip netns exec <ns> nft`). */
export interface LinuxHoldOptions {
  /** The nft command and any prefix, e.g. ['nft'] or ['ip', 'netns', 'exec', 'ns1', 'nft']. */
  nft?: string[];
  /** How long to wait for nft to take the rules and show the table. */
  timeoutMs?: number;
}

/**
 * The environment nft runs in, as root: the probes' fixed root-only PATH and nothing inherited
 * (issue 12), so a planted `nft` (or `ip`) early on the PATH that started the service is never
 * the program that holds — or fails to hold — the network.
 */
function nftEnvironment(): { env: Record<string, string>; cwd: string } {
  return probeEnvironment('linux', process.env);
}

/** Runs a one-shot nft command; resolves with stdout, rejects with stderr's first line. */
function nftOnce(nft: string[], args: string[], timeoutMs: number): Promise<string> {
  const [command = 'nft', ...prefix] = nft;
  const options = { timeout: timeoutMs, ...nftEnvironment() };
  return new Promise((resolve, reject) => {
    execFile(command, [...prefix, ...args], options, (error, stdout, stderr) => {
      if (error === null) {
        resolve(stdout);
        return;
      }
      const said = stderr.trim().split('\n')[0] ?? '';
      reject(new Error(said === '' ? error.message : said));
    });
  });
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Holds with nftables; one `nft -i` child per hold, ended to release. */
export class LinuxNetworkHold implements NetworkHold {
  readonly #nft: string[];
  readonly #timeoutMs: number;
  #child: ChildProcessWithoutNullStreams | null = null;

  constructor(options: LinuxHoldOptions = {}) {
    this.#nft = options.nft ?? ['nft'];
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  held(): boolean {
    return this.#child !== null;
  }

  /** Nothing to clear: the kernel dropped a crashed service's table with its socket. */
  clearLeftover(): Promise<void> {
    return Promise.resolve();
  }

  async hold(allowed: HoldTarget[]): Promise<void> {
    const script = holdScript(allowed);
    await this.release();
    const [command = 'nft', ...prefix] = this.#nft;
    const child = spawn(command, [...prefix, '-i'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...nftEnvironment(),
    });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    child.stdout.resume();
    const exited = new Promise<string>((resolve) => {
      child.once('error', (error) => {
        resolve(error.message);
      });
      child.once('exit', (code, signal) => {
        resolve(`nft exited (${signal ?? String(code)})`);
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.write(script.join('\n') + '\n');
    // The table shows once nft has taken every line; a line it refused shows on its stderr.
    const deadline = Date.now() + this.#timeoutMs;
    for (;;) {
      const early = await Promise.race([exited, delay(50).then(() => null)]);
      if (early !== null) {
        throw new Error(`could not hold the network: ${stderr.trim() || early}`);
      }
      if (stderr.trim() !== '') {
        child.kill();
        throw new Error(`could not hold the network: ${stderr.trim().split('\n')[0] ?? ''}`);
      }
      const listed = await nftOnce(
        this.#nft,
        ['list', 'table', 'inet', HOLD_TABLE],
        this.#timeoutMs,
      ).catch(() => '');
      // Complete when the last rule is in (nft applies each line as it reads it).
      if ((listed.match(/\breject\b/g) ?? []).length >= 2) {
        break;
      }
      if (Date.now() > deadline) {
        child.kill();
        throw new Error('could not hold the network: nftables did not show the hold in time');
      }
    }
    this.#child = child;
    void exited.then(() => {
      if (this.#child === child) {
        // Killed from outside (only root can): the kernel has dropped the table with it.
        this.#child = null;
      }
    });
  }

  async release(): Promise<void> {
    const child = this.#child;
    if (child === null) {
      return;
    }
    this.#child = null;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve();
        return;
      }
      child.once('exit', () => {
        resolve();
      });
    });
    // End of input: nft exits and its table goes with its socket.
    child.stdin.end();
    const ended = await Promise.race([
      exited.then(() => true),
      delay(this.#timeoutMs).then(() => false),
    ]);
    if (!ended) {
      child.kill('SIGKILL');
      await exited;
    }
  }
}
