// The last good policy and its ETag, kept on disk (ARCHITECTURE.md, "Policy"): a device keeps
// enforcing it when offline or when the server sends something invalid. A cache file that
// cannot be trusted is set aside and reported, and the default policy applies until the
// server's arrives: start-up never fails on a bad cache.
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Type } from 'typebox';
import {
  describeProblems,
  IsoDateTimeSchema,
  PolicySchema,
  validate,
  type Policy,
} from '../../../shared/index.ts';
import { moveIfPresent, syncDir, writeFileDurably } from '../outbox/durable-fs.ts';
import { readTrustedFile, serviceUid } from '../trusted-path.ts';
import { parsePolicyText, PolicyError, readDefaultPolicy } from './policy-file.ts';

/** Where the policy in force came from. */
export type PolicySource = 'default' | 'cache' | 'server';

/** The answer to an offered policy. A rejected one changes nothing; the reason names the key. */
export type PolicyOffer =
  | { kind: 'accepted'; policy: Policy; persistError: string | null }
  | { kind: 'rejected'; reason: string };

/** An opened cache and what was wrong with the file on disk, if anything. */
export interface OpenedPolicyCache {
  cache: PolicyCache;
  problems: string[];
}

const FILE_NAME = 'policy.json';
const MAX_CACHE_BYTES = 4 * 1024 * 1024;

const CacheFileSchema = Type.Object(
  {
    etag: Type.Union([Type.String({ maxLength: 200 }), Type.Null()]),
    receivedAt: IsoDateTimeSchema,
    policy: PolicySchema,
    /** The device's group as the server named it (AUP rules by device group); absent: unknown. */
    deviceGroup: Type.Optional(
      Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()]),
    ),
  },
  { additionalProperties: false },
);

interface Entry {
  policy: Policy;
  etag: string | null;
  receivedAt: string | null;
  source: PolicySource;
  deviceGroup: string | null;
}

/** The policy in force, backed by `policy.json` in a directory of the service's state. */
export class PolicyCache {
  readonly #dir: string;
  readonly #now: () => Date;
  #entry: Entry;
  #writes: Promise<unknown> = Promise.resolve();
  readonly #listeners = new Set<(policy: Policy) => void>();

  private constructor(dir: string, entry: Entry, now: () => Date) {
    this.#dir = dir;
    this.#entry = entry;
    this.#now = now;
  }

  /**
   * Loads the cached policy, or the default one; a bad cache file is moved aside and listed. A
   * file the service's user (`uid`, default this process's) does not own, or others can write,
   * or a link in its place, counts as bad: it may be a planted, more lenient policy.
   */
  static async open(
    dir: string,
    options: { now?: () => Date; uid?: number | null } = {},
  ): Promise<OpenedPolicyCache> {
    const now = options.now ?? (() => new Date());
    const path = join(dir, FILE_NAME);
    const problems: string[] = [];
    const loaded = await readCacheFile(
      path,
      options.uid === undefined ? serviceUid() : options.uid,
    );
    if (loaded.kind === 'ok') {
      const entry: Entry = {
        ...loaded.value,
        deviceGroup: loaded.value.deviceGroup ?? null,
        source: 'cache',
      };
      return { cache: new PolicyCache(dir, entry, now), problems };
    }
    if (loaded.kind === 'bad') {
      const aside = `${path}.corrupt-${now().toISOString().replace(/[:.]/g, '-')}`;
      try {
        await moveIfPresent(path, aside);
        problems.push(`${loaded.reason}; moved aside to ${aside}; the default policy applies`);
      } catch (error) {
        problems.push(
          `${loaded.reason}; could not move it aside (${errorText(error)}); ` +
            'the default policy applies',
        );
      }
    }
    const entry: Entry = {
      policy: await readDefaultPolicy(),
      etag: null,
      receivedAt: null,
      source: 'default',
      deviceGroup: null,
    };
    return { cache: new PolicyCache(dir, entry, now), problems };
  }

  /** The policy in force. */
  current(): Policy {
    return this.#entry.policy;
  }

  /** The ETag of the policy in force (for If-None-Match), or null when it did not come from the server. */
  etag(): string | null {
    return this.#entry.etag;
  }

  /** When the policy in force arrived from the server (ISO), or null for the default policy. */
  receivedAt(): string | null {
    return this.#entry.receivedAt;
  }

