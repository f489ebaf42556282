// The checks and their results in words a pupil can read.
import type { CheckId, CheckStatus } from '../../shared/schemas/check-result.ts';
import type { TrayIconState } from '../../shared/tray-bridge.ts';

/** Each check's name and what it is for. */
export const CHECK_WORDS: Record<CheckId, { name: string; purpose: string }> = {
  'disk-encryption': {
    name: 'Disk encryption',
    purpose: 'Keeps the files on this computer safe if it is lost or stolen.',
  },
  antivirus: { name: 'Anti-virus', purpose: 'Stops harmful programs.' },
  'os-updates': { name: 'Updates', purpose: 'Fixes security holes in the computer’s system.' },
  firewall: { name: 'Firewall', purpose: 'Blocks other computers from getting in uninvited.' },
  'screen-lock': {
    name: 'Screen lock',
    purpose: 'Locks the screen when nobody is using the computer.',
  },
  'agent-health': { name: 'Hallpass itself', purpose: 'Checks that Hallpass is working properly.' },
};

/** A result's status as a word, so colour is never the only sign. */
export const STATUS_WORDS: Record<CheckStatus, string> = {
  pass: 'OK',
  fail: 'Needs fixing',
  warn: 'Needs a look',
  unknown: 'Could not check',
};

/** The headline for each icon state. */
export const HEADLINES: Record<TrayIconState, string> = {
  compliant: 'Everything is fine on this computer.',
  'needs-attention': 'Some things on this computer need a look.',
  'not-compliant': 'Something on this computer needs fixing.',
  unreachable: 'Hallpass cannot reach its service on this computer. It will keep trying.',
};
