// Linux: a root-owned 0600 JSON file in the service's state directory (ARCHITECTURE.md,
// "Identity and trust"). Written atomically with mode 0600 from the moment it exists, and
// refused on read when anyone else could have read or replaced it.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { isMissing, syncDir, writeFileDurably } from '../outbox/durable-fs.ts';
import {
  CredentialError,
  MAX_CREDENTIAL_BYTES,
  parseCredential,
  REENROL_ADVICE,
  serializeCredential,
  type DeviceCredential,
  type SecretStore,
} from './secret-store.ts';

const FILE_NAME = 'device-credential.json';

/** Options of the file store; `uid` is the owner the file must have (default: this process's). */
export interface LinuxSecretStoreOptions {
  stateDir: string;
  uid?: number;
}

/** The device credential as a 0600 file owned by the service's user (root in production). */
export class LinuxSecretStore implements SecretStore {
  readonly location: string;
  readonly #dir: string;
  readonly #uid: number;

  constructor(options: LinuxSecretStoreOptions) {
    this.#dir = options.stateDir;
    this.location = join(options.stateDir, FILE_NAME);
    this.#uid = options.uid ?? process.getuid?.() ?? 0;
  }

  /** Reads and checks the file; null when there is none, CredentialError when it is unsafe. */
  async read(): Promise<DeviceCredential | null> {
    let handle: FileHandle;
    try {
      // O_NOFOLLOW: a symlink planted in place of the file is refused (ELOOP), never followed.
      handle = await open(this.location, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      if (isMissing(error)) {
        return null;
      }
      throw new CredentialError(
        `cannot open the device credential ${this.location} (${errorCode(error)}). ` +
          `It must be a regular file owned by the service user. ${REENROL_ADVICE}`,
        { cause: error },
      );
    }
    try {
      // fstat on the open handle, so the checks and the read are about the same file.
      const stats = await handle.stat();
      if (!stats.isFile()) {
        throw new CredentialError(`${this.location} is not a regular file. ${REENROL_ADVICE}`);
      }
      if (stats.uid !== this.#uid) {
        throw new CredentialError(
          `refusing the device credential ${this.location}: it is owned by uid ${stats.uid}, not ` +
            `by the service user (uid ${this.#uid}). Fix: chown ${this.#uid} ${this.location} ` +
            `if it is genuine, otherwise delete it and enrol again.`,
        );
      }
      if ((stats.mode & 0o077) !== 0) {
        const mode = (stats.mode & 0o777).toString(8).padStart(3, '0');
        throw new CredentialError(
          `refusing the device credential ${this.location}: its mode ${mode} lets other users ` +
            `read or change it. Fix: chmod 600 ${this.location}, then enrol again if anyone ` +
            `else may have copied it.`,
        );
      }
      if (stats.size > MAX_CREDENTIAL_BYTES) {
        throw new CredentialError(
          `the device credential ${this.location} is too large to be genuine. ${REENROL_ADVICE}`,
        );
      }
      const text = await handle.readFile('utf8');
      return parseCredential(text, this.location);
    } finally {
      await handle.close();
    }
  }

  /** Replaces the file atomically: temp file created 0600, fsync, rename, fsync the directory. */
  async write(credential: DeviceCredential): Promise<void> {
    const text = serializeCredential(credential, this.location);
    try {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      const temp = `.${FILE_NAME}.${randomBytes(6).toString('hex')}.tmp`;
      await writeFileDurably(this.#dir, FILE_NAME, temp, text);
      await syncDir(this.#dir);
    } catch (error) {
      throw new CredentialError(
        `cannot write the device credential ${this.location} (${errorCode(error)}). ` +
          'The service must run as root with a writable state directory.',
        { cause: error },
      );
    }
  }
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
}