  /** The device's group as the server last named it; null while it has not. */
  deviceGroup(): string | null {
    return this.#entry.deviceGroup;
  }

  /**
   * The server named the device's group with a policy it did not resend (304): kept, and
   * persisted when it changed. Null (a server that does not say) changes nothing. Returns the
   * persist error, or null.
   */
  async noteDeviceGroup(deviceGroup: string | null): Promise<string | null> {
    const entry = this.#entry;
    if (deviceGroup === null || deviceGroup === entry.deviceGroup) {
      return null;
    }
    this.#entry = { ...entry, deviceGroup };
    if (entry.receivedAt === null) {
      // The default policy is never written to the cache file; the name lives until a policy.
      return null;
    }
    return this.#write(entry.etag, entry.receivedAt, entry.policy, deviceGroup);
  }

  /** Whether the policy in force is the default, the cached one, or one received this run. */
  source(): PolicySource {
    return this.#entry.source;
  }

  /**
   * Calls `listener` with each policy that comes into force from now on (the USB guard re-judges
   * attached devices at once). Returns the unsubscribe. A listener that throws is ignored: it
   * must not stop the policy taking effect for the others.
   */
  onChange(listener: (policy: Policy) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Offers policy text from the server. Valid: it is in force at once and persisted (a disk
   * failure is reported, not thrown). Invalid or hostile: rejected, the policy in force stays.
   */
  async offer(
    text: string,
    etag: string | null,
    deviceGroup: string | null = null,
  ): Promise<PolicyOffer> {
    let policy: Policy;
    try {
      policy = parsePolicyText(text, 'policy from the server');
    } catch (error) {
      if (error instanceof PolicyError) {
        return { kind: 'rejected', reason: error.message };
      }
      throw error;
    }
    const receivedAt = this.#now().toISOString();
    // ETags longer than the cache file allows are dropped, so the file always reads back.
    const keptEtag = etag !== null && etag.length <= 200 ? etag : null;
    this.#entry = { policy, etag: keptEtag, receivedAt, source: 'server', deviceGroup };
    for (const listener of this.#listeners) {
      try {
        listener(policy);
      } catch {
        // Listeners handle their own failures; the policy is in force whatever they do.
      }
    }
    const persistError = await this.#write(keptEtag, receivedAt, policy, deviceGroup);
    return { kind: 'accepted', policy, persistError };
  }

  /** Persists an entry; the error as text, or null. */
  async #write(
    etag: string | null,
    receivedAt: string,
    policy: Policy,
    deviceGroup: string | null,
  ): Promise<string | null> {
    const data = JSON.stringify({ etag, receivedAt, policy, deviceGroup }, null, 2);
    // Writes are chained so a slow earlier write can never land after a later one.
    const write = this.#writes.then(() => this.#persist(data));
    this.#writes = write.catch(() => undefined);
    try {
      await write;
      return null;
    } catch (error) {
      return errorText(error);
    }
  }

  async #persist(data: string): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const temp = `.${FILE_NAME}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFileDurably(this.#dir, FILE_NAME, temp, data);
    await syncDir(this.#dir);
  }
}

type CacheRead =
  | { kind: 'ok'; value: Omit<Entry, 'source'> }
  | { kind: 'missing' }
  | { kind: 'bad'; reason: string };

async function readCacheFile(path: string, uid: number | null): Promise<CacheRead> {
  const read = await readTrustedFile(path, { uid, maxBytes: MAX_CACHE_BYTES });
  switch (read.kind) {
    case 'missing':
      return { kind: 'missing' };
    case 'untrusted':
      return { kind: 'bad', reason: `policy cache not trusted: ${read.reason}` };
    case 'unreadable':
      return { kind: 'bad', reason: `policy cache unreadable: ${read.reason}` };
    case 'ok':
      break;
  }
  const text = read.text;
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return { kind: 'bad', reason: `policy cache ${path} is corrupt (not JSON)` };
  }
  const checked = validate(CacheFileSchema, document);
  if (!checked.ok) {
    return {
      kind: 'bad',
      reason: `policy cache ${path} is invalid: ${describeProblems(checked.problems)}`,
    };
  }
  return {
    kind: 'ok',
    value: { ...checked.value, deviceGroup: checked.value.deviceGroup ?? null },
  };
}

function errorText(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
}
