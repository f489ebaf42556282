// The durable outbox: every report and event is written here, fsync'd, before any send,
// and leaves only when the server has said it holds that id (at-least-once delivery; the
// server ingests idempotently by id). The directory is listed once at open; after that an
// in-memory index (two Maps in sequence order) answers depth, peek order and the bound.
//
// Integrity (header, checksum, JSON) is checked for every file at open; the payload's schema
// only when an item is first about to be sent. Schema validation costs ~0.3 ms an item, so
// checking 5,000 waiting items at boot would hold the service up for seconds, while checking
// at peek costs only what is sent, once per item per process.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  MAX_BATCH_EVENTS,
  MAX_BATCH_REPORTS,
  SCHEMA_VERSION,
  type AgentEvent,
} from '../../../shared/index.ts';
import { DEFAULT_BACKOFF, RetrySchedule, type BackoffOptions } from './backoff.ts';
import { moveIfPresent, removeIfPresent, syncDir, writeFileDurably } from './durable-fs.ts';
import { readItemFile, scanDir, setAsideFile, type SetAsideFile } from './item-files.ts';
import { serviceUid } from '../trusted-path.ts';
import { readDropCounts, writeDropCounts, type PendingDrops } from './drop-counts-file.ts';
import { readRetryState, writeRetryState } from './retry-state-file.ts';
import { pruneSetAside } from './set-aside-retention.ts';
import {
  TEMP_PREFIX,
  encodeRecord,
  itemFileName,
  itemProblem,
  type ItemName,
  type OutboxItem,
  type OutboxKind,
} from './record.ts';

export type { OutboxItem, OutboxKind } from './record.ts';
export type { SetAsideFile } from './item-files.ts';

/** Where and how big the outbox is, and (for tests) its sources of time and chance. */
export interface OutboxOptions {
  dir: string;
  /** Hard bound: beyond it the oldest reports are deleted. */
  maxReports: number;
  /**
   * Hard bound on events: at it, a new event is refused (the oldest are kept: the start of a
   * flood is the evidence) and counted, and the count becomes a `tamper.events-dropped` notice
   * (see noteDrops). Unbounded when absent.
   */
  maxEvents?: number;
  backoff?: Partial<BackoffOptions>;
  /**
   * Where the back-off (failures, next attempt) is kept across restarts; outside `dir`, whose
   * every file must be an item. Without it the back-off is in memory only.
   */
  retryStateFile?: string;
  /**
   * Where drops not yet told to ICT are kept across restarts (drop-counts-file.ts); outside
   * `dir`. Without it the counts are in memory only and a crash loses them.
   */
  dropCountsFile?: string;
  /**
   * The owner every outbox file must have (issue 12); default this process's, null on Windows
   * (no owner to check).
   */
  uid?: number | null;
  random?: () => number;
  now?: () => number;
}

/** What add() did besides storing the item. */
export interface AddResult {
  /** Ids of the oldest reports deleted to keep within `maxReports`. */
  dropped: string[];
  /** The id was already in the outbox; nothing was written. */
  duplicate: boolean;
  /** An event refused because `maxEvents` are waiting; counted for the next drop notice. */
  refused: boolean;
}

/** Items the outbox had to let go of: how many, and when the first and the last went. */
export interface DropTally {
  count: number;
  firstAt: number;
  lastAt: number;
}

/** Event types that tell ICT of drops; they may use a small reserve above `maxEvents`. */
const DROP_NOTICE_TYPES: ReadonlySet<string> = new Set([
  'tamper.events-dropped',
  'outbox.reports-dropped',
]);

/** Room kept above `maxEvents` for drop notices, so a full outbox can still say it is full. */
export const DROP_NOTICE_RESERVE = 8;

/** An item the server refused for good, kept in `rejected/` rather than lost. */
export interface RejectedItem {
  id: string;
  kind: OutboxKind;
  reason: string;
  file: string;
}

