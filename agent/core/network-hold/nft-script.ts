// The nftables commands of a Linux network hold, one per line, for `nft -i` (interactive: the
// process stays alive holding the table). Pure, so every rule is checked in a unit test and the
// same text runs for real in a network namespace.
//
// The table is created with `flags owner`: the kernel removes it the moment the netlink socket
// of the `nft` process that made it closes. The service keeps that process alive for as long
// as the hold lasts, with its stdin as the only handle: if the service stops, crashes or is
// killed, the pipe closes, nft exits and the hold goes with it. No hold can outlive Hallpass.
import { isIP } from 'node:net';
import type { HoldTarget } from './network-hold.ts';

/** The table's name; one hold at a time. */
export const HOLD_TABLE = 'hallpass_aup_hold';

/** One accept rule for a target, or null when it is not an address nft can take. */
function targetRule(target: HoldTarget): string | null {
  const family = isIP(target.address);
  if (family === 0) {
    return null;
  }
  const address = `${family === 4 ? 'ip' : 'ip6'} daddr ${target.address}`;
  if (target.port === null) {
    return `add rule inet ${HOLD_TABLE} output ${address} accept`;
  }
  if (!Number.isInteger(target.port) || target.port < 1 || target.port > 65535) {
    return null;
  }
  return `add rule inet ${HOLD_TABLE} output ${address} meta l4proto { tcp, udp } th dport ${String(target.port)} accept`;
}

/**
 * The commands that hold outbound traffic to `allowed`. Loopback stays open (local services
 * and the system's stub resolver), as do DHCP (so the lease renews), DNS and replies on connections
 * already allowed; everything else is refused at once (the application sees the connection
 * fail rather than hang). Throws on a target that is not an address: names are resolved first.
 */
export function holdScript(allowed: HoldTarget[]): string[] {
  const rules = allowed.map((target) => {
    const rule = targetRule(target);
    if (rule === null) {
      throw new Error(`not an address and port nftables can hold to: ${JSON.stringify(target)}`);
    }
    return rule;
  });
  return [
    `add table inet ${HOLD_TABLE} { flags owner; }`,
    // A packet must pass every table's chain on this hook: another table's accept cannot open
    // the hold, and this chain's reject stands whatever the others say.
    `add chain inet ${HOLD_TABLE} output { type filter hook output priority -10; policy accept; }`,
    `add rule inet ${HOLD_TABLE} output ct state established,related accept`,
    `add rule inet ${HOLD_TABLE} output ip daddr 127.0.0.0/8 accept`,
    `add rule inet ${HOLD_TABLE} output ip6 daddr ::1 accept`,
    `add rule inet ${HOLD_TABLE} output udp dport { 67, 547 } accept`,
    // DNS to any resolver: allowlisted names (and the server's) must resolve while held, and
    // the resolver the network hands out is not known here. A lookup carries no browsing.
    `add rule inet ${HOLD_TABLE} output meta l4proto { tcp, udp } th dport 53 accept`,
    ...rules,
    `add rule inet ${HOLD_TABLE} output meta l4proto tcp counter reject with tcp reset`,
    `add rule inet ${HOLD_TABLE} output counter reject`,
  ];
}
