// The enrolment token is spent once (issue 12): after the first enrolment the service removes it
// from the config file and records that it used it, so a token that managed settings (GPO, an MDM
// profile) keep supplying is never sent again, and none lingers on disk for a pupil to find.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Type } from 'typebox';
import { validate } from '../../../shared/index.ts';
import { syncDir, writeFileDurably } from '../outbox/durable-fs.ts';
import { readJsonSettings } from './agent-config.ts';

/** The record of spent tokens, in the state folder (0600, written by the service only). */
export const USED_TOKENS_FILE = 'enrolment-tokens-used.json';

const UsedTokensSchema = Type.Object(
  {
    schemaVersion: Type.Literal(1),
    // SHA-256 of each token spent here: enough to recognise it, useless to enrol with.
    sha256: Type.Array(Type.String({ pattern: '^[0-9a-f]{64}$' }), { maxItems: 100 }),
  },
  { additionalProperties: false },
);

const hash = (token: string): string => createHash('sha256').update(token.trim()).digest('hex');

async function usedHashes(stateDir: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(join(stateDir, USED_TOKENS_FILE), 'utf8');
  } catch {
    return [];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return [];
  }
  const checked = validate(UsedTokensSchema, parsed);
  return checked.ok ? checked.value.sha256 : [];
}

/** True when this device already enrolled with `token` (it must not be sent again). */
export async function wasTokenUsed(stateDir: string, token: string): Promise<boolean> {
  return (await usedHashes(stateDir)).includes(hash(token));
}

/** What spending the token changed on disk, for the log. */
export interface TokenRetired {
  /** The config file the token was removed from, or null when it was not there. */
  removedFrom: string | null;
}

/**
 * Records `token` as spent and removes it from `configFile` (rewritten without the key, 0600,
 * atomically) when it is there. Managed settings cannot be rewritten by the device: the record
 * is what keeps their token from being sent again.
 */
export async function retireEnrolmentToken(options: {
  stateDir: string;
  configFile: string | null;
  token: string;
}): Promise<TokenRetired> {
  const hashes = await usedHashes(options.stateDir);
  if (!hashes.includes(hash(options.token))) {
    const record = { schemaVersion: 1, sha256: [...hashes, hash(options.token)].slice(-100) };
    await writeFileDurably(
      options.stateDir,
      USED_TOKENS_FILE,
      `${USED_TOKENS_FILE}.tmp`,
      JSON.stringify(record),
    );
    await syncDir(options.stateDir);
  }
  if (options.configFile === null) {
    return { removedFrom: null };
  }
  const settings = await readJsonSettings(options.configFile);
  const inFile = settings.enrolmentToken;
  if (typeof inFile !== 'string' || inFile.trim() !== options.token.trim()) {
    return { removedFrom: null };
  }
  const rest = Object.fromEntries(
    Object.entries(settings).filter(([key]) => key !== 'enrolmentToken'),
  );
  const dir = dirname(options.configFile);
  await writeFileDurably(
    dir,
    basename(options.configFile),
    `.${basename(options.configFile)}.tmp`,
    `${JSON.stringify(rest, null, 2)}\n`,
  );
  await syncDir(dir);
  return { removedFrom: options.configFile };
}
