// The Windows network hold as PowerShell text (Windows PowerShell 5.1, NetSecurity cmdlets, run
// by the service as SYSTEM with -EncodedCommand; agent/core/powershell.ts) and the readers of
// what those scripts print. Pure, so every rule is checked in a unit test.
//
// Why block rules to "everywhere else", not a default outbound action of Block: in Windows
// Firewall a block rule beats every allow rule (bar authenticated-bypass IPsec rules), so a block
// rule whose remote addresses are the complement of the allowed ones holds whatever allow rules
// Windows, other software or Group Policy have already made. Setting DefaultOutboundAction to
// Block instead would (a) leave every enabled outbound allow rule open — Windows ships dozens and
// installers add more — (b) be overridden by a GPO that sets the outbound default, and (c)
// change a setting that must be remembered and put back after a crash.
// The rules here change nothing that is not ours: release and crash clean-up delete the group.
//
// PLATFORMS: Windows 10/11 and Server 2016+ (NetSecurity module, PowerShell 5.1). The hold needs
// the firewall on for every profile (it says so when one is off) and Group Policy that merges
// local rules (the default). With "Apply local firewall rules: No" our rules should be missing
// from the active store, which the check below reports as a hold not in force; not tried on a
// managed machine.
import {
  checkTargets,
  complement,
  formatRange,
  parseAddress,
  type AddressRange,
  type CheckedTarget,
} from './address.ts';
import type { HoldTarget } from './network-hold.ts';

/** The firewall group every rule of a hold is in; release removes exactly this group. */
export const HOLD_GROUP = 'Hallpass AUP hold';

/**
 * The script goes to PowerShell as -EncodedCommand on one command line, which Windows caps at
 * 32,767 characters; fifty IPv6 targets stay under it (the test builds that case).
 */
export const MAX_TARGETS = 50;

/** Where a rule blocks: a list the script declares once, or addresses of its own. */
export type WindowsRemote = 'elsewhere' | 'elsewhere-v4' | 'elsewhere-v6' | string[];

/** One outbound block rule of a hold. */
export interface WindowsBlockRule {
  name: string;
  displayName: string;
  protocol: 'TCP' | 'UDP' | 'ICMPv4' | 'ICMPv6';
  remote: WindowsRemote;
  /** Remote ports blocked (TCP/UDP only); null: every port. */
  remotePort: string[] | null;
}

/** A hold: everywhere but the allowed addresses (per family), and the rules. */
export interface WindowsHoldPlan {
  elsewhere4: string[];
  elsewhere6: string[];
  rules: WindowsBlockRule[];
}

/**
 * Addresses always left open, as on Linux: loopback, and what keeps the link alive — the DHCP
 * broadcast, IPv6 link-local (neighbour discovery) and link-scope multicast (DHCPv6, router
 * solicitation).
 */
