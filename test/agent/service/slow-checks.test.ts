import { chmod, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SlowCheckCache } from '../../../agent/service/slow-checks.ts';
import type { CheckResult } from '../../../shared/index.ts';
import { removeDir, tempDir } from '../../helpers/outbox-fixtures.ts';

let dir: string;
beforeEach(async () => {
  dir = await tempDir();
});
afterEach(async () => {
  await removeDir(dir);
});

const updates = (measuredAt: Date): CheckResult => ({
  checkId: 'os-updates',
  status: 'pass',
  summary: 'This computer is up to date.',
  evidence: {},
  measuredAt: measuredAt.toISOString(),
  durationMs: 1200,
});

describe('SlowCheckCache', () => {
  it('keeps a result across a restart while it is fresh', async () => {
    const now = new Date('2026-11-23T12:00:00Z');
    await (await SlowCheckCache.open(dir)).store([updates(now)]);
    const reopened = await SlowCheckCache.open(dir);
    expect(reopened.fresh('os-updates', new Date('2026-11-23T20:00:00Z'), 24)?.status).toBe('pass');
    expect(reopened.fresh('os-updates', new Date('2026-11-24T13:00:00Z'), 24)).toBeUndefined();
  });

  it('stores again after a crash left its (fixed-name) temp file behind', async () => {
    await writeFile(join(dir, '.tmp-slow-checks.json'), '[{"checkId": "os-upd');
    const cache = await SlowCheckCache.open(dir);
    await cache.store([updates(new Date())]);
    const kept: unknown = JSON.parse(await readFile(join(dir, 'slow-checks.json'), 'utf8'));
    expect(kept).toEqual([expect.objectContaining({ checkId: 'os-updates', status: 'pass' })]);
  });

  it('hands back the last result across a restart even when stale, for first-seen dates', async () => {
    const measured = new Date('2026-11-01T12:00:00Z');
    const result = {
      ...updates(measured),
      evidence: { pendingFirstSeen: { 'Safari 18.2': measured.toISOString() } },
    };
    await (await SlowCheckCache.open(dir)).store([result]);
    const reopened = await SlowCheckCache.open(dir);
    expect(reopened.fresh('os-updates', new Date('2026-11-23T12:00:00Z'), 24)).toBeUndefined();
    expect(reopened.last('os-updates')).toEqual(result);
    expect(reopened.last('firewall')).toBeUndefined();
  });

  describe('a planted cache gives no cached pass', () => {
    const planted = JSON.stringify([updates(new Date('2026-11-23T12:00:00Z'))]);
    const later = new Date('2026-11-23T13:00:00Z');

    it('writable by others (0666): ignored and reported', async () => {
      await writeFile(join(dir, 'slow-checks.json'), planted);
      await chmod(join(dir, 'slow-checks.json'), 0o666);
      const cache = await SlowCheckCache.open(dir);
      expect(cache.fresh('os-updates', later, 24)).toBeUndefined();
      expect(cache.problems()).toEqual([expect.stringMatching(/not trusted.*mode 0666/)]);
    });

    it('owned by someone other than the service user: ignored and reported', async () => {
      await writeFile(join(dir, 'slow-checks.json'), planted, { mode: 0o600 });
      const cache = await SlowCheckCache.open(dir, { uid: (process.getuid?.() ?? 0) + 4242 });
      expect(cache.fresh('os-updates', later, 24)).toBeUndefined();
      expect(cache.problems()).toEqual([expect.stringMatching(/not trusted.*owned by uid/)]);
    });

    it('a symbolic link: not followed, ignored and reported', async () => {
      await writeFile(join(dir, 'elsewhere.json'), planted, { mode: 0o600 });
      await symlink(join(dir, 'elsewhere.json'), join(dir, 'slow-checks.json'));
      const cache = await SlowCheckCache.open(dir);
      expect(cache.fresh('os-updates', later, 24)).toBeUndefined();
      expect(cache.problems()).toEqual([expect.stringContaining('symbolic link')]);
    });

    it('its own 0600 file is trusted (the control)', async () => {
      await writeFile(join(dir, 'slow-checks.json'), planted, { mode: 0o600 });
      const cache = await SlowCheckCache.open(dir);
      expect(cache.fresh('os-updates', later, 24)?.status).toBe('pass');
      expect(cache.problems()).toEqual([]);
    });
  });
});
