import { chmod, chown, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DROP_NOTICE_RESERVE,
  Outbox,
  REJECTED_DIR,
  type OutboxItem,
} from '../../../../agent/core/outbox/index.ts';
import { encodeRecord, itemFileName } from '../../../../agent/core/outbox/record.ts';
import {
  listDir,
  removeDir,
  sampleEvent,
  sampleReport,
  tempDir,
} from '../../../helpers/outbox-fixtures.ts';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

const ids = (items: readonly OutboxItem[]) => items.map((item) => item.id);
const open = (maxReports = 100, extra: { maxEvents?: number; now?: () => number } = {}) =>
  Outbox.open({ dir, maxReports, ...extra });

async function fill(outbox: Outbox, kinds: string): Promise<OutboxItem[]> {
  const items: OutboxItem[] = [];
  for (const kind of kinds) {
    const item = kind === 'r' ? sampleReport() : sampleEvent();
    await outbox.add(item);
    items.push(item);
  }
  return items;
}

describe('add, peek, acknowledge', () => {
  it('returns reports and events oldest first, and keeps them across a reopen', async () => {
    const outbox = await open();
    const items = await fill(outbox, 'rerreer');
    expect(outbox.depth()).toEqual({ reports: 4, events: 3 });
    expect(ids(await outbox.peekBatch())).toEqual(ids(items));
    expect(await outbox.peekBatch()).toEqual(items);
    await outbox.close();

    const reopened = await open();
    expect(ids(await reopened.peekBatch())).toEqual(ids(items));
    expect(reopened.corruptFiles()).toEqual([]);
  });

  it('limits a batch per kind and keeps the overall order', async () => {
    const outbox = await open();
    const items = await fill(outbox, 'rrreee');
    const batch = await outbox.peekBatch(2, 1);
    expect(ids(batch)).toEqual(ids([items[0], items[1], items[3]] as OutboxItem[]));
  });

  it('removes only acknowledged ids, whatever their case, and ignores unknown ones', async () => {
    const outbox = await open();
    const items = await fill(outbox, 'rere');
    const [a, b, c, d] = ids(items) as [string, string, string, string];
    expect(await outbox.acknowledge([a, c.toUpperCase(), crypto.randomUUID()])).toBe(2);
    expect(ids(await outbox.peekBatch())).toEqual([b, d]);
    expect(await outbox.acknowledge([a])).toBe(0);
    await outbox.close();
    expect(ids(await (await open()).peekBatch())).toEqual([b, d]);
  });

  it('new items after a reopen come after the old ones', async () => {
    const first = await open();
    const old = await fill(first, 'rre');
    await first.acknowledge([old[0]?.id ?? '']);
    const second = await open();
    const added = await fill(second, 'er');
    expect(ids(await second.peekBatch())).toEqual(ids([...old.slice(1), ...added]));
  });

  it('stores an id once', async () => {
    const outbox = await open();
    const report = sampleReport();
    expect((await outbox.add(report)).duplicate).toBe(false);
    expect((await outbox.add(report)).duplicate).toBe(true);
    expect(outbox.depth().reports).toBe(1);
  });

  it('refuses an item that does not match its schema, writing nothing', async () => {
    const outbox = await open();
    const report = sampleReport();
    const bad = {
      ...report,
      payload: { ...report.payload, overall: 'great' },
    } as unknown as OutboxItem;
    await expect(outbox.add(bad)).rejects.toThrow(/report schema/);
    const mismatched = { ...sampleEvent(), id: crypto.randomUUID() } as OutboxItem;
    await expect(outbox.add(mismatched)).rejects.toThrow(/differs from payload id/);
    expect(await listDir(dir)).toEqual([REJECTED_DIR]);
  });
});

