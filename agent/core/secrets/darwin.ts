// macOS: a generic password item in the System keychain (ARCHITECTURE.md, "Identity and
// trust"), whose key only root can use (/var/db/SystemKey). The credential is stored as one
// base64 line: no spaces, quotes or newlines, so it survives `security`'s line-based input and
// `find-generic-password -w` prints it as text (it prints hex for non-printable data).
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

const SECURITY = '/usr/bin/security';
const KEYCHAIN = '/Library/Keychains/System.keychain';
const SERVICE = 'hallpass';
const ACCOUNT = 'device-credential';
const TIMEOUT_MS = 30_000;
// security(1) exits with the low byte of the OSStatus; errSecItemNotFound (-25300) gives 44.
const ITEM_NOT_FOUND_EXIT = 44;
// Three quarters of the line buffer of `security -i`, for a margin (see write()).
const MAX_COMMAND_LINE = 3_000;

/** The device credential as the System keychain item `hallpass` / `device-credential`. */
export class DarwinSecretStore implements SecretStore {
  readonly location = `${KEYCHAIN} (service ${SERVICE}, account ${ACCOUNT})`;
  readonly #run: Runner;

  constructor(options: { run: Runner }) {
    this.#run = options.run;
  }

  /** Reads the item; null when the keychain has none. */
  async read(): Promise<DeviceCredential | null> {
    const output = await this.#security(
      ['find-generic-password', '-s', SERVICE, '-a', ACCOUNT, '-w', KEYCHAIN],
      undefined,
    );
    if (output.exitCode === ITEM_NOT_FOUND_EXIT || /could not be found/i.test(output.stderr)) {
      return null;
    }
    if (output.exitCode !== 0) {
      throw new CredentialError(
        `cannot read the device credential from ${this.location} (security exited ` +
          `${output.exitCode}: ${output.stderr.trim().slice(0, 300)}). The service must run as root.`,
      );
    }
    const line = output.stdout.trim();
    if (line.length > MAX_CREDENTIAL_BYTES || !/^[A-Za-z0-9+/]+=*$/.test(line)) {
      throw new CredentialError(
        `the device credential in ${this.location} is corrupt. ${REENROL_ADVICE}`,
      );
    }
    return parseCredential(Buffer.from(line, 'base64').toString('utf8'), this.location);
  }

  /**
   * Adds or replaces (`-U`) the item, then reads it back. The value must not go on the command
   * line: `-w <value>` is visible to `ps` (security(1) itself warns about it). `add-generic-
   * password` has no stdin option, and a bare trailing `-w` prompts twice through
   * readpassphrase(3), which reports say reads the terminal and stores an empty password when
   * there is none. So the command goes to `security -i` (interactive mode: commands read from
   * standard input until EOF, security(1)), as Python's keyring and Microsoft's Git Credential
   * Manager did. Interactive mode does not reliably report a failed command in its exit code,
   * so success means reading the same value back.
   */
  async write(credential: DeviceCredential): Promise<void> {
    const value = Buffer.from(serializeCredential(credential, this.location), 'utf8').toString(
      'base64',
    );
    const command = `add-generic-password -U -s ${SERVICE} -a ${ACCOUNT} -w ${value} ${KEYCHAIN}\n`;
    // `security -i` reads a line into a fixed buffer (measured by others at 4,095 characters)
    // and runs the rest as another command: refuse long lines here rather than store a cut one.
    if (command.length > MAX_COMMAND_LINE) {
      throw new CredentialError(
        `the device credential is too long for the System keychain's line-based input ` +
          `(${command.length} > ${MAX_COMMAND_LINE} characters); use a shorter server URL`,
      );
    }
    const output = await this.#security(['-i'], command);
    if (output.exitCode !== 0) {
      throw new CredentialError(
        `cannot store the device credential in ${this.location} (security exited ` +
          `${output.exitCode}: ${output.stderr.trim().slice(0, 300)}). The service must run as root.`,
      );
    }
    let stored: DeviceCredential | null;
    try {
      stored = await this.read();
    } catch (error) {
      throw new CredentialError(
        `the device credential written to ${this.location} does not read back`,
        {
          cause: error,
        },
      );
    }
    if (stored === null || JSON.stringify(stored) !== JSON.stringify(credential)) {
      throw new CredentialError(
        `the device credential was not stored in ${this.location}: ` +
          (output.stderr.trim().slice(0, 300) || 'security reported no error'),
      );
    }
  }

  async #security(args: readonly string[], input: string | undefined) {
    try {
      return await this.#run(SECURITY, args, {
        timeoutMs: TIMEOUT_MS,
        ...(input === undefined ? {} : { input }),
      });
    } catch (error) {
      throw new CredentialError(`cannot run ${SECURITY} to reach ${this.location}`, {
        cause: error,
      });
    }
  }
}
