import { defineCheck } from '../define-check.ts';
import { darwin } from './darwin.ts';
import { evaluate } from './evaluate.ts';
import type { ScreenLockFacts } from './facts.ts';
import { linux } from './linux.ts';
import { windows } from './windows.ts';

/** Whether the OS's own idle lock is on and soon enough for the policy. */
export const screenLockCheck = defineCheck<ScreenLockFacts>({
  id: 'screen-lock',
  title: 'Screen lock',
  timeoutMs: 45_000,
  platforms: { windows, darwin, linux },
  evaluate,
});