const ALWAYS_OPEN: [string, string][] = [
  ['127.0.0.0', '127.255.255.255'],
  ['255.255.255.255', '255.255.255.255'],
  ['::1', '::1'],
  ['fe80::', 'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ['ff02::', 'ff02:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
];

/**
 * Ports always left open to any address: DNS (allowlisted names, and the server's, must resolve;
 * the resolver the network hands out is not known here) and, for UDP, DHCP and DHCPv6 servers
 * (so a lease renews by unicast to its server).
 */
const OPEN_TCP_PORTS = [53];
const OPEN_UDP_PORTS = [53, 67, 547];

function range(first: string, last: string): AddressRange {
  const a = parseAddress(first);
  const b = parseAddress(last);
  if (a === null || b === null) {
    throw new Error(`bad built-in range ${first}-${last}`);
  }
  return { family: a.family, first: a.value, last: b.value };
}

function single(target: CheckedTarget): AddressRange {
  return { family: target.address.family, first: target.address.value, last: target.address.value };
}

/** Ports 1–65535 except `open`, as Windows Firewall port ranges. */
function otherPorts(open: number[]): string[] {
  const out: string[] = [];
  let next = 1;
  for (const port of [...new Set(open)].sort((a, b) => a - b)) {
    if (port > next) {
      out.push(port - 1 === next ? String(next) : `${String(next)}-${String(port - 1)}`);
    }
    next = port + 1;
  }
  if (next <= 65535) {
    out.push(next === 65535 ? '65535' : `${String(next)}-65535`);
  }
  return out;
}

/**
 * The block rules that hold outbound traffic to `allowed`: TCP, UDP, ICMPv4 and ICMPv6 to every
 * address but the targets and ALWAYS_OPEN (DNS and DHCP ports excepted), then TCP and UDP to
 * targets open on some ports only, on their other ports. A rule takes one protocol or all, so
 * "all but DNS" is one rule per protocol; IP protocols other than these four are not held (none
 * reaches the internet without a TCP or UDP handshake first, which is held). Throws on a target
 * that is not an address and port (names are resolved first) and on more than MAX_TARGETS.
 */
export function windowsHoldPlan(allowed: HoldTarget[]): WindowsHoldPlan {
  const targets = checkTargets(allowed);
  if (targets.length > MAX_TARGETS) {
    throw new Error(
      `too many addresses to hold to (${String(targets.length)}; at most ${String(MAX_TARGETS)})`,
    );
  }
  const anyPort = new Set(targets.filter((t) => t.port === null).map((t) => t.text));
  // Addresses open on some ports only: everything else to them is blocked per port set.
  const portsOf = new Map<string, number[]>();
  for (const target of targets) {
    if (target.port !== null && !anyPort.has(target.text)) {
      portsOf.set(target.text, [...(portsOf.get(target.text) ?? []), target.port]);
    }
  }
  const kept = [...ALWAYS_OPEN.map(([a, b]) => range(a, b)), ...targets.map(single)];
  const elsewhere4 = complement(4, kept).map(formatRange);
  const elsewhere6 = complement(6, kept).map(formatRange);
  const rules: WindowsBlockRule[] = [];
  const add = (rule: Omit<WindowsBlockRule, 'name'>) => {
    rules.push({ name: `Hallpass-AUP-hold-${String(rules.length + 1)}`, ...rule });
  };
  const everything = 'Hallpass AUP hold: everything but the Hallpass server and allowlist';
  add({
    displayName: `${everything} (TCP)`,
    protocol: 'TCP',
    remote: 'elsewhere',
    remotePort: otherPorts(OPEN_TCP_PORTS),
  });
  add({
    displayName: `${everything} (UDP)`,
    protocol: 'UDP',
    remote: 'elsewhere',
    remotePort: otherPorts(OPEN_UDP_PORTS),
  });
  if (elsewhere4.length > 0) {
    add({
      displayName: `${everything} (ICMPv4)`,
      protocol: 'ICMPv4',
      remote: 'elsewhere-v4',
      remotePort: null,
    });
  }
  if (elsewhere6.length > 0) {
    add({
      displayName: `${everything} (ICMPv6)`,
      protocol: 'ICMPv6',
      remote: 'elsewhere-v6',
      remotePort: null,
    });
  }
  // One pair of rules per distinct port set, for the addresses sharing it.
  const byPorts = new Map<string, string[]>();
  for (const [address, ports] of portsOf) {
    const key = [...new Set(ports)].sort((a, b) => a - b).join(',');
    byPorts.set(key, [...(byPorts.get(key) ?? []), address]);
  }
  for (const [key, addresses] of byPorts) {
    const ports = key.split(',').map(Number);
    add({
      displayName: `Hallpass AUP hold: TCP ports other than ${key}`,
      protocol: 'TCP',
      remote: addresses,
      remotePort: otherPorts([...ports, ...OPEN_TCP_PORTS]),
    });
    add({
      displayName: `Hallpass AUP hold: UDP ports other than ${key}`,
      protocol: 'UDP',
      remote: addresses,
      remotePort: otherPorts([...ports, ...OPEN_UDP_PORTS]),
    });
  }
  return { elsewhere4, elsewhere6, rules };
}

/** A PowerShell single-quoted string: nothing inside is expanded; a quote is doubled. */
function quote(text: string): string {
  return `'${text.replace(/['\u2018\u2019\u201a\u201b]/g, "''")}'`;
}

function list(items: string[]): string {
  return `@(${items.map(quote).join(', ')})`;
}

const PREAMBLE = [
  "$ErrorActionPreference = 'Stop'",
  '[Console]::OutputEncoding = [System.Text.Encoding]::UTF8',
  `$group = ${quote(HOLD_GROUP)}`,
];

// What every script prints: the hold as the active store (what Windows enforces) shows it.
const REPORT = [
  'function Get-HoldState {',
  '  $rules = @(Get-NetFirewallRule -PolicyStore ActiveStore -Group $group -ErrorAction SilentlyContinue | ForEach-Object {',
  '    [ordered]@{ Name = [string]$_.Name; Enabled = [string]$_.Enabled; Direction = [string]$_.Direction; Action = [string]$_.Action }',
  '  })',
  '  $profiles = @(Get-NetFirewallProfile -PolicyStore ActiveStore | ForEach-Object {',
  '    [ordered]@{ Name = [string]$_.Name; Enabled = [int]$_.Enabled }',
  '  })',
  '  return [ordered]@{ rules = $rules; profiles = $profiles }',
  '}',
  'function Remove-Hold {',
  '  Get-NetFirewallRule -Group $group -ErrorAction SilentlyContinue | Remove-NetFirewallRule -ErrorAction SilentlyContinue',
  '}',
];

function finish(body: string[]): string {
  return [
    ...PREAMBLE,
    ...REPORT,
    '$result = [ordered]@{ error = $null; rules = @(); profiles = @() }',
    'try {',
    ...body.map((line) => `  ${line}`),
    '} catch {',
    '  $result.error = [string]$_.Exception.Message',
    ...(body.some((line) => line.startsWith('New-NetFirewallRule'))
      ? ['  # Half a hold is no hold: take back whatever was made.', '  Remove-Hold']
      : []),
    '}',
    'try {',
    '  $state = Get-HoldState',
    '  $result.rules = $state.rules',
    '  $result.profiles = $state.profiles',
    '} catch {',
    '  if ($null -eq $result.error) { $result.error = [string]$_.Exception.Message }',
    '}',
    'ConvertTo-Json -InputObject $result -Depth 5 -Compress',
    '',
  ].join('\r\n');
}

const REMOTE: Record<Exclude<WindowsRemote, string[]>, string> = {
  elsewhere: '($elsewhere4 + $elsewhere6)',
  'elsewhere-v4': '$elsewhere4',
  'elsewhere-v6': '$elsewhere6',
};

/** The script that replaces any hold with one to `allowed`, then reports the active store. */
export function windowsHoldScript(allowed: HoldTarget[]): string {
  const plan = windowsHoldPlan(allowed);
  const body = [
    // Declared once: the long lists are most of the script, which must fit one command line.
    `$elsewhere4 = ${list(plan.elsewhere4)}`,
    `$elsewhere6 = ${list(plan.elsewhere6)}`,
    'Remove-Hold',
    ...plan.rules.map((rule) =>
      [
        'New-NetFirewallRule',
        `-Name ${quote(rule.name)}`,
        `-DisplayName ${quote(rule.displayName)}`,
        '-Group $group',
        '-Direction Outbound',
        '-Action Block',
        '-Profile Any',
        `-Protocol ${rule.protocol}`,
        `-RemoteAddress ${Array.isArray(rule.remote) ? list(rule.remote) : REMOTE[rule.remote]}`,
        ...(rule.remotePort === null ? [] : [`-RemotePort ${list(rule.remotePort)}`]),
        '| Out-Null',
      ].join(' '),
    ),
  ];
  return finish(body);
}

/** The script that removes every rule of the group (release, and clean-up at service start). */
export function windowsReleaseScript(): string {
  return finish(['Remove-Hold']);
}

/** What a script's report says about the hold. */
export type WindowsHoldState =
  { state: 'held'; rules: number } | { state: 'released' } | { state: 'failed'; reason: string };

interface Report {
  error: string | null;
  rules: { Name: string; Enabled: string; Direction: string; Action: string }[];
  profiles: { Name: string; Enabled: number }[];
}

function asReport(raw: string): Report | string {
  const start = raw.indexOf('{');
  let parsed: unknown;
  try {
    parsed = start === -1 ? undefined : JSON.parse(raw.slice(start));
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) {
    return `PowerShell did not print the hold's report: ${raw.trim().slice(0, 200) || '(nothing)'}`;
  }
  const value = parsed as Record<string, unknown>;
  const error = value.error;
  // ConvertTo-Json of a one-item array inside a hashtable stays an array in 5.1, but be kind to
  // a single object as well.
  const rules = Array.isArray(value.rules) ? value.rules : value.rules ? [value.rules] : [];
  const profiles = Array.isArray(value.profiles)
    ? value.profiles
    : value.profiles
      ? [value.profiles]
      : [];
  const ruleOk = (r: unknown): r is Report['rules'][number] =>
    typeof r === 'object' &&
    r !== null &&
    ['Name', 'Enabled', 'Direction', 'Action'].every(
      (k) => typeof (r as Record<string, unknown>)[k] === 'string',
    );
  const profileOk = (p: unknown): p is Report['profiles'][number] =>
    typeof p === 'object' &&
    p !== null &&
    typeof (p as Record<string, unknown>).Name === 'string' &&
    typeof (p as Record<string, unknown>).Enabled === 'number';
  if (
    (error !== null && typeof error !== 'string') ||
    !rules.every(ruleOk) ||
    !profiles.every(profileOk)
  ) {
    return 'the hold report is not in the expected shape';
  }
  return { error: error ?? null, rules, profiles };
}

/** Reads the hold script's report: held only when every rule is active, enabled and blocking. */
export function parseWindowsHoldReport(raw: string, expectedRules: number): WindowsHoldState {
  const report = asReport(raw);
  if (typeof report === 'string') {
    return { state: 'failed', reason: report };
  }
  if (report.error !== null) {
    return { state: 'failed', reason: `Windows Firewall refused the hold: ${report.error}` };
  }
  if (report.profiles.length === 0) {
    return { state: 'failed', reason: 'Windows Firewall reported no profiles' };
  }
  // GpoBoolean: 1 is True; 0 False and 2 NotConfigured (which the active store never shows).
  const off = report.profiles.filter((p) => p.Enabled !== 1).map((p) => p.Name);
  if (off.length > 0) {
    return {
      state: 'failed',
      reason: `Windows Firewall is off for the ${off.join(', ')} profile${off.length > 1 ? 's' : ''}, so a hold would not hold`,
    };
  }
  const enforced = report.rules.filter(
    (r) => r.Enabled === 'True' && r.Direction === 'Outbound' && r.Action === 'Block',
  );
  if (enforced.length !== expectedRules) {
    return {
      state: 'failed',
      reason:
        `Windows Firewall shows ${String(enforced.length)} of the hold's ${String(expectedRules)} rules in force ` +
        '(Group Policy may not merge local rules)',
    };
  }
  return { state: 'held', rules: enforced.length };
}

/** Reads the release script's report: released only when no rule of the group is left. */
export function parseWindowsReleaseReport(raw: string): WindowsHoldState {
  const report = asReport(raw);
  if (typeof report === 'string') {
    return { state: 'failed', reason: report };
  }
  if (report.rules.length > 0) {
    return {
      state: 'failed',
      reason: `${String(report.rules.length)} rule(s) of the hold are still in Windows Firewall${report.error === null ? '' : `: ${report.error}`}`,
    };
  }
  if (report.error !== null) {
    return { state: 'failed', reason: `Windows Firewall: ${report.error}` };
  }
  return { state: 'released' };
}
