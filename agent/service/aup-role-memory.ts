// The AUP role each user last had from a group list that said it for certain, and since when a
// user has waited for one (agent/service/aup-sessions.ts), kept in the state folder so a staff
// member at home, whose directory groups cannot be read, keeps the staff role across a restart,
// and so a restart does not give a user with no remembered role the wait again. Root-only like
// every state file: a file that is not the service's own (another owner, writable by others, a
// link) or does not parse is refused, moved aside and reported, and nothing is remembered; a
// planted file never crashes the service.
import { join } from 'node:path';
import { Type, type Static } from 'typebox';
import { IsoDateTimeSchema, parseJsonAs, Text } from '../../shared/index.ts';
import type { AupRoleMatch } from '../core/aup/index.ts';
import { moveIfPresent, writeFileDurably } from '../core/outbox/durable-fs.ts';
import { readTrustedFile, serviceUid } from '../core/trusted-path.ts';

const FILE = 'aup-roles.json';
/** A shared lab machine sees a few thousand users at most; the oldest are forgotten first. */
export const MAX_REMEMBERED_USERS = 5_000;
const MAX_BYTES = 2 * 1024 * 1024;

const RememberedSchema = Type.Object(
  {
    /** The user's login name as the memory keys it (lower case). */
    user: Text(256),
    /** The role, or `none` (a default role of none: nothing to sign). */
    role: Type.Union([Type.Literal('staff'), Type.Literal('pupil'), Type.Literal('none')]),
    ruleId: Type.Union([Text(100), Type.Null()]),
    /** When the group list last said it. */
    decidedAt: IsoDateTimeSchema,
  },
  { additionalProperties: false },
);

const WaitingSchema = Type.Object(
  { user: Text(256), since: IsoDateTimeSchema },
  { additionalProperties: false },
);

const RoleFileSchema = Type.Object(
  {
    roles: Type.Array(RememberedSchema, { maxItems: MAX_REMEMBERED_USERS }),
    waiting: Type.Array(WaitingSchema, { maxItems: MAX_REMEMBERED_USERS }),
  },
  { additionalProperties: false },
);

/** A remembered role. */
export interface RememberedRole extends AupRoleMatch {
  decidedAt: number;
}

const key = (user: string) => user.toLowerCase();

/** The remembered roles and waits, in memory and on disk in the state folder. */
export class AupRoleMemory {
  readonly #dir: string | null;
  readonly #roles = new Map<string, RememberedRole>();
  readonly #waiting = new Map<string, number>();
  readonly #problems: string[] = [];
  #writes: Promise<unknown> = Promise.resolve();

  private constructor(dir: string | null) {
    this.#dir = dir;
  }

  /** A memory kept only in this process (a service given no state folder for it, tests). */
  static inMemory(): AupRoleMemory {
    return new AupRoleMemory(null);
  }