describe('bound', () => {
  it('drops the oldest reports when full, never events, and says which', async () => {
    const outbox = await open(2);
    const items = await fill(outbox, 'rerer');
    const [, e1, r2, e2, r3] = ids(items);
    const last = sampleReport();
    expect(await outbox.add(last)).toEqual({
      dropped: [r2],
      duplicate: false,
      refused: false,
    });
    expect(ids(await outbox.peekBatch())).toEqual([e1, e2, r3, last.id]);
    // Events beyond the bound are never dropped.
    const events = await fill(outbox, 'eeeee');
    expect(outbox.depth()).toEqual({ reports: 2, events: 7 });
    expect(ids(await outbox.peekBatch())).toEqual([e1, e2, r3, last.id, ...ids(events)]);
  });

  it('trims at open when the bound was lowered, reporting what it dropped', async () => {
    const outbox = await open(10);
    const items = await fill(outbox, 'rrerr');
    const reopened = await open(2);
    expect(reopened.droppedAtOpen()).toEqual([items[0]?.id, items[1]?.id]);
    expect(ids(await reopened.peekBatch())).toEqual(ids(items.slice(2)));
  });

  it('refuses events at the bound, keeping the oldest, and counts what it refused', async () => {
    let now = Date.parse('2026-12-01T08:00:00Z');
    const outbox = await open(10, { maxEvents: 2, now: () => now });
    const kept = await fill(outbox, 'ee');
    expect((await outbox.add(sampleEvent())).refused).toBe(true);
    now += 60_000;
    expect((await outbox.add(sampleEvent())).refused).toBe(true);
    expect(outbox.depth().events).toBe(2);
    expect(ids(await outbox.peekBatch())).toEqual(ids(kept));
    expect(outbox.pendingDrops().events).toEqual({
      count: 2,
      firstAt: Date.parse('2026-12-01T08:00:00Z'),
      lastAt: now,
    });
  });

  it('turns refused events and dropped reports into notices, stored above the bound', async () => {
    const at = Date.parse('2026-12-01T08:00:00Z');
    const outbox = await open(2, { maxEvents: 2, now: () => at });
    await fill(outbox, 'rrrreee');
    const notices = await outbox.noteDrops();
    expect(notices.map((e) => [e.type, e.data])).toEqual([
      [
        'outbox.reports-dropped',
        {
          count: 2,
          firstDroppedAt: '2026-12-01T08:00:00.000Z',
          lastDroppedAt: '2026-12-01T08:00:00.000Z',
        },
      ],
      [
        'tamper.events-dropped',
        {
          count: 1,
          firstDroppedAt: '2026-12-01T08:00:00.000Z',
          lastDroppedAt: '2026-12-01T08:00:00.000Z',
        },
      ],
    ]);
    // On disk, in the reserve above the bound, and the counts start again.
    expect((await open(2, { maxEvents: 2 })).depth()).toEqual({ reports: 2, events: 4 });
    expect(outbox.pendingDrops()).toEqual({ reports: null, events: null });
    expect(await outbox.noteDrops()).toEqual([]);
  });

  it('keeps counting when even the reserve for notices is full', async () => {
    const outbox = await open(10, { maxEvents: 1 });
    await fill(outbox, 'e');
    for (let i = 0; i < DROP_NOTICE_RESERVE; i++) {
      await outbox.add(sampleEvent());
      expect(await outbox.noteDrops()).toHaveLength(1);
    }
    await fill(outbox, 'ee');
    expect(await outbox.noteDrops()).toEqual([]);
    expect(outbox.pendingDrops().events?.count).toBe(2);
    expect(outbox.depth().events).toBe(1 + DROP_NOTICE_RESERVE);
  });

  it('counts reports trimmed at open for a notice', async () => {
    const outbox = await open(10);
    await fill(outbox, 'rrr');
    const reopened = await open(1);
    expect(reopened.pendingDrops().reports?.count).toBe(2);
    expect((await reopened.noteDrops()).map((e) => e.type)).toEqual(['outbox.reports-dropped']);
  });
});

