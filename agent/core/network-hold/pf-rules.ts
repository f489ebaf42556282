// The macOS network hold as pf rules, and the readers of what pfctl prints about it. Pure, so
// every rule is checked in a unit test.
//
// Where the rules live: an anchor under com.apple/. macOS's stock /etc/pf.conf evaluates
// `anchor "com.apple/*"` — every child anchor of com.apple, including ones loaded after boot,
// which is how the Application Firewall's own `com.apple/250.ApplicationFirewall` works. An
// anchor anywhere else (`com.hallpass/…`) would load without error and filter nothing, because
// pf evaluates an anchor only where the main ruleset names it, and rewriting /etc/pf.conf (or
// reloading the main ruleset, which drops anchors system services inserted) is not ours to do.
// Children are evaluated in name order, hence the `100.` prefix: before Apple's 200/250 anchors,
// so no `pass quick` of theirs is reached first. Every rule is `quick`: a quick match inside an
// anchor ends evaluation of the whole ruleset, so the final block stands whatever comes after.
// A trust whose own pf.conf passes traffic `quick` *before* the com.apple anchor point can let
// that traffic past the hold; that is their ruleset's say, and the README names it.
//
// PLATFORMS: macOS 11+ (pfctl in /sbin; enable references -E/-X since 10.7).
import { checkTargets } from './address.ts';
import type { HoldTarget } from './network-hold.ts';

/** The hold's anchor. */
export const PF_ANCHOR = 'com.apple/100.hallpass.aup-hold';

/** The final rule; its presence is how a loaded hold is recognised. */
export const PF_FINAL_RULE = 'block return out quick all';

/**
 * The ruleset (pf.conf syntax, for `pfctl -a PF_ANCHOR -f -`) that holds outbound traffic to
 * `allowed`. Loopback, DHCP/DHCPv6, DNS to any resolver (allowlisted names must resolve) and IPv6
 * neighbour discovery stay open; replies to allowed
 * connections pass by pf's state; everything else is refused at once (`return`: a TCP reset or
 * ICMP unreachable, so an application fails fast rather than hangs). Throws on a target that is
 * not an address and port: names are resolved first.
 */
export function pfHoldRules(allowed: HoldTarget[]): string {
  const targets = checkTargets(allowed);
  const lines = [
    'pass out quick on lo0 all',
    'pass out quick proto udp from any to any port { 67, 547 }',
    'pass out quick proto { tcp, udp } from any to any port 53',
    'pass out quick inet6 proto icmp6 all icmp6-type { neighbrsol, neighbradv, routersol }',
  ];
  for (const target of targets) {
    const family = target.address.family === 4 ? 'inet' : 'inet6';
    lines.push(
      target.port === null
        ? `pass out quick ${family} from any to ${target.short}`
        : `pass out quick ${family} proto { tcp, udp } from any to ${target.short} port ${String(target.port)}`,
    );
  }
  lines.push(PF_FINAL_RULE);
  return `${lines.join('\n')}\n`;
}

/**
 * Whether the main ruleset (`pfctl -s rules`) evaluates com.apple's child anchors, so rules in
 * PF_ANCHOR are reached at all. The stock ruleset prints `anchor "com.apple/*" all`; a trust
 * that replaced /etc/pf.conf without it would load our rules into an anchor nothing evaluates,
 * and a hold that filters nothing must never be reported as held.
 */
export function pfMainEvaluatesAnchor(output: string): boolean {
  return output.split('\n').some((line) => /^anchor "com\.apple\/\*"(\s|$)/.test(line.trim()));
}

/** The enable reference `pfctl -E` printed (`Token : 123…`), or null when it printed none. */
export function parsePfToken(output: string): string | null {
  const match = /^Token\s*:\s*(\d{1,20})\s*$/m.exec(output);
  return match?.[1] ?? null;
}

/** Whether `pfctl -s info` says pf is enabled; unknown for anything else. */
export function parsePfStatus(output: string): 'enabled' | 'disabled' | 'unknown' {
  const line = /^Status:\s*(Enabled|Disabled)\b/m.exec(output);
  if (line === null) {
    return 'unknown';
  }
  return line[1] === 'Enabled' ? 'enabled' : 'disabled';
}

/** What `pfctl -a PF_ANCHOR -s rules` says about the hold. */
export type PfAnchorState =
  { state: 'held' } | { state: 'empty' } | { state: 'other'; reason: string };

/**
 * Reads the anchor's rules as pfctl prints them back (`port = 443`, `flags S/SA keep state`
 * added): held when the final block is the last rule and every target has a pass rule; empty
 * when there are no rules or the anchor does not exist (`DIOCGETRULES: Invalid argument`).
 */
export function parsePfAnchorRules(
  stdout: string,
  stderr: string,
  allowed: HoldTarget[],
): PfAnchorState {
  const rules = stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (rules.length === 0) {
    // pfctl prints ALTQ notices on stderr as a matter of course; only a refusal other than
    // "no such anchor" is a reason to doubt.
    const refusal = stderr
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line.startsWith('pfctl:') && !/DIOCGETRULES: Invalid argument/.test(line));
    return refusal.length === 0
      ? { state: 'empty' }
      : { state: 'other', reason: refusal[0] ?? 'pfctl refused' };
  }
  if (rules.at(-1) !== PF_FINAL_RULE) {
    return {
      state: 'other',
      reason: `the anchor's last rule is not the hold's: ${rules.at(-1) ?? ''}`,
    };
  }
  for (const target of checkTargets(allowed)) {
    // pfctl splits `proto { tcp, udp }` into one rule per protocol; either shows the target.
    const to = ` to ${target.short}${target.port === null ? '' : ` port = ${String(target.port)}`}`;
    const shown = rules.some(
      (rule) =>
        rule.startsWith('pass out quick') &&
        (rule.endsWith(to) || (rule.includes(`${to} `) && !rule.includes(`${to} port `))),
    );
    if (!shown) {
      return { state: 'other', reason: `no pass rule for ${target.short} in the anchor` };
    }
  }
  return { state: 'held' };
}