  /**
   * Loads what was remembered. A file that cannot be trusted or parsed, or holds a time that is
   * not a real time, is moved aside and named in problems(); nothing is remembered then.
   */
  static async open(
    stateDir: string,
    options: { uid?: number | null; now?: () => Date } = {},
  ): Promise<AupRoleMemory> {
    const memory = new AupRoleMemory(stateDir);
    const path = join(stateDir, FILE);
    const uid = options.uid === undefined ? serviceUid() : options.uid;
    const read = await readTrustedFile(path, { uid, maxBytes: MAX_BYTES });
    if (read.kind === 'missing') {
      return memory;
    }
    const refused = read.kind === 'ok' ? memory.#load(read.text) : read.reason;
    if (refused === null) {
      return memory;
    }
    memory.#roles.clear();
    memory.#waiting.clear();
    const now = (options.now ?? (() => new Date()))();
    const aside = `${path}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
    let problem = `AUP role memory ${path} refused (${refused}); no role is remembered`;
    try {
      await moveIfPresent(path, aside);
      problem += `; moved aside to ${aside}`;
    } catch (error) {
      problem += `; could not move it aside (${error instanceof Error ? error.message : String(error)})`;
    }
    memory.#problems.push(problem);
    return memory;
  }

  /** What was wrong with the file at open, for the log. */
  problems(): readonly string[] {
    return this.#problems;
  }

  /** The role `user` last had for certain; null when none is remembered. */
  roleOf(user: string): RememberedRole | null {
    const found = this.#roles.get(key(user));
    return found === undefined ? null : { ...found };
  }

  /** Since when `user` has waited for a role; null when they are not waiting. */
  waitingSince(user: string): number | null {
    return this.#waiting.get(key(user)) ?? null;
  }

  /**
   * Remembers the role a certain decision gave `user` (and ends any wait). Nothing is written
   * when it is the role already remembered.
   */
  remember(user: string, role: AupRoleMatch, at: Date): Promise<void> {
    const k = key(user);
    const before = this.#roles.get(k);
    if (before?.role === role.role && before.ruleId === role.ruleId && !this.#waiting.has(k)) {
      return Promise.resolve();
    }
    // Re-inserted, so the Map's order is oldest decision first.
    this.#roles.delete(k);
    this.#roles.set(k, { role: role.role, ruleId: role.ruleId, decidedAt: at.getTime() });
    this.#waiting.delete(k);
    while (this.#roles.size > MAX_REMEMBERED_USERS) {
      const oldest = this.#roles.keys().next().value;
      if (oldest === undefined) {
        break;
      }
      this.#roles.delete(oldest);
    }
    return this.#save();
  }

  /** Starts `user`'s wait at `since` (a wait already running keeps its start unless told). */
  startWaiting(user: string, since: Date, options: { restart?: boolean } = {}): Promise<void> {
    const k = key(user);
    if (this.#waiting.has(k) && options.restart !== true) {
      return Promise.resolve();
    }
    this.#waiting.delete(k);
    this.#waiting.set(k, since.getTime());
    while (this.#waiting.size > MAX_REMEMBERED_USERS) {
      const oldest = this.#waiting.keys().next().value;
      if (oldest === undefined) {
        break;
      }
      this.#waiting.delete(oldest);
    }
    return this.#save();
  }

  /** Writes the whole memory durably (temporary file, fsync, rename); writes go in turn. */
  #save(): Promise<void> {
    const dir = this.#dir;
    if (dir === null) {
      return Promise.resolve();
    }
    const file: Static<typeof RoleFileSchema> = {
      roles: [...this.#roles].map(([user, r]) => ({
        user,
        role: r.role ?? 'none',
        ruleId: r.ruleId,
        decidedAt: new Date(r.decidedAt).toISOString(),
      })),
      waiting: [...this.#waiting].map(([user, since]) => ({
        user,
        since: new Date(since).toISOString(),
      })),
    };
    const text = JSON.stringify(file);
    const write = this.#writes.then(() => writeFileDurably(dir, FILE, `.tmp-${FILE}`, text));
    this.#writes = write.catch(() => undefined);
    return write;
  }

  /** Fills the memory from a file's text; the reason it is refused, or null. */
  #load(text: string): string | null {
    const checked = parseJsonAs(RoleFileSchema, text);
    if (!checked.ok) {
      return checked.reason;
    }
    const entries = [...checked.value.roles].sort(
      (a, b) => Date.parse(a.decidedAt) - Date.parse(b.decidedAt),
    );
    for (const entry of entries) {
      const decidedAt = Date.parse(entry.decidedAt);
      if (!Number.isFinite(decidedAt)) {
        return 'a time that is not a real time';
      }
      this.#roles.set(key(entry.user), {
        role: entry.role === 'none' ? null : entry.role,
        ruleId: entry.ruleId,
        decidedAt,
      });
    }
    for (const entry of checked.value.waiting) {
      const since = Date.parse(entry.since);
      if (!Number.isFinite(since)) {
        return 'a time that is not a real time';
      }
      this.#waiting.set(key(entry.user), since);
    }
    return null;
  }
}
