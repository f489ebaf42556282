import { Type } from 'typebox';
import { describeProblems, validate } from '../../../../shared/index.ts';
import type { Host } from '../../host.ts';
import { parseJsonOutput, runPowerShellScript } from '../../powershell.ts';
import { platformCheck, type Parsed } from '../define-check.ts';
import type { DiskEncryptionFacts, EncryptionState } from './facts.ts';

const SCRIPT_TIMEOUT_MS = 30_000;

/** Runs windows.ps1, which prints one JSON object about the system drive. */
export function probe(host: Host): Promise<string> {
  return runPowerShellScript(host, new URL('./windows.ps1', import.meta.url), SCRIPT_TIMEOUT_MS);
}

// Key protector types as numbered by Win32_EncryptableVolume.GetKeyProtectorType (MS Learn);
// Get-BitLockerVolume's KeyProtectorType enum uses the same numbers (3 shows as RecoveryPassword).
const PROTECTOR_NAMES: readonly string[] = [
  'Unknown',
  'Tpm',
  'ExternalKey',
  'RecoveryPassword',
  'TpmPin',
  'TpmStartupKey',
  'TpmPinStartupKey',
  'PublicKey',
  'Password',
  'TpmCertificate',
  'CngProtector',
];

/**
 * Removes BitLocker recovery passwords (48 digits in eight groups of six, MS Learn "BitLocker
 * recovery overview") from text that may be quoted in a reason: the script never prints them,
 * but output we do not recognise (the cmdlet's own JSON, an error) could carry one. Done before
 * any truncation, so a cut-off password is not left half visible.
 */
export function withoutRecoveryPasswords(text: string): string {
  return text.replace(/\d{6}(?:-\d{6})+/g, '[recovery password removed]');
}

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

/**
 * The JSON windows.ps1 prints: its contract, checked before anything is read, and checked
 * against the script's own source by test/agent/core/checks/windows-script-contract.test.ts.
 */
export const ScriptOutputSchema = Type.Object(
  {
    source: nullable(Type.String()),
    mountPoint: Type.String(),
    volumeStatus: nullable(Type.Integer()),
    protectionStatus: nullable(Type.Integer()),
    encryptionPercentage: nullable(Type.Number()),
    encryptionMethod: nullable(Type.Integer()),
    keyProtectorTypes: Type.Array(Type.Integer()),
    error: nullable(Type.String()),
    errorKind: nullable(Type.String()),
  },
  { additionalProperties: false },
);

const unrecognised = (detail: string): Parsed<DiskEncryptionFacts> => ({
  ok: false,
  code: 'unrecognised-output',
  detail,
});

const isInt = (value: unknown, max: number): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= max;

/**
 * The state from VolumeStatus (= GetConversionStatus: 0 FullyDecrypted, 1 FullyEncrypted,
 * 2 EncryptionInProgress, 3 DecryptionInProgress, 4 EncryptionPaused, 5 DecryptionPaused) and
 * ProtectionStatus (0 off, 1 on, 2 unknown/locked). PLATFORMS.md §1: encrypted with protection off
 * is suspended when protectors exist, and "waiting for activation" (clear key) when none do.
 * While converting, only protection on counts as protected: "Encryption in Progress … Protection
 * Off" is a volume whose key is still in the clear, whatever the percentage.
 */
function stateOf(volume: number, protection: number, protectors: number): EncryptionState {
  if (volume === 0) {
    return 'not-encrypted';
  }
  if (volume === 3 || volume === 5) {
    return 'decrypting';
  }
  if (volume === 2 || volume === 4) {
    if (protection === 1) {
      return 'encrypting';
    }
    return protection === 0 ? 'encrypting-unprotected' : 'undetermined';
  }
  if (protection !== 1 && protectors === 0) {
    return 'not-activated';
  }
  if (protection === 1) {
    return 'encrypted';
  }
  return protection === 0 ? 'suspended' : 'undetermined';
}

/** Parses windows.ps1's JSON into facts; anything off-shape is unrecognised, never a pass. */
export function parse(raw: string): Parsed<DiskEncryptionFacts> {
  const data = parseJsonOutput(raw);
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    const seen = withoutRecoveryPasswords(raw.trim()).slice(0, 200);
    return unrecognised(`not the probe's JSON: ${seen || '(empty output)'}`);
  }
  const checked = validate(ScriptOutputSchema, data);
  if (!checked.ok) {
    return unrecognised(
      `windows.ps1 printed an unexpected shape: ${describeProblems(checked.problems)}`,
    );
  }
  const record: Record<string, unknown> = checked.value;
  if (typeof record.error === 'string' && record.error !== '') {
    return {
      ok: false,
      code: record.errorKind === 'permission-denied' ? 'permission-denied' : 'probe-failed',
      detail: `BitLocker status could not be read: ${withoutRecoveryPasswords(record.error).slice(0, 500)}`,
    };
  }
  const { volumeStatus, protectionStatus, encryptionPercentage, encryptionMethod } = record;
  const mountPoint = record.mountPoint;
  const types = record.keyProtectorTypes;
  if (
    !isInt(volumeStatus, 5) ||
    !isInt(protectionStatus, 2) ||
    typeof mountPoint !== 'string' ||
    !/^[A-Za-z]:$/.test(mountPoint) ||
    !Array.isArray(types) ||
    !types.every((type) => isInt(type, 10)) ||
    !(encryptionPercentage === null || typeof encryptionPercentage === 'number') ||
    !(encryptionMethod === null || typeof encryptionMethod === 'number')
  ) {
    const seen = withoutRecoveryPasswords(JSON.stringify(record)).slice(0, 300);
    return unrecognised(`unexpected JSON shape: ${seen}`);
  }
  const protectors = types.map((type) => PROTECTOR_NAMES[type] ?? `Type${type}`);
  const state = stateOf(volumeStatus, protectionStatus, protectors.length);
  const notes: Partial<Record<EncryptionState, string>> = {
    'encrypting-unprotected':
      protectors.length === 0
        ? 'protection is off and there is no key protector yet'
        : 'protection is off while encryption runs',
    suspended: 'protection is off although key protectors exist (suspended)',
    'not-activated': 'no key protector: the key is stored in the clear (waiting for activation)',
    undetermined: `protection status ${protectionStatus} (unknown or locked)`,
  };
  const paused = volumeStatus === 4 || volumeStatus === 5 ? 'conversion is paused' : null;
  return {
    ok: true,
    facts: {
      technology: 'BitLocker',
      volume: mountPoint.toUpperCase(),
      state,
      percentEncrypted: encryptionPercentage,
      method: encryptionMethod === null ? null : String(encryptionMethod),
      protectors,
      stack: [],
      swap: null,
      partial: [],
      detail: notes[state] ?? paused,
    },
  };
}

/** Windows half of the disk-encryption check. */
export const windows = platformCheck({ probe, parse });