/** Folder inside the outbox for permanently rejected items. */
export const REJECTED_DIR = 'rejected';

/** An index entry: the file name's facts, and whether the payload's schema was checked. */
type Entry = ItemName & { checked: boolean };

/** Adds `count` drops at `at` to a tally (null when there are none). */
function tally(drops: PendingDrops | null, count: number, at: number): PendingDrops | null {
  if (count === 0) {
    return drops;
  }
  return drops === null
    ? { count, firstAt: at, lastAt: at, noticeId: randomUUID() }
    : { ...drops, count: drops.count + count, lastAt: at };
}

const publicTally = (drops: PendingDrops | null): DropTally | null =>
  drops === null ? null : { count: drops.count, firstAt: drops.firstAt, lastAt: drops.lastAt };

function oldest(index: Map<string, Entry>, count: number): Entry[] {
  const names: Entry[] = [];
  for (const name of index.values()) {
    if (names.length >= count) {
      break;
    }
    names.push(name);
  }
  return names;
}

/** A durable, bounded, crash-safe queue of reports and events on disk. */
export class Outbox {
  /** The outbox directory. */
  readonly dir: string;
  #maxReports: number;
  #maxEvents: number;
  #now: () => number;
  #schedule: RetrySchedule;
  // Keyed by lower-case id (PostgreSQL echoes UUIDs in lower case); insertion order = seq order
  // because every mutation runs through #serial and sequence numbers only grow.
  #reports = new Map<string, Entry>();
  #events = new Map<string, Entry>();
  #nextSeq = 0;
  #setAside: SetAsideFile[] = [];
  #droppedAtOpen: string[] = [];
  #droppedReports: PendingDrops | null = null;
  #refusedEvents: PendingDrops | null = null;
  #dropCountsFile: string | null;
  #dropCountsProblem: string | null = null;
  #pruned: string[] = [];
  #retryStateFile: string | null;
  #uid: number | null;
  #retryStateProblem: string | null = null;
  #chain: Promise<unknown> = Promise.resolve();

  private constructor(options: OutboxOptions) {
    if (!Number.isInteger(options.maxReports) || options.maxReports < 1) {
      throw new RangeError('outbox maxReports must be a positive integer');
    }
    this.dir = options.dir;
    this.#maxReports = options.maxReports;
    this.#maxEvents = options.maxEvents ?? Number.POSITIVE_INFINITY;
    this.#now = options.now ?? Date.now;
    const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#schedule = new RetrySchedule(backoff, options.random ?? Math.random, this.#now);
    this.#retryStateFile = options.retryStateFile ?? null;
    this.#dropCountsFile = options.dropCountsFile ?? null;
    this.#uid = options.uid === undefined ? serviceUid() : options.uid;
  }

  /** Opens (creating if need be) the outbox, setting aside anything unsound it finds. */
  static async open(options: OutboxOptions): Promise<Outbox> {
    const outbox = new Outbox(options);
    await mkdir(join(options.dir, REJECTED_DIR), { recursive: true, mode: 0o700 });
    outbox.#pruned = await pruneSetAside(options.dir, REJECTED_DIR, outbox.#now());
    await outbox.#loadDropCounts();
    await outbox.#load();
    await outbox.#loadRetryState();
    return outbox;
  }

  async #load(): Promise<void> {
    const scan = await scanDir(this.dir, this.#now(), this.#uid);
    for (const name of scan.names) {
      this.#index(name.kind).set(name.id.toLowerCase(), { ...name, checked: false });
    }
    this.#nextSeq = scan.nextSeq;
    this.#setAside.push(...scan.setAside);
    // A crash between writing a report and trimming, or a lowered bound, leaves extra reports.
    this.#droppedAtOpen = await this.#trimReports();
    this.#droppedReports = tally(this.#droppedReports, this.#droppedAtOpen.length, this.#now());
    if (this.#droppedAtOpen.length > 0) {
      await this.#saveDropCounts();
    }
    await syncDir(this.dir);
  }

