// What the guard does with one attached storage device: a pure function of the device, the
// policy, the console user and the time, the same on every OS (platform.ts applies it).
//
// Precedence, first match wins:
//   1. portable media (MTP/PTP) while `portableMediaIsStorage` is not true → not the guard's
//      business (null): it is not storage by this policy.
//   2. the system disk → left alone (basis `system-disk`): blocking it would take the machine
//      down, whatever the policy says.
//   3. mode `allow` → read-write (basis `mode`).
//   4. an unexpired allowlist entry matches → read-write (basis `approved`), in every mode: ICT
//      approved this device, so read-only mode does not hold it to read-only.
//   5. the console user is exempt (by name or group) → read-write (basis `exempt`).
//   6. mode `audit` → read-write (basis `mode`): approvals and exemptions come first so the
//      audit trail says why a device would have been allowed under `block`.
//   7. otherwise the mode's action (`block` → blocked, `read-only` → read-only), with basis
//      `approval-expired` when only expired entries matched, else `not-approved`.
import type { UsbAction, UsbBasis, UsbAllowEntry, UsbPolicy } from '../../../shared/index.ts';
import type { ConsoleUser } from '../console-user/console-user.ts';
import type { AttachedUsbStorage } from './platform.ts';
import { UNIDENTIFIED_VENDOR_ID } from './unidentified.ts';

/** The guard's judgement of one device. */
export interface UsbVerdict {
  action: UsbAction;
  basis: UsbBasis;
  /** The server approval id of the entry that matched, when one did and it has one. */
  approvalId: string | null;
}

/** Whether an entry no longer approves anything at `now`: at `expiresAt` it has expired. */
export function entryExpired(entry: UsbAllowEntry, now: Date): boolean {
  const expiresAt = entry.expiresAt;
  return expiresAt !== undefined && expiresAt !== null && Date.parse(expiresAt) <= now.getTime();
}

/** Whether an entry describes the device: same model, and the same serial when it names one. */
export function entryMatches(entry: UsbAllowEntry, device: AttachedUsbStorage['device']): boolean {
  // Storage whose ids could not be read (unidentified.ts): no entry, not even one written for
  // vendor 0000, approves it.
  if (device.vendorId === UNIDENTIFIED_VENDOR_ID) {
    return false;
  }
  if (
    entry.vendorId.toLowerCase() !== device.vendorId.toLowerCase() ||
    entry.productId.toLowerCase() !== device.productId.toLowerCase()
  ) {
    return false;
  }
  // Serials are compared exactly: they are opaque strings, and a looser match would let a
  // stick whose serial differs only in case or spacing borrow another's approval.
  return entry.serial === undefined || entry.serial === device.serial;
}

/** Whether the console user is exempt by name or by one of their groups (case-insensitive). */
export function userExempt(user: ConsoleUser | null, exempt: UsbPolicy['exempt']): boolean {
  if (user === null) {
    return false;
  }
  // Windows names are case-insensitive and policies are typed by people: `Staff` is `staff`.
  const fold = (name: string) => name.toLowerCase();
  const users = new Set(exempt.users.map(fold));
  const groups = new Set(exempt.groups.map(fold));
  return users.has(fold(user.name)) || user.groups.some((group) => groups.has(fold(group)));
}

/** Judges one attached device; null when it is not storage by this policy (see above). */
export function decideUsb(
  storage: Pick<AttachedUsbStorage, 'device' | 'systemDisk'>,
  policy: UsbPolicy,
  user: ConsoleUser | null,
  now: Date,
): UsbVerdict | null {
  if (storage.device.kind === 'portable-media' && policy.portableMediaIsStorage !== true) {
    return null;
  }
  if (storage.systemDisk) {
    return { action: 'left-alone', basis: 'system-disk', approvalId: null };
  }
  if (policy.mode === 'allow') {
    return { action: 'read-write', basis: 'mode', approvalId: null };
  }
  const matching = policy.allow.filter((entry) => entryMatches(entry, storage.device));
  const live = matching.find((entry) => !entryExpired(entry, now));
  if (live !== undefined) {
    return { action: 'read-write', basis: 'approved', approvalId: live.approvalId ?? null };
  }
  if (userExempt(user, policy.exempt)) {
    return { action: 'read-write', basis: 'exempt', approvalId: null };
  }
  if (policy.mode === 'audit') {
    return { action: 'read-write', basis: 'mode', approvalId: null };
  }
  return {
    action: policy.mode === 'block' ? 'blocked' : 'read-only',
    basis: matching.length > 0 ? 'approval-expired' : 'not-approved',
    approvalId: null,
  };
}

/** The earliest `expiresAt` after `now` in the allowlist (when the next re-judge is due), or null. */
export function nextExpiry(policy: UsbPolicy, now: Date): Date | null {
  let next: number | null = null;
  for (const entry of policy.allow) {
    const at =
      entry.expiresAt === undefined || entry.expiresAt === null ? NaN : Date.parse(entry.expiresAt);
    if (at > now.getTime() && (next === null || at < next)) {
      next = at;
    }
  }
  return next === null ? null : new Date(next);
}
