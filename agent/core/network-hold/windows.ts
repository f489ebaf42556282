// The Windows network hold: block rules in Windows Firewall (group "Hallpass AUP hold"; see
// windows-script.ts for why block rules), made and removed by PowerShell the service runs as
// SYSTEM. Unlike an nftables table these rules outlive the process that made them, so the
// service removes the group when it releases, when it stops, and when it starts (a service that
// crashed while holding comes back through the Service Control Manager's restart and clears it).
import { powershellArgs } from '../powershell.ts';
import type { Runner } from '../runner.ts';
import type { HoldTarget, NetworkHold } from './network-hold.ts';
import {
  parseWindowsHoldReport,
  parseWindowsReleaseReport,
  windowsHoldPlan,
  windowsHoldScript,
  windowsReleaseScript,
} from './windows-script.ts';

/** Windows refuses a longer command line (CreateProcess, 32,767 characters with the program). */
const MAX_COMMAND_LINE = 32_000;

export interface WindowsHoldOptions {
  run: Runner;
  /** PowerShell starts in seconds on a busy laptop; the NetSecurity cmdlets add more. */
  timeoutMs?: number;
}

/** Holds with Windows Firewall block rules. */
export class WindowsNetworkHold implements NetworkHold {
  readonly #run: Runner;
  readonly #timeoutMs: number;
  #held = false;

  constructor(options: WindowsHoldOptions) {
    this.#run = options.run;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
  }

  held(): boolean {
    return this.#held;
  }

  async hold(allowed: HoldTarget[]): Promise<void> {
    const expected = windowsHoldPlan(allowed).rules.length;
    const args = powershellArgs(windowsHoldScript(allowed));
    if (args.join(' ').length > MAX_COMMAND_LINE) {
      throw new Error('could not hold the network: too many addresses for one PowerShell command');
    }
    this.#held = false;
    const output = await this.#powershell(args);
    const state = parseWindowsHoldReport(output, expected);
    if (state.state !== 'held') {
      // The script takes back what it made when a cmdlet fails; a hold that is there but not in
      // force (a profile off) is taken back here, so nothing half-made is left.
      const undone = await this.clearLeftover().then(
        () => '',
        (error: unknown) =>
          `; what was made could not be taken back (${error instanceof Error ? error.message : String(error)})`,
      );
      throw new Error(
        `could not hold the network: ${state.state === 'failed' ? state.reason : 'no rules'}${undone}`,
      );
    }
    this.#held = true;
  }

  async release(): Promise<void> {
    if (!this.#held) {
      return;
    }
    await this.clearLeftover();
  }

  async clearLeftover(): Promise<void> {
    const output = await this.#powershell(powershellArgs(windowsReleaseScript()));
    const state = parseWindowsReleaseReport(output);
    if (state.state !== 'released') {
      throw new Error(
        `could not release the network hold: ${state.state === 'failed' ? state.reason : 'still held'}`,
      );
    }
    this.#held = false;
  }

  async #powershell(args: string[]): Promise<string> {
    const output = await this.#run('powershell.exe', args, { timeoutMs: this.#timeoutMs });
    return output.stdout.trim() === '' ? output.stderr : output.stdout;
  }
}
