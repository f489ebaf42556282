// The device's own record of who signed which AUP document, and the server's last answer per
// user (signatures made on other devices), kept so a user is not asked again after a restart
// and so the rules work offline. Root-only like every state file: a file that is not the
// service's own (another owner, writable by others, a link) is ignored and reported, because a
// planted record would let a pupil skip the AUP.
import { join } from 'node:path';
import { Type } from 'typebox';
import {
  AupSignaturesResponseSchema,
  IsoDateTimeSchema,
  Text,
  validate,
  describeProblems,
  type AupSignaturesResponse,
} from '../../shared/index.ts';
import type { LocalAupSignature } from '../core/aup/index.ts';
import { writeFileDurably } from '../core/outbox/durable-fs.ts';
import { readTrustedFile, serviceUid } from '../core/trusted-path.ts';

const FILE = 'aup-signatures.json';
const MAX_BYTES = 8 * 1024 * 1024;
/** Latest signature per user and document; a shared lab machine sees a few thousand at most. */
const MAX_SIGNATURES = 10_000;
const MAX_REMOTE = 2_000;

const RecordFileSchema = Type.Object(
  {
    signatures: Type.Array(
      Type.Object(
        {
          user: Text(256),
          documentId: Text(100),
          version: Text(50),
          textSha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
          signedAt: IsoDateTimeSchema,
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_SIGNATURES },
    ),
    remote: Type.Array(
      Type.Object(
        { fetchedAt: IsoDateTimeSchema, answer: AupSignaturesResponseSchema },
        { additionalProperties: false },
      ),
      { maxItems: MAX_REMOTE },
    ),
  },
  { additionalProperties: false },
);

const key = (user: string) => user.toLowerCase();

/** Signatures recorded here and the server's cached answers, on disk in the state folder. */
export class AupRecord {
  readonly #dir: string;
  #signatures: LocalAupSignature[] = [];
  readonly #remote = new Map<string, { fetchedAt: string; answer: AupSignaturesResponse }>();
  readonly #problems: string[] = [];
  #writes: Promise<unknown> = Promise.resolve();

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Loads the record; an untrusted or corrupt file is ignored and named in problems(). */
  static async open(stateDir: string, options: { uid?: number | null } = {}): Promise<AupRecord> {
    const record = new AupRecord(stateDir);
    const path = join(stateDir, FILE);
    const uid = options.uid === undefined ? serviceUid() : options.uid;
    const read = await readTrustedFile(path, { uid, maxBytes: MAX_BYTES });
    switch (read.kind) {
      case 'missing':
        return record;
      case 'untrusted':
        record.#problems.push(`AUP signature record not trusted, ignored: ${read.reason}`);
        return record;
      case 'unreadable':
        record.#problems.push(`AUP signature record ignored: ${read.reason}`);
        return record;
      case 'ok':
        break;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(read.text);
    } catch {
      record.#problems.push(`AUP signature record ${path} is not JSON; ignored`);
      return record;
    }
    const checked = validate(RecordFileSchema, parsed);
    if (!checked.ok) {
      record.#problems.push(
        `AUP signature record ${path} ignored: ${describeProblems(checked.problems)}`,
      );
      return record;
    }
    record.#signatures = checked.value.signatures;
    for (const entry of checked.value.remote) {
      record.#remote.set(key(entry.answer.user), entry);
    }
    return record;
  }

  /** What was wrong with the file at open, for the log. */
  problems(): readonly string[] {
    return this.#problems;
  }

  /** Signatures this device recorded for `user` (names compare ignoring case). */
  signaturesOf(user: string): LocalAupSignature[] {
    return this.#signatures.filter((s) => key(s.user) === key(user));
  }

  /** The server's last answer about `user`, with when it came; null if none ever did. */
  remoteOf(user: string): { fetchedAt: string; answer: AupSignaturesResponse } | null {
    return this.#remote.get(key(user)) ?? null;
  }

  /** Records a signature (replacing the user's earlier one of that document) durably. */
  async addSignature(signature: LocalAupSignature): Promise<void> {
    this.#signatures = this.#signatures.filter(
      (s) => !(key(s.user) === key(signature.user) && s.documentId === signature.documentId),
    );
    this.#signatures.push(signature);
    if (this.#signatures.length > MAX_SIGNATURES) {
      this.#signatures.sort((a, b) => a.signedAt.localeCompare(b.signedAt));
      this.#signatures.splice(0, this.#signatures.length - MAX_SIGNATURES);
    }
    await this.#save();
  }

  /** Keeps the server's answer for offline use. */
  async setRemote(answer: AupSignaturesResponse, fetchedAt: Date): Promise<void> {
    this.#remote.delete(key(answer.user));
    this.#remote.set(key(answer.user), { fetchedAt: fetchedAt.toISOString(), answer });
    // Map order is insertion order: the first entries are the least recently fetched.
    for (const user of this.#remote.keys()) {
      if (this.#remote.size <= MAX_REMOTE) {
        break;
      }
      this.#remote.delete(user);
    }
    await this.#save();
  }

  /** Writes one after another: two signatures at once must not interleave their renames. */
  #save(): Promise<void> {
    const write = this.#writes.then(() =>
      writeFileDurably(
        this.#dir,
        FILE,
        `.tmp-${FILE}`,
        JSON.stringify({ signatures: this.#signatures, remote: [...this.#remote.values()] }),
      ),
    );
    this.#writes = write.catch(() => undefined);
    return write;
  }
}