  async #loadDropCounts(): Promise<void> {
    if (this.#dropCountsFile === null) {
      return;
    }
    const read = await readDropCounts(this.#dropCountsFile, this.#uid);
    if (read.ok) {
      this.#droppedReports = read.counts.reports;
      this.#refusedEvents = read.counts.events;
      return;
    }
    // The counts are lost, which ICT hears of as tamper.state-corrupt; the items are not.
    this.#dropCountsProblem = `${basename(this.#dropCountsFile)}: ${read.reason}`;
    await removeIfPresent(this.#dropCountsFile);
  }

  /**
   * Keeps the counts for the next start. Called inside the serial task that changed them, so a
   * refusal is on disk before add() answers. A failed write (full disk) leaves them in memory.
   */
  async #saveDropCounts(): Promise<void> {
    const file = this.#dropCountsFile;
    if (file === null) {
      return;
    }
    const counts = { reports: this.#droppedReports, events: this.#refusedEvents };
    await writeDropCounts(file, counts).catch(() => undefined);
  }

  async #loadRetryState(): Promise<void> {
    if (this.#retryStateFile === null) {
      return;
    }
    const read = await readRetryState(this.#retryStateFile, this.#uid);
    if (read.ok) {
      if (read.state !== null) {
        this.#schedule.restore(read.state);
      }
      return;
    }
    // Only timing is lost (the next send may come early), so the file goes and sends go on.
    this.#retryStateProblem = `${basename(this.#retryStateFile)}: ${read.reason}`;
    await removeIfPresent(this.#retryStateFile);
  }

  /** Keeps the back-off for the next start; a failed write only costs an early retry. */
  async #saveRetryState(): Promise<void> {
    const file = this.#retryStateFile;
    if (file === null) {
      return;
    }
    const state = this.#schedule.state();
    await this.#serial(() => writeRetryState(file, state)).catch(() => undefined);
  }

  #index(kind: OutboxKind): Map<string, Entry> {
    return kind === 'report' ? this.#reports : this.#events;
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(task, task);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #trimReports(): Promise<string[]> {
    const dropped: string[] = [];
    for (const [key, name] of this.#reports) {
      if (this.#reports.size <= this.#maxReports) {
        break;
      }
      this.#reports.delete(key);
      await removeIfPresent(join(this.dir, name.file));
      dropped.push(name.id);
    }
    return dropped;
  }

  /**
   * Stores an item durably (resolved = on disk and fsync'd). An invalid item is a bug in
   * the caller and throws: stored, it would poison every batch it was sent in. A disk that
   * refuses the write (full, read-only) rejects the promise and nothing is stored.
   */
  add(item: OutboxItem): Promise<AddResult> {
    const problem = itemProblem(item);
    if (problem !== null) {
      return Promise.reject(new TypeError(`outbox item rejected: ${problem}`));
    }
    return this.#serial(() => this.#addNow(item));
  }

  /** add() inside the serial chain. */
  async #addNow(item: OutboxItem): Promise<AddResult> {
    const key = item.id.toLowerCase();
    if (this.#reports.has(key) || this.#events.has(key)) {
      return { dropped: [], duplicate: true, refused: false };
    }
    if (item.kind === 'event' && !this.#roomForEvent(item.payload)) {
      // A notice that does not fit is not a drop: its count is still held for the next one.
      if (!DROP_NOTICE_TYPES.has(item.payload.type)) {
        this.#refusedEvents = tally(this.#refusedEvents, 1, this.#now());
        await this.#saveDropCounts();
      }
      return { dropped: [], duplicate: false, refused: true };
    }
    const name = { file: '', seq: this.#nextSeq++, kind: item.kind, id: item.id, checked: true };
    name.file = itemFileName(name.seq, name.kind, name.id);
    await writeFileDurably(this.dir, name.file, TEMP_PREFIX + name.file, encodeRecord(item));
    this.#index(item.kind).set(key, name);
    // Written first, trimmed second: a crash in between leaves one report too many, which
    // the next open trims; the other order could lose the new report and an old one.
    const dropped = await this.#trimReports();
    await syncDir(this.dir);
    if (dropped.length > 0) {
      // After the unlinks: a crash between them and this write under-counts those few drops,
      // where the other order would count them twice when the next open trims them again.
      this.#droppedReports = tally(this.#droppedReports, dropped.length, this.#now());
      await this.#saveDropCounts();
    }
    return { dropped, duplicate: false, refused: false };
  }

