// What a device's outbox folder holds, read by the test on its own terms (file names and the
// two-line record format of agent/core/outbox/record.ts), not through the Outbox class: the
// end-to-end tests record from it what the service itself queued, to compare with what the
// server stored.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One queued item as its file holds it. */
export interface QueuedItem {
  kind: 'report' | 'event';
  id: string;
  /** The payload as the device will send it, parsed. */
  payload: Record<string, unknown>;
}

/** The folder's complete items, and the ids of items whose write never finished. */
export interface OutboxFolder {
  items: QueuedItem[];
  /** Ids in `.tmp-<name>` files: an add that was cut off before its rename. */
  unfinished: string[];
}

const ITEM = /^\d{12}-(report|event)-([0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12})\.json$/i;
const TEMP = '.tmp-';

/** Whether a file name in the outbox is an item's temporary file (a write in progress). */
export const isItemTemp = (name: string): boolean =>
  name.startsWith(TEMP) && ITEM.test(name.slice(TEMP.length));

/** Reads the folder; a file removed while reading (delivered meanwhile) is left out. */
export async function readOutboxFolder(dir: string): Promise<OutboxFolder> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const items: QueuedItem[] = [];
  for (const name of names) {
    const match = ITEM.exec(name);
    if (match === null) {
      continue;
    }
    const text = await readFile(join(dir, name), 'utf8').catch(() => null);
    // Header line, payload line, final newline (record.ts).
    const payload = text?.split('\n')[1];
    if (payload !== undefined) {
      items.push({
        kind: match[1] as 'report' | 'event',
        id: (match[2] ?? '').toLowerCase(),
        payload: JSON.parse(payload) as Record<string, unknown>,
      });
    }
  }
  const unfinished = names
    .filter(isItemTemp)
    .map((name) => (ITEM.exec(name.slice(TEMP.length))?.[2] ?? '').toLowerCase());
  return { items, unfinished };
}

/** JSON with object keys sorted, so content read back from jsonb compares with what was queued. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );

/** Every item a device's outbox ever held, by id; the same id must always hold the same item. */
export class QueuedRecord {
  readonly items = new Map<string, QueuedItem>();
  readonly unfinished = new Set<string>();

  /** Adds what a read of the folder found; throws if an id now holds something else. */
  add(folder: OutboxFolder): void {
    for (const item of folder.items) {
      const known = this.items.get(item.id);
      if (known !== undefined && JSON.stringify(known) !== JSON.stringify(item)) {
        throw new Error(`outbox item ${item.id} changed on disk`);
      }
      this.items.set(item.id, item);
    }
    folder.unfinished.forEach((id) => this.unfinished.add(id));
  }
}