describe('unsound files', () => {
  it('sets aside torn, garbage, empty, foreign and wrong-schema files; delivers the rest', async () => {
    const outbox = await open();
    const items = await fill(outbox, 'rerere');
    const files = (await listDir(dir)).filter((f) => f.endsWith('.json'));
    const [torn, garbage, empty, , renamed] = files;
    const good = [items[3], items[5]] as OutboxItem[];
    const tornText = await readFile(join(dir, torn ?? ''), 'utf8');
    await writeFile(join(dir, torn ?? ''), tornText.slice(0, tornText.length / 2));
    await writeFile(join(dir, garbage ?? ''), Buffer.from([0xff, 0x00, 0x13, 0x37, 0x0a]));
    await writeFile(join(dir, empty ?? ''), '');
    // A file whose name claims another id than its content.
    const { rename } = await import('node:fs/promises');
    const wrongName = itemFileName(99, 'event', crypto.randomUUID());
    await rename(join(dir, renamed ?? ''), join(dir, wrongName));
    // Checksummed and well-formed, but the payload is not a valid report.
    const bad = sampleReport();
    (bad.payload as { overall: string }).overall = 'great';
    const badName = itemFileName(100, 'report', bad.id);
    await writeFile(join(dir, badName), encodeRecord(bad));
    await writeFile(join(dir, 'notes.txt'), 'left here by someone');
    // One altered byte that still parses as JSON: only the checksum sees it.
    const flipped = sampleEvent();
    const flippedName = itemFileName(101, 'event', flipped.id);
    await writeFile(join(dir, flippedName), encodeRecord(flipped).replace('4C530001', '4C530002'));

    const reopened = await open(100, { now: () => 1_700_000_000_000 });
    // Integrity is checked at open, the schema when an item is first about to be sent.
    expect(reopened.corruptFiles().map((f) => f.file)).not.toContain(badName);
    expect(ids(await reopened.peekBatch())).toEqual(ids(good));
    const reasons = new Map(reopened.corruptFiles().map((f) => [f.file, f.reason]));
    const expected = new Map<string, RegExp>([
      [torn ?? '', /truncated/],
      [garbage ?? '', /header is not JSON/],
      [empty ?? '', /^empty file$/],
      [wrongName, /does not match the file name/],
      [badName, /report schema.*overall/],
      ['notes.txt', /^not an outbox item file$/],
      [flippedName, /checksum/],
    ]);
    expect([...reasons.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [file, pattern] of expected) {
      expect(reasons.get(file), file).toMatch(pattern);
    }
    expect(reopened.depth()).toEqual({ reports: 0, events: 2 });
    const after = await listDir(dir);
    expect(after.filter((f) => f.endsWith('.corrupt-1700000000000'))).toHaveLength(7);
    // Set-aside files are left alone by the next open.
    const third = await open();
    expect(third.corruptFiles()).toEqual([]);
    expect(ids(await third.peekBatch())).toEqual(ids(good));
  });

  it('sets aside a file that goes bad after open, and still returns the rest', async () => {
    const outbox = await open();
    const items = await fill(outbox, 'rer');
    const files = (await listDir(dir)).filter((f) => f.endsWith('.json'));
    await writeFile(join(dir, files[1] ?? ''), 'garbage');
    expect(ids(await outbox.peekBatch())).toEqual(ids([items[0], items[2]] as OutboxItem[]));
    expect(outbox.corruptFiles().map((f) => f.file)).toEqual([files[1]]);
    expect(outbox.depth()).toEqual({ reports: 2, events: 0 });
  });

  it('keeps the older of two files with one id', async () => {
    const outbox = await open();
    const [item] = await fill(outbox, 'e');
    const copy = itemFileName(50, 'event', item?.id ?? '');
    await writeFile(join(dir, copy), encodeRecord(item as OutboxItem));
    const reopened = await open();
    expect(reopened.depth().events).toBe(1);
    expect(reopened.corruptFiles()).toEqual([
      expect.objectContaining({
        file: copy,
        reason: expect.stringMatching(/duplicate/) as unknown,
      }),
    ]);
  });

  it('leaves no partial item visible after a crash between write and rename', async () => {
    const outbox = await open();
    const [kept] = await fill(outbox, 'r');
    // What a crash leaves: temp files, whole or torn, never renamed into place.
    const whole = sampleEvent();
    const name = itemFileName(7, 'event', whole.id);
    await writeFile(join(dir, `.tmp-${name}`), encodeRecord(whole));
    await writeFile(join(dir, `.tmp-${itemFileName(8, 'report', crypto.randomUUID())}`), '{"for');
    const reopened = await open();
    expect(ids(await reopened.peekBatch())).toEqual([kept?.id]);
    expect(reopened.corruptFiles()).toEqual([]);
    expect((await readdir(dir)).filter((f) => f.startsWith('.tmp-'))).toEqual([]);
  });
});

describe('files someone else could have written (issue 12)', () => {
  const root = process.getuid?.() === 0;

  it("sets aside item files not the service's own: writable by others, a link, another owner", async () => {
    const outbox = await open();
    const items = await fill(outbox, 'rerer');
    const files = (await listDir(dir)).filter((f) => f.endsWith('.json'));
    const [worldWritable, groupWritable, linked, foreign] = files;
    await chmod(join(dir, worldWritable ?? ''), 0o666);
    await chmod(join(dir, groupWritable ?? ''), 0o620);
    // A link to a sound record kept elsewhere: its content would pass every integrity check.
    const elsewhere = await tempDir();
    await writeFile(join(elsewhere, 'copy'), await readFile(join(dir, linked ?? '')));
    await rm(join(dir, linked ?? ''));
    await symlink(join(elsewhere, 'copy'), join(dir, linked ?? ''));
    if (root) {
      await chown(join(dir, foreign ?? ''), 65534, 65534);
    }
    const reopened = await open(100, { now: () => 1_700_000_000_000 });
    const reasons = new Map(reopened.corruptFiles().map((f) => [f.file, f.reason]));
    expect(reasons.get(worldWritable ?? '')).toMatch(/not the service's own file: .*mode 0666/);
    expect(reasons.get(groupWritable ?? '')).toMatch(/not the service's own file: .*mode 0620/);
    expect(reasons.get(linked ?? '')).toMatch(/symbolic link/);
    if (root) {
      expect(reasons.get(foreign ?? '')).toMatch(/owned by uid 65534/);
    }
    const trusted = root ? [items[4]] : [items[3], items[4]];
    expect(ids(await reopened.peekBatch())).toEqual(ids(trusted as OutboxItem[]));
    await removeDir(elsewhere);
  });

  it('sets aside a file loosened after open when it is about to be sent', async () => {
    const outbox = await open();
    const items = await fill(outbox, 'ere');
    const files = (await listDir(dir)).filter((f) => f.endsWith('.json'));
    await chmod(join(dir, files[1] ?? ''), 0o646);
    expect(ids(await outbox.peekBatch())).toEqual(ids([items[0], items[2]] as OutboxItem[]));
    expect(outbox.corruptFiles()).toEqual([
      expect.objectContaining({
        file: files[1],
        reason: expect.stringMatching(/not the service's own file/) as unknown,
      }),
    ]);
  });

  it('does not trust a delivery back-off file others can write, and removes it', async () => {
    const retryStateFile = join(await tempDir(), 'delivery-retry.json');
    const first = await Outbox.open({ dir, maxReports: 10, retryStateFile });
    await first.recordFailure(3_600_000);
    await first.close();
    await chmod(retryStateFile, 0o666);
    const reopened = await Outbox.open({ dir, maxReports: 10, retryStateFile });
    expect(reopened.retryStateProblem()).toMatch(/delivery-retry\.json: not trusted: .*mode 0666/);
    // Only timing is lost: a send may happen at once.
    expect(reopened.isDue()).toBe(true);
    await expect(readFile(retryStateFile)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('drop counts kept across restarts (issue 12)', () => {
  let state = '';
  let dropCountsFile = '';
  beforeEach(async () => {
    state = await tempDir();
    dropCountsFile = join(state, 'drop-counts.json');
  });
  afterEach(async () => {
    await removeDir(state);
  });
  const openKept = () => Outbox.open({ dir, maxReports: 1, maxEvents: 1, dropCountsFile });

  it('keeps the counts until a notice is stored, then clears them on disk too', async () => {
    const outbox = await openKept();
    await fill(outbox, 'rrreee');
    expect(outbox.pendingDrops()).toMatchObject({ reports: { count: 2 }, events: { count: 2 } });
    // No close: the process just ends.
    const reopened = await openKept();
    expect(reopened.pendingDrops()).toMatchObject({ reports: { count: 2 }, events: { count: 2 } });
    const notices = await reopened.noteDrops();
    expect(notices.map((n) => [n.type, n.data])).toEqual([
      ['outbox.reports-dropped', expect.objectContaining({ count: 2 })],
      ['tamper.events-dropped', expect.objectContaining({ count: 2 })],
    ]);
    const third = await openKept();
    expect(third.pendingDrops()).toEqual({ reports: null, events: null });
    expect(third.depth().events).toBe(3);
  });

  it('stores a notice once when a crash came between storing it and clearing the counts', async () => {
    const outbox = await openKept();
    await fill(outbox, 'eee');
    const before = await readFile(dropCountsFile);
    const [notice] = await outbox.noteDrops();
    // As if the cleared counts never reached the disk.
    await writeFile(dropCountsFile, before);
    const reopened = await openKept();
    expect(reopened.pendingDrops().events?.count).toBe(2);
    const again = await reopened.noteDrops();
    expect(again.map((n) => n.id)).toEqual([notice?.id]);
    expect(reopened.depth().events).toBe(2);
    expect(reopened.pendingDrops().events).toBeNull();
  });

  it('reports and removes a counts file that is not sound or not its own', async () => {
    await writeFile(dropCountsFile, '{"reports": {"count": -1}}');
    const first = await openKept();
    expect(first.dropCountsProblem()).toMatch(/^drop-counts\.json: /);
    expect(first.pendingDrops()).toEqual({ reports: null, events: null });
    await fill(first, 'ee');
    await chmod(dropCountsFile, 0o666);
    const second = await openKept();
    expect(second.dropCountsProblem()).toMatch(/not trusted: .*mode 0666/);
    await expect(readFile(dropCountsFile)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('reject', () => {
  it('moves refused items to rejected/ with the reason, never deleting them', async () => {
    const outbox = await open();
    const items = await fill(outbox, 'er');
    const [event, report] = items as [OutboxItem, OutboxItem];
    const rejected = await outbox.reject([event.id], 'HTTP 400: unknown event type');
    expect(rejected).toEqual([
      expect.objectContaining({
        id: event.id,
        kind: 'event',
        reason: 'HTTP 400: unknown event type',
      }),
    ]);
    expect(ids(await outbox.peekBatch())).toEqual([report.id]);
    const kept = await listDir(join(dir, REJECTED_DIR));
    expect(kept).toHaveLength(2);
    const note = kept.find((f) => f.endsWith('.reason')) ?? '';
    expect(JSON.parse(await readFile(join(dir, REJECTED_DIR, note), 'utf8'))).toMatchObject({
      id: event.id,
      reason: 'HTTP 400: unknown event type',
    });
    expect((await open()).depth()).toEqual({ reports: 1, events: 0 });
  });
});
