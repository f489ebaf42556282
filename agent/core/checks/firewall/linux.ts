import type { Host } from '../../host.ts';
import { ProbeError, type CommandOutput } from '../../runner.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import { unknownComponent, type FirewallComponent, type FirewallFacts } from './facts.ts';

const TIMEOUT_MS = 10_000;

/** Raw answers of the four Linux firewall front ends; null when that command is not installed. */
export interface LinuxRaw {
  /** `nft -j list ruleset`: the kernel's nftables ruleset (iptables-nft rules included). */
  nft: CommandOutput | null;
  /** `iptables -S`: the filter table, which also shows iptables-legacy rules nft cannot see. */
  iptables: CommandOutput | null;
  /** `ufw status`: "Status: active" / "Status: inactive" (root only). */
  ufw: CommandOutput | null;
  /** `firewall-cmd --state`: "running" / "not running". */
  firewalld: CommandOutput | null;
}

async function runIfInstalled(
  host: Host,
  command: string,
  args: string[],
): Promise<CommandOutput | null> {
  try {
    return await host.run(command, args, { timeoutMs: TIMEOUT_MS });
  } catch (error) {
    // A missing front end is normal (most machines have one or two); other failures propagate.
    if (error instanceof ProbeError && error.code === 'command-missing') {
      return null;
    }
    throw error;
  }
}

/** Asks every installed front end; throws command-missing when none of them is installed. */
export async function probe(host: Host): Promise<LinuxRaw> {
  const [nft, iptables, ufw, firewalld] = await Promise.all([
    runIfInstalled(host, 'nft', ['-j', 'list', 'ruleset']),
    runIfInstalled(host, 'iptables', ['-S']),
    runIfInstalled(host, 'ufw', ['status']),
    runIfInstalled(host, 'firewall-cmd', ['--state']),
  ]);
  if (nft === null && iptables === null && ufw === null && firewalld === null) {
    throw new ProbeError(
      'command-missing',
      'none of nft, iptables, ufw or firewall-cmd is installed',
    );
  }
  return { nft, iptables, ufw, firewalld };
}

const shown = (output: CommandOutput) =>
  JSON.stringify(`${output.stdout}${output.stderr}`.trim().slice(0, 200));

