import type { Host } from '../../host.ts';
import type { CommandOutput } from '../../runner.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import type { FirewallFacts } from './facts.ts';

const TIMEOUT_MS = 10_000;
const SOCKETFILTERFW = '/usr/libexec/ApplicationFirewall/socketfilterfw';

/** Runs `socketfilterfw --getglobalstate`; it answers as any user (m-cli PR #161). */
export function probe(host: Host): Promise<CommandOutput> {
  return host.run(SOCKETFILTERFW, ['--getglobalstate'], { timeoutMs: TIMEOUT_MS });
}

// The number in "(State = N)" is the globalstate: 0 off, 1 on, 2 on and blocking all incoming
// (osquery PR #4247). The words before it changed across releases: Big Sur printed
// "Firewall is enabled. (State = 2)", Sequoia prints "Firewall is blocking all non-essential
// incoming connections. (State = 2)" (Mac-Health-Check PR #8). We need both to agree.
const GLOBAL_STATE =
  /^Firewall is (enabled|disabled|blocking all non-essential incoming connections)\. \(State = ([0-2])\)$/;

const WORDS_FOR_STATE: Record<string, readonly string[]> = {
  '0': ['disabled'],
  '1': ['enabled'],
  '2': ['enabled', 'blocking all non-essential incoming connections'],
};

/** Parses the one line `--getglobalstate` prints; anything else is not understood. */
export function parse(output: CommandOutput): Parsed<FirewallFacts> {
  const text = output.stdout.replace(/\s+$/, '');
  const shown = JSON.stringify(`${output.stdout}${output.stderr}`.slice(0, 200));
  if (output.exitCode !== 0 || output.stderr.trim() !== '' || text.includes('\n')) {
    return {
      ok: false,
      code: 'unrecognised-output',
      detail: `socketfilterfw exited ${output.exitCode} with ${shown}`,
    };
  }
  const match = GLOBAL_STATE.exec(text);
  const words = match?.[1];
  const state = match?.[2];
  if (words === undefined || state === undefined || !WORDS_FOR_STATE[state]?.includes(words)) {
    return { ok: false, code: 'unrecognised-output', detail: `not a global state: ${shown}` };
  }
  return {
    ok: true,
    facts: {
      rule: 'any',
      components: [
        {
          name: 'Application Firewall',
          state: state === '0' ? 'off' : 'on',
          detail: `State = ${state}`,
          reason: null,
        },
      ],
    },
  };
}

/** The macOS half of the firewall check. */
export const darwin = platformCheck({ probe, parse });
