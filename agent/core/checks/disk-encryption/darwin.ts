import type { Host } from '../../host.ts';
import type { CommandOutput } from '../../runner.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import type { DiskEncryptionFacts, EncryptionState } from './facts.ts';

/** Runs `fdesetup status`, which works without root for status (fdesetup(8)). */
export function probe(host: Host): Promise<CommandOutput> {
  return host.run('/usr/bin/fdesetup', ['status'], { timeoutMs: 15_000 });
}

const PROGRESS = /^(Encryption|Decryption) in progress: Percent completed = (\d{1,3}(?:\.\d+)?)$/;

// Lines fdesetup prints besides the headline that do not change the verdict; anything else is
// unrecognised so that a new wording becomes `unknown`, not a guess.
const INFORMATIONAL = [
  /^FileVault master keychain appears to be installed\.$/,
  /^Deferred enablement appears to be active( for user '.*')?\.$/,
];

/**
 * Parses `fdesetup status`. The headlines are documented in fdesetup(8) and the ones in
 * PLATFORMS.md §1: "FileVault is On.", "FileVault is Off.", "FileVault is Off, but will be
 * enabled after the next restart.", and a progress line during (de)cryption.
 */
export function parse(raw: CommandOutput): Parsed<DiskEncryptionFacts> {
  const lines = raw.stdout
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
  if (lines.length === 0) {
    const why = raw.stderr.trim() || `exit code ${raw.exitCode}`;
    return { ok: false, code: 'unrecognised-output', detail: `fdesetup printed nothing: ${why}` };
  }
  let headline: 'on' | 'off' | 'after-restart' | null = null;
  let progress: { kind: 'Encryption' | 'Decryption'; percent: number } | null = null;
  let deferred = false;
  for (const line of lines) {
    const match = PROGRESS.exec(line);
    if (line === 'FileVault is On.') {
      headline = 'on';
    } else if (line === 'FileVault is Off.') {
      headline = 'off';
    } else if (line === 'FileVault is Off, but will be enabled after the next restart.') {
      headline = 'after-restart';
    } else if (match?.[1] !== undefined && match[2] !== undefined) {
      progress = {
        kind: match[1] === 'Encryption' ? 'Encryption' : 'Decryption',
        percent: +match[2],
      };
    } else if (INFORMATIONAL.some((pattern) => pattern.test(line))) {
      deferred ||= line.startsWith('Deferred enablement');
    } else {
      return {
        ok: false,
        code: 'unrecognised-output',
        detail: `unexpected line: ${line.slice(0, 200)}`,
      };
    }
  }
  let state: EncryptionState;
  let percent: number | null = null;
  if (progress !== null) {
    state = progress.kind === 'Encryption' ? 'encrypting' : 'decrypting';
    percent = progress.percent;
  } else if (headline === 'on') {
    state = 'encrypted';
    percent = 100;
  } else if (headline === 'after-restart' || deferred) {
    // Deferred enablement: FileVault turns on at the next logout/restart (fdesetup(8) "defer").
    state = 'pending-restart';
  } else if (headline === 'off') {
    state = 'not-encrypted';
  } else {
    return { ok: false, code: 'unrecognised-output', detail: 'no FileVault status line' };
  }
  return {
    ok: true,
    facts: {
      technology: 'FileVault',
      volume: 'FileVault',
      state,
      percentEncrypted: percent,
      method: null,
      protectors: [],
      stack: [],
      swap: null,
      partial: [],
      detail: deferred ? 'deferred enablement is active' : null,
    },
  };
}

/** macOS half of the disk-encryption check. */
export const darwin = platformCheck({ probe, parse });
