import { defineCheck } from '../define-check.ts';
import { darwin } from './darwin.ts';
import { evaluate } from './evaluate.ts';
import type { FirewallFacts } from './facts.ts';
import { linux } from './linux.ts';
import { windows } from './windows.ts';

/** Is a host firewall filtering incoming connections? (PLATFORMS.md §4) */
export const firewallCheck = defineCheck<FirewallFacts>({
  id: 'firewall',
  title: 'Firewall',
  // PowerShell start-up dominates on Windows; the Linux front ends run side by side.
  timeoutMs: 30_000,
  platforms: { windows, darwin, linux },
  evaluate,
});
