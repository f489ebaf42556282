import type { Policy } from '../../../../shared/index.ts';
import { assertNever, type EvaluationContext, type Verdict } from '../define-check.ts';
import type { DiskEncryptionFacts } from './facts.ts';

const HOW_TO: Record<DiskEncryptionFacts['technology'], string> = {
  BitLocker:
    'Turn on BitLocker for the system drive (Enable-BitLocker with a TPM protector) and escrow the recovery key.',
  FileVault:
    'Turn on FileVault (fdesetup enable, or the MDM FileVault payload) and escrow the recovery key.',
  'dm-crypt':
    'Reinstall with full-disk encryption (LUKS) for the root file system; Linux cannot encrypt it in place safely.',
};

// Rounded down to a tenth, so 99.95 never reads as done: "3.5% done".
const percent = (facts: DiskEncryptionFacts): string =>
  facts.percentEncrypted === null ? '' : ` (${Math.floor(facts.percentEncrypted * 10) / 10}% done)`;

/** The verdict when policy requires encryption and the system volume is not fully protected. */
function requiredVerdict(facts: DiskEncryptionFacts): Verdict {
  const how = HOW_TO[facts.technology];
  switch (facts.state) {
    case 'encrypted':
      return { status: 'pass', summary: "This computer's disk is encrypted." };
    case 'encrypting':
      return {
        status: 'warn',
        summary: `This computer's disk is being encrypted${percent(facts)}. Keep it plugged in.`,
        remediation: `Encryption of ${facts.volume} is under way; check it finishes. If it stays paused, resume it.`,
      };
    case 'encrypting-unprotected':
      // Until protection is on, BitLocker keeps the key in the clear on the volume: a drive part
      // way through with protection off protects nothing (manage-bde "Protection Off").
      return {
        status: 'fail',
        summary: `This computer's disk is being encrypted${percent(facts)} but is not protected: encryption protection is off.`,
        remediation: `Protection on ${facts.volume} is off while encryption runs, so its data can be read without a key. Turn protection on (Resume-BitLocker -MountPoint ${facts.volume}; with no key protector, Enable-BitLocker -TpmProtector first) and escrow the recovery key.${facts.detail === null ? '' : ` (${facts.detail})`}`,
      };
    case 'decrypting':
      return {
        status: 'fail',
        summary: `This computer's disk is being decrypted${percent(facts)}.`,
        remediation: `Someone is turning encryption off on ${facts.volume}. Find out why, then: ${how}`,
      };
    case 'suspended':
      return {
        status: 'fail',
        summary: "This computer's disk encryption is suspended, so the disk is not protected.",
        remediation: `BitLocker protection on ${facts.volume} is suspended (often after a firmware update). Resume it: Resume-BitLocker -MountPoint ${facts.volume}.`,
      };
    case 'not-activated':
      return {
        status: 'fail',
        summary: "This computer's disk encryption has not been switched on yet.",
        remediation: `${facts.volume} is encrypted with a clear key and no protector (Device Encryption waiting for activation). Add a TPM protector and a recovery password (Enable-BitLocker -TpmProtector, Add-BitLockerKeyProtector -RecoveryPasswordProtector) and escrow the key.`,
      };
    case 'pending-restart':
      return {
        status: 'fail',
        summary:
          "This computer's disk is not encrypted yet: it will start after the next restart or sign-out.",
        remediation:
          'FileVault is set to turn on at the next restart or login (deferred enablement). Ask the user to restart and sign in.',
      };
    case 'not-encrypted':
      if (facts.partial.length > 0) {
        return {
          status: 'fail',
          summary: `Only part of this computer's disk is encrypted (partial: ${facts.partial.join(', ')}); the system disk is not.`,
          remediation: `Only ${facts.partial.join(', ')} is encrypted; ${facts.volume} is not. ${how}`,
        };
      }
      return {
        status: 'fail',
        summary: "This computer's disk is not encrypted.",
        remediation: `${facts.volume} is not encrypted${facts.detail === null ? '' : ` (${facts.detail})`}. ${how}`,
      };
    case 'undetermined': {
      const detail = facts.detail ?? 'encryption state undetermined';
      return {
        status: 'unknown',
        summary: `Could not tell whether this computer's disk is encrypted: ${detail}`,
        remediation: 'Check the encryption state on the device by hand.',
        reason: { code: 'unrecognised-output', detail },
      };
    }
    default:
      return assertNever(facts.state);
  }
}

/** Swap areas that are neither encrypted nor RAM-backed. */
const exposedSwap = (facts: DiskEncryptionFacts) =>
  (facts.swap ?? []).filter(
    (area) => area.state === 'not-encrypted' || area.state === 'undetermined',
  );

/**
 * Facts + policy → verdict. Required: encrypted passes, encrypting warns, anything else fails,
 * undetermined is unknown. Not required: encrypted or encrypting passes, other states warn with
 * an honest summary. Linux swap counts only when the policy asks for it.
 */
export function evaluate(
  facts: DiskEncryptionFacts,
  policy: Policy,
  _context: EvaluationContext,
): Verdict {
  const rules = policy.checks.diskEncryption;
  if (!rules.required) {
    const verdict = requiredVerdict(facts);
    if (verdict.status === 'unknown' || verdict.status === 'pass') {
      return verdict;
    }
    if (facts.state === 'encrypting') {
      return { status: 'pass', summary: verdict.summary };
    }
    return {
      status: 'warn',
      summary: `${verdict.summary} This device group does not require encryption.`,
      ...(verdict.remediation === undefined ? {} : { remediation: verdict.remediation }),
    };
  }
  const verdict = requiredVerdict(facts);
  if (verdict.status !== 'pass' || !rules.requireSwapEncrypted) {
    return verdict;
  }
  const exposed = exposedSwap(facts);
  const undetermined = exposed.filter((area) => area.state === 'undetermined');
  if (undetermined.length > 0) {
    const devices = undetermined.map((area) => area.device).join(', ');
    return {
      status: 'unknown',
      summary: `This computer's disk is encrypted, but could not tell whether its swap on ${devices} is.`,
      reason: { code: 'unrecognised-output', detail: `swap encryption undetermined: ${devices}` },
    };
  }
  if (exposed.length > 0) {
    return {
      status: 'fail',
      summary: "This computer's disk is encrypted, but its swap space is not.",
      remediation: `Swap on ${exposed.map((area) => area.device).join(', ')} is not encrypted: move swap inside the LUKS volume or use an encrypted swap (crypttab with a random key).`,
    };
  }
  return verdict;
}
