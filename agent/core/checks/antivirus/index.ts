import { defineCheck } from '../define-check.ts';
import { darwin } from './darwin.ts';
import { evaluate } from './evaluate.ts';
import type { AntivirusFacts } from './facts.ts';
import { linux } from './linux.ts';
import { windows } from './windows.ts';

/** Anti-virus present, protecting in real time, with signatures younger than the policy allows. */
export const antivirusCheck = defineCheck<AntivirusFacts>({
  id: 'antivirus',
  title: 'Anti-virus',
  // PowerShell start-up plus two CIM queries can take well over 10 s on a cold school laptop.
  timeoutMs: 45_000,
  platforms: { windows, darwin, linux },
  evaluate,
});
