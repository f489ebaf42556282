// When the console user's no-tray episode began (agent/service/aup-sessions.ts: an AUP due and no
// tray of theirs connected), kept in the state folder so a service restart (a crash, a reboot
// loop) continues the tray allowance instead of starting it again. Root-only like every state
// file: a file that is not the service's own (another owner, writable by others, a link) or does
// not parse is refused, moved aside and reported, and the allowance starts fresh; garbage never
// makes the service decline at once.
import { join } from 'node:path';
import { Type } from 'typebox';
import { describeProblems, IsoDateTimeSchema, Text, validate } from '../../shared/index.ts';
import { moveIfPresent, removeIfPresent, writeFileDurably } from '../core/outbox/durable-fs.ts';
import { readTrustedFile, serviceUid } from '../core/trusted-path.ts';

const FILE = 'aup-no-tray.json';
const MAX_BYTES = 4096;

const EpisodeFileSchema = Type.Object(
  {
    /** The console user's name as the episode keys it (lower case). */
    user: Text(256),
    /** When the service first saw an AUP due for them and no tray. */
    since: IsoDateTimeSchema,
    /** When the decline action last ran in this episode; null before the allowance ran out. */
    appliedAt: Type.Union([IsoDateTimeSchema, Type.Null()]),
  },
  { additionalProperties: false },
);

/** A no-tray episode: times in milliseconds since the epoch. */
export interface NoTrayEpisode {
  user: string;
  since: number;
  appliedAt: number | null;
}

/** The episode on disk in the state folder, one at a time (the console has one user). */
export class AupNoTrayEpisodeFile {
  readonly #dir: string;
  readonly #loaded: NoTrayEpisode | null;
  readonly #problems: string[];
  #writes: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, loaded: NoTrayEpisode | null, problems: string[]) {
    this.#dir = dir;
    this.#loaded = loaded;
    this.#problems = problems;
  }

  /**
   * Loads the episode the service was in before it stopped. A file that cannot be trusted or
   * parsed, or whose times are not real times, is moved aside and named in problems(); none is
   * loaded then, so the allowance starts fresh.
   */
  static async open(
    stateDir: string,
    options: { uid?: number | null; now?: () => Date } = {},
  ): Promise<AupNoTrayEpisodeFile> {
    const path = join(stateDir, FILE);
    const uid = options.uid === undefined ? serviceUid() : options.uid;
    const read = await readTrustedFile(path, { uid, maxBytes: MAX_BYTES });
    if (read.kind === 'missing') {
      return new AupNoTrayEpisodeFile(stateDir, null, []);
    }
    let refused: string;
    if (read.kind === 'ok') {
      const loaded = parseEpisode(read.text);
      if (typeof loaded !== 'string') {
        return new AupNoTrayEpisodeFile(stateDir, loaded, []);
      }
      refused = loaded;
    } else {
      refused = read.reason;
    }
    const now = (options.now ?? (() => new Date()))();
    const aside = `${path}.corrupt-${now.toISOString().replace(/[:.]/g, '-')}`;
    let problem = `AUP no-tray episode ${path} refused (${refused}); the tray allowance starts fresh`;
    try {
      await moveIfPresent(path, aside);
      problem += `; moved aside to ${aside}`;
    } catch (error) {
      problem += `; could not move it aside (${error instanceof Error ? error.message : String(error)})`;
    }
    return new AupNoTrayEpisodeFile(stateDir, null, [problem]);
  }

  /** The episode found at open; null when there was none or it was refused. */
  loaded(): NoTrayEpisode | null {
    return this.#loaded;
  }

  /** What was wrong with the file at open, for the log. */
  problems(): readonly string[] {
    return this.#problems;
  }

  /** Keeps the episode (null: none), durably; writes go one after another. */
  save(episode: NoTrayEpisode | null): Promise<void> {
    const write = this.#writes.then(async () => {
      if (episode === null) {
        await removeIfPresent(join(this.#dir, FILE));
        return;
      }
      await writeFileDurably(
        this.#dir,
        FILE,
        `.tmp-${FILE}`,
        JSON.stringify({
          user: episode.user,
          since: new Date(episode.since).toISOString(),
          appliedAt: episode.appliedAt === null ? null : new Date(episode.appliedAt).toISOString(),
        }),
      );
    });
    this.#writes = write.catch(() => undefined);
    return write;
  }
}

/** The episode in a file's text, or why it is refused. */
function parseEpisode(text: string): NoTrayEpisode | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  const checked = validate(EpisodeFileSchema, parsed);
  if (!checked.ok) {
    return describeProblems(checked.problems);
  }
  const since = Date.parse(checked.value.since);
  const appliedAt = checked.value.appliedAt === null ? null : Date.parse(checked.value.appliedAt);
  if (!Number.isFinite(since) || (appliedAt !== null && !Number.isFinite(appliedAt))) {
    return 'a time that is not a real time';
  }
  return { user: checked.value.user, since, appliedAt };
}
