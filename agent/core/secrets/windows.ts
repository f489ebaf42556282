// Windows: the credential encrypted with DPAPI in machine scope (ARCHITECTURE.md, "Identity and
// trust"), stored as a blob in the state directory behind an ACL for SYSTEM and Administrators.
// DPAPI runs in Windows PowerShell 5.1 (windows-dpapi.ps1) through the injected Runner; the
// secret travels on standard input, never on a command line. Node writes the file itself.
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { readAsset } from '../assets.ts';
import { isMissing, removeIfPresent, syncDir } from '../outbox/durable-fs.ts';
import { parseJsonOutput, powershellArgs } from '../powershell.ts';
import type { Runner } from '../runner.ts';
import {
  CredentialError,
  MAX_CREDENTIAL_BYTES,
  parseCredential,
  REENROL_ADVICE,
  serializeCredential,
  type DeviceCredential,
  type SecretStore,
} from './secret-store.ts';

const FILE_NAME = 'device-credential.dpapi';
const TIMEOUT_MS = 60_000;

// Well-known SIDs, not names: "Administrators" is localised ("Administratoren", …), the SIDs
// are not. icacls takes a numeric SID prefixed with `*` (MS Learn, "icacls"; "Well-known SIDs":
// S-1-5-18 LocalSystem, S-1-5-32-544 BUILTIN\Administrators).
const ACL_ARGS = ['/inheritance:r', '/grant:r', '*S-1-5-18:(F)', '*S-1-5-32-544:(F)'] as const;

const script = (): Promise<string> => readAsset(new URL('./windows-dpapi.ps1', import.meta.url));

/** The device credential as a DPAPI (LocalMachine) blob readable by SYSTEM and Administrators. */
export class WindowsSecretStore implements SecretStore {
  readonly location: string;
  readonly #dir: string;
  readonly #run: Runner;

  constructor(options: { stateDir: string; run: Runner }) {
    this.#dir = options.stateDir;
    this.#run = options.run;
    this.location = join(options.stateDir, FILE_NAME);
  }

  /** Reads and unprotects the blob; null when there is none. */
  async read(): Promise<DeviceCredential | null> {
    let blob: Buffer;
    try {
      const handle = await open(this.location, 'r');
      try {
        if ((await handle.stat()).size > MAX_CREDENTIAL_BYTES) {
          throw new CredentialError(
            `${this.location} is too large to be genuine. ${REENROL_ADVICE}`,
          );
        }
        blob = await handle.readFile();
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (isMissing(error)) {
        return null;
      }
      if (error instanceof CredentialError) {
        throw error;
      }
      throw new CredentialError(
        `cannot read the device credential ${this.location}: the service must run as SYSTEM.`,
        { cause: error },
      );
    }
    const plain = await this.#dpapi('unprotect', blob);
    return parseCredential(plain.toString('utf8'), this.location);
  }

  /**
   * Protects the credential and replaces the blob atomically. The temp file is created empty,
   * locked down with icacls, and only then filled, so the blob is never readable by users.
   */
  async write(credential: DeviceCredential): Promise<void> {
    const text = serializeCredential(credential, this.location);
    const blob = await this.#dpapi('protect', Buffer.from(text, 'utf8'));
    const temp = join(this.#dir, `.${FILE_NAME}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await mkdir(this.#dir, { recursive: true });
      await (await open(temp, 'wx')).close();
      const acl = await this.#run('icacls.exe', [temp, ...ACL_ARGS], { timeoutMs: TIMEOUT_MS });
      if (acl.exitCode !== 0) {
        throw new CredentialError(
          `icacls could not restrict ${temp} to SYSTEM and Administrators (exit ` +
            `${acl.exitCode}: ${(acl.stderr || acl.stdout).trim().slice(0, 300)})`,
        );
      }
      const handle = await open(temp, 'r+');
      try {
        await handle.writeFile(blob);
        await handle.sync();
      } finally {
        await handle.close();
      }
      // A rename within one NTFS volume keeps the file's own DACL (it moves the entry, not the
      // security descriptor), so the final file has exactly the ACL set above.
      await rename(temp, this.location);
      await syncDir(this.#dir);
    } catch (error) {
      await removeIfPresent(temp).catch(() => undefined);
      if (error instanceof CredentialError) {
        throw error;
      }
      throw new CredentialError(
        `cannot write the device credential ${this.location}: the service must run as SYSTEM ` +
          'with a writable state directory.',
        { cause: error },
      );
    }
  }

  async #dpapi(operation: 'protect' | 'unprotect', data: Uint8Array): Promise<Buffer> {
    const args = powershellArgs(await script());
    let output;
    try {
      output = await this.#run('powershell.exe', args, {
        timeoutMs: TIMEOUT_MS,
        input: `${operation}\n${Buffer.from(data).toString('base64')}\n`,
      });
    } catch (error) {
      throw new CredentialError(`cannot run PowerShell for DPAPI (${operation})`, { cause: error });
    }
    const answer = parseJsonOutput(output.stdout) as
      { data?: unknown; error?: unknown } | undefined;
    if (output.exitCode === 0 && typeof answer?.data === 'string') {
      return Buffer.from(answer.data, 'base64');
    }
    const reason =
      typeof answer?.error === 'string'
        ? answer.error
        : `PowerShell exited ${output.exitCode}: ${output.stderr.trim().slice(0, 300)}`;
    throw new CredentialError(
      operation === 'protect'
        ? `DPAPI could not protect the device credential: ${reason}`
        : `DPAPI could not unprotect ${this.location} (copied from another machine, or ` +
            `corrupt): ${reason}. ${REENROL_ADVICE}`,
    );
  }
}
