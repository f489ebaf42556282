// The console user's two AUP clocks (agent/service/aup-sessions.ts), kept in the state folder so a
// service restart (a crash, a reboot loop) continues them instead of starting them again: the
// no-tray episode (an AUP due and no tray of theirs connected: the tray allowance) and the
// unanswered window (a tray of theirs was asked to show it and no answer came yet: the answer
// deadline). Root-only like every state file: a file that is not the service's own (another
// owner, writable by others, a link) or does not parse is refused, moved aside and reported,
// and both start fresh; garbage never makes the service decline at once. A file from before the
// answer deadline (the no-tray episode alone, at the top level) still loads.
import { join } from 'node:path';
import { Type, type Static } from 'typebox';
import { IsoDateTimeSchema, parseJsonAs, Text } from '../../shared/index.ts';
import { moveIfPresent, removeIfPresent, writeFileDurably } from '../core/outbox/durable-fs.ts';
import { readTrustedFile, serviceUid } from '../core/trusted-path.ts';

const FILE = 'aup-no-tray.json';
const MAX_BYTES = 4096;

const EpisodeSchema = Type.Object(
  {
    /** The console user's name as the episode keys it (lower case). */
    user: Text(256),
    /** When the clock started: no tray seen, or a tray asked to show the window. */
    since: IsoDateTimeSchema,
    /** When the decline action last ran in this episode; null before the clock ran out. */
    appliedAt: Type.Union([IsoDateTimeSchema, Type.Null()]),
  },
  { additionalProperties: false },
);

const EpisodesFileSchema = Type.Union([
  Type.Object(
    {
      noTray: Type.Union([EpisodeSchema, Type.Null()]),
      unanswered: Type.Union([EpisodeSchema, Type.Null()]),
    },
    { additionalProperties: false },
  ),
  // Written by an agent from before the answer deadline: the no-tray episode alone.
  EpisodeSchema,
]);

/** One episode: times in milliseconds since the epoch. */
export interface AupEpisode {
  user: string;
  since: number;
  appliedAt: number | null;
}
/** A no-tray episode (an AUP due and no tray of the console user's connected). */
export type NoTrayEpisode = AupEpisode;

/** Both clocks; null where none runs. */
export interface AupEpisodes {
  noTray: AupEpisode | null;
  /** A tray was asked to show the window at `since` (or the user last signed then). */
  unanswered: AupEpisode | null;
}

const NONE: AupEpisodes = { noTray: null, unanswered: null };

/** The episode on disk in the state folder, one at a time (the console has one user). */
export class AupNoTrayEpisodeFile {
  readonly #dir: string;
  readonly #loaded: AupEpisodes;
  readonly #problems: string[];
  #writes: Promise<unknown> = Promise.resolve();

  private constructor(dir: string, loaded: AupEpisodes, problems: string[]) {
    this.#dir = dir;
    this.#loaded = loaded;
    this.#problems = problems;
  }

  /**
   * Loads the episodes the service was in before it stopped. A file that cannot be trusted or
   * parsed, or whose times are not real times, is moved aside and named in problems(); none is
   * loaded then, so the tray allowance and the answer deadline start fresh.
   */
  static async open(
    stateDir: string,
    options: { uid?: number | null; now?: () => Date } = {},
  ): Promise<AupNoTrayEpisodeFile> {
    const path = join(stateDir, FILE);
    const uid = options.uid === undefined ? serviceUid() : options.uid;
    const read = await readTrustedFile(path, { uid, maxBytes: MAX_BYTES });
    if (read.kind === 'missing') {
      return new AupNoTrayEpisodeFile(stateDir, NONE, []);
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
    let problem = `AUP no-tray episode ${path} refused (${refused}); the tray allowance and the answer deadline start fresh`;
    try {
      await moveIfPresent(path, aside);
      problem += `; moved aside to ${aside}`;
    } catch (error) {
      problem += `; could not move it aside (${error instanceof Error ? error.message : String(error)})`;
    }
    return new AupNoTrayEpisodeFile(stateDir, NONE, [problem]);
  }

  /** The episodes found at open; null where there was none or the file was refused. */
  loaded(): AupEpisodes {
    return {
      noTray: this.#loaded.noTray === null ? null : { ...this.#loaded.noTray },
      unanswered: this.#loaded.unanswered === null ? null : { ...this.#loaded.unanswered },
    };
  }

  /** What was wrong with the file at open, for the log. */
  problems(): readonly string[] {
    return this.#problems;
  }

  /** Keeps the episodes (both null: the file goes), durably; writes go one after another. */
  save(episodes: AupEpisodes): Promise<void> {
    const text =
      episodes.noTray === null && episodes.unanswered === null
        ? null
        : JSON.stringify({
            noTray: episodeText(episodes.noTray),
            unanswered: episodeText(episodes.unanswered),
          });
    const write = this.#writes.then(async () => {
      if (text === null) {
        await removeIfPresent(join(this.#dir, FILE));
        return;
      }
      await writeFileDurably(this.#dir, FILE, `.tmp-${FILE}`, text);
    });
    this.#writes = write.catch(() => undefined);
    return write;
  }
}

function episodeText(episode: AupEpisode | null): Static<typeof EpisodeSchema> | null {
  return episode === null
    ? null
    : {
        user: episode.user,
        since: new Date(episode.since).toISOString(),
        appliedAt: episode.appliedAt === null ? null : new Date(episode.appliedAt).toISOString(),
      };
}

/** The episodes in a file's text, or why it is refused. */
function parseEpisode(text: string): AupEpisodes | string {
  const checked = parseJsonAs(EpisodesFileSchema, text);
  if (!checked.ok) {
    return checked.reason;
  }
  const file =
    'user' in checked.value ? { noTray: checked.value, unanswered: null } : checked.value;
  const noTray = episodeOf(file.noTray);
  const unanswered = episodeOf(file.unanswered);
  if (noTray === undefined || unanswered === undefined) {
    return 'a time that is not a real time';
  }
  return { noTray, unanswered };
}

/** An episode in milliseconds; undefined when a time is not a real time. */
function episodeOf(episode: Static<typeof EpisodeSchema> | null): AupEpisode | null | undefined {
  if (episode === null) {
    return null;
  }
  const since = Date.parse(episode.since);
  const appliedAt = episode.appliedAt === null ? null : Date.parse(episode.appliedAt);
  if (!Number.isFinite(since) || (appliedAt !== null && !Number.isFinite(appliedAt))) {
    return undefined;
  }
  return { user: episode.user, since, appliedAt };
}