/** A non-zero exit: "Operation not permitted"/"you must be root" is permission, the rest is noise. */
function failed(name: string, output: CommandOutput): FirewallComponent {
  // LC_ALL=C is set by the runner, and nft/iptables/ufw print these in English regardless.
  const denied = /not permitted|permission denied|must be root|need to be root/i.test(
    output.stdout + output.stderr,
  );
  return unknownComponent(
    name,
    denied ? 'permission-denied' : 'unrecognised-output',
    `exited ${output.exitCode}: ${shown(output)}`,
  );
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// Statements that never stop a packet by themselves; a rule made only of these followed by a
// drop or reject verdict drops everything that reaches it (nft JSON schema, libnftables-json(5)).
const NEUTRAL = new Set(['counter', 'log']);
const IP_FAMILIES = new Set(['ip', 'ip6', 'inet']);

/** `nft -j list ruleset`: on when an IP input filter chain drops what it does not accept. */
export function parseNft(output: CommandOutput): FirewallComponent {
  if (output.exitCode !== 0) {
    return failed('nftables', output);
  }
  let json: unknown;
  try {
    json = JSON.parse(output.stdout);
  } catch {
    return unknownComponent('nftables', 'unrecognised-output', `not JSON: ${shown(output)}`);
  }
  const items = isRecord(json) && Array.isArray(json.nftables) ? (json.nftables as unknown[]) : [];
  // Even an empty ruleset starts with a metainfo object; without it we are not reading nft.
  if (!isRecord(items[0]) || !isRecord(items[0].metainfo)) {
    return unknownComponent('nftables', 'unrecognised-output', `no metainfo: ${shown(output)}`);
  }
  // Base chains on the input hook of an IP family (bridge/arp "input" is another packet path).
  const inputChains = new Map<string, Record<string, unknown>>();
  for (const item of items) {
    const chain = isRecord(item) && isRecord(item.chain) ? item.chain : null;
    if (
      chain?.hook === 'input' &&
      chain.type === 'filter' &&
      IP_FAMILIES.has(String(chain.family))
    ) {
      inputChains.set(
        `${String(chain.family)} ${String(chain.table)} ${String(chain.name)}`,
        chain,
      );
    }
  }
  for (const [key, chain] of inputChains) {
    if (chain.policy === 'drop') {
      return { name: 'nftables', state: 'on', detail: `${key}: policy drop`, reason: null };
    }
  }
  for (const item of items) {
    const rule = isRecord(item) && isRecord(item.rule) ? item.rule : null;
    const key = rule && `${String(rule.family)} ${String(rule.table)} ${String(rule.chain)}`;
    if (!rule || key === null || !inputChains.has(key) || !Array.isArray(rule.expr)) {
      continue;
    }
    const keys = (rule.expr as unknown[]).map((e) => (isRecord(e) ? Object.keys(e)[0] : ''));
    const verdict = keys.at(-1);
    if (
      (verdict === 'drop' || verdict === 'reject') &&
      keys.slice(0, -1).every((k) => NEUTRAL.has(k ?? ''))
    ) {
      return {
        name: 'nftables',
        state: 'on',
        detail: `${key}: unconditional ${verdict}`,
        reason: null,
      };
    }
  }
  const detail =
    inputChains.size === 0
      ? `no input filter chain (${items.length - 1} objects)`
      : `${inputChains.size} input chain(s), none drops by default`;
  return { name: 'nftables', state: 'off', detail, reason: null };
}

/** `iptables -S`: on when INPUT's policy is DROP or INPUT ends in an unconditional DROP/REJECT. */
export function parseIptables(output: CommandOutput): FirewallComponent {
  if (output.exitCode !== 0) {
    return failed('iptables', output);
  }
  const lines = output.stdout.split('\n').filter((line) => line.trim() !== '');
  // iptables-nft warns about legacy tables with a "# Warning:" line; every other line is a rule.
  const odd = lines.find((line) => !/^-[PNA] \S/.test(line) && !line.startsWith('# Warning:'));
  const policy = /^-P INPUT (\S+)$/m.exec(output.stdout)?.[1];
  if (odd !== undefined || policy === undefined) {
    return unknownComponent('iptables', 'unrecognised-output', `not iptables -S: ${shown(output)}`);
  }
  if (policy === 'DROP') {
    return { name: 'iptables', state: 'on', detail: '-P INPUT DROP', reason: null };
  }
  const catchAll = lines.find((line) =>
    /^-A INPUT -j (DROP|REJECT)( --reject-with \S+)?$/.test(line),
  );
  if (catchAll !== undefined) {
    return { name: 'iptables', state: 'on', detail: catchAll, reason: null };
  }
  return {
    name: 'iptables',
    state: 'off',
    detail: `-P INPUT ${policy}, no catch-all drop`,
    reason: null,
  };
}

/** `ufw status`: the first line is "Status: active" or "Status: inactive" (ufw's own strings). */
export function parseUfw(output: CommandOutput): FirewallComponent {
  if (output.exitCode !== 0) {
    return failed('ufw', output);
  }
  const first = output.stdout.split('\n')[0]?.trim();
  if (first === 'Status: active' || first === 'Status: inactive') {
    return {
      name: 'ufw',
      state: first.endsWith(' active') ? 'on' : 'off',
      detail: first,
      reason: null,
    };
  }
  return unknownComponent('ufw', 'unrecognised-output', `not ufw status: ${shown(output)}`);
}

/** `firewall-cmd --state`: "running" (exit 0) or "not running" (exit 252, firewall-cmd(1)). */
export function parseFirewalld(output: CommandOutput): FirewallComponent {
  const text = output.stdout.trim();
  if (text === 'running' && output.exitCode === 0) {
    return { name: 'firewalld', state: 'on', detail: 'running', reason: null };
  }
  if (text === 'not running' && output.exitCode === 252) {
    return { name: 'firewalld', state: 'off', detail: 'not running', reason: null };
  }
  return output.exitCode === 0
    ? unknownComponent('firewalld', 'unrecognised-output', `not a state: ${shown(output)}`)
    : failed('firewalld', output);
}

/**
 * Combines the front ends: any one on is enough. "Off" needs a ruleset (nft or iptables) read
 * and found not filtering; an inactive ufw alone does not prove the kernel has no rules.
 */
export function parse(raw: LinuxRaw): Parsed<FirewallFacts> {
  const components: FirewallComponent[] = [];
  if (raw.nft) {
    components.push(parseNft(raw.nft));
  }
  if (raw.iptables) {
    components.push(parseIptables(raw.iptables));
  }
  if (raw.ufw) {
    components.push(parseUfw(raw.ufw));
  }
  if (raw.firewalld) {
    components.push(parseFirewalld(raw.firewalld));
  }
  const rulesetRead = components.some(
    (c) => (c.name === 'nftables' || c.name === 'iptables') && c.state !== 'unknown',
  );
  if (!components.some((c) => c.state === 'on') && !rulesetRead) {
    components.push(
      unknownComponent(
        'ruleset',
        'command-missing',
        'neither nft nor iptables could read the ruleset',
      ),
    );
  }
  return { ok: true, facts: { rule: 'any', components } };
}

/** The Linux half of the firewall check. */
export const linux = platformCheck({ probe, parse });
