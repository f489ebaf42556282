import type { UnknownCode } from '../../../../shared/index.ts';

/** Whether one firewall component filters incoming connections, as far as the OS told us. */
export type ComponentState = 'on' | 'off' | 'unknown';

/** One thing that can filter incoming connections: a Windows profile, the macOS firewall, nft… */
export type FirewallComponent = {
  /** 'Domain' | 'Private' | 'Public', 'Application Firewall', 'nftables', 'iptables', 'ufw'… */
  name: string;
  state: ComponentState;
  /** The raw value behind the state, for ICT ("Enabled=1, DefaultInboundAction=Block"). */
  detail: string;
  /** Why the state is 'unknown'; null otherwise. */
  reason: UnknownCode | null;
};

/**
 * What every OS reports about its firewall. `rule` says how components combine:
 * 'all' (Windows: every profile must be on) or 'any' (one active filter is enough).
 */
export type FirewallFacts = {
  rule: 'all' | 'any';
  components: FirewallComponent[];
};

/** A component whose state could not be told. */
export function unknownComponent(
  name: string,
  reason: UnknownCode,
  detail: string,
): FirewallComponent {
  return { name, state: 'unknown', detail, reason };
}

/** The combined state: 'all' needs every component on, 'any' needs one; unknown beats off only for 'any'. */
export function combinedState(facts: FirewallFacts): ComponentState {
  const states = facts.components.map((component) => component.state);
  if (states.length === 0) {
    return 'unknown';
  }
  if (facts.rule === 'all') {
    if (states.includes('off')) {
      return 'off';
    }
    return states.includes('unknown') ? 'unknown' : 'on';
  }
  if (states.includes('on')) {
    return 'on';
  }
  return states.includes('unknown') ? 'unknown' : 'off';
}