  #roomForEvent(event: AgentEvent): boolean {
    const bound = DROP_NOTICE_TYPES.has(event.type)
      ? this.#maxEvents + DROP_NOTICE_RESERVE
      : this.#maxEvents;
    return this.#events.size < bound;
  }

  /** Drops not yet turned into notices: reports trimmed by the bound, events refused. */
  pendingDrops(): { reports: DropTally | null; events: DropTally | null } {
    return { reports: publicTally(this.#droppedReports), events: publicTally(this.#refusedEvents) };
  }

  /**
   * Turns the drops counted so far into events ICT sees (`outbox.reports-dropped`,
   * `tamper.events-dropped`: count, first and last drop) and stores them, in the reserve above
   * `maxEvents` if need be. A notice that does not fit stays counted for the next call. Each
   * notice is stored and its count cleared in one serial step, so no drop is counted in two
   * notices or none; a crash between the two brings the same notice id back, stored once.
   */
  async noteDrops(): Promise<AgentEvent[]> {
    const stored: AgentEvent[] = [];
    for (const type of ['outbox.reports-dropped', 'tamper.events-dropped'] as const) {
      const event = await this.#serial(async () => {
        const drops =
          type === 'outbox.reports-dropped' ? this.#droppedReports : this.#refusedEvents;
        if (drops === null) {
          return null;
        }
        const notice: AgentEvent = {
          schemaVersion: SCHEMA_VERSION,
          id: drops.noticeId,
          occurredAt: new Date(this.#now()).toISOString(),
          type,
          data: {
            count: drops.count,
            firstDroppedAt: new Date(drops.firstAt).toISOString(),
            lastDroppedAt: new Date(drops.lastAt).toISOString(),
          },
        };
        const added = await this.#addNow({ kind: 'event', id: notice.id, payload: notice });
        if (added.refused) {
          return null;
        }
        if (type === 'outbox.reports-dropped') {
          this.#droppedReports = null;
        } else {
          this.#refusedEvents = null;
        }
        await this.#saveDropCounts();
        return notice;
      });
      if (event !== null) {
        stored.push(event);
      }
    }
    return stored;
  }

  /**
   * The oldest items, in the order they were added, up to the given counts. Unsound files
   * found on the way are set aside and skipped; they never block the items after them.
   */
  async peekBatch(
    maxReports: number = MAX_BATCH_REPORTS,
    maxEvents: number = MAX_BATCH_EVENTS,
  ): Promise<OutboxItem[]> {
    const names = [...oldest(this.#reports, maxReports), ...oldest(this.#events, maxEvents)].sort(
      (a, b) => a.seq - b.seq,
    );
    const reads = await Promise.all(
      names.map((name) => readItemFile(this.dir, name, !name.checked, this.#uid)),
    );
    const batch: OutboxItem[] = [];
    for (const [i, read] of reads.entries()) {
      const name = names[i];
      if (read.ok) {
        batch.push(read.item);
        if (name !== undefined) {
          name.checked = true;
        }
      } else if (name !== undefined && !read.missing) {
        await this.#serial(async () => {
          if (this.#index(name.kind).delete(name.id.toLowerCase())) {
            const setAside = await setAsideFile(this.dir, name.file, read.reason, this.#now());
            if (setAside !== null) {
              this.#setAside.push(setAside);
            }
          }
        });
      }
    }
    return batch;
  }

  /** Removes delivered items; ids not in the outbox are ignored. Returns how many left. */
  acknowledge(ids: readonly string[]): Promise<number> {
    return this.#serial(async () => {
      const taken = ids.map((id) => this.#take(id)).filter((name) => name !== undefined);
      // Unlinks are independent; one directory fsync afterwards makes them all durable. A
      // crash before it may bring some back, and they are resent: the server is idempotent.
      await Promise.all(taken.map((name) => removeIfPresent(join(this.dir, name.file))));
      if (taken.length > 0) {
        await syncDir(this.dir);
      }
      return taken.length;
    });
  }

  #take(id: string): Entry | undefined {
    const key = id.toLowerCase();
    const name = this.#reports.get(key) ?? this.#events.get(key);
    if (name !== undefined) {
      this.#index(name.kind).delete(key);
    }
    return name;
  }

  /** Moves items the server refused for good to `rejected/`, with the reason beside each. */
  reject(ids: readonly string[], reason: string): Promise<RejectedItem[]> {
    return this.#serial(async () => {
      const rejectedDir = join(this.dir, REJECTED_DIR);
      const rejected: RejectedItem[] = [];
      for (const id of ids) {
        const name = this.#take(id);
        if (name === undefined) {
          continue;
        }
        const note = JSON.stringify({ id: name.id, kind: name.kind, reason, at: this.#now() });
        // A random temp name, so a crash's leftover never collides (open removes leftovers).
        const temp = `${TEMP_PREFIX}${randomUUID()}`;
        await writeFileDurably(rejectedDir, `${name.file}.reason`, temp, note);
        if (await moveIfPresent(join(this.dir, name.file), join(rejectedDir, name.file))) {
          rejected.push({ id: name.id, kind: name.kind, reason, file: name.file });
        }
      }
      await syncDir(rejectedDir);
      await syncDir(this.dir);
      return rejected;
    });
  }

  /** How many reports and events are waiting. */
  depth(): { reports: number; events: number } {
    return { reports: this.#reports.size, events: this.#events.size };
  }

  /** Earliest time (ms) of the next send after failures; null when one may happen now. */
  nextAttemptAt(): number | null {
    return this.#schedule.nextAttemptAt();
  }

  /** Whether a send may happen now. */
  isDue(): boolean {
    return this.#schedule.isDue();
  }

  /** Consecutive failed sends since the last success. */
  failures(): number {
    return this.#schedule.failures;
  }

  /**
   * Records a failed send (with the server's Retry-After, if any) and keeps it for the next
   * start; returns the next attempt time.
   */
  async recordFailure(retryAfterMs?: number): Promise<number> {
    const at = this.#schedule.recordFailure(retryAfterMs);
    await this.#saveRetryState();
    return at;
  }

  /** Records a successful send (written only when it ends a run of failures). */
  async recordSuccess(): Promise<void> {
    if (this.#schedule.failures === 0) {
      return;
    }
    this.#schedule.recordSuccess();
    await this.#saveRetryState();
  }

  /** Why the kept drop counts were unusable at open (the file was removed), or null. */
  dropCountsProblem(): string | null {
    return this.#dropCountsProblem;
  }

  /** Why the kept back-off file was unusable at open (it was removed), or null. */
  retryStateProblem(): string | null {
    return this.#retryStateProblem;
  }

  /** Files set aside as unsound since open, for the service to log and report. */
  corruptFiles(): readonly SetAsideFile[] {
    return this.#setAside;
  }

  /** Set-aside and rejected files removed at open, past their retention (relative names). */
  prunedAtOpen(): readonly string[] {
    return this.#pruned;
  }

  /** Reports deleted at open to get back within `maxReports`. */
  droppedAtOpen(): readonly string[] {
    return this.#droppedAtOpen;
  }

  /** Waits for writes in progress; the outbox must not be used afterwards. */
  async close(): Promise<void> {
    await this.#serial(() => Promise.resolve());
  }
}
