// The macOS network hold: pf rules in the anchor PF_ANCHOR (see pf-rules.ts for why there),
// pf enabled with a reference of our own (`pfctl -E` gives a token, `pfctl -X <token>` gives it
// back), so pf stays on for whoever else enabled it and goes off again only if nobody else did.
// pf rules and references outlive the process that made them: the service releases on signing
// and on stopping, and at start flushes the anchor and gives back a token a crashed service left
// (kept in a file beside its state, since pf has no owner to tie them to). launchd restarts a
// crashed service (KeepAlive), so a hold is left behind only until it is back.
import { readFile, rm, writeFile } from 'node:fs/promises';
import type { Runner } from '../runner.ts';
import type { HoldTarget, NetworkHold } from './network-hold.ts';
import {
  parsePfAnchorRules,
  parsePfStatus,
  parsePfToken,
  pfHoldRules,
  pfMainEvaluatesAnchor,
  PF_ANCHOR,
} from './pf-rules.ts';

/** pfctl by its full path, in a root-only folder (agent/core/probe-environment.ts: UNIX_PROBE_PATH). */
const PFCTL = '/sbin/pfctl';

export interface DarwinHoldOptions {
  run: Runner;
  /** Where the enable token is kept between a hold and its release (root-only state folder). */
  tokenFile: string;
  timeoutMs?: number;
}

function firstRefusal(text: string): string {
  // pfctl prints "No ALTQ support in kernel" and "ALTQ related functions disabled" on every run.
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !/ALTQ/.test(line));
  return lines.find((line) => line.startsWith('pfctl:')) ?? lines[0] ?? 'no reason given';
}

/** Holds with pf. */
export class DarwinNetworkHold implements NetworkHold {
  readonly #run: Runner;
  readonly #tokenFile: string;
  readonly #timeoutMs: number;
  #held = false;

  constructor(options: DarwinHoldOptions) {
    this.#run = options.run;
    this.#tokenFile = options.tokenFile;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
  }

  held(): boolean {
    return this.#held;
  }

  async hold(allowed: HoldTarget[]): Promise<void> {
    const rules = pfHoldRules(allowed);
    this.#held = false;
    try {
      const main = await this.#pfctl(['-s', 'rules']);
      if (!pfMainEvaluatesAnchor(main.stdout)) {
        throw new Error(
          main.exitCode !== 0
            ? `pfctl could not show the main ruleset: ${firstRefusal(main.stderr)}`
            : 'the main pf ruleset does not evaluate anchor "com.apple/*" (was /etc/pf.conf ' +
                'replaced?), so rules in the hold anchor would filter nothing',
        );
      }
      const loaded = await this.#pfctl(['-a', PF_ANCHOR, '-f', '-'], rules);
      if (loaded.exitCode !== 0) {
        throw new Error(`pf refused the rules: ${firstRefusal(loaded.stderr)}`);
      }
      if ((await this.#readToken()) === null) {
        const enabled = await this.#pfctl(['-E']);
        const token = parsePfToken(`${enabled.stdout}\n${enabled.stderr}`);
        if (enabled.exitCode !== 0 || token === null) {
          throw new Error(`pf could not be enabled: ${firstRefusal(enabled.stderr)}`);
        }
        await writeFile(this.#tokenFile, `${token}\n`, { mode: 0o600 });
      }
      const info = await this.#pfctl(['-s', 'info']);
      const status = parsePfStatus(info.stdout);
      if (status !== 'enabled') {
        throw new Error(`pf is not enabled after enabling it (pfctl -s info: ${status})`);
      }
      const shown = await this.#pfctl(['-a', PF_ANCHOR, '-s', 'rules']);
      const anchor = parsePfAnchorRules(shown.stdout, shown.stderr, allowed);
      if (anchor.state !== 'held') {
        throw new Error(
          anchor.state === 'empty'
            ? 'pf shows no rules in the hold anchor'
            : `pf does not show the hold: ${anchor.reason}`,
        );
      }
    } catch (error) {
      const undone = await this.clearLeftover().then(
        () => '',
        (cleared: unknown) =>
          `; what was loaded could not be taken back (${cleared instanceof Error ? cleared.message : String(cleared)})`,
      );
      throw new Error(
        `could not hold the network: ${error instanceof Error ? error.message : String(error)}${undone}`,
        { cause: error },
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
    await this.#pfctl(['-a', PF_ANCHOR, '-F', 'all']);
    const shown = await this.#pfctl(['-a', PF_ANCHOR, '-s', 'rules']);
    const anchor = parsePfAnchorRules(shown.stdout, shown.stderr, []);
    if (anchor.state !== 'empty') {
      throw new Error(
        `could not release the network hold: pf still shows rules in ${PF_ANCHOR}` +
          (anchor.state === 'other' ? ` (${anchor.reason})` : ''),
      );
    }
    this.#held = false;
    const token = await this.#readToken();
    if (token !== null) {
      // After a reboot the token is stale and pfctl says so; the rules are gone either way, and
      // an unknown token cannot turn off a pf someone else enabled.
      await this.#pfctl(['-X', token]);
      await rm(this.#tokenFile, { force: true });
    }
  }

  async #readToken(): Promise<string | null> {
    const text = await readFile(this.#tokenFile, 'utf8').catch(() => null);
    const token = text?.trim() ?? '';
    return /^\d{1,20}$/.test(token) ? token : null;
  }

  #pfctl(args: string[], input?: string) {
    return this.#run(PFCTL, args, {
      timeoutMs: this.#timeoutMs,
      ...(input === undefined ? {} : { input }),
    });
  }
}
