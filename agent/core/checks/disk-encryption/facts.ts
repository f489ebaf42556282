/** What the system volume's encryption is doing right now, the same words on every OS. */
export type EncryptionState =
  | 'encrypted'
  /** Converting, and the volume is already protected (BitLocker protection on). */
  | 'encrypting'
  /** Converting with protection off: the data is readable without any key until it is on. */
  | 'encrypting-unprotected'
  | 'decrypting'
  | 'suspended'
  | 'not-activated'
  | 'pending-restart'
  | 'not-encrypted'
  | 'undetermined';

/** Encryption of one Linux swap area; `not-disk` is RAM-backed swap (zram) that needs none. */
export type SwapFact = {
  device: string;
  kind: 'partition' | 'file' | 'zram';
  state: 'encrypted' | 'not-encrypted' | 'undetermined' | 'not-disk';
};

/** Evidence of the disk-encryption check, plain JSON, one shape for all three OSes. */
export type DiskEncryptionFacts = {
  technology: 'BitLocker' | 'FileVault' | 'dm-crypt';
  /** The volume judged: `C:`, the root device on Linux, `FileVault` on macOS. */
  volume: string;
  state: EncryptionState;
  /** 0–100 while converting; 100 when done; null when the OS does not say. */
  percentEncrypted: number | null;
  /** BitLocker method number as text, LUKS1/LUKS2/PLAIN…, or null. */
  method: string | null;
  /** BitLocker key protector types by name (never their secrets); empty elsewhere. */
  protectors: string[];
  /** Linux: the block devices under the root file system, top first. */
  stack: string[];
  /** Linux swap areas; null where swap is not measured (Windows, macOS). */
  swap: SwapFact[] | null;
  /** Other mount points that are encrypted while the system volume is not (home-only). */
  partial: string[];
  /** Why the state is `undetermined`, or a note on an odd state; null otherwise. */
  detail: string | null;
};
